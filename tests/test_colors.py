"""Per-vertex colours from the photo (extreme3d.colors): visible, mirrored and filled vertices."""

from __future__ import annotations

import numpy as np
import pytest

from extreme3d.colors import (
    SOURCE_FILL,
    SOURCE_MIRROR,
    SOURCE_PHOTO,
    crop_mask_from_bump,
    mirror_lookup,
    photo_vertex_colors,
    resolve_color_mode,
    sample_bilinear,
    smooth_fill,
)
from extreme3d.render import render

POSE_R = np.array([0.05, 0.5, 0.02])  # about 29 degrees of yaw: one cheek self-occluded
POSE_T = np.array([0.0, 0.0, -600.0])


def _pattern(v: np.ndarray, symmetric: bool = False) -> np.ndarray:
    """Smooth RGB colours (V,3) in 0..255 from the position (symmetric in x when asked)."""
    x = np.abs(v[:, 0]) if symmetric else v[:, 0]
    lo, hi = v.min(axis=0), v.max(axis=0)
    r = (x - (0 if symmetric else lo[0])) / (hi[0] - (0 if symmetric else lo[0]))
    g = (v[:, 1] - lo[1]) / (hi[1] - lo[1])
    b = (v[:, 2] - lo[2]) / (hi[2] - lo[2])
    return np.clip(np.stack([r, g, b], axis=1) * 230 + 10, 0, 255)


def _render_bgr(v, faces, colors, rvec=POSE_R, tvec=POSE_T) -> np.ndarray:
    rgb, _ = render(v, faces, rvec, tvec, colors=colors)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def test_visible_vertices_get_the_rendered_colour_back(sfm_model) -> None:
    v = sfm_model.shape()
    faces = sfm_model.faces
    col = _pattern(v)
    img = _render_bgr(v, faces, col)
    res = photo_vertex_colors(v, faces, img, POSE_R, POSE_T, footprint=False)
    vis = res.source == SOURCE_PHOTO
    assert vis.mean() > 0.6, res.counts()
    assert (res.source == SOURCE_MIRROR).sum() > 50  # the far cheek is hidden at this yaw
    err = np.abs(res.colors[vis].astype(float) - col[vis])
    assert err.max() <= 3.0, err.max()
    # the model's vertices are ~6 px apart here: sampled at their footprint's blur, they get
    # the local mean of the shaded picture, close to their colour
    blurred = photo_vertex_colors(v, faces, img, POSE_R, POSE_T)
    assert (blurred.source == res.source).all()
    assert (blurred.colors[vis] != res.colors[vis]).any(axis=1).mean() > 0.1  # blurred (21%)
    err = np.abs(blurred.colors[vis].astype(float) - col[vis])
    assert np.median(err) <= 1.5 and err.max() <= 12.0, (np.median(err), err.max())
    # the vertices facing away from the camera are not counted as visible
    vis_x = v[vis, 0]
    assert np.median(vis_x) < np.median(v[:, 0])  # more of the near side than the far side


def test_occluded_vertices_take_the_symmetric_colour(sfm_model) -> None:
    v = sfm_model.shape()
    faces = sfm_model.faces
    col = _pattern(v, symmetric=True)
    res = photo_vertex_colors(v, faces, _render_bgr(v, faces, col), POSE_R, POSE_T)
    mir = res.source == SOURCE_MIRROR
    assert mir.sum() > 50
    err = np.abs(res.colors[mir].astype(float) - col[mir]).mean(axis=1)
    assert np.median(err) < 4.0 and np.percentile(err, 90) < 12.0, np.percentile(err, [50, 90])
    # without symmetry the same vertices are filled smoothly instead
    res2 = photo_vertex_colors(v, faces, _render_bgr(v, faces, col), POSE_R, POSE_T,
                               symmetry=False)
    assert not (res2.source == SOURCE_MIRROR).any()
    assert (res2.source[mir] == SOURCE_FILL).all()


