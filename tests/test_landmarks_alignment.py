"""Landmarks, tracking, alignment and facial-part ROI boxes on real faces (both backends)."""

import numpy as np
import pytest

from conftest import SINGLE_FACE, TEST_MEDIA
from processing.alignment import align_faces, apply_affine, invert_affines, paste_back
from processing.errors import NoFaceDetectedError
from processing.face_parts import PARTS, box_iou, part_boxes
from processing.landmarks import get_landmarker, track_faces
from processing.video_io import read_video

NUM_FRAMES = 16
# Symmetry axis of each part = mean x of (midpoint of a right/left landmark pair, centre-line points); the lips box
# also spans the chin, which moves sideways of the mouth when the head rolls (carphone).
AXES = {
    "mediapipe": {"eyes": ((33, 263), ()), "cheek_nose": ((234, 454), ()), "lips": ((61, 291), (152,))},
    "dlib68": {"eyes": ((36, 45), ()), "cheek_nose": ((1, 15), ()), "lips": ((48, 54), (8,))},
}
MOUTH = {"mediapipe": [61, 291, 0, 17, 13, 14], "dlib68": [48, 54, 51, 57, 62, 66]}


@pytest.fixture(scope="module", params=["carphone", "single_face"])
def clip(request, carphone):
    path = carphone if request.param == "carphone" else SINGLE_FACE
    return read_video(path, num_frames=NUM_FRAMES)


@pytest.fixture(scope="module")
def results(clip):
    """Track + align + part boxes with every available backend on the same frames."""
    out = {}
    for name in ("mediapipe", "dlib68"):
        if name == "dlib68" and not _has_dlib():
            continue
        track = track_faces(clip.frames, get_landmarker(name), source=clip.path)
        aligned = align_faces(clip.frames, track.landmarks, size=224, scale=1.3, backend_name=name)
        boxes = part_boxes(aligned.landmarks, name, 224)
        out[name] = (track, aligned, boxes)
    return out


def _has_dlib():
    try:
        import dlib  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("backend", ["mediapipe", "dlib68"])
def test_face_found_and_rois_well_formed(results, backend):
    if backend == "dlib68":
        pytest.importorskip("dlib")
    track, aligned, boxes = results[backend]
    assert track.detection_rate >= 0.95, track.summary()
    assert aligned.crops.shape == (NUM_FRAMES, 224, 224, 3) and aligned.crops.dtype == np.uint8
    assert aligned.face_affines.shape == (NUM_FRAMES, 2, 3)
    assert boxes.shape == (NUM_FRAMES, 3, 4) and boxes.dtype == np.float32
    # inside the crop, positive area
    assert boxes.min() >= 0 and boxes.max() <= 224
    assert np.all(boxes[..., 2] > boxes[..., 0] + 10) and np.all(boxes[..., 3] > boxes[..., 1] + 10)
    # top-to-bottom: eyes above cheek_nose above lips
    cy = (boxes[..., 1] + boxes[..., 3]) / 2
    assert np.all(cy[:, 0] < cy[:, 1]) and np.all(cy[:, 1] < cy[:, 2])
    assert np.all(boxes[:, 0, 1] < boxes[:, 1, 1]) and np.all(boxes[:, 1, 3] < boxes[:, 2, 3])
    # left/right symmetric about the face's own axis (midpoint of the part's landmark pair)
    for p, part in enumerate(PARTS):
        (r, l), centre = AXES[backend][part]
        lx = aligned.landmarks[..., 0]
        xs = [(lx[:, r] + lx[:, l]) / 2] + [lx[:, c] for c in centre]
        axis = np.mean(xs, axis=0)
        cx = (boxes[:, p, 0] + boxes[:, p, 2]) / 2
        width = boxes[:, p, 2] - boxes[:, p, 0]
        assert np.all(np.abs(cx - axis) < 0.12 * width), (part, np.abs(cx - axis) / width)
    # the face fills a sensible part of the crop (scale 1.3 around the landmark box)
    face_w = aligned.landmarks[..., 0].max(-1) - aligned.landmarks[..., 0].min(-1)
    assert np.all((face_w > 0.55 * 224) & (face_w < 224))


