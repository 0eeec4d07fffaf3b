"""Hair over the face: fringes and strands that hang into the face mask, found by colour and
texture against the hair just outside the mask (issue 14); an occluder like the hands
(`fill.find_occluders`).

The face mask follows the fitted face, so a fringe over the forehead, a lock over a temple or
long hair over the cheeks lies inside it; the photo bump kept the strands as grooves, the
vertex colours and the texture took them, and the mirrored side copied them onto clean skin.
The occluder cues (`segment`) and the rim test (`background.non_face_pixels`) model colour
against skin and miss hair whose colour is close to skin's (blonde, light brown).

Two per-image models in (L, a, b, texture), each a Gaussian (median centre):
- skin from the mask's core (as `background`); texture = log of the local high-pass energy of
  the lightness (hair strands are fine, dense lines; skin is smooth at that scale);
- hair from a band just outside the mask's outline (the occluders found before, `occluded`,
  inside it) above the eyes, person pixels only when Selfie Segmentation's map is given, and
  of those the ones unlike skin (beyond the core's own UNLIKE_QUANTILE of the skin model's
  negative log-likelihood).
The band holds hair only when its hair samples' median texture is rougher than the skin's
(TEXTURE_RATIO, the skin's taken as at least TEXTURE_FLOOR): a bald head, a hat, a forehead
that goes on past the mask, a headscarf or a white backdrop are smooth and nothing is
flagged; or when its colour alone tells it from skin (`_by_colour`: grey or white hair over
coloured skin, a dyed headscarf far more colourful than skin; the regions and strips found
then need no texture). Then, above the upper lip (beards hang below):
- seeds: pixels whose hair-over-skin log-likelihood ratio (blurred) exceeds LLR_MIN, off the
  eyes and the brows, opened (OPEN_PX), in regions that touch the outline above the eyes
  (hair comes in from the head) by CONTACT_PX pixels or more and cover MIN_SHARE of the face;
- the seeds grow into connected pixels leaning to hair (LLR_WEAK, hysteresis);
- in the brows' zone a pixel can be hair only when it is more like the hair than the brows
  (BROW_MARGIN) and leans to hair by LLR_MIN (not only LLR_WEAK); the brow model is sampled on
  the brow lines that do not lean to hair: a brow under the fringe is sampled on the other
  one, brows of the hair's colour are left alone;
- thin strips along the outline (RIM_PX) are hair too, without the opening or growing, when
  the hair goes on outside the mask beside them (OUT_PX, OUT_SHARE: not background or skin);
- a region smoother than skin (REGION_TEXTURE; a strip: TEXTURE_RATIO, measured away from
  the outline's own contrast) is shaded skin, not hair.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from extreme3d.occlusion.person import PERSON_THRESHOLD
from extreme3d.occlusion.segment import disk as sg_disk
from extreme3d.occlusion.segment import face_share

#: Core of the mask (skin model): distance to its border > CORE_FRACTION x the largest distance.
CORE_FRACTION = 0.45
#: The hair band: outside the outline, BAND_MIN_PX to BAND_EYES x the eyes' distance from it.
BAND_MIN_PX = 3
BAND_EYES = 0.35
#: Band pixels beyond this quantile of the core's own skin NLL are the hair samples.
UNLIKE_QUANTILE = 0.9
#: Fewest pixels for the skin core, the band and the hair samples.
MIN_SAMPLES = 150
#: The band is hair only when its hair samples' median texture exceeds the skin's by this
#: factor; so is a strip along the outline (measured RIM_DEEP_PX inside).
TEXTURE_RATIO = 1.25
#: Bands told from skin by colour pass without the texture gate (`_by_colour`): grey or white
#: hair (`_grey_hair`: the band's samples within GREY_CHROMA of neutral in (a, b) and lighter
#: than skin of SKIN_CHROMA or more) and colourful ones (`_coloured`: a dyed headscarf, red
#: hair; chroma COLOUR_RATIO times the skin's or more).
GREY_CHROMA = 10.0
SKIN_CHROMA = 15.0
COLOUR_RATIO = 2.0
#: A found region is kept only when its median texture exceeds the skin's by this factor.
REGION_TEXTURE = 1.25
#: The skin's texture is taken as at least this (the cue's units: 10 log(1 + 0.1 grey level)).
TEXTURE_FLOOR = 1.0
#: Scale of the texture cue (log units) so that it weighs like a few Lab units.
TEXTURE_SCALE = 10.0
#: Variances added to the models' covariances: Lab (8-bit units squared), texture.
VARIANCE_FLOOR = (4.0, 4.0, 4.0, 1.0)
#: Hair-over-skin log-likelihood ratio (blurred by LLR_SIGMA px) above which a pixel is hair.
LLR_MIN = 1.0
#: Found regions grow into connected pixels whose ratio exceeds LLR_WEAK (hysteresis).
LLR_WEAK = 0.0
LLR_SIGMA = 2.0
#: The eyes are left out, dilated by an ellipse this fraction of the eyes' distance across, and
#: the brows drawn BROW_EYES of it thick (dark, fine hairs like the hair's own; BROW_MARGIN).
FEATURES_EYES = 0.15
BROW_EYES = 0.3
#: The brows' own colour is sampled on their landmark lines, this fraction of the eyes'
#: distance thick, on the lines that do not lean to hair (under a fringe a line shows the
#: fringe); with no such line of MIN_SAMPLES // 3 pixels (brows of the hair's colour) the
#: brows' zone is left out.
BROW_LINE_EYES = 0.06
#: A brow line with this share or more of its pixels leaning to hair is not sampled.
BROW_HAIR_SHARE = 0.5
#: In the brows' zone a hair pixel is more likely under the hair's model than the brows' by
#: this log-likelihood margin (a fringe lighter or darker than the brows).
BROW_MARGIN = 2.0
#: Opening (ellipse, px) that drops thin runs of hair-like pixels (wrinkles, frame edges).
OPEN_PX = 7
#: A seed region touches the outline's inner EDGE_PX above the eyes by CONTACT_PX or more
#: pixels and covers MIN_SHARE or more of the face mask.
EDGE_PX = 3
CONTACT_PX = 10
MIN_SHARE = 0.004
#: Strands along the outline: hair-like pixels within RIM_PX of the mask's border above the
#: lip, in regions of RIM_SHARE of the face or more touching the border, with the band's
#: TEXTURE_RATIO to the skin's texture, are hair too, without the opening and without growing
#: (a strip a few px wide where the outline crosses the hair).
RIM_PX = 12
#: A strip's texture is measured RIM_DEEP_PX or more inside the outline (the outline's own
#: contrast against the background reads as texture).
RIM_DEEP_PX = 5
RIM_SHARE = 0.001
#: A strip goes on outside the outline (hair comes in from the head): of the pixels outside
#: the mask within OUT_PX of it (counted from OUT_START_PX out), OUT_SHARE or more lean to hair
#: (LLR_WEAK; person pixels when the person map is given). Shaded skin at a cheek's edge has
#: background or neck beyond it.
OUT_PX = 8
OUT_SHARE = 0.5
#: The pixels beyond a strip are counted from this distance (px) outside the outline: the
#: blurred ratio (LLR_SIGMA) spreads the strip's own strands across the outline.
OUT_START_PX = int(2 * LLR_SIGMA)
#: Face pixels within this distance (px) of the occluders already found are no hair: the
#: blurred ratio leans to hair along a dark occluder's border, and growing along it reached
#: pixels far from any hair (the occluder mask is grown by 5 px later anyway).
OCCLUDED_MARGIN_PX = 4


@dataclass(frozen=True)
class HairRegion:
    """Hair found over a crop's face (`hair_pixels`), as the occluder step records it."""

    mask: np.ndarray  # (H, W) bool, crop px

    def record(self, face: np.ndarray) -> dict:
        """What params/<name>.json and summary.json record (face: the face mask it was found
        in, for the fraction)."""
        return {"fraction": face_share(self.mask, face)}


