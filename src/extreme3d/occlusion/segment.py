"""Occluder segmentation of a face crop (weight-free): which face-mask pixels show an occluder.

Per-pixel cues, all inside the face mask and normalised per image:
- the bump map against the mean detail template of clean faces (mean-landmark frame): glasses,
  hands and microphones leave ridges and troughs no face has at that place;
- the bump map against its own mirror image (the landmark mirror map): one-sided occluders;
- the colour against a robust per-image skin model (median / spread of Lab in the face mask),
  and against the mirrored pixel's colour; darkness (sunglasses, shadows of hands);
- the position in the mean-landmark frame (where occluders sit on faces).
A logistic model of these cues (FEATURES, weights fitted on the paper's de-occluded crops by
extreme3d.occlusion.fit) gives a probability; a second logistic model of that probability's
neighbourhood (CONTEXT: blurred at 4 and 12 px, at the mirror pixel) makes it spatially
coherent; the result is thresholded and cleaned with the same
morphology as the reference region (open 3x3, close 15x15 ellipse, components < 400 px
dropped), components lying mostly on the eyes, lips and lower nose dropped (`feature_zones`),
then grown by GROW_PX.
"""

from __future__ import annotations

import cv2
import numpy as np

from extreme3d import bump_photo as bp
from extreme3d.occlusion.frame import sample

FEATURES = (
    "const", "v", "v2", "au", "u2", "auv",
    "dev", "adev3", "adev10", "neg10", "pos10",
    "asym3", "asym10", "nomirror",
    "skin2", "skin8", "dark", "light", "zl2", "casym4", "border",
    "skin_dark", "adev_skin", "thin_dark", "thin_ridge", "thin_trough",
)
CONTEXT = ("const", "p", "p4", "p12", "pmirror", "p4_pmirror", "p12_hinge", "border")
#: Found occluders are grown by this many px: the rims of glasses frames and the edges of
#: hands sit just outside the pixels the cues are sure of, and would stay as ridges.
GROW_PX = 5
#: Occluders smaller than this (crop px, as the reference region's rule) are dropped.
MIN_AREA = 400
#: Found components with more than this share of their area on the eyes, lips and lower nose
#: are dropped, unless they reach down from the mouth: BELOW_PX or more of their pixels lower
#: than the lowest lip landmark by BELOW_SHARE of the mouth's width (the lips' zone ends at
#: 0.1), or EXIT_PX or more on the face's edge (its outer EXIT_RING px) below that landmark.
#: An object held to the mouth (a microphone, a pipe) hangs below it or leaves the face across
#: the chin; lips and teeth do neither.
FEATURE_SHARE = 0.7
#: The lower nose is a feature zone too: the polygon of landmarks 29 and 31-35 (the nose's
#: lower ridge, nostrils and base) grown by NOSE_ZONE of the nostrils' width. The shadowed side
#: of the nose and a dark nostril were taken for an occluder on a turned face (Tyrion,
#: 20140420: a blob around the far nostril, whose colour and bump the fill then replaced by the
#: mirrored side's); an occluder over the nose (sunglasses' bridge, a hand, a microphone)
#: reaches far beyond it and stays. 0: no nose zone. Of the 22 test photos only 20140420's
#: mask changes (occluded 0.233 -> 0.211 of the face); bench/occlusion.py's medians move by
#: 0.01 mm or less (IoU 0.432 -> 0.430).
NOSE_ZONE = 0.6
BELOW_SHARE = 0.2
BELOW_PX = 20
EXIT_PX = 10
EXIT_RING = 2


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (reflecting border)."""
    return cv2.GaussianBlur(x, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def disk(radius: int) -> np.ndarray:
    """Elliptic structuring element (uint8) of the given radius (px): (2 r + 1) px across."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _channel_norm(d: np.ndarray) -> np.ndarray:
    """Euclidean norm over the last axis (3 channels) of a float32 (H, W, 3) array, in place:
    the bits of np.linalg.norm(d, axis=2), 10x faster (it reduces the 3-long axis)."""
    d *= d
    s = d[..., 0] + d[..., 1]
    s += d[..., 2]
    return np.sqrt(s, out=s)


