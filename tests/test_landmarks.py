"""dlib detection + 68 landmarks, image reading, and the shape-predictor lookup."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from extreme3d import Extreme3DError
from extreme3d import landmarks as lm

PHOTOS = [
    "Jon-Hamm.png",
    "f2cf132b108aa03cd9e4f7aed7ad6e40--gary-oldman.jpg",
    "cde20a36b3e7eb90c7b410f289e0c885.jpg",
    "nsa-director-adm-michael-rogers.jpg.jpg",
]


def test_predictor_lookup_order(tmp_path, monkeypatch):
    monkeypatch.setenv("EXTREME3D_DLIB_DIR", str(tmp_path))
    (tmp_path / lm.PREDICTOR_FILE).write_bytes(b"x")
    assert lm.find_predictor() == tmp_path / lm.PREDICTOR_FILE
    (tmp_path / lm.PREDICTOR_FILE).unlink()
    monkeypatch.setattr(lm, "_packaged_predictor", lambda: None)
    with pytest.raises(Extreme3DError) as err:
        lm.find_predictor()
    msg = str(err.value)
    assert str(tmp_path / lm.PREDICTOR_FILE) in msg and lm.PREDICTOR_URL in msg
    with pytest.raises(Extreme3DError, match=r"nope\.dat: dlib landmark model not found"):
        lm.find_predictor(tmp_path / "nope.dat")


def test_packaged_predictor_found_without_importing_the_package():
    code = (
        "import sys; from extreme3d.landmarks import _packaged_predictor as f; p = f(); "
        "print(p is not None and p.is_file(), 'face_recognition_models' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    if out.stdout.split()[0] != "True":
        pytest.skip("face_recognition_models is not installed")
    assert out.stdout.split() == ["True", "False"]


def test_read_image_grey_rgba_16bit(tmp_path):
    grey = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (7, 1))
    cv2.imwrite(str(tmp_path / "g.png"), grey)
    rgba = np.zeros((5, 6, 4), np.uint8)
    rgba[..., 0], rgba[..., 2], rgba[..., 3] = 10, 30, 0  # fully transparent: alpha ignored
    cv2.imwrite(str(tmp_path / "a.png"), rgba)
    deep = np.full((4, 4, 3), 0x1234, np.uint16)
    cv2.imwrite(str(tmp_path / "d.png"), deep)
    g = lm.read_image(tmp_path / "g.png")
    assert g.shape == (7, 25, 3) and g.dtype == np.uint8
    np.testing.assert_array_equal(g[..., 1], grey)
    a = lm.read_image(tmp_path / "a.png")
    assert a.shape == (5, 6, 3) and tuple(a[0, 0]) == (10, 0, 30)
    d = lm.read_image(tmp_path / "d.png")
    assert d.dtype == np.uint8 and d[0, 0, 0] == 0x12


def test_unreadable_and_missing_images(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_text("this is not a JPEG")
    with pytest.raises(Extreme3DError, match=r"broken\.jpg: not a readable image"):
        lm.read_image(bad)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(Extreme3DError, match=r"empty\.png"):
        lm.read_image(tmp_path / "empty.png")
    with pytest.raises(Extreme3DError, match=r"missing\.png: image not found"):
        lm.read_image(tmp_path / "missing.png")


def test_blank_image_has_no_face():
    blank = np.full((240, 320, 3), 127, np.uint8)
    assert lm.detect_faces(blank) == []
    with pytest.raises(Extreme3DError, match=r"^blank\.png: no face detected$"):
        lm.detect_landmarks(blank, "blank.png")


@pytest.mark.parametrize("photo", PHOTOS)
def test_landmarks_inside_the_detected_face(shared, photo):
    image = lm.read_image(shared / "data/test" / photo)
    face, count = lm.detect_landmarks(image, photo)
    assert count == 1
    assert face.landmarks.shape == (68, 2) and face.landmarks.dtype == np.float32
    left, top, right, bottom = face.box
    size = right - left
    assert 40 < size < max(image.shape[:2])
    m = 0.15 * size  # the jaw line may leave dlib's box a little
    x, y = face.landmarks[:, 0], face.landmarks[:, 1]
    assert np.all((x > left - m) & (x < right + m) & (y > top - m) & (y < bottom + m))
    # anatomy: eyes (36-47) above the nose tip (30) above the mouth (48-67), chin (8) lowest
    assert face.landmarks[36:48, 1].mean() < face.landmarks[30, 1] < face.landmarks[48:, 1].mean()
    assert face.landmarks[8, 1] == pytest.approx(face.landmarks[:, 1].max(), abs=3)


def test_greyscale_input(shared):
    image = lm.read_image(shared / "data/test" / PHOTOS[0])
    colour = lm.detect_faces(image)
    grey = lm.detect_faces(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    assert len(colour) == len(grey) == 1
    assert np.abs(np.array(grey[0].box) - colour[0].box).max() <= 10
    assert np.median(np.linalg.norm(grey[0].landmarks - colour[0].landmarks, axis=1)) < 5


def test_two_faces_sorted_left_to_right(shared):
    a = lm.read_image(shared / "data/test" / PHOTOS[0])
    b = lm.read_image(shared / "data/test" / PHOTOS[1])
    h = max(a.shape[0], b.shape[0])
    canvas = np.zeros((h, a.shape[1] + b.shape[1] + 40, 3), np.uint8)
    canvas[: b.shape[0], : b.shape[1]] = b
    canvas[: a.shape[0], b.shape[1] + 40 :] = a
    faces = lm.detect_faces(canvas)
    assert len(faces) == 2
    centres = [(f.box[0] + f.box[2]) / 2 for f in faces]
    assert centres[0] < b.shape[1] < b.shape[1] + 40 < centres[1]
    detector_order = lm.detect_faces(canvas, order="detector")
    assert sorted(f.box for f in detector_order) == sorted(f.box for f in faces)
    first, count = lm.detect_landmarks(canvas)
    assert count == 2 and first.box == detector_order[0].box
