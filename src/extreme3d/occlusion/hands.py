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
import pickle
import select
import struct
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from extreme3d import bump_photo as bp

PAD = 0.25  # the crop is padded (black) by this share of its side: hands cut by its edge are found
MIN_CONFIDENCE = 0.3  # MediaPipe's palm-detection confidence
MAX_HANDS = 4
FINGER_HALF_WIDTH = 0.1  # the hull is grown by this share of the palm length (wrist to finger base)
MIN_AREA = 400  # px of a hand on the face below which it is left out (segment.MIN_AREA)
ENV_SWITCH = "EXTREME3D_HANDS"  # "off": the step is not run
PACKAGE_HINT = ("mediapipe not installed (pip install --no-deps mediapipe==0.10.14, or make "
                "setup; docs/occlusion.md)")

HELPER_TIMEOUT_S = 120.0  # the longest wait for the helper process's answer (its start included)

_lock = threading.Lock()
# This process's MediaPipe state: its detector (made on first use), whether it has run once
# (its first run logs from C++), and, in a child forked after its parent used MediaPipe (whose
# C++ state does not survive a fork: a new graph there corrupts the heap), the helper process
# that runs it instead (`delegate`).
_state: dict[str, Any] = {"detector": None, "warmed": False, "delegate": False, "helper": None}
_stale: list[Any] = []  # a forked child's copies of its parent's objects: kept, never closed


def _after_fork_in_child() -> None:
    """In a forked child: a fresh lock, and MediaPipe through a helper process when the
    parent had started it (the parent's detector and helper are left alone)."""
    global _lock
    _lock = threading.Lock()
    if _state["detector"] is not None:
        _stale.append(_state["detector"])
        _state.update(detector=None, warmed=False, delegate=True)
    if _state["helper"] is not None:
        _stale.append(_state["helper"])
        _state["helper"] = None


os.register_at_fork(after_in_child=_after_fork_in_child)


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silences file descriptor 2 for the block: MediaPipe's C++ start-up lines (TFLite
    delegate, absl, feedback-tensor warnings) that say nothing to a user."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@dataclass(frozen=True)
class Hands:
    """The hands found on a crop's face."""

    mask: np.ndarray  # (H, W) bool: hand pixels inside the face
    points: list[np.ndarray] = field(default_factory=list)  # kept hands, 21x2 crop px each
    rejected: int = 0  # hands found but left out (wrist inside the face, or too small on it)
    status: str = "none"  # "found", "none", "off", "unavailable: <why>" or "failed: <why>"


def _switched_off() -> bool:
    """Whether the environment switches the hand step off (EXTREME3D_HANDS=off/0/false/no)."""
    return os.environ.get(ENV_SWITCH, "").strip().lower() in ("0", "off", "false", "no")


def unavailable_reason() -> str | None:
    """Why the hand step cannot run here (None: it can)."""
    if _switched_off():
        return "off"
    try:
        with warnings.catch_warnings(), _quiet_stderr():
            warnings.simplefilter("ignore")
            import mediapipe.python.solutions.hands  # noqa: F401
    except ImportError:
        return "unavailable: " + PACKAGE_HINT
    return None


def status_line() -> str:
    """The batch's start-up line for the hand step (without loading MediaPipe)."""
    if _switched_off():
        return f"hands: off ({ENV_SWITCH}={os.environ[ENV_SWITCH]})"
    if importlib.util.find_spec("mediapipe") is None:
        return f"hands: unavailable ({PACKAGE_HINT}): hands over the face are not found"
    return "hands: mediapipe (MediaPipe Hands: hands over the face join the occluders)"


def _detector() -> Any:
    """This process's MediaPipe Hands for still images, made on first use (raises
    ImportError without mediapipe)."""
    if _state["detector"] is None:
        with warnings.catch_warnings(), _quiet_stderr():
            warnings.simplefilter("ignore")
            from mediapipe.python.solutions import hands as mp_hands

            _state["detector"] = mp_hands.Hands(
                static_image_mode=True, max_num_hands=MAX_HANDS,
                min_detection_confidence=MIN_CONFIDENCE, model_complexity=1)
    return _state["detector"]


def _local_points(rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """(21x2 landmarks in [0, 1] image units, handedness score) of the hands MediaPipe finds
    in an RGB uint8 image, in this process."""
    det = _detector()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if _state["warmed"]:
            res = det.process(rgb)
        else:
            with _quiet_stderr():
                res = det.process(rgb)
            _state["warmed"] = True
    return [(np.array([[lm.x, lm.y] for lm in lms.landmark], np.float64),
             float(side.classification[0].score))
            for lms, side in zip(res.multi_hand_landmarks or [], res.multi_handedness or [],
                                 strict=False)]


def _helper_points(rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """`_local_points` run by this process's helper process (started on first use: a fresh
    interpreter running this module, talking length-prefixed pickles over its stdin/stdout)."""
    helper = _state["helper"]
    if helper is None or helper.poll() is not None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        helper = subprocess.Popen([sys.executable, "-m", "extreme3d.occlusion.hands"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, env=env)
        _state["helper"] = helper
    data = pickle.dumps(rgb, protocol=pickle.HIGHEST_PROTOCOL)
    helper.stdin.write(struct.pack("<Q", len(data)) + data)
    helper.stdin.flush()
    ready, _, _ = select.select([helper.stdout], [], [], HELPER_TIMEOUT_S)
    head = helper.stdout.read(8) if ready else b""
    if len(head) < 8:
        helper.kill()
        _state["helper"] = None
        raise RuntimeError("the MediaPipe helper process gave no answer")
    kind, value = pickle.loads(helper.stdout.read(struct.unpack("<Q", head)[0]))
    if kind != "ok":
        raise RuntimeError(f"MediaPipe helper: {value}")
    return value


def _serve() -> int:
    """The helper process's loop: RGB images in, `_local_points` out, until stdin closes."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while len(head := stdin.read(8)) == 8:
        rgb = pickle.loads(stdin.read(struct.unpack("<Q", head)[0]))
        try:
            answer: tuple[str, Any] = ("ok", _local_points(rgb))
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            answer = ("error", f"{type(exc).__name__}: {exc}")
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.write(struct.pack("<Q", len(data)) + data)
        stdout.flush()
    return 0


def hand_points(crop_bgr: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """(21x2 landmarks in crop px, handedness score) of every hand MediaPipe finds in a crop
    (BGR or grey, as bump_photo takes it: 500x500 uint8; padded by PAD of its side first);
    raises ImportError without mediapipe."""
    img = np.ascontiguousarray(bp._to_bgr(crop_bgr))
    p = int(round(PAD * max(img.shape[:2])))
    big = cv2.copyMakeBorder(img, p, p, p, p, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    rgb = np.ascontiguousarray(cv2.cvtColor(big, cv2.COLOR_BGR2RGB))
    with _lock:
        found = _helper_points(rgb) if _state["delegate"] else _local_points(rgb)
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


if __name__ == "__main__":
    raise SystemExit(_serve())
