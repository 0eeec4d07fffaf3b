"""The numpy texture bake (before issue 16), kept as the reference of extreme3d.texture's C++
bake: same rule and steps (see extreme3d.texture), with the UV layout rasterised by the OpenGL
renderer, scipy KD-trees for the mirror lookups, OpenCV's Gaussian blur at full resolution and a
numpy push-pull fill. Tests and bench/e2e.py compare the two; the pipeline uses the C++ bake.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from extreme3d.camera import FOCAL
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
from extreme3d.texture import (
    DEFAULT_SIZE,
    MIRROR_DIST,
    SEAM_MAX,
    SEAM_SIGMA,
    SOURCE_NONE,
    TextureMap,
    cylindrical_uv,
    uv_to_pixels,
)


def rasterize_uv_reference(
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


def push_pull_fill_reference(image: np.ndarray, known: np.ndarray) -> np.ndarray:
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


def bake_texture_reference(
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
    ids, bary = rasterize_uv_reference(uvs, f, size)
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
    filled = push_pull_fill_reference(tex, known)
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
    field = push_pull_fill_reference(smooth.astype(np.float32), has)
    return np.clip(field[rows, cols], -SEAM_MAX, SEAM_MAX)