def test_image_mask_excludes_occluders(sfm_model) -> None:
    v = sfm_model.shape()
    faces = sfm_model.faces
    col = _pattern(v)
    img = _render_bgr(v, faces, col, rvec=np.array([1e-6, 1e-6, 1e-6]))
    mask512 = np.full((512, 512), 255, np.uint8)
    mask512[:, : 6 + 250] = 0  # left half of the crop hidden (e.g. a hand)
    res = photo_vertex_colors(v, faces, img, np.array([1e-6, 1e-6, 1e-6]), POSE_T,
                              image_mask=crop_mask_from_bump(mask512))
    from extreme3d.camera import project

    u = project(v, np.array([1e-6, 1e-6, 1e-6]), POSE_T)[:, 0]
    assert not (res.source[u < 249] == SOURCE_PHOTO).any()
    assert (res.source[u > 260] == SOURCE_PHOTO).mean() > 0.5
    # hidden vertices on the left are taken from their mirror on the right
    hidden = (u < 240) & (res.source == SOURCE_MIRROR)
    assert hidden.sum() > 100


def test_smooth_fill_reproduces_a_linear_field_on_a_grid() -> None:
    n = 12
    ys, xs = np.mgrid[0:n, 0:n]
    idx = (ys * n + xs)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3),
                            np.stack([b, d, c], -1).reshape(-1, 3)])
    truth = (3.0 * xs + 2.0 * ys + 5.0).reshape(-1, 1)
    known = np.zeros(n * n, bool)
    known[idx[0]] = known[idx[-1]] = known[idx[:, 0]] = known[idx[:, -1]] = True
    values = np.where(known[:, None], truth, 0.0)
    out = smooth_fill(faces, values, known)
    np.testing.assert_allclose(out, truth, atol=1e-3)


def test_smooth_fill_gives_the_mean_to_unreachable_vertices() -> None:
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    known = np.array([True, True, False, False, False, False])
    values = np.array([[10.0], [30.0], [0], [0], [0], [0]])
    out = smooth_fill(faces, values, known)
    assert out[2, 0] == pytest.approx(20.0, abs=1e-3)
    np.testing.assert_allclose(out[3:, 0], 20.0, atol=1e-2)


def test_a_piece_without_known_vertices_takes_its_neighbours_colours() -> None:
    """fill_lone_pieces: a separate piece of the mesh with no known vertex (detail over a
    hidden region) is filled from its nearest vertices on the pieces with known ones, not with
    the mean of all known vertices; every other row is unchanged, and so is a mesh whose pieces
    all hold a known vertex."""
    from extreme3d import _core
    from extreme3d.colors import fill_lone_pieces

    # a 5x5 grid (x 0..4, y 0..4 mm), its left column known dark and right column known light,
    # and a separate small triangle floating 0.5 mm over the right half
    n = 5
    ys, xs = np.mgrid[0:n, 0:n]
    idx = ys * n + xs
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    grid = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3),
                           np.stack([b, d, c], -1).reshape(-1, 3)])
    verts = np.c_[xs.ravel(), ys.ravel(), np.zeros(n * n)].astype(np.float64)
    island = np.array([[3.6, 1.8, 0.5], [3.9, 2.0, 0.5], [3.6, 2.2, 0.5]])
    verts = np.vstack([verts, island, [[9.0, 9.0, 9.0]]])  # and one vertex in no face
    faces = np.vstack([grid, [[25, 26, 27]]])
    known = np.zeros(len(verts), bool)
    known[idx[:, 0]] = known[idx[:, -1]] = True
    values = np.zeros((len(verts), 1))
    values[idx[:, 0]] = 10.0
    values[idx[:, -1]] = 200.0
    np.testing.assert_array_equal(_core.fill_reach(faces, known), [1] * 25 + [2, 2, 2, 0])
    plain = smooth_fill(faces, values, known)
    np.testing.assert_allclose(plain[25:28, 0], 105.0, atol=1e-3)  # the known mean
    out = fill_lone_pieces(verts, faces, plain, known)
    np.testing.assert_array_equal(out[:25], plain[:25])  # the grid's fill unchanged
    np.testing.assert_array_equal(out[28], plain[28])
    assert (out[25:28, 0] > 140).all()  # the right half's colours (x 3-4 of 0-4)
    alone = plain[:25]  # the grid alone: every piece holds a known vertex
    assert fill_lone_pieces(verts[:25], grid, alone, known[:25]) is alone


def _grid_faces(rows: int, cols: int, first: int = 0) -> np.ndarray:
    """Triangles of a rows x cols vertex grid numbered row by row from `first`."""
    idx = first + np.arange(rows * cols).reshape(rows, cols)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    return np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3),
                           np.stack([b, d, c], -1).reshape(-1, 3)])


