"""Texture maps from the photo for the textured OBJ outputs (issue 8 item 2).

* UV atlas: a cylindrical projection of the frontal mesh (model coordinates: x right, y up,
  z towards the viewer) about a vertical axis behind the face, u = R * atan2(x, z - z0) (arc
  length), v = y, scaled uniformly into [margin, 1 - margin]^2; OBJ convention (v = 0 at the
  bottom row of the image). UVs are per vertex and depend only on the position, so the
  duplicated layers of the final mesh (sparse, dense, mirrored dense) get the same texels.
* Baking: every texel centre inside a UV triangle is mapped to its surface point (barycentric
  coordinates of that triangle) and coloured by the rule of ``extreme3d.colors``: the photo
  where the point is visible at the fitted pose, else the visible texel nearest to its mirror
  point (-x, y, z) (soft symmetry), else a smooth fill (push-pull over the texture pyramid),
  which also pads the texels outside the atlas so that bilinear lookups at seams stay clean.
* The bake runs in C++ (``_core.bake_texture``, src/cpp/texture): UV rasterisation with the
  renderer's coverage and draw order, visibility from the posed depth buffer, an exact mirror
  nearest-neighbour search (slabs of y sorted by x), the seam field blurred on a 4x coarser grid
  and the push-pull fill. ``extreme3d.texture_reference`` keeps the numpy original; tests and
  bench/e2e.py compare the two (>= 99% of texels within 1 grey level).
* ``render_textured`` renders a textured mesh with the pipeline's camera (ray / triangle
  intersection per pixel, bilinear texture lookup), used by the tests and the previews.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from extreme3d.camera import FOCAL, finite_vec3, rotation_matrix, to_camera
from extreme3d.colors import (
    DEPTH_TOL,
    EDGE_MARGIN,
    MIN_COS,
    SEAM_MAX,
    SOURCE_FILL,
    SOURCE_MIRROR,
    SOURCE_PHOTO,
    render_depth,
    sample_bilinear,
    sample_mask,
)

#: Default texture side (px).
DEFAULT_SIZE = 1024
#: Default distance (mm) within which a visible texel stands in for an occluded one's mirror.
MIRROR_DIST = 3.0
#: Smoothing (texels of a 1024 texture) of the seam correction; its limit is the vertex
#: colours' (colors.SEAM_MAX).
SEAM_SIGMA = 12.0
#: The seam correction field is blurred on a grid this many times coarser than the texture (it
#: is smooth: Gaussian sigma SEAM_SIGMA texels), then resampled to the texture's grid and filled
#: there.
SEAM_FACTOR = 4
#: Texel source label for texels outside every UV triangle.
SOURCE_NONE = -1


@dataclass(frozen=True)
class TextureMap:
    """A baked texture: per-vertex uv (V,2) float32 in [0,1] (v up), image (S,S,3) uint8 RGB,
    source (S,S) int8 per texel: 0 photo, 1 mirrored, 2 filled, -1 outside the atlas."""

    uv: np.ndarray
    image: np.ndarray
    source: np.ndarray

    def counts(self) -> dict[str, int]:
        """Texels inside the atlas per source."""
        names = ("photo", "mirror", "fill")
        return {k: int(np.sum(self.source == i)) for i, k in enumerate(names)}


def cylindrical_uv(frontal: npt.ArrayLike, margin: float = 0.02) -> np.ndarray:
    """Per-vertex UVs (V,2) float32 in [margin, 1 - margin] of a frontal face mesh (see module)."""
    v = np.asarray(frontal, np.float64)
    if v.ndim != 2 or v.shape[1] != 3 or len(v) == 0:
        raise ValueError(f"frontal vertices must be (V, 3), got {v.shape}")
    lo, hi = v.min(axis=0), v.max(axis=0)
    radius = max(0.5 * float(hi[0] - lo[0]), 1e-6)
    x0 = 0.5 * float(hi[0] + lo[0])
    z0 = float(hi[2]) - radius
    theta = np.arctan2(v[:, 0] - x0, v[:, 2] - z0)
    u = radius * theta
    w = v[:, 1]
    span = max(float(u.max() - u.min()), float(w.max() - w.min()), 1e-6)
    scale = (1.0 - 2.0 * margin) / span
    uu = (u - 0.5 * (u.max() + u.min())) * scale + 0.5
    vv = (w - 0.5 * (w.max() + w.min())) * scale + 0.5
    return np.stack([uu, vv], axis=1).astype(np.float32)


def uv_to_pixels(uv: npt.ArrayLike, size: int) -> np.ndarray:
    """Texture pixel positions (N,2: column, row; texel (c, r) centre at (c+0.5, r+0.5)) of uvs."""
    a = np.asarray(uv, np.float64)
    return np.stack([a[:, 0] * size, (1.0 - a[:, 1]) * size], axis=1)


def rasterize_uv(
    uv: npt.ArrayLike, faces: npt.ArrayLike, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Triangle of every texel centre (S,S) int32 (-1: none) and its barycentrics (S,S,3) float32
    (C++ rasteriser; where the layout folds, the triangle the OpenGL renderer would keep)."""
    from extreme3d import _core

    uvs = np.ascontiguousarray(uv, np.float32)
    return _core.rasterize_uv(uvs, np.ascontiguousarray(faces, np.int32).reshape(-1, 3), size)


