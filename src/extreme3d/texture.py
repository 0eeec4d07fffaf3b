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
* ``render_textured`` renders a textured mesh with the pipeline's camera (ray / triangle
  intersection per pixel, bilinear texture lookup), used by the tests and the previews.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from extreme3d.camera import FOCAL, to_camera
from extreme3d.colors import (
    DEPTH_TOL,
    EDGE_MARGIN,
    MIN_COS,
    SOURCE_FILL,
    SOURCE_MIRROR,
    SOURCE_PHOTO,
    face_normals,
    mirror_lookup,
    point_tree,
    render_depth,
    sample_bilinear,
    visibility,
)

#: Default texture side (px).
DEFAULT_SIZE = 1024
#: Default distance (mm) within which a visible texel stands in for an occluded one's mirror.
MIRROR_DIST = 3.0
#: Smoothing (texels of a 1024 texture) and limit (grey levels) of the seam correction.
SEAM_SIGMA = 12.0
SEAM_MAX = 60.0
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
    """Triangle of every texel centre (S,S) int32 (-1: none) and its barycentrics (S,S,3) float32,
    drawn with the OpenGL renderer (a flat camera-facing copy of the UV layout, both windings)."""
    from extreme3d.render import render_triangle_ids

    f = np.asarray(faces, np.int32).reshape(-1, 3)
    px = uv_to_pixels(uv, size)
    depth = 1000.0
    flat = np.stack([(px[:, 0] - size / 2.0) * depth / FOCAL,
                     -(px[:, 1] - size / 2.0) * depth / FOCAL,
                     np.full(len(px), -depth)], axis=1)
    both = np.concatenate([f, f[:, [1, 0, 2]]])
    ids = render_triangle_ids(flat, both, np.full(3, 1e-12), np.zeros(3), FOCAL, size, size)
    ids = np.where(ids >= 0, ids % max(len(f), 1), -1).astype(np.int32)
    bary = np.zeros((size, size, 3), np.float32)
    rows, cols = np.nonzero(ids >= 0)
    if rows.size:
        tri = f[ids[rows, cols]]
        p = np.stack([cols + 0.5, rows + 0.5], axis=1)
        bary[rows, cols] = _barycentric_2d(px[tri[:, 0]], px[tri[:, 1]], px[tri[:, 2]], p)
    return ids, bary


