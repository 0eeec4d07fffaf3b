"""De-occlusion of a bump map: occluder pixels refilled with plausible face detail, seamlessly.

Inside the occluder mask the bump is rebuilt from a source map, then blended by Poisson
(guided) interpolation: the result keeps the source's detail (its Laplacian) and meets the
input map exactly on the occluders' border, so no seam appears; pixels outside the occluders
are returned unchanged. The source is the mirrored partner pixel (landmark mirror map) where
that lies on clean face, else the mean detail template of clean faces (mean-landmark frame),
with a soft transition between the two. That Poisson fill is mixed evenly with OpenCV's Telea
inpainting near the occluders' edge (`telea_fill`, `telea_share`: less Telea where the map
agrees with its own mirror image around the occluders, none deeper than TELEA_DEPTH_PX). The
change of found occluders is then softened (`soften`): faded over the band by
which the occluders were grown, and changes under TOLERANCE_MM not made.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import extreme3d.occlusion.frame as fr
import extreme3d.occlusion.glasses as gl
import extreme3d.occlusion.hair as hr
import extreme3d.occlusion.hands as hd
import extreme3d.occlusion.segment as sg
from extreme3d import bump_photo as bp
from extreme3d.occlusion.person import person_probability

#: Firm threshold of the change (fill - input, mm): changes below TOLERANCE_MM are not made,
#: changes above FULL_MM are made in full, in between they ramp up linearly (continuous).
#: Clean skin wrongly flagged keeps its own fine detail, while the ridges, troughs and lenses
#: of occluders (changes of 1-3 mm) still go, unbiased. Picked among three pairs on the paper's
#: crops (bench/occlusion.py; outside change 0.113 -> ~0.09 mm, not cross-validated).
TOLERANCE_MM = 0.5
FULL_MM = 1.5
#: Width (px) of the feather over the band by which found occluders are grown
#: (segment.GROW_PX): the change fades linearly from the cue-sure core to the band's edge.
FEATHER_PX = 4  # 5-fold cross-validated with the threshold (0 or 4 chosen, 4 kept)
#: Share of the Telea (fast-marching) inpainting in the fill; the rest is the Poisson blend of
#: the mirror / template source. Given the paper's true regions (bench/occlusion.py) the
#: Poisson fill alone scores 1.17 mm, Telea 1.14, their even mix 1.04 (the two err differently:
#: the one keeps detail, the other the smooth shape of the border).
TELEA_SHARE = 0.5
#: Telea's neighbourhood radius (px) and the grow (px) of the region it fills, so that the
#: occluders' own border pixels are not taken as known.
TELEA_RADIUS = 5
#: The Telea share falls where the mirrored partner is trusted: by the map's agreement with its
#: mirror on a MIRROR_RING_PX ring around the occluders (RMS difference 0 -> share 0, at
#: MIRROR_AGREE_MM or more -> the full share).
MIRROR_RING_PX = 8
MIRROR_AGREE_MM = 0.5
TELEA_GROW = 1
#: Telea's share fades with the depth into the occluders (px from their edge): full share on
#: the edge, none from TELEA_DEPTH_PX + 1 px in. Telea carries the border's level inward;
#: across a wide mask (sunglasses with their frames) that border is brow ridge and cheekbone,
#: and the lens area came out 1.5-2 mm too high, where the detail template has the eye's
#: hollow. Picked among 0 (off), 4, 8 and 20 px on the paper's crops (bench/occlusion.py:
#: inside R 1.299 -> 1.271 mm CNN route, 1.419 -> 1.393 photo route, outside R 0.211 ->
#: 0.168 mm; not cross-validated).
TELEA_DEPTH_PX = 8.0
#: Whether `find_occluders` looks for the bridge between two lenses or rims
#: (`glasses.lens_bridge`).
BRIDGES = True


@dataclass
class OcclusionConstants:
    """The fitted numbers of the occlusion step (see extreme3d.occlusion.fit)."""

    template: np.ndarray  # (h, w) float32 mean clean bump (mm) on a grid of the mean frame
    origin: tuple[float, float]  # mean-frame (x, y) of template cell (0, 0), px
    step: float  # template cell size, px of the mean frame
    weights: np.ndarray  # (len(segment.FEATURES),) logistic weights of the occluder cues
    context_weights: np.ndarray  # (len(segment.CONTEXT),) logistic weights of the 2nd stage
    threshold: float  # occluder probability threshold
    fill_template: np.ndarray  # (h, w) float32 the template the fill uses (same grid)


@dataclass
class OcclusionResult:
    """A de-occluded bump map and what was found."""

    bump: np.ndarray  # 512x512 uint8, the input outside the occluders
    mask: np.ndarray  # 512x512 uint8 face mask (the input's)
    occluders: np.ndarray  # 512x512 bool occluder pixels (inside the face mask)
    occluded_fraction: float  # occluder pixels / face-mask pixels
    mirrored_fraction: float  # of the occluder pixels, the share filled from the mirror side
    seconds: float = 0.0
    message: str = ""
    extras: dict = field(default_factory=dict)
    #: 512x512 bool: the occluder pixels filled from the detail template rather than from a
    #: clean mirrored partner (mirror weight < 0.5: both sides hidden, or an occluder on the
    #: face's middle line, its own mirror image); None when nothing was segmented (the input
    #: returned unchanged)
    unpaired: np.ndarray | None = None

    @property
    def occluders_png(self) -> np.ndarray:
        """The occluder mask as a 512x512 uint8 picture (255 = occluder)."""
        return np.where(self.occluders, 255, 0).astype(np.uint8)

    def found_notes(self) -> list[str]:
        """Phrases for the rims, second lenses, arms, bridge and hands found
        (`glasses.describe`, `glasses.describe_pair`, `glasses.describe_arms`,
        `glasses.describe_bridge`, `hands.describe`), for the CLIs' one-line reports; empty
        phrases left out."""
        return [t for t in (gl.describe(self.extras.get("rims")),
                            gl.describe_pair(self.extras.get("pair")),
                            gl.describe_arms(self.extras.get("arms")),
                            gl.describe_bridge(self.extras.get("bridge")),
                            hd.describe(self.extras.get("hands"))) if t]


def default_constants() -> OcclusionConstants:
    """The constants written in extreme3d.occlusion.constants (scripts/fit_occlusion.py)."""
    import extreme3d.occlusion.constants as c

    tpl = np.asarray(c.TEMPLATE_CMM, np.float32).reshape(c.TEMPLATE_SHAPE) / 100.0
    fill = np.asarray(c.FILL_TEMPLATE_CMM, np.float32).reshape(c.TEMPLATE_SHAPE) / 100.0
    return OcclusionConstants(tpl, tuple(c.TEMPLATE_ORIGIN), float(c.TEMPLATE_STEP),
                              np.asarray(c.WEIGHTS, np.float64),
                              np.asarray(c.CONTEXT_WEIGHTS, np.float64), float(c.THRESHOLD),
                              fill)


def to_mm(bump: np.ndarray) -> np.ndarray:
    """Bump values (uint8 encoding, any shape) in mm."""
    return (np.asarray(bump, np.float32) - bp.FLAT) / np.float32(bp.UNITS_PER_MM)


def harmonic_correction(boundary: np.ndarray, region: np.ndarray) -> np.ndarray:
    """h with h = boundary outside `region` and h harmonic (discrete Laplace, 4-neighbours)
    inside it: the smooth correction that makes a source meet the map on the region's border.
    region: bool (H, W) not touching the image border; boundary: float. Solved by the mesh
    fill's sparse Cholesky (`_core.harmonic_fill`) on the region and its ring of 4-neighbours,
    the grid's edges as degenerate triangles (2-3x faster than SuperLU, within 1e-9 of
    `harmonic_correction_reference` for values in mm)."""
    from extreme3d import _core

    reg = np.asarray(region, bool)
    out = np.asarray(boundary, np.float64).copy()
    if not reg.any():
        return out
    if reg[0].any() or reg[-1].any() or reg[:, 0].any() or reg[:, -1].any():
        return harmonic_correction_reference(boundary, reg)  # border pixels: 4 clamped neighbours
    ring = cv2.dilate(reg.astype(np.uint8), np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]],
                                                      np.uint8)).astype(bool)
    ys, xs = np.nonzero(ring)  # the region and its ring, compact ids in row-major order
    ids = np.full(reg.shape, -1, np.int64)
    ids[ys, xs] = np.arange(len(ys))
    across, down = reg[:, :-1] | reg[:, 1:], reg[:-1, :] | reg[1:, :]  # edges touching it
    a = np.concatenate([ids[:, :-1][across], ids[:-1, :][down]])
    b = np.concatenate([ids[:, 1:][across], ids[1:, :][down]])
    known = ~reg[ys, xs]
    values = out[ys, xs].reshape(-1, 1)
    if not np.isfinite(values[known]).all():
        return harmonic_correction_reference(boundary, reg)  # NaN or inf on the ring: as it does
    values[~known] = 0.0  # the unknowns' start values are not used
    filled = _core.harmonic_fill(np.stack([a, b, b], axis=1).astype(np.int32), values, known,
                                 1e-12)
    out[ys[~known], xs[~known]] = filled[~known, 0]
    return out


def harmonic_correction_reference(boundary: np.ndarray, region: np.ndarray) -> np.ndarray:
    """`harmonic_correction` by scipy's SuperLU (the test reference; also any region touching
    the image border, whose pixels count a clamped neighbour)."""
    out = np.asarray(boundary, np.float64).copy()
    ys, xs = np.nonzero(region)
    n = len(ys)
    if n == 0:
        return out
    h, w = region.shape
    idx = np.full((h, w), -1, np.int64)
    idx[ys, xs] = np.arange(n)
    rows, cols, vals = [np.arange(n)], [np.arange(n)], [np.full(n, 4.0)]
    rhs = np.zeros(n)
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        ny, nx = np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)
        j = idx[ny, nx]
        inside = j >= 0
        rows.append(np.arange(n)[inside])
        cols.append(j[inside])
        vals.append(np.full(int(inside.sum()), -1.0))
        rhs[~inside] += out[ny[~inside], nx[~inside]]
    a = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(n, n))
    out[ys, xs] = spla.spsolve(a.tocsc(), rhs)
    return out


def fill_source(bump_mm: np.ndarray, region: np.ndarray, face: np.ndarray,
                mirror: np.ndarray, template_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(source mm, mirror weight 0..1) for the pixels of `region`: the mirrored partner's bump
    where the partner is clean face (not in region, inside the face), else the template, with a
    3-px soft transition."""
    bad = region | ~face
    clean_partner = fr.sample((~cv2.dilate(bad.astype(np.uint8), np.ones((5, 5), np.uint8))
                               .astype(bool)).astype(np.float32), mirror) > 0.99
    wgt = cv2.GaussianBlur(clean_partner.astype(np.float32), (0, 0), 3.0) * clean_partner
    src = wgt * fr.sample(bump_mm, mirror) + (1.0 - wgt) * template_mm
    return src.astype(np.float32), wgt


