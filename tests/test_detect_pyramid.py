"""Detection on the coarse levels of dlib's own pyramid (issue 16): `_core.detector_pyramid_level`
equals dlib's resizes bit for bit, and `detect_faces` returns the boxes, scores and landmarks of
the full-resolution scan (`detect_faces_full`) on large photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from extreme3d import _core
from extreme3d import landmarks as lm

dlib = pytest.importorskip("dlib")


def dlib_level(image: np.ndarray, upsample: int, level: int) -> np.ndarray:
    """The reference: dlib's own resize to the pyramid_up size, then dlib's pyramid_down(6)."""
    out = image
    for _ in range(upsample):
        rows, cols = out.shape[:2]
        up = dlib.pyramid_down(2).rect_up(dlib.rectangle(0, 0, cols - 1, rows - 1))
        out = dlib.resize_image(out, int(round(up.bottom())) + 1, int(round(up.right())) + 1)
    down = dlib.pyramid_down(6)
    for _ in range(level):
        out = down(out)
    return np.asarray(out)


def same_faces(new: list[lm.Face], ref: list[lm.Face]) -> bool:
    """Identical boxes, scores and landmarks, in the same order."""
    return len(new) == len(ref) and all(
        a.box == b.box and a.score == b.score and np.array_equal(a.landmarks, b.landmarks)
        for a, b in zip(new, ref, strict=True))


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (2, 3), (5, 4), (17, 9), (64, 65), (131, 250),
                                   (333, 201)])
def test_pyramid_levels_equal_dlib_on_random_images(shape):
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    smooth = cv2.GaussianBlur(image, (5, 5), 2) if min(shape) >= 5 else image
    for img in (image, smooth):
        for upsample in (0, 1):
            for level in (0, 1, 2, 5):
                ref = dlib_level(img, upsample, level)
                for vector in (True, False):
                    got = _core.detector_pyramid_level(img, upsample, level, vector=vector)
                    assert got.shape == ref.shape, (shape, upsample, level)
                    np.testing.assert_array_equal(got, ref, err_msg=f"{shape} {upsample} {level}")


def test_pyramid_level_of_a_large_image_and_strided_input():
    rng = np.random.default_rng(7)
    image = cv2.resize(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8), (1210, 907))
    for upsample, level in ((1, 0), (1, 4), (0, 7)):
        np.testing.assert_array_equal(_core.detector_pyramid_level(image, upsample, level),
                                      dlib_level(image, upsample, level))
    flipped = image[::-1, ::2]  # a strided view is read as the array it shows
    np.testing.assert_array_equal(_core.detector_pyramid_level(flipped, 1, 3),
                                  dlib_level(np.ascontiguousarray(flipped), 1, 3))


def test_pyramid_level_refuses_bad_inputs():
    good = np.zeros((10, 10, 3), np.uint8)
    for image in (None, np.zeros((10, 10, 3), np.float32), np.zeros((10, 10), np.uint8),
                  np.zeros((10, 10, 4), np.uint8), np.zeros((10, 10, 3), np.uint16),
                  np.zeros((16385, 1, 3), np.uint8), "x"):
        with pytest.raises(ValueError):
            _core.detector_pyramid_level(image, 1, 0)
    for upsample, level in ((-1, 0), (3, 0), (0, -1), (0, 101)):
        with pytest.raises(ValueError):
            _core.detector_pyramid_level(good, upsample, level)
    assert _core.detector_pyramid_level(np.zeros((0, 5, 3), np.uint8), 1, 2).size == 0
    # an output over 16384 px per side is refused before anything is allocated (a thin strip
    # keeps the input small: 9000 px upsampled twice is ~36000 px)
    strip = np.zeros((2, 9000, 3), np.uint8)
    with pytest.raises(ValueError, match="16384"):
        _core.detector_pyramid_level(strip, 2, 0)
    assert _core.detector_pyramid_level(strip, 2, 5).shape[1] <= 16384


def test_coarse_level_and_box_mapping():
    assert lm.coarse_level(300, 300) == 0 and lm.coarse_level(500, 500, upsample=0) == 0
    assert lm.coarse_level(500, 500) == 1  # 1002 px upsampled: level 1 is 835 px long
    assert lm.coarse_level(2439, 3450) == 11  # 6902 px upsampled: level 11 is 927 px long
    assert lm.coarse_level(2439, 3450, upsample=0) == 8
    # a window found 3 levels below level 5 maps to dlib's full-scan box; the same box at an
    # impossible size or offset maps to nothing
    window = (73, 73)
    win = (100, 40, 172, 112)
    box = tuple(lm._lround(lm._up6(v, 3)) for v in win)
    full = tuple(lm._lround(lm._up6(v, 8)) for v in win)
    expect = (lm._lround(full[0] / 2 - 1.25), lm._lround(full[1] / 2 - 0.75),
              lm._lround(full[2] / 2 - 1.25), lm._lround(full[3] / 2 - 0.75))
    assert lm.full_resolution_box(box, 5, 1, window) == expect
    assert lm.full_resolution_box((0, 0, 10, 10), 5, 1, window) is None
    with pytest.raises(ValueError):
        lm.detect_faces(np.zeros((10, 10, 3), np.uint8), upsample=3)
    with pytest.raises(ValueError):
        lm.detect_faces(np.zeros((10, 10, 3), np.uint8), order="x")


def _photos(shared, names: list[str], scale: float) -> list[np.ndarray]:
    images = [lm.read_image(shared / name) for name in names]
    return [cv2.resize(im, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
            if scale != 1 else im for im in images]


def test_large_photos_give_the_full_scan_faces(shared):
    """Photos whose scan starts at a coarse level: the test photos of >= 1000 px and 3x copies."""
    tests = sorted(p.name for p in (shared / "data/test").iterdir() if p.suffix in (".jpg", ".png"))
    images = [im for im in _photos(shared / "data/test", tests, 1)
              if lm.coarse_level(*im.shape[:2])]
    images += _photos(shared / "data/test", [tests[0]], 2)
    images += _photos(shared / "data/paper/imgs", ["Jon-Hamm.png"], 3)
    assert len(images) >= 4
    for image in images:
        assert lm.coarse_level(*image.shape[:2]) > 0
        new = lm.detect_faces(image, order="detector")
        ref = lm.detect_faces_full(image, order="detector")
        assert len(ref) >= 1 and same_faces(new, ref), image.shape
        ordered = lm.detect_faces(image)
        assert same_faces(ordered, sorted(ref, key=lambda f: (f.box[0], f.box[1])))


def test_small_face_on_a_large_photo_found_by_the_full_scan(shared):
    """A face smaller than the coarse level's window: nothing there, so the full scan finds it."""
    face = lm.read_image(shared / "data/test" / "Jon-Hamm.png")  # 200 x 263 px
    face = cv2.resize(face, None, fx=0.45, fy=0.45, interpolation=cv2.INTER_AREA)
    canvas = np.full((1800, 2400, 3), 120, np.uint8)
    canvas[800:800 + face.shape[0], 1100:1100 + face.shape[1]] = face
    level = lm.coarse_level(*canvas.shape[:2])
    assert level >= 6
    coarse_window = 73 * 1.2**level / 2  # px of the photo
    ref = lm.detect_faces_full(canvas)
    assert len(ref) == 1 and ref[0].box[2] - ref[0].box[0] < 0.8 * coarse_window
    assert same_faces(lm.detect_faces(canvas), ref)


