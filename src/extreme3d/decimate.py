"""Quadric decimation of a mesh for light files (fast-simplification, Garland-Heckbert quadrics:
vertices move to the error-minimising position, so the surface detail stays where it is); the
open borders (outer border, mouth) are kept."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from extreme3d import Extreme3DError


@dataclass
class Decimated:
    """A decimated mesh and, per new vertex, an original vertex it replaces (for uv/colours)."""

    vertices: np.ndarray  # (N, 3) float32
    faces: np.ndarray  # (M, 3) int32
    source: np.ndarray  # (N,) int64 index of a surviving original vertex


def decimate(vertices: np.ndarray, faces: np.ndarray, ratio: float) -> Decimated:
    """Keeps about `ratio` (0 < ratio <= 1) of the faces; ratio 1 returns the mesh unchanged."""
    if not 0.0 < float(ratio) <= 1.0:
        raise Extreme3DError(f"--decimate must be in (0, 1] (fraction of faces kept), got {ratio}")
    v = np.asarray(vertices, np.float64).reshape(-1, 3)
    f = np.asarray(faces, np.int64).reshape(-1, 3)
    if ratio >= 1.0 or len(f) < 4:
        return Decimated(v.astype(np.float32), f.astype(np.int32), np.arange(len(v)))
    try:
        import fast_simplification
    except ImportError:  # pragma: no cover - a declared dependency
        raise Extreme3DError("--decimate needs the fast-simplification package "
                             "(pip install fast-simplification)") from None
    _, _, collapses = fast_simplification.simplify(
        v, f.astype(np.int32), target_reduction=1.0 - float(ratio), return_collapses=True,
        preserve_border=True)
    points, tris, mapping = fast_simplification.replay_simplification(
        v, f.astype(np.int32), collapses)
    mapping = np.asarray(mapping, np.int64)
    gone = np.zeros(len(v), bool)
    if len(collapses):
        gone[np.asarray(collapses, np.int64)[:, 1]] = True
    source = np.zeros(len(points), np.int64)
    alive = np.flatnonzero(~gone & (mapping >= 0) & (mapping < len(points)))
    source[mapping[alive]] = alive
    return Decimated(np.asarray(points, np.float32), np.asarray(tris, np.int32), source)
