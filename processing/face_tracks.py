"""Every face of a clip, each followed as its own track (identities across frames), and the link of tracks across
clips of one video.

`track_all_faces(frames, backend)` runs the landmark backend once per frame (the same detections `track_faces`
uses: with MediaPipe the full-range detector runs every `detect_every`-th frame and the faces are refit from their
previous landmarks in between) and associates the faces of consecutive frames: each face goes to the track whose
box it is nearest, within one face size (`match_cost`: centre distance over the face size plus a penalty for a
change of size, so that two faces crossing keep their identities while their sizes differ), greedily from the best
match. A track's box is both its last box and that box moved on by the track's recent velocity (`_predict`:
least-squares centre motion over its last `VELOCITY_WINDOW` faces, times the frames since), the nearer counting, so
that a face moving a large part of its size between sampled frames stays with its track. A face no track takes
starts a new track, unless it covers more than `DUPLICATE_OVERLAP` of a face taken in that frame (a second, stale fit
of a followed face, which the landmarker leaves behind a fast-moving face). Overlapping duplicate detections of one
face count once (`count_distinct_faces`). Last, a track that starts within `max_gap` frames after another ends
continues it when either's motion leads to the other (`_stitch`: a face lost for a few frames).

Tracks shorter than a clip (faces entering, leaving, hidden for a while): a track found in at least `min_fraction`
of the clip's frames (default half) is kept. Runs of up to `max_gap` frames without it are filled as `track_faces`
fills them (landmarks interpolated between the neighbouring detections, or copied from the one neighbour at the clip
ends, on the frame itself); longer runs (the face is gone) are **padded**: those frames repeat the nearest frame in
which the face was found (`FaceTrack.frame_source` names it, `FaceTrack.padded` marks them). Shorter tracks are
listed in `FaceTracks.short` and not analysed.

`TrackLinker` gives tracks of successive clips one identity per person: a clip's track continues the video track
whose last face box is nearest to its first box (within one face size, by the same cost), else it starts a new one.

Boxes are `(4,)` x0, y0, x1, y1 frame pixels throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import NoFaceDetectedError
from .landmarks import DEFAULT_MAX_GAP, FaceTrack, LandmarkBackend, count_distinct_faces, start_tracking
from .landmarks_base import FaceLandmarks

__all__ = ["FACE_MODES", "MIN_TRACK_FRACTION", "MAX_MATCH_COST", "FaceTracks", "TrackLinker", "crop_boxes", "match_cost",
           "track_all_faces"]

# Which faces of a video are analysed / cached: every face as its own track, or the largest one only (detection,
# the pipeline, `delocate detect --faces` and `preprocess_dataset(faces=)` all take these).
FACE_MODES = ("all", "largest")
MIN_TRACK_FRACTION = 0.5
MAX_MATCH_COST = 1.0  # centre distance over the reference face size + |log size ratio|, for a face to continue a track
VELOCITY_WINDOW = 4  # a track's velocity: fitted over its last this many faces
DUPLICATE_OVERLAP = 0.2  # an untaken face covering more than this of a taken one starts no track


def _box_side(box: np.ndarray) -> float:
    return float(max(box[2] - box[0], box[3] - box[1], 1e-6))


def match_cost(ref_box: np.ndarray, box: np.ndarray) -> float:
    """Cost of `box` continuing a track last seen at `ref_box`: centre distance over the reference side plus the
    absolute log ratio of the sides (0 for the same box; a face continues a track below `MAX_MATCH_COST`)."""
    ref_box, box = np.asarray(ref_box, np.float64), np.asarray(box, np.float64)
    ref_c = (ref_box[:2] + ref_box[2:]) / 2
    c = (box[:2] + box[2:]) / 2
    ref_side, side = _box_side(ref_box), _box_side(box)
    return float(np.linalg.norm(c - ref_c) / ref_side + abs(math.log(side / ref_side)))


def _greedy_match(refs: list[tuple[np.ndarray, ...]], boxes: list[np.ndarray], max_cost: float) -> dict[int, int]:
    """Box index -> ref index, best (lowest cost) pairs first, each used once, costs below `max_cost`. Each ref is
    one or more `(4,)` boxes of a track (its last and its predicted box), the cheapest counting."""
    pairs = sorted((min(match_cost(r, b) for r in ref), i, j)
                   for j, ref in enumerate(refs) for i, b in enumerate(boxes))
    taken_refs, out = set(), {}
    for cost, i, j in pairs:
        if cost >= max_cost:
            break
        if i in out or j in taken_refs:
            continue
        out[i] = j
        taken_refs.add(j)
    return out


def _distinct(faces: list[FaceLandmarks], overlap: float = 0.5) -> list[FaceLandmarks]:
    """Faces of one frame without the overlapping duplicates (the rule of `count_distinct_faces`), largest first."""
    kept: list[FaceLandmarks] = []
    for face in sorted(faces, key=lambda f: -f.area):
        if count_distinct_faces(kept + [face], overlap) > len(kept):
            kept.append(face)
    return kept


def _overlap(box: np.ndarray, other: np.ndarray) -> float:
    """Intersection of two `(4,)` boxes over the area of the first."""
    iw = min(box[2], other[2]) - max(box[0], other[0])
    ih = min(box[3], other[3]) - max(box[1], other[1])
    area = max(float((box[2] - box[0]) * (box[3] - box[1])), 1e-9)
    return float(max(iw, 0.0) * max(ih, 0.0) / area)


def _predict(member: dict[int, FaceLandmarks], t: int, window: int = VELOCITY_WINDOW) -> np.ndarray:
    """A track's box `(4,)` expected at frame `t`: its last box moved on by its recent velocity (the least-squares
    centre shift per frame over its last `window` faces; none with one face)."""
    times = sorted(member)[-window:]
    box = np.asarray(member[times[-1]].box, np.float64)
    if len(times) < 2:
        return box
    dt = np.asarray(times, np.float64) - np.mean(times)
    centres = np.stack([(member[u].box[:2] + member[u].box[2:]) / 2 for u in times]).astype(np.float64)
    shift = dt @ (centres - centres.mean(0)) / float(dt @ dt)
    return box + np.tile(shift * (t - times[-1]), 2)


def _associate(per_frame: list[list[FaceLandmarks]]) -> list[dict[int, FaceLandmarks]]:
    """The faces of each track, frame -> face, from the distinct faces of each frame (`per_frame[t]`, a list per
    frame of T), tracks in the order they start (see the module docstring)."""
    members: list[dict[int, FaceLandmarks]] = []
    for t, faces in enumerate(per_frame):
        refs = [(m[max(m)].box, _predict(m, t)) for m in members]
        assigned = _greedy_match(refs, [f.box for f in faces], MAX_MATCH_COST)
        taken = [faces[i].box for i in assigned]
        for i, face in enumerate(faces):
            if i in assigned:
                members[assigned[i]][t] = face
            elif not any(_overlap(face.box, b) > DUPLICATE_OVERLAP for b in taken):
                members.append({t: face})
    return members


def _predict_back(member: dict[int, FaceLandmarks], t: int) -> np.ndarray:
    """A track's box `(4,)` expected at an earlier frame `t`: `_predict` run backwards in time."""
    times = sorted(member)
    reverse = {-u: member[u] for u in times[:VELOCITY_WINDOW]}
    return _predict(reverse, -t)


