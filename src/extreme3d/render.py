"""Headless rendering (OSMesa) with the original's camera; see docs/rendering.md.

Thin, validated wrappers over ``extreme3d._core``: bad shapes, dtypes, non-finite values or face
indices out of range raise ``ValueError`` before anything reaches OpenGL.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from extreme3d import _core
from extreme3d.camera import FAR, FOCAL, HEIGHT, NEAR, WIDTH, finite_vec3

SHADINGS = ("flat", "lambert")
MAX_SIZE = 16384


def _vertices(vertices: npt.ArrayLike) -> np.ndarray:
    """Finite (V,3) float32 vertices, else ValueError."""
    v = np.asarray(vertices)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"vertices must have shape (V, 3), got {v.shape}")
    if not np.issubdtype(v.dtype, np.number) or np.issubdtype(v.dtype, np.complexfloating):
        raise ValueError(f"vertices must be real numbers, got dtype {v.dtype}")
    v = np.ascontiguousarray(v, dtype=np.float32)
    if not np.all(np.isfinite(v)):
        raise ValueError("vertices contain NaN or inf (or values beyond float32)")
    return v


def _faces(faces: npt.ArrayLike, num_vertices: int) -> np.ndarray:
    """(F,3) int32 0-based faces with indices in [0, num_vertices), else ValueError."""
    f = np.asarray(faces)
    if f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f"faces must have shape (F, 3), got {f.shape}")
    if f.size and not np.issubdtype(f.dtype, np.integer):
        raise ValueError(f"faces must be integer vertex indices, got dtype {f.dtype}")
    if f.size:
        lo, hi = int(f.min()), int(f.max())
        if lo < 0 or hi >= num_vertices:
            raise ValueError(
                f"face index out of range: indices must be in [0, {num_vertices}) (0-based), "
                f"got min {lo}, max {hi}"
            )
    return np.ascontiguousarray(f, dtype=np.int32)


def _pose(rvec: npt.ArrayLike, tvec: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """rvec (rad) and tvec (mm) as finite float64 3-vectors, else ValueError."""
    return finite_vec3(rvec, "rvec"), finite_vec3(tvec, "tvec")


def _camera(focal: float, width: int, height: int) -> tuple[float, int, int]:
    """Checked focal (px > 0) and image size (1..MAX_SIZE px), else ValueError."""
    focal = float(focal)
    if not np.isfinite(focal) or focal <= 0:
        raise ValueError(f"focal must be a positive number of pixels, got {focal}")
    for name, n in (("width", width), ("height", height)):
        if int(n) != n or not 1 <= int(n) <= MAX_SIZE:
            raise ValueError(f"{name} must be an integer in 1..{MAX_SIZE}, got {n}")
    return focal, int(width), int(height)


def _scene(vertices: npt.ArrayLike, faces: npt.ArrayLike, rvec: npt.ArrayLike,
           tvec: npt.ArrayLike, focal: float, width: int, height: int) -> tuple:
    """The checked (vertices, faces, rotation vector, translation, focal, width, height) of a
    render call, in the types `_core` takes; ValueError naming what is wrong."""
    v = _vertices(vertices)
    f = _faces(faces, len(v))
    r, t = _pose(rvec, tvec)
    return (v, f, r, t, *_camera(focal, width, height))


def render(
    vertices: npt.ArrayLike,
    faces: npt.ArrayLike,
    rvec: npt.ArrayLike,
    tvec: npt.ArrayLike,
    colors: npt.ArrayLike | None = None,
    focal: float = FOCAL,
    width: int = WIDTH,
    height: int = HEIGHT,
    shading: str = "flat",
) -> tuple[np.ndarray, np.ndarray]:
    """Render a mesh: (rgb HxWx3 uint8, raw depth HxW float32 in [0, 1], 1 = background).

    vertices (V,3) mm in model space, faces (F,3) 0-based, colors (V,3) in 0..255 (uint8 or
    float; white when None, light grey for "lambert"), pose rvec (rad) / tvec (mm). Row 0 is the
    top image row. Use :func:`depth_to_metric` for camera z in mm.
    """
    v = _vertices(vertices)
    f = _faces(faces, len(v))
    r, t = _pose(rvec, tvec)
    focal, width, height = _camera(focal, width, height)
    if shading not in SHADINGS:
        raise ValueError(f"shading must be one of {SHADINGS}, got {shading!r}")
    c = None
    if colors is not None:
        c = np.asarray(colors)
        if c.shape != v.shape:
            raise ValueError(f"colors must have shape {v.shape} (RGB per vertex), got {c.shape}")
        c = np.ascontiguousarray(c, dtype=np.float32)
        if not np.all(np.isfinite(c)):
            raise ValueError("colors contain NaN or inf")
    return _core.render(v, f, r, t, c, focal, width, height, shading)


def render_two_sided_depth(
    vertices: npt.ArrayLike,
    faces: npt.ArrayLike,
    rvec: npt.ArrayLike,
    tvec: npt.ArrayLike,
    focal: float = FOCAL,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> np.ndarray:
    """Camera z (HxW float32 mm, negative in front, 0 = background) of the mesh drawn with both
    windings of every face: `depth_to_metric` of `render`'s depth for the faces followed by the
    faces with corners 0 and 1 swapped (the same buffer, bit for bit), without drawing or
    reading colours."""
    return _core.render_depth(*_scene(vertices, faces, rvec, tvec, focal, width, height))


def render_triangle_ids(
    vertices: npt.ArrayLike,
    faces: npt.ArrayLike,
    rvec: npt.ArrayLike,
    tvec: npt.ArrayLike,
    focal: float = FOCAL,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> np.ndarray:
    """Index of the visible face per pixel (HxW int32, -1 = background); same camera as render."""
    return _core.render_triangle_ids(*_scene(vertices, faces, rvec, tvec, focal, width, height))


def depth_to_metric(depth: npt.ArrayLike, near: float = NEAR, far: float = FAR) -> np.ndarray:
    """Camera z (HxW float32 mm, negative in front, 0 at background) of a raw depth buffer."""
    d = np.asarray(depth)
    if d.ndim != 2:
        raise ValueError(f"depth must be a 2-D (H, W) array, got shape {d.shape}")
    if not (0 < near < far) or not np.isfinite(far):
        raise ValueError(f"need 0 < near < far (mm), got near={near}, far={far}")
    return _core.depth_to_metric(np.ascontiguousarray(d, dtype=np.float32), near, far)
