"""extreme3d: Extreme 3D Face Reconstruction (Tran et al., CVPR 2018), a modern Python port."""

from __future__ import annotations

__version__ = "0.1.0"


class Extreme3DError(Exception):
    """A user-facing error (bad input, missing model file): printed as one line by the CLI."""


#: Names exported lazily (``import extreme3d`` stays cheap: no torch, no model loading).
_LAZY = {"Reconstructor": "extreme3d.api", "FaceResult": "extreme3d.api", "Pose": "extreme3d.api"}


def __getattr__(name: str):
    """Lazy access to the Python API (extreme3d.Reconstructor, FaceResult, Pose)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'extreme3d' has no attribute {name!r}")
