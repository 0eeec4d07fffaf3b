"""Hair over the face: fringes and strands that hang into the face mask, found by colour and
texture against the hair just outside the mask (issue 14, colours and texture).

The face mask follows the fitted face, so a fringe over the forehead, a lock over a temple or
long hair over the cheeks lies inside it; the vertex colours and the texture took the strands
and the mirrored side copied them onto clean skin. The rim test (`background.non_face_pixels`)
models chroma only and misses hair whose colour is close to skin's (blonde, light brown).

Two per-image models in (L*, a*, b*, texture), each a Gaussian (median centre):
- skin from the mask's core (as `background`), texture = log of the local high-pass energy of
  the lightness (hair strands are fine, dense lines; skin is smooth at that scale);
- hair from a band just outside the mask above the eyes (where the head's hair is), person
  pixels only when Selfie Segmentation's map is given, and of those the ones unlike skin
  (beyond the core's own UNLIKE_QUANTILE of the skin model's negative log-likelihood).
The band holds hair only when its texture is rougher than the skin's (TEXTURE_RATIO): a bald
head, a hat, a forehead that goes on past the mask, a headscarf or a white backdrop are
smooth and nothing is flagged. Face pixels above the nose tip whose log-likelihood ratio
(hair over skin, blurred) exceeds LLR_MIN, off the eyes and brows (dark, hair-like), opened,
are hair when the region touches the mask's border above the eyes (hair comes in from the
head) by CONTACT_PX or more pixels and covers at least MIN_SHARE of the face.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

#: Core of the mask (skin model): distance to its border > CORE_FRACTION x the largest distance.
CORE_FRACTION = 0.45
#: The hair band: outside the mask, BAND_MIN_PX to BAND_EYES x the eyes' distance from it.
BAND_MIN_PX = 3
BAND_EYES = 0.35
#: Band pixels beyond this quantile of the core's own skin NLL are the hair samples.
UNLIKE_QUANTILE = 0.9
#: Fewest pixels for the skin core, the band and the hair samples.
MIN_SAMPLES = 150
#: The band is hair only when its median texture exceeds the skin's by this factor.
TEXTURE_RATIO = 1.5
#: A found region is kept only when its median texture exceeds the skin's by this factor.
REGION_TEXTURE = 1.25
#: Scale of the texture cue (log units) so that it weighs like a few Lab units.
TEXTURE_SCALE = 10.0
#: Variances added to the models' covariances: Lab (8-bit units squared), texture.
VARIANCE_FLOOR = (4.0, 4.0, 4.0, 1.0)
#: Hair-over-skin log-likelihood ratio (blurred by LLR_SIGMA px) above which a pixel is hair.
LLR_MIN = 1.0
#: Found regions grow into connected pixels whose ratio exceeds LLR_WEAK (hysteresis).
LLR_WEAK = 0.0
LLR_SIGMA = 2.0
#: The eyes are left out, grown by this fraction of the eyes' distance, and the brows drawn
#: BROW_EYES of it thick (dark, fine hairs like the hair's own; see BROW_MARGIN).
FEATURES_EYES = 0.3
BROW_EYES = 0.15
#: The brows' own colour is sampled on their landmark lines, this fraction of the eyes'
#: distance thick; in the brows' zone only pixels more like the hair than the brows can be hair.
BROW_LINE_EYES = 0.06
#: ... by this log-likelihood margin (a fringe lighter or darker than the brows, not brows of
#: the hair's own colour).
BROW_MARGIN = 2.0
#: Opening (ellipse, px) that drops thin runs of hair-like pixels (wrinkles, frame edges).
OPEN_PX = 7
#: A hair region touches the mask's outer EDGE_PX above the eyes by CONTACT_PX or more pixels
#: and covers MIN_SHARE or more of the face mask.
EDGE_PX = 3
CONTACT_PX = 10
MIN_SHARE = 0.004


def appearance(crop_bgr: np.ndarray) -> np.ndarray:
    """(H, W, 4) float32 per crop pixel: OpenCV's 8-bit L, a, b and the texture cue
    TEXTURE_SCALE * log(1 + local mean of |L - L blurred (sigma 1)|, sigma 2)."""
    lab = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2LAB).astype(np.float32)
    light = lab[..., 0]
    high = np.abs(light - cv2.GaussianBlur(light, (0, 0), 1.0))
    texture = np.log1p(cv2.GaussianBlur(high, (0, 0), 2.0)) * TEXTURE_SCALE
    return np.dstack([lab, texture])


class _Gaussian:
    """A Gaussian of (N, 4) samples: median centre, covariance plus VARIANCE_FLOOR."""

    def __init__(self, samples: np.ndarray) -> None:
        self.centre = np.median(samples, axis=0)
        cov = np.cov((samples - self.centre).T) + np.diag(VARIANCE_FLOOR)
        self.inv = np.linalg.inv(cov)
        self.logdet = float(np.linalg.slogdet(cov)[1])

    def nll(self, x: np.ndarray) -> np.ndarray:
        """Negative log-likelihood (less the constant) of samples x (..., 4)."""
        d = (x - self.centre).astype(np.float64)
        return 0.5 * (np.einsum("...i,ij,...j->...", d, self.inv, d) + self.logdet)


def _eyes(landmarks: np.ndarray, shape: tuple[int, int], grow: int) -> np.ndarray:
    """(H, W) bool (crop px): the eyes (36-41, 42-47) filled and grown by `grow` px."""
    eyes = np.zeros(shape, np.uint8)
    for a, b in ((36, 42), (42, 48)):
        cv2.fillPoly(eyes, [np.rint(landmarks[a:b]).astype(np.int32)], 1)
    eyes = cv2.dilate(eyes, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    return eyes > 0


def _brow_line(landmarks: np.ndarray, shape: tuple[int, int], width: int) -> np.ndarray:
    """(H, W) bool: the brows' landmark polylines drawn `width` px thick (the brow hairs)."""
    line = np.zeros(shape, np.uint8)
    for a, b in ((17, 22), (22, 27)):
        cv2.polylines(line, [np.rint(landmarks[a:b]).astype(np.int32)], False, 1,
                      thickness=width)
    return line > 0