def _barycentric_2d(a: np.ndarray, b: np.ndarray, c: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Barycentric coordinates (N,3) of 2D points p in triangles (a, b, c), clipped to >= 0 and
    renormalised (texel centres on an edge may fall a hair outside)."""
    (x0, y0), (x1, y1), (x2, y2) = (b - a).T, (c - a).T, (p - a).T

    def dot(xa: np.ndarray, ya: np.ndarray, xb: np.ndarray, yb: np.ndarray) -> np.ndarray:
        """Row-wise 2D dot products, added as np.sum(axis=1) adds them."""
        return xa * xb + ya * yb

    d00 = dot(x0, y0, x0, y0)
    d01 = dot(x0, y0, x1, y1)
    d11 = dot(x1, y1, x1, y1)
    d20 = dot(x2, y2, x0, y0)
    d21 = dot(x2, y2, x1, y1)
    den = d00 * d11 - d01 * d01
    den = np.where(np.abs(den) < 1e-18, 1e-18, den)
    w1 = (d11 * d20 - d01 * d21) / den
    w2 = (d00 * d21 - d01 * d20) / den
    out = np.clip(np.stack([1.0 - w1 - w2, w1, w2], axis=1), 0.0, None)
    return out / np.maximum(out.sum(axis=1, keepdims=True), 1e-12)


def push_pull_fill(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Smooth fill of the unknown pixels of an (H,W,C) float image from the known ones: a mean
    pyramid of the known pixels (push), then each level fills its holes from the bilinear
    upsampling of the coarser one (pull). Known pixels keep their values."""
    import cv2

    img = np.asarray(image, np.float32)
    w = np.asarray(known, np.float32)
    if not w.any():
        return np.full_like(img, 127.0)
    levels = [(img * w[:, :, None], w)]
    while max(levels[-1][1].shape) > 1:
        s, ww = levels[-1]
        h, wd = ww.shape
        nh, nw = (h + 1) // 2, (wd + 1) // 2
        if (h, wd) == (nh * 2, nw * 2):  # even: no padding row/column to add
            s_p, w_p = s, ww
        else:
            s_p = np.zeros((nh * 2, nw * 2, s.shape[2]), np.float32)
            w_p = np.zeros((nh * 2, nw * 2), np.float32)
            s_p[:h, :wd], w_p[:h, :wd] = s, ww
        s2 = _sum_2x2(s_p.reshape(nh, 2, nw, 2, -1))
        w2 = _sum_2x2(w_p.reshape(nh, 2, nw, 2))
        levels.append((s2, w2))
    s, ww = levels[-1]
    cur = s / np.maximum(ww, 1e-12)[:, :, None]
    for s, ww in reversed(levels[:-1]):
        h, wd = ww.shape
        up = cv2.resize(cur, (wd, h), interpolation=cv2.INTER_LINEAR).reshape(h, wd, -1)
        a = np.clip(ww, 0.0, 1.0)[:, :, None]
        cur = s / np.maximum(ww, 1e-12)[:, :, None]  # the level's mean, then in place:
        cur *= a  # a * mean + (1 - a) * up
        up *= 1.0 - a
        cur += up
    out = cur.reshape(img.shape)
    np.copyto(out, img, where=np.asarray(known, bool)[:, :, None])
    return out


def _sum_2x2(blocks: np.ndarray) -> np.ndarray:
    """Sums of 2x2 blocks, `blocks` shaped (H/2, 2, W/2, 2, ...): the four added in the order
    numpy's sum over axes (1, 3) takes (the same float32 results, 2-5x faster)."""
    return ((blocks[:, 0, :, 0] + blocks[:, 0, :, 1]) + blocks[:, 1, :, 0]) + blocks[:, 1, :, 1]


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
    """Texture of a mesh (frontal model coordinates, fitted pose) from the BGR crop (see module).

    uv: per-vertex UVs (default `cylindrical_uv(frontal)`); image_mask: crop-size bool mask of
    pixels that show the face (e.g. the bump mask); symmetry False: no mirrored texels;
    seam_correction: mirrored texels get the smooth left/right colour difference measured where
    both sides are seen (shading), so that they meet the photo's texels without a seam; zbuf:
    the mesh's `render_depth` at the pose and crop size when the caller has it (the colours).
    """
    v = np.asarray(frontal, np.float32)
    f = np.asarray(faces, np.int32).reshape(-1, 3)
    img = np.asarray(image_bgr)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    uvs = cylindrical_uv(v) if uv is None else np.asarray(uv, np.float32)
    ids, bary = rasterize_uv(uvs, f, size)
    rows, cols = np.nonzero(ids >= 0)
    tri = f[ids[rows, cols]]
    b = bary[rows, cols].astype(np.float64)
    vd = v.astype(np.float64)  # surface points, the corners added in the order of a sum
    pts = (b[:, 0:1] * vd[tri[:, 0]] + b[:, 1:2] * vd[tri[:, 1]]) + b[:, 2:3] * vd[tri[:, 2]]
    normals = face_normals(v, f)[ids[rows, cols]]
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    h, w = img.shape[:2]
    if zbuf is None:
        zbuf = render_depth(v, f, rvec, tvec, focal=focal, width=w, height=h)
    seen_at = visibility(pts, normals, zbuf, rvec, tvec, image_mask=image_mask,
                         depth_tol=depth_tol, min_cos=min_cos, edge_margin=edge_margin,
                         focal=focal)
    vis = seen_at.visible
    colors = np.zeros((len(pts), 3), np.float32)
    src = np.full(len(pts), SOURCE_FILL, np.int8)
    if vis.any():
        colors[vis] = sample_bilinear(img, seen_at.uv[vis])[:, ::-1]  # projections: BGR -> RGB
        src[vis] = SOURCE_PHOTO
    if symmetry and vis.any() and (~vis).any():
        vidx, todo = np.flatnonzero(vis), np.flatnonzero(~vis)
        seen = point_tree(pts[vidx])
        hit_of = mirror_lookup(seen, pts[todo], mirror_dist)
        hit = hit_of >= 0
        colors[todo[hit]] = colors[vidx[hit_of[hit]]]
        src[todo[hit]] = SOURCE_MIRROR
        if seam_correction and hit.any():
            colors[todo[hit]] += _mirror_offsets(pts, vidx, seen, colors, rows, cols, size,
                                                 mirror_dist)[todo[hit]]
    tex = np.zeros((size, size, 3), np.float32)
    known = np.zeros((size, size), bool)
    source = np.full((size, size), SOURCE_NONE, np.int8)
    tex[rows, cols] = colors
    source[rows, cols] = src
    known[rows, cols] = src != SOURCE_FILL
    filled = push_pull_fill(tex, known)
    image = np.clip(np.rint(filled), 0, 255).astype(np.uint8)
    return TextureMap(uvs, image, source)


def _mirror_offsets(pts: np.ndarray, vidx: np.ndarray, seen: object, colors: np.ndarray,
                    rows: np.ndarray, cols: np.ndarray, size: int, mirror_dist: float
                    ) -> np.ndarray:
    """Per texel (N,3): a smooth field of photo(t) - photo(mirror(t)) measured on visible texels
    whose mirror is visible (Gaussian-smoothed, push-pull filled elsewhere, clipped); seen: the
    `point_tree` of the visible texels pts[vidx]."""
    import cv2

    back = mirror_lookup(seen, pts[vidx], mirror_dist)
    ok = back >= 0
    off = np.zeros((size, size, 3), np.float32)
    known = np.zeros((size, size), np.float32)
    t = vidx[ok]
    off[rows[t], cols[t]] = colors[t] - colors[vidx[back[ok]]]
    known[rows[t], cols[t]] = 1.0
    if not known.any():
        return np.zeros((len(pts), 3), np.float32)
    sigma = SEAM_SIGMA * size / 1024.0
    num = cv2.GaussianBlur(off * known[:, :, None], (0, 0), sigma)
    den = cv2.GaussianBlur(known, (0, 0), sigma)
    has = den > 0.05
    smooth = np.where(has[:, :, None], num / np.maximum(den, 1e-6)[:, :, None], 0.0)
    field = push_pull_fill(smooth.astype(np.float32), has)
    return np.clip(field[rows, cols], -SEAM_MAX, SEAM_MAX)


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
