"""MorphableModel loader (validation of every dataset), synthesis and yaw-dependent landmarks."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from extreme3d import Extreme3DError
from extreme3d.morphable import (
    MorphableModel,
    default_model_path,
    landmark_indices,
    load_model,
)


def _broken(sfm_h5: Path, tmp_path: Path, name: str, value=None, delete: bool = False) -> Path:
    """A copy of the converted model with one dataset replaced or removed."""
    out = tmp_path / f"broken_{name}.h5"
    shutil.copyfile(sfm_h5, out)
    with h5py.File(out, "r+") as f:
        del f[name]
        if not delete:
            f[name] = value
    return out


def test_loads_with_contract_types(sfm_model: MorphableModel):
    m = sfm_model
    v = m.num_vertices
    assert m.shape_mu.shape == (3 * v,) and m.shape_mu.dtype == np.float32
    assert m.shape_pc.shape == (3 * v, m.num_shape) and m.shape_ev.shape == (m.num_shape,)
    assert m.exp_pc.shape == (3 * v, m.num_expr) and m.exp_mu.shape == (3 * v,)
    for idx in (m.faces, m.faces_fill, m.pair, m.inner_landmarks, m.outer_landmarks):
        assert idx.dtype == np.int32 and idx.min() >= 0 and idx.max() < v
    assert m.faces.shape[1] == 3 and m.inner_landmarks.shape == (68,)
    assert m.tex_mu is None and m.texture() is None and not m.has_texture


def test_shape_synthesis_matches_definition_and_core(sfm_model: MorphableModel):
    m = sfm_model
    rng = np.random.default_rng(0)
    alpha = rng.normal(size=m.num_shape).astype(np.float32)
    expr = rng.normal(size=m.num_expr).astype(np.float32)
    want = m.shape_mu + m.shape_pc @ (alpha * m.shape_ev) + m.exp_mu + m.exp_pc @ (expr * m.exp_ev)
    got = m.shape(alpha, expr)
    assert got.shape == (m.num_vertices, 3) and got.dtype == np.float32
    np.testing.assert_allclose(got.reshape(-1), want, atol=1e-3)
    np.testing.assert_allclose(m.core.vertices(alpha, expr), got, atol=1e-3)
    assert m.core is m.core  # cached
    np.testing.assert_array_equal(m.shape(), (m.shape_mu + m.exp_mu).reshape(-1, 3))
    # shorter coefficient vectors are zero-padded, longer ones rejected
    np.testing.assert_allclose(m.shape(alpha[:5]), m.shape(np.r_[alpha[:5], np.zeros(58)]))
    with pytest.raises(ValueError, match="alpha has 99 coefficients"):
        m.shape(np.zeros(99))


def test_texture_synthesis(sfm_h5: Path, tmp_path: Path):
    out = tmp_path / "tex.h5"
    shutil.copyfile(sfm_h5, out)
    with h5py.File(sfm_h5) as f:
        n3 = f["shapeMU"].shape[0]
    with h5py.File(out, "r+") as f:
        f["texMU"] = np.full((n3, 1), 200.0)
        pc = np.zeros((n3, 2))
        pc[0, 0] = 1.0
        f["texPC"] = pc
        f["texEV"] = np.array([[100.0], [1.0]])
    m = load_model(out)
    t = m.texture(np.array([1.0, 0.0]))
    assert t.shape == (n3 // 3, 3) and t[0, 0] == 255.0 and t[0, 1] == 200.0  # clipped
    assert m.texture()[0, 0] == 200.0


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("shapePC", np.zeros((10, 3)), r"'shapePC': expected shape \(10344, K\)"),
        ("shapeEV", np.ones((5, 1)), r"'shapeEV': expected 63 values"),
        ("expMU", np.zeros((7, 1)), r"'expMU': expected 10344 values"),
        ("faces", np.ones((4, 4)), r"'faces': expected shape \(F, 3\)"),
        ("faces", np.full((4, 3), 3449), r"'faces': index out of range.*1\.\.3448"),
        ("faces_fill", np.zeros((4, 3)), r"'faces_fill': index out of range"),
        ("pair", np.arange(1, 3448), r"'pair': expected 3448 values"),
        ("innerLandmarkIndex", np.ones(67), r"'innerLandmarkIndex': expected 68 values"),
        ("outerLandmarkIndex", np.full(68, 1.5), r"'outerLandmarkIndex': .*whole numbers"),
        ("shapeMU", np.full((10344, 1), np.nan), r"'shapeMU': contains NaN"),
        ("expPC", np.full((10344, 6), np.inf), r"'expPC': contains NaN or infinite"),
        ("pair", np.full(3448, np.nan), r"'pair': contains NaN"),
        ("shapeMU", np.zeros((10, 1)), r"'shapeMU': expected 3V values"),
    ],
)
def test_rejects_broken_datasets(sfm_h5, tmp_path, name, value, message):
    path = _broken(sfm_h5, tmp_path, name, value)
    with pytest.raises(Extreme3DError, match=message) as exc:
        load_model(path)
    text = str(exc.value)
    assert text.startswith(str(path)) and f"'{name}'" in text and "\n" not in text


@pytest.mark.parametrize("name", ["faces_fill", "expEV", "pair", "outerLandmarkIndex"])
def test_rejects_missing_dataset(sfm_h5, tmp_path, name):
    path = _broken(sfm_h5, tmp_path, name, delete=True)
    with pytest.raises(Extreme3DError, match=rf"{path.name}: dataset '{name}': missing"):
        load_model(path)


def test_rejects_partial_texture_and_non_hdf5(sfm_h5, tmp_path):
    out = tmp_path / "tex.h5"
    shutil.copyfile(sfm_h5, out)
    with h5py.File(out, "r+") as f:
        f["texMU"] = np.zeros((10344, 1))
    with pytest.raises(Extreme3DError, match="'texPC': missing"):
        load_model(out)
    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    with pytest.raises(Extreme3DError, match=r"junk\.h5: not a readable HDF5"):
        load_model(junk)


def test_missing_default_model_says_how_to_make_it(tmp_path, monkeypatch):
    monkeypatch.setenv("EXTREME3D_MODEL_DIR", str(tmp_path))
    assert default_model_path() == tmp_path / "BaselFaceModel_mod.h5"
    with pytest.raises(Extreme3DError) as exc:
        load_model()
    text = str(exc.value)
    assert "BaselFaceModel_mod.h5: model file not found" in text and "\n" not in text
    assert "prepare-model bfm" in text and "prepare-model sfm" in text and "Basel" in text
    with pytest.raises(Extreme3DError, match=r"other\.h5: model file not found; check the path"):
        load_model(tmp_path / "other.h5")


def test_landmark_indices_follow_yaw_rule(sfm_model):
    m = sfm_model
    inner, outer = m.inner_landmarks, m.outer_landmarks
    np.testing.assert_array_equal(landmark_indices(m, 0.0), outer)
    np.testing.assert_array_equal(landmark_indices(m, math.pi / 2), outer)
    small = landmark_indices(m, 0.2)  # 0 < yaw < pi/9: positions 0-7 inner
    np.testing.assert_array_equal(small[:8], inner[:8])
    np.testing.assert_array_equal(small[8:], outer[8:])
    neg = landmark_indices(m, -0.2)  # -pi/9 < yaw < 0: positions 9-16 inner
    np.testing.assert_array_equal(neg[9:17], inner[9:17])
    np.testing.assert_array_equal(neg[:9], outer[:9])
    np.testing.assert_array_equal(neg[17:], outer[17:])
    # with a subset, the test is on the position in the list (as the original)
    ids = np.arange(8, 68)
    sub = landmark_indices(m, 0.2, ids)
    np.testing.assert_array_equal(sub[:8], inner[8:16])
    np.testing.assert_array_equal(sub[8:], outer[16:])
    assert (inner[:17] != outer[:17]).sum() >= 12  # the contour lists really differ
