"""The original's 500x500 face crop around 68 landmarks (PIPELINE.md section 1).

Landmark-tight box -> centre c and half size s = max(w, h)/2 -> expanded box
``left = c.x - 1.9255 s, top = c.y - 2.2591 s, right = c.x + 1.9423 s, bottom = c.y + 1.6087 s``
rounded half away from zero (Python 2 ``round``); outside the image is zero-padded; the crop
is resized to 500x500 (bilinear, OpenCV's default) and the landmarks are shifted by
(left, top) and scaled by ``500 / crop_height`` on both axes (the crop can be one pixel
wider than tall; the original ignores that, and so do we).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from extreme3d import Extreme3DError

#: Expansion factors (left, top, right, bottom) of the landmark box ("rescaleCASIA").
CROP_FACTORS: tuple[float, float, float, float] = (1.9255, 2.2591, 1.9423, 1.6087)
#: Side of the square crop fed to the CNNs and the fitting stage, pixels.
CROP_SIZE = 500


def round_half_away(x: float) -> int:
    """Rounds like Python 2 `round`: halves away from zero (2.5 -> 3, -2.5 -> -3)."""
    a = abs(float(x))
    r = math.floor(a)
    if a - r >= 0.5:  # exact for doubles: a - floor(a) has no rounding error
        r += 1
    return int(math.copysign(r, x)) if r else 0


@dataclass(frozen=True)
class CropBox:
    """The expanded crop box in original-image pixels (right/bottom exclusive), and the factor
    from crop pixels to 500x500 pixels: crop = (original - (left, top)) * scale."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        """Width of the box before resizing, pixels."""
        return self.right - self.left

    @property
    def height(self) -> int:
        """Height of the box before resizing, pixels."""
        return self.bottom - self.top

    @property
    def scale(self) -> float:
        """500 / box height: original pixels -> 500x500 crop pixels (used on both axes)."""
        return CROP_SIZE / self.height

    def as_tuple(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom)."""
        return (self.left, self.top, self.right, self.bottom)


def landmark_box(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """Tight box (min x, min y, max x, max y) of the landmarks."""
    pts = np.asarray(landmarks).reshape(-1, 2)
    xs, ys = pts[:, 0].tolist(), pts[:, 1].tolist()
    return float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys))


def crop_box(
    landmarks: np.ndarray, factors: tuple[float, float, float, float] = CROP_FACTORS
) -> CropBox:
    """The original's expanded crop box around the landmarks (Python float arithmetic)."""
    pts = np.asarray(landmarks)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
        raise ValueError(f"landmarks must be (N, 2), got {pts.shape}")
    if not np.all(np.isfinite(pts)):
        raise ValueError("landmarks contain non-finite values")
    left, top, right, bottom = landmark_box(pts)
    ww, hh = right - left, bottom - top
    cx, cy = left + ww / 2, top + hh / 2
    half = max(ww, hh) / 2
    box = CropBox(
        round_half_away(cx - factors[0] * half),
        round_half_away(cy - factors[1] * half),
        round_half_away(cx + factors[2] * half),
        round_half_away(cy + factors[3] * half),
    )
    if box.width <= 0 or box.height <= 0:
        raise ValueError("landmarks span no area: cannot build a crop box")
    return box


def extract_box(image: np.ndarray, box: CropBox) -> np.ndarray:
    """The box's pixels from `image` (H, W[, C]); parts outside the image are zeros."""
    h, w = image.shape[:2]
    out = np.zeros((box.height, box.width) + image.shape[2:], dtype=image.dtype)
    x0, x1 = max(box.left, 0), min(box.right, w)
    y0, y1 = max(box.top, 0), min(box.bottom, h)
    if x0 < x1 and y0 < y1:
        out[y0 - box.top : y1 - box.top, x0 - box.left : x1 - box.left] = image[y0:y1, x0:x1]
    return out


def to_crop_coords(points: np.ndarray, box: CropBox) -> np.ndarray:
    """Original-image pixels -> 500x500 crop pixels, with the original's arithmetic:
    ``(p - (left, top)) * 500.0 / height`` in the dtype of `points` (float32 for dlib points)."""
    pts = np.asarray(points)
    if not np.issubdtype(pts.dtype, np.floating):
        pts = pts.astype(np.float64)
    shifted = pts - np.array([box.left, box.top], dtype=pts.dtype)
    return shifted * pts.dtype.type(CROP_SIZE) / box.height


def from_crop_coords(points: np.ndarray, box: CropBox) -> np.ndarray:
    """500x500 crop pixels -> original-image pixels (inverse of `to_crop_coords`, float64)."""
    pts = np.asarray(points, dtype=np.float64)
    return pts * (box.height / CROP_SIZE) + np.array([box.left, box.top], dtype=np.float64)


@dataclass(frozen=True)
class Crop:
    """A prepared crop: the 500x500 image, landmarks in its pixels, and the box it came from."""

    image: np.ndarray
    landmarks: np.ndarray
    box: CropBox

    @property
    def scale(self) -> float:
        """Original pixels -> crop pixels factor (500 / box height)."""
        return self.box.scale


def crop_face(image: np.ndarray, landmarks: np.ndarray) -> Crop:
    """The original's crop: box around `landmarks` (original pixels), zero padding, bilinear
    resize to 500x500; landmarks mapped into the crop (float64 result)."""
    import cv2

    try:
        box = crop_box(landmarks)
    except ValueError as exc:
        raise Extreme3DError(f"cannot crop: {exc}") from None
    patch = extract_box(np.asarray(image), box)
    resized = cv2.resize(patch, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_LINEAR)
    lms = to_crop_coords(landmarks, box).astype(np.float64)
    return Crop(resized, lms, box)
