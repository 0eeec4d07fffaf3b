"""Per-vertex colours from the photo (issue 6 item 4), usable on every mesh the pipeline writes.

Rule, per vertex of a mesh given in model coordinates with the fitted pose (rvec, tvec):

1. **visible** (source 0): the vertex projects inside the crop, the four pixels of its
   bilinear sample are covered by the mesh rendered at the fitted pose with a depth within
   ``DEPTH_TOL`` mm of the vertex's camera depth (no background or occluder's edge bleeding in)
   and, when an image mask is given (the bump CNN's mask: hands, glasses...), inside that mask,
   and the surface is not seen at a grazing angle (``|cos| >= MIN_COS`` between the vertex
   normal and the viewing ray), and not within ``EDGE_MARGIN`` px of the outer silhouette. Its
   colour is the bilinear sample of the crop at its projection (pixel centres at ``i + 0.5``,
   as the renderer); a coarse vertex (edges longer than ``FOOTPRINT_FREE_PX`` in the crop)
   samples the crop blurred to its footprint, over the pixels that may be sampled only
   (``footprint_samples``).
2. **mirrored** (source 1): otherwise, the colour of the visible vertex nearest to its mirror
   point ``(-x, y, z)`` in frontal model coordinates (``_core.mirror_nearest_sets``: one index
   per mesh for this lookup and the seam correction's), when one lies
   within ``mirror_dist`` mm (default: 1.5 x the median edge length, at least 3 mm), plus a smooth
   correction: the left/right colour difference measured where both sides are seen,
   interpolated over the mesh (shading differs between the two sides; without it the mirrored
   part shows a seam). This is the texture counterpart of the geometry's soft symmetry.
3. **filled** (source 2): the rest takes a smooth fill: the harmonic interpolation of the known
   colours over the mesh graph (sparse Cholesky solve of the graph Laplacian in C++, known
   vertices fixed).

Colours are RGB uint8 (the PLY convention); the crop is read as BGR (OpenCV). The per-vertex
work (normals, visibility, bilinear samples, mirror nearest neighbours) runs in C++
(src/cpp/texture, shared with the texture bake); `visibility`, `sample_bilinear` and
`mirror_lookup` are the numpy/scipy versions the numpy texture reference uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from extreme3d.camera import (
    FOCAL,
    HEIGHT,
    WIDTH,
    finite_vec3,
    project,
    rotation_matrix,
    to_camera,
)

#: Colour modes of the outputs: from the photo, from the model's texture, none.
COLOR_MODES = ("photo", "model", "none")
#: Depth agreement (mm) between a point and the rendered depth buffer for it to count as visible.
DEPTH_TOL = 2.5
#: Minimum |cos| between the surface normal and the viewing ray (about 80 degrees).
MIN_COS = 0.17
#: Pixels within this distance of the mesh's outer silhouette are not sampled: there the fitted
#: mesh often extends a little past the real face and would pick up background.
EDGE_MARGIN = 3
#: Margin (px) between the 512x512 bump maps and the 500x500 crop (PIPELINE.md section 5).
BUMP_MARGIN = 6
#: Largest seam correction (grey levels) added to a mirrored colour: no limit within the colour
#: range. (60 before: on a face lit from one side the mirrored half needs more, 65% of
#: Tyrion's photo/mirror border did, and the clipped half met the photo with a 19-61 level step.)
SEAM_MAX = 255.0
#: Per-vertex source labels.
SOURCE_PHOTO, SOURCE_MIRROR, SOURCE_FILL = 0, 1, 2


@dataclass(frozen=True)
class Visibility:
    """Projection of points into the crop: uv (N,2) px, camera z (N,) mm, visible (N,) bool."""

    uv: np.ndarray
    z: np.ndarray
    visible: np.ndarray


@dataclass(frozen=True)
class VertexColors:
    """Per-vertex colours (V,3) uint8 RGB and where each came from (V,) int8: 0 photo,
    1 mirrored from the symmetric side, 2 smooth fill."""

    colors: np.ndarray
    source: np.ndarray

    def counts(self) -> dict[str, int]:
        """Number of vertices per source: {"photo": n0, "mirror": n1, "fill": n2}."""
        return {k: int(np.sum(self.source == i)) for i, k in enumerate(("photo", "mirror", "fill"))}


def resolve_color_mode(mode: str | None, model: object | None = None) -> str:
    """'photo', 'model' or 'none'; None = 'model' when the model has a texture, else 'photo'."""
    if mode is None or mode == "auto":
        has_tex = model is not None and getattr(model, "tex_mu", None) is not None
        return "model" if has_tex else "photo"
    if mode not in COLOR_MODES:
        raise ValueError(f"colors must be one of {', '.join(COLOR_MODES)}, got {mode!r}")
    return mode


def crop_mask_from_bump(mask512: npt.ArrayLike | None, size: int = 500) -> np.ndarray | None:
    """The bump mask (512x512 uint8) as a crop-pixel bool mask (value > 127, 6 px margin)."""
    if mask512 is None:
        return None
    m = np.asarray(mask512)
    inner = m[BUMP_MARGIN : BUMP_MARGIN + size, BUMP_MARGIN : BUMP_MARGIN + size]
    return np.ascontiguousarray(inner > 127)


def face_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unnormalised triangle normals (F,3) float64 (cross product: twice the area)."""
    v = np.asarray(vertices, np.float64)
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    return np.cross(b - a, c - a)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (V,3) float64 (zero for unused vertices; C++)."""
    from extreme3d import _core

    f = np.ascontiguousarray(faces, np.int32).reshape(-1, 3)
    return _core.vertex_normals(np.ascontiguousarray(vertices, np.float32), f)


def sample_bilinear(image: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear samples (N,C) float32 of an image at continuous pixel positions uv (N,2); pixel
    (i, j) holds the value at (i + 0.5, j + 0.5); positions are clamped to the image."""
    import cv2

    img = np.asarray(image)
    if img.ndim == 2:
        img = img[:, :, None]
    pts = np.asarray(uv, np.float32).reshape(-1, 2) - 0.5
    n = len(pts)
    cols = 4096  # cv2.remap maps must stay below 32767 rows/columns
    rows = max(1, -(-n // cols))
    grid = np.zeros((rows * cols, 2), np.float32)
    grid[:n] = pts
    grid = grid.reshape(rows, cols, 2)
    out = cv2.remap(img.astype(np.float32), np.ascontiguousarray(grid[:, :, 0]),
                    np.ascontiguousarray(grid[:, :, 1]), interpolation=cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(rows * cols, -1)[:n]


def render_depth(
    vertices: np.ndarray, faces: np.ndarray, rvec: npt.ArrayLike, tvec: npt.ArrayLike,
    focal: float = FOCAL, width: int = WIDTH, height: int = HEIGHT,
) -> np.ndarray:
    """Camera z (HxW float32 mm, 0 = background) of the mesh rendered at the pose (both windings
    drawn, so that the result does not depend on the triangles' orientation; depth only:
    `render.render_two_sided_depth`)."""
    from extreme3d.render import render_two_sided_depth

    return render_two_sided_depth(vertices, faces, rvec, tvec, focal=focal, width=width,
                                  height=height)


def render_depth_reference(
    vertices: np.ndarray, faces: np.ndarray, rvec: npt.ArrayLike, tvec: npt.ArrayLike,
    focal: float = FOCAL, width: int = WIDTH, height: int = HEIGHT,
) -> np.ndarray:
    """`render_depth` by the full renderer (colours drawn and read, the doubled faces built in
    numpy): the tests' reference."""
    from extreme3d.render import depth_to_metric, render

    f = np.asarray(faces, np.int32).reshape(-1, 3)
    both = np.concatenate([f, f[:, [1, 0, 2]]]) if len(f) else f
    _, depth = render(vertices, both, rvec, tvec, focal=focal, width=width, height=height)
    return depth_to_metric(depth)


def visibility(
    points: npt.ArrayLike,
    normals: npt.ArrayLike,
    zbuf: np.ndarray,
    rvec: npt.ArrayLike,
    tvec: npt.ArrayLike,
    *,
    image_mask: np.ndarray | None = None,
    depth_tol: float = DEPTH_TOL,
    min_cos: float = MIN_COS,
    edge_margin: int = EDGE_MARGIN,
    focal: float = FOCAL,
) -> Visibility:
    """Which model-space points (with normals) are seen in the crop, by the rule of this module.

    zbuf: camera z (mm, 0 = background) of the mesh rendered at (rvec, tvec) (`render_depth`);
    edge_margin: pixels next to the outer silhouette (within that many px) do not count as seen.
    """
    h, w = zbuf.shape
    pc = to_camera(points, rvec, tvec)
    z = pc[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = -focal * pc[:, 0] / z + w / 2.0
        v = focal * pc[:, 1] / z + h / 2.0
    uv = np.stack([u, v], axis=1)
    ok = np.isfinite(u) & np.isfinite(v) & (z < 0)
    ok &= (u >= 1.0) & (u < w - 1.0) & (v >= 1.0) & (v < h - 1.0)
    idx = np.flatnonzero(ok)
    # the four pixels of the bilinear sample must show this surface: covered (no background at
    # silhouettes), at the point's depth (no occluder's edge) and, if given, inside the mask
    x0 = np.floor(u[idx] - 0.5).astype(np.int64)
    y0 = np.floor(v[idx] - 0.5).astype(np.int64)
    shown = sample_mask(zbuf, image_mask, edge_margin)
    # the four pixels are inside the image (1 <= u < w - 1): flat indices, no clipping; pixels
    # not shown get NaN, which fails the depth test
    depth = np.where(shown, zbuf, np.nan).ravel()
    base = y0 * w + x0
    zi = z[idx]
    good = np.ones(len(idx), bool)
    for off in (0, 1, w, w + 1):
        good &= np.abs(depth[base + off] - zi) <= depth_tol
    # not at a grazing angle
    n = np.asarray(normals, np.float64)[idx] @ rotation_matrix(rvec).T
    ray = pc[idx] / np.maximum(np.linalg.norm(pc[idx], axis=1, keepdims=True), 1e-12)
    good &= np.abs(np.sum(n * ray, axis=1)) >= min_cos
    vis = np.zeros(len(z), bool)
    vis[idx[good]] = True
    return Visibility(uv, z, vis)


def sample_mask(zbuf: np.ndarray, image_mask: np.ndarray | None = None,
                edge_margin: int = EDGE_MARGIN) -> np.ndarray:
    """Crop pixels (bool HxW) that may be sampled: covered by the rendered mesh (zbuf != 0), at
    least edge_margin px inside its outer silhouette and, if given, inside the image mask."""
    shown = np.asarray(zbuf) != 0
    if edge_margin > 0:
        shown &= silhouette_interior(shown, edge_margin)
    if image_mask is not None:
        shown = shown & np.asarray(image_mask, bool)
    return shown


def silhouette_interior(covered: np.ndarray, margin: int) -> np.ndarray:
    """Pixels (bool HxW) at least `margin` px inside the outer silhouette of a coverage mask
    (holes inside the mesh, e.g. an open mouth, do not create silhouettes): the background
    reached from the border through 4-neighbours is the outside, and the rest eroded by a
    diamond of radius `margin` with the outside of the image counted as background (the same
    pixels as scipy's binary_fill_holes then binary_erosion with `margin` iterations)."""
    import cv2

    cov = np.asarray(covered, bool)
    h, w = cov.shape
    padded = np.zeros((h + 2, w + 2), np.uint8)
    padded[1:-1, 1:-1] = cov
    mask = np.zeros((h + 4, w + 4), np.uint8)
    cv2.floodFill(padded, mask, (0, 0), 2, flags=4)
    solid = (padded[1:-1, 1:-1] != 2).astype(np.uint8)
    m = int(margin)
    if m <= 0:
        return solid.astype(bool)
    yy, xx = np.mgrid[-m : m + 1, -m : m + 1]
    diamond = (np.abs(yy) + np.abs(xx) <= m).astype(np.uint8)
    eroded = cv2.erode(solid, diamond, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return eroded.astype(bool)


def mirror_lookup(reference: Any, queries: np.ndarray, max_dist: float) -> np.ndarray:
    """For each query point, the index of the reference point nearest to its mirror image
    (-x, y, z) within max_dist mm, else -1 (scipy KD-tree; the reference of the C++
    `_core.mirror_nearest` / `mirror_nearest_sets` the colours use). reference: (N,3) points,
    or the `point_tree` of them when several lookups share one reference."""
    from scipy.spatial import cKDTree

    out = np.full(len(queries), -1, np.int64)
    tree = reference if isinstance(reference, cKDTree) else point_tree(reference)
    if tree.n == 0 or len(queries) == 0:
        return out
    mirrored = np.asarray(queries, np.float64) * np.array([-1.0, 1.0, 1.0])
    dist, nn = tree.query(mirrored, k=1, distance_upper_bound=max_dist)
    hit = np.isfinite(dist)
    out[hit] = nn[hit]
    return out


def point_tree(points: np.ndarray) -> Any:
    """A KD-tree (scipy cKDTree) of (N,3) points in float64, for `mirror_lookup`."""
    from scipy.spatial import cKDTree

    return cKDTree(np.asarray(points, np.float64).reshape(-1, 3))


def median_edge_length(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Median triangle edge length (mm); 1.0 for a mesh without faces."""
    if len(faces) == 0:
        return 1.0
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces)
    d = np.take(v, f[:, 1], axis=0) - np.take(v, f[:, 0], axis=0)
    d *= d
    s = d[:, 0] + d[:, 1]  # squared lengths, summed as np.linalg.norm does
    s += d[:, 2]
    if np.isnan(s).any():
        return float("nan")  # as np.median
    # the median of the lengths from the middle squared ones (sqrt is monotonic): the bits of
    # np.median(np.linalg.norm(...)), 3-5x faster
    k = len(s) // 2
    if len(s) % 2:
        return float(np.sqrt(np.partition(s, k)[k]))
    part = np.partition(s, [k - 1, k])
    return float((np.sqrt(part[k - 1]) + np.sqrt(part[k])) / 2)


def mesh_laplacian(faces: np.ndarray, n: int) -> Any:
    """Graph Laplacian (n x n scipy CSR, degree - adjacency) of a triangle mesh's edges."""
    import scipy.sparse as sp

    f = np.asarray(faces, np.int64).reshape(-1, 3)
    i = np.concatenate([f[:, 0], f[:, 1], f[:, 2], f[:, 1], f[:, 2], f[:, 0]])
    j = np.concatenate([f[:, 1], f[:, 2], f[:, 0], f[:, 0], f[:, 1], f[:, 2]])
    adj = sp.coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)).tocsr()
    adj.data[:] = 1.0  # duplicate edges count once
    return sp.diags(np.asarray(adj.sum(axis=1)).ravel()) - adj


def smooth_fill(
    faces: np.ndarray, values: np.ndarray, known: np.ndarray, regularisation: float = 1e-6,
) -> np.ndarray:
    """Harmonic fill (V,C) float64: unknown rows of `values` (V,C) solve the graph Laplacian with
    the known rows fixed; vertices out of reach of any known one tend to the known mean. C++
    (`_core.harmonic_fill`: one sparse Cholesky for all channels); `smooth_fill_reference` is the
    scipy version."""
    from extreme3d import _core

    kn = np.ascontiguousarray(known, bool).reshape(-1)
    vals = np.ascontiguousarray(values, np.float64).reshape(len(kn), -1)
    f = np.ascontiguousarray(faces, np.int32).reshape(-1, 3)
    return _core.harmonic_fill(f, vals, kn, float(regularisation))


def smooth_fill_reference(
    faces: np.ndarray, values: np.ndarray, known: np.ndarray, regularisation: float = 1e-6,
) -> np.ndarray:
    """`smooth_fill` with scipy (SuperLU, one solve per channel): the reference of the C++ fill in
    the tests."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import factorized

    vals = np.asarray(values, np.float64).reshape(len(known), -1)
    out = vals.copy()
    unknown = ~np.asarray(known, bool)
    if not unknown.any():
        return out
    mean = vals[~unknown].mean(axis=0) if (~unknown).any() else np.full(vals.shape[1], 127.5)
    n = len(known)
    if len(faces) == 0:
        out[unknown] = mean
        return out
    lap = mesh_laplacian(faces, n)
    u = np.flatnonzero(unknown)
    k = np.flatnonzero(~unknown)
    a = lap[u][:, u] + regularisation * sp.identity(len(u))
    rhs = -(lap[u][:, k] @ vals[k]) + regularisation * mean[None, :]
    solve = factorized(a.tocsc())
    for c in range(vals.shape[1]):
        out[u, c] = solve(np.ascontiguousarray(rhs[:, c]))
    return out


#: Boundary vertices of two pieces of a mesh that share no vertex (final_frontal's dense halves
#: and the sparse surface around them) closer than this (mm) are tied in the colour fills
#: (`piece_ties`), so that the fill and the seam correction carry across the pieces' seams.
TIE_REACH_MM = 3.0


def piece_ties(vertices: np.ndarray, faces: np.ndarray, reach: float = TIE_REACH_MM
               ) -> np.ndarray:
    """(K, 3) int32 degenerate faces (a, b, b) for the colour fills (`smooth_fill` reads them as
    the edge a-b): each boundary vertex of a piece (a connected set of faces) tied to the
    nearest boundary vertex of another piece within `reach` (mm, the vertices' coordinates).
    Empty (0, 3) for a mesh of one piece. Without them, a piece's harmonic fill ends at its
    own border: a mirrored half next to the sparse surround met its pale fill with a hard
    colour edge."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    none = np.zeros((0, 3), np.int32)
    f = np.asarray(faces, np.int32).reshape(-1, 3)
    n = len(vertices)
    if len(f) == 0:
        return none
    a, b = f.T.ravel(), f[:, [1, 2, 0]].T.ravel()
    # each edge once (low, high), the number of faces holding it as its value
    edges = sp.csr_matrix((np.ones(len(a), np.int32), (np.minimum(a, b), np.maximum(a, b))),
                          shape=(n, n))
    label = connected_components(edges, directed=False)[1]
    if len(np.unique(label[f.ravel()])) < 2:
        return none
    once = edges.data == 1  # edges of one face: the pieces' borders
    rows = np.repeat(np.arange(n, dtype=np.int32), np.diff(edges.indptr))
    border = np.unique(np.concatenate([rows[once], edges.indices[once]]))
    v = np.asarray(vertices, np.float64)[border]
    dist, near = point_tree(v).query(v, k=min(8, len(border)), distance_upper_bound=reach)
    dist = np.asarray(dist).reshape(len(border), -1)
    near = np.where(np.isfinite(dist), np.asarray(near).reshape(dist.shape), 0)
    other = np.isfinite(dist) & (label[border[near]] != label[border][:, None])
    has = other.any(axis=1)
    if not has.any():
        return none
    tied = border[near[has, np.argmax(other[has], axis=1)]]
    return np.stack([border[has], tied, tied], axis=1).astype(np.int32)


#: Nearest vertices a piece of the mesh without a seen (or mirrored) vertex is tied to for the
#: fill (`fill_lone_pieces`).
BRIDGE_NEIGHBOURS = 4
#: ... among the vertices within this distance (mm); a piece none of whose vertices has one
#: keeps the known mean.
BRIDGE_REACH_MM = 5.0


#: Vertex colours stand for the image patch around each vertex: a vertex whose edges span
#: d px in the crop (`vertex_footprint_px`) is sampled from the crop blurred by a Gaussian of
#: FOOTPRINT_SIGMA x sqrt(d^2 - FOOTPRINT_FREE_PX^2) px (none at FOOTPRINT_FREE_PX or less: the
#: dense meshes, ~1.3 px, keep their point samples). Without it a coarse vertex takes one
#: pixel of what lies under it (a dark hair of a beard), and Gouraud shading spreads that over
#: its large triangles: dark specks on final_frontal's sparse surround, a blotchy foundation.
#: 0.15 had the least error of the coloured mesh rendered at the fitted pose against the photo
#: (22 test photos, the four coloured meshes each: 0 / 0.1 / 0.15 / 0.2 / 0.3 / 0.45 gave medians
#: 8.11 / 7.78 / 7.70 / 7.73 / 8.03 / 8.73 grey levels on the 3448-vertex foundation, 4.94 /
#: 4.77 / 4.73 / 4.73 / 4.88 / 5.27 on final_frontal; the dense withBump 2.43 throughout, and
#: 2.66 with FOOTPRINT_FREE_PX 1).
FOOTPRINT_SIGMA = 0.15
FOOTPRINT_FREE_PX = 2.0
#: Blur levels (px) the crop is prepared at; a vertex's sigma is interpolated linearly between
#: the two levels around it (the point sample being level 0) and capped at the last one.
FOOTPRINT_LEVELS = (1.0, 2.0, 4.0)


def vertex_footprint_px(uv: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Per-vertex mean length (px) of its edges projected into the crop (each edge counted once
    per face that holds it; `_core.vertex_footprint`), uv (V, 2) the vertices' projections;
    faces with a non-finite corner do not count; 0 for vertices without an edge."""
    from extreme3d import _core

    p = np.asarray(uv, np.float64)
    f = np.ascontiguousarray(faces, np.int32).reshape(-1, 3)
    ok = np.isfinite(p).all(axis=1)
    if not ok.all():
        f, p = f[ok[f].all(axis=1)], np.where(ok[:, None], p, 0.0)
    return _core.vertex_footprint(p, f)


def footprint_samples(uv: np.ndarray, faces: np.ndarray, image_bgr: np.ndarray,
                      shown: np.ndarray, visible: np.ndarray, samples: np.ndarray,
                      factor: float = FOOTPRINT_SIGMA, free_px: float = FOOTPRINT_FREE_PX,
                      levels: tuple[float, ...] = FOOTPRINT_LEVELS) -> np.ndarray:
    """RGB samples (V, 3, grey levels 0..255, float) of the visible vertices at their
    footprint's blur (see FOOTPRINT_SIGMA): `samples` (the point samples, RGB) where the blur is
    0, else interpolated between blur levels of the crop (BGR, or grey). Each level is a
    normalised convolution over the pixels that may be sampled (`shown`, crop-size bool): no
    occluder or background pixel enters a colour (the depth is not tested: beside a silhouette,
    e.g. the nose's, a coarse vertex's blur also takes the nearer surface's pixels within ~3
    sigma). uv: (V, 2) projections (px); the blurs run in the box the blurred vertices need."""
    import cv2

    if np.ndim(image_bgr) == 2:
        image_bgr = np.repeat(np.asarray(image_bgr)[:, :, None], 3, axis=2)
    vis = np.asarray(visible, bool)
    sigma = factor * np.sqrt(np.maximum(vertex_footprint_px(uv, faces) ** 2 - free_px ** 2, 0.0))
    idx = np.flatnonzero(vis & (sigma > 0))
    if len(idx) == 0:
        return samples
    sig = np.minimum(sigma[idx], levels[-1])
    top = next(k for k, lv in enumerate(levels) if lv >= sig.max())  # the levels needed
    h, w = shown.shape
    pad = int(np.ceil(3 * levels[top])) + 2
    x0, y0 = (np.floor(uv[idx].min(axis=0)) - pad).astype(int).clip(0, [w, h])
    x1, y1 = (np.ceil(uv[idx].max(axis=0)) + pad + 1).astype(int).clip(0, [w, h])
    mask = np.asarray(shown, np.float32)[y0:y1, x0:x1]
    weighted = np.empty(mask.shape + (4,), np.float32)  # RGB times shown, and shown: one blur
    weighted[..., :3] = image_bgr[y0:y1, x0:x1, ::-1] * mask[:, :, None]
    weighted[..., 3] = mask
    at = uv[idx] - np.array([x0, y0])
    out = np.array(samples, copy=True)
    lo_sigma, lo = 0.0, np.asarray(samples[idx], np.float64)
    for level in levels[: top + 1]:
        sums = sample_bilinear(cv2.GaussianBlur(weighted, (0, 0), level), at).astype(np.float64)
        hi = sums[:, :3] / np.maximum(sums[:, 3:], 1e-6)
        here = (sig > lo_sigma) & (sig <= level)
        t = ((sig[here] - lo_sigma) / (level - lo_sigma))[:, None]
        out[idx[here]] = (1.0 - t) * lo[here] + t * hi[here]
        lo_sigma, lo = level, hi
    return out


def photo_vertex_colors(
    vertices: npt.ArrayLike,
    faces: npt.ArrayLike,
    image_bgr: np.ndarray,
    rvec: npt.ArrayLike,
    tvec: npt.ArrayLike,
    *,
    frontal: npt.ArrayLike | None = None,
    image_mask: np.ndarray | None = None,
    symmetry: bool = True,
    mirror_dist: float | None = None,
    depth_tol: float = DEPTH_TOL,
    min_cos: float = MIN_COS,
    edge_margin: int = EDGE_MARGIN,
    seam_correction: bool = True,
    focal: float = FOCAL,
    zbuf: np.ndarray | None = None,
    footprint: bool = True,
) -> VertexColors:
    """Per-vertex RGB colours of a mesh (model coordinates, fitted pose) from the BGR crop.

    frontal: the coordinates in which the face is left-right symmetric about x = 0 (default:
    `vertices`); image_mask: optional crop-size bool mask of pixels that show the face (e.g.
    `crop_mask_from_bump(mask512)`); symmetry False: no mirroring, only photo + smooth fill;
    seam_correction: mirrored colours get the smooth left/right difference measured where both
    sides are seen (harmonic over the mesh), so that they meet the photo's without a seam;
    zbuf: the mesh's `render_depth` at the pose and crop size when the caller has it;
    footprint: coarse vertices sampled at their footprint's blur (`footprint_samples`), False:
    point samples only.
    """
    from extreme3d import _core

    v = np.ascontiguousarray(vertices, np.float32)
    f = np.ascontiguousarray(faces, np.int32).reshape(-1, 3)
    img = np.asarray(image_bgr)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = np.ascontiguousarray(img, np.uint8)
    h, w = img.shape[:2]
    if zbuf is None:
        zbuf = render_depth(v, f, rvec, tvec, focal=focal, width=w, height=h)
    normals = vertex_normals(v, f)
    shown = sample_mask(zbuf, image_mask, edge_margin)
    visible, samples = _core.photo_samples(
        v.astype(np.float64), normals, img, np.ascontiguousarray(zbuf, np.float32),
        shown, rotation_matrix(rvec),
        finite_vec3(tvec, "tvec"), focal=float(focal), depth_tol=float(depth_tol),
        min_cos=float(min_cos))
    if footprint and visible.any():
        uv = project(v, rvec, tvec, focal, w, h)
        samples = footprint_samples(uv, f, img, shown, visible, samples)
    colors = np.zeros((len(v), 3))
    source = np.full(len(v), SOURCE_FILL, np.int8)
    if visible.any():
        colors[visible] = samples[visible]  # RGB
        source[visible] = SOURCE_PHOTO
    known = visible.copy()
    graph = np.concatenate([f, piece_ties(v, f)])  # the fills' edges: faces and pieces' ties
    if symmetry and visible.any():
        fr = v if frontal is None else np.asarray(frontal, np.float32)
        dist = mirror_dist if mirror_dist is not None else max(3.0, 1.5 * median_edge_length(fr, f))
        todo = np.flatnonzero(~visible)
        vidx = np.flatnonzero(visible)
        seen = np.ascontiguousarray(fr[vidx], np.float64)
        # one index of the seen vertices for both lookups: the hidden ones' mirrors, and (for
        # the seam correction) the seen ones' own mirror partners
        sets = [np.ascontiguousarray(fr[todo], np.float64)] + ([seen] if seam_correction else [])
        src, *partners = _core.mirror_nearest_sets(seen, sets, dist)
        hit = src >= 0
        colors[todo[hit]] = colors[vidx[src[hit]]]
        source[todo[hit]] = SOURCE_MIRROR
        known[todo[hit]] = True
        if seam_correction and hit.any():
            # smooth left/right difference where both sides are seen, carried onto the
            # mirrored vertices so that they meet the photo's colours without a seam
            back = partners[0]
            ok = back >= 0
            off = np.zeros((len(v), 3))
            off[vidx[ok]] = colors[vidx[ok]] - colors[vidx[back[ok]]]
            has = np.zeros(len(v), bool)
            has[vidx[ok]] = True
            if has.any():
                field = smooth_fill(graph, off, has)
                colors[todo[hit]] += np.clip(field[todo[hit]], -SEAM_MAX, SEAM_MAX)
    filled = fill_lone_pieces(v, graph, smooth_fill(graph, colors, known), known)
    out = np.clip(np.rint(filled), 0, 255).astype(np.uint8)
    return VertexColors(out, source)


def fill_lone_pieces(vertices: np.ndarray, faces: np.ndarray, filled: np.ndarray,
                     known: np.ndarray, k: int = BRIDGE_NEIGHBOURS) -> np.ndarray:
    """`filled` (V, C: a harmonic fill of the known rows over the faces) with every connected
    piece of the mesh that holds no known vertex filled again from its surroundings: its
    vertices tied (as edges) to their k nearest vertices within BRIDGE_REACH_MM (3D, mm) on the
    pieces with a known one, those fixed at their filled values, so that such a piece takes the
    colours around it instead of the known mean (a piece of detail alone over a hidden region:
    the eyes behind sunglasses in final_frontal's layout). `filled` itself when every piece
    holds a known vertex (`_core.fill_reach`) or none is within reach; the other rows are never
    changed."""
    from extreme3d import _core

    f = np.ascontiguousarray(faces, np.int32).reshape(-1, 3)
    kn = np.ascontiguousarray(known, bool).reshape(-1)
    if len(f) == 0 or not kn.any():
        return filled
    state = _core.fill_reach(f, kn)
    lone = state == 2
    if not lone.any():
        return filled
    v = np.asarray(vertices, np.float64)
    lo, hi = v[lone].min(axis=0) - BRIDGE_REACH_MM, v[lone].max(axis=0) + BRIDGE_REACH_MM
    around = state == 1  # the reached vertices in the lone pieces' box, grown by the reach
    for c in range(3):
        around &= (v[:, c] >= lo[c]) & (v[:, c] <= hi[c])
    pool = np.flatnonzero(around)
    if len(pool) == 0:
        return filled
    dist, nn = point_tree(v[pool]).query(v[lone], k=min(k, len(pool)),
                                         distance_upper_bound=BRIDGE_REACH_MM)
    near = np.isfinite(np.asarray(dist).reshape(int(lone.sum()), -1))
    if not near.any():
        return filled  # nothing within reach: the mean, as the fill gave it
    nn = np.asarray(nn).reshape(near.shape)
    src = np.repeat(np.flatnonzero(lone), near.shape[1]).reshape(near.shape)[near]
    dst = pool[nn[near]]
    pieces = f[lone[f].any(axis=1)]  # the lone pieces' own faces, and their ties
    edges = np.concatenate([pieces, np.stack([src, dst, dst], axis=1).astype(np.int32)])
    part = np.zeros(len(kn), bool)  # solved on the vertices these touch only
    part[edges.ravel()] = True
    ids = np.flatnonzero(part)
    local = np.full(len(kn), -1, np.int32)
    local[ids] = np.arange(len(ids), dtype=np.int32)
    out = np.array(filled, np.float64, copy=True)
    out[ids] = smooth_fill(local[edges], out[ids], ~lone[ids])
    return out


def model_vertex_colors(model: object, beta: npt.ArrayLike | None = None) -> np.ndarray | None:
    """Per-vertex RGB colours of the model's texture (uint8), or None when it has none."""
    tex = model.texture(beta) if hasattr(model, "texture") else None  # type: ignore[attr-defined]
    if tex is None:
        return None
    return np.clip(np.asarray(tex), 0, 255).astype(np.uint8)