def test_piece_ties_join_the_borders_of_pieces_that_share_no_vertex() -> None:
    """piece_ties: two 5x5 grids (1 mm steps) side by side 0.8 mm apart, sharing no vertex: the
    facing columns are tied one to one (as final_frontal's dense halves to the sparse surround);
    a single piece, or pieces farther apart than the reach, get none. Through the ties the
    harmonic fill of the right piece starts from the left piece's colour at the seam."""
    from extreme3d.colors import piece_ties

    ys, xs = np.mgrid[0:5, 0:5].astype(np.float64)
    left = np.c_[xs.ravel(), ys.ravel(), np.zeros(25)]
    right = left + [4.8, 0.0, 0.0]
    verts = np.vstack([left, right])
    faces = np.vstack([_grid_faces(5, 5), _grid_faces(5, 5, 25)])
    ties = piece_ties(verts, faces)
    assert ties.dtype == np.int32 and ties.shape[1] == 3
    np.testing.assert_array_equal(ties[:, 1], ties[:, 2])  # degenerate faces: one edge each
    assert ((ties[:, 0] < 25) != (ties[:, 1] < 25)).all()  # each joins the two pieces
    tied = dict(zip(ties[:, 0].tolist(), ties[:, 1].tolist(), strict=True))
    for r in range(5):  # the facing columns (x = 4 and x = 4.8) one to one, row by row
        assert tied[4 + 5 * r] == 25 + 5 * r and tied[25 + 5 * r] == 4 + 5 * r
    assert len(piece_ties(left, _grid_faces(5, 5))) == 0  # one piece
    assert len(piece_ties(np.vstack([left, left + [8.0, 0, 0]]), faces)) == 0  # 4 mm apart
    # the fill: the left grid known at 200, the right grid known at 0 on its far column only
    known = np.zeros(50, bool)
    known[:25] = True
    known[25 + 4 + 5 * np.arange(5)] = True
    values = np.where(np.arange(50) < 25, 200.0, 0.0)[:, None]
    apart = smooth_fill(faces, values, known)
    joined = smooth_fill(np.vstack([faces, ties]), values, known)
    seam_col = 25 + 5 * np.arange(5)
    np.testing.assert_allclose(apart[seam_col, 0], 0.0, atol=0.01)  # its own known value only
    assert (joined[seam_col, 0] > 140).all()  # next to the left piece's 200


def test_seam_correction_is_not_clipped_under_a_strong_side_light(sfm_model, monkeypatch):
    """A face lit hard from one side (the far half at a fifth of the near half's brightness):
    the mirrored vertices need corrections beyond 100 grey levels; SEAM_MAX no longer cuts
    them (60 did: the clipped half stayed much brighter than its photo neighbours)."""
    import extreme3d.colors as colors_mod

    v = sfm_model.shape()
    faces = sfm_model.faces
    shade = 1.0 + 0.8 * v[:, 0] / np.abs(v[:, 0]).max()
    col = np.clip(np.full((len(v), 3), 200.0) * shade[:, None], 0, 255)
    img = _render_bgr(v, faces, col)
    now = photo_vertex_colors(v, faces, img, POSE_R, POSE_T)
    monkeypatch.setattr(colors_mod, "SEAM_MAX", 60.0)
    clipped = photo_vertex_colors(v, faces, img, POSE_R, POSE_T)
    mir = now.source == SOURCE_MIRROR
    assert mir.sum() > 50
    err_now = np.abs(now.colors[mir].astype(float) - col[mir]).mean()
    err_clip = np.abs(clipped.colors[mir].astype(float) - col[mir]).mean()
    assert err_now < 0.7 * err_clip, (err_now, err_clip)


def test_mirror_lookup_and_sampling() -> None:
    ref = np.array([[10.0, 0, 0], [20.0, 5, 0]])
    q = np.array([[-10.2, 0, 0], [-20.0, 5, 0.5], [-50.0, 0, 0]])
    np.testing.assert_array_equal(mirror_lookup(ref, q, 1.0), [0, 1, -1])
    img = np.arange(16, dtype=np.uint8).reshape(4, 4)
    # pixel (i, j) holds the value at (i + 0.5, j + 0.5); halfway between two pixels: the mean
    s = sample_bilinear(img, np.array([[1.5, 1.5], [2.0, 1.5]]))
    np.testing.assert_allclose(s[:, 0], [5.0, 5.5])


