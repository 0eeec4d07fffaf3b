"""One BLAS thread in the batch processes. numpy, SciPy and OpenCV each bundle an OpenBLAS that
starts a thread per core, and between two products those threads spin waiting for the next
one. The batch's products are small (landmark fits, the per-pixel features of one 500x500
crop, colour fills). The spinning second thread doubled the CPU time of the photo bump, the
occlusion features, the overlay and the output stage without making them faster. Measured
with bench/e2e.py on 10 photos, 2 cores, default outputs: 0.94 s CPU per image with the
default thread count, 0.71 s with one thread; the wall time did not change. torch's own
threads (the CNNs) are not touched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


def _load_blas_users() -> None:
    """Imports the modules whose OpenBLAS copies the batch uses: only loaded libraries are
    limited."""
    import cv2  # noqa: F401
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401


def single_blas_thread() -> bool:
    """Limits every loaded BLAS library of this process to one thread for good (worker processes
    of the batch); False when threadpoolctl is missing."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a declared dependency
        return False
    _load_blas_users()
    threadpool_limits(limits=1, user_api="blas")
    return True


@contextlib.contextmanager
def blas_threads_limited() -> Iterator[Any]:
    """One BLAS thread inside the block, the caller's settings restored after it (a batch run
    inside a user's process)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a declared dependency
        yield None
        return
    _load_blas_users()
    with threadpool_limits(limits=1, user_api="blas") as limits:
        yield limits
