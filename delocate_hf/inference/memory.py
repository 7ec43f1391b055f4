"""Large decoded frames and the C heap: `unmap_large_buffers()`, called once by the front ends that decode videos
(`delocate detect`, the Space).

glibc's malloc serves a request of 32 MB or less from its heap once a block that size has been freed (its mmap
threshold adapts upwards, up to 32 MB), and a freed heap block is returned to the OS only when it lies at the heap's
top. A decoded 4K RGB frame is 24.9 MB, and decoding, colour conversion and face detection allocate and free several
per frame: on the heap they leave tens of megabytes resident between frames (60 MB of peak RSS in a 4K
`delocate detect`, measured). With a fixed threshold every buffer of `threshold` bytes or more is mapped on its own and
unmapped when freed. Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
DEFAULT_THRESHOLD = 4 * 1024 * 1024  # a 1280x720 RGB frame is 2.8 MB: HD frames and larger are mapped on their own


def unmap_large_buffers(threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold at `threshold` bytes (freed buffers that large go back to the OS at once). Returns
    whether it was set (False off glibc)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries without mallopt
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, int(threshold)))


__all__ = ["DEFAULT_THRESHOLD", "unmap_large_buffers"]
