"""MediaPipe's legacy solutions (optional) run for the occlusion step: hands and person masks.

`mediapipe==0.10.14` ships its models inside its wheel (Apache-2.0): MediaPipe Hands (palm
detection + 21 hand landmarks) and Selfie Segmentation (person vs background). `make setup`
installs it with `--no-deps` (docs/occlusion.md). Without it `unavailable_reason` says so and
the callers go on without it; nothing is downloaded.

MediaPipe's C++ state does not survive a fork: a graph made in a child forked after its parent
ran one corrupts the heap. So each process makes its own graphs on first use, and a child
forked after its parent used MediaPipe (the Ray engine's warm start, a fork-context pool) runs
them in a helper process instead: a fresh interpreter running this module, talking
length-prefixed pickles over its stdin/stdout. The answers are the same either way.
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import types
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import numpy as np

PACKAGE_HINT = ("mediapipe not installed (pip install --no-deps mediapipe==0.10.14, or make "
                "setup; docs/occlusion.md)")
HELPER_TIMEOUT_S = 120.0  # the longest wait for the helper process's answer (its start included)
HAND_CONFIDENCE = 0.3  # MediaPipe Hands' palm-detection confidence
MAX_HANDS = 4

_lock = threading.Lock()
# This process's MediaPipe state: its solutions by kind (made on first use), the kinds that
# have run once (their first run logs from C++), and, in a child forked after its parent used
# MediaPipe, the helper process that runs them instead (`delegate`).
_state: dict[str, Any] = {"solutions": {}, "warmed": set(), "delegate": False, "helper": None}
_stale: list[Any] = []  # a forked child's copies of its parent's objects: kept, never closed


def _after_fork_in_child() -> None:
    """In a forked child: a fresh lock, and MediaPipe through a helper process when the
    parent had started it (the parent's solutions and helper are left alone)."""
    global _lock
    _lock = threading.Lock()
    if _state["solutions"]:
        _stale.append(_state["solutions"])
        _state.update(solutions={}, warmed=set(), delegate=True)
    if _state["helper"] is not None:
        _stale.append(_state["helper"])
        _state["helper"] = None


if hasattr(os, "register_at_fork"):  # POSIX (no fork elsewhere)
    os.register_at_fork(after_in_child=_after_fork_in_child)


@contextmanager
def quiet_stderr() -> Iterator[None]:
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


def switched_off(env: str) -> bool:
    """Whether the environment variable `env` switches a MediaPipe step off (off/0/false/no)."""
    return os.environ.get(env, "").strip().lower() in ("0", "off", "false", "no")


@lru_cache(maxsize=1)
def unavailable_reason() -> str | None:
    """Why MediaPipe's solutions cannot run here (None: they can); tried once per process."""
    try:
        _import_solutions()
    except ImportError:
        return PACKAGE_HINT
    return None


def _lazy_pyplot(name: str) -> Any:
    """An attribute of the real matplotlib.pyplot, imported on first use (module __getattr__
    of the stand-in below)."""
    import importlib

    return getattr(importlib.import_module("matplotlib.pyplot"), name)


@contextmanager
def _pyplot_stand_in() -> Iterator[None]:
    """Imports in the block that ask for matplotlib.pyplot get a stand-in module that imports
    the real one on first attribute use. MediaPipe's solutions package imports pyplot for a
    plotting helper we never call; the import costs ~0.4 s CPU, 70% of MediaPipe's, in every
    process. Nothing changes when matplotlib is already imported; the stand-ins leave
    sys.modules after the block, so later imports get the real package."""
    if "matplotlib" in sys.modules:
        yield
        return
    package = types.ModuleType("matplotlib")
    package.__path__ = []  # a package, so that "matplotlib.pyplot" may be looked up
    pyplot = types.ModuleType("matplotlib.pyplot")
    pyplot.__getattr__ = _lazy_pyplot  # type: ignore[attr-defined]
    package.pyplot = pyplot  # type: ignore[attr-defined]
    stand_ins = {"matplotlib": package, "matplotlib.pyplot": pyplot}
    sys.modules.update(stand_ins)
    try:
        yield
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


def _import_solutions() -> None:
    """Imports MediaPipe's hands and selfie-segmentation solutions quietly (raises ImportError
    without mediapipe)."""
    with warnings.catch_warnings(), quiet_stderr(), _pyplot_stand_in():
        warnings.simplefilter("ignore")
        import mediapipe.python.solutions.hands  # noqa: F401
        import mediapipe.python.solutions.selfie_segmentation  # noqa: F401


def _solution(kind: str) -> Any:
    """This process's MediaPipe solution of a kind ("hands": the full palm and hand models,
    "hands-lite": the lite ones, "selfie"), made on first use (raises ImportError without
    mediapipe)."""
    sol = _state["solutions"].get(kind)
    if sol is None:
        _import_solutions()
        with warnings.catch_warnings(), quiet_stderr():
            warnings.simplefilter("ignore")
            if kind in ("hands", "hands-lite"):
                from mediapipe.python.solutions import hands as mp_hands

                sol = mp_hands.Hands(static_image_mode=True, max_num_hands=MAX_HANDS,
                                     min_detection_confidence=HAND_CONFIDENCE,
                                     model_complexity=1 if kind == "hands" else 0)
            elif kind == "selfie":
                from mediapipe.python.solutions import selfie_segmentation as mp_selfie

                sol = mp_selfie.SelfieSegmentation(model_selection=0)
            else:
                raise ValueError(f"unknown MediaPipe solution {kind!r}")
        _state["solutions"][kind] = sol
    return sol


def _local(kind: str, rgb: np.ndarray) -> Any:
    """A solution's answer on an RGB uint8 image, in this process: for "hands" and
    "hands-lite" a list of (21x2 landmarks in [0, 1] image units, handedness score), for
    "selfie" the person probability (float32, the image's shape)."""
    sol = _solution(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind in _state["warmed"]:
            res = sol.process(rgb)
        else:
            with quiet_stderr():
                res = sol.process(rgb)
            _state["warmed"].add(kind)
    if kind == "selfie":
        return np.array(res.segmentation_mask, np.float32)
    return [(np.array([[lm.x, lm.y] for lm in lms.landmark], np.float64),
             float(side.classification[0].score))
            for lms, side in zip(res.multi_hand_landmarks or [], res.multi_handedness or [],
                                 strict=False)]


def _by_helper(kind: str, rgb: np.ndarray) -> Any:
    """`_local` run by this process's helper process (started on first use)."""
    helper = _state["helper"]
    if helper is None or helper.poll() is not None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        helper = subprocess.Popen([sys.executable, "-m", "extreme3d.occlusion.mediapipe_runner"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, env=env)
        _state["helper"] = helper
    data = pickle.dumps((kind, rgb), protocol=pickle.HIGHEST_PROTOCOL)
    helper.stdin.write(struct.pack("<Q", len(data)) + data)
    helper.stdin.flush()
    ready, _, _ = select.select([helper.stdout], [], [], HELPER_TIMEOUT_S)
    head = helper.stdout.read(8) if ready else b""
    if len(head) < 8:
        helper.kill()
        _state["helper"] = None
        raise RuntimeError("the MediaPipe helper process gave no answer")
    status, value = pickle.loads(helper.stdout.read(struct.unpack("<Q", head)[0]))
    if status != "ok":
        raise RuntimeError(f"MediaPipe helper: {value}")
    return value


def run(kind: str, rgb: np.ndarray) -> Any:
    """A MediaPipe solution's answer on an RGB uint8 image (see `_local`), in this process or,
    in a child forked after its parent used MediaPipe, in the helper process; raises
    ImportError without mediapipe."""
    rgb = np.ascontiguousarray(rgb, np.uint8)
    with _lock:
        return _by_helper(kind, rgb) if _state["delegate"] else _local(kind, rgb)


def _serve() -> int:
    """The helper process's loop: (kind, image) in, `_local`'s answer out, until stdin closes."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while len(head := stdin.read(8)) == 8:
        kind, rgb = pickle.loads(stdin.read(struct.unpack("<Q", head)[0]))
        try:
            answer: tuple[str, Any] = ("ok", _local(kind, rgb))
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            answer = ("error", f"{type(exc).__name__}: {exc}")
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.write(struct.pack("<Q", len(data)) + data)
        stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(_serve())