def _stitch(members: list[dict[int, FaceLandmarks]], max_gap: int | None) -> list[dict[int, FaceLandmarks]]:
    """Join the tracks of a face lost for a few frames: a track that starts after another ends (at most `max_gap`
    frames later; any gap with None) continues it when the earlier track's motion leads to the later one's first
    face, or the later one's motion traced back leads to the earlier one's last face (`match_cost` below
    `MAX_MATCH_COST`), best pairs first."""
    limit = math.inf if max_gap is None else int(max_gap) + 1
    while True:
        pairs = []
        for a, early in enumerate(members):
            for b, late in enumerate(members):
                end, start = max(early), min(late)
                if not end < start <= end + limit:
                    continue
                cost = min(match_cost(_predict(early, start), late[start].box),
                           match_cost(_predict_back(late, end), early[end].box))
                if cost < MAX_MATCH_COST:
                    pairs.append((cost, a, b))
        if not pairs:
            return members
        _, a, b = min(pairs)
        members[a] = {**members[a], **members[b]}
        del members[b]


@dataclass
class FaceTracks:
    """The faces of one clip of T frames.

    Attributes:
        tracks: the kept tracks, largest face (mean box area) first; each `FaceTrack` has `landmarks` `(T, K, 2)`,
            `boxes` `(T, 4)`, `detected` `(T,)`, `frame_source` `(T,)` and `padded` `(T,)`.
        short: `(found, T)` of each track found in fewer than `min_fraction` of the frames (not analysed).
        num_faces: `(T,)` int64 distinct faces per frame.
    """

    tracks: list[FaceTrack]
    short: list[tuple[int, int]] = field(default_factory=list)
    num_faces: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def track_all_faces(
    frames: np.ndarray,
    backend: LandmarkBackend | str = "mediapipe",
    max_gap: int | None = DEFAULT_MAX_GAP,
    source: str | None = None,
    min_fraction: float = MIN_TRACK_FRACTION,
) -> FaceTracks:
    """Follow every face of `frames` `(T, H, W, 3)` uint8 RGB (see the module docstring).

    Raises `NoFaceDetectedError` (one line, "face found in K of T sampled frames") when no track is found in at
    least `min_fraction` of the frames."""
    backend, frames, where = start_tracking(frames, backend, source)
    num = int(frames.shape[0])
    per_frame = [_distinct(backend.detect(frame)) for frame in frames]
    num_faces = np.array([len(f) for f in per_frame], dtype=np.int64)

    members = _stitch(_associate(per_frame), max_gap)
    needed = max(1, math.ceil(float(min_fraction) * num))
    kept = [m for m in members if len(m) >= needed]
    short = [(len(m), num) for m in members if len(m) < needed]
    if not kept:
        most = max((len(m) for m in members), default=0)
        why = "" if not most else f" (fewer than {needed}: too short a track to analyse)"
        raise NoFaceDetectedError(f"no usable face in {where}: face found in {most} of {num} sampled frames{why}")
    kept.sort(key=lambda m: -float(np.mean([f.area for f in m.values()])))
    k = backend.num_points or next(iter(kept[0].values())).points.shape[0]
    tracks = [_fill(m, num, k, max_gap, backend.name, num_faces) for m in kept]
    return FaceTracks(tracks=tracks, short=short, num_faces=num_faces)


