"""Geometry stage (combineBump after the pose fit) on synthetic ground truth made here."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy.spatial import Delaunay, cKDTree

from extreme3d import _core
from extreme3d.geometry import MESH_NAMES, run_geometry
from extreme3d.render import render_triangle_ids

FOCAL, W, H, MARGIN = 1000.0, 500, 500, 6


def rodrigues(rvec: np.ndarray) -> np.ndarray:
    """Rotation matrix of a rotation vector (rad)."""
    return cv2.Rodrigues(np.asarray(rvec, np.float64).reshape(3, 1))[0]


def symmetric_alpha(model, rng: np.random.Generator, scale: float = 0.8) -> np.ndarray:
    """Identity coefficients of a face symmetric through the model's pairs (mirror averaged in)."""
    alpha = (rng.standard_normal(model.num_shape) * scale).astype(np.float64)
    basis = model.shape_pc * model.shape_ev[None, :]
    s = (model.shape_mu + basis @ alpha).reshape(-1, 3)
    mirrored = s[model.pair] * np.array([-1.0, 1.0, 1.0])
    alpha_m = np.linalg.lstsq(basis, mirrored.reshape(-1) - model.shape_mu, rcond=None)[0]
    return ((alpha + alpha_m) / 2).astype(np.float32)


def truth_depth(vertices: np.ndarray, faces: np.ndarray, rvec, tvec) -> np.ndarray:
    """Camera z (mm) of the surface along the ray of each pixel centre (x + 0.5, y + 0.5), from the
    rendered triangle ids and an exact ray/plane intersection; nan where nothing is drawn."""
    ids = render_triangle_ids(vertices, faces, rvec, tvec, FOCAL, W, H)
    cam = vertices.astype(np.float64) @ rodrigues(rvec).T + np.asarray(tvec, np.float64)
    ys, xs = np.nonzero(ids >= 0)
    tri = cam[faces[ids[ys, xs]]]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    d = np.stack([-(xs + 0.5 - W / 2) / FOCAL, (ys + 0.5 - H / 2) / FOCAL, np.ones(len(xs))], 1)
    s = np.einsum("ij,ij->i", n, tri[:, 0]) / np.einsum("ij,ij->i", n, d)
    out = np.full((H, W), np.nan)
    out[ys, xs] = s  # ray X = s d, so z = s
    return out


