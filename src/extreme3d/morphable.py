"""The morphable face model: loading BaselFaceModel_mod.h5 (validated), synthesis, landmark lists.

In Python every index array is 0-based (the file is 1-based, as the original's). Vectors of
length 3V interleave x, y, z per vertex. Units: millimetres, model coordinates (y up, z towards
the viewer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from extreme3d import Extreme3DError
from extreme3d.paths import BFM_MODEL_FILE, model_dir
from extreme3d.prepare.layout import NUM_LANDMARKS, REQUIRED, TEXTURE

if TYPE_CHECKING:
    from extreme3d import _core

#: File name of the default model, in paths.model_dir() (3DMM_model/).
DEFAULT_MODEL_NAME = BFM_MODEL_FILE

#: One-line hint printed when the default model file is missing.
MAKE_MODEL_HINT = (
    "make it with `extreme3d prepare-model bfm --bfm 01_MorphableModel.mat --expression "
    "Model_Expression.mat --struct mod_struct_expr.mat` (Basel Face Model 2009 from "
    "https://faces.dmi.unibas.ch/bfm/ and the 3DDFA Model_Expression.mat; see 3DMM_model/README.md)"
    ", or use the open Surrey model: `extreme3d fetch-models sfm && extreme3d prepare-model sfm`"
)


def default_model_path() -> Path:
    """The default model file: <model_dir>/BaselFaceModel_mod.h5."""
    return model_dir() / DEFAULT_MODEL_NAME


@dataclass(frozen=True, eq=False)
class MorphableModel:
    """Shape + expression (+ optional texture) morphable model, 0-based indices, float32 mm."""

    shape_mu: np.ndarray  # (3V,)
    shape_pc: np.ndarray  # (3V, K)
    shape_ev: np.ndarray  # (K,) standard deviations
    exp_mu: np.ndarray  # (3V,)
    exp_pc: np.ndarray  # (3V, E)
    exp_ev: np.ndarray  # (E,)
    tex_mu: np.ndarray | None  # (3V,) 0..255 or None
    tex_pc: np.ndarray | None  # (3V, T)
    tex_ev: np.ndarray | None  # (T,)
    faces: np.ndarray  # (F, 3) int32
    faces_fill: np.ndarray  # (F2, 3) int32
    pair: np.ndarray  # (V,) int32
    inner_landmarks: np.ndarray  # (68,) int32
    outer_landmarks: np.ndarray  # (68,) int32
    path: Path | None = None

    @property
    def num_vertices(self) -> int:
        """Number of vertices V."""
        return self.shape_mu.size // 3

    @property
    def num_shape(self) -> int:
        """Number of identity coefficients K."""
        return self.shape_ev.size

    @property
    def num_expr(self) -> int:
        """Number of expression coefficients E."""
        return self.exp_ev.size

    @property
    def has_texture(self) -> bool:
        """Whether the model has a colour model."""
        return self.tex_mu is not None

    @cached_property
    def core(self) -> _core.FaceModel:
        """The model as a C++ `extreme3d._core.FaceModel` (built once, cached)."""
        from extreme3d import _core

        return _core.FaceModel(
            self.shape_mu, self.shape_pc, self.shape_ev, self.exp_mu, self.exp_pc, self.exp_ev,
            self.faces, self.faces_fill, self.pair, self.inner_landmarks, self.outer_landmarks,
        )

    def identity(self, alpha: np.ndarray | None = None) -> np.ndarray:
        """Identity shape (3V,) = shape_mu + shape_pc (alpha * shape_ev); alpha in std units."""
        if alpha is None:
            return self.shape_mu.copy()
        a = _coefficients(alpha, self.num_shape, "alpha")
        return self.shape_mu + self.shape_pc @ (a * self.shape_ev)

    def expression(self, expr: np.ndarray | None = None) -> np.ndarray:
        """Expression offset (3V,) = exp_mu + exp_pc (expr * exp_ev)."""
        if expr is None:
            return self.exp_mu.copy()
        e = _coefficients(expr, self.num_expr, "expr")
        return self.exp_mu + self.exp_pc @ (e * self.exp_ev)

    def shape(self, alpha: np.ndarray | None = None, expr: np.ndarray | None = None) -> np.ndarray:
        """Vertices (V, 3) float32 mm of identity alpha and expression expr (None = mean/neutral
        mean, i.e. shape_mu + exp_mu as the original's foundation)."""
        flat = self.identity(alpha) + self.expression(expr)
        return flat.reshape(-1, 3).astype(np.float32, copy=False)

    def texture(self, beta: np.ndarray | None = None) -> np.ndarray | None:
        """Vertex colours (V, 3) float32 = clip(tex_mu + tex_pc (beta * tex_ev), 0, 255), or None
        when the model has no colour model."""
        if self.tex_mu is None:
            return None
        flat = self.tex_mu.copy()
        if beta is not None and self.tex_ev.size:
            b = _coefficients(beta, self.tex_ev.size, "beta")
            flat = flat + self.tex_pc @ (b * self.tex_ev)
        return np.clip(flat, 0.0, 255.0).reshape(-1, 3).astype(np.float32, copy=False)


def _coefficients(values, n: int, name: str) -> np.ndarray:
    """Coefficient vector of length n (float32); a shorter one is zero-padded, longer rejected."""
    v = np.asarray(values, dtype=np.float32).reshape(-1)
    if v.size > n:
        raise ValueError(f"{name} has {v.size} coefficients, the model has {n}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name} has non-finite coefficients")
    if v.size < n:
        v = np.concatenate([v, np.zeros(n - v.size, dtype=np.float32)])
    return v


def landmark_indices(
    model: MorphableModel, yaw: float, ids: npt.ArrayLike | None = None
) -> np.ndarray:
    """Vertex ids (0-based) of the 3D landmarks for a face at yaw (rad, yaw = -rvec[1]).

    As the original: position p in the list (not the landmark number) takes the inner index
    when 0 < yaw < pi/9 and p < 8, or when -pi/9 < yaw < 0 and 8 < p < 17; otherwise the
    outer index. ids: the selected iBUG landmark numbers (0-based), default all 68; with a
    subset, the test on the position reproduces the original's behaviour exactly.
    """
    sel = np.arange(NUM_LANDMARKS) if ids is None else np.asarray(ids, dtype=np.int64).reshape(-1)
    pos = np.arange(sel.size)
    use_inner = ((yaw > 0) & (yaw < math.pi / 9) & (pos < 8)) | (
        (yaw < 0) & (yaw > -math.pi / 9) & (pos > 8) & (pos < 17)
    )
    return np.where(use_inner, model.inner_landmarks[sel], model.outer_landmarks[sel]).astype(
        np.int32
    )


# --- loading and validation --------------------------------------------------------------------


def _error(path: Path, dataset: str, problem: str) -> Extreme3DError:
    """A one-line loader error naming the file and dataset."""
    return Extreme3DError(f"{path}: dataset '{dataset}': {problem}")


def _vector(path: Path, name: str, data: np.ndarray, size: int | None) -> np.ndarray:
    """A dataset that must be a vector (N, (N,1) or (1,N)) of the given size."""
    if data.ndim > 2 or (data.ndim == 2 and 1 not in data.shape):
        raise _error(path, name, f"expected a vector, got shape {data.shape}")
    v = data.reshape(-1)
    if size is not None and v.size != size:
        raise _error(path, name, f"expected {size} values, got {v.size} (shape {data.shape})")
    return v


def _matrix(path: Path, name: str, data: np.ndarray, rows: int, cols: int | None) -> np.ndarray:
    """A dataset that must be a rows x cols matrix (cols None: any)."""
    if data.ndim == 1 and cols in (None, 1) and data.size == rows:
        data = data.reshape(rows, 1)
    if data.ndim != 2 or data.shape[0] != rows or (cols is not None and data.shape[1] != cols):
        want = f"({rows}, {cols if cols is not None else 'K'})"
        raise _error(path, name, f"expected shape {want}, got {data.shape}")
    return data


#: Largest magnitude accepted in a model's float datasets (mm, standard deviations, colours).
MAX_MODEL_VALUE = 1e9


def _finite(path: Path, name: str, data: np.ndarray) -> np.ndarray:
    """data as float32, rejecting NaN/inf (checked after the cast: 1e300 overflows float32) and
    values beyond MAX_MODEL_VALUE."""
    if not np.issubdtype(data.dtype, np.number) or np.issubdtype(data.dtype, np.complexfloating):
        raise _error(path, name, f"expected real numbers, got dtype {data.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.ascontiguousarray(data, dtype=np.float32)
    if not np.all(np.isfinite(out)):
        raise _error(path, name, "contains NaN or infinite values (as float32)")
    if out.size and float(np.abs(out).max()) > MAX_MODEL_VALUE:
        raise _error(path, name, f"has values beyond {MAX_MODEL_VALUE:g} in magnitude")
    return out


def _dataset_bytes(path: Path, f, names: tuple[str, ...]) -> None:
    """Checks the datasets' declared shapes and dtypes before reading any (bounded memory)."""
    import h5py

    from extreme3d.io.safe_read import limit

    total = 0
    for name in names:
        obj = f.get(name)
        if obj is None:
            continue
        if not isinstance(obj, h5py.Dataset):
            raise _error(path, name, "is a group, expected a dataset")
        if obj.dtype.kind not in "biuf" or obj.ndim > 2:
            raise _error(path, name, f"expected a numeric vector or matrix, got dtype {obj.dtype} "
                         f"shape {obj.shape}")
        total += int(np.prod(obj.shape, dtype=np.float64)) * max(obj.dtype.itemsize, 4)
    most = limit("EXTREME3D_MAX_MODEL_BYTES")
    if total > most:
        raise Extreme3DError(f"{path}: model datasets declare {total} bytes, more than the limit "
                             f"{most} (EXTREME3D_MAX_MODEL_BYTES)")


def _indices(path: Path, name: str, data: np.ndarray, n: int) -> np.ndarray:
    """1-based indices in the file -> 0-based int32, checking they are integers in 1..n."""
    if not np.issubdtype(data.dtype, np.number):
        raise _error(path, name, f"expected numbers, got dtype {data.dtype}")
    d = np.asarray(data, dtype=np.float64)
    if not np.all(np.isfinite(d)):
        raise _error(path, name, "contains NaN or infinite values")
    if d.size and not np.all(d == np.round(d)):
        raise _error(path, name, "indices must be whole numbers")
    if d.size and (d.min() < 1 or d.max() > n):
        raise _error(
            path, name, f"index out of range: values {d.min():g}..{d.max():g}, expected 1..{n} "
            "(1-based)"
        )
    return np.ascontiguousarray(d - 1, dtype=np.int32)


def load_model(path: str | Path | None = None) -> MorphableModel:
    """Loads and validates a model in the BaselFaceModel_mod.h5 layout (default: the one in
    3DMM_model/); every problem is an Extreme3DError naming the file and dataset."""
    import h5py

    from extreme3d.io.safe_read import check_regular_file

    p = Path(path) if path is not None else default_model_path()
    if not p.exists():
        hint = MAKE_MODEL_HINT if p.name == DEFAULT_MODEL_NAME else "check the path"
        raise Extreme3DError(f"{p}: model file not found; {hint}")
    check_regular_file(p, "model file")
    try:
        f = h5py.File(p, "r")
    except OSError as exc:
        raise Extreme3DError(f"{p}: not a readable HDF5 model file ({exc})") from exc
    with f:
        _dataset_bytes(p, f, REQUIRED + TEXTURE)
        raw: dict[str, np.ndarray] = {}
        for name in REQUIRED + TEXTURE:
            if name not in f:
                continue
            obj = f[name]
            if not isinstance(obj, h5py.Dataset):
                raise _error(p, name, "is a group, expected a dataset")
            raw[name] = np.asarray(obj[()])
    for name in REQUIRED:
        if name not in raw:
            raise _error(p, name, "missing")
    tex_present = [n for n in TEXTURE if n in raw]
    if tex_present and len(tex_present) != len(TEXTURE):
        missing = next(n for n in TEXTURE if n not in raw)
        raise _error(p, missing, "missing (texture datasets come as texMU, texPC, texEV together)")

    shape_mu = _finite(p, "shapeMU", _vector(p, "shapeMU", raw["shapeMU"], None))
    if shape_mu.size == 0 or shape_mu.size % 3:
        raise _error(p, "shapeMU", f"expected 3V values (x, y, z per vertex), got {shape_mu.size}")
    n3 = shape_mu.size
    nv = n3 // 3
    shape_pc = _finite(p, "shapePC", _matrix(p, "shapePC", raw["shapePC"], n3, None))
    shape_ev = _finite(p, "shapeEV", _vector(p, "shapeEV", raw["shapeEV"], shape_pc.shape[1]))
    exp_mu = _finite(p, "expMU", _vector(p, "expMU", raw["expMU"], n3))
    exp_pc = _finite(p, "expPC", _matrix(p, "expPC", raw["expPC"], n3, None))
    exp_ev = _finite(p, "expEV", _vector(p, "expEV", raw["expEV"], exp_pc.shape[1]))
    tex_mu = tex_pc = tex_ev = None
    if tex_present:
        tex_mu = _finite(p, "texMU", _vector(p, "texMU", raw["texMU"], n3))
        tex_pc = _finite(p, "texPC", _matrix(p, "texPC", raw["texPC"], n3, None))
        tex_ev = _finite(p, "texEV", _vector(p, "texEV", raw["texEV"], tex_pc.shape[1]))

    faces_2d = {}
    for name in ("faces", "faces_fill"):
        data = raw[name]
        if data.ndim != 2 or data.shape[1] != 3 or data.shape[0] == 0:
            raise _error(p, name, f"expected shape (F, 3) with F > 0, got {data.shape}")
        faces_2d[name] = _indices(p, name, data, nv)
    pair = _indices(p, "pair", _vector(p, "pair", raw["pair"], nv), nv)
    inner = _indices(
        p, "innerLandmarkIndex",
        _vector(p, "innerLandmarkIndex", raw["innerLandmarkIndex"], NUM_LANDMARKS), nv,
    )
    outer = _indices(
        p, "outerLandmarkIndex",
        _vector(p, "outerLandmarkIndex", raw["outerLandmarkIndex"], NUM_LANDMARKS), nv,
    )
    return MorphableModel(
        shape_mu=shape_mu, shape_pc=shape_pc, shape_ev=shape_ev,
        exp_mu=exp_mu, exp_pc=exp_pc, exp_ev=exp_ev,
        tex_mu=tex_mu, tex_pc=tex_pc, tex_ev=tex_ev,
        faces=faces_2d["faces"], faces_fill=faces_2d["faces_fill"], pair=pair,
        inner_landmarks=inner, outer_landmarks=outer, path=p,
    )
