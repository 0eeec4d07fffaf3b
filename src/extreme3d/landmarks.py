"""Face detection and 68 iBUG landmarks with dlib, as the original (PIPELINE.md sections 0-1).

The original runs dlib's frontal face detector (upsampling once) on the BGR array that OpenCV
reads and the 68-point shape predictor on the RGB image; it keeps the first detection. We do
the same, and also offer all faces sorted left to right.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from extreme3d import Extreme3DError
from extreme3d.paths import dlib_dir

PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
PREDICTOR_URL = "http://dlib.net/files/shape_predictor_68_face_landmarks.dat.bz2"

#: Face order: "detector" = dlib's own order (the original's "first face"), else left to right.
FaceOrder = Literal["detector", "left_to_right"]


def _packaged_predictor() -> Path | None:
    """The 68-point model inside the face_recognition_models package, found without importing
    it (its __init__ imports pkg_resources, which may be missing)."""
    try:
        spec = importlib.util.find_spec("face_recognition_models")
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    for folder in spec.submodule_search_locations or []:
        candidate = Path(folder) / "models" / PREDICTOR_FILE
        if candidate.is_file():
            return candidate
    return None


def find_predictor(path: str | os.PathLike[str] | None = None) -> Path:
    """The shape-predictor file: `path` if given, else dlib_model/, else face_recognition_models."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise Extreme3DError(f"{p}: dlib landmark model not found")
        return p
    local = dlib_dir() / PREDICTOR_FILE
    if local.is_file():
        return local
    packaged = _packaged_predictor()
    if packaged is not None:
        return packaged
    raise Extreme3DError(
        f"{local}: dlib landmark model not found; download {PREDICTOR_URL}, unpack it there "
        "(or set EXTREME3D_DLIB_DIR), or `pip install face_recognition_models`"
    )


@functools.lru_cache(maxsize=1)
def _detector():
    """dlib's HOG frontal face detector (cached)."""
    import dlib

    return dlib.get_frontal_face_detector()


@functools.lru_cache(maxsize=4)
def _predictor(path: str):
    """A loaded dlib shape predictor (cached by path)."""
    import dlib

    try:
        return dlib.shape_predictor(path)
    except RuntimeError as exc:
        raise Extreme3DError(f"{path}: cannot load dlib landmark model ({exc})") from None