def test_all_faces_scans_the_whole_pyramid(monkeypatch):
    """With all_faces the prepare stage asks for the full scan (a small face beside a large one
    is not reported by the coarse-level scan); one face asks for the coarse-level scan."""
    from extreme3d.stages import prepare

    calls: list[str] = []
    face = lm.Face((0, 0, 9, 9), 1.0, np.zeros((68, 2), np.float32))

    def fake(name):
        def run(image, predictor=None, order="left_to_right", upsample=1):
            calls.append(name)
            return [face]
        return run

    monkeypatch.setattr(lm, "detect_faces", fake("coarse"))
    monkeypatch.setattr(lm, "detect_faces_full", fake("full"))
    image = np.zeros((20, 20, 3), np.uint8)
    prepare.detected_landmarks(image, "x.png", all_faces=True)
    prepare.detected_landmarks(image, "x.png")
    assert calls == ["full", "coarse"]


def _full_scan_spy(monkeypatch) -> list[int]:
    """Counts the calls of detect_faces_full made by detect_faces."""
    calls: list[int] = []
    real = lm.detect_faces_full

    def spy(*a, **kw):
        calls.append(1)
        return real(*a, **kw)

    monkeypatch.setattr(lm, "detect_faces_full", spy)
    return calls


@pytest.mark.parametrize("fx", [0.6, 0.8, 1.0, 2.4])
def test_faces_near_the_coarse_window_take_the_full_scan(shared, monkeypatch, fx):
    """A face found at the first two scanned levels (its box < NEAR_WINDOW windows there) may
    also fire on the skipped finer levels: the photo takes the full scan; a face well above the
    window keeps the coarse-level scan. Either way the faces are the full scan's."""
    face = lm.read_image(shared / "data/test" / "Jon-Hamm.png")
    face = cv2.resize(face, None, fx=fx, fy=fx, interpolation=cv2.INTER_AREA)
    canvas = np.full((1800, 2400, 3), 120, np.uint8)
    canvas[600:600 + face.shape[0], 900:900 + face.shape[1]] = face
    level = lm.coarse_level(*canvas.shape[:2])
    coarse_window = 73 * 1.2**level / 2  # px of the photo
    ref = lm.detect_faces_full(canvas)
    assert len(ref) == 1
    calls = _full_scan_spy(monkeypatch)
    assert same_faces(lm.detect_faces(canvas), ref)
    width = ref[0].box[2] - ref[0].box[0] + 1
    # box widths at the coarse level are 1, 6/5, (6/5)^2 ... windows (below 1: a finer level)
    if width < 0.95 * coarse_window:
        assert calls, "below the window: the coarse scan finds nothing"
    elif width < lm.NEAR_WINDOW * coarse_window:
        assert calls, "near the window: full scan"
    else:
        assert not calls, "well above the window: the coarse scan's faces"
