"""The BaselFaceModel_mod.h5 layout (PIPELINE.md section 7), shared by converters and loader.

Datasets (numpy C order, as the original's h5py writer produced and its C++ reader expects):
faces, faces_fill (F x 3, 1-based); shapeMU (3V x 1, mm); shapePC (3V x K); shapeEV (K x 1);
expMU (3V x 1); expPC (3V x E); expEV (E x 1); texMU (3V x 1), texPC (3V x T), texEV (T x 1)
(optional as a group); pair (V, 1-based); innerLandmarkIndex, outerLandmarkIndex (68 x 1, 1-based).
Vectors of length 3V interleave x, y, z per vertex.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

#: Datasets every model file must hold.
REQUIRED = (
    "faces",
    "faces_fill",
    "shapeMU",
    "shapePC",
    "shapeEV",
    "expMU",
    "expPC",
    "expEV",
    "pair",
    "innerLandmarkIndex",
    "outerLandmarkIndex",
)
#: Texture datasets: all three or none (a model without a colour model omits them).
TEXTURE = ("texMU", "texPC", "texEV")
#: Number of iBUG landmarks in the landmark index lists.
NUM_LANDMARKS = 68


def column(values: npt.ArrayLike, dtype: npt.DTypeLike = np.float64) -> np.ndarray:
    """A vector as an N x 1 column, the orientation the original writes for MU/EV/landmarks."""
    return np.asarray(values, dtype=dtype).reshape(-1, 1)


def write_model_h5(out_h5: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """Writes the datasets (already in file layout: 1-based indices) to out_h5; returns its path.

    The file is written to a temporary name first and renamed, so a failed run leaves no
    half-written model behind.
    """
    import h5py

    out = Path(out_h5)
    missing = [k for k in REQUIRED if k not in arrays]
    if missing:
        raise ValueError(f"{out}: cannot write model, missing datasets {missing}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    try:
        with h5py.File(tmp, "w") as f:
            for name, value in arrays.items():
                f.create_dataset(name, data=np.asarray(value))
        tmp.replace(out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out
