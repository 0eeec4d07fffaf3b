"""Hands over the face (extreme3d.occlusion.hands): the region geometry on synthetic hands, the
named fallbacks, and MediaPipe on paper crops with and without a hand."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from extreme3d import bump_photo as bp
from extreme3d import occlusion as oc
from extreme3d.occlusion import hands as hd
from extreme3d.occlusion import segment as sg

C = bp.CROP


def _face() -> tuple[np.ndarray, np.ndarray]:
    """(mean landmarks in crop px, 500x500 bool face mask of their outline)."""
    lm = bp.default_constants().mean_landmarks.copy()
    return lm, bp.landmark_mask(lm, bp.default_constants()) > 0


def _hand(wrist: tuple[float, float], tip: tuple[float, float], width: float) -> np.ndarray:
    """21 points of a flat synthetic hand: the wrist, then four fingers of five points each
    fanned over `width` px across the wrist-to-tip direction (crop px)."""
    w, t = np.asarray(wrist, float), np.asarray(tip, float)
    axis = t - w
    across = np.array([-axis[1], axis[0]]) / np.linalg.norm(axis)
    pts = [w]
    for f in np.linspace(-0.5, 0.5, 4):
        for s in np.linspace(0.4, 1.0, 5):
            pts.append(w + s * axis + f * width * across)
    return np.array(pts)


def test_hand_from_below_covers_the_mouth_and_stays_inside_the_face():
    """A hand reaching from below the chin over the mouth: its hull grown by a finger's half
    width, cut to the face; its wrist lies outside the face outline, so it is kept."""
    lm, face = _face()
    chin, mouth = lm[8], lm[62]
    hand = _hand((chin[0], chin[1] + 60), (mouth[0], mouth[1] - 20), 90)
    mask, kept, rejected = hd.hand_region([hand], lm, face)
    assert len(kept) == 1 and rejected == 0
    assert mask[int(mouth[1]), int(mouth[0])] and not (mask & ~face).any()
    assert not mask[int(lm[27][1]), int(lm[27][0])]  # the nose bridge stays clear
    # the hull of the points, grown by 10% of the palm length (wrist to point 9) on each side
    r = hd.FINGER_HALF_WIDTH * np.linalg.norm(hand[0] - hand[9])
    x = int(mouth[0] + 45 + r - 2)
    assert mask[int(mouth[1]), x] and not mask[int(mouth[1]), int(mouth[0] + 45 + r + 3)]


def test_hand_outline_from_the_crop_reaches_the_hand_edge():
    """Landmarks that fall short of the hand's edge (a narrower fan than the hand): the grown
    hull misses the edge band, the GrabCut outline from the crop (`refine_hand`, joined to the
    hull) reaches it and stays off the face's skin; the same mask on every call (fixed seed)."""
    lm, face = _face()
    chin, mouth = lm[8], lm[62]
    wrist, tip = (chin[0], chin[1] + 60), (mouth[0], mouth[1] - 20)
    points = _hand(wrist, tip, 70)
    true_hand = np.zeros(face.shape, np.uint8)
    wide = np.rint(_hand(wrist, tip, 130)).astype(np.int32)
    cv2.fillConvexPoly(true_hand, cv2.convexHull(wide), 1)
    rng = np.random.default_rng(0)
    crop = np.empty((C, C, 3), np.float32)
    crop[:] = (140, 160, 205)
    crop[true_hand > 0] = (115, 135, 185)  # the hand: skin, a little darker and redder
    crop += rng.normal(0, 3, crop.shape)
    cnt, _ = cv2.findContours(true_hand, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    crop = np.clip(crop, 0, 255).astype(np.uint8)
    cv2.drawContours(crop, cnt, -1, (90, 100, 130), 2)  # its shadowed edge
    hand = true_hand.astype(bool) & face
    hull_only = hd.hand_region([points], lm, face)[0]
    outline, kept, _ = hd.hand_region([points], lm, face, crop)
    assert len(kept) == 1
    assert hull_only[hand].mean() < 0.8  # the landmarks fall short of the edge
    near = cv2.dilate(true_hand, np.ones((7, 7), np.uint8)).astype(bool)  # the edge line, 3 px
    added = outline & ~hull_only  # what the outline adds to the grown hull
    assert outline[hand].mean() > 0.95 and (added & ~near).sum() < 0.01 * hand.sum()
    assert (outline >= hull_only).all()
    assert (hd.hand_region([points], lm, face, crop)[0] == outline).all()


def test_two_hands_are_both_kept_with_and_without_the_crop():
    """Two hands from outside the face (one under the chin, one at the cheek): both kept, with
    the grown hulls alone and with the crop's outline (review: the second hand's wrist test once
    met the first hand's outline instead of the face's)."""
    lm, face = _face()
    chin, mouth = lm[8], lm[62]
    below = _hand((chin[0], chin[1] + 60), (mouth[0], mouth[1] - 20), 90)
    cheek = _hand((lm[0][0] - 60, lm[0][1]), (lm[36][0], lm[36][1] + 40), 60)
    crop = np.full((C, C, 3), 128, np.uint8)
    for image in (None, crop):
        mask, kept, rejected = hd.hand_region([below, cheek], lm, face, image)
        assert len(kept) == 2 and rejected == 0 and mask.any()


def test_refine_hand_without_room_for_a_colour_model_keeps_the_hull():
    """A hull filling the crop (no pixels left for GrabCut's background model) or GrabCut
    failing: no outline (None), never an error."""
    rng = np.random.default_rng(1)
    noisy = np.clip(rng.normal(150, 30, (C, C, 3)), 0, 255).astype(np.uint8)
    full = np.ones((C, C), np.uint8)
    full[:3, :3] = 0
    assert hd.refine_hand(noisy, full, 50.0) is None
    hand = _hand((250, 480), (250, 330), 90)
    hull = np.zeros((C, C), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.rint(hand).astype(np.int32)), 1)
    assert hd.refine_hand(noisy, hull, 30.0) is not None