def bump_pattern(symmetric: bool = False, amplitude: float = 40.0) -> np.ndarray:
    """A smooth 512x512 uint8 bump map (+-amplitude/9.6 mm); symmetric about image column 250
    if asked."""
    y, x = np.mgrid[0:512, 0:512].astype(np.float64)
    u = x - MARGIN - W / 2
    if symmetric:
        u = np.abs(u)
    b = 127 + amplitude * np.sin(u / 9.0) * np.cos((y - MARGIN) / 13.0)
    return np.clip(np.round(b), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def face(sfm_model):
    """A random face of the Surrey model and a pose."""
    rng = np.random.default_rng(7)
    alpha = (rng.standard_normal(sfm_model.num_shape) * 0.8).astype(np.float32)
    expr = (rng.standard_normal(sfm_model.num_expr) * 0.5).astype(np.float32)
    return alpha, expr, np.array([0.08, -0.35, 0.03]), np.array([2.0, -4.0, -1100.0])


def test_with_bump_reproduces_synthetic_bump(sfm_model, face):
    alpha, expr, rvec, tvec = face
    bump = bump_pattern()
    mask = np.full((512, 512), 255, np.uint8)
    mask[:, 300:] = 0  # excluded columns (image x >= 294)
    res = run_geometry(sfm_model, alpha, expr, rvec, tvec, bump, mask, symmetry=False)
    assert "final_frontal" not in res.meshes and "withBump_aligned" in res.meshes
    mesh = res.meshes["withBump_aligned"]
    foundation = sfm_model.shape(alpha, expr)
    z = truth_depth(foundation, sfm_model.faces_fill, rvec, tvec)
    # dense vertices: covered pixels inside the mask, numbered column by column
    covered = ~np.isnan(z)
    covered[:, 300 - MARGIN :] = False
    xs, ys = np.nonzero(covered.T)
    assert mesh.num_vertices == len(xs)
    z0 = z[ys, xs]
    zt = z0 + (bump[ys + MARGIN, xs + MARGIN].astype(np.float64) - 127) / 12 * 1.25
    # x and y keep their unbumped values
    truth = np.stack([z0 * (xs - W / 2) / -FOCAL, z0 * (ys - H / 2) / FOCAL, zt], 1)
    err = np.abs(mesh.vertices - truth)
    assert err.max() < 0.1, err.max(0)
    # withBump_frontal is the same surface in model coordinates
    fr = res.meshes["withBump_frontal"].vertices
    back = (fr.astype(np.float64) @ rodrigues(rvec).T) + tvec
    assert np.abs(back - mesh.vertices).max() < 1e-3


def test_grid_faces_corner_rules():
    g = np.array([[0, 1], [2, 3]], np.int32)
    assert _core.grid_faces(g).tolist() == [[1, 0, 2], [1, 2, 3]]
    assert _core.grid_faces(np.array([[0, 1], [-1, 2]], np.int32)).tolist() == [[1, 0, 2]]
    assert _core.grid_faces(np.array([[-1, 0], [1, 2]], np.int32)).tolist() == [[0, 1, 2]]
    assert _core.grid_faces(np.array([[0, 1], [2, -1]], np.int32)).tolist() == [[1, 0, 2]]
    # as coded, a quad missing its top-right corner gives no triangle
    assert _core.grid_faces(np.array([[0, -1], [1, 2]], np.int32)).shape == (0, 3)


def test_dense_mesh_numbering_and_mask_threshold():
    depth = np.ones((4, 5), np.float32)
    depth[1:3, 1:4] = 0.5
    mask = np.full((4 + MARGIN, 5 + MARGIN), 255, np.uint8)
    mask[1 + MARGIN, 3 + MARGIN] = 126  # below the >= 127 threshold
    mask[2 + MARGIN, 3 + MARGIN] = 127  # kept
    d = _core.dense_mesh(depth, mask, focal=FOCAL)
    assert d["vindex"][1:3, 1:4].tolist() == [[0, 2, -1], [1, 3, 4]]
    z = -50.0 * 10000.0 / (10000.0 - 0.5 * (10000.0 - 50.0))
    assert np.allclose(d["vertices"][:, 2], z, rtol=1e-6)
    assert np.allclose(d["vertices"][4, :2], [z * (3 - 2.5) / -FOCAL, z * (2 - 2) / FOCAL])


def test_blur_matches_opencv():
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 12, (37, 41)).astype(np.uint8)
    counts[5:9, 5:9] = 255
    assert np.array_equal(_core.blur_counts(counts, 5), cv2.GaussianBlur(counts, (5, 5), 0))


def test_delaunay_matches_scipy():
    rng = np.random.default_rng(2)
    pts = (rng.random((400, 2)) * 480 + 10).astype(np.float32)
    ours = {tuple(sorted(t)) for t in _core.delaunay_triangles(pts).tolist()}
    ref = {tuple(sorted(t)) for t in Delaunay(pts.astype(np.float64)).simplices.tolist()}
    assert ours == ref


def test_rigid_transform_recovers_pose():
    rng = np.random.default_rng(3)
    p1 = rng.standard_normal((50, 3)).astype(np.float32) * 30
    R = rodrigues([0.1, -0.2, 0.05])
    t = np.array([1.0, -2.0, 3.0])
    p2 = (p1 @ R.T + t).astype(np.float32)
    R_est, t_est = _core.estimate_rigid_transform(p1, p2)
    assert np.allclose(R_est, R, atol=1e-5) and np.allclose(t_est, t, atol=1e-3)


def test_occlusion_scores_follow_pose(sfm_model, face):
    alpha, expr, _, tvec = face
    bump = np.full((512, 512), 127, np.uint8)
    mask = np.full((512, 512), 255, np.uint8)
    frontal = run_geometry(sfm_model, alpha, expr, [1e-6] * 3, tvec, bump, mask, outputs=())
    turned = run_geometry(sfm_model, alpha, expr, [0.0, 0.7, 0.0], tvec, bump, mask, outputs=())
    fv = frontal.visible
    # seen from the reference view itself nothing is self-occluded
    assert np.median(frontal.occlusion[fv]) == pytest.approx(1.0)
    assert (turned.occlusion[turned.visible] < 0.75).mean() > 0.05
    assert not np.any(turned.occlusion[~turned.visible])
    assert set(np.unique(turned.scores)) <= {0.0, 0.5, 1.0}
    assert turned.visible.sum() < frontal.visible.sum()


