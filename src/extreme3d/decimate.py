"""Light final mesh files: the error-bounded simplification the clean OBJ/GLB files get by
default (`simplify`: half-edge collapses in `_core`, every removed vertex within
DETAIL_TOLERANCE_MM of the simplified surface and its texture coordinate within
DETAIL_TOLERANCE_TEXELS there, so flat regions lose vertices and the bump detail stays), and the
fixed-fraction quadric decimation of `--decimate RATIO` (`decimate`: fast-simplification,
Garland-Heckbert quadrics, vertices moved to the error-minimising position). Both keep the open
borders (outer border, mouth)."""

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


#: Default bound of `simplify` (mm): the largest distance of a removed vertex to the simplified
#: surface (exact point-triangle distance).
DETAIL_TOLERANCE_MM = 0.03
#: Default uv bound of `simplify` in texels of the texture: the uv interpolated at a removed
#: vertex's nearest point of the simplified surface differs from its own by at most this.
DETAIL_TOLERANCE_TEXELS = 1.0
#: Default normal bound of `simplify` (degrees): the face holding a removed vertex turns at most
#: this far from the vertex's own (area-weighted) normal, so that the shading of fine detail stays.
DETAIL_NORMAL_DEGREES = 5.0
#: The `decimate` settings that are not a ratio: "auto" the error-bounded simplification (the
#: default of the clean OBJ/GLB files), "off" the full clean mesh (the same as ratio 1).
DECIMATE_WORDS = ("auto", "off")


def decimate_setting(value: float | str | None) -> float | str | None:
    """The checked `--decimate` / `decimate=` value: None (the default: "auto" for the clean
    OBJ/GLB files, full PLY files), "auto", or a fraction of faces kept in (0, 1] ("off" -> 1.0);
    Extreme3DError otherwise."""
    if value is None or value == "auto":
        return value
    if value == "off":
        return 1.0
    try:
        ratio = float(value)
    except (TypeError, ValueError):
        ratio = float("nan")
    if isinstance(value, bool) or not 0.0 < ratio <= 1.0:
        raise Extreme3DError(f"decimate must be 'auto', 'off' or a fraction of faces kept in "
                             f"(0, 1], got {value!r}")
    return ratio


def file_decimation(value: float | str | None, fmt: str) -> float | str | None:
    """What the clean final mesh file of format `fmt` gets for the setting `value`: by default
    (None) "auto" for OBJ/GLB and the full mesh (None) for PLY; otherwise the setting."""
    if value is None:
        return None if fmt == "ply" else "auto"
    return decimate_setting(value)


def simplify(vertices: np.ndarray, faces: np.ndarray, uv: np.ndarray | None = None,
             tolerance: float = DETAIL_TOLERANCE_MM, uv_tolerance: float = 0.0,
             normal_degrees: float | None = DETAIL_NORMAL_DEGREES) -> Decimated:
    """Error-bounded simplification (`_core.simplify_bounded`): half-edge collapses roughly in
    quadric order (passes under a cost threshold growing 4x per pass), border vertices fixed,
    manifold kept, no face turned by more than 60 degrees by one collapse or folded in uv, and
    every removed vertex within `tolerance` mm of a face of the
    simplified surface whose normal is within `normal_degrees` of the vertex's own (None: not
    checked), with uv its uv within `uv_tolerance` at the nearest point. The surviving vertices
    are original ones (positions, uv and colours unchanged); `source` lists them."""
    from extreme3d import _core

    v = np.asarray(vertices, np.float64).reshape(-1, 3)
    f = np.asarray(faces, np.int64).reshape(-1, 3)
    if len(f) == 0:
        return Decimated(v.astype(np.float32), f.astype(np.int32), np.arange(len(v)))
    kept, tris = _core.simplify_bounded(
        v, f.astype(np.int32), None if uv is None else np.asarray(uv, np.float64),
        float(tolerance), float(uv_tolerance),
        min_point_normal_dot=-1.0 if normal_degrees is None else float(
            np.cos(np.deg2rad(normal_degrees))))
    kept = np.asarray(kept, np.int64)
    return Decimated(v[kept].astype(np.float32), np.asarray(tris, np.int32), kept)


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
