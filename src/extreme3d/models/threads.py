"""Torch thread count, computed without importing torch (the batch's main process reports it
while its CNN worker process sets it)."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """Number of CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def thread_count(threads: int | None = None) -> int:
    """Torch intra-op threads to use: `threads`, else OMP_NUM_THREADS, else the usable cores."""
    if threads is None:
        env = os.environ.get("OMP_NUM_THREADS", "")
        threads = int(env) if env.isdigit() and int(env) > 0 else usable_cores()
    return max(1, int(threads))