def test_backends_agree_on_part_boxes(results, clip):
    pytest.importorskip("dlib")
    (_, al_mp, b_mp), (_, al_dl, b_dl) = results["mediapipe"], results["dlib68"]
    # compare in original frame coordinates (each backend has its own crop)
    to_frame = lambda boxes, affines: _boxes_to_frame(boxes, affines)  # noqa: E731
    iou = box_iou(to_frame(b_mp, al_mp.face_affines), to_frame(b_dl, al_dl.face_affines))  # (T, 3)
    assert iou.shape == (NUM_FRAMES, 3)
    assert np.all(iou > 0.5), iou.min(0)
    # and the crops themselves frame the face the same way
    crop_iou = box_iou(al_mp.crop_boxes, al_dl.crop_boxes)
    assert np.all(crop_iou > 0.7), crop_iou.min()


def _boxes_to_frame(boxes, affines):
    inv = invert_affines(affines)
    corners = np.stack([boxes[..., :2], boxes[..., 2:]], axis=-2).reshape(len(boxes), -1, 2)
    pts = apply_affine(corners, inv).reshape(boxes.shape[0], boxes.shape[1], 2, 2)
    return np.concatenate([pts[..., 0, :], pts[..., 1, :]], axis=-1)


def test_alignment_geometry(results, clip):
    track, aligned, _ = results["mediapipe"]
    sides = aligned.crop_boxes[:, 2] - aligned.crop_boxes[:, 0]
    np.testing.assert_allclose(sides, aligned.crop_boxes[:, 3] - aligned.crop_boxes[:, 1], rtol=1e-5)
    np.testing.assert_allclose(apply_affine(track.landmarks, aligned.face_affines), aligned.landmarks, atol=1e-3)
    # the crop pixel at a landmark equals the frame pixel there (nearest-neighbour check on one frame)
    t, k = 3, 1  # nose tip
    x, y = track.landmarks[t, k].round().astype(int)
    cx, cy = apply_affine(np.array([[[x, y]]], np.float32), aligned.face_affines[t : t + 1])[0, 0].round().astype(int)
    diff = np.abs(clip.frames[t, y, x].astype(int) - aligned.crops[t, cy, cx].astype(int)).max()
    assert diff < 40
    smoothed = align_faces(clip.frames, track.landmarks, size=112, smooth_window=5, backend_name="mediapipe")
    assert smoothed.crops.shape == (NUM_FRAMES, 112, 112, 3)
    jitter = lambda b: np.abs(np.diff((b[:, 0] + b[:, 2]) / 2)).mean()  # noqa: E731
    assert jitter(smoothed.crop_boxes) <= jitter(aligned.crop_boxes) + 1e-6


@pytest.mark.parametrize("backend", ["mediapipe", "dlib68"])
def test_paste_back_lands_on_mouth(results, clip, backend):
    if backend == "dlib68":
        pytest.importorskip("dlib")
    track, aligned, boxes = results[backend]
    s = 224
    masks = np.zeros((NUM_FRAMES, s, s), np.float32)
    for t in range(NUM_FRAMES):
        x0, y0, x1, y1 = boxes[t, 2].round().astype(int)
        masks[t, y0:y1, x0:x1] = 1.0
    h, w = clip.size
    back = paste_back(masks, aligned.face_affines, (h, w))
    assert back.shape == (NUM_FRAMES, h, w) and back.dtype == np.float32
    assert back.min() >= 0 and back.max() <= 1.0 + 1e-5
    yy, xx = np.mgrid[0:h, 0:w]
    for t in range(NUM_FRAMES):
        m = back[t]
        assert m.sum() > 0
        x0, y0, x1, y1 = track.boxes[t]
        inside = m[int(y0) : int(np.ceil(y1)) + 1, int(x0) : int(np.ceil(x1)) + 1].sum()
        assert inside / m.sum() > 0.95  # on the face
        centroid = np.array([(m * xx).sum(), (m * yy).sum()]) / m.sum()
        mouth = track.landmarks[t, MOUTH[backend]].mean(0)
        face_w = x1 - x0
        assert np.linalg.norm(centroid - mouth) < 0.2 * face_w, (centroid, mouth, face_w)
        # lower half of the face
        assert centroid[1] > (y0 + y1) / 2


