"""Inputs shared by the bench scripts (imported as `from _common import ...` when a script runs
as `python bench/<name>.py`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from extreme3d import bump_photo as bp
from extreme3d.paths import shared_dir


def sfm_source() -> Path:
    """Folder of the Surrey model files: EXTREME3D_SFM_DIR, else <shared>/models/sfm."""
    return Path(os.environ.get("EXTREME3D_SFM_DIR") or shared_dir() / "models" / "sfm")


def height_field(n: int = 217) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A face-sized half-ellipsoid height field (mm): float64 grids x, y, z (n x n) and its
    triangles (2 (n-1)^2, 3) int32 over the row-major vertex ids, facing +z. n = 217 gives the
    BFM's size: 47,089 vertices, 93,312 faces."""
    x, y = np.meshgrid(np.linspace(-80, 80, n), np.linspace(-100, 110, n))
    r2 = (x / 85.0) ** 2 + (y / 115.0) ** 2
    z = 90.0 * np.sqrt(np.clip(1.0 - r2, 0.0, None)) - 90.0
    idx = np.arange(n * n).reshape(n, n)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    c, d = idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)]).astype(np.int32)
    return x, y, z, faces


def paper_set(data: Path, folds: int) -> tuple[list[str], list[tuple]] | None:
    """(names, items) of the crops of `data` with Bump-CNN maps (extreme3d.bump_photo's paper
    items), or None after saying why on stderr when there are fewer than `folds`."""
    names = bp.paper_names(data)
    if len(names) < folds:
        print(f"need at least {folds} crops with bump_original in {data}", file=sys.stderr)
        return None
    return names, [bp.load_paper_item(data, n) for n in names]
