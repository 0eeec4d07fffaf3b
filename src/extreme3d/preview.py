"""Preview pictures: the input crop next to the final mesh rendered (Lambert shading) frontally
and at the fitted pose, written to preview/<name>.png by `extreme3d batch --preview`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from extreme3d.camera import FOCAL, HEIGHT, WIDTH
from extreme3d.io.atomic import atomic_write_png

#: Fraction of the picture height the frontal face spans.
FILL = 0.8


def frontal_pose(vertices: np.ndarray, size: int = HEIGHT) -> tuple[np.ndarray, np.ndarray]:
    """Camera pose (rvec, tvec) looking at the mesh from the front (+z), centred and framed."""
    v = np.asarray(vertices, np.float64)
    lo, hi = v.min(axis=0), v.max(axis=0)
    centre = (lo + hi) / 2
    extent = max(float(hi[0] - lo[0]), float(hi[1] - lo[1]), 1e-6)
    distance = FOCAL * extent / (FILL * size)
    # Camera z is negative in front: put the mesh's front (max z) `distance` mm away.
    tvec = np.array([-centre[0], -centre[1], -(hi[2] + distance)])
    return np.full(3, 1e-9), tvec


def _shaded(mesh: Any, rvec: np.ndarray, tvec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BGR uint8 Lambert rendering of `mesh` (model coordinates) at (rvec, tvec), 500x500,
    and the mask of covered pixels."""
    from extreme3d.render import render

    colors = getattr(mesh, "colors", None)  # per-vertex colours from the photo, when present
    rgb, depth = render(mesh.vertices, mesh.faces, rvec, tvec, colors=colors, shading="lambert")
    return np.ascontiguousarray(rgb[:, :, ::-1]), depth < 1.0


def _overlay(crop: np.ndarray, shaded: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """The posed rendering blended over the crop where the mesh covers it."""
    out = crop.copy()
    blend = 0.35 * crop.astype(np.float32) + 0.65 * shaded.astype(np.float32)
    out[covered] = blend[covered].astype(np.uint8)
    return out


def preview_image(crop_bgr: np.ndarray, mesh: Any, rvec: Any, tvec: Any) -> np.ndarray:
    """(500, 1500, 3) BGR picture: crop | mesh frontal | mesh at the fitted pose over the crop."""
    import cv2

    crop = np.asarray(crop_bgr)
    if crop.ndim == 2:
        crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
    if crop.shape[:2] != (HEIGHT, WIDTH):
        crop = cv2.resize(crop, (WIDTH, HEIGHT))
    r0, t0 = frontal_pose(mesh.vertices)
    frontal, _ = _shaded(mesh, r0, t0)
    posed = _overlay(crop, *_shaded(mesh, np.asarray(rvec, float), np.asarray(tvec, float)))
    return np.concatenate([crop, frontal, posed], axis=1)


def write_preview(
    path: str | os.PathLike[str], crop_bgr: np.ndarray, mesh: Any, rvec: Any, tvec: Any
) -> Path:
    """Renders the preview picture and writes it as PNG (atomically)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_png(out, preview_image(crop_bgr, mesh, rvec, tvec))
    return out
