"""Convert the Basel Face Model 2009 + 3DDFA expressions into BaselFaceModel_mod.h5 (and .mat).

Inputs (PIPELINE.md section 7), the same as the original's 3DMM_model/trimBaselFace.py:
- `01_MorphableModel.mat` (BFM 2009): shapeMU (3N, um), shapePC (3N x 199), shapeEV (199, um),
  texMU, texPC, texEV.
- `Model_Expression.mat` (3DDFA): mu_exp (3M, um), w_exp (3M x 29).
- `mod_struct_expr.mat`: struct `mod_struct` with vertex_indices (1-based BFM vertices kept),
  vertex_expr_ref (1-based expression-model vertex of each BFM vertex), faces, faces_fill,
  pair, innerLandmarkIndex, outerLandmarkIndex (1-based, into the kept vertices), expEV, tx.

Output, for the kept vertices in vertex_indices order (x, y, z interleaved):
shapeMU = BFM shapeMU / 1000 (mm) with tx added to every x; shapePC = the first 99 BFM columns
unchanged; shapeEV = the first 99 BFM eigenvalues / 1000; texMU, texPC[:, :99], texEV[:99]
unchanged; expMU = mu_exp / 1000 and expPC = w_exp / 1000 at the kept vertices' expression
vertices; expEV, faces, faces_fill, pair and the landmark lists copied from mod_struct.
Both MATLAB v5 (scipy) and v7.3 (HDF5) .mat files are read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from extreme3d import Extreme3DError
from extreme3d.prepare.layout import NUM_LANDMARKS, column, write_model_h5

#: Number of identity (and texture) components kept, as the original.
NUM_COMPONENTS = 99
#: Fields of mod_struct the conversion needs.
STRUCT_FIELDS = (
    "vertex_indices", "vertex_expr_ref", "faces", "faces_fill", "pair",
    "innerLandmarkIndex", "outerLandmarkIndex", "expEV", "tx",
)


#: How to obtain each input (appended to "file not found" errors).
BFM_HINT = "download the Basel Face Model 2009 (https://faces.dmi.unibas.ch/bfm/, registration)"
EXPRESSION_HINT = (
    "run the 3DDFA code (http://www.cbsr.ia.ac.cn/users/xiangyuzhu/projects/3DDFA/Code/3DDFA.zip)"
    " to generate it"
)
STRUCT_HINT = "get it with `extreme3d fetch-models bfm-struct`"


def _require(path: Path, hint: str) -> Path:
    """path, or a one-line error saying the file is missing and how to obtain it."""
    if not path.is_file():
        raise Extreme3DError(f"{path}: file not found; {hint}")
    return path


def _from_h5(obj) -> object:
    """A v7.3 .mat HDF5 object as numpy (MATLAB's column-major arrays transposed back) or dict."""
    import h5py

    if isinstance(obj, h5py.Group):
        return {k: _from_h5(v) for k, v in obj.items() if not k.startswith("#")}
    data = np.asarray(obj[()])
    if data.ndim >= 2:
        data = data.T
    return np.squeeze(data)


def _from_scipy(value) -> object:
    """A scipy.io.loadmat value (mat_struct objects included) as numpy or dict."""
    from scipy.io.matlab import mat_struct

    if isinstance(value, mat_struct):
        return {name: _from_scipy(getattr(value, name)) for name in value._fieldnames}
    return value


def load_mat(path: str | Path, names: tuple[str, ...] | None = None) -> dict[str, object]:
    """Variables (all, or only `names`) of a MATLAB .mat file (v5 via scipy, v7.3 via h5py),
    squeezed, structs as dicts; one-line Extreme3DError when the file is missing or unreadable."""
    import h5py
    import scipy.io

    p = Path(path)
    if not p.is_file():
        raise Extreme3DError(f"{p}: file not found")
    if h5py.is_hdf5(p):  # MATLAB v7.3 (HDF5 with a 512-byte MATLAB header block)
        try:
            with h5py.File(p, "r") as f:
                return {
                    k: _from_h5(v) for k, v in f.items()
                    if not k.startswith("#") and (names is None or k in names)
                }
        except (OSError, KeyError, TypeError) as exc:
            raise Extreme3DError(f"{p}: not a readable .mat file ({exc})") from exc
    try:
        raw = scipy.io.loadmat(
            str(p), squeeze_me=True, struct_as_record=False,
            variable_names=list(names) if names is not None else None,
        )
    except (ValueError, TypeError, OSError, NotImplementedError) as exc:
        raise Extreme3DError(f"{p}: not a readable .mat file ({exc})") from exc
    return {k: _from_scipy(v) for k, v in raw.items() if not k.startswith("__")}


def _get(variables: dict, path: Path, name: str) -> np.ndarray:
    """A numeric variable, or an error naming the file and variable."""
    if name not in variables:
        raise Extreme3DError(f"{path}: variable '{name}' missing")
    value = variables[name]
    if isinstance(value, dict) or not np.issubdtype(np.asarray(value).dtype, np.number):
        raise Extreme3DError(f"{path}: variable '{name}' is not a numeric array")
    return np.asarray(value)


def _xyz_rows(vertex_ids_1based: np.ndarray) -> np.ndarray:
    """Rows 3(i-1), 3(i-1)+1, 3(i-1)+2 of each 1-based vertex id, interleaved (x, y, z)."""
    base = 3 * (vertex_ids_1based.astype(np.int64) - 1)
    return (base[:, None] + np.arange(3)[None, :]).reshape(-1)


def _check_rows(path: Path, name: str, array: np.ndarray, rows: np.ndarray) -> None:
    """Raises when rows index past the first axis of array."""
    if rows.size and (rows.min() < 0 or rows.max() >= array.shape[0]):
        raise Extreme3DError(
            f"{path}: variable '{name}' has {array.shape[0]} rows, the trimming structure "
            f"needs row {rows.max() + 1}"
        )


def bfm_arrays(
    bfm_mat: str | Path, expression_mat: str | Path, struct_mat: str | Path
) -> dict[str, np.ndarray]:
    """The h5 datasets (1-based indices) of the trimmed BFM with 3DDFA expressions."""
    bfm_path = _require(Path(bfm_mat), BFM_HINT)
    exp_path = _require(Path(expression_mat), EXPRESSION_HINT)
    struct_path = _require(Path(struct_mat), STRUCT_HINT)
    struct_vars = load_mat(struct_path, ("mod_struct",))
    mod = struct_vars.get("mod_struct")
    if not isinstance(mod, dict):
        raise Extreme3DError(f"{struct_path}: variable 'mod_struct' (a struct) missing")
    for field in STRUCT_FIELDS:
        if field not in mod:
            raise Extreme3DError(f"{struct_path}: field 'mod_struct.{field}' missing")
    ms = {f: np.asarray(mod[f]) for f in STRUCT_FIELDS}
    vertex_indices = ms["vertex_indices"].reshape(-1).astype(np.int64)
    expr_ref = ms["vertex_expr_ref"].reshape(-1).astype(np.int64)
    n_kept = vertex_indices.size
    if n_kept == 0 or expr_ref.size == 0:
        raise Extreme3DError(f"{struct_path}: field 'mod_struct.vertex_indices' or "
                             "'mod_struct.vertex_expr_ref' is empty")
    if vertex_indices.min() < 1 or vertex_indices.max() > expr_ref.size:
        raise Extreme3DError(
            f"{struct_path}: field 'mod_struct.vertex_indices' out of range 1..{expr_ref.size}"
        )
    exp_vertices = expr_ref[vertex_indices - 1]
    if exp_vertices.min() < 1:
        raise Extreme3DError(
            f"{struct_path}: field 'mod_struct.vertex_expr_ref' has no expression vertex for a "
            "kept vertex"
        )

    bfm = load_mat(bfm_path, ("shapeMU", "shapePC", "shapeEV", "texMU", "texPC", "texEV"))
    shape_mu = _get(bfm, bfm_path, "shapeMU").reshape(-1)
    shape_pc = _get(bfm, bfm_path, "shapePC")
    shape_ev = _get(bfm, bfm_path, "shapeEV").reshape(-1)
    tex_mu = _get(bfm, bfm_path, "texMU").reshape(-1)
    tex_pc = _get(bfm, bfm_path, "texPC")
    tex_ev = _get(bfm, bfm_path, "texEV").reshape(-1)
    rows = _xyz_rows(vertex_indices)
    for name, arr in (("shapeMU", shape_mu), ("shapePC", shape_pc), ("texMU", tex_mu),
                      ("texPC", tex_pc)):
        _check_rows(bfm_path, name, arr, rows)
    for name, arr in (("shapePC", shape_pc), ("texPC", tex_pc)):
        if arr.ndim != 2 or arr.shape[1] < NUM_COMPONENTS:
            raise Extreme3DError(
                f"{bfm_path}: variable '{name}' needs at least {NUM_COMPONENTS} columns, "
                f"has shape {arr.shape}"
            )
    for name, arr in (("shapeEV", shape_ev), ("texEV", tex_ev)):
        if arr.size < NUM_COMPONENTS:
            raise Extreme3DError(f"{bfm_path}: variable '{name}' has {arr.size} values, "
                                 f"needs {NUM_COMPONENTS}")

    expr = load_mat(exp_path, ("mu_exp", "w_exp"))
    mu_exp = _get(expr, exp_path, "mu_exp").reshape(-1)
    w_exp = _get(expr, exp_path, "w_exp")
    if w_exp.ndim == 1:
        w_exp = w_exp[:, None]
    exp_rows = _xyz_rows(exp_vertices)
    _check_rows(exp_path, "mu_exp", mu_exp, exp_rows)
    _check_rows(exp_path, "w_exp", w_exp, exp_rows)
    exp_ev = ms["expEV"].reshape(-1).astype(np.float64)
    if exp_ev.size != w_exp.shape[1]:
        raise Extreme3DError(
            f"{struct_path}: field 'mod_struct.expEV' has {exp_ev.size} values, {exp_path} "
            f"w_exp has {w_exp.shape[1]} columns"
        )

    mu = shape_mu[rows].astype(np.float64) / 1000.0
    mu[0::3] += float(ms["tx"].reshape(-1)[0])
    inner = ms["innerLandmarkIndex"].reshape(-1)
    outer = ms["outerLandmarkIndex"].reshape(-1)
    for name, arr in (("innerLandmarkIndex", inner), ("outerLandmarkIndex", outer)):
        if arr.size != NUM_LANDMARKS:
            raise Extreme3DError(
                f"{struct_path}: field 'mod_struct.{name}' has {arr.size} values, "
                f"expected {NUM_LANDMARKS}"
            )
    for name in ("faces", "faces_fill", "pair", "innerLandmarkIndex", "outerLandmarkIndex"):
        idx = ms[name]
        if idx.size and (idx.min() < 1 or idx.max() > n_kept):
            raise Extreme3DError(
                f"{struct_path}: field 'mod_struct.{name}' out of range 1..{n_kept}"
            )
    return {
        "faces": ms["faces"].reshape(-1, 3),
        "faces_fill": ms["faces_fill"].reshape(-1, 3),
        "shapeMU": column(mu),
        "shapePC": shape_pc[rows, :NUM_COMPONENTS],
        "shapeEV": column(shape_ev[:NUM_COMPONENTS].astype(np.float64) / 1000.0),
        "texMU": column(tex_mu[rows]),
        "texPC": tex_pc[rows, :NUM_COMPONENTS],
        "texEV": column(tex_ev[:NUM_COMPONENTS]),
        "expMU": column(mu_exp[exp_rows].astype(np.float64) / 1000.0),
        "expPC": w_exp[exp_rows, :].astype(np.float64) / 1000.0,
        "expEV": column(exp_ev),
        "pair": ms["pair"].reshape(-1),
        "innerLandmarkIndex": column(inner),
        "outerLandmarkIndex": column(outer),
    }


def convert_bfm(
    bfm_mat: str | Path,
    expression_mat: str | Path,
    struct_mat: str | Path,
    out_h5: str | Path,
    write_mat: bool = True,
) -> Path:
    """Writes out_h5 (and, as the original, the same arrays as struct `BFM` in out_h5 with the
    suffix .mat unless write_mat is False); returns the h5 path."""
    arrays = bfm_arrays(bfm_mat, expression_mat, struct_mat)
    out = write_model_h5(out_h5, arrays)
    if write_mat:
        import scipy.io

        scipy.io.savemat(str(out.with_suffix(".mat")), {"BFM": arrays}, do_compression=False)
    return out
