"""Names of the CNN files inside the CNN folder (no torch import: cheap to check for them)."""

from __future__ import annotations

import os
from pathlib import Path

#: The three files of the shape network, as the original distributes them.
SHAPE_FILES = ("shape_model.pth", "shape_model.py", "shape_mean.npz")
#: The released bump CNN weights.
BUMP_WEIGHTS = "ckpt_109_grad.pth.tar"


def shape_files(cnn_dir: str | os.PathLike[str]) -> tuple[Path, Path, Path]:
    """Paths of (weights .pth, class .py, mean .npz) inside `cnn_dir`."""
    folder = Path(cnn_dir)
    pth, py, npz = (folder / name for name in SHAPE_FILES)
    return pth, py, npz


def has_shape_cnn(cnn_dir: str | os.PathLike[str]) -> bool:
    """True when all three shape-network files are present in `cnn_dir`."""
    return all(p.is_file() for p in shape_files(cnn_dir))


def bump_weights(cnn_dir: str | os.PathLike[str]) -> Path:
    """Path of the bump CNN weights inside `cnn_dir`."""
    return Path(cnn_dir) / BUMP_WEIGHTS
