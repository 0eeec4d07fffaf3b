"""Heap retention for the batch processes (glibc): the texture bake and the colour stages allocate
and free buffers of 4-16 MB several times per mesh. With glibc's defaults each one is mapped
fresh from the kernel and returned when freed (dynamic mmap threshold, 128 kB trim threshold),
so every new buffer is page-faulted and zeroed again: ~20-25% of a bake's CPU. Raising the mmap
threshold above those buffers and the trim threshold above their sum keeps the memory in the
heap for the next mesh. Process-wide; a no-op where mallopt is not available.
"""

from __future__ import annotations

import ctypes
import sys

#: glibc mallopt parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: Blocks up to this size come from the heap (bytes; the bake's largest buffer is 16 MB).
MMAP_THRESHOLD = 32 * 1024 * 1024
#: Free memory kept at the top of the heap before it is returned to the kernel (bytes).
TRIM_THRESHOLD = 128 * 1024 * 1024

_done = False


def retain_freed_memory() -> bool:
    """Sets the mmap and trim thresholds once per process (see module); True when set."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    _done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
