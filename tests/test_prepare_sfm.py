"""Surrey Face Model -> BaselFaceModel_mod.h5 layout: round trip against eos and the mapping."""

from __future__ import annotations

import tomllib
from pathlib import Path

import h5py
import numpy as np
import pytest

from extreme3d.cli import main as cli_main
from extreme3d.prepare import sfm as sfm_mod


@pytest.fixture(scope="module")
def eos_model(sfm_dir: Path):
    """The Surrey shape model and blendshapes as eos itself reads them (the reference)."""
    eos = pytest.importorskip("eos")
    model = eos.morphablemodel.load_model(str(sfm_dir / "sfm_shape_3448.bin"))
    blend = eos.morphablemodel.load_blendshapes(str(sfm_dir / "expression_blendshapes_3448.bin"))
    return model.get_shape_model(), blend


@pytest.fixture(scope="module")
def mapping(sfm_dir: Path) -> dict[int, int]:
    """ibug_to_sfm.txt: 1-based iBUG number -> SFM vertex (as eos uses it, 0-based)."""
    table = tomllib.loads((sfm_dir / "ibug_to_sfm.txt").read_text())["landmark_mappings"]
    return {int(k): int(v) for k, v in table.items()}


def test_h5_layout_as_the_original_reads_it(sfm_h5: Path):
    with h5py.File(sfm_h5) as f:
        assert f["shapeMU"].shape == (3 * 3448, 1) and f["shapePC"].shape == (3 * 3448, 63)
        assert f["shapeEV"].shape == (63, 1) and f["expPC"].shape == (3 * 3448, 6)
        assert f["expEV"].shape == (6, 1) and f["expMU"].shape == (3 * 3448, 1)
        assert f["innerLandmarkIndex"].shape == (68, 1) and f["pair"].shape == (3448,)
        assert np.asarray(f["faces"]).min() == 1  # 1-based as the original
        assert "texMU" not in f  # the SFM has no colour model


def test_shape_model_round_trip(sfm_model, eos_model):
    shape, _ = eos_model
    mean = np.asarray(shape.get_mean())
    np.testing.assert_allclose(sfm_model.shape_mu, mean, atol=1e-4)
    np.testing.assert_allclose(sfm_model.shape_ev ** 2, np.asarray(shape.get_eigenvalues()),
                               rtol=1e-5)
    rng = np.random.default_rng(3)
    alpha = rng.normal(size=63).astype(np.float32)
    sample = np.asarray(shape.draw_sample(alpha.tolist())).reshape(-1, 3)
    np.testing.assert_allclose(sfm_model.shape(alpha), sample, atol=1e-3)
    np.testing.assert_array_equal(sfm_model.faces, np.asarray(shape.get_triangle_list()))


