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
import warnings
from dataclasses import dataclass, field

import cv2
import numpy as np

import extreme3d.occlusion.mediapipe_runner as mp_run
import extreme3d.occlusion.segment as sg
from extreme3d import bump_photo as bp

PAD = 0.25  # the crop is padded (black) by this share of its side: hands cut by its edge are found
FINGER_HALF_WIDTH = 0.1  # the hull is grown by this share of the palm length (wrist to finger base)
#: The hand's outline from the photo (GrabCut, see `refine_hand`): the hull shrunk by SURE_SHARE
#: of the palm length is surely hand, the grown hull probably hand, the ring out to REACH_SHARE
#: probably not, everything farther surely not; GRABCUT_ITERS iterations, a fixed RNG seed.
SURE_SHARE = 0.15
REACH_SHARE = 0.5
GRABCUT_ITERS = 2
GRABCUT_SEED = 0
#: GrabCut runs on the box downscaled by this factor (its cost grows with the pixel count).
GRABCUT_SCALE = 0.5
#: Fewest hand and fewest other pixels in the (downscaled) box for GrabCut's colour models.
GRABCUT_MIN_SAMPLES = 50
#: A GrabCut outline whose area is outside this range of the grown hull's is not trusted (the
#: grown hull is kept).
REFINE_AREA = (0.5, 2.0)
MIN_AREA = 400  # px of a hand on the face below which it is left out (segment.MIN_AREA)
ENV_SWITCH = "EXTREME3D_HANDS"  # "off": the step is not run
#: When MediaPipe's full models leave no hand on the face, its lite models try again.
LITE_FALLBACK = True
PACKAGE_HINT = mp_run.PACKAGE_HINT

_warned: set[str] = set()  # the lite fallback's failure reasons already warned of


@dataclass(frozen=True)
class Hands:
    """The hands found on a crop's face."""

    mask: np.ndarray  # (H, W) bool: hand pixels inside the face
    points: list[np.ndarray] = field(default_factory=list)  # kept hands, 21x2 crop px each
    rejected: int = 0  # hands found but left out (wrist inside the face, or too small on it)
    status: str = "none"  # "found", "none", "off", "unavailable: <why>" or "failed: <why>"
    model: str = "none"  # MediaPipe's models whose answer this is: "full", "lite" or "none"

    def record(self, face: np.ndarray) -> dict:
        """What params/<name>.json and summary.json record of it (face: the face mask it was
        found in, for the fraction)."""
        return {"status": self.status, "count": len(self.points), "rejected": self.rejected,
                "fraction": sg.face_share(self.mask, face), "model": self.model}


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


