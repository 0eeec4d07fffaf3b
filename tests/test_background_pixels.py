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


@pytest.mark.parametrize("light", [0.66, 0.45])
def test_shadowed_skin_at_the_rim_is_kept_and_dark_sky_is_not(light):
    """Skin in shadow (the skin's colour times `light` in 8-bit RGB) has a lower Lab chroma than
    the lit core; at 0.45 the chroma test alone flagged 83% of such a rim. Brought to the core's
    lightness it is skin again; a dark blue rim stays background."""
    crop, face = _disc_crop()
    rng = np.random.default_rng(1)
    shade = np.array(SKIN_BGR, np.float64) * light
    crop[:, 390:] = np.clip(shade + rng.normal(0, 4, (500, 110, 3)), 0, 255).astype(np.uint8)
    rim = face & (np.arange(500)[None, :] >= 390)
    assert non_face_pixels(crop, face)[rim].mean() < 0.01
    crop[:, 390:] = (100, 45, 15)  # the sky in shadow
    assert non_face_pixels(crop, face)[rim].mean() > 0.99


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



def _non_face_pixels_einsum(crop, face):
    """non_face_pixels as first written (np.einsum for the distance), with the shadowed-skin
    rule (the chroma of darker pixels brought to the core's lightness): the reference."""
    import extreme3d.occlusion.background as bg

    lab = cv2.cvtColor(crop, cv2.COLOR_BGR2LAB).astype(np.float32)
    ab = lab[:, :, 1:3]
    dist = cv2.distanceTransform(face.astype(np.uint8), cv2.DIST_L2, 5)
    scale = float(dist.max())
    core = dist > bg.CORE_FRACTION * scale
    samples = ab[core]
    centre = np.median(samples, axis=0)
    spread = np.cov((samples - centre).T) + bg.CHROMA_FLOOR * np.eye(2)
    inv = np.linalg.inv(spread)

    def far_from_skin(chroma):
        d = chroma - centre
        return np.einsum("...i,ij,...j->...", d, inv, d) > bg.CHROMA_SIGMAS**2

    lstar = lab[..., 0] * 100.0 / 255.0 + 16.0
    k = np.clip(np.median(lstar[core]) / lstar, 1.0, bg.SHADE_MAX)[..., None]
    restored = (ab - 128.0) * k + 128.0
    far = far_from_skin(ab) & far_from_skin(restored) & face & (dist < bg.BAND_FRACTION * scale)
    far = cv2.morphologyEx(far.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
    n, labels, stats, _ = cv2.connectedComponentsWithStats(far.astype(np.uint8), connectivity=8)
    touching = np.unique(labels[far & (dist <= 2.0)])
    big = stats[touching, cv2.CC_STAT_AREA] >= bg.MIN_REGION_PIXELS
    return np.isin(labels, touching[(touching > 0) & big])


def test_written_out_distance_flags_what_einsum_flagged():
    """The squared Mahalanobis distance written out in float64 (not np.einsum) flags the same
    pixels on skin crops with coloured rims of several sizes and hues."""
    rng = np.random.default_rng(2)
    face = np.zeros((200, 200), np.uint8)
    cv2.ellipse(face, (100, 100), (70, 90), 0, 0, 360, 1, -1)
    face = face > 0
    hues = [(60, 160, 60), (200, 90, 40), (40, 200, 220), (150, 60, 150), (90, 120, 160)]
    flagged = 0
    for k, hue in enumerate(hues):
        crop = np.clip(rng.normal((120, 150, 200), 6, (200, 200, 3)), 0, 255).astype(np.uint8)
        y0 = 40 + 15 * k
        crop[y0 : y0 + 20 + 5 * k, 0:60] = hue  # a rim region across the face's left border
        want = _non_face_pixels_einsum(crop, face)
        flagged += int(want.any())
        np.testing.assert_array_equal(non_face_pixels(crop, face), want)
    assert flagged >= 3
