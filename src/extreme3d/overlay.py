"""Overlay pictures: the fitted mesh rendered shaded and half-transparent over the ORIGINAL photo
(the crop undone), with the 68 landmarks (issue 8 item 4), written to overlay/<name>.png.

The crop maps original pixels p to crop pixels (p - (left, top)) * 500 / box_height, so the crop's
camera (focal 1000 px, principal point (250, 250)) is, in original pixels, a camera with focal
1000 * box_height / 500 and principal point (left, top) + box_height / 2. The mesh is rendered
with that camera into the box's square (at most ``MAX_RENDER`` px a side, resized otherwise) and
blended where it covers the photo. Landmarks: the input 68 points as green circles, the fitted
3D landmarks projected with the stored camera as red dots.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

from extreme3d.camera import FOCAL, project
from extreme3d.crop import CROP_SIZE, CropBox, landmark_box
from extreme3d.io.atomic import atomic_write_png

#: Largest side (px) rendered directly; bigger boxes are rendered smaller and resized.
MAX_RENDER = 2048
#: Opacity of the shaded mesh over the photo.
OPACITY = 0.5
INPUT_COLOR = (0, 255, 0)  # BGR green: the input landmarks
MODEL_COLOR = (0, 0, 255)  # BGR red: the projected 3D landmarks


def image_camera(box: CropBox, focal: float = FOCAL) -> tuple[float, float, float]:
    """(focal, cx, cy) in original-image pixels of the crop's camera (u = -f X/Z + cx, ...)."""
    s = box.height / CROP_SIZE
    return focal * s, box.left + CROP_SIZE / 2.0 * s, box.top + CROP_SIZE / 2.0 * s


def project_to_image(
    points: npt.ArrayLike, rvec: npt.ArrayLike, tvec: npt.ArrayLike, box: CropBox
) -> np.ndarray:
    """Original-image pixels (N,2) of model points with the fitted pose and the crop undone."""
    uv = project(points, rvec, tvec)  # crop pixels (500x500 camera)
    return uv * (box.height / CROP_SIZE) + np.array([box.left, box.top], np.float64)


def render_in_image(
    vertices: npt.ArrayLike, faces: npt.ArrayLike, rvec: npt.ArrayLike, tvec: npt.ArrayLike,
    box: CropBox, image_shape: tuple[int, ...], colors: npt.ArrayLike | None = None,
    shading: str = "lambert",
) -> tuple[np.ndarray, np.ndarray]:
    """(BGR HxWx3 uint8, covered HxW bool) of the mesh rendered in original-image pixels."""
    import cv2

    from extreme3d.render import render

    side = box.height
    n = min(side, MAX_RENDER)
    focal = FOCAL * n / CROP_SIZE
    rgb, depth = render(vertices, faces, rvec, tvec, colors=colors, focal=focal, width=n,
                        height=n, shading=shading)
    cov = (depth < 1.0).astype(np.uint8)
    if n != side:
        rgb = cv2.resize(rgb, (side, side), interpolation=cv2.INTER_LINEAR)
        cov = cv2.resize(cov, (side, side), interpolation=cv2.INTER_NEAREST)
    h, w = image_shape[:2]
    out = np.zeros((h, w, 3), np.uint8)
    covered = np.zeros((h, w), bool)
    x0, y0 = max(box.left, 0), max(box.top, 0)
    x1, y1 = min(box.left + side, w), min(box.top + side, h)
    if x0 < x1 and y0 < y1:
        sy, sx = slice(y0 - box.top, y1 - box.top), slice(x0 - box.left, x1 - box.left)
        out[y0:y1, x0:x1] = rgb[sy, sx, ::-1]
        covered[y0:y1, x0:x1] = cov[sy, sx] > 0
    return out, covered


def overlay_image(
    image_bgr: np.ndarray,
    vertices: npt.ArrayLike,
    faces: npt.ArrayLike,
    rvec: npt.ArrayLike,
    tvec: npt.ArrayLike,
    box: CropBox,
    landmarks: npt.ArrayLike | None = None,
    landmarks_3d: npt.ArrayLike | None = None,
    opacity: float = OPACITY,
) -> tuple[np.ndarray, np.ndarray | None]:
    """(overlay BGR image, projected 3D landmarks in original pixels or None): the mesh (model
    coordinates, fitted pose) shaded at `opacity` over the photo, input landmarks (original
    pixels) in green, projected `landmarks_3d` (model coordinates) in red."""
    import cv2

    img = np.asarray(image_bgr)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    shaded, covered = render_in_image(vertices, faces, rvec, tvec, box, img.shape)
    out = img.copy()
    # blended at the covered pixels only (the whole photo in float32 is up to 100 MB)
    blend = ((1.0 - opacity) * img[covered].astype(np.float32)
             + opacity * shaded[covered].astype(np.float32))
    out[covered] = np.clip(np.rint(blend), 0, 255).astype(np.uint8)
    radius = max(1, int(round(min(img.shape[:2]) / 300)))
    if landmarks is not None:
        for x, y in np.asarray(landmarks, np.float64).reshape(-1, 2):
            cv2.circle(out, (int(round(x)), int(round(y))), radius + 1, INPUT_COLOR, 1,
                       lineType=cv2.LINE_AA)
    projected = None
    if landmarks_3d is not None:
        projected = project_to_image(np.asarray(landmarks_3d, np.float64), rvec, tvec, box)
        for x, y in projected:
            if np.isfinite(x) and np.isfinite(y):
                cv2.circle(out, (int(round(x)), int(round(y))), radius, MODEL_COLOR, -1)
    return out, projected


def write_overlay(path: str | os.PathLike[str], image: np.ndarray) -> Path:
    """Writes an overlay picture as PNG (atomically)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_png(out, image)
    return out


def draw_detection(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The original's `_detect.png`: landmarks as blue circles (radius 5) and the landmark-tight
    box as a yellow rectangle (2 px) on a copy of the photo (BGR)."""
    import cv2

    out = image.copy()
    for x, y in np.asarray(landmarks, dtype=np.float64).tolist():
        cv2.circle(out, (int(x), int(y)), 5, (255, 0, 0))
    left, top, right, bottom = landmark_box(landmarks)
    cv2.rectangle(out, (int(left), int(top)), (int(right), int(bottom)), (0, 255, 255), 2)
    return out
