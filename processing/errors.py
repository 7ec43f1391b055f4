"""Typed errors for bad input. Every message is one line that names the problem and the file."""


class DelocateInputError(ValueError):
    """Base class: the input (video, image, array) cannot be used. Subclass of ValueError."""


class VideoDecodeError(DelocateInputError):
    """The file is missing, not a video, empty, truncated or otherwise undecodable."""


class VideoTooShortError(DelocateInputError):
    """The video has fewer frames than the sampling mode needs."""


class NoFaceDetectedError(DelocateInputError):
    """No usable face was found in enough frames."""


# What the command line reports as bad input (one stderr line, exit code 2): the project's errors and the OS's own
# answers about a path.
BAD_INPUT_ERRORS = (DelocateInputError, FileNotFoundError, IsADirectoryError, PermissionError)