def push_pull_fill(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Smooth fill of the unknown pixels of an (H,W,C) float image from the known ones: a mean
    pyramid of the known pixels (push), then each level fills its holes from the bilinear
    upsampling of the coarser one (pull). Known pixels keep their values (C++)."""
    from extreme3d import _core

    img = np.asarray(image, np.float32)
    flat = img.ndim == 2
    out = _core.push_pull_fill(img[:, :, None] if flat else img, np.asarray(known, bool))
    return out[:, :, 0] if flat else out


def bake_texture(
    frontal: npt.ArrayLike,
    faces: npt.ArrayLike,
    image_bgr: np.ndarray,
    rvec: npt.ArrayLike,
    tvec: npt.ArrayLike,
    *,
    uv: npt.ArrayLike | None = None,
    size: int = DEFAULT_SIZE,
    image_mask: np.ndarray | None = None,
    symmetry: bool = True,
    mirror_dist: float = MIRROR_DIST,
    depth_tol: float = DEPTH_TOL,
    min_cos: float = MIN_COS,
    edge_margin: int = EDGE_MARGIN,
    seam_correction: bool = True,
    focal: float = FOCAL,
    zbuf: np.ndarray | None = None,
) -> TextureMap:
    """Texture of a mesh (frontal model coordinates, fitted pose) from the BGR crop (see module;
    baked in C++, `extreme3d.texture_reference` is the numpy original it is tested against).

    uv: per-vertex UVs (default `cylindrical_uv(frontal)`); image_mask: crop-size bool mask of
    pixels that show the face (e.g. the bump mask); symmetry False: no mirrored texels;
    seam_correction: mirrored texels get the smooth left/right colour difference measured where
    both sides are seen (shading), so that they meet the photo's texels without a seam; zbuf:
    the mesh's `render_depth` at the pose and crop size when the caller has it (the colours).
    """
    from extreme3d import _core

    v = np.ascontiguousarray(frontal, np.float32)
    f = np.ascontiguousarray(faces, np.int32).reshape(-1, 3)
    img = np.asarray(image_bgr)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = np.ascontiguousarray(img, np.uint8)
    uvs = cylindrical_uv(v) if uv is None else np.ascontiguousarray(uv, np.float32)
    h, w = img.shape[:2]
    if zbuf is None:
        zbuf = render_depth(v, f, rvec, tvec, focal=focal, width=w, height=h)
    shown = sample_mask(zbuf, image_mask, edge_margin)
    image, source = _core.bake_texture(
        v, f, uvs, img, np.ascontiguousarray(zbuf, np.float32), shown, rotation_matrix(rvec),
        finite_vec3(tvec, "tvec"), size=int(size), focal=float(focal), depth_tol=float(depth_tol),
        min_cos=float(min_cos), symmetry=bool(symmetry), mirror_dist=float(mirror_dist),
        seam_correction=bool(seam_correction), seam_sigma=SEAM_SIGMA, seam_max=SEAM_MAX,
        seam_factor=SEAM_FACTOR,
    )
    return TextureMap(uvs, image, source)


def render_textured(
    vertices: npt.ArrayLike,
    faces: npt.ArrayLike,
    uv: npt.ArrayLike,
    texture_rgb: np.ndarray,
    rvec: npt.ArrayLike,
    tvec: npt.ArrayLike,
    *,
    focal: float = FOCAL,
    width: int = 500,
    height: int = 500,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Textured rendering (rgb HxWx3 uint8, covered HxW bool, texel position HxWx2 float32 in
    texture pixels) of a mesh at a pose, with the pipeline's camera and bilinear texture lookup."""
    from extreme3d.render import render_triangle_ids

    v = np.asarray(vertices, np.float32)
    f = np.asarray(faces, np.int32).reshape(-1, 3)
    tex = np.asarray(texture_rgb)
    size_h, size_w = tex.shape[:2]
    both = np.concatenate([f, f[:, [1, 0, 2]]])
    ids = render_triangle_ids(v, both, rvec, tvec, focal, width, height)
    covered = ids >= 0
    rows, cols = np.nonzero(covered)
    tri = f[ids[rows, cols] % len(f)]
    cam = to_camera(v, rvec, tvec)
    a, b, c = cam[tri[:, 0]], cam[tri[:, 1]], cam[tri[:, 2]]
    d = np.stack([(cols + 0.5 - width / 2.0) / focal, -(rows + 0.5 - height / 2.0) / focal,
                  -np.ones(len(rows))], axis=1)
    e1, e2 = b - a, c - a
    pvec = np.cross(d, e2)
    det = np.sum(e1 * pvec, axis=1)
    det = np.where(np.abs(det) < 1e-15, 1e-15, det)
    tvec_ = -a  # ray origin is the camera centre (0, 0, 0)
    b1 = np.sum(tvec_ * pvec, axis=1) / det
    qvec = np.cross(tvec_, e1)
    b2 = np.sum(d * qvec, axis=1) / det
    bary = np.clip(np.stack([1.0 - b1 - b2, b1, b2], axis=1), 0.0, 1.0)
    bary /= np.maximum(bary.sum(axis=1, keepdims=True), 1e-12)
    uvs = np.asarray(uv, np.float64)
    p_uv = (bary[:, :, None] * uvs[tri]).sum(axis=1)
    texpos = np.stack([p_uv[:, 0] * size_w, (1.0 - p_uv[:, 1]) * size_h], axis=1)
    rgb = np.zeros((height, width, 3), np.uint8)
    samples = sample_bilinear(tex, texpos)
    rgb[rows, cols] = np.clip(np.rint(samples), 0, 255).astype(np.uint8)
    pos = np.zeros((height, width, 2), np.float32)
    pos[rows, cols] = texpos
    return rgb, covered, pos


__all__ = [
    "DEFAULT_SIZE",
    "SOURCE_FILL",
    "SOURCE_MIRROR",
    "SOURCE_NONE",
    "SOURCE_PHOTO",
    "TextureMap",
    "bake_texture",
    "cylindrical_uv",
    "push_pull_fill",
    "rasterize_uv",
    "render_textured",
]