def test_colour_modes() -> None:
    class NoTex:
        tex_mu = None

    class Tex:
        tex_mu = np.zeros(3)

    assert resolve_color_mode(None, NoTex()) == "photo"
    assert resolve_color_mode(None, Tex()) == "model"
    assert resolve_color_mode("none", Tex()) == "none"
    with pytest.raises(ValueError):
        resolve_color_mode("rainbow")


def test_seam_correction_carries_the_shading_difference_onto_mirrored_vertices(sfm_model):
    v = sfm_model.shape()
    faces = sfm_model.faces
    # symmetric albedo under a light from one side: the two halves differ smoothly
    shade = 1.0 + 0.35 * v[:, 0] / np.abs(v[:, 0]).max()
    col = np.clip(_pattern(v, symmetric=True) * 0.7 * shade[:, None], 0, 255)
    img = _render_bgr(v, faces, col)
    with_fix = photo_vertex_colors(v, faces, img, POSE_R, POSE_T)
    without = photo_vertex_colors(v, faces, img, POSE_R, POSE_T, seam_correction=False)
    mir = with_fix.source == SOURCE_MIRROR
    assert mir.sum() > 50 and np.array_equal(mir, without.source == SOURCE_MIRROR)
    err_fix = np.abs(with_fix.colors[mir].astype(float) - col[mir]).mean()
    err_raw = np.abs(without.colors[mir].astype(float) - col[mir]).mean()
    assert err_fix < 0.6 * err_raw, (err_fix, err_raw)
    # the photo's own vertices are untouched by the correction
    vis = with_fix.source == SOURCE_PHOTO
    np.testing.assert_array_equal(with_fix.colors[vis], without.colors[vis])


def test_silhouette_interior_is_scipys_fill_holes_then_erosion() -> None:
    from scipy import ndimage

    from extreme3d.colors import silhouette_interior

    rng = np.random.default_rng(5)
    for margin in (0, 1, 3):
        cov = ndimage.binary_opening(rng.uniform(size=(60, 80)) < 0.7, iterations=1)
        cov[20:30, 30:45] = False  # a hole (an open mouth)
        want = ndimage.binary_fill_holes(cov)
        if margin:
            want = ndimage.binary_erosion(want, iterations=margin, border_value=0)
        np.testing.assert_array_equal(silhouette_interior(cov, margin), want)


def test_vertex_normals_are_the_area_weighted_sums(sfm_model) -> None:
    from extreme3d.colors import face_normals, vertex_normals

    v, f = sfm_model.shape(), sfm_model.faces
    fn = face_normals(v, f)
    n = np.zeros((len(v) + 1, 3))  # one unused vertex
    for k in range(3):
        np.add.at(n, f[:, k], fn)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-300)
    got = vertex_normals(np.vstack([v, [[0, 0, 0]]]), f)
    np.testing.assert_array_equal(got, n)


def test_median_edge_length_is_numpys_median_of_norms():
    """median_edge_length (squared lengths partitioned) gives the bits of the plain
    np.median(np.linalg.norm(...)) on odd and even face counts, and 1.0 without faces."""
    from extreme3d.colors import median_edge_length

    rng = np.random.default_rng(9)
    v = rng.normal(0, 20, (500, 3)).astype(np.float32)
    for n in (1, 2, 7, 600, 601):
        f = rng.integers(0, 500, (n, 3))
        v64 = v.astype(np.float64)
        want = float(np.median(np.linalg.norm(v64[f[:, 1]] - v64[f[:, 0]], axis=1)))
        assert median_edge_length(v, f) == want
    assert median_edge_length(v, np.zeros((0, 3), int)) == 1.0
    bad = v.copy()
    bad[f[0, 1]] = np.nan  # a NaN vertex: NaN, as np.median gives
    assert np.isnan(median_edge_length(bad, f))


def _plane(step_mm: float, half_mm: float = 40.0) -> tuple[np.ndarray, np.ndarray]:
    """A square grid of vertices (step_mm apart) in the plane z = 0, facing the camera at
    POSE_T with no rotation, and its triangles."""
    n = int(round(2 * half_mm / step_mm)) + 1
    ys, xs = np.mgrid[0:n, 0:n] * step_mm - half_mm
    v = np.stack([xs.ravel(), ys.ravel(), np.zeros(n * n)], axis=1)
    return v, _grid_faces(n, n)


