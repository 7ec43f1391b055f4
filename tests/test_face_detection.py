"""Face detection on real media: every person of the group photos, small distant faces (stills and a video clip)
that FaceMesh's own short-range detector misses, hard frames (dark, low contrast, grayscale, rolled +-45 degrees),
and bad input as one-line typed errors.

The group photos (`sample1.jpg` ... `sample6.jpg`, face-api demo images, MIT) show 3, 3, 3, 4, 5 and 4 people
(counted by eye; 22 in all, as tests/media/README.md says): one of them (sample2, left) in profile, several
looking down or turned three-quarters.
"""

import cv2
import numpy as np
import pytest

from conftest import SINGLE_FACE, TEST_MEDIA
from processing.errors import DelocateInputError, NoFaceDetectedError
from processing.face_detection import MediaPipeFaceDetector, rotate_frame, tile_views, transform_points
from processing.landmarks import (
    MediaPipeLandmarker,
    count_distinct_faces,
    crop_reference_points,
    get_landmarker,
    track_faces,
)
from processing.video_io import read_video, write_video

PEOPLE = {"sample1.jpg": 3, "sample2.jpg": 3, "sample3.jpg": 3, "sample4.jpg": 4, "sample5.jpg": 5, "sample6.jpg": 4}
CANVAS = (720, 1280)


@pytest.fixture(scope="module")
def still():
    """The default MediaPipe landmarker for still images (full-range detection, crop fits, retries)."""
    with get_landmarker("mediapipe", static_image_mode=True, max_num_faces=10) as landmarker:
        yield landmarker


@pytest.fixture(scope="module")
def short_range():
    """FaceMesh with its own short-range detector only: the behaviour before full-range detection."""
    with MediaPipeLandmarker(static_image_mode=True, max_num_faces=10, detector=None) as landmarker:
        yield landmarker


@pytest.fixture(scope="module")
def man(still):
    """A frame of single_face.mp4 (a real man talking, 640x360) and his 468 reference points."""
    frame = read_video(SINGLE_FACE, num_frames=4).frames[1]
    (face,) = still.detect(frame)
    return frame, face.points


