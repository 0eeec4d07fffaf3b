"""extreme3d: Extreme 3D Face Reconstruction (Tran et al., CVPR 2018), a modern Python port."""

from __future__ import annotations

__version__ = "0.1.0"


class Extreme3DError(Exception):
    """A user-facing error (bad input, missing model file): printed as one line by the CLI."""