def appearance(crop_bgr: np.ndarray) -> np.ndarray:
    """(H, W, 4) float32 per crop pixel: OpenCV's 8-bit L, a, b and the texture cue
    TEXTURE_SCALE * log(1 + local mean of |L - L blurred (sigma 1)|, sigma 2)."""
    out = np.empty(crop_bgr.shape[:2] + (4,), np.float32)
    out[..., :3] = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2LAB)
    light = np.ascontiguousarray(out[..., 0])
    high = np.abs(light - cv2.GaussianBlur(light, (0, 0), 1.0))
    out[..., 3] = np.log1p(cv2.GaussianBlur(high, (0, 0), 2.0)) * TEXTURE_SCALE
    return out


class _Gaussian:
    """A Gaussian of (N, 4) samples: median centre, covariance plus VARIANCE_FLOOR."""

    def __init__(self, samples: np.ndarray) -> None:
        self.centre = np.median(samples, axis=0)
        cov = np.cov((samples - self.centre).T) + np.diag(VARIANCE_FLOOR)
        # inverse covariance = W W^T: the quadratic form is |d W|^2 (one small product)
        self.whiten = np.linalg.cholesky(np.linalg.inv(cov)).astype(np.float32)
        self.logdet = float(np.linalg.slogdet(cov)[1])

    def nll(self, x: np.ndarray) -> np.ndarray:
        """Negative log-likelihood (less the constant) of samples x (..., 4), float32."""
        y = (x - self.centre.astype(np.float32)) @ self.whiten
        y *= y
        # the four squares added in order (a reduction over a 4-long last axis is slow)
        q = y[..., 0] + y[..., 1]
        q += y[..., 2]
        q += y[..., 3]
        q += np.float32(self.logdet)
        q *= np.float32(0.5)
        return q