def test_symmetric_completion_of_occluded_side(sfm_model):
    rng = np.random.default_rng(11)
    alpha = symmetric_alpha(sfm_model, rng)
    expr = np.zeros(sfm_model.num_expr, np.float32)
    rvec, tvec = np.array([0.02, 0.0, 0.0]), np.array([0.0, 0.0, -1000.0])
    bump = bump_pattern(symmetric=True, amplitude=100.0)  # +-10 mm of detail
    full = np.full((512, 512), 255, np.uint8)
    truth = run_geometry(sfm_model, alpha, expr, rvec, tvec, bump, full, symmetry=False)
    tree = cKDTree(truth.meshes["withBump_frontal"].vertices)
    half = full.copy()
    half[:, : MARGIN + 229] = 0  # image columns < 229: the face's side at model x < -21 mm
    res = run_geometry(sfm_model, alpha, expr, rvec, tvec, bump, half)
    final = res.meshes["final_frontal"]
    pts = final.vertices[np.unique(final.faces)]
    hidden = pts[pts[:, 0] < -25]
    assert len(hidden) > 500
    err = np.median(tree.query(hidden)[0])
    found = res.meshes["foundation_frontal"].vertices
    baseline = np.median(tree.query(found[found[:, 0] < -25])[0])  # without any completion
    assert err < 1.5 and err < 0.7 * baseline, (err, baseline)
    # the mirrored dense copy takes part in the hidden side
    v = sfm_model.num_vertices
    s = (final.num_vertices - v) // 2
    mirrored = final.vertices[np.unique(final.faces[final.faces >= v + s])]
    assert len(mirrored) > 300 and np.all(mirrored[:, 0] < 0)


def test_final_mesh_is_clean_and_deterministic(sfm_model, face, tmp_path):
    alpha, expr, rvec, tvec = face
    bump = bump_pattern()
    mask = np.full((512, 512), 255, np.uint8)
    mask[:, :200] = 0
    a = run_geometry(sfm_model, alpha, expr, rvec, tvec, bump, mask)
    b = run_geometry(sfm_model, alpha, expr, rvec, tvec, bump, mask)
    assert set(a.meshes) == set(MESH_NAMES)
    for name, mesh in a.meshes.items():
        assert np.all(np.isfinite(mesh.vertices)), name
        f = mesh.faces
        assert f.min() >= 0 and f.max() < mesh.num_vertices, name
        assert np.all((f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])), name
        tri = mesh.vertices[f].astype(np.float64)
        area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
        assert np.all(area > 1e-6), name
        pa, pb = a.meshes[name].save(tmp_path / "a.ply"), b.meshes[name].save(tmp_path / "b.ply")
        assert pa.read_bytes() == pb.read_bytes(), name
    assert set(np.unique(a.scores)) <= {0.0, 0.5, 1.0}
    assert np.allclose(a.symmetry_R, np.eye(3), atol=1e-4)  # as coded: close to the identity
    assert set(a.timings_ms) >= {"render", "occlusion", "dense_mesh", "bump", "hole_fill"}


def test_bad_inputs_raise_clear_errors(sfm_model, face):
    alpha, expr, rvec, tvec = face
    bump = np.full((512, 512), 127, np.uint8)
    mask = np.full((512, 512), 255, np.uint8)
    with pytest.raises(ValueError, match="alpha"):
        run_geometry(sfm_model, alpha[:-1], expr, rvec, tvec, bump, mask)
    with pytest.raises(ValueError, match="expr"):
        run_geometry(sfm_model, alpha, np.zeros(99, np.float32), rvec, tvec, bump, mask)
    with pytest.raises(ValueError, match="bump"):
        run_geometry(sfm_model, alpha, expr, rvec, tvec, bump[:100, :100], mask)
    with pytest.raises(ValueError, match="mask"):
        run_geometry(sfm_model, alpha, expr, rvec, tvec, bump, np.zeros((512, 512, 2)))
    with pytest.raises(ValueError, match="covers no pixel"):
        run_geometry(sfm_model, alpha, expr, rvec, [3000.0, 0.0, -1000.0], bump, mask)
    with pytest.raises(ValueError, match="covers no pixel"):
        run_geometry(sfm_model, alpha, expr, rvec, tvec, bump, np.zeros((512, 512), np.uint8))
    with pytest.raises(ValueError, match="unknown geometry outputs"):
        run_geometry(sfm_model, alpha, expr, rvec, tvec, bump, mask, outputs=["nope"])
    with pytest.raises(ValueError, match="rvec"):
        run_geometry(sfm_model, alpha, expr, [0.0, 0.0], tvec, bump, mask)