def _robust_z(x: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """x standardised by its median and scaled MAD over the pixels sel."""
    v = x[sel]
    med = float(np.median(v))
    mad = float(np.median(np.abs(v - med))) * 1.4826 + 1e-3
    return (x - med) / mad


def features(crop_bgr: np.ndarray, bump_mm: np.ndarray, template_mm: np.ndarray,
             face: np.ndarray, mirror: np.ndarray, frame: np.ndarray,
             centre: np.ndarray) -> np.ndarray:
    """(500, 500, len(FEATURES)) float32 cues of every crop pixel (see the module doc).

    bump_mm: the input bump in mm (crop frame); template_mm: the detail template sampled at
    every pixel; face: bool face mask; mirror / frame: extreme3d.occlusion.frame maps;
    centre: the mean frame's centre (px)."""
    F: dict[str, np.ndarray] = {}
    u = (frame[..., 0] - centre[0]) / 100.0
    v = (frame[..., 1] - centre[1]) / 100.0
    one = np.ones_like(u)
    F["const"], F["v"], F["v2"] = one, v, v * v
    F["au"], F["u2"], F["auv"] = np.abs(u), u * u, np.abs(u) * v
    b = np.where(face, bump_mm, 0.0).astype(np.float32)
    dev = np.where(face, b - template_mm, 0.0).astype(np.float32)
    F["dev"] = _blur(dev, 1.5)
    F["adev3"] = _blur(np.abs(dev), 3)
    d10 = _blur(dev, 10)
    F["adev10"] = np.abs(d10)
    F["neg10"], F["pos10"] = np.maximum(-d10, 0), np.maximum(d10, 0)
    mface = sample(face.astype(np.float32), mirror) > 0.5
    mb = sample(b, mirror)
    ok = face & mface
    asym = np.where(ok, np.abs(b - mb), 0.0).astype(np.float32)
    F["asym3"], F["asym10"] = _blur(asym, 3), _blur(asym, 10)
    F["nomirror"] = (face & ~mface).astype(np.float32)
    lab = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2LAB).astype(np.float32)
    za, zb = _robust_z(lab[..., 1], face), _robust_z(lab[..., 2], face)
    zl = _robust_z(lab[..., 0], face)
    skin = np.minimum(np.sqrt(za * za + zb * zb), 8.0)
    F["skin2"], F["skin8"] = _blur(skin, 2), _blur(skin, 8)
    zl = np.clip(zl, -6, 6)
    zl2 = _blur(zl, 2)
    F["dark"], F["light"] = np.maximum(-zl2, 0), np.maximum(zl2, 0)
    F["zl2"] = zl2 * zl2
    mlab = sample(lab, mirror)  # the three channels in one remap
    cdiff = np.where(ok, _channel_norm(lab - mlab), 0.0).astype(np.float32)
    F["casym4"] = _blur(cdiff, 4) / 20.0
    dist = cv2.distanceTransform(face.astype(np.uint8), cv2.DIST_L2, 5)
    F["border"] = np.exp(-dist / 10.0)
    F["skin_dark"] = F["skin2"] * F["dark"]
    F["adev_skin"] = F["adev3"] * F["skin2"]
    # thin structures (glasses rims, frames): black-hat of the lightness, top/black-hat of
    # the bump, at a 9-px scale, spread over 3 px
    k9 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    zlf = zl.astype(np.float32)
    F["thin_dark"] = _blur(np.where(face, cv2.morphologyEx(zlf, cv2.MORPH_BLACKHAT, k9), 0), 3)
    F["thin_ridge"] = _blur(np.where(face, cv2.morphologyEx(b, cv2.MORPH_TOPHAT, k9), 0), 3)
    F["thin_trough"] = _blur(np.where(face, cv2.morphologyEx(b, cv2.MORPH_BLACKHAT, k9), 0), 3)
    return bp.stack_features(F, FEATURES, crop_bgr.shape[:2])