def _fill(member: dict[int, FaceLandmarks], num: int, k: int, max_gap: int | None, name: str,
          num_faces: np.ndarray) -> FaceTrack:
    """One track's `FaceTrack`: gaps of up to `max_gap` frames interpolated (`track_faces`' rule), longer ones
    padded with the nearest frame that has the face."""
    detected = np.zeros(num, dtype=bool)
    landmarks = np.zeros((num, k, 2), dtype=np.float32)
    for t, face in member.items():
        detected[t] = True
        landmarks[t] = face.points
    found = np.flatnonzero(detected)
    source = np.arange(num, dtype=np.int64)
    limit = num if max_gap is None else int(max_gap)
    t = 0
    while t < num:
        if detected[t]:
            t += 1
            continue
        end = t
        while end < num and not detected[end]:
            end += 1
        before, after = found[found < t], found[found >= end]
        for u in range(t, end):
            if end - t <= limit:
                if len(before) and len(after):
                    t0, t1 = before[-1], after[0]
                    w = (u - t0) / (t1 - t0)
                    landmarks[u] = (1 - w) * landmarks[t0] + w * landmarks[t1]
                else:
                    landmarks[u] = landmarks[before[-1] if len(before) else after[0]]
            else:  # the face is gone: repeat the nearest frame that has it
                near = found[np.argmin(np.abs(found - u))]
                source[u] = near
                landmarks[u] = landmarks[near]
        t = end
    boxes = np.stack([landmarks[..., 0].min(-1), landmarks[..., 1].min(-1),
                      landmarks[..., 0].max(-1), landmarks[..., 1].max(-1)], axis=-1).astype(np.float32)
    return FaceTrack(landmarks=landmarks, boxes=boxes, detected=detected, num_faces=num_faces.copy(), backend=name,
                     frame_source=source)


class TrackLinker:
    """One identity per person across the clips of a video: `link(first_box, last_box)` for each track of a clip
    (in the clip's order; call `next_clip()` between clips) returns the video track id it continues (nearest last
    box of the previous clips' tracks within `MAX_MATCH_COST`, each id once per clip) or a new id."""

    def __init__(self, max_cost: float = MAX_MATCH_COST):
        self.max_cost = float(max_cost)
        self._last: dict[int, np.ndarray] = {}  # id -> last box seen
        self._taken: set[int] = set()

    def next_clip(self) -> None:
        self._taken = set()

    def link(self, first_box: np.ndarray, last_box: np.ndarray) -> int:
        free = [(match_cost(b, first_box), i) for i, b in self._last.items() if i not in self._taken]
        cost, best = min(free, default=(math.inf, -1))
        if cost >= self.max_cost:
            best = len(self._last)
        self._taken.add(best)
        self._last[best] = np.asarray(last_box, np.float64)
        return best


def crop_boxes(affines: np.ndarray, crop_size: int, frame_size: tuple[int, int]) -> np.ndarray:
    """Face crop boxes (what `DelocateFaceProcessor` cropped) `(T, 4)` x0, y0, x1, y1 in frame pixels (clipped to
    the frame) from frame->crop affines `(T, 2, 3)` of `crop_size` crops."""
    h, w = frame_size
    corners = np.array([[0, 0], [crop_size, 0], [0, crop_size], [crop_size, crop_size]], dtype=np.float64)
    boxes = np.empty((len(affines), 4), dtype=np.float64)
    for i, a in enumerate(np.asarray(affines, dtype=np.float64)):
        full = np.vstack([a, [0.0, 0.0, 1.0]])
        inv = np.linalg.inv(full)[:2]
        pts = corners @ inv[:, :2].T + inv[:, 2]
        boxes[i] = [pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()]
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
    return boxes
