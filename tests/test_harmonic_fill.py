"""Harmonic colour fill in C++ (`_core.harmonic_fill`, used by extreme3d.colors.smooth_fill):
known answers, agreement with the scipy reference, input checks."""

from __future__ import annotations

import numpy as np
import pytest

from extreme3d import _core
from extreme3d.colors import smooth_fill, smooth_fill_reference


def _grid(n: int) -> np.ndarray:
    """Faces (int32) of an n x n vertex grid, two triangles per cell."""
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    return np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3),
                           np.stack([b, d, c], -1).reshape(-1, 3)]).astype(np.int32)


def test_path_graph_gives_linear_interpolation() -> None:
    """On a path (degenerate triangles [i, i+1, i+1]: one edge each, a self-loop ignored) with
    both ends known, the harmonic values are the linear interpolation, per channel."""
    n = 41
    faces = np.array([[i, i + 1, i + 1] for i in range(n - 1)], np.int32)
    known = np.zeros(n, bool)
    known[[0, n - 1]] = True
    values = np.zeros((n, 2))
    values[0], values[-1] = [10.0, 200.0], [90.0, -40.0]
    out = _core.harmonic_fill(faces, values, known, 1e-12)
    t = np.linspace(0.0, 1.0, n)[:, None]
    np.testing.assert_allclose(out, values[0] + t * (values[-1] - values[0]), atol=1e-6)
    # the known rows are returned unchanged
    assert out[0].tolist() == [10.0, 200.0] and out[-1].tolist() == [90.0, -40.0]


def test_unreachable_unused_and_trivial_cases() -> None:
    """Vertices with no path to a known one tend to the known mean (unused ones too); without
    faces every unknown row is that mean; with nothing known the mean is 127.5."""
    faces = np.array([[0, 1, 2], [3, 4, 5]], np.int32)
    known = np.array([True, True, False, False, False, False, False])
    values = np.array([[10.0], [30.0], [0], [0], [0], [0], [0]])
    out = _core.harmonic_fill(faces, values, known, 1e-6)
    assert out[2, 0] == pytest.approx(20.0, abs=1e-3)
    np.testing.assert_allclose(out[3:, 0], 20.0, atol=1e-2)
    assert out[6, 0] == pytest.approx(20.0, abs=1e-9)  # in no face
    no_faces = _core.harmonic_fill(np.zeros((0, 3), np.int32), values, known, 1e-6)
    np.testing.assert_array_equal(no_faces[2:, 0], 20.0)
    nothing = _core.harmonic_fill(faces, values, np.zeros(7, bool), 1e-6)
    np.testing.assert_allclose(nothing, 127.5, atol=1e-6)
    everything = _core.harmonic_fill(faces, values, np.ones(7, bool), 1e-6)
    np.testing.assert_array_equal(everything, values)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_the_scipy_reference(seed: int) -> None:
    """Random known sets on a grid with an extra island and duplicate faces: same values as the
    scipy (SuperLU) reference to float precision, for both fills' kinds of values."""
    rng = np.random.default_rng(seed)
    n = 30
    faces = _grid(n)
    island = np.array([[n * n, n * n + 1, n * n + 2]], np.int32)
    faces = np.concatenate([faces, faces[:50], island])  # duplicate edges count once
    v = n * n + 3
    known = rng.random(v) < rng.uniform(0.05, 0.6)
    values = np.where(known[:, None], rng.uniform(-60, 255, (v, 3)), 0.0)
    for reg in (1e-6, 1e-3):
        out = smooth_fill(faces, values, known, regularisation=reg)
        ref = smooth_fill_reference(faces, values, known, regularisation=reg)
        np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-8)
    # strided and non-native inputs give the same answer as contiguous ones
    strided = np.repeat(values, 2, axis=0)[::2]
    out2 = _core.harmonic_fill(faces.astype(np.int64), strided, known.astype(np.uint8), 1e-6)
    np.testing.assert_array_equal(out2, smooth_fill(faces, values, known))