def hair_pixels(crop_bgr: npt.ArrayLike, face_mask: npt.ArrayLike, landmarks: npt.ArrayLike,
                person: np.ndarray | None = None) -> np.ndarray:
    """Pixels (bool HxW, crop px) of `face_mask` covered by hair that hangs in from the head
    (see the module doc). landmarks: the 68 points in crop px; person: Selfie Segmentation's
    person probability per crop pixel (None: the band is not checked for background). All
    False when the band is not hair or either model lacks samples."""
    crop = np.ascontiguousarray(crop_bgr, np.uint8)
    face = np.asarray(face_mask, bool)
    lm = np.asarray(landmarks, np.float64)
    if crop.ndim != 3 or crop.shape[2] != 3 or crop.shape[:2] != face.shape:
        raise ValueError(f"crop {crop.shape} and face mask {face.shape} do not match")
    if lm.shape != (68, 2):
        raise ValueError(f"68 landmarks expected, got an array of shape {lm.shape}")
    out = np.zeros(face.shape, bool)
    if not face.any() or not np.isfinite(lm).all():
        return out
    eyes_apart = float(np.linalg.norm(lm[36:42].mean(0) - lm[42:48].mean(0)))
    eye_row = int(np.ceil(lm[36:48, 1].mean()))
    lip_row = int(np.ceil(lm[51, 1]))
    f8 = face.astype(np.uint8)
    inside = cv2.distanceTransform(f8, cv2.DIST_L2, 5)
    outside = cv2.distanceTransform(1 - f8, cv2.DIST_L2, 5)
    core = inside > CORE_FRACTION * float(inside.max())
    band = ~face & (outside >= BAND_MIN_PX) & (outside <= BAND_EYES * eyes_apart)
    band[max(eye_row, 0):] = False
    if person is not None:
        band &= np.asarray(person) > 0.5
    if core.sum() < MIN_SAMPLES or band.sum() < MIN_SAMPLES:
        return out
    feat = appearance(crop)
    skin = _Gaussian(feat[core])
    near = feat[band]
    unlike = skin.nll(near) > np.quantile(skin.nll(feat[core]), UNLIKE_QUANTILE)
    if unlike.sum() < MIN_SAMPLES:
        return out
    hair = _Gaussian(near[unlike])
    if hair.centre[3] < TEXTURE_RATIO * skin.centre[3]:
        return out  # a smooth band: a bald head, a hat, skin or backdrop, not hair
    top = max(min(lip_row, face.shape[0]), 0)
    zone = face.copy()
    zone[top:] = False
    if not zone.any():
        return out
    rows = slice(0, top)
    llr = skin.nll(feat[rows]) - hair.nll(feat[rows])
    llr = cv2.GaussianBlur(llr.astype(np.float32), (0, 0), LLR_SIGMA)
    grow = max(int(round(FEATURES_EYES * eyes_apart)), 2)
    eyes = _eyes(lm, face.shape, grow)
    brows = _brow_line(lm, face.shape, max(int(round(BROW_EYES * eyes_apart)), 2))
    free = zone & ~eyes & ~brows
    line = _brow_line(lm, face.shape, max(int(round(BROW_LINE_EYES * eyes_apart)), 1)) & face
    if line.sum() >= MIN_SAMPLES // 3:
        # hair over a brow: in the brows' zone, pixels more like the hair than like the brows
        brow = _Gaussian(feat[line])
        near_brow = zone & brows & ~eyes
        ys, xs = np.nonzero(near_brow[rows])
        x = feat[ys, xs]
        free[ys, xs] = (brow.nll(x) - hair.nll(x) > BROW_MARGIN) & (llr[ys, xs] > LLR_MIN)
    free = free[rows]
    cand = free & (llr > LLR_MIN)
    cand8 = cv2.morphologyEx(cand.astype(np.uint8), cv2.MORPH_OPEN,
                             cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (OPEN_PX, OPEN_PX)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(cand8, connectivity=8)
    if n <= 1:
        return out
    edge = (inside[rows] <= EDGE_PX) & zone[rows]
    edge[max(eye_row, 0):] = False
    contact = np.bincount(labels[edge & (cand8 > 0)], minlength=n)
    keep = (contact >= CONTACT_PX) & (stats[:, cv2.CC_STAT_AREA] >= MIN_SHARE * face.sum())
    keep[0] = False
    if not keep.any():
        return out
    # hysteresis: the found regions grow into connected pixels that lean to hair (LLR_WEAK)
    weak = (free & (llr > LLR_WEAK)).astype(np.uint8) | (cand8 > 0)
    _, wlab = cv2.connectedComponents(weak, connectivity=8)
    grown = np.zeros(wlab.max() + 1, bool)
    grown[np.unique(wlab[keep[labels]])] = True
    grown[0] = False
    # a region smoother than skin is shaded skin (a hat's shadow on the forehead), not hair
    texture = feat[rows][..., 3]
    for k in np.flatnonzero(grown):
        if np.median(texture[wlab == k]) < REGION_TEXTURE * skin.centre[3]:
            grown[k] = False
    out[rows] = grown[wlab]
    return out