def soften(bump_mm: np.ndarray, filled_mm: np.ndarray, core: np.ndarray | None,
           tolerance_mm: float = TOLERANCE_MM, full_mm: float = FULL_MM,
           feather: int = FEATHER_PX) -> np.ndarray:
    """The filled map with its change from the input faded linearly over `feather` px outside
    the occluder core (None: no fade), then firm-thresholded: |change| < tolerance_mm dropped,
    > full_mm kept, ramped in between."""
    delta = filled_mm.astype(np.float64) - bump_mm
    if feather > 0 and core is not None and core.any():
        dist = cv2.distanceTransform((~core).astype(np.uint8), cv2.DIST_L2, 5)
        delta *= np.clip(1.0 - dist / (feather + 1.0), 0.0, 1.0)
    if 0 < tolerance_mm < full_mm:
        mag = np.abs(delta)
        ramp = np.sign(delta) * full_mm * np.maximum(mag - tolerance_mm, 0.0) / (
            full_mm - tolerance_mm)
        delta = np.where(mag >= full_mm, delta, ramp)
    return bump_mm + delta


def mirror_agreement(bump_mm: np.ndarray, region: np.ndarray, face: np.ndarray,
                     mirror: np.ndarray, ring: int = MIRROR_RING_PX,
                     scale_mm: float = MIRROR_AGREE_MM) -> float:
    """0..1: how well the map matches its own mirror image on a ring of `ring` px around
    `region` (where both the pixel and its partner are clean face): 1 - RMS difference /
    scale_mm, clipped (1: a symmetric face, whose mirrored partner can be trusted)."""
    band = cv2.dilate(region.astype(np.uint8), sg.disk(ring)).astype(bool) & ~region & face
    partner_ok = fr.sample((face & ~region).astype(np.float32), mirror) > 0.99
    sel = band & partner_ok
    if sel.sum() < 20:
        return 0.0
    diff = bump_mm[sel] - fr.sample(bump_mm, mirror)[sel]
    return float(np.clip(1.0 - np.sqrt(np.mean(diff * diff)) / scale_mm, 0.0, 1.0))


