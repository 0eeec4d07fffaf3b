"""Type stubs of the compiled extreme3d._core module (keep in step with src/cpp/bindings/*.cpp).

Every entry point checks its inputs and raises ValueError (dtype kind, shape, finiteness after the
float32 cast, index ranges, image sizes up to 16384 px, iterations up to 1000); arrays are copied
C-contiguous, so strided views are read as numpy sees them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

# --- model (bindings/model.cpp) ---
class FaceModel:
    """Shape + expression morphable model (mm, 0-based indices)."""

    def __init__(
        self,
        shape_mu: npt.ArrayLike,
        shape_pc: npt.ArrayLike,
        shape_ev: npt.ArrayLike,
        exp_mu: npt.ArrayLike,
        exp_pc: npt.ArrayLike,
        exp_ev: npt.ArrayLike,
        faces: npt.ArrayLike,
        faces_fill: npt.ArrayLike,
        pair: npt.ArrayLike,
        inner_landmarks: npt.ArrayLike,
        outer_landmarks: npt.ArrayLike,
    ) -> None: ...
    @property
    def num_vertices(self) -> int: ...
    @property
    def num_shape(self) -> int: ...
    @property
    def num_expr(self) -> int: ...
    @property
    def faces(self) -> np.ndarray: ...
    @property
    def faces_fill(self) -> np.ndarray: ...
    @property
    def pair(self) -> np.ndarray: ...
    @property
    def inner_landmarks(self) -> np.ndarray: ...
    @property
    def outer_landmarks(self) -> np.ndarray: ...
    def vertices(self, alpha: npt.ArrayLike, expr: npt.ArrayLike) -> np.ndarray: ...

# --- render (bindings/render.cpp) ---
def render(
    vertices: npt.ArrayLike,
    faces: npt.ArrayLike,
    rvec: npt.ArrayLike,
    tvec: npt.ArrayLike,
    colors: npt.ArrayLike | None = None,
    focal: float = 1000.0,
    width: int = 500,
    height: int = 500,
    shading: str = "flat",
) -> tuple[np.ndarray, np.ndarray]:
    """(rgb HxWx3 uint8, raw GL depth HxW float32, 1 = background); row 0 = top image row."""

def render_triangle_ids(
    vertices: npt.ArrayLike,
    faces: npt.ArrayLike,
    rvec: npt.ArrayLike,
    tvec: npt.ArrayLike,
    focal: float = 1000.0,
    width: int = 500,
    height: int = 500,
) -> np.ndarray:
    """Visible triangle index per pixel, HxW int32, -1 = background."""

def depth_to_metric(depth: npt.ArrayLike, near: float = 50.0, far: float = 10000.0) -> np.ndarray:
    """Camera z (mm, negative, 0 at background) of a raw depth buffer."""

# --- fit (bindings/fit.cpp) ---
def epnp(
    points3d: npt.ArrayLike,
    points2d: npt.ArrayLike,
    focal: float = 1000.0,
    width: int = 500,
    height: int = 500,
) -> dict[str, object]: ...
def fit_pose_expression(
    model: FaceModel,
    landmarks: npt.ArrayLike,
    alpha: npt.ArrayLike,
    focal: float = 1000.0,
    width: int = 500,
    height: int = 500,
    mode: str = "faithful",
) -> dict[str, object]: ...
def fit_identity(
    model: FaceModel,
    landmarks: npt.ArrayLike,
    focal: float = 1000.0,
    width: int = 500,
    height: int = 500,
    lambda_identity: float = 4.0,
    lambda_expr: float = 4.0,
    iterations: int = 8,
) -> dict[str, object]: ...

# --- core (bindings/core.cpp) ---
def combine_bump(
    model: FaceModel,
    alpha: npt.ArrayLike,
    expr: npt.ArrayLike,
    rvec: npt.ArrayLike,
    tvec: npt.ArrayLike,
    bump: npt.ArrayLike,
    mask: npt.ArrayLike,
    focal: float = 1000.0,
    width: int = 500,
    height: int = 500,
    symmetry: bool = True,
    margin: int = 6,
    max_gap: float = 4.0,
) -> dict[str, Any]: ...
def dense_mesh(
    depth: npt.ArrayLike,
    mask: npt.ArrayLike,
    bump: npt.ArrayLike | None = None,
    focal: float = 1000.0,
    margin: int = 6,
) -> dict[str, Any]: ...
def grid_faces(vindex: npt.ArrayLike) -> np.ndarray: ...
def bump_to_mm(value: int) -> float: ...
def occlusion_map(
    ref_depth: npt.ArrayLike,
    posed_depth: npt.ArrayLike,
    rvec: npt.ArrayLike,
    tvec: npt.ArrayLike,
    focal: float = 1000.0,
) -> np.ndarray: ...
def occlusion_reference_pose(
    rvec: npt.ArrayLike, tvec: npt.ArrayLike
) -> tuple[np.ndarray, np.ndarray]: ...
def occlusion_scores(
    vertices: npt.ArrayLike,
    visible: npt.ArrayLike,
    occ_map: npt.ArrayLike,
    rvec: npt.ArrayLike,
    tvec: npt.ArrayLike,
    focal: float = 1000.0,
) -> np.ndarray: ...
def blur_counts(counts: npt.ArrayLike, ksize: int = 5) -> np.ndarray: ...
def delaunay_triangles(points: npt.ArrayLike) -> np.ndarray: ...
def estimate_rigid_transform(
    p1: npt.ArrayLike, p2: npt.ArrayLike
) -> tuple[np.ndarray, np.ndarray]: ...
def point_in_triangle(
    p: npt.ArrayLike, a: npt.ArrayLike, b: npt.ArrayLike, c: npt.ArrayLike
) -> bool: ...

# --- io (bindings/io.cpp) ---
def format_ply_body(
    vertices: npt.ArrayLike,
    colors: npt.ArrayLike | None = None,
    faces: npt.ArrayLike | None = None,
    style: str = "cpp",
) -> bytes: ...