def hand_points(crop_bgr: np.ndarray, lite: bool = False) -> list[tuple[np.ndarray, float]]:
    """(21x2 landmarks in crop px, handedness score) of every hand MediaPipe finds in a crop
    (BGR or grey, as bump_photo takes it: 500x500 uint8; padded by PAD of its side first),
    with its full palm and hand models (lite: the lite ones); raises ImportError without
    mediapipe."""
    img = np.ascontiguousarray(bp._to_bgr(crop_bgr))
    p = int(round(PAD * max(img.shape[:2])))
    big = cv2.copyMakeBorder(img, p, p, p, p, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    found = mp_run.run("hands-lite" if lite else "hands", cv2.cvtColor(big, cv2.COLOR_BGR2RGB))
    h, w = big.shape[:2]
    return [(pts * (w, h) - p, score) for pts, score in found]


def grown_hull(hull: np.ndarray, palm: float) -> np.ndarray:
    """The hull (uint8 0/1) grown by a finger's half width (FINGER_HALF_WIDTH of the palm
    length `palm`, px)."""
    return cv2.dilate(hull, sg.disk(max(int(round(FINGER_HALF_WIDTH * palm)), 1)))


def refine_hand(crop_bgr: np.ndarray, hull: np.ndarray, palm: float,
                grown: np.ndarray | None = None) -> np.ndarray | None:
    """The hand's outline in the crop (uint8 0/1 of the crop's shape) by GrabCut seeded from
    the hull of its landmarks (hull: uint8 0/1; palm: palm length in px; see SURE_SHARE),
    run in the box of the reachable ring; None when there is no sure hand or too few pixels for
    its colour models, when GrabCut fails, or when the outline is not trusted (REFINE_AREA).
    MediaPipe's points fall short of the hand's edge where it lies flat on the cheek (the
    heel of the hand and the thumb's side), which stayed on the face as a skin-coloured band.
    grown: `grown_hull(hull, palm)` when the caller has it."""
    img = np.ascontiguousarray(bp._to_bgr(crop_bgr))
    grown = grown_hull(hull, palm) if grown is None else grown
    reach = cv2.dilate(hull, sg.disk(max(int(round(REACH_SHARE * palm)), 1)))
    sure = cv2.erode(hull, sg.disk(max(int(round(SURE_SHARE * palm)), 1)))
    if not sure.any():
        return None
    seeds = np.full(hull.shape, cv2.GC_BGD, np.uint8)
    seeds[reach > 0] = cv2.GC_PR_BGD
    seeds[grown > 0] = cv2.GC_PR_FGD
    seeds[sure > 0] = cv2.GC_FGD
    x, y, w, h = cv2.boundingRect(reach)
    m = 4  # a rim of sure background around the ring
    x0, y0 = max(x - m, 0), max(y - m, 0)
    x1, y1 = min(x + w + m, hull.shape[1]), min(y + h + m, hull.shape[0])
    size = (max(int(round((x1 - x0) * GRABCUT_SCALE)), 1),
            max(int(round((y1 - y0) * GRABCUT_SCALE)), 1))
    box = cv2.resize(seeds[y0:y1, x0:x1], size, interpolation=cv2.INTER_NEAREST)
    small = cv2.resize(img[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
    hand_px = int(np.count_nonzero((box == cv2.GC_FGD) | (box == cv2.GC_PR_FGD)))
    if hand_px < GRABCUT_MIN_SAMPLES or box.size - hand_px < GRABCUT_MIN_SAMPLES:
        return None  # a hand filling the crop (or a speck): no colour model to learn
    cv2.setRNGSeed(GRABCUT_SEED)  # GrabCut's k-means start: the same outline in every process
    try:
        cv2.grabCut(small, box, None, np.zeros((1, 65)), np.zeros((1, 65)), GRABCUT_ITERS,
                    cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return None  # the grown hull alone, as without the crop
    hand = ((box == cv2.GC_FGD) | (box == cv2.GC_PR_FGD)).astype(np.float32)
    out = np.zeros_like(hull)
    out[y0:y1, x0:x1] = cv2.resize(hand, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR) > 0.5
    ratio = float(out.sum()) / max(float(grown.sum()), 1.0)
    return out if REFINE_AREA[0] <= ratio <= REFINE_AREA[1] else None


def hand_region(points: list[np.ndarray], landmarks: np.ndarray, face: np.ndarray,
                crop_bgr: np.ndarray | None = None) -> tuple[np.ndarray, list[np.ndarray], int]:
    """(bool mask of the face's shape, kept hands, rejected count): each hand's 21 points (crop
    px) filled as their convex hull grown by FINGER_HALF_WIDTH of the palm length, joined (with
    the crop) with the hand's outline that GrabCut finds from that hull (`refine_hand`), inside
    the face.
    A hand whose wrist lies inside the hull of the jaw and brow landmarks (0-26) is left out (a
    nose or mouth taken for a hand: a real hand's arm comes from outside the face), and so is
    one covering less than MIN_AREA px of the face."""
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
        hull = np.zeros_like(mask)
        cv2.fillConvexPoly(hull, cv2.convexHull(np.rint(pts).astype(np.int32)), 1)
        palm = float(np.linalg.norm(pts[0] - pts[9]))
        part = grown_hull(hull, palm)
        refined = None if crop_bgr is None else refine_hand(crop_bgr, hull, palm, part)
        if refined is not None:
            part |= refined
        part &= face.astype(np.uint8)
        if int(part.sum()) < MIN_AREA:
            rejected += 1
            continue
        mask |= part
        kept.append(pts)
    return mask.astype(bool), kept, rejected


def find_hands(crop_bgr: np.ndarray, landmarks: np.ndarray, face: np.ndarray) -> Hands:
    """The hands over a crop's face (face: bool mask of the crop's shape); an empty mask with
    the reason when the step is off, mediapipe is not installed or MediaPipe failed.
    MediaPipe's full models run first; when they leave no hand on the face, the lite ones
    (LITE_FALLBACK), whose palm detector finds some hands the full one misses (a hand holding
    a microphone to the mouth). An error of the full run (MediaPipe or the hands' regions)
    gives status "failed: <why>"; one of the lite run leaves the full run's answer (warned
    once per reason)."""
    none = np.zeros(face.shape, bool)
    reason = unavailable_reason()
    if reason is not None:
        return Hands(none, status=reason)
    try:
        first = _hands_by(crop_bgr, landmarks, face, lite=False)
    except Exception as exc:  # noqa: BLE001 - the cues alone, with the reason
        return Hands(none, status="failed: " + f"{type(exc).__name__}: {exc}".splitlines()[0])
    if first.points or not LITE_FALLBACK:
        return first
    try:
        again = _hands_by(crop_bgr, landmarks, face, lite=True)
    except Exception as exc:  # noqa: BLE001 - the full models' answer stands, said once
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if reason not in _warned:
            _warned.add(reason)
            warnings.warn(f"hands: MediaPipe's lite models failed ({reason}); the full "
                          "models' answer is kept", stacklevel=2)
        return first
    return again if again.points else first


def _hands_by(crop_bgr: np.ndarray, landmarks: np.ndarray, face: np.ndarray,
              lite: bool) -> Hands:
    """The hands over the face that MediaPipe's full (or lite) models find (`hand_points`,
    `hand_region`); raises what MediaPipe raises."""
    points = [p for p, _ in hand_points(crop_bgr, lite=lite)]
    mask, kept, rejected = hand_region(points, landmarks, face, crop_bgr)
    return Hands(mask, kept, rejected, "found" if kept else "none", "lite" if lite else "full")


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