def telea_fill(bump512: np.ndarray, region: np.ndarray, radius: int = TELEA_RADIUS,
               grow: int = TELEA_GROW) -> np.ndarray:
    """500x500 float mm: the map (512x512 uint8) with `region` (500x500 bool, grown by `grow`
    px) filled by OpenCV's Telea fast-marching inpainting; the input elsewhere."""
    hole = np.zeros((bp.MAP_SIZE, bp.MAP_SIZE), np.uint8)
    sg.crop_of(hole)[:] = region
    if grow > 0:
        hole = cv2.dilate(hole, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    return to_mm(sg.crop_of(cv2.inpaint(np.asarray(bump512, np.uint8), hole, radius,
                                        cv2.INPAINT_TELEA))).astype(np.float64)


def telea_share(region: np.ndarray, mirror_weight: np.ndarray, agreement: float,
                share: float = TELEA_SHARE, depth_px: float = TELEA_DEPTH_PX) -> np.ndarray:
    """Per-pixel share (0..share) of Telea in the fill of `region` (500x500 bool): `share`,
    less where the mirrored partner is used and trusted (mirror_weight x agreement), faded
    linearly with the distance from the region's edge (1 px on the edge: the full share;
    depth_px + 1 px and deeper: none; depth_px 0: no fade). The crop's border is not an edge:
    Telea has nothing known beyond it."""
    out = share * (1.0 - mirror_weight * agreement)
    if depth_px > 0:
        depth = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 5)
        out = out * np.clip(1.0 - (depth - 1.0) / depth_px, 0.0, 1.0)
    return out