def _rgb(path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _shrink_into(image, points, height, at=(0.7, 0.3), canvas=CANVAS):
    """A window of 2.5x the face height around the face `points`, rescaled so the face is `height` px high,
    pasted on a gray `canvas` with its face centre at the relative position `at`; and the points moved with it."""
    move = _move(image, points, height, at, canvas)
    x0, y0 = points.min(0)
    x1, y1 = points.max(0)
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, 1.25 * (y1 - y0)
    window = np.zeros(image.shape[:2], np.uint8)
    window[int(max(cy - half, 0)) : int(cy + half), int(max(cx - half, 0)) : int(cx + half)] = 255
    scale = move[0, 0]
    if scale < 1:  # shrink with area averaging, as a camera further away would see it, then place
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        shift = np.array([[1, 0, move[0, 2]], [0, 1, move[1, 2]]], np.float64)
        placed = cv2.warpAffine(small, shift, (canvas[1], canvas[0]))
    else:
        placed = cv2.warpAffine(image, move, (canvas[1], canvas[0]))
    mask = cv2.warpAffine(window, move, (canvas[1], canvas[0]), flags=cv2.INTER_NEAREST) > 0
    out = np.full((*canvas, 3), 114, np.uint8)
    out[mask] = placed[mask]
    return out, transform_points(points, move)


def _move(image, points, height, at, canvas=CANVAS):
    """The affine `_shrink_into` applies: face `points` of `image` scaled to `height` px, centred at `at`."""
    x0, y0 = points.min(0)
    x1, y1 = points.max(0)
    scale = height / float(y1 - y0)
    if scale < 1:  # the exact scale cv2.resize(fx=scale) gives
        scale = round(image.shape[1] * scale) / image.shape[1]
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return np.array([[scale, 0, at[0] * canvas[1] - scale * cx], [0, scale, at[1] * canvas[0] - scale * cy]])


def _nme(points, reference):
    """Mean error of the 68 dlib-equivalent points over the reference's outer-eye-corner distance."""
    p, r = crop_reference_points(points, "mediapipe"), crop_reference_points(reference, "mediapipe")
    return float(np.linalg.norm(p - r, axis=1).mean() / np.linalg.norm(r[36] - r[45]))


def _the_face(faces, reference):
    """The face whose box contains the reference face's centre (exactly one)."""
    c = reference.mean(0)
    hits = [f for f in faces if f.box[0] < c[0] < f.box[2] and f.box[1] < c[1] < f.box[3]]
    assert len(hits) == 1, [f.box for f in faces]
    return hits[0]


# ------------------------------------------------------------------------------------------- group photos
@pytest.mark.parametrize("name", sorted(PEOPLE))
def test_group_photo_every_person_found_once(still, short_range, name):
    image = _rgb(TEST_MEDIA / name)
    for scale in (1.0, 0.25):  # 1920 px wide (faces ~180-330 px high) and 480 px wide (faces ~45-80 px)
        frame = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        faces = still.detect(frame)
        assert len(faces) == PEOPLE[name] == count_distinct_faces(faces, overlap=0.2), (scale, [f.source for f in faces])
        for face in faces:  # each a whole, upright face: eyes above the nose tip above the mouth, inside the frame
            ref = crop_reference_points(face.points, "mediapipe")
            eyes_y, nose_y, mouth_y = ref[36:48, 1].mean(), ref[30, 1], ref[48:60, 1].mean()
            assert eyes_y < nose_y < mouth_y, (name, scale, face.source)
            assert np.all(face.box[:2] > -0.05 * frame.shape[1]) and face.box[2] < 1.05 * frame.shape[1]
        assert len(short_range.detect(frame)) <= PEOPLE[name]


def test_short_range_alone_misses_people_in_group_photos(still, short_range):
    found = {"before": 0, "now": 0}
    for name in PEOPLE:
        frame = cv2.resize(_rgb(TEST_MEDIA / name), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        found["before"] += len(short_range.detect(frame))
        found["now"] += len(still.detect(frame))
    assert found["now"] == sum(PEOPLE.values()) == 22
    assert found["before"] <= 16, found  # 14 of 22 when measured


def test_processor_counts_everyone_in_a_group_photo():
    """The face processor (unchanged) gains the new detection through its landmarker: all five people of sample5
    are counted in every frame, and the largest one is followed."""
    from processing import DelocateFaceProcessor

    frame = cv2.resize(_rgb(TEST_MEDIA / "sample5.jpg"), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    processor = DelocateFaceProcessor(num_frames=2, size=64, allow_single_frame=True)
    out = processor(frame[None], return_num_faces=True, return_tensors="np")
    assert out["num_faces"].tolist() == [[5, 5]] and out["face_detected"].all()


# ------------------------------------------------------------------------------------------- small distant faces
@pytest.mark.parametrize("height", [40, 64])
def test_small_distant_face_found_by_full_range_only(still, short_range, man, height):
    frame, reference = man
    canvas, expected = _shrink_into(frame, reference, height)
    assert short_range.detect(canvas) == []
    face = _the_face(still.detect(canvas), expected)
    assert face.source == "full_range"
    assert _nme(face.points, expected) < 0.15


def test_small_distant_face_video_clip(tmp_path, man):
    """A real talking-head clip shrunk to a ~50 px face inside 1280x720 frames, written as a real video: FaceMesh
    alone finds no face; the processor follows it, its landmarks on the small face."""
    from processing import DelocateFaceProcessor

    frames = read_video(SINGLE_FACE, num_frames=16).frames
    _, reference = man
    height = float(reference[:, 1].max() - reference[:, 1].min())
    distant = np.stack([_shrink_into(f, reference, height / 3, at=(0.3, 0.6))[0] for f in frames])  # same move
    path = write_video(tmp_path / "distant_face.mp4", distant, fps=15)
    clip = read_video(path, num_frames=8)
    with pytest.raises(NoFaceDetectedError, match="face found in 0 of 8 sampled frames") as info:
        track_faces(clip.frames, MediaPipeLandmarker(detector=None), source=str(path))
    assert "\n" not in str(info.value)

    processor = DelocateFaceProcessor(num_frames=8, size=64)
    out = processor(str(path), return_num_faces=True, return_tensors="np")
    assert out["face_detected"].all() and out["num_faces"].max() == 1
    # back in frame coordinates, the landmarks lie on the small face where the big clip's landmarks put it
    big = track_faces(frames[clip.frame_indices], get_landmarker("mediapipe"))
    move = _move(frames[0], reference, height / 3, (0.3, 0.6))
    for t in range(8):
        back = cv2.invertAffineTransform(out["face_affines"][0, t].astype(np.float64))
        points = transform_points(out["landmarks"][0, t], back)
        assert _nme(points, transform_points(big.landmarks[t], move)) < 0.15, t


# ------------------------------------------------------------------------------------------- hard frames
def _condition(canvas, kind):
    if kind == "dark":
        return (canvas * 0.15).astype(np.uint8), None
    if kind == "low_contrast":
        return (128 + (canvas.astype(np.float32) - 128) * 0.15).astype(np.uint8), None
    if kind == "grayscale":  # a 2-D array, as a grayscale decoder or PIL "L" image gives it
        return cv2.cvtColor(canvas, cv2.COLOR_RGB2GRAY), None
    angle = float(kind.removeprefix("rotated"))
    return rotate_frame(canvas, angle)


@pytest.mark.parametrize("kind", ["dark", "low_contrast", "grayscale", "rotated+45", "rotated-45"])
def test_hard_frames_small_face(still, man, kind):
    frame, reference = man
    canvas, expected = _shrink_into(frame, reference, 80)
    hard, affine = _condition(canvas, kind)
    if affine is not None:
        expected = transform_points(expected, affine)
    face = _the_face(still.detect(hard), expected)
    assert _nme(face.points, expected) < 0.15, face.source


@pytest.mark.parametrize("kind, height", [("dark", 32), ("rotated+45", 40), ("rotated-45", 28)])
def test_retries_find_what_one_look_misses(still, man, kind, height):
    """Smaller faces in hard frames: one look (no retry) finds nothing; the retries (contrast-normalised, rotated
    frames) find the face, its landmarks where they belong."""
    frame, reference = man
    canvas, expected = _shrink_into(frame, reference, height)
    hard, affine = _condition(canvas, kind)
    if affine is not None:
        expected = transform_points(expected, affine)
    with MediaPipeLandmarker(static_image_mode=True, retry=False) as one_look:
        assert one_look.detect(hard) == []
    face = _the_face(still.detect(hard), expected)
    assert "+" in face.source and _nme(face.points, expected) < 0.15, face.source


@pytest.mark.parametrize("kind", ["rotated+45", "rotated-45", "low_contrast"])
def test_hard_frames_in_video(man, kind):
    """The same in a video (tracking mode): the face is found in every frame of a rolled / flat real clip."""
    frames = read_video(SINGLE_FACE, num_frames=8).frames
    _, reference = man
    hard = np.stack([_condition(_shrink_into(f, reference, 80)[0], kind)[0] for f in frames])
    track = track_faces(hard, get_landmarker("mediapipe"), max_gap=0)
    assert track.detected.all()


# ------------------------------------------------------------------------------------------- unchanged, errors
@pytest.mark.parametrize("video", ["single_face", "carphone"])
def test_frontal_video_landmarks_unchanged(video, carphone):
    """On ordinary frontal talking heads FaceMesh's own landmarks are kept: the same as before full-range detection."""
    path = carphone if video == "carphone" else SINGLE_FACE
    frames = read_video(path, num_frames=16).frames
    now = track_faces(frames, get_landmarker("mediapipe"))
    before = track_faces(frames, MediaPipeLandmarker(detector=None))
    np.testing.assert_allclose(now.landmarks, before.landmarks, atol=1e-3)
    assert now.num_faces.tolist() == before.num_faces.tolist()


def test_detector_only_face_is_named_in_the_error(still):
    """A 16 px face the detector sees but FaceMesh cannot fit: the error says so, on one line."""
    image = _rgb(TEST_MEDIA / "sample1.jpg")
    faces = sorted(still.detect(image), key=lambda f: f.center[0])
    canvas, _ = _shrink_into(image, faces[0].points, 16, canvas=(360, 640))
    with pytest.raises(NoFaceDetectedError) as info:
        track_faces(np.stack([canvas] * 4), get_landmarker("mediapipe"), source="tiny.mp4")
    message = str(info.value)
    assert "\n" not in message and "'tiny.mp4'" in message and "face found in 0 of 4 sampled frames" in message
    assert "no landmarks could be fit" in message


@pytest.mark.parametrize(
    "bad",
    [np.zeros((32, 32, 5), np.uint8), np.zeros((0, 32, 3), np.uint8), np.zeros((2, 32, 32, 3), np.uint8),
     np.array([["a", "b"], ["c", "d"]]), np.zeros(7, np.uint8)],
    ids=["5-channels", "empty", "4-d", "strings", "1-d"],
)
def test_bad_frames_one_line_typed_error(still, bad):
    with pytest.raises(DelocateInputError) as info:
        still.detect(bad)
    assert "\n" not in str(info.value) and "frame" in str(info.value)
    with pytest.raises(DelocateInputError) as info:
        MediaPipeFaceDetector().detect(bad)
    assert "\n" not in str(info.value)


def test_bad_settings():
    with pytest.raises(ValueError, match="detector must be"):
        MediaPipeLandmarker(detector="far")
    with pytest.raises(ValueError, match="unknown face detector model"):
        MediaPipeFaceDetector(models="far")


def test_tiles_cover_the_frame_with_overlap():
    views = tile_views(720, 1280, 640)
    assert views[0] == (0, 0, 1280, 720) and len(views) == 7  # the whole frame + 3x2 tiles of 640 px
    covered = np.zeros((720, 1280), int)
    for x0, y0, x1, y1 in views[1:]:
        assert x1 - x0 == 640 and y1 - y0 == 640
        covered[y0:y1, x0:x1] += 1
    assert covered.min() >= 1
    assert tile_views(360, 640, 640) == [(0, 0, 640, 360)]  # small frames: whole only
    assert tile_views(1080, 1920, None) == [(0, 0, 1920, 1080)]
