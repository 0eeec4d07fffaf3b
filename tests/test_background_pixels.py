"""Rim background by colour (extreme3d.occlusion.background) on synthetic crops."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from extreme3d.occlusion.background import non_face_pixels
from extreme3d.stages.result import face_pixel_mask

SKIN_BGR = (120, 150, 200)


def _disc_crop(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 500x500 skin-coloured crop with noise and a disc face mask of radius 180."""
    rng = np.random.default_rng(seed)
    crop = np.clip(np.array(SKIN_BGR, np.float64) + rng.normal(0, 4, (500, 500, 3)), 0, 255)
    yy, xx = np.mgrid[:500, :500]
    face = (xx - 250) ** 2 + (yy - 250) ** 2 < 180**2
    return crop.astype(np.uint8), face


def test_blue_rim_is_flagged_and_skin_is_not():
    crop, face = _disc_crop()
    crop[:, 400:] = (200, 90, 30)  # blue sky over the right rim of the face
    crop[240:260, 240:260] = (60, 80, 110)  # a dark skin-hued spot inside: shading, kept
    flagged = non_face_pixels(crop, face)
    sky = face & (np.arange(500)[None, :] >= 400)
    assert flagged[sky].mean() > 0.99
    assert not flagged[face & ~sky].any()
    assert not flagged[~face].any()


def test_off_colour_spot_inside_the_core_is_kept():
    """Only regions touching the mask's border are background: a green blob in the middle is
    not (it is the occluder segmentation's job)."""
    crop, face = _disc_crop(1)
    crop[230:270, 230:270] = (40, 200, 40)
    assert not non_face_pixels(crop, face).any()


def test_skin_only_and_greyscale_crops_flag_nothing():
    crop, face = _disc_crop(2)
    assert not non_face_pixels(crop, face).any()
    grey = cv2.cvtColor(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    grey[:, 400:] = 255
    assert not non_face_pixels(grey, face).any()
    assert not non_face_pixels(crop, np.zeros_like(face)).any()


def test_shape_mismatch_is_an_error():
    crop, face = _disc_crop()
    with pytest.raises(ValueError, match="do not match"):
        non_face_pixels(crop, face[:-1])


def test_face_pixel_mask_removes_the_rim_only_when_asked():
    crop, face = _disc_crop()
    crop[:, 400:] = (200, 90, 30)
    mask512 = np.zeros((512, 512), np.uint8)
    mask512[6:506, 6:506][face] = 255
    plain = face_pixel_mask(crop, mask512, background=False)
    assert np.array_equal(plain, face)
    cut = face_pixel_mask(crop, mask512, background=True)
    assert cut.sum() < face.sum() and not (cut & ~face).any()
    assert face_pixel_mask(crop, None, background=True) is None