def blend(bump_mm: np.ndarray, source_mm: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Poisson blend: source + harmonic correction inside region, the input map elsewhere."""
    out = bump_mm.astype(np.float64).copy()
    if not region.any():
        return out
    ry, rx = bp.roi_of(region, 2)
    reg = region[ry, rx].copy()
    reg[0, :] = reg[-1, :] = False
    reg[:, 0] = reg[:, -1] = False
    diff = (bump_mm[ry, rx] - source_mm[ry, rx]).astype(np.float64)
    corr = harmonic_correction(np.where(reg, 0.0, diff), reg)
    patch = out[ry, rx]
    patch[reg] = source_mm[ry, rx][reg] + corr[reg]
    return out


def find_occluders(crop_bgr: np.ndarray, landmarks: np.ndarray, bump512: np.ndarray,
                   mask512: np.ndarray, constants: OcclusionConstants | None = None,
                   hands: bool = True, hair: bool = True
                   ) -> tuple[np.ndarray, np.ndarray, dict]:
    """(occluders 500x500 bool, probability 500x500, geometry dict) of a crop, its landmarks
    and its bump map and face mask (512x512 uint8); geo["core"] is the occluder mask before
    it is grown by segment.GROW_PX. Glasses rims found as dark or light rings around the eyes
    (`glasses.find_rims`, geo["rims"]; with dark lenses inside, `glasses.with_lenses`) join
    the core, the temple arms of dark lenses (`glasses.lens_arms`, geo["arms"]: also inside
    found rims, whose own arm search follows lines of the rims' kind), and without rims a
    second lens dropped as an eye (`glasses.paired_lenses`, geo["pair"]) and the frames around
    the lenses (`glasses.lens_frames`, geo["frames"]); then the bridge between two lenses
    or rims (`glasses.lens_bridge`, geo["bridge"]; BRIDGES False: none); hands: the hands
    MediaPipe finds over the face (`hands.find_hands`, geo["hands"]) join it too; False: no
    hand step. hair: the hair hanging into the face (`hair.hair_pixels`, geo["hair"]) joins
    it too; False: no hair step."""
    const = constants or default_constants()
    lm = np.asarray(landmarks, np.float64)
    face = sg.crop_of(mask512) >= 127
    geo = geometry(lm, const)
    bump_mm = to_mm(sg.crop_of(bump512))
    crop = bp._to_bgr(crop_bgr)  # the cues and the rims read the same 500x500 uint8 crop
    feat = sg.features(crop, bump_mm, geo["template"], face, geo["mirror"], geo["frame"],
                       geo["centre"])
    prob = sg.probability(feat, const.weights)
    prob = sg.probability(sg.context(prob, geo["mirror"], feat), const.context_weights)
    zones = sg.feature_zones(lm)
    geo["core"] = sg.segment(prob, face, const.threshold, grow=0, zones=zones,
                             lips=sg.lips_line(lm))
    light = gl.lightness(crop)  # the rims' and arms' line maps, once
    maps = gl.line_maps(crop, light)
    geo["rims"] = gl.find_rims(crop, lm, face, maps)
    geo["core"] = gl.with_lenses(geo["core"] | geo["rims"].mask, geo["rims"], face)
    if geo["rims"].found:
        geo["pair"] = gl.PairedLenses(np.zeros(face.shape, bool))
        # the rims' own arm search follows lines of the rims' kind, at the ring's strength; the
        # thin metal arms of tinted lenses are dark lines on the skin, often fainter: searched
        # as sunglasses' arms too (they extend the rims' own where those stop short)
        geo["arms"] = gl.lens_arms(crop, lm, geo["core"], face, light, maps)
        geo["frames"] = gl.LensFrames(np.zeros(face.shape, bool))
        regions = gl.rim_regions(geo["rims"], face.shape)
    else:  # sunglasses: the far lens dropped as an eye, then the arms of the lenses
        lenses = gl.eye_lenses(geo["core"], lm, face, light)  # for the pair, arms and frames
        geo["pair"] = gl.paired_lenses(prob, const.threshold, geo["core"], lm, face, light,
                                       lenses)
        if geo["pair"].mask.any():  # the core gained a lens: its lenses again
            geo["core"] = geo["core"] | geo["pair"].mask
            lenses = gl.eye_lenses(geo["core"], lm, face, light)
        geo["arms"] = gl.lens_arms(crop, lm, geo["core"], face, light, maps, lenses)
        geo["frames"] = gl.lens_frames(geo["core"], lm, face, light, lenses=lenses)
        geo["core"] = geo["core"] | geo["frames"].mask
        regions = lenses.lenses
    geo["core"] = geo["core"] | geo["arms"].mask
    if BRIDGES:  # the bridge between the two lenses or rims
        geo["bridge"] = gl.lens_bridge(maps, lm, geo["core"], face, regions)
        geo["core"] = geo["core"] | geo["bridge"].mask
    if hands:
        geo["hands"] = hd.find_hands(crop_bgr, lm, face)
        geo["core"] = geo["core"] | geo["hands"].mask
    if hair:
        geo["hair"] = hr.HairRegion(hr.hair_pixels(crop, face, lm, person_probability(crop),
                                                   occluded=geo["core"]))
        geo["core"] = geo["core"] | geo["hair"].mask
    return sg.grown(geo["core"], face), prob, geo


def geometry(landmarks: np.ndarray, const: OcclusionConstants) -> dict:
    """Mirror map, mean-frame map, the cue and fill templates at every pixel, frame centre."""
    mean = bp.default_constants().mean_landmarks
    frame = fr.mean_frame_map(landmarks, mean)
    return dict(mirror=fr.mirror_map(landmarks), frame=frame, centre=mean.mean(0),
                template=fr.template_at(const.template, const.origin, const.step, frame),
                fill=fr.template_at(const.fill_template, const.origin, const.step, frame))


def _check_maps(bump512: np.ndarray, mask512: np.ndarray) -> None:
    """Raises ValueError unless both maps are 512x512."""
    for name, m in (("bump", bump512), ("mask", mask512)):
        if np.asarray(m).shape != (bp.MAP_SIZE, bp.MAP_SIZE):
            raise ValueError(f"{name} map must be {bp.MAP_SIZE}x{bp.MAP_SIZE}, got "
                             f"{np.asarray(m).shape}")


def is_flat(bump512: np.ndarray, mask512: np.ndarray) -> bool:
    """True when the bump map (512x512 uint8) has no detail inside the face mask (every value
    there bp.FLAT, e.g. the photo estimator's fallback for greyscale crops): its cues against
    the detail template would call a third of the face an occluder."""
    face = np.asarray(mask512) >= 127
    return bool(face.any() and (np.asarray(bump512)[face] == bp.FLAT).all())


def deocclude(crop_bgr: np.ndarray, landmarks: np.ndarray, bump512: np.ndarray,
              mask512: np.ndarray, constants: OcclusionConstants | None = None,
              occluders: np.ndarray | None = None, hands: bool = True) -> OcclusionResult:
    """De-occluded bump map of a crop (500x500 BGR), its 68 landmarks (crop px) and its bump map
    and face mask (512x512 uint8, the Bump CNN's or the photo estimator's encoding).

    occluders: a 500x500 bool occluder mask to use instead of the segmentation. hands: the
    hands found by MediaPipe join the occluders (`hands.find_hands`; extras["hands"] says what
    was found, or why the step did not run); extras["rims"] records the glasses rims found
    (`glasses.find_rims`), extras["arms"] the arms of dark lenses (`glasses.lens_arms`),
    extras["pair"], ["frames"] and ["bridge"] a pair's second lens, the frames round dark
    lenses and the bridge between two lenses or rims, extras["hair"] the hair over the face
    (see `find_occluders`).
    Landmarks that are not 68 finite points, or a flat map (`is_flat`: nothing to segment or
    restore) without given occluders, give the input back unchanged, with a message."""
    t0 = time.perf_counter()
    _check_maps(bump512, mask512)
    bump512 = np.asarray(bump512, np.uint8)
    mask512 = np.asarray(mask512, np.uint8)
    lm = np.asarray(landmarks, np.float64)
    none = np.zeros((bp.MAP_SIZE, bp.MAP_SIZE), bool)
    if lm.shape != (68, 2) or not np.isfinite(lm).all():
        return OcclusionResult(bump512.copy(), mask512.copy(), none, 0.0, 0.0,
                               time.perf_counter() - t0,
                               f"need 68 finite landmarks, got {lm.shape}: no de-occlusion")
    const = constants or default_constants()
    face = sg.crop_of(mask512) >= 127
    if occluders is None and is_flat(bump512, mask512):
        return OcclusionResult(bump512.copy(), mask512.copy(), none, 0.0, 0.0,
                               time.perf_counter() - t0,
                               "flat map (no detail in the face mask): nothing to de-occlude")
    if occluders is None:
        occ, prob, geo = find_occluders(crop_bgr, lm, bump512, mask512, const, hands=hands)
    else:
        occ, geo = np.asarray(occluders, bool) & face, geometry(lm, const)
    bump_mm = to_mm(sg.crop_of(bump512))
    src, wgt = fill_source(bump_mm, occ, face, geo["mirror"], geo["fill"])
    filled = blend(bump_mm, src, occ)
    if occ.any() and TELEA_SHARE > 0:
        share = telea_share(occ, wgt, mirror_agreement(bump_mm, occ, face, geo["mirror"]))
        filled = np.where(occ, (1.0 - share) * filled + share * telea_fill(bump512, occ), filled)
    if occ.any() and occluders is None:  # soften found occluders (in their box) only
        ry, rx = bp.roi_of(occ, 2)
        filled[ry, rx] = soften(bump_mm[ry, rx], filled[ry, rx], geo.get("core", occ)[ry, rx])
    out = bump512.copy()
    vals = np.clip(np.rint(bp.FLAT + filled * bp.UNITS_PER_MM), 0, 255).astype(np.uint8)
    inner = sg.crop_of(out)
    inner[occ] = vals[occ]
    occ512 = none.copy()
    sg.crop_of(occ512)[:] = occ
    n_occ = int(occ.sum())
    extras = {key: geo[key].record(face)
              for key in ("rims", "pair", "arms", "frames", "bridge", "hands", "hair")
              if key in geo}
    unpaired = none.copy()
    sg.crop_of(unpaired)[:] = occ & (wgt < 0.5)
    return OcclusionResult(out, mask512.copy(), occ512, n_occ / max(int(face.sum()), 1),
                           float(wgt[occ].sum() / n_occ) if n_occ else 0.0,
                           time.perf_counter() - t0, extras=extras, unpaired=unpaired)
