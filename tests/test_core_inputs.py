"""Every _core entry point refuses hostile input with ValueError (issue 17): dtype, shape,
strides, finiteness after the float32 cast, index ranges, 64-bit sizes, bounded iterations."""

from __future__ import annotations

import numpy as np
import pytest

from extreme3d import _core

V, K, E = 100, 5, 4
RV, TV = np.zeros(3), np.array([0.0, 0.0, -500.0])


def model_arrays(**override) -> dict:
    """Arrays of a small valid synthetic FaceModel (V vertices on a grid, K + E components)."""
    rng = np.random.default_rng(0)
    xy = np.stack(np.meshgrid(np.arange(10.0), np.arange(10.0)), -1).reshape(-1, 2) * 10 - 45
    mu = np.concatenate([xy, np.zeros((V, 1))], 1).reshape(-1).astype(np.float32)
    faces = np.array([[i, i + 1, i + 10] for i in range(89) if i % 10 != 9], np.int32)
    arrays = {
        "shape_mu": mu, "shape_pc": rng.standard_normal((3 * V, K)).astype(np.float32),
        "shape_ev": np.ones(K, np.float32), "exp_mu": np.zeros(3 * V, np.float32),
        "exp_pc": rng.standard_normal((3 * V, E)).astype(np.float32),
        "exp_ev": np.ones(E, np.float32), "faces": faces, "faces_fill": faces,
        "pair": np.arange(V, dtype=np.int32), "inner_landmarks": np.arange(68, dtype=np.int32),
        "outer_landmarks": np.arange(68, dtype=np.int32),
    }
    arrays.update(override)
    return arrays


@pytest.fixture(scope="module")
def tiny() -> _core.FaceModel:
    return _core.FaceModel(**model_arrays())


@pytest.mark.parametrize(("field", "value", "message"), [
    ("shape_mu", np.full(3 * V, 1e300), "shapeMU.*NaN or inf"),
    ("shape_mu", np.full(3 * V, np.nan), "shapeMU.*NaN or inf"),
    ("shape_pc", np.full((3 * V, K), np.inf, np.float32), "shapePC.*NaN or inf"),
    ("exp_ev", np.full(E, 1e20, np.float32), "expEV.*beyond"),
    ("faces", np.full((3, 3), 2**32 + 5, np.int64), "faces.*out of range"),
    ("faces", np.zeros((3, 3), np.float64), "faces.*integers"),
    ("pair", np.full(V, V, np.int32), "pair.*index outside"),
    ("shape_mu", np.array(["a"] * 3 * V), "shapeMU.*real numbers"),
])
def test_face_model_refuses_bad_arrays(field, value, message) -> None:
    with pytest.raises(ValueError, match=message):
        _core.FaceModel(**model_arrays(**{field: value}))


def test_face_model_vertices_checks_coefficients(tiny) -> None:
    assert tiny.vertices(np.zeros(K), np.zeros(E)).shape == (V, 3)
    with pytest.raises(ValueError, match="alpha"):
        tiny.vertices(np.full(K, np.nan), np.zeros(E))
    with pytest.raises(ValueError, match="expr"):
        tiny.vertices(np.zeros(K), np.zeros(E + 1))


def test_render_refuses_wrapping_indices_and_bad_sizes() -> None:
    v = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0]], np.float32)
    with pytest.raises(ValueError, match="out of range"):
        _core.render(v, np.array([[0, 1, 2**32 + 2]], np.int64), RV, TV)
    with pytest.raises(ValueError, match="out of range"):
        _core.render_triangle_ids(v, np.array([[0, 1, 2**64 - 1]], np.uint64), RV, TV)
    with pytest.raises(ValueError, match="image size"):
        _core.render(v, np.array([[0, 1, 2]]), RV, TV, width=100000)
    with pytest.raises(ValueError, match="rvec"):
        _core.render(v, np.array([[0, 1, 2]]), np.array([np.nan, 0, 0]), TV)
    with pytest.raises(ValueError, match="vertices"):
        _core.render(v * np.float32(1e30), np.array([[0, 1, 2]]), RV, TV)


