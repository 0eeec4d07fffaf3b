"""Hands over the face: found by MediaPipe Hands (optional), their region joins the occluders.

A hand over the face is skin-coloured, so the colour and bump cues of `segment` miss it. When
the `mediapipe` package is installed (its wheel ships the palm-detection and hand-landmark
models, Apache-2.0; `make setup` installs it, see docs/occlusion.md), each hand's 21 landmarks
give its region: their convex hull grown by a finger's half width. Without the package the
step is off and says so (`Hands.status`); nothing is downloaded. The geometry (`hand_region`)
is plain numpy / OpenCV and does not need the package.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field

import cv2
import numpy as np

import extreme3d.occlusion.mediapipe_runner as mp_run
import extreme3d.occlusion.segment as sg
from extreme3d import bump_photo as bp

PAD = 0.25  # the crop is padded (black) by this share of its side: hands cut by its edge are found
FINGER_HALF_WIDTH = 0.1  # the hull is grown by this share of the palm length (wrist to finger base)
MIN_AREA = 400  # px of a hand on the face below which it is left out (segment.MIN_AREA)
ENV_SWITCH = "EXTREME3D_HANDS"  # "off": the step is not run
PACKAGE_HINT = mp_run.PACKAGE_HINT


@dataclass(frozen=True)
class Hands:
    """The hands found on a crop's face."""

    mask: np.ndarray  # (H, W) bool: hand pixels inside the face
    points: list[np.ndarray] = field(default_factory=list)  # kept hands, 21x2 crop px each
    rejected: int = 0  # hands found but left out (wrist inside the face, or too small on it)
    status: str = "none"  # "found", "none", "off", "unavailable: <why>" or "failed: <why>"

    def record(self, face: np.ndarray) -> dict:
        """What params/<name>.json and summary.json record of it (face: the face mask it was
        found in, for the fraction)."""
        return {"status": self.status, "count": len(self.points), "rejected": self.rejected,
                "fraction": sg.face_share(self.mask, face)}


def unavailable_reason() -> str | None:
    """Why the hand step cannot run here (None: it can)."""
    if mp_run.switched_off(ENV_SWITCH):
        return "off"
    reason = mp_run.unavailable_reason()
    return None if reason is None else "unavailable: " + reason


def status_line() -> str:
    """The batch's start-up line for the MediaPipe steps, hands (this module) and the person
    mask (extreme3d.occlusion.person), without loading MediaPipe."""
    import extreme3d.occlusion.person as person

    if importlib.util.find_spec("mediapipe") is None:
        return (f"mediapipe: unavailable ({PACKAGE_HINT}): hands over the face and background "
                "in the face mask are not found")
    steps = [("hands over the face", ENV_SWITCH, mp_run.switched_off(ENV_SWITCH)),
             ("person segmentation (background kept out of the colours)", person.ENV_SWITCH,
              person.switched_off())]
    return "mediapipe: " + ", ".join(f"{what} off ({env}={os.environ[env]})" if off else
                                     f"{what} on" for what, env, off in steps)


def hand_points(crop_bgr: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """(21x2 landmarks in crop px, handedness score) of every hand MediaPipe finds in a crop
    (BGR or grey, as bump_photo takes it: 500x500 uint8; padded by PAD of its side first);
    raises ImportError without mediapipe."""
    img = np.ascontiguousarray(bp._to_bgr(crop_bgr))
    p = int(round(PAD * max(img.shape[:2])))
    big = cv2.copyMakeBorder(img, p, p, p, p, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    found = mp_run.run("hands", cv2.cvtColor(big, cv2.COLOR_BGR2RGB))
    h, w = big.shape[:2]
    return [(pts * (w, h) - p, score) for pts, score in found]


def hand_region(points: list[np.ndarray], landmarks: np.ndarray,
                face: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], int]:
    """(bool mask of the face's shape, kept hands, rejected count): each hand's 21 points (crop
    px) filled as their convex hull grown by FINGER_HALF_WIDTH of the palm length, inside the
    face. A hand whose wrist lies inside the hull of the jaw and brow landmarks (0-26) is left
    out (a nose or mouth taken for a hand: a real hand's arm comes from outside the face), and
    so is one covering less than MIN_AREA px of the face."""
    lm = np.asarray(landmarks, np.float32)
    outline = cv2.convexHull(lm[:27])
    mask = np.zeros(face.shape, np.uint8)
    kept: list[np.ndarray] = []
    rejected = 0
    for pts in points:
        pts = np.asarray(pts, np.float64)
        if pts.shape != (21, 2) or not np.isfinite(pts).all():
            rejected += 1
            continue
        if cv2.pointPolygonTest(outline, (float(pts[0, 0]), float(pts[0, 1])), False) > 0:
            rejected += 1
            continue
        part = np.zeros_like(mask)
        cv2.fillConvexPoly(part, cv2.convexHull(np.rint(pts).astype(np.int32)), 1)
        r = max(int(round(FINGER_HALF_WIDTH * float(np.linalg.norm(pts[0] - pts[9])))), 1)
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        part = cv2.dilate(part, disk)
        part &= face.astype(np.uint8)
        if int(part.sum()) < MIN_AREA:
            rejected += 1
            continue
        mask |= part
        kept.append(pts)
    return mask.astype(bool), kept, rejected


def find_hands(crop_bgr: np.ndarray, landmarks: np.ndarray, face: np.ndarray) -> Hands:
    """The hands over a crop's face (face: bool mask of the crop's shape); an empty mask with
    the reason when the step is off, mediapipe is not installed or MediaPipe failed."""
    none = np.zeros(face.shape, bool)
    reason = unavailable_reason()
    if reason is not None:
        return Hands(none, status=reason)
    try:
        points = [p for p, _ in hand_points(crop_bgr)]
    except Exception as exc:  # noqa: BLE001 - the cues alone, with the reason
        return Hands(none, status="failed: " + f"{type(exc).__name__}: {exc}".splitlines()[0])
    mask, kept, rejected = hand_region(points, landmarks, face)
    return Hands(mask, kept, rejected, "found" if kept else "none")


def describe(info: dict | None) -> str:
    """One phrase for a result's extras["hands"]: "2 hands (4.1% of the face)", "no hand", or
    why the step did not run ("" when it was not asked for)."""
    if not info:
        return ""
    status = info.get("status", "")
    if status == "found":
        n = info.get("count", 0)
        share = 100 * info.get("fraction", 0.0)
        return f"{n} hand{'s' if n != 1 else ''} ({share:.1f}% of the face)"
    if status == "none":
        return "no hand"
    return f"hands {status}"