NO_ROTATION = np.array([1e-6, 1e-6, 1e-6])


def test_coarse_vertices_take_their_footprints_mean_and_dense_ones_the_point_sample() -> None:
    """footprint_samples: over a 1-px checkerboard, vertices 10 px apart get the local mean
    (grey) instead of one pixel's black or white; vertices ~1 px apart keep the point samples
    (their footprint is within FOOTPRINT_FREE_PX)."""
    yy, xx = np.mgrid[0:500, 0:500]
    img = np.repeat((((xx + yy) % 2) * 255).astype(np.uint8)[:, :, None], 3, axis=2)
    v, faces = _plane(6.0, 42.0)  # 10 px apart (focal 1000 px at 600 mm)
    v[:, :2] += 0.3  # every vertex on a pixel centre: its point sample black or white
    on = photo_vertex_colors(v, faces, img, NO_ROTATION, POSE_T, symmetry=False)
    off = photo_vertex_colors(v, faces, img, NO_ROTATION, POSE_T, symmetry=False,
                              footprint=False)
    seen = on.source == SOURCE_PHOTO
    assert seen.mean() > 0.7 and (off.source == on.source).all()  # the border: silhouette margin
    assert np.abs(on.colors[seen].astype(float) - 127.5).max() < 25
    assert np.abs(off.colors[seen].astype(float) - 127.5).min() > 127
    v, faces = _plane(0.5, 10.0)
    on = photo_vertex_colors(v, faces, img, NO_ROTATION, POSE_T, symmetry=False)
    off = photo_vertex_colors(v, faces, img, NO_ROTATION, POSE_T, symmetry=False,
                              footprint=False)
    assert (on.source == SOURCE_PHOTO).sum() > 800
    np.testing.assert_array_equal(on.colors, off.colors)


def test_footprint_blur_reads_only_the_pixels_that_may_be_sampled() -> None:
    """The coarse vertices' blur is normalised over the sampled pixels: beside a masked-out
    black occluder, the white skin's vertices stay white (a plain blur of the crop would
    darken those within its reach)."""
    img = np.full((500, 500, 3), 255, np.uint8)
    img[:, :250] = 0  # the left half: an occluder, left out by the image mask
    mask = np.zeros((500, 500), bool)
    mask[:, 250:] = True
    v, faces = _plane(9.0, 45.0)  # 15 px apart: blurred by ~2 px
    v[:, 0] += 0.9  # a column of vertices 1.5 px from the occluder
    res = photo_vertex_colors(v, faces, img, NO_ROTATION, POSE_T, image_mask=mask,
                              symmetry=False)
    from extreme3d.camera import project

    u = project(v, NO_ROTATION, POSE_T)[:, 0]
    seen = res.source == SOURCE_PHOTO
    assert seen.sum() > 20 and (u[seen] > 250).all()
    assert (u[seen] < 252).sum() >= 3  # within the blur's reach of the occluder
    assert res.colors[seen].min() >= 254


def test_vertex_footprint_is_the_mean_projected_edge_length() -> None:
    """vertex_footprint_px on a triangulated square grid s px apart: an interior vertex has
    four axis edges (s) and two diagonals (s sqrt 2), each held by two triangles, so its mean
    is s (2 + sqrt 2) / 3; a corner of one triangle averages its two legs; non-finite corners
    leave their triangles out; unused vertices get 0."""
    from extreme3d.colors import vertex_footprint_px

    s = 3.0
    ys, xs = np.mgrid[0:5, 0:5] * s
    uv = np.stack([xs.ravel(), ys.ravel()], axis=1)
    faces = _grid_faces(5, 5)
    d = vertex_footprint_px(np.vstack([uv, [[99.0, 99.0]]]), faces)
    assert d[12] == pytest.approx(s * (2 + np.sqrt(2)) / 3)  # the centre
    assert d[0] == pytest.approx(s)  # one triangle: its two legs
    assert d[-1] == 0.0
    uv_bad = uv.copy()
    uv_bad[12] = np.nan
    d_bad = vertex_footprint_px(uv_bad, faces)
    assert np.isfinite(d_bad).all() and d_bad[12] == 0.0
    assert d_bad[0] == pytest.approx(d[0])
