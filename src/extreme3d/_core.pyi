"""Type stubs of the compiled extreme3d._core module (keep in step with src/cpp/bindings/*.cpp).

Every entry point checks its inputs and raises ValueError (dtype kind, shape, finiteness after the
float32 cast, index ranges, image sizes up to 16384 px, iterations up to 1000); arrays are copied
C-contiguous, so strided views are read as numpy sees them.
"""

from __future__ import annotations

from collections.abc import Sequence
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

def render_depth(
    vertices: npt.ArrayLike,
    faces: npt.ArrayLike,
    rvec: npt.ArrayLike,
    tvec: npt.ArrayLike,
    focal: float = 1000.0,
    width: int = 500,
    height: int = 500,
) -> np.ndarray:
    """Camera z (HxW float32 mm, 0 = background) of the mesh with both windings drawn."""

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
    sigmas: npt.ArrayLike = ...,
    prior_weight: float = 1.0,
    expr_sigma: float = 0.5,
    expr_min: float = -3.0,
    huber: float = 2.0,
    tukey: float = 0.0,
    iterations: int = 6,
    contour: bool = True,
) -> dict[str, object]: ...

# --- core (bindings/core.cpp) ---
# combine_bump returns "meshes", "projections", "visible", "occlusion", "scores", "bumped", "bad",
# "symmetry_R", "symmetry_t", "symmetry_points", counts, "timings_ms" and, with symmetry,
# "registration": {"tri": (S,3) int32, "w": (S,3) float32, "pixel": (S,2) int32}.
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
def boundary_half_edges(faces: npt.ArrayLike, num_vertices: int) -> np.ndarray: ...
def face_components(faces: npt.ArrayLike, num_vertices: int) -> np.ndarray: ...
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

def format_obj_rows(
    array: npt.ArrayLike, prefix: str, digits: int = 6, repeat: int = 1
) -> bytes:
    """OBJ rows of an (N,C) float64 ('{:.<digits>f}') or integer array, joined by newline+prefix."""