# --------------------------------------------------------------------------- images


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Reads an image as OpenCV does for the original (8-bit BGR, HxWx3): grey is expanded,
    alpha dropped, 16-bit reduced to 8-bit, float TIFF scaled. Unreadable file, not a regular
    file, or over the size limits (extreme3d.io.safe_read) -> Extreme3DError naming it."""
    import cv2

    from extreme3d.io.safe_read import check_image_pixels, limit, read_bytes

    p = Path(path)
    raw = read_bytes(p, "image", limit("EXTREME3D_MAX_IMAGE_BYTES"))
    check_image_pixels(p, raw)
    data = np.frombuffer(raw, dtype=np.uint8)
    try:
        if raw[:4] in (b"II*\x00", b"MM\x00*"):  # TIFF: float / 16-bit samples scaled by to_bgr8
            image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
            if image is not None:
                return to_bgr8(image)
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except cv2.error as exc:  # e.g. a header over OpenCV's own pixel limit
        if "CV_IO_MAX_IMAGE_PIXELS" in str(exc):
            raise Extreme3DError(f"{p}: image too large (over OpenCV's pixel limit; set "
                                 "OPENCV_IO_MAX_IMAGE_PIXELS to allow more)") from None
        image = None
    if image is None:
        image = _read_with_pillow(p)
    if image is None:
        raise Extreme3DError(f"{p}: not a readable image (unknown or corrupt format)")
    return to_bgr8(image)


def _read_with_pillow(path: Path) -> np.ndarray | None:
    """Fallback decoder for formats OpenCV lacks (returns BGR or None)."""
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))
    except Exception:  # noqa: BLE001 - any decoder failure means "not readable"
        return None
    return np.ascontiguousarray(rgb[:, :, ::-1])


def to_bgr8(image: np.ndarray) -> np.ndarray:
    """Any HxW / HxWx1 / HxWx3 / HxWx4 array of uint8/uint16/float -> contiguous 8-bit BGR."""
    img = np.asarray(image)
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif np.issubdtype(img.dtype, np.floating):
        scale = 255.0 if img.size and float(np.nanmax(img)) <= 1.0 else 1.0
        img = np.clip(np.nan_to_num(img) * scale, 0, 255).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    elif img.ndim == 3 and img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"unsupported image shape {np.asarray(image).shape}")
    return np.ascontiguousarray(img)


# --------------------------------------------------------------------------- detection


@dataclass(frozen=True)
class Face:
    """A detected face: dlib box (left, top, right, bottom) in pixels, detector score, and the
    68 landmarks (68, 2) as (x, y) pixels of the image (integers from dlib, stored float32)."""

    box: tuple[int, int, int, int]
    score: float
    landmarks: np.ndarray


#: Long side (px) of the coarsest detector pyramid level scanned first (issue 16: as detecting on
#: a copy of long side 800 px without upsampling): photos whose upsampled pyramid has a level at
#: least this long start their scan there, and faces smaller than that level's window (7.6-9.1%
#: of the photo's long side) are not looked for unless no face is found there. (Until 2026-12-07
#: 1600, a copy of 800 px upsampled once: the same boxes and landmarks on the test photos, the
#: paper crops and their 0.25-0.6x copies, at half the detection time.)
COARSE_LEVEL_SIDE = 800
#: A coarse-level box narrower than this many detector windows (found at the first or second
#: scanned level: 1 or 6/5 windows) sends the photo to the full scan.
NEAR_WINDOW = 1.3
#: dlib's HOG cell size (px): the detector's window in image pixels is its window minus one cell
#: plus one pixel (fhog_to_image of the window's cells).
_HOG_CELL = 8


def detect_faces(
    image_bgr: np.ndarray,
    predictor_path: str | os.PathLike[str] | None = None,
    order: FaceOrder = "left_to_right",
    upsample: int = 1,
) -> list[Face]:
    """All faces in a BGR image with their 68 landmarks; detector on BGR, predictor on RGB.
    On large photos dlib's detector scans the coarse levels of its own pyramid only (built
    bit-exactly by `_core.detector_pyramid_level`), so its boxes and scores are those of the
    full-resolution scan (`detect_faces_full`) for every face at least that level's window;
    when none is found there, the full scan runs."""
    if order not in ("detector", "left_to_right"):
        raise ValueError(f"unknown face order {order!r}")
    if not isinstance(upsample, int | np.integer) or not 0 <= upsample <= 2:
        raise ValueError(f"upsample must be 0, 1 or 2, got {upsample!r}")
    bgr = to_bgr8(image_bgr)
    level = coarse_level(bgr.shape[0], bgr.shape[1], int(upsample))
    if level == 0:
        return detect_faces_full(bgr, predictor_path, order, upsample)
    from extreme3d import _core

    predictor = _predictor(str(find_predictor(predictor_path)))
    detector = _detector()
    coarse = _core.detector_pyramid_level(bgr, int(upsample), level)
    rects, scores, _ = detector.run(coarse, 0, 0.0)
    window = (detector.detection_window_width - _HOG_CELL + 1,
              detector.detection_window_height - _HOG_CELL + 1)
    boxes = [full_resolution_box(_rect_tuple(r), level, int(upsample), window) for r in rects]
    # A face found at the first two scanned levels may also fire on the finer levels skipped,
    # and dlib's overlap suppression over all levels could then keep that finer box: such faces
    # (and none found, or a box that does not map back) take the full scan.
    near_window = any(r.width() < NEAR_WINDOW * window[0] for r in rects)
    if not rects or near_window or any(b is None for b in boxes):
        return detect_faces_full(bgr, predictor_path, order, upsample)
    import dlib

    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    faces = [_face(predictor, rgb, dlib.rectangle(*box), score)
             for box, score in zip(boxes, scores, strict=True)]
    if order == "left_to_right":
        faces.sort(key=lambda f: (f.box[0], f.box[1]))
    return faces


def coarse_level(rows: int, cols: int, upsample: int = 1) -> int:
    """The first pyramid level the detector scans on a rows x cols photo: the coarsest level of
    the upsampled photo whose long side is still >= COARSE_LEVEL_SIDE (0: scan everything)."""
    for _ in range(upsample):
        rows, cols = 2 * rows + 1, 2 * cols + 2  # dlib's pyramid_up size
    level = 0
    while max(5 * rows // 6, 5 * cols // 6) >= COARSE_LEVEL_SIDE:
        rows, cols, level = 5 * rows // 6, 5 * cols // 6, level + 1
    return level


def _lround(x: float) -> int:
    """C's lround: nearest integer, halves away from zero."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def _up6(v: float, levels: int) -> float:
    """pyramid_down<6>::point_up of one coordinate through `levels` levels (double)."""
    for _ in range(levels):
        v = v * (6 / 5.0) + 0.3
    return v


