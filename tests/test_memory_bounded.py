"""What detection holds of a video's pixels (issue 30), on real footage: the first import of MediaPipe does not pin the
caller's frames, `iter_clips` holds no clip while decoding the next one, the face processor does not copy the clip
it is given, and the front ends fix glibc's mmap threshold (freed frame buffers go back to the OS)."""

import gc
import json
import subprocess
import sys
import tracemalloc
import weakref

import cv2
import numpy as np
from conftest import HANG_TIMEOUT, SINGLE_FACE

from processing import DelocateFaceProcessor, iter_video_frames
from processing.video_io import iter_clips

PINNED_PROBE = """
import gc, json, sys, weakref
import numpy as np
assert "mediapipe" not in sys.modules
from processing import DelocateFaceProcessor, read_video
frames = np.ascontiguousarray(read_video(sys.argv[1], num_frames=4).frames)
ref = weakref.ref(frames)
DelocateFaceProcessor(num_frames=4, size=64).preprocess_tracks(frames, return_tensors="np")  # imports mediapipe
del frames
gc.collect()
print(json.dumps({"imported": "mediapipe" in sys.modules, "pinned": ref() is not None}))
"""


def test_first_mediapipe_import_pins_no_frames():
    """MediaPipe keeps the exception of its optional audio import, whose traceback held every frame of the stack that
    first imported it: the frames given to the first processor call stayed alive for the life of the process."""
    proc = subprocess.run([sys.executable, "-c", PINNED_PROBE, str(SINGLE_FACE)], capture_output=True, text=True,
                          timeout=HANG_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"imported": True, "pinned": False}


def test_iter_clips_holds_no_clip_while_decoding_the_next():
    refs, alive = [], []

    def on_frame(done, total):  # called while the next clip is being decoded
        gc.collect()
        alive.append(sum(r() is not None for r in refs))

    clips = iter_clips(SINGLE_FACE, 8, 3, on_frame=on_frame)
    for clip in clips:
        refs.append(weakref.ref(clip.frames))
        assert clip.frames.shape == (8, 360, 640, 3) and clip.frames.flags.c_contiguous
        clip = None  # noqa: F841  (the consumer lets go of it, as detection does)
    assert len(refs) == 3 and len(alive) == 24
    assert max(alive) == 0, alive  # no earlier clip was alive while a later one was decoded


def test_processor_does_not_copy_the_clip():
    """The processor's frames are the clip it is given (a read-only view when it takes every frame), not copies: at
    1080p a clip of 8 frames is 50 MB."""
    frames = np.stack([cv2.resize(f, (1920, 1080)) for _, f in iter_video_frames(SINGLE_FACE, max_frames=8)])
    processor = DelocateFaceProcessor(num_frames=8, size=64)
    processor.preprocess_tracks(frames[:2], num_frames=2, return_tensors="np")  # landmarker built before tracing
    tracemalloc.start()
    try:
        found = processor.preprocess_tracks(frames, num_frames=8, return_tensors="np")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(found.features) == 1
    assert peak < 0.5 * frames.nbytes, f"traced peak {peak / 1e6:.0f} MB for a {frames.nbytes / 1e6:.0f} MB clip"
    assert frames.flags.writeable  # the caller's array is untouched


def test_front_ends_fix_the_mmap_threshold():
    from delocate_hf.inference.memory import unmap_large_buffers

    assert unmap_large_buffers() is sys.platform.startswith("linux")  # glibc's mallopt took the threshold