def test_hand_with_its_wrist_inside_the_face_or_tiny_is_left_out():
    """A 'hand' whose wrist lies inside the face (a nose taken for a hand) and one covering
    less than MIN_AREA px of the face are rejected; bad point arrays too."""
    lm, face = _face()
    nose = lm[30]
    inside = _hand((nose[0], nose[1] + 10), (nose[0], nose[1] - 60), 50)
    corner = _hand((0, 0), (12, 12), 6)  # far outside the face
    bad = np.full((21, 2), np.nan)
    mask, kept, rejected = hd.hand_region([inside, corner, bad, np.zeros((5, 2))], lm, face)
    assert not mask.any() and kept == [] and rejected == 4


@pytest.fixture
def fresh_reason():
    """mediapipe_runner.unavailable_reason tried afresh after the test (it is cached per
    process, and the test fakes a missing package)."""
    yield
    hd.mp_run.unavailable_reason.cache_clear()


def test_switched_off_and_missing_package_are_named(monkeypatch: pytest.MonkeyPatch,
                                                    fresh_reason: None):
    """EXTREME3D_HANDS=off and a missing mediapipe give an empty mask with the reason, and
    deocclude records it."""
    lm, face = _face()
    crop = np.full((C, C, 3), 128, np.uint8)
    monkeypatch.setenv(hd.ENV_SWITCH, "off")
    res = hd.find_hands(crop, lm, face)
    assert res.status == "off" and not res.mask.any()
    monkeypatch.delenv(hd.ENV_SWITCH)

    monkeypatch.setitem(sys.modules, "mediapipe.python.solutions.hands", None)  # not importable
    hd.mp_run.unavailable_reason.cache_clear()  # tried again (see the fixture)
    res = hd.find_hands(crop, lm, face)
    assert res.status.startswith("unavailable") and "mediapipe" in res.status
    assert not res.mask.any()
    assert hd.describe({"status": res.status}).startswith("hands unavailable")
    mask512 = bp.to_maps(np.zeros((C, C)), face)[1]
    bump = np.full((512, 512), 127, np.uint8)
    bump[100:400, 100:400] = 140
    out = oc.deocclude(crop, lm, bump, mask512)
    assert out.extras["hands"]["status"].startswith("unavailable")
    assert "hands" not in oc.deocclude(crop, lm, bump, mask512, hands=False).extras


def _paper(shared: Path, name: str) -> tuple:
    data = shared / "data" / "paper"
    if not (data / "imgs" / f"{name}.png").exists():
        pytest.skip(f"{name} not in {data}")
    if hd.unavailable_reason() is not None:
        pytest.skip(f"hand step: {hd.unavailable_reason()}")
    return bp.load_paper_item(data, name)


def test_paper_hand_over_the_mouth_is_found_and_refilled(shared: Path):
    """nsa-director (a hand over mouth and chin): MediaPipe finds one hand; it covers the mouth,
    joins the occluders (which the cues alone miss there) and the map changes under it."""
    crop, lm, orig, mask = _paper(shared, "nsa-director-adm-michael-rogers")
    with_hands = oc.deocclude(crop, lm, orig, mask)
    cues = oc.deocclude(crop, lm, orig, mask, hands=False)
    info = with_hands.extras["hands"]
    assert info["status"] == "found" and info["count"] == 1 and info["fraction"] > 0.1
    occ = with_hands.occluders[bp.MARGIN:-bp.MARGIN, bp.MARGIN:-bp.MARGIN]
    mouth = np.rint(lm[48:68]).astype(int)
    assert occ[mouth[:, 1], mouth[:, 0]].mean() > 0.8
    assert with_hands.occluded_fraction > cues.occluded_fraction + 0.1
    assert (with_hands.bump[with_hands.occluders] != orig[with_hands.occluders]).mean() > 0.3