def test_ply_body_refuses_colours_that_do_not_fit_a_byte() -> None:
    v = np.zeros((1, 3))
    assert _core.format_ply_body(v, np.array([[1, 2, 255]])).startswith(b"0 0 0 1 2 255")
    with pytest.raises(ValueError, match="colors.*out of range"):
        _core.format_ply_body(v, np.array([[300, 0, 0]]))
    with pytest.raises(ValueError, match="colors.*integers"):
        _core.format_ply_body(v, np.array([[1.5, 0, 0]]))


def test_epnp_refuses_huge_points() -> None:
    p3 = np.random.default_rng(1).standard_normal((10, 3)) * 1e160
    with pytest.raises(ValueError, match="points3d.*beyond"):
        _core.epnp(p3, np.zeros((10, 2)))


def test_sizes_use_64_bit_arithmetic(tiny) -> None:
    img = np.zeros((512, 512), np.uint8)
    with pytest.raises(ValueError, match="margin"):
        _core.combine_bump(tiny, np.zeros(K), np.zeros(E), RV, TV, img, img, margin=2**31 - 1)
    with pytest.raises(ValueError, match="margin"):
        _core.dense_mesh(np.ones((500, 500), np.float32), img, margin=2**31 - 1)
    with pytest.raises(ValueError, match="bump"):
        _core.combine_bump(tiny, np.zeros(K), np.zeros(E), RV, TV, img[:100], img)
    with pytest.raises(ValueError, match="bump"):
        _core.dense_mesh(np.ones((500, 500), np.float32), img, bump=img[:10])
    with pytest.raises(ValueError, match="alpha"):
        _core.combine_bump(tiny, np.full(K, np.nan), np.zeros(E), RV, TV, img, img)
    with pytest.raises(ValueError, match="bump.*out of range"):
        _core.combine_bump(tiny, np.zeros(K), np.zeros(E), RV, TV, img.astype(np.int32) + 256, img)


def test_fit_identity_iterations_are_bounded(tiny) -> None:
    lm = np.stack([np.linspace(100, 400, 68), np.linspace(150, 350, 68)], 1)
    for iterations in (2**31 - 1, 0, 10**6):
        with pytest.raises(ValueError, match="iterations"):
            _core.fit_identity(tiny, lm, iterations=iterations)
    with pytest.raises(ValueError, match="landmarks"):
        _core.fit_identity(tiny, np.full((68, 2), np.nan))


def test_occlusion_scores_honour_strides() -> None:
    rng = np.random.default_rng(2)
    n = 400
    xy = rng.uniform(-40, 40, (n, 2))
    vertices = np.concatenate([xy, np.zeros((n, 1))], 1).astype(np.float32)
    occ = rng.uniform(0.1, 1.0, (200, 200)).astype(np.float32)
    base = np.zeros(2 * n, bool)
    base[::7] = True
    view = base[::-2]  # a reversed, strided view
    got = _core.occlusion_scores(vertices, view, occ, RV, TV)
    want = _core.occlusion_scores(vertices, np.ascontiguousarray(view), occ, RV, TV)
    np.testing.assert_array_equal(got, want)
    assert np.count_nonzero(got) == np.count_nonzero(want) > 0
    with pytest.raises(ValueError, match="visible.*out of range"):
        _core.occlusion_scores(vertices, np.full(n, 2), occ, RV, TV)


def test_small_entry_points_check_finiteness() -> None:
    with pytest.raises(ValueError, match="points"):
        _core.delaunay_triangles(np.array([[0, 0], [1, np.nan], [0, 1]], np.float32))
    with pytest.raises(ValueError, match="p1"):
        _core.estimate_rigid_transform(np.full((4, 3), np.inf), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="p"):
        _core.point_in_triangle([np.nan, 0], [0, 0], [1, 0], [0, 1])
    with pytest.raises(ValueError, match="vindex"):
        _core.grid_faces(np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match="depth"):
        _core.depth_to_metric(np.zeros((2, 2), np.float32), near=np.nan)