def _down6(v: float, levels: int) -> float:
    """pyramid_down<6>::point_down of one coordinate through `levels` levels (double)."""
    for _ in range(levels):
        v = (v - 0.3) * (5 / 6.0)
    return v


def full_resolution_box(box: tuple[int, int, int, int], level: int, upsample: int,
                        window: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The box dlib's full scan reports for a detection the detector reported as `box`
    (left, top, right, bottom) when run on pyramid level `level` of the photo upsampled
    `upsample` times: the detection window (window = (w, h) px at the level it was found, L
    levels below `level`) is recovered exactly, mapped up through level + L levels and down
    through the upsampling with dlib's rounding. None when no L reproduces the box."""
    found = None
    for extra in range(64):
        win = [_lround(_down6(v, extra)) for v in box]
        if (win[2] - win[0] + 1, win[3] - win[1] + 1) != window:
            continue
        if [_lround(_up6(v, extra)) for v in win] == list(box):
            found = win
            break
    if found is None:
        return None
    l, t, r, b = (_lround(_up6(v, level + extra)) for v in found)
    x_off, y_off = 1.25, 0.75  # pyramid_down<2>::point_down, one per upsampling
    xs, ys = [float(l), float(r)], [float(t), float(b)]
    for _ in range(upsample):
        xs = [x / 2.0 - x_off for x in xs]
        ys = [y / 2.0 - y_off for y in ys]
    return (_lround(xs[0]), _lround(ys[0]), _lround(xs[1]), _lround(ys[1]))


def _rect_tuple(rect) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of a dlib rectangle."""
    return (int(rect.left()), int(rect.top()), int(rect.right()), int(rect.bottom()))


def _face(predictor, rgb: np.ndarray, rect, score: float) -> Face:
    """The Face of a dlib box: the 68 landmarks of the predictor on the RGB image."""
    shape = predictor(rgb, rect)
    pts = np.array([(shape.part(i).x, shape.part(i).y) for i in range(shape.num_parts)],
                   dtype=np.float32)
    return Face(_rect_tuple(rect), float(score), pts)


def detect_faces_full(
    image_bgr: np.ndarray,
    predictor_path: str | os.PathLike[str] | None = None,
    order: FaceOrder = "left_to_right",
    upsample: int = 1,
) -> list[Face]:
    """All faces with their landmarks as before issue 16: the detector (upsampling `upsample`
    times) on the full-resolution BGR image, the predictor on RGB (the reference)."""
    if order not in ("detector", "left_to_right"):
        raise ValueError(f"unknown face order {order!r}")
    bgr = to_bgr8(image_bgr)
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    predictor = _predictor(str(find_predictor(predictor_path)))
    rects, scores, _ = _detector().run(bgr, upsample, 0.0)
    faces = [_face(predictor, rgb, rect, score) for rect, score in zip(rects, scores, strict=True)]
    if order == "left_to_right":
        faces.sort(key=lambda f: (f.box[0], f.box[1]))
    return faces


def detect_landmarks(
    image_bgr: np.ndarray,
    source: str | os.PathLike[str] = "<image>",
    predictor_path: str | os.PathLike[str] | None = None,
    order: FaceOrder = "detector",
) -> tuple[Face, int]:
    """The first face (dlib's order by default, as the original) and the number of faces;
    no face -> Extreme3DError naming `source`."""
    faces = detect_faces(image_bgr, predictor_path, order=order)
    if not faces:
        raise Extreme3DError(f"{source}: no face detected")
    return faces[0], len(faces)
