"""The two CNNs of the pipeline: the shape CNN (3DMM coefficients) and the bump CNN (U-Net).

Submodules: `shape_cnn` (ShapeCNN), `bump_cnn` (BumpCNN, the U-Net), `device` (device and
threads), `files` (file names) and `threads` (thread count; neither of these two imports torch).
The names below are loaded on first use, so `import extreme3d.models` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "BumpCNN": "bump_cnn",
    "flat_maps": "bump_cnn",
    "ShapeCNN": "shape_cnn",
    "configure_threads": "device",
    "resolve_device": "device",
    "BUMP_WEIGHTS": "files",
    "SHAPE_FILES": "files",
    "has_shape_cnn": "files",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    """Imports the submodule that defines `name` on first access."""
    if name not in _LAZY:
        raise AttributeError(f"module 'extreme3d.models' has no attribute {name!r}")
    return getattr(importlib.import_module(f"extreme3d.models.{_LAZY[name]}"), name)