def test_multiple_faces_pick_largest_and_follow_it(carphone):
    import cv2

    # a group photo: the largest of several faces is picked in the first frame
    image = cv2.cvtColor(cv2.imread(str(TEST_MEDIA / "sample4.jpg")), cv2.COLOR_BGR2RGB)
    image = cv2.resize(image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    backend = get_landmarker("mediapipe", static_image_mode=True)
    faces = backend.detect(image)
    assert len(faces) >= 2
    track = track_faces(np.stack([image, image]), backend)
    assert track.num_faces[0] >= 2 and "picked the largest" in track.summary()
    np.testing.assert_allclose(track.boxes[0], max(faces, key=lambda f: f.area).box, atol=1)

    # two real people side by side over time: the big face is followed, the small one ignored
    big = read_video(SINGLE_FACE, num_frames=6).frames  # (6, 360, 640, 3)
    small = read_video(carphone, num_frames=6).frames  # (6, 144, 176, 3)
    small = np.stack([cv2.resize(f, (352, 288)) for f in small])
    small = np.pad(small, ((0, 0), (0, 360 - 288), (0, 0), (0, 0)))
    frames = np.concatenate([small, big], axis=2)  # smaller face left, bigger face right
    track = track_faces(frames, get_landmarker("mediapipe"))
    assert track.detected.all() and track.num_faces.max() == 2, track.num_faces
    assert np.all(track.boxes[:, 0] > 352)  # always the person on the right


def test_gaps_interpolated_or_rejected(carphone):
    frames = read_video(carphone, num_frames=12).frames.copy()
    backend = get_landmarker("mediapipe")
    frames_gap = frames.copy()
    frames_gap[5:7] = 0  # face lost for 2 frames
    track = track_faces(frames_gap, backend, max_gap=2)
    assert not track.detected[5] and not track.detected[6] and track.detected.sum() >= 9
    # interpolated landmarks lie between the neighbours
    lo = np.minimum(track.landmarks[4], track.landmarks[7]) - 1e-3
    hi = np.maximum(track.landmarks[4], track.landmarks[7]) + 1e-3
    assert np.all((track.landmarks[5] >= lo) & (track.landmarks[5] <= hi))
    frames_gap[4:9] = 0  # lost for 5 frames
    with pytest.raises(NoFaceDetectedError, match=r"face found in \d+ of 12 sampled frames"):
        track_faces(frames_gap, backend, max_gap=2, source="gap.mp4")


def test_no_face_raises():
    clip = read_video(TEST_MEDIA / "face_noface.mov", sampling="stride", stride=8, num_frames=12, max_frames=None)
    cartoon = clip.frames[clip.frame_indices >= 80]
    assert len(cartoon) >= 2
    with pytest.raises(NoFaceDetectedError) as info:
        track_faces(cartoon, "mediapipe", source="face_noface.mov")
    assert "face found in 0 of" in str(info.value) and "\n" not in str(info.value)
    mixed = read_video(TEST_MEDIA / "face_noface.mov", num_frames=16)
    with pytest.raises(NoFaceDetectedError, match=r"face found in [1-9] of 16 sampled frames"):
        track_faces(mixed.frames, "mediapipe", source="face_noface.mov")


def test_dlib_predictor_errors(monkeypatch, tmp_path):
    pytest.importorskip("dlib")
    from processing.landmarks import find_dlib_predictor

    assert find_dlib_predictor().name == "shape_predictor_68_face_landmarks.dat"
    monkeypatch.setenv("DELOCATE_DLIB_PREDICTOR", str(tmp_path / "missing.dat"))
    with pytest.raises(FileNotFoundError, match="DELOCATE_DLIB_PREDICTOR"):
        find_dlib_predictor()
    with pytest.raises(ValueError, match="unknown landmark backend"):
        get_landmarker("openface")
