"""File input/output: PLY meshes, iBUG .pts landmarks, coefficient files, atomic writes."""

from __future__ import annotations

from extreme3d.io.atomic import atomic_write
from extreme3d.io.ply import read_ply, write_ply
from extreme3d.io.pts import read_coefficients, read_pts, write_coefficients, write_pts

__all__ = [
    "atomic_write",
    "read_coefficients",
    "read_ply",
    "read_pts",
    "write_coefficients",
    "write_ply",
    "write_pts",
]