MICROPHONE = "9r0a9959_wide-39289aa541aa720da7eed630a8df9145a2a127e3-s900-c85"


def test_lite_models_find_the_hand_holding_a_microphone(shared: Path,
                                                        monkeypatch: pytest.MonkeyPatch):
    """9r0a9959 (a hand holding a microphone to the mouth): MediaPipe's full models find no
    hand, the lite ones do; with the fallback the hand and the microphone's head join the
    occluders over the mouth, without it nothing is found there."""
    crop, lm, orig, mask = _paper(shared, MICROPHONE)
    face = sg.crop_of(mask) >= 127
    assert hd.hand_points(crop) == [] and len(hd.hand_points(crop, lite=True)) == 1
    found = hd.find_hands(crop, lm, face)
    assert found.status == "found" and found.model == "lite" and len(found.points) == 1
    assert found.record(face)["model"] == "lite" and found.record(face)["fraction"] > 0.1
    mouth = np.rint(lm[48:68]).astype(int)
    assert found.mask[mouth[:, 1], mouth[:, 0]].mean() > 0.5
    monkeypatch.setattr(hd, "LITE_FALLBACK", False)
    alone = hd.find_hands(crop, lm, face)
    assert alone.status == "none" and alone.model == "full" and not alone.mask.any()


def test_lite_fallback_keeps_the_full_models_answer_when_it_fails(
        monkeypatch: pytest.MonkeyPatch):
    """The lite run failing (or finding nothing) leaves the full models' answer: no hand,
    status "none", not an error."""
    lm, face = _face()
    calls = []

    def points(crop: np.ndarray, lite: bool = False) -> list:
        calls.append(lite)
        if lite:
            raise RuntimeError("lite graph failed")
        return []

    monkeypatch.setattr(hd, "unavailable_reason", lambda: None)
    monkeypatch.setattr(hd, "hand_points", points)
    monkeypatch.setattr(hd, "_warned", set())
    with pytest.warns(UserWarning, match="lite models failed"):
        res = hd.find_hands(np.zeros((C, C, 3), np.uint8), lm, face)
    assert calls == [False, True]
    assert res.status == "none" and res.model == "full" and not res.mask.any()
    monkeypatch.setattr(hd, "unavailable_reason", lambda: "off")  # no model ran: none
    assert hd.find_hands(np.zeros((C, C, 3), np.uint8), lm, face).record(face)["model"] == "none"


def test_paper_face_without_a_hand_keeps_its_occluders(shared: Path):
    """img_14 (no hand; MediaPipe takes the nose and mouth for one, its wrist inside the face):
    no hand is kept and the result equals the cues-only one."""
    crop, lm, orig, mask = _paper(shared, "img_14")
    res = oc.deocclude(crop, lm, orig, mask)
    assert res.extras["hands"]["count"] == 0
    assert (res.bump == oc.deocclude(crop, lm, orig, mask, hands=False).bump).all()


def test_flat_map_still_masks_the_hands(monkeypatch: pytest.MonkeyPatch):
    """stages.bump.deoccluded on a flat map (greyscale crop): the map is unchanged, but a hand
    found over the face becomes an occluder (grown like the cues' occluders) in the mask."""
    from extreme3d.occlusion import segment as sg
    from extreme3d.stages.bump import BumpMaps, deoccluded

    lm, face = _face()
    mask512 = bp.to_maps(np.zeros((C, C)), face)[1]
    flat = np.full((512, 512), 127, np.uint8)
    chin, mouth = lm[8], lm[62]
    hand = _hand((chin[0], chin[1] + 60), (mouth[0], mouth[1] - 20), 90)
    region = hd.hand_region([hand], lm, face)[0]
    monkeypatch.setattr(hd, "find_hands",
                        lambda crop, landmarks, f: hd.Hands(region, [hand], 0, "found"))
    out = deoccluded(BumpMaps(flat, mask512, "flat"), np.zeros((C, C, 3), np.uint8), lm)
    assert out.bump is flat and out.occlusion["hands"]["count"] == 1
    occ = sg.crop_of(out.occluders) > 0
    assert (occ == sg.grown(region, face)).all()
    assert (sg.crop_of(out.mask)[occ] == 0).all()
    assert (out.mask[out.occluders == 0] == mask512[out.occluders == 0]).all()
    none = hd.Hands(np.zeros_like(face), [], 0, "none")
    monkeypatch.setattr(hd, "find_hands", lambda crop, landmarks, f: none)
    out = deoccluded(BumpMaps(flat, mask512, "flat"), np.zeros((C, C, 3), np.uint8), lm)
    assert out.occluders is None and out.mask is mask512