# --- texture (bindings/texture.cpp) ---
def bake_texture(
    vertices: npt.ArrayLike,
    faces: npt.ArrayLike,
    uv: npt.ArrayLike,
    image: npt.ArrayLike,
    zbuf: npt.ArrayLike,
    shown: npt.ArrayLike,
    rotation: npt.ArrayLike,
    tvec: npt.ArrayLike,
    size: int = 1024,
    focal: float = 1000.0,
    depth_tol: float = 2.5,
    min_cos: float = 0.17,
    symmetry: bool = True,
    mirror_dist: float = 3.0,
    seam_correction: bool = True,
    seam_sigma: float = 12.0,
    seam_max: float = 255.0,
    seam_factor: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """(texture SxSx3 uint8 RGB, texel sources SxS int8: 0 photo, 1 mirror, 2 fill, -1 none)."""

def rasterize_uv(
    uv: npt.ArrayLike, faces: npt.ArrayLike, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """(triangle per texel SxS int32, -1 = none; barycentrics SxSx3 float32)."""

def mirror_nearest(reference: npt.ArrayLike, queries: npt.ArrayLike, max_dist: float) -> np.ndarray:
    """Index (int64, -1 = none) of the reference point nearest to each query's (-x, y, z)."""

def mirror_nearest_sets(
    reference: npt.ArrayLike, query_sets: Sequence[npt.ArrayLike], max_dist: float
) -> list[np.ndarray]:
    """mirror_nearest of each query array against one index of the reference points."""

def harmonic_fill(
    faces: npt.ArrayLike, values: npt.ArrayLike, known: npt.ArrayLike, regularisation: float = 1e-6,
) -> np.ndarray:
    """Harmonic fill (V,C) float64 of the rows of values (V,C) where known (V,) is False over the
    faces' edge graph (regularised towards the known mean; one sparse Cholesky for all columns)."""

def fill_reach(faces: npt.ArrayLike, known: npt.ArrayLike) -> np.ndarray:
    """(V,) uint8 per vertex: 0 in no face, 1 its connected piece of the mesh holds a known vertex
    (harmonic_fill reaches it from known values), 2 it does not (filled with the known mean)."""

def push_pull_fill(image: npt.ArrayLike, known: npt.ArrayLike) -> np.ndarray:
    """Push-pull fill (HxWxC float32) of the pixels where known (HxW bool) is False."""

def photo_samples(
    points: npt.ArrayLike,
    normals: npt.ArrayLike,
    image: npt.ArrayLike,
    zbuf: npt.ArrayLike,
    shown: npt.ArrayLike,
    rotation: npt.ArrayLike,
    tvec: npt.ArrayLike,
    focal: float = 1000.0,
    depth_tol: float = 2.5,
    min_cos: float = 0.17,
) -> tuple[np.ndarray, np.ndarray]:
    """(visible (N,) bool, bilinear RGB samples (N,3) float32) of model points in the crop."""

def vertex_normals(vertices: npt.ArrayLike, faces: npt.ArrayLike) -> np.ndarray:
    """Area-weighted unit vertex normals (V,3) float64, zero for unused vertices."""

def vertex_footprint(uv: npt.ArrayLike, faces: npt.ArrayLike) -> np.ndarray:
    """Per-vertex mean length (V,) float64 of the projected edges at each vertex (uv: (V,2) px;
    an edge counts once per triangle holding it; 0 for unused vertices)."""

# --- clean final mesh (bindings/clean_mesh.cpp) ---
def delaunay_2d(points: npt.ArrayLike) -> np.ndarray:
    """(T,3) int32 counter-clockwise Delaunay triangles of 2D points (exact predicates on a 2^28
    lattice of their bounding box; points snapping onto an earlier one left out)."""

class ChartRaster:
    """A model's 2D chart (mm) with the raster of its faces, for point location."""

    def __init__(
        self,
        uv: npt.ArrayLike,
        faces: npt.ArrayLike,
        face_map: npt.ArrayLike,
        edge_cells: npt.ArrayLike,
        origin: npt.ArrayLike,
        cell_mm: float,
    ) -> None: ...
    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the raster."""
    def surface(
        self, vertices: npt.ArrayLike, points: npt.ArrayLike
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(points (N,3) float64, face (N,) int32 or -1, flat raster cell (N,) int32) of the surface
        with the model's topology at chart positions."""
    def inside(self, points: npt.ArrayLike) -> np.ndarray:
        """(N,) bool: chart points inside the model's faces (exact near the border)."""
    def triangles_inside(self, uv: npt.ArrayLike, triangles: npt.ArrayLike) -> np.ndarray:
        """(T,) bool: triangles whose chart centroid is inside the model's faces."""

def weighted_positions(points: npt.ArrayLike, tri: npt.ArrayLike, w: npt.ArrayLike) -> np.ndarray:
    """(S,D) float64 rows sum_k w[i,k] points[tri[i,k]]; corners with index -1 add nothing."""

def binary_dilation(mask: npt.ArrayLike, iterations: int = 1) -> np.ndarray:
    """2D bool mask dilated by the 4-neighbour cross `iterations` times."""

def binary_erosion(mask: npt.ArrayLike, iterations: int = 1) -> np.ndarray:
    """2D bool mask eroded by the 4-neighbour cross `iterations` times (beyond the raster = 0)."""

def distance_transform(mask: npt.ArrayLike) -> np.ndarray:
    """(H,W) float64 exact Euclidean distance (cells) of each True cell to the nearest False one."""

def region_distance(
    cells: npt.ArrayLike, within: npt.ArrayLike, closing: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(mask (H,W) bool, distance (H,W) float64 cells) of the region of the flat raster cells
    listed, closed over `closing` cells and kept within `within` (closing > 0), and its
    distance map."""

def orient_by_area(uv: npt.ArrayLike, triangles: npt.ArrayLike, sign: float = 1.0) -> np.ndarray:
    """(T',3) int32 triangles of non-zero signed chart area (times sign), negative ones turned
    over."""

def drop_bowties(faces: npt.ArrayLike, num_vertices: int) -> np.ndarray:
    """(F',3) int32 faces without bow-tie vertices (all but the largest fan of each
    removed)."""

# --- detector pyramid (bindings/detect.cpp) ---
def detector_pyramid_level(
    image: npt.ArrayLike, upsample: int, level: int, vector: bool = True
) -> np.ndarray:
    """(h,w,3) uint8 level `level` of dlib's HOG detector pyramid of an (H,W,3) uint8 image
    (dlib's 2x upsampling `upsample` times, then pyramid_down<6> `level` times), bit-exact with
    dlib; vector=False: portable code instead of AVX2 (same results)."""
