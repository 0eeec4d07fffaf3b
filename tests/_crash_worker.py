"""A core-stage stand-in for test_batch: its process dies abruptly (as in a native crash) for the
task named 'boom' (SIGKILL: no core file)."""

from __future__ import annotations

import os
import signal

from extreme3d.pipeline import CoreResult, CoreTask


def run(task: CoreTask) -> CoreResult:
    """Kills the worker for the task named 'boom', else reports success."""
    if task.name == "boom":
        os.kill(os.getpid(), signal.SIGKILL)
    return CoreResult(task.index, True, None, [task.name], {"core": 0.0})
