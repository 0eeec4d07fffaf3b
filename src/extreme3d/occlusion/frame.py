"""Landmark geometry of a crop: its left/right mirror map and its mean-landmark frame.

All maps are 500x500 (crop pixels, x = column, y = row). The mirror map sends every pixel to
its symmetric partner on the other half of the face: the regularised thin-plate spline that
takes the 68 landmarks onto their mirror-labelled partners (left eye corner onto right eye
corner, ...), so it follows the pose and the face's own shape. The mean frame is the one of
extreme3d.bump_photo (the Procrustes mean landmarks, crop px), where the detail template lives.
"""

from __future__ import annotations

import cv2
import numpy as np

from extreme3d import bump_photo as bp

#: iBUG-68 index of each landmark's mirror partner (jaw, brows, nose, eyes, mouth).
MIRROR_68 = np.array(
    list(range(16, -1, -1))  # jaw 0..16
    + list(range(26, 21, -1)) + list(range(21, 16, -1))  # brows 17..26
    + [27, 28, 29, 30] + [35, 34, 33, 32, 31]  # nose
    + [45, 44, 43, 42, 47, 46] + [39, 38, 37, 36, 41, 40]  # eyes
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]  # outer mouth
    + [64, 63, 62, 61, 60, 67, 66, 65]  # inner mouth
)
#: Grid step (px) on which the thin-plate maps are evaluated before bilinear upsampling.
GRID = 10


def _dense(tps: tuple, size: int = bp.CROP) -> np.ndarray:
    """(size, size, 2) float32 image of a thin-plate spline evaluated at every pixel (from a
    GRID-px lattice, bilinearly upsampled)."""
    n = size // GRID + 1
    yy, xx = np.mgrid[0:n, 0:n] * GRID
    pts = bp.tps_apply(tps, np.c_[xx.ravel(), yy.ravel()].astype(np.float64))
    grid = pts.reshape(n, n, 2).astype(np.float32)
    mat = np.array([[1.0 / GRID, 0, 0], [0, 1.0 / GRID, 0]], np.float32)
    return cv2.warpAffine(grid, mat, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def mirror_map(landmarks: np.ndarray) -> np.ndarray:
    """(500, 500, 2) float32: the crop position (x, y) of every pixel's mirror partner."""
    lm = np.asarray(landmarks, np.float64)
    return _dense(bp.tps_fit(lm, lm[MIRROR_68]))


def mean_frame_map(landmarks: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """(500, 500, 2) float32: every crop pixel's position in the mean-landmark frame."""
    return _dense(bp.tps_fit(np.asarray(landmarks, np.float64), mean))


def sample(image: np.ndarray, where: np.ndarray, border: float = 0.0) -> np.ndarray:
    """Bilinear samples of a float image at the (x, y) positions `where` (H, W, 2); outside:
    `border`."""
    return cv2.remap(np.asarray(image, np.float32), where[..., 0], where[..., 1],
                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=border)


def template_at(template: np.ndarray, origin: tuple[float, float], step: float,
                frame: np.ndarray) -> np.ndarray:
    """The detail template (a grid in the mean frame: cell (i, j) at origin + step * (j, i))
    sampled at every crop pixel whose mean-frame position is `frame` (0 outside the grid)."""
    where = np.empty_like(frame)
    where[..., 0] = (frame[..., 0] - origin[0]) / step
    where[..., 1] = (frame[..., 1] - origin[1]) / step
    return sample(template, where, 0.0)
