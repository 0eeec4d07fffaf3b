"""Background inside the face mask: the pixels MediaPipe's Selfie Segmentation calls no person.

The face mask follows the fitted face, so beside a turned face or past a cheek's outline it
covers sky, grass or a backdrop, which the vertex colours and the texture would then sample.
`background.non_face_pixels` finds such rim pixels by colour; this finds them by what they are:
Selfie Segmentation (`mediapipe==0.10.14`, its model shipped in the wheel, Apache-2.0) gives a
person probability per crop pixel, and the face pixels below PERSON_THRESHOLD, in regions that
touch the mask's border (background comes in from outside the face), are left out of the
colour and texture mask, with the face pixels within `EDGE_PX` of them: at a face's outline
hair and beards let the background through and the segmentation's edge is soft, so those
pixels mix both (on sport-sunglasses the far cheek's beard edge carried the flowers behind it
into the colours). Without mediapipe, or with EXTREME3D_PERSON=off, nothing is left out.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np

import extreme3d.occlusion.mediapipe_runner as mp_run
import extreme3d.occlusion.segment as sg
from extreme3d import bump_photo as bp

PERSON_THRESHOLD = 0.5  # person probability below which a face-mask pixel is background
MIN_REGION_PIXELS = 50  # smaller background regions (after a 3x3 opening) are noise
EDGE_PX = 6  # face pixels within this distance (px) of the background are left out too
ENV_SWITCH = "EXTREME3D_PERSON"  # "off": not run

_warned: set[str] = set()
#: The last crop asked for and its answer (`person_probability`), in a one-item list.
_last: list[tuple[np.ndarray, np.ndarray] | None] = [None]


def switched_off() -> bool:
    """Whether the environment switches the person mask off (EXTREME3D_PERSON=off/0/false/no)."""
    return mp_run.switched_off(ENV_SWITCH)


def person_probability(crop_bgr: np.ndarray) -> np.ndarray | None:
    """Selfie Segmentation's person probability (float32 HxW, crop px, read-only) of a crop;
    None when off, without mediapipe (warned once) or when MediaPipe fails (warned once per
    reason). The last crop's answer is kept: the occlusion step (hair samples) and the colour
    mask (`background_pixels`) ask for the same crop, and MediaPipe runs once."""
    if switched_off():
        return None
    try:
        img = bp._to_bgr(crop_bgr)
        last = _last[0]
        if last is not None and last[0].shape == img.shape and np.array_equal(last[0], img):
            return last[1]
        prob = mp_run.run("selfie", cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    except Exception as exc:  # noqa: BLE001 - no person mask, said once
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if isinstance(exc, ImportError):
            reason = mp_run.PACKAGE_HINT
        if reason not in _warned:
            _warned.add(reason)
            warnings.warn(f"person segmentation (background, hair samples): off ({reason})",
                          stacklevel=2)
        return None
    shape = img.shape[:2]
    prob = np.array(prob, np.float32)  # this function's own array: locked below
    if prob.shape != shape:
        prob = cv2.resize(prob, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    prob.flags.writeable = False
    _last[0] = (np.array(img, copy=True), prob)  # one tuple: read whole by other threads
    return prob


def background_pixels(crop_bgr: np.ndarray, face_mask: np.ndarray) -> np.ndarray:
    """Pixels (bool HxW, crop px) of `face_mask` that Selfie Segmentation calls background, in
    regions touching the mask's border, and the face pixels within EDGE_PX of them; all False
    without a person probability (`person_probability`: off, no mediapipe or a failure)."""
    face = np.asarray(face_mask, bool)
    out = np.zeros(face.shape, bool)
    if not face.any():
        return out
    prob = person_probability(crop_bgr)
    if prob is None:
        return out
    bg = ((prob < PERSON_THRESHOLD) & face).astype(np.uint8)
    bg = cv2.morphologyEx(bg, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    if not bg.any():
        return out
    n, labels, stats, _ = cv2.connectedComponentsWithStats(bg, connectivity=8)
    border = face & ~(cv2.erode(face.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
    touching = np.unique(labels[border & (bg > 0)])
    touching = touching[(touching > 0) & (stats[touching, cv2.CC_STAT_AREA] >= MIN_REGION_PIXELS)]
    taken = np.isin(labels, touching)
    if not taken.any():
        return out
    return (cv2.dilate(taken.astype(np.uint8), sg.disk(EDGE_PX)) > 0) & face
