"""The original's crop (PIPELINE.md section 1) on synthetic landmarks with hand-computed boxes."""

from __future__ import annotations

import numpy as np
import pytest

from extreme3d.crop import (
    CropBox,
    crop_box,
    crop_face,
    extract_box,
    from_crop_coords,
    round_half_away,
    to_crop_coords,
)


@pytest.mark.parametrize(
    ("x", "expected"),
    [(2.5, 3), (-2.5, -3), (0.5, 1), (-0.5, -1), (1.4999999, 1), (0.49999999999999994, 0),
     (-7.2, -7), (3.0, 3), (0.0, 0)],
)
def test_round_half_away_from_zero(x, expected):
    assert round_half_away(x) == expected


def test_box_hand_computed():
    # tight box (100,100)-(200,180): c = (150,140), s = 50
    # left 150-96.275=53.725->54, top 140-112.955=27.045->27,
    # right 150+97.115=247.115->247, bottom 140+80.435=220.435->220
    pts = np.array([[100, 120], [200, 100], [150, 180], [130, 150]], np.float64)
    box = crop_box(pts)
    assert box.as_tuple() == (54, 27, 247, 220)
    assert (box.width, box.height) == (193, 193)
    assert box.scale == pytest.approx(500 / 193)


def test_box_python2_halves():
    # s = 1000 makes 1.9255*s exactly 1925.5: left = 2000 - 1925.5 = 74.5 -> 75 (Python 3's
    # round would give 74); top 1750-2259.1 -> -509; right 3942.3 -> 3942; bottom 3358.7 -> 3359
    pts = np.array([[1000, 1000], [3000, 1000], [1000, 2500]], np.float64)
    assert crop_box(pts).as_tuple() == (75, -509, 3942, 3359)
    # left = 1925 - 1925.5 = -0.5 -> -1 (away from zero)
    pts = np.array([[925, 1000], [2925, 1000], [925, 2500]], np.float64)
    assert crop_box(pts).left == -1


def test_box_at_image_corner_is_zero_padded():
    # tight box (0,0)-(40,40): c = (20,20), s = 20
    # left 20-38.51 -> -19, top 20-45.182 -> -25, right 20+38.846 -> 59, bottom 20+32.174 -> 52
    pts = np.array([[0, 0], [40, 0], [0, 40], [40, 40]], np.float64)
    box = crop_box(pts)
    assert box.as_tuple() == (-19, -25, 59, 52)
    image = np.full((100, 100, 3), 200, np.uint8)
    patch = extract_box(image, box)
    assert patch.shape == (77, 78, 3)
    assert np.all(patch[:25] == 0) and np.all(patch[:, :19] == 0)  # padding above and left
    assert np.all(patch[25:, 19:] == 200)  # image rows 0..51, cols 0..58
    # landmark (0,0) -> ((0+19), (0+25)) * 500/77
    lms = to_crop_coords(pts, box)
    np.testing.assert_allclose(lms[0], np.array([19, 25]) * 500 / 77)


def test_box_beyond_right_and_bottom_edges():
    image = np.arange(60 * 80, dtype=np.uint16).reshape(60, 80)
    box = CropBox(50, 40, 100, 90)
    patch = extract_box(image, box)
    assert patch.shape == (50, 50)
    np.testing.assert_array_equal(patch[:20, :30], image[40:60, 50:80])
    assert not patch[20:].any() and not patch[:, 30:].any()
    assert not extract_box(image, CropBox(200, 200, 210, 210)).any()  # entirely outside


def test_landmark_mapping_uses_crop_height_and_inverts():
    box = CropBox(-10, 5, 300, 304)  # 310 wide, 299 tall: both axes scaled by 500/299
    pts = np.array([[0.0, 5.0], [290.0, 304.0]])
    crop = to_crop_coords(pts, box)
    np.testing.assert_allclose(crop, [[10 * 500 / 299, 0.0], [300 * 500 / 299, 500.0]])
    np.testing.assert_allclose(from_crop_coords(crop, box), pts, atol=1e-9)


def test_float32_landmarks_keep_the_originals_float32_arithmetic():
    # dlib landmarks are float32 in the original: (p - left) * 500.0 / h in float32
    box = CropBox(0, 0, 530, 530)
    got = to_crop_coords(np.array([[130, 1]], np.float32), box)
    assert got.dtype == np.float32
    assert f"{got[0, 0]:f}" == "122.641510"  # float64 arithmetic would print 122.641509


def test_crop_face_puts_a_marker_where_its_landmark_goes():
    rng = np.random.default_rng(1)
    image = np.zeros((400, 600, 3), np.uint8)
    lms = np.column_stack([rng.uniform(250, 350, 68), rng.uniform(150, 260, 68)])
    target = np.array([300.0, 200.0])
    image[198:203, 298:303] = 255  # 5x5 marker centred on (300, 200)
    crop = crop_face(image, lms)
    assert crop.image.shape == (500, 500, 3) and crop.image.dtype == np.uint8
    ys, xs = np.nonzero(crop.image[:, :, 0] > 64)
    b = crop.box
    # OpenCV's bilinear resize maps pixel centres: x' = (x + 0.5) * 500 / width - 0.5
    exact = (target - [b.left, b.top] + 0.5) * 500 / np.array([b.width, b.height]) - 0.5
    assert abs(xs.mean() - exact[0]) < 0.5 and abs(ys.mean() - exact[1]) < 0.5
    # the original's landmark mapping ((p - corner) * 500 / height) is within ~2 px of that
    expected = to_crop_coords(target[None], crop.box)[0]
    assert abs(xs.mean() - expected[0]) < 2.5 and abs(ys.mean() - expected[1]) < 2.5
    np.testing.assert_allclose(crop.landmarks, to_crop_coords(lms, crop.box))
    assert crop.scale == pytest.approx(500 / crop.box.height)


def test_degenerate_landmarks_are_rejected():
    from extreme3d import Extreme3DError

    with pytest.raises(Extreme3DError, match="cannot crop"):
        crop_face(np.zeros((10, 10, 3), np.uint8), np.ones((68, 2)))
