"""The batch's heap retention (extreme3d.heap)."""

from __future__ import annotations

import os
import sys

import pytest

from extreme3d import heap


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
@pytest.mark.skipif(bool(os.environ.get("EXTREME3D_SANITIZED_CORE")),
                    reason="under AddressSanitizer malloc is ASan's: glibc's mallopt refuses")
def test_retain_freed_memory_sets_the_thresholds_once() -> None:
    """mallopt accepts both thresholds; a second call is a no-op that still says True."""
    assert heap.MMAP_THRESHOLD >= 16 * 1024 * 1024  # above the bake's largest buffer
    assert heap.TRIM_THRESHOLD >= heap.MMAP_THRESHOLD
    assert heap.retain_freed_memory() is True
    assert heap.retain_freed_memory() is True
