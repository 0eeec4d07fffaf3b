"""Hair over the face (extreme3d.occlusion.hair) on synthetic crops: a striped fringe that
hangs into the face mask from textured hair outside it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from extreme3d import bump_photo_constants as bpc
from extreme3d.occlusion.hair import hair_pixels

SKIN_BGR = (120, 150, 200)
HAIR_BGR = (40, 75, 120)
LANDMARKS = np.asarray(bpc.MEAN_LANDMARKS, np.float64).reshape(68, 2)


def _hairy_crop(seed: int = 0, striped: bool = True, hair: tuple = HAIR_BGR
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(crop, face mask, fringe): smooth skin, an elliptic face mask over the mean landmarks,
    hair above the eyes outside it and a fringe reaching in over the top-left of the face;
    the hair striped (strands, 2 px) or flat."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:500, :500]
    face = ((xx - 277) / 125.0) ** 2 + ((yy - 265) / 165.0) ** 2 < 1
    crop = np.array(SKIN_BGR, np.float64) + rng.normal(0, 2, (500, 500, 3))
    strands = np.where(((xx + yy) // 2) % 2 == 0, 35.0, -35.0)[..., None] if striped else 0.0
    hair_px = np.array(hair, np.float64) + strands + rng.normal(0, 2, (500, 500, 3))
    fringe = face & (yy < 170) & (xx < 245) & (yy > 2.2 * (xx - 150))
    hairy = (~face & (yy < 226)) | fringe
    crop[hairy] = hair_px[hairy]
    return np.clip(crop, 0, 255).astype(np.uint8), face, fringe


def test_striped_fringe_is_hair_and_skin_is_not():
    crop, face, fringe = _hairy_crop()
    found = hair_pixels(crop, face, LANDMARKS)
    assert found[fringe].mean() > 0.8
    # the blurred cues reach a few px past the strands' edge, no further
    hairy = (fringe | (~face & (np.arange(500)[:, None] < 226))).astype(np.uint8)
    near = cv2.dilate(hairy, np.ones((17, 17), np.uint8)) > 0
    assert not found[face & ~near].any()
    assert found[face & ~fringe].mean() < 0.03
    assert not found[~face].any()


def test_a_smooth_band_is_not_hair():
    """A flat band (a hat, a bald head's shadow, a backdrop) is no hair: the same region,
    without strands, is left alone."""
    crop, face, fringe = _hairy_crop(striped=False)
    assert not hair_pixels(crop, face, LANDMARKS).any()


def test_hair_like_skin_gives_nothing():
    """Hair of the skin's own colour and texture (a bald head, a forehead going on past the
    mask): no samples unlike skin, nothing flagged."""
    crop, face, _ = _hairy_crop(striped=False, hair=SKIN_BGR)
    assert not hair_pixels(crop, face, LANDMARKS).any()


def test_background_band_is_not_sampled():
    """With a person map calling the band background there are no hair samples."""
    crop, face, _ = _hairy_crop()
    person = face.astype(np.float32)
    assert not hair_pixels(crop, face, LANDMARKS, person).any()
    assert hair_pixels(crop, face, LANDMARKS, np.ones((500, 500), np.float32)).any()


def test_bad_inputs_are_refused_or_empty():
    crop, face, _ = _hairy_crop()
    with pytest.raises(ValueError, match="do not match"):
        hair_pixels(crop, face[:-1], LANDMARKS)
    with pytest.raises(ValueError, match="68 landmarks"):
        hair_pixels(crop, face, LANDMARKS[:5])
    assert not hair_pixels(crop, np.zeros_like(face), LANDMARKS).any()
    assert not hair_pixels(crop, face, np.full((68, 2), np.nan)).any()


def test_the_fringe_joins_the_occluders(monkeypatch):
    """find_occluders takes the hair (hair=True, the default) into the occluder mask, so the
    bump map is de-occluded there and soft symmetry, colours and textures treat it occluded."""
    from extreme3d.occlusion import fill, person

    monkeypatch.setenv(person.ENV_SWITCH, "off")
    crop, face, fringe = _hairy_crop(hair=(100, 140, 190))  # light brown: the cues miss it
    mask512 = np.zeros((512, 512), np.uint8)
    mask512[6:506, 6:506] = face * 255
    rng = np.random.default_rng(3)
    bump512 = np.clip(127 + rng.normal(0, 1.0, (512, 512)), 0, 255).astype(np.uint8)
    occ, _, geo = fill.find_occluders(crop, LANDMARKS, bump512, mask512, hands=False)
    assert occ[fringe].mean() > 0.8 and geo["hair"].record(face)["fraction"] > 0.02
    bare, _, geo = fill.find_occluders(crop, LANDMARKS, bump512, mask512, hands=False,
                                       hair=False)
    assert bare[fringe].mean() < 0.2 and "hair" not in geo


def _with_brows(crop: np.ndarray, bgr: tuple) -> np.ndarray:
    """The crop with both brows (landmarks 17-21, 22-26) drawn 6 px thick in `bgr`."""
    out = crop.copy()
    for a, b in ((17, 22), (22, 27)):
        cv2.polylines(out, [np.rint(LANDMARKS[a:b]).astype(np.int32)], False, bgr, 6)
    return out


def test_a_fringe_over_a_dark_brow_is_hair_and_the_brows_are_not():
    """A light, striped fringe that reaches down over the left brow is taken there too (the
    brow model comes from the other, clean brow); the clean brow itself stays."""
    light = (150, 200, 230)
    crop, face, _ = _hairy_crop(hair=light)
    crop = _with_brows(crop, (40, 60, 90))
    yy, xx = np.mgrid[:500, :500]
    over = face & (xx < 255) & (yy < 215) & (yy > 2.2 * (xx - 150))  # fringe down over the brow
    strands = np.where(((xx + yy) // 2) % 2 == 0, 35.0, -35.0)[..., None]
    crop[over] = np.clip(np.array(light, np.float64) + strands, 0, 255).astype(np.uint8)[over]
    found = hair_pixels(crop, face, LANDMARKS)
    left_brow = np.zeros((500, 500), np.uint8)
    cv2.polylines(left_brow, [np.rint(LANDMARKS[17:22]).astype(np.int32)], False, 1, 6)
    right_brow = np.zeros((500, 500), np.uint8)
    cv2.polylines(right_brow, [np.rint(LANDMARKS[22:27]).astype(np.int32)], False, 1, 6)
    assert found[(left_brow > 0) & over].mean() > 0.8
    assert not found[right_brow > 0].any()


def test_brows_of_the_hair_colour_are_left_alone():
    """Brows of the hair's colour and strands (no clean brow to model), one of them touching
    the fringe: the brows' zone is not searched, so they do not join the fringe."""
    crop, face, fringe = _hairy_crop()
    brows = np.zeros((500, 500), np.uint8)
    for a, b in ((17, 22), (22, 27)):
        cv2.polylines(brows, [np.rint(LANDMARKS[a:b]).astype(np.int32)], False, 1, 6)
    yy, xx = np.mgrid[:500, :500]
    strands = np.where(((xx + yy) // 2) % 2 == 0, 35.0, -35.0)[..., None]
    striped = np.clip(np.array(HAIR_BGR, np.float64) + strands, 0, 255).astype(np.uint8)
    fringe |= face & (xx < 215) & (yy < 212) & (yy > 2.2 * (xx - 150))  # over the brow
    crop[fringe | (brows > 0)] = striped[fringe | (brows > 0)]
    found = hair_pixels(crop, face, LANDMARKS)
    assert found[fringe].mean() > 0.6  # less the brows' zone it covers
    assert not found[(brows > 0) & ~fringe].any()


def test_a_fringe_across_the_crops_top_edge_is_found():
    """A face mask that touches the crop's top edge, a fringe in the middle that comes in across
    that edge only: the edge is the outline there, and the skin core does not reach up into
    the fringe."""
    crop, face, _ = _hairy_crop()
    yy, xx = np.mgrid[:500, :500]
    fringe = face & (yy < 175) & (np.abs(xx - 277) < 45)  # off the side outline
    strands = np.where(((xx + yy) // 2) % 2 == 0, 35.0, -35.0)[..., None]
    striped = np.clip(np.array(HAIR_BGR, np.float64) + strands, 0, 255).astype(np.uint8)
    crop[fringe] = striped[fringe]
    cut = 130
    found = hair_pixels(crop[cut:], face[cut:], LANDMARKS - [0, cut])
    assert face[cut].any() and fringe[cut:].sum() > 2000
    assert found[fringe[cut:]].mean() > 0.8


def test_flat_skin_does_not_make_a_flat_band_hair():
    """Skin without any texture (a synthetic or crushed crop): a flat dark band and patch are
    not hair (the skin's texture is taken as at least TEXTURE_FLOOR)."""
    _, face, fringe = _hairy_crop()
    crop = np.full((500, 500, 3), 128, np.uint8)
    crop[(~face & (np.arange(500)[:, None] < 226)) | fringe] = 30
    assert not hair_pixels(crop, face, LANDMARKS).any()


def test_a_person_map_of_another_shape_is_refused():
    crop, face, _ = _hairy_crop()
    with pytest.raises(ValueError, match="person map"):
        hair_pixels(crop, face, LANDMARKS, np.ones((400, 500), np.float32))


def _side_strip(crop: np.ndarray, face: np.ndarray, beyond: bool) -> tuple:
    """The crop with strands along the right cheek's outline (inside the mask, below the
    band's rows), and with the same strands outside the mask beside it when `beyond` (a lock
    hanging down beside the face; else skin-coloured neck or backdrop beyond the strip)."""
    yy, xx = np.mgrid[:500, :500]
    rng = np.random.default_rng(1)
    strands = np.where(((xx + yy) // 2) % 2 == 0, 35.0, -35.0)[..., None]
    hair_px = np.array(HAIR_BGR, np.float64) + strands + rng.normal(0, 2, (500, 500, 3))
    dist_in = cv2.distanceTransform(face.astype(np.uint8), cv2.DIST_L2, 5)
    rows = (yy > 240) & (yy < 300) & (xx > 277)
    strip = face & (dist_in <= 8) & rows
    lock = ~face & rows & (xx < 440) if beyond else np.zeros_like(face)
    out = crop.astype(np.float64)
    out[strip | lock] = hair_px[strip | lock]
    return np.clip(out, 0, 255).astype(np.uint8), strip


def test_a_rim_strip_is_hair_only_where_the_hair_goes_on_outside():
    """Strands along the cheek's outline are hair when the hair goes on outside the mask (a
    lock beside the face); the same strip with skin-coloured neck or backdrop beyond it is
    shaded skin at the cheek's edge, and is left alone."""
    crop, face, _ = _hairy_crop()
    with_lock, strip = _side_strip(crop, face, beyond=True)
    assert LANDMARKS[51, 1] > 300  # the strip lies above the upper lip, where hair is searched
    assert hair_pixels(with_lock, face, LANDMARKS)[strip].mean() > 0.5
    alone, strip = _side_strip(crop, face, beyond=False)
    assert not hair_pixels(alone, face, LANDMARKS)[strip].any()


def test_an_occluder_cut_from_the_mask_is_inside_the_outline():
    """A textured dark lens already found as an occluder reaches the mask's outline above the
    eyes, with a patch of its colour beside it on the nose. Given as `occluded`, the lens stays
    inside the face's outline: the band's hair samples and the outline are not on it, and the
    patch, which touches only the lens, is not hair (the fringe still is). Cut out of the mask
    instead, the lens joined the band's samples and its edge became outline, and the patch
    touching it was taken for hair."""
    crop, face, fringe = _hairy_crop()
    yy, xx = np.mgrid[:500, :500]
    rng = np.random.default_rng(2)
    dark = np.array((30, 30, 35), np.float64) + np.where(((xx + yy) // 2) % 2 == 0, 30.0,
                                                          -20.0)[..., None]
    dark = np.clip(dark + rng.normal(0, 2, (500, 500, 3)), 0, 255)
    lens = face & ~fringe & (yy > 190) & (yy < 222) & (xx < 262)
    patch = face & (xx >= 262) & (xx < 290) & (yy > 200) & (yy < 222)
    out = crop.copy()
    out[lens | patch] = dark[lens | patch].astype(np.uint8)
    found = hair_pixels(out, face, LANDMARKS, occluded=lens)
    assert not found[patch | lens].any() and found[fringe].mean() > 0.5
    assert hair_pixels(out, face & ~lens, LANDMARKS)[patch].mean() > 0.5


def test_a_rim_strip_at_the_crops_edge_is_kept():
    """A face mask that runs off the crop's right edge, strands along that edge inside it:
    there is nothing beyond the crop to go on into, so the strip is kept (as strips along the
    mask's own outline with hair beyond them are)."""
    shift = 103.0  # the face moved right until its mask leaves the crop
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:500, :500]
    face = ((xx - 277 - shift) / 125.0) ** 2 + ((yy - 265) / 165.0) ** 2 < 1
    crop = np.array(SKIN_BGR, np.float64) + rng.normal(0, 2, (500, 500, 3))
    strands = np.where(((xx + yy) // 2) % 2 == 0, 35.0, -35.0)[..., None]
    hair_px = np.array(HAIR_BGR, np.float64) + strands + rng.normal(0, 2, (500, 500, 3))
    strip = face & (xx >= 492) & (yy > 240) & (yy < 300)
    hairy = (~face & (yy < 226)) | strip
    crop[hairy] = hair_px[hairy]
    crop = np.clip(crop, 0, 255).astype(np.uint8)
    lm = LANDMARKS + (shift, 0.0)
    assert face[240:300, 499].all()  # the mask reaches the crop's edge there
    assert hair_pixels(crop, face, lm)[strip].mean() > 0.5


def test_smooth_white_hair_over_coloured_skin_is_hair():
    """White or grey hair is often as smooth as skin at the texture cue's scale: a flat,
    near-neutral band lighter than the (coloured) skin counts as hair, and its fringe is
    found; the same flat band on a grey crop (skin without chroma) or darker than the skin
    (a hat) is not."""
    white = (205, 208, 210)  # BGR: near neutral, lighter than SKIN_BGR
    crop, face, fringe = _hairy_crop(striped=False, hair=white)
    assert hair_pixels(crop, face, LANDMARKS)[fringe].mean() > 0.8
    grey = np.repeat(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)[..., None], 3, axis=2)
    assert not hair_pixels(grey, face, LANDMARKS).any()
    dark, face, _ = _hairy_crop(striped=False, hair=(60, 62, 64))
    assert not hair_pixels(dark, face, LANDMARKS).any()


def test_a_smooth_dyed_headscarf_edge_is_an_occluder():
    """A flat orange headscarf far more colourful than the skin: its edge hanging into the face
    mask is found like hair (no texture needed); a flat band of the skin's own hue, only a
    little more saturated (a shadow, a tan line), is not."""
    orange = (20, 110, 235)  # BGR
    crop, face, fringe = _hairy_crop(striped=False, hair=orange)
    assert hair_pixels(crop, face, LANDMARKS)[fringe].mean() > 0.8
    tan, face, _ = _hairy_crop(striped=False, hair=(95, 130, 190))
    assert not hair_pixels(tan, face, LANDMARKS).any()
