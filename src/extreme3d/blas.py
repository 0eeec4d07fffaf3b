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
import threading
from collections.abc import Iterator
from typing import Any

_lock = threading.Lock()
_depth = 0  # batch runs inside blas_threads_limited now (only the outermost limits/restores)
_saved: Any = None


def _load_blas_users() -> None:
    """Imports the modules whose OpenBLAS copies the batch uses: only loaded libraries are
    limited."""
    import cv2  # noqa: F401
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401


def _limit_to_one() -> Any:
    """Limits every loaded BLAS library of this process to one thread; threadpoolctl's limiter
    (which can restore the previous settings), or None when that could not be done (missing
    threadpoolctl, an odd library: a speed setting only, never an error)."""
    try:
        from threadpoolctl import threadpool_limits

        _load_blas_users()
        return threadpool_limits(limits=1, user_api="blas")
    except Exception:  # noqa: BLE001 - left as it is
        return None


def single_blas_thread() -> bool:
    """One BLAS thread for good (worker processes of the batch); False when not set."""
    return _limit_to_one() is not None


@contextlib.contextmanager
def blas_threads_limited() -> Iterator[None]:
    """One BLAS thread inside the block, the caller's settings restored when the last of the
    blocks running in this process ends (a batch run inside a user's process; concurrent runs
    in threads share one limit). Never raises for the limit itself."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = _limit_to_one()
        _depth += 1
    try:
        yield None
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                with contextlib.suppress(Exception):
                    _saved.restore_original_limits()
                _saved = None