def test_start_up_line_names_the_mediapipe_steps(monkeypatch: pytest.MonkeyPatch):
    """The batch's start-up lines name the MediaPipe steps: on, off by their switches, or
    unavailable without mediapipe (with how to install it); only when the occlusion step runs."""
    from extreme3d.occlusion import person
    from extreme3d.stages.models import describe_sources

    monkeypatch.delenv(hd.ENV_SWITCH, raising=False)
    monkeypatch.delenv(person.ENV_SWITCH, raising=False)
    if importlib.util.find_spec("mediapipe") is not None:
        assert hd.status_line() == ("mediapipe: hands over the face on, person segmentation "
                                    "(background kept out of the colours) on")
        monkeypatch.setenv(hd.ENV_SWITCH, "off")
        monkeypatch.setenv(person.ENV_SWITCH, "0")
        assert hd.status_line() == ("mediapipe: hands over the face off (EXTREME3D_HANDS=off), "
                                    "person segmentation (background kept out of the colours) "
                                    "off (EXTREME3D_PERSON=0)")
    real = importlib.util.find_spec
    monkeypatch.setattr(hd.importlib.util, "find_spec",
                        lambda name, *a: None if name == "mediapipe" else real(name, *a))
    line = hd.status_line()
    assert line.startswith("mediapipe: unavailable") and "pip install" in line
    lines = describe_sources("landmarks", "photo", Path("/nonexistent"), occlusion=True)
    assert lines[-1] == line
    assert not any(x.startswith("mediapipe:") for x in
                   describe_sources("landmarks", "photo", Path("/nonexistent")))


def _points_of(crop: np.ndarray) -> list:
    """hand_points as plain lists (picklable from a forked child)."""
    return [(p.tolist(), s) for p, s in hd.hand_points(crop)]


def test_forked_child_after_use_gets_the_same_hands(shared: Path):
    """MediaPipe's C++ state does not survive a fork (a new graph in the child corrupts its
    heap): a child forked after the parent used it runs it in a helper process, with the
    parent's answers, and the parent keeps working."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork start method")
    crop = _paper(shared, "nsa-director-adm-michael-rogers")[0]
    before = _points_of(crop)
    assert len(before) == 1
    with multiprocessing.get_context("fork").Pool(2) as pool:
        children = pool.map(_points_of, [crop] * 3, chunksize=1)
    assert all(c == before for c in children)
    assert _points_of(crop) == before


def test_a_failing_detector_leaves_the_cues_alone(monkeypatch: pytest.MonkeyPatch):
    """MediaPipe failing (e.g. its helper process gone) gives no hand and the reason, not an
    error: the occlusion step goes on with its cues."""
    lm, face = _face()

    def broken(crop: np.ndarray, lite: bool = False) -> list:
        raise RuntimeError("the MediaPipe helper process gave no answer")

    monkeypatch.setattr(hd, "unavailable_reason", lambda: None)
    monkeypatch.setattr(hd, "hand_points", broken)
    res = hd.find_hands(np.zeros((C, C, 3), np.uint8), lm, face)
    assert res.status == "failed: RuntimeError: the MediaPipe helper process gave no answer"
    assert not res.mask.any() and hd.describe({"status": res.status}).startswith("hands failed")


def test_mediapipe_import_leaves_matplotlib_to_the_caller():
    """MediaPipe's solutions package imports matplotlib.pyplot (0.4 s CPU per process) for a
    plotting helper: it gets a stand-in, so matplotlib stays unimported, and a later import of
    it (or MediaPipe's helper using it) gets the real package."""
    import subprocess

    if hd.unavailable_reason() is not None:
        pytest.skip(f"hand step: {hd.unavailable_reason()}")
    script = (
        "import sys\n"
        "from extreme3d.occlusion import mediapipe_runner as m\n"
        "assert m.unavailable_reason() is None\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
        "from mediapipe.python.solutions import drawing_utils as du\n"
        "figure = du.plt.figure\n"
        "import matplotlib.pyplot as plt\n"
        "assert figure is plt.figure and type(plt).__name__ == 'module'\n"
        "assert hasattr(plt, 'subplots') and plt.__spec__ is not None\n"
        "print('ok')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
