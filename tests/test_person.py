"""Background inside the face mask by person segmentation (extreme3d.occlusion.person)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from extreme3d import bump_photo as bp
from extreme3d.occlusion import mediapipe_runner as mp_run
from extreme3d.occlusion import person
from extreme3d.occlusion import segment as sg

C = bp.CROP


def _disc_face() -> np.ndarray:
    """500x500 bool face mask: a disc of radius 150 px at the centre."""
    yy, xx = np.mgrid[0:C, 0:C]
    return (xx - 250) ** 2 + (yy - 250) ** 2 < 150**2


@pytest.fixture(autouse=True)
def _no_kept_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without the last crop's kept answer (`person._last`)."""
    monkeypatch.setattr(person, "_last", [None])


def test_the_last_crops_answer_is_kept_and_read_only(monkeypatch: pytest.MonkeyPatch):
    """The occlusion step and the colour mask ask for the same crop: MediaPipe runs once for
    it, again for another crop (or the same one changed), and the answer cannot be written."""
    calls = []

    def run(kind: str, rgb: np.ndarray) -> np.ndarray:
        calls.append(int(rgb.sum()))
        return np.full(rgb.shape[:2], 0.25 * len(calls), np.float32)

    monkeypatch.setattr(mp_run, "run", run)
    monkeypatch.delenv(person.ENV_SWITCH, raising=False)
    crop = np.zeros((C, C, 3), np.uint8)
    first = person.person_probability(crop)
    assert person.person_probability(crop.copy()) is first and calls == [0]
    with pytest.raises(ValueError):
        first[0, 0] = 1.0
    other = crop.copy()
    other[0, 0, 0] = 7
    assert person.person_probability(other)[0, 0] == 0.5 and calls == [0, 7]
    crop[0, 0, 0] = 7  # the kept crop is a copy: changing the caller's array changes nothing
    assert person.person_probability(crop)[0, 0] == 0.5 and calls == [0, 7]
    assert person.person_probability(np.zeros((C, C, 3), np.uint8))[0, 0] == 0.75
    grey = np.full((C, C), 9, np.uint8)  # a grey crop and its BGR copy: one run
    assert person.person_probability(grey) is person.person_probability(
        np.repeat(grey[..., None], 3, axis=2)) and len(calls) == 4


def test_background_touching_the_border_is_taken_islands_and_specks_are_not(
        monkeypatch: pytest.MonkeyPatch):
    """Face pixels with person probability < 0.5 in regions that reach the mask's border are
    background; an island inside the face (e.g. dark glasses called 'no person') and specks
    under MIN_REGION_PIXELS are not; the face pixels within EDGE_PX of the background are
    taken too (mixed pixels at the outline); nothing outside the face is returned."""
    face = _disc_face()
    prob = np.ones((C, C), np.float32)
    prob[200:300, 370:460] = 0.1  # crosses the disc's right edge (x = 400)
    prob[240:260, 240:260] = 0.2  # an island in the middle
    prob[100:104, 248:252] = 0.0  # 16 px at the top edge (y = 100): a speck
    prob[0:50, 0:50] = 0.0  # outside the face
    monkeypatch.setattr(mp_run, "run", lambda kind, rgb: prob if kind == "selfie" else None)
    monkeypatch.delenv(person.ENV_SWITCH, raising=False)
    bg = person.background_pixels(np.zeros((C, C, 3), np.uint8), face)
    assert bg[250, 390] and bg[210, 380] and not bg[250, 250] and not bg[102, 250]
    assert not (bg & ~face).any() and not bg[0:50, 0:50].any()
    region = np.zeros((C, C), bool)
    region[200:300, 370:460] = True
    yy, xx = np.mgrid[0:C, 0:C]
    e = person.EDGE_PX
    near = np.zeros((C, C), bool)  # within EDGE_PX of the region (a disc around each pixel)
    for dy in range(-e, e + 1):
        for dx in range(-e, e + 1):
            if dx * dx + dy * dy <= e * e:
                near |= np.roll(np.roll(region, dy, 0), dx, 1)
    assert (bg == (near & face)).mean() > 0.9999  # (the dilation's disc is OpenCV's ellipse)
    assert bg[250, 370 - e] and not bg[250, 370 - e - 2] and bg[200 - e, 380]
    monkeypatch.setenv(person.ENV_SWITCH, "off")
    assert not person.background_pixels(np.zeros((C, C, 3), np.uint8), face).any()


def test_without_mediapipe_nothing_is_taken_and_it_is_said(monkeypatch: pytest.MonkeyPatch):
    """A missing mediapipe gives no background pixels and one warning naming the package."""
    def missing(kind: str, rgb: np.ndarray) -> None:
        raise ImportError("No module named 'mediapipe'")

    monkeypatch.setattr(mp_run, "run", missing)
    monkeypatch.setattr(person, "_warned", set())
    monkeypatch.delenv(person.ENV_SWITCH, raising=False)
    with pytest.warns(UserWarning, match="mediapipe not installed"):
        bg = person.background_pixels(np.zeros((C, C, 3), np.uint8), _disc_face())
    assert not bg.any()


def test_paper_crop_background_beside_a_turned_face(shared: Path):
    """sport-sunglasses (turned face, sky and flowers beside it): background found at the
    mask's far side (image right); a frontal face on a plain backdrop (Old_Mother): none."""
    data = shared / "data" / "paper"
    if mp_run.unavailable_reason() is not None:
        pytest.skip(mp_run.unavailable_reason())
    for name in ("sport-sunglasses-lowres-4809", "Old_Mother"):
        if not (data / "imgs" / f"{name}.png").exists():
            pytest.skip(f"{name} not in {data}")
    crop, _, _, mask = bp.load_paper_item(data, "sport-sunglasses-lowres-4809")
    face = sg.crop_of(mask) >= 127
    bg = person.background_pixels(crop, face)
    assert 0.01 < bg.sum() / face.sum() < 0.1
    assert np.nonzero(bg)[1].mean() > np.nonzero(face)[1].mean() + 50
    crop, _, _, mask = bp.load_paper_item(data, "Old_Mother")
    assert not person.background_pixels(crop, sg.crop_of(mask) >= 127).any()


def test_helper_process_gives_the_in_process_answers(shared: Path):
    """mediapipe_runner's helper process (used in a child forked after its parent ran
    MediaPipe) answers both solutions exactly as this process does; a dead helper is
    restarted on the next call."""
    if mp_run.unavailable_reason() is not None:
        pytest.skip(mp_run.unavailable_reason())
    data = shared / "data" / "paper"
    name = "nsa-director-adm-michael-rogers"
    if not (data / "imgs" / f"{name}.png").exists():
        pytest.skip(f"{name} not in {data}")
    rgb = np.ascontiguousarray(bp.load_paper_item(data, name)[0][..., ::-1])
    local = {k: mp_run.run(k, rgb) for k in ("selfie", "hands")}
    saved = dict(mp_run._state)
    try:
        mp_run._state.update(delegate=True, helper=None)
        for _ in range(2):
            remote = {k: mp_run.run(k, rgb) for k in ("selfie", "hands")}
            assert np.array_equal(remote["selfie"], local["selfie"])
            assert len(remote["hands"]) == len(local["hands"]) == 1
            assert np.array_equal(remote["hands"][0][0], local["hands"][0][0])
            mp_run._state["helper"].kill()
            mp_run._state["helper"].wait()
    finally:
        if mp_run._state["helper"] is not None:
            mp_run._state["helper"].kill()
        mp_run._state.clear()
        mp_run._state.update(saved)