def test_photo_colors_fill_matches_reference_on_a_face() -> None:
    """On a 40x40 grid shaped like a half-lit face: the C++ fill's rounded colours equal the
    reference's."""
    rng = np.random.default_rng(5)
    n = 40
    faces = _grid(n)
    ys, xs = np.mgrid[0:n, 0:n]
    known = (xs.ravel() > n // 2) | (rng.random(n * n) < 0.02)
    values = np.where(known[:, None], rng.uniform(0, 255, (n * n, 3)), 0.0)
    a = np.clip(np.rint(smooth_fill(faces, values, known)), 0, 255).astype(np.uint8)
    b = np.clip(np.rint(smooth_fill_reference(faces, values, known)), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("case", [
    "nan_value", "inf_value", "values_1d", "values_3d", "known_length", "known_2d", "known_int",
    "face_high", "face_negative", "faces_float", "faces_shape", "reg_zero", "reg_negative",
    "reg_nan", "reg_huge", "values_none", "too_many_channels",
])
def test_bad_inputs_raise_value_error(case: str) -> None:
    faces = _grid(4)
    values = np.zeros((16, 3))
    known = np.zeros(16, bool)
    known[0] = True
    reg = 1e-6
    if case == "nan_value":
        values[3, 1] = np.nan
    elif case == "inf_value":
        values[3, 1] = np.inf
    elif case == "values_1d":
        values = np.zeros(16)
    elif case == "values_3d":
        values = np.zeros((16, 3, 1))
    elif case == "known_length":
        known = np.zeros(15, bool)
    elif case == "known_2d":
        known = np.zeros((16, 1), bool)
    elif case == "known_int":
        known = np.full(16, 2)
    elif case == "face_high":
        faces[2, 1] = 16
    elif case == "face_negative":
        faces[2, 1] = -1
    elif case == "faces_float":
        faces = faces.astype(np.float64)
    elif case == "faces_shape":
        faces = faces[:, :2]
    elif case == "reg_zero":
        reg = 0.0
    elif case == "reg_negative":
        reg = -1.0
    elif case == "reg_nan":
        reg = float("nan")
    elif case == "reg_huge":
        reg = 1e300
    elif case == "values_none":
        values = None
    elif case == "too_many_channels":
        values = np.zeros((16, 65))
    with pytest.raises(ValueError):
        _core.harmonic_fill(faces, values, known, reg)


def test_photo_vertex_colors_equal_with_the_reference_fill(sfm_model, monkeypatch) -> None:
    """Vertex colours of a posed Surrey face (photo, mirrored with the seam correction, filled):
    identical bytes with the C++ fill and with the scipy reference."""
    from extreme3d import colors
    from extreme3d.render import render

    v = sfm_model.shape()
    faces = sfm_model.faces
    rvec, tvec = np.array([0.05, 0.5, 0.02]), np.array([0.0, 0.0, -600.0])
    col = np.clip((v - v.min(0)) / np.ptp(v, axis=0) * 230 + 10, 0, 255)
    rgb, _ = render(v, faces, rvec, tvec, colors=col)
    img = np.ascontiguousarray(rgb[:, :, ::-1])
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return smooth_fill(*args, **kwargs)

    monkeypatch.setattr(colors, "smooth_fill", counted)
    new = colors.photo_vertex_colors(v, faces, img, rvec, tvec)
    assert len(calls) == 2  # the seam field and the final fill
    monkeypatch.setattr(colors, "smooth_fill", smooth_fill_reference)
    ref = colors.photo_vertex_colors(v, faces, img, rvec, tvec)
    assert (new.source == 1).sum() > 50 and (new.source == 2).sum() > 0, new.counts()
    np.testing.assert_array_equal(new.source, ref.source)
    np.testing.assert_array_equal(new.colors, ref.colors)
