"""Background and occluder pixels at the rim of the face mask, found by colour (issue 14 item 3).

The bump mask of a crop is the fitted face's region: where the fit or the face's own outline is
off (a turned face, hair over a cheek, a headscarf, glasses' temple arms) its rim covers pixels
that are not skin, and the vertex colours and the texture would sample them (sky, grass, a
scarf). The skin's chroma is modelled from the mask's core (pixels far from its border: the
cheeks, nose and mouth region) as a Gaussian in CIELAB (a*, b*), lightness left out so that
shading and shadows count as skin; pixels of the rim band whose chroma lies more than
``CHROMA_SIGMAS`` standard deviations from it, in regions (opened 3x3, at least
``MIN_REGION_PIXELS``) touching the mask's border, are not face. Grey or skin-coloured
backgrounds stay unflagged (a conservative test: colours only).

Shadowed skin: a* and b* shrink with the light (under a change of illumination (a*, b*) scale
as L* + 16 does), so a cheek in shadow has a lower chroma than the lit core and fell outside the
model (Tyrion's shadowed cheek, 6% of his face, was mirrored from the lit side with a seam). A
pixel darker than the core is therefore also compared with its chroma brought to the core's
lightness (times (L*_core + 16) / (L* + 16), at most ``SHADE_MAX``: darker pixels are too noisy
to restore); it is not face only when both its own and the restored chroma are far from skin.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: Core of the mask (skin model): distance to its border > CORE_FRACTION x the largest distance.
CORE_FRACTION = 0.45
#: Rim band tested: distance to the border < BAND_FRACTION x the largest distance.
BAND_FRACTION = 0.36
#: Chroma distance (Mahalanobis, standard deviations) beyond which a rim pixel is not skin.
CHROMA_SIGMAS = 3.5
#: Variance (a*, b* units squared) added to the skin model's covariance (JPEG noise floor).
CHROMA_FLOOR = 4.0
#: Largest factor by which a darker pixel's chroma is brought to the core's lightness (shadowed
#: skin, see the module doc); L* + 16 less than the core's by more than this is left as it is.
SHADE_MAX = 2.5
#: Fewest core pixels for a skin model; with fewer nothing is flagged.
MIN_CORE_PIXELS = 200
#: Fewest pixels of a flagged rim region (after a 3x3 opening): smaller ones are noise.
MIN_REGION_PIXELS = 50


def non_face_pixels(crop_bgr: npt.ArrayLike, face_mask: npt.ArrayLike) -> np.ndarray:
    """Pixels (bool HxW, crop pixels) of `face_mask` near its border whose chroma is far from
    the skin's (see the module doc); all False when the mask is too small for a skin model or
    the crop is greyscale."""
    import cv2

    crop = np.ascontiguousarray(crop_bgr, np.uint8)
    face = np.asarray(face_mask, bool)
    if crop.ndim != 3 or crop.shape[2] != 3 or crop.shape[:2] != face.shape:
        raise ValueError(f"crop {crop.shape} and face mask {face.shape} do not match")
    out = np.zeros(face.shape, bool)
    if not face.any():
        return out
    lab = cv2.cvtColor(crop, cv2.COLOR_BGR2LAB)
    ab = lab[:, :, 1:3].astype(np.float32)
    dist = cv2.distanceTransform(face.astype(np.uint8), cv2.DIST_L2, 5)
    scale = float(dist.max())
    core = dist > CORE_FRACTION * scale
    if core.sum() < MIN_CORE_PIXELS:
        return out
    samples = ab[core]
    centre = np.median(samples, axis=0)
    spread = np.cov((samples - centre).T) + CHROMA_FLOOR * np.eye(2)
    if float(np.ptp(samples, axis=0).max()) < 1.0:  # greyscale crop: no chroma to compare
        return out
    inv = np.linalg.inv(spread)

    def far_from_skin(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Whether chroma (a, b) (OpenCV's 8-bit Lab units) lies beyond CHROMA_SIGMAS."""
        d0 = (a - centre[0]).astype(np.float64)
        d1 = (b - centre[1]).astype(np.float64)
        # squared Mahalanobis distance d^T inv d, written out (np.einsum: 5x slower)
        m2 = (d0 * inv[0, 0] + d1 * inv[1, 0]) * d0 + (d0 * inv[0, 1] + d1 * inv[1, 1]) * d1
        return m2 > CHROMA_SIGMAS**2

    band = face & (dist < BAND_FRACTION * scale)
    far = band & far_from_skin(ab[..., 0], ab[..., 1])
    if far.any():  # shadowed skin: the chroma brought to the core's lightness (module doc)
        ys, xs = np.nonzero(far)
        lstar = lab[ys, xs, 0] * (100.0 / 255.0) + 16.0  # L* + 16
        core_lstar = float(np.median(lab[..., 0][core])) * (100.0 / 255.0) + 16.0
        k = np.clip(core_lstar / lstar, 1.0, SHADE_MAX)
        a, b = ab[ys, xs, 0], ab[ys, xs, 1]
        far[ys, xs] = far_from_skin((a - 128.0) * k + 128.0, (b - 128.0) * k + 128.0)
    if not far.any():
        return out
    far = cv2.morphologyEx(far.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
    n, labels, stats, _ = cv2.connectedComponentsWithStats(far.astype(np.uint8), connectivity=8)
    touching = np.unique(labels[far & (dist <= 2.0)])
    touching = touching[(touching > 0) & (stats[touching, cv2.CC_STAT_AREA] >= MIN_REGION_PIXELS)]
    return np.isin(labels, touching)