def _eyes(landmarks: np.ndarray, shape: tuple[int, int], grow: int) -> np.ndarray:
    """(H, W) bool (crop px): the eyes (36-41, 42-47) filled and dilated by an ellipse `grow`
    px across (about grow / 2 px each way)."""
    eyes = np.zeros(shape, np.uint8)
    for a, b in ((36, 42), (42, 48)):
        cv2.fillPoly(eyes, [np.rint(landmarks[a:b]).astype(np.int32)], 1)
    eyes = cv2.dilate(eyes, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    return eyes > 0


def _polyline(points: np.ndarray, shape: tuple[int, int], width: int) -> np.ndarray:
    """(H, W) bool: the open polyline through `points` (crop px) drawn `width` px thick."""
    line = np.zeros(shape, np.uint8)
    cv2.polylines(line, [np.rint(points).astype(np.int32)], False, 1, thickness=width)
    return line > 0


def _rim_strips(cand: np.ndarray, inside: np.ndarray, min_area: float) -> np.ndarray:
    """Bool mask: the regions of `cand` (hair-like pixels near the mask's border), opened 3x3,
    that touch the border (`inside`: distance to it, px, <= EDGE_PX) and hold min_area px or
    more: strands along the face's outline, too thin for the OPEN_PX opening."""
    c8 = cv2.morphologyEx(cand.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(c8, connectivity=8)
    touch = np.bincount(labels[(c8 > 0) & (inside <= EDGE_PX)], minlength=n) >= CONTACT_PX
    keep = touch & (stats[:, cv2.CC_STAT_AREA] >= min_area)
    keep[0] = False
    return keep[labels]


def _distance_inside(mask: np.ndarray) -> np.ndarray:
    """Distance (px, float32) of every pixel of a uint8 0/1 mask to its nearest 0 pixel, the
    crop's edge counting as outside (OpenCV's transform counts the area beyond the image as
    inside: a mask touching the edge would have no border there)."""
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    return cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]


def _outline(face: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distance inside, distance outside) of the mask's outline (px): the mask with its holes
    (occluders cut out of it) filled; the crop's edge is outline too."""
    whole = np.zeros(face.shape, np.uint8)
    contours, _ = cv2.findContours(face.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(whole, contours, -1, 1, thickness=cv2.FILLED)
    return _distance_inside(whole), cv2.distanceTransform(1 - whole, cv2.DIST_L2, 5)


def _skin_texture(skin: _Gaussian) -> float:
    """The skin's median texture (the cue's units), at least TEXTURE_FLOOR: flat skin (a
    synthetic or crushed-black crop) must not make every band and region rough enough."""
    return max(float(skin.centre[3]), TEXTURE_FLOOR)


def _models(feat: np.ndarray, core: np.ndarray, band: np.ndarray
            ) -> tuple[_Gaussian, _Gaussian] | None:
    """(skin, hair) models from the core and the band's pixels unlike skin; None when either
    lacks samples or the band is as smooth as skin (TEXTURE_RATIO: no hair there)."""
    if core.sum() < MIN_SAMPLES or band.sum() < MIN_SAMPLES:
        return None
    skin = _Gaussian(feat[core])
    near = feat[band]
    unlike = skin.nll(near) > np.quantile(skin.nll(feat[core]), UNLIKE_QUANTILE)
    if unlike.sum() < MIN_SAMPLES:
        return None
    hair = _Gaussian(near[unlike])
    if hair.centre[3] < TEXTURE_RATIO * _skin_texture(skin) and not _by_colour(skin, hair):
        return None  # a smooth band: a bald head, a hat, skin or backdrop, not hair
    return skin, hair


def _chroma(centre: np.ndarray) -> float:
    """Distance of a model's (a, b) centre from neutral grey (OpenCV's 8-bit Lab: 128)."""
    return float(np.hypot(centre[1] - 128.0, centre[2] - 128.0))


def _by_colour(skin: _Gaussian, hair: _Gaussian) -> bool:
    """Whether the band is told from skin by its colour alone (`_grey_hair` or `_coloured`):
    then it needs no texture, nor do the regions and strips found from it."""
    return _grey_hair(skin, hair) or _coloured(skin, hair)


def _coloured(skin: _Gaussian, hair: _Gaussian) -> bool:
    """Whether the band's samples are far more colourful than the skin (COLOUR_RATIO: a dyed
    headscarf, a coloured hat, red hair); shadows on skin are less colourful, not more."""
    return (_chroma(skin.centre) >= SKIN_CHROMA
            and _chroma(hair.centre) >= COLOUR_RATIO * _chroma(skin.centre))


def _grey_hair(skin: _Gaussian, hair: _Gaussian) -> bool:
    """Whether the band's samples are grey or white hair: lighter than the skin and near
    neutral (GREY_CHROMA) where the skin is coloured (SKIN_CHROMA); such hair is often as
    smooth as skin at the texture cue's scale."""
    return (hair.centre[0] > skin.centre[0] and _chroma(hair.centre) < GREY_CHROMA
            and _chroma(skin.centre) >= SKIN_CHROMA)


def _allowed(feat: np.ndarray, llr: np.ndarray, zone: np.ndarray, lm: np.ndarray,
             eyes_apart: float, hair: _Gaussian) -> np.ndarray:
    """(rows, W) bool over the rows of `llr`: the zone's pixels that may be hair: off the eyes,
    and in the brows' zone only those more like the hair than the brows (BROW_MARGIN), the brow
    model sampled on the brow lines that do not lean to hair (none: the zone stays out)."""
    rows = slice(0, llr.shape[0])
    shape = zone.shape
    eyes = _eyes(lm, shape, max(int(round(FEATURES_EYES * eyes_apart)), 2))[rows]
    thick = max(int(round(BROW_EYES * eyes_apart)), 2)
    brows = (_polyline(lm[17:22], shape, thick) | _polyline(lm[22:27], shape, thick))[rows]
    zone = zone[rows]
    free = zone & ~eyes & ~brows
    width = max(int(round(BROW_LINE_EYES * eyes_apart)), 1)
    lines = [_polyline(lm[a:b], shape, width)[rows] & zone for a, b in ((17, 22), (22, 27))]
    clean = [ln for ln in lines if ln.sum() >= MIN_SAMPLES // 3
             and float(np.mean(llr[ln] > LLR_MIN)) < BROW_HAIR_SHARE]
    if clean:
        brow = _Gaussian(feat[rows][np.logical_or.reduce(clean)])
        ys, xs = np.nonzero(zone & brows & ~eyes)
        x = feat[ys, xs]
        free[ys, xs] = (brow.nll(x) - hair.nll(x) > BROW_MARGIN) & (llr[ys, xs] > LLR_MIN)
    return free


def _rough(labels: np.ndarray, keep: np.ndarray, texture: np.ndarray, floor: float,
           where: np.ndarray | None = None) -> np.ndarray:
    """`keep` (per label of `labels`, label 0 never) less the regions whose median texture
    (over their pixels in `where`, default all) is under `floor`: shaded skin, not hair."""
    keep = keep.copy()
    keep[0] = False
    for k in np.flatnonzero(keep):
        sel = labels == k if where is None else (labels == k) & where
        if not sel.any() or np.median(texture[sel]) < floor:
            keep[k] = False
    return keep[labels]


def _go_on_outside(labels: np.ndarray, keep: np.ndarray, hairlike: np.ndarray,
                   outside: np.ndarray) -> np.ndarray:
    """`keep` (per label of `labels`, label 0 never) less the labels whose regions do not go
    on outside the mask: fewer than OUT_SHARE of the pixels outside it (`outside`: their
    distance to the outline, px) that lie OUT_START_PX to OUT_START_PX + OUT_PX from it and
    within that distance of the region are `hairlike`. A region along the crop's edge with no
    such pixels (the crop ends there) is kept."""
    keep = keep.copy()
    keep[0] = False
    reach = OUT_START_PX + OUT_PX
    beyond = (outside > OUT_START_PX) & (outside <= reach)
    h, w = labels.shape
    for k in np.flatnonzero(keep):
        ys, xs = np.nonzero(labels == k)
        y0, y1 = max(ys.min() - reach, 0), min(ys.max() + reach + 1, h)
        x0, x1 = max(xs.min() - reach, 0), min(xs.max() + reach + 1, w)
        box = (labels[y0:y1, x0:x1] == k).astype(np.uint8)
        ring = (cv2.dilate(box, sg_disk(reach)) > 0) & beyond[y0:y1, x0:x1]
        if not ring.any():
            at_edge = ys.min() == 0 or xs.min() == 0 or xs.max() == w - 1
            keep[k] = bool(at_edge)
        elif float(np.mean(hairlike[y0:y1, x0:x1][ring])) < OUT_SHARE:
            keep[k] = False
    return keep


def hair_pixels(crop_bgr: npt.ArrayLike, face_mask: npt.ArrayLike, landmarks: npt.ArrayLike,
                person: np.ndarray | None = None,
                occluded: np.ndarray | None = None) -> np.ndarray:
    """Pixels (bool HxW, crop px) of `face_mask` covered by hair that hangs in from the head
    (see the module doc). landmarks: the 68 points in crop px; person: Selfie Segmentation's
    person probability per crop pixel (None: the band is not checked for background);
    occluded: face pixels already found as occluders (glasses, hands): they and the pixels
    within OCCLUDED_MARGIN_PX of them are never hair, never skin samples, but inside the face's
    outline (a lens cut out of the mask reaching its edge must not put the band, the outline
    and the hair samples on the lens). All False when the band is not hair or either model
    lacks samples."""
    crop = np.ascontiguousarray(crop_bgr, np.uint8)
    whole = np.asarray(face_mask, bool)
    if occluded is not None and np.shape(occluded) != whole.shape:
        raise ValueError(f"occluder mask {np.shape(occluded)} and face mask {whole.shape} do "
                         "not match")
    face = whole
    if occluded is not None and np.any(occluded):
        near = cv2.dilate(np.asarray(occluded, np.uint8), sg_disk(OCCLUDED_MARGIN_PX))
        face = whole & (near == 0)
    lm = np.asarray(landmarks, np.float64)
    if crop.ndim != 3 or crop.shape[2] != 3 or crop.shape[:2] != face.shape:
        raise ValueError(f"crop {crop.shape} and face mask {face.shape} do not match")
    if lm.shape != (68, 2):
        raise ValueError(f"68 landmarks expected, got an array of shape {lm.shape}")
    if person is not None and np.shape(person) != face.shape:
        raise ValueError(f"person map {np.shape(person)} and face mask {face.shape} do not "
                         "match")
    out = np.zeros(face.shape, bool)
    if not face.any() or not np.isfinite(lm).all():
        return out
    eyes_apart = float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)))
    if not 0 < eyes_apart < max(face.shape):
        return out  # landmarks that do not fit the crop: no face geometry to go by
    eye_row = max(int(np.ceil(lm[36:48, 1].mean())), 0)
    top = min(max(int(np.ceil(lm[51, 1])), 0), face.shape[0])  # the upper lip's row
    core_dist = _distance_inside(face.astype(np.uint8))
    core = core_dist > CORE_FRACTION * float(core_dist.max())
    inside, outside = _outline(whole)
    band = (outside >= BAND_MIN_PX) & (outside <= BAND_EYES * eyes_apart)
    band[eye_row:] = False
    if person is not None:
        band &= np.asarray(person) >= PERSON_THRESHOLD
    feat = appearance(crop)
    models = _models(feat, core, band)
    if models is None or top == 0:
        return out
    skin, hair = models
    by_colour = _by_colour(skin, hair)
    rows = slice(0, top)
    zone, inside, texture = face[rows], inside[rows], feat[rows][..., 3]
    llr = cv2.GaussianBlur(skin.nll(feat[rows]) - hair.nll(feat[rows]), (0, 0), LLR_SIGMA)
    free = _allowed(feat, llr, face & (np.arange(face.shape[0]) < top)[:, None], lm,
                    eyes_apart, hair)
    cand = free & (llr > LLR_MIN)
    cand8 = cv2.morphologyEx(cand.astype(np.uint8), cv2.MORPH_OPEN,
                             cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (OPEN_PX, OPEN_PX)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(cand8, connectivity=8)
    edge = (inside <= EDGE_PX) & zone
    edge[eye_row:] = False
    contact = np.bincount(labels[edge & (cand8 > 0)], minlength=n)
    keep = (contact >= CONTACT_PX) & (stats[:, cv2.CC_STAT_AREA] >= MIN_SHARE * face.sum())
    keep[0] = False
    # hysteresis: the seeds grow into connected pixels that lean to hair (LLR_WEAK)
    _, grown = cv2.connectedComponents((free & (llr > LLR_WEAK)).astype(np.uint8),
                                       connectivity=8)
    reached = np.zeros(grown.max() + 1, bool)
    reached[np.unique(grown[keep[labels]])] = True
    out[rows] = _rough(grown, reached, texture,
                       0.0 if by_colour else REGION_TEXTURE * _skin_texture(skin))
    # strands along the outline, kept as they are (grown, they ran into shaded cheeks); their
    # texture measured away from the outline's own contrast
    _, strips = cv2.connectedComponents(
        _rim_strips(cand & (inside <= RIM_PX), inside, RIM_SHARE * face.sum()).astype(np.uint8),
        connectivity=8)
    hairlike = llr > LLR_WEAK
    if person is not None:
        hairlike &= np.asarray(person)[rows] >= PERSON_THRESHOLD
    beyond = _go_on_outside(strips, np.ones(strips.max() + 1, bool), hairlike, outside[rows])
    out[rows] |= _rough(strips, beyond, texture,
                        0.0 if by_colour else TEXTURE_RATIO * _skin_texture(skin),
                        inside >= RIM_DEEP_PX)
    return out
