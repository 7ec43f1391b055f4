"""MediaPipe's log noise, silenced (used by the MediaPipe landmarker and face detector of `processing`, and by the
face library's crop finder).

- `quiet_mediapipe_logs()`: glog / absl / TFLite info lines and protobuf's deprecation warning off (errors still
  show); set once, before MediaPipe is imported or a graph is created.
- `filtered_native_stderr()`: a context manager that captures file descriptor 2 (what MediaPipe's C++ code writes)
  and re-emits every line that is not known noise (`_NATIVE_NOISE`), so real native errors still reach stderr.
- `import_mediapipe()`: `import mediapipe` without the memory its import would pin: mediapipe keeps the exception of
  its optional audio import (`audio_record.sd_error`, e.g. "PortAudio library not found"), whose traceback holds
  every frame of the stack that first imported it, and so the video frames those callers held (a 4K clip of 8
  frames: 200 MB, for the life of the process).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings

__all__ = ["filtered_native_stderr", "import_mediapipe", "quiet_mediapipe_logs"]

# Native (C++) log lines of MediaPipe/TFLite that are pure noise; anything else written to stderr is kept.
_NATIVE_NOISE = (
    "Created TensorFlow Lite XNNPACK delegate",
    "All log messages before absl::InitializeLog()",
    "inference_feedback_manager.cc",
    "gl_context.cc",
)


_PROTOBUF_WARNING = r"SymbolDatabase\.GetPrototype\(\) is deprecated"


def quiet_mediapipe_logs() -> None:
    """Silence glog/absl/TFLite/protobuf info spam of MediaPipe (errors still show)."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message=_PROTOBUF_WARNING)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover
        pass


@contextlib.contextmanager
def filtered_native_stderr():
    """Capture file descriptor 2 (C++ logs) and re-emit every line that is not known MediaPipe noise."""
    fd = 2  # native code writes to file descriptor 2, whatever sys.stderr is
    try:
        saved = os.dup(fd)
    except OSError:  # no usable fd 2: nothing to filter
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        try:
            sys.stderr.flush()
        except (AttributeError, OSError, ValueError):
            pass
        os.dup2(tmp.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            kept = [
                line
                for line in tmp.read().decode("utf-8", "replace").splitlines(keepends=True)
                if line.strip() and not any(noise in line for noise in _NATIVE_NOISE)
            ]
            if kept:
                sys.stderr.write("".join(kept))


def import_mediapipe():
    """`import mediapipe` (the module), with the traceback of its optional audio import's stored exception dropped
    (it would keep every frame of the importing stack alive, with the arrays they hold)."""
    import mediapipe

    record = sys.modules.get("mediapipe.tasks.python.audio.core.audio_record")
    error = getattr(record, "sd_error", None)
    if isinstance(error, BaseException):
        error.__traceback__ = None
    return mediapipe