def probability(feat: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Logistic probability of an occluder from the cues (H, W, F) and weights (F,)."""
    z = np.clip(feat @ weights.astype(np.float32), -30, 30)
    return 1.0 / (1.0 + np.exp(-z))


def context(prob: np.ndarray, mirror: np.ndarray, feat: np.ndarray) -> np.ndarray:
    """(500, 500, len(CONTEXT)) float32 second-stage cues: the first-stage probability, its
    blurs, its value at the mirror pixel and the border cue of `feat`."""
    p = prob.astype(np.float32)
    pm = sample(p, mirror)
    p4, p12 = _blur(p, 4), _blur(p, 12)
    return np.stack([np.ones_like(p), p, p4, p12, pm, p4 * pm, np.maximum(p12 - 0.3, 0),
                     feat[..., FEATURES.index("border")]], -1)


def clean(region: np.ndarray, face: np.ndarray, min_area: int = MIN_AREA) -> np.ndarray:
    """A raw occluder mask opened (3x3), closed (15x15 ellipse), kept inside the face and
    without components smaller than min_area px."""
    r = (region & face).astype(np.uint8)
    r = cv2.morphologyEx(r, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    r = cv2.morphologyEx(r, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                                                        (15, 15)))
    r &= face.astype(np.uint8)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(r, connectivity=8)
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
    return keep[lab]


def lips_line(landmarks: np.ndarray) -> tuple[float, float]:
    """(crop row of the lowest outer-lip landmark (48-59), mouth width: corner to corner) px."""
    lm = np.asarray(landmarks, np.float64)
    return float(lm[48:60, 1].max()), float(np.linalg.norm(lm[54] - lm[48]))


def feature_zones(landmarks: np.ndarray, size: int = bp.CROP) -> np.ndarray:
    """(size, size) bool: the eyes (landmarks 36-41, 42-47, grown by a third of the eye's
    width), the lips (48-59, grown by a tenth of the mouth's width) and the lower nose (29,
    31-35, grown by NOSE_ZONE of the nostrils' width, down to the row halfway from the nose's
    base to the upper lip, 33 and 51), in crop px: dark pupils, lashes, lips, teeth, nostrils
    and the nose's shadowed side that the cues may take for occluders."""
    lm = np.asarray(landmarks, np.float64)
    zones = np.zeros((size, size), np.uint8)
    parts = [(range(36, 42), 36, 39, 1 / 3), (range(42, 48), 42, 45, 1 / 3),
             (range(48, 60), 48, 54, 0.1)]
    if NOSE_ZONE > 0:
        parts.append(([29, 31, 32, 33, 34, 35], 31, 35, NOSE_ZONE))
    # the nose's zone stops halfway from its base (33) to the upper lip (51): the philtrum
    # below (a moustache, something held under the nose) is not the nose's
    nose_end = (lm[33, 1] + lm[51, 1]) / 2.0
    for k, (idx, left, right, grow) in enumerate(parts):
        pts = np.rint(lm[list(idx)]).astype(np.int32)
        r = max(int(round(grow * float(np.linalg.norm(lm[left] - lm[right])))), 1)
        # drawn and grown in its bounding box plus the growth (15x faster than the whole crop)
        x0, y0 = np.maximum(pts.min(axis=0) - r - 1, 0)
        x1, y1 = np.minimum(pts.max(axis=0) + r + 2, size)
        if x0 >= x1 or y0 >= y1:
            continue  # off the crop
        part = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(part, [pts - np.array([x0, y0], np.int32)], 1)
        grown = cv2.dilate(part, disk(r))
        if k == 3 and np.isfinite(nose_end):
            grown[max(int(np.floor(nose_end)) + 1 - y0, 0) :] = 0
        zones[y0:y1, x0:x1] |= grown
    return zones.astype(bool)


def drop_feature_blobs(occ: np.ndarray, zones: np.ndarray, share: float = FEATURE_SHARE,
                       face: np.ndarray | None = None, lips: tuple[float, float] | None = None
                       ) -> np.ndarray:
    """The occluder mask without its connected components that lie mostly (> share of their
    area) on the eyes, lips and lower nose (`zones`): a found eye, lip, row of teeth or nostril
    is not an occluder, while sunglasses and hands reach far beyond them and stay. With the
    face mask `face` (bool) and `lips` (`lips_line`), a component that reaches down from the
    mouth stays too (`hangs_below`)."""
    n, lab = cv2.connectedComponents(occ.astype(np.uint8), connectivity=8)
    if n <= 1:
        return occ.astype(bool)
    area = np.bincount(lab.ravel(), minlength=n)
    inside = np.bincount(lab[zones], minlength=n)
    keep = inside <= share * np.maximum(area, 1)
    if face is not None and lips is not None and not keep[1:].all():
        keep |= hangs_below(lab, n, face, lips)
    keep[0] = False
    return keep[lab]


def hangs_below(labels: np.ndarray, n: int, face: np.ndarray, lips: tuple[float, float]
                ) -> np.ndarray:
    """(n,) bool per label of `labels` (crop px, 0 = none): BELOW_PX or more of its pixels
    lower than the lowest lip landmark by BELOW_SHARE of the mouth's width, or EXIT_PX or more
    on the face mask's edge (its outer EXIT_RING px) below that landmark; lips = (crop row of
    the lowest lip landmark, mouth width px), `lips_line`."""
    bottom, width = lips
    first = max(int(np.floor(bottom + BELOW_SHARE * width)) + 1, 0)
    low = np.bincount(labels[first:].ravel(), minlength=n) >= BELOW_PX
    f8 = face.astype(np.uint8)
    k = 2 * EXIT_RING + 1
    edge = face & (cv2.erode(f8, np.ones((k, k), np.uint8), borderValue=0) == 0)  # the crop's
    # border is the face's edge too: an object leaving the crop below the mouth leaves the face
    edge[: max(int(np.ceil(bottom)), 0)] = False
    return low | (np.bincount(labels[edge], minlength=n) >= EXIT_PX)


def segment(prob: np.ndarray, face: np.ndarray, threshold: float,
            grow: int = GROW_PX, zones: np.ndarray | None = None,
            lips: tuple[float, float] | None = None) -> np.ndarray:
    """500x500 bool occluder mask: the probability (smoothed, sigma 2 px) above threshold,
    cleaned (see `clean`), without the components lying mostly on `zones` (eyes, lips and lower
    nose, see `feature_zones`; None: none dropped) unless they hang below the mouth (`lips`, see
    `drop_feature_blobs`), grown by `grow` px (inside the face)."""
    occ = clean(_blur(prob.astype(np.float32), 2.0) > threshold, face)
    if zones is not None:
        occ = drop_feature_blobs(occ, zones, face=face, lips=lips)
    return grown(occ, face, grow)


def grown(occ: np.ndarray, face: np.ndarray, grow: int = GROW_PX) -> np.ndarray:
    """The occluder mask dilated by a disk of `grow` px, kept inside the face (bool)."""
    if grow > 0 and occ.any():
        occ = cv2.dilate(occ.astype(np.uint8), disk(grow)).astype(bool) & face
    return occ


def face_share(mask: np.ndarray, face: np.ndarray) -> float:
    """The share of the face mask's pixels that `mask` covers, rounded to 4 decimals (what the
    occlusion records write as "fraction")."""
    return round(float(np.count_nonzero(mask)) / max(int(np.count_nonzero(face)), 1), 4)


def crop_of(map512: np.ndarray) -> np.ndarray:
    """The 500x500 crop part of a 512x512 map (6 px margin)."""
    return np.asarray(map512)[bp.MARGIN : bp.MARGIN + bp.CROP, bp.MARGIN : bp.MARGIN + bp.CROP]
