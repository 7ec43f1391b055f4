"""Same person, one identity; identity-disjoint splits (part of :mod:`delocate_hf.data.face_sources`, which
re-exports the public names; import them from there): :class:`FaceIdentity` (one real person and their crops or
video), ``_identities`` (faces grouped by name hints and dlib descriptor distance, connected components),
:func:`split_identities` (hash-stable train / held-out split by person) and :func:`identity_index` (path -> person).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .face_sources_catalogue import IDENTITY_HINTS, FaceSourceError

__all__ = ["FaceIdentity", "identity_index", "split_identities"]


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