def test_cereal_reader_rejects_broken_archives(sfm_dir, tmp_path):
    from extreme3d import Extreme3DError

    for name in (sfm_mod.SHAPE_FILE, sfm_mod.BLENDSHAPES_FILE):
        data = (sfm_dir / name).read_bytes()
        broken = tmp_path / name
        broken.write_bytes(data[: len(data) // 2])
        is_shape = name == sfm_mod.SHAPE_FILE
        reader = sfm_mod.read_shape_model if is_shape else sfm_mod.read_blendshapes
        with pytest.raises(Extreme3DError, match=rf"{name}: (truncated|not an eos)"):
            reader(broken)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\xff" * 64)
    with pytest.raises(Extreme3DError, match="junk.bin: not an eos model file"):
        sfm_mod.read_shape_model(junk)


def test_expression_blendshapes(sfm_model, eos_model, sfm_dir):
    _, blend = eos_model
    names, _ = sfm_mod.read_blendshapes(sfm_dir / sfm_mod.BLENDSHAPES_FILE)
    assert names == ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
    assert sfm_model.num_expr == len(blend) == 6
    np.testing.assert_array_equal(sfm_model.exp_ev, np.ones(6))
    np.testing.assert_array_equal(sfm_model.exp_mu, np.zeros_like(sfm_model.exp_mu))
    for k, b in enumerate(blend):
        e = np.zeros(6, dtype=np.float32)
        e[k] = 1.0
        delta = sfm_model.shape(None, e) - sfm_model.shape()
        np.testing.assert_allclose(delta.reshape(-1), np.asarray(b.deformation), atol=1e-4)


def test_orientation_like_bfm(sfm_model, mapping):
    v = sfm_model.shape()
    nose, chin = v[mapping[31]], v[mapping[9]]
    right_eye, left_eye = v[mapping[37]], v[mapping[46]]
    assert nose[2] > v[:, 2].max() - 1.0  # z towards the viewer: the nose tip is in front
    assert chin[1] < nose[1] < right_eye[1]  # y up
    assert right_eye[0] < 0 < left_eye[0]  # subject's right at x < 0, as the BFM
    assert 80 < left_eye[0] - right_eye[0] < 110  # millimetres


def test_landmarks_point_at_the_mapped_vertices(sfm_model, mapping):
    for ibug, vertex in mapping.items():
        assert sfm_model.outer_landmarks[ibug - 1] == vertex, ibug
        assert sfm_model.inner_landmarks[ibug - 1] == vertex, ibug


def test_contour_and_missing_landmarks(sfm_model, sfm_dir):
    import json

    contours = json.loads((sfm_dir / "sfm_model_contours.json").read_text())["model_contour"]
    v = sfm_model.shape()
    inner, outer = sfm_model.inner_landmarks, sfm_model.outer_landmarks
    assert set(outer[:8]) <= set(contours["right_contour"])
    assert set(outer[9:17]) <= set(contours["left_contour"])
    assert (v[outer[:8], 0] < 0).all() and (v[outer[9:17], 0] > 0).all()
    # contour points run down the jaw towards the chin
    assert (np.diff(v[outer[:9], 1]) < 0).all() and (np.diff(v[outer[8:17], 1]) > 0).all()
    # inner points lie nearer the face centre (in front of / inside the jaw line)
    ids = list(range(8)) + list(range(9, 17))
    assert (np.abs(v[inner[ids], 0]) <= np.abs(v[outer[ids], 0]) + 3.0).all()
    assert (v[inner[ids], 2] > v[outer[ids], 2]).sum() >= 12
    assert v[inner[ids], 2].mean() > v[outer[ids], 2].mean() + 8.0
    assert (inner[ids] != outer[ids]).sum() >= 12
    # 61 and 65 (not in the mapping) lie on the mouth opening, left of / right of the others
    border = set(np.concatenate(sorted(sfm_mod.border_loops(sfm_model.faces), key=len)[:-1]))
    for i in range(60, 68):
        assert outer[i] in border, i + 1
    assert v[outer[60], 0] <= v[outer[61], 0] and v[outer[64], 0] >= v[outer[63], 0]


def test_pairs_mirror_the_mean(sfm_model):
    v = sfm_model.shape().astype(np.float64)
    pair = sfm_model.pair
    n = len(pair)
    mutual = pair[pair] == np.arange(n)
    assert mutual.mean() > 0.995
    dist = np.linalg.norm(v[pair] * [-1, 1, 1] - v, axis=1)
    assert abs(np.median(dist) - 0.41) < 0.05 and dist.max() < 5.0
    assert 80 <= (pair == np.arange(n)).sum() <= 90
    # the plain mirror nearest neighbours have PIPELINE.md's statistics
    nn, d = sfm_mod.mirror_neighbours(v)
    assert abs(np.median(d) - 0.41) < 0.02 and abs(d.max() - 2.3) < 0.1
    assert abs((nn[nn] == np.arange(n)).mean() - 0.984) < 0.003
    assert (nn == np.arange(n)).sum() == 84
    # mutual plain neighbours are kept as they are
    keep = nn[nn] == np.arange(n)
    np.testing.assert_array_equal(pair[keep], nn[keep])


def test_faces_fill_closes_the_mouth(sfm_model):
    v = sfm_model.shape()
    assert len(sfm_mod.border_loops(sfm_model.faces)) == 2
    assert len(sfm_mod.border_loops(sfm_model.faces_fill)) == 1
    extra = sfm_model.faces_fill[len(sfm_model.faces):]
    np.testing.assert_array_equal(sfm_model.faces_fill[: len(sfm_model.faces)], sfm_model.faces)
    p = v[extra]
    nz = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])[:, 2]
    assert len(extra) > 0 and (nz > 0).all()


def test_fill_holes_on_a_square_with_a_hole():
    # 4x4 grid of vertices with the centre quad missing: one inner hole of 4 vertices
    xs, ys = np.meshgrid(np.arange(4.0), np.arange(4.0))
    verts = np.column_stack([xs.ravel(), ys.ravel(), np.zeros(16)])
    tris = []
    for r in range(3):
        for c in range(3):
            if (r, c) == (1, 1):
                continue
            a, b, d, e = 4 * r + c, 4 * r + c + 1, 4 * (r + 1) + c, 4 * (r + 1) + c + 1
            tris += [(a, b, e), (a, e, d)]
    tris = np.array(tris)
    filled = sfm_mod.fill_holes(verts, tris)
    assert len(filled) == len(tris) + 2
    assert len(sfm_mod.border_loops(filled)) == 1


def test_cli_prepare_model_sfm(sfm_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "m.h5"
    assert cli_main(["prepare-model", "sfm", "--src", str(sfm_dir), "--out", str(out)]) == 0
    assert out.is_file()
    monkeypatch.setenv("EXTREME3D_MODEL_DIR", str(tmp_path / "models"))
    assert cli_main(["prepare-model", "sfm"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "sfm_shape_3448.bin" in err[0] and "fetch-models sfm" in err[0]
