"""BFM + 3DDFA conversion on a small synthetic model whose trimming structure is a reduced copy
of the real mod_struct_expr.mat (indices remapped), checked value by value."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from extreme3d import Extreme3DError
from extreme3d.cli import main as cli_main
from extreme3d.morphable import load_model
from extreme3d.prepare.bfm import bfm_arrays, convert_bfm, load_mat

N_PC = 120  # synthetic BFM components (the real one has 199; the converter keeps 99)
N_EXP = 29


@pytest.fixture(scope="module")
def real_struct(shared: Path) -> dict:
    """The real trimming structure (shared/models/bfm/mod_struct_expr.mat) as a dict."""
    path = shared / "models" / "bfm" / "mod_struct_expr.mat"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return load_mat(path)["mod_struct"]


def _reduced_struct(real: dict, rng: np.random.Generator) -> tuple[dict, int, int]:
    """A small struct with the real one's layout: a subset of kept vertices (all landmarks and
    the vertices of some faces), its faces/pairs/landmarks remapped, mapped into a synthetic
    BFM of n_bfm vertices and a synthetic expression model of n_exp vertices."""
    inner = real["innerLandmarkIndex"].astype(np.int64)
    outer = real["outerLandmarkIndex"].astype(np.int64)
    faces = real["faces"].astype(np.int64)
    subset = set(inner) | set(outer) | set(faces[:150].ravel())
    keep = np.array(sorted(subset))  # 1-based trimmed ids
    new_id = {int(k): i + 1 for i, k in enumerate(keep)}
    remap = np.vectorize(lambda k: new_id[int(k)])

    def faces_within(f):
        ok = np.isin(f, keep).all(axis=1)
        return remap(f[ok]).astype(np.uint16)

    real_pair = real["pair"].astype(np.int64)
    pair = np.array([new_id.get(int(real_pair[k - 1]), new_id[int(k)]) for k in keep])
    n_kept = keep.size
    n_bfm, n_exp = n_kept + 20, n_kept + 10
    vertex_indices = rng.permutation(n_bfm)[:n_kept] + 1
    expr_ref = np.full(n_bfm, -1, dtype=np.int32)
    expr_ref[vertex_indices - 1] = rng.permutation(n_exp)[:n_kept] + 1
    struct = {
        "tx": float(real["tx"]),
        "vertex_indices": vertex_indices.astype(np.uint16),
        "innerLandmarkIndex": remap(inner).astype(np.uint16),
        "outerLandmarkIndex": remap(outer).astype(np.uint16),
        "expEV": np.asarray(real["expEV"], dtype=np.float64),
        "faces": faces_within(faces),
        "faces_fill": faces_within(real["faces_fill"].astype(np.int64)),
        "vertex_expr_ref": expr_ref,
        "pair": pair.astype(np.uint16),
    }
    return struct, n_bfm, n_exp


@pytest.fixture(scope="module")
def synthetic(real_struct, tmp_path_factory) -> dict:
    """Synthetic 01_MorphableModel.mat, Model_Expression.mat and reduced mod_struct_expr.mat,
    written both as MATLAB v5 (scipy) and v7.3-style HDF5 files."""
    rng = np.random.default_rng(7)
    struct, n_bfm, n_exp = _reduced_struct(real_struct, rng)
    bfm = {
        "shapeMU": (rng.normal(size=(3 * n_bfm, 1)) * 5e4).astype(np.float32),
        "shapePC": rng.normal(size=(3 * n_bfm, N_PC)).astype(np.float32),
        "shapeEV": (rng.uniform(1e3, 1e5, size=(N_PC, 1))).astype(np.float32),
        "texMU": rng.uniform(0, 255, size=(3 * n_bfm, 1)).astype(np.float32),
        "texPC": rng.normal(size=(3 * n_bfm, N_PC)).astype(np.float32),
        "texEV": rng.uniform(1, 50, size=(N_PC, 1)).astype(np.float32),
    }
    expr = {
        "mu_exp": rng.normal(size=(3 * n_exp, 1)) * 1e3,
        "w_exp": rng.normal(size=(3 * n_exp, N_EXP)) * 1e3,
    }
    d = tmp_path_factory.mktemp("bfm")
    v5 = {"bfm": d / "v5_bfm.mat", "expr": d / "v5_expr.mat", "struct": d / "v5_struct.mat"}
    scipy.io.savemat(v5["bfm"], bfm)
    scipy.io.savemat(v5["expr"], expr)
    scipy.io.savemat(v5["struct"], {"mod_struct": struct})
    v73 = {"bfm": d / "v73_bfm.mat", "expr": d / "v73_expr.mat", "struct": d / "v73_struct.mat"}

    def write_v73(path, variables):
        # MATLAB v7.3 = HDF5 after a 512-byte header, column-major arrays (dims reversed),
        # structs as groups.
        with h5py.File(path, "w", userblock_size=512) as f:
            for name, value in variables.items():
                if isinstance(value, dict):
                    g = f.create_group(name)
                    for k, v in value.items():
                        g[k] = np.atleast_2d(np.asarray(v)).T
                else:
                    f[name] = np.atleast_2d(value).T
        with open(path, "r+b") as f:
            f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, synthetic HDF5 schema 1.00 .")

    write_v73(v73["bfm"], bfm)
    write_v73(v73["expr"], expr)
    write_v73(v73["struct"], {"mod_struct": struct})
    return {"struct": struct, "bfm": bfm, "expr": expr, "v5": v5, "v73": v73}


def _expected(syn: dict) -> dict:
    """The output arrays computed vertex by vertex from the definition (PIPELINE.md 7)."""
    s, bfm, expr = syn["struct"], syn["bfm"], syn["expr"]
    n = s["vertex_indices"].size
    out = {k: [] for k in ("shapeMU", "shapePC", "texMU", "texPC", "expMU", "expPC")}
    for j in range(n):
        b = int(s["vertex_indices"][j]) - 1
        e = int(s["vertex_expr_ref"][b]) - 1
        for c in range(3):
            tx = s["tx"] if c == 0 else 0.0
            out["shapeMU"].append(bfm["shapeMU"][3 * b + c, 0] / 1000.0 + tx)
            out["shapePC"].append(bfm["shapePC"][3 * b + c, :99])
            out["texMU"].append(bfm["texMU"][3 * b + c, 0])
            out["texPC"].append(bfm["texPC"][3 * b + c, :99])
            out["expMU"].append(expr["mu_exp"][3 * e + c, 0] / 1000.0)
            out["expPC"].append(expr["w_exp"][3 * e + c] / 1000.0)
    out = {k: np.array(v) for k, v in out.items()}
    out["shapeEV"] = bfm["shapeEV"][:99, 0] / 1000.0
    out["texEV"] = bfm["texEV"][:99, 0]
    out["expEV"] = s["expEV"]
    return out


@pytest.mark.parametrize("version", ["v5", "v73"])
def test_bfm_arrays_match_definition(synthetic, version):
    files = synthetic[version]
    arrays = bfm_arrays(files["bfm"], files["expr"], files["struct"])
    want = _expected(synthetic)
    for name, value in want.items():
        got = np.asarray(arrays[name], dtype=np.float64).reshape(np.shape(value))
        np.testing.assert_allclose(got, value, rtol=1e-6, atol=1e-6, err_msg=name)
    s = synthetic["struct"]
    for name in ("faces", "faces_fill", "pair", "innerLandmarkIndex", "outerLandmarkIndex"):
        np.testing.assert_array_equal(
            np.asarray(arrays[name]).reshape(np.shape(s[name])), s[name], err_msg=name
        )
    assert arrays["shapePC"].shape == (3 * s["vertex_indices"].size, 99)
    assert arrays["expPC"].shape == (3 * s["vertex_indices"].size, N_EXP)


def test_convert_writes_h5_and_mat_that_load(synthetic, tmp_path):
    files = synthetic["v5"]
    out = convert_bfm(files["bfm"], files["expr"], files["struct"], tmp_path / "m.h5")
    assert out.is_file() and out.with_suffix(".mat").is_file()
    with h5py.File(out) as f:
        assert f["shapeMU"].shape == (3 * synthetic["struct"]["vertex_indices"].size, 1)
        assert f["shapeEV"].shape == (99, 1) and f["expEV"].shape == (N_EXP, 1)
        assert f["innerLandmarkIndex"].shape == (68, 1)
    model = load_model(out)
    want = _expected(synthetic)
    np.testing.assert_allclose(model.shape_mu, want["shapeMU"], rtol=1e-6, atol=1e-4)
    np.testing.assert_array_equal(model.faces, synthetic["struct"]["faces"].astype(int) - 1)
    np.testing.assert_array_equal(
        model.outer_landmarks, synthetic["struct"]["outerLandmarkIndex"].astype(int) - 1
    )
    assert model.has_texture and model.tex_pc.shape[1] == 99
    mat = scipy.io.loadmat(out.with_suffix(".mat"), squeeze_me=True, struct_as_record=False)
    np.testing.assert_allclose(mat["BFM"].shapeMU, want["shapeMU"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(mat["BFM"].expPC, want["expPC"], rtol=1e-6, atol=1e-6)


def test_missing_inputs_say_how_to_get_them(synthetic, tmp_path):
    files = synthetic["v5"]
    with pytest.raises(Extreme3DError, match="01_MorphableModel.mat: file not found.*Basel"):
        convert_bfm(tmp_path / "01_MorphableModel.mat", files["expr"], files["struct"],
                    tmp_path / "m.h5")
    with pytest.raises(Extreme3DError, match="3DDFA"):
        convert_bfm(files["bfm"], tmp_path / "Model_Expression.mat", files["struct"],
                    tmp_path / "m.h5")
    with pytest.raises(Extreme3DError, match="fetch-models bfm-struct"):
        convert_bfm(files["bfm"], files["expr"], tmp_path / "mod_struct_expr.mat",
                    tmp_path / "m.h5")
    assert not (tmp_path / "m.h5").exists()


def test_broken_inputs_name_file_and_variable(synthetic, tmp_path):
    files = synthetic["v5"]
    s = dict(synthetic["struct"])
    del s["pair"]
    scipy.io.savemat(tmp_path / "nopair.mat", {"mod_struct": s})
    with pytest.raises(Extreme3DError, match=r"nopair\.mat: field 'mod_struct\.pair' missing"):
        bfm_arrays(files["bfm"], files["expr"], tmp_path / "nopair.mat")

    s = dict(synthetic["struct"])
    s["vertex_indices"] = s["vertex_indices"].astype(np.int64) + 10_000
    scipy.io.savemat(tmp_path / "range.mat", {"mod_struct": s})
    with pytest.raises(Extreme3DError, match="vertex_indices' out of range"):
        bfm_arrays(files["bfm"], files["expr"], tmp_path / "range.mat")

    s["vertex_indices"] = np.zeros(0, np.int64)
    scipy.io.savemat(tmp_path / "empty.mat", {"mod_struct": s})
    with pytest.raises(Extreme3DError, match=r"empty\.mat: field 'mod_struct\.vertex_indices'"):
        bfm_arrays(files["bfm"], files["expr"], tmp_path / "empty.mat")

    bad = dict(synthetic["bfm"])
    del bad["shapeEV"]
    scipy.io.savemat(tmp_path / "noev.mat", bad)
    with pytest.raises(Extreme3DError, match=r"noev\.mat: variable 'shapeEV' missing"):
        bfm_arrays(tmp_path / "noev.mat", files["expr"], files["struct"])

    (tmp_path / "junk.mat").write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(Extreme3DError, match=r"junk\.mat: not a readable \.mat file"):
        bfm_arrays(tmp_path / "junk.mat", files["expr"], files["struct"])


def test_cli_prepare_model_bfm(synthetic, tmp_path, capsys):
    files = synthetic["v73"]
    out = tmp_path / "cli.h5"
    args = ["prepare-model", "bfm", "--bfm", str(files["bfm"]), "--expression",
            str(files["expr"]), "--struct", str(files["struct"]), "--out", str(out), "--no-mat"]
    assert cli_main(args) == 0
    assert out.is_file() and not out.with_suffix(".mat").exists()
    assert load_model(out).num_expr == N_EXP
    args[args.index("--bfm") + 1] = str(tmp_path / "none.mat")
    assert cli_main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "none.mat: file not found" in err[0]
