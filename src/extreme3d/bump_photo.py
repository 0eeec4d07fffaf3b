"""Weight-free bump map and face mask estimated from the photo (the 'photo' bump source).

The original's Bump CNN maps a 500x500 crop to a 512x512 bump map (127 + d * 12 / 1.25, d in mm,
6-pixel margin) and a face mask. Without its trained weights we estimate both from the crop, its
68 landmarks and (optionally) the fitted foundation:

- Mask: a face outline in a landmark-normalised frame (thin-plate spline from the mean landmark
  shape), whose radius around the face centre is a Fourier series in the angle with a constant
  part and parts linear in three pose proxies read from the landmarks (yaw, signed yaw, pitch).
- Bump: a linear model of per-pixel image features: z-scored grey, its difference-of-Gaussian
  bands (sigma 1-32 px), colour differences, local contrast, hinge functions of the grey,
  distance to the mask border, position in the landmark frame (a cubic polynomial) and a few
  interactions. The bump in mm is ``features @ BUMP_WEIGHTS``.

All constants (mean landmarks, mask coefficients, bump weights: a few hundred numbers) live in
``extreme3d.bump_photo_constants`` and are reproduced from ``../shared/data/paper`` by
``scripts/fit_bump_photo.py`` (see docs/bump_photo.md).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from extreme3d import Extreme3DError

#: Side of the bump/mask maps and the margin between them and the 500x500 crop.
MAP_SIZE = 512
MARGIN = 6
CROP = 500
FLAT = 127
#: Bump units per mm (PIPELINE.md s. 5: z += (b - 127) / 12 * 1.25).
UNITS_PER_MM = 12.0 / 1.25
#: Fourier harmonics of the mask radius and the number of sampled angles.
MASK_HARMONICS = 8
MASK_ANGLES = 72
#: Regularisation of the landmark thin-plate spline (px^2).
TPS_LAMBDA = 1000.0
#: Ridge weight of the bump regression (relative to the pixel count) and mask regression.
BUMP_RIDGE = 1.0
MASK_RIDGE = 0.5
#: Predictions fade to flat over this many pixels outside the mask.
FADE_PX = 40.0

FEATURES = (
    "const", "z1", "b2", "b4", "b8", "b16", "b32", "cr", "cb", "lc", "d4", "d12", "d36", "zd",
    "z2", "zabs", "p01", "p02", "p03", "p10", "p11", "p12", "p20", "p21", "p30", "zu", "zv",
    "h-1.5", "h-0.75", "h0", "h0.75", "h1.5", "bd4", "bd16", "lowd", "lowu", "lowv", "z1u2",
    "z1v2", "crb", "cbb", "sat", "dlin", "gsd", "gmean",
)
#: The features that are zero (after centring) on a greyscale crop.
COLOUR_FEATURES = ("cr", "cb", "crb", "cbb", "sat")


@dataclass
class BumpConstants:
    """The fitted numbers the estimator needs."""

    mean_landmarks: np.ndarray  # (68, 2) crop px, mean landmark shape
    mask_coef: np.ndarray  # (4, 2 * MASK_HARMONICS + 1) radius Fourier coefficients (px)
    bump_weights: np.ndarray  # (len(FEATURES),) mm per feature unit
    bump_weights_grey: np.ndarray  # the same without the colour features (greyscale crops)


@dataclass
class BumpInfo:
    """How a bump map was made."""

    source: str  # "photo" or "flat"
    message: str = ""
    seconds: float = 0.0
    mask_pixels: int = 0
    extras: dict[str, Any] = field(default_factory=dict)


def default_constants() -> BumpConstants:
    """The constants written in extreme3d.bump_photo_constants."""
    from extreme3d import bump_photo_constants as c

    return BumpConstants(
        np.asarray(c.MEAN_LANDMARKS, np.float64).reshape(68, 2),
        np.asarray(c.MASK_COEF, np.float64).reshape(4, 2 * MASK_HARMONICS + 1),
        np.asarray(c.BUMP_WEIGHTS, np.float64),
        np.asarray(c.BUMP_WEIGHTS_GREY, np.float64),
    )


# ---------------------------------------------------------------- geometry helpers


def similarity_align(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Points p (N,2) moved by the least-squares similarity transform onto q (N,2)."""
    pm, qm = p.mean(0), q.mean(0)
    za = (p[:, 0] - pm[0]) + 1j * (p[:, 1] - pm[1])
    zb = (q[:, 0] - qm[0]) + 1j * (q[:, 1] - qm[1])
    s = np.vdot(za, zb) / max(np.vdot(za, za).real, 1e-12)
    z = s * za
    return np.c_[z.real, z.imag] + qm


def mean_shape(landmarks: list[np.ndarray], iters: int = 10) -> np.ndarray:
    """Generalised Procrustes mean (68,2) of landmark sets, in the scale of the first set."""
    mu = landmarks[0].astype(np.float64)
    for _ in range(iters):
        mu = np.mean([similarity_align(p, mu) for p in landmarks], 0)
    return mu


def _tps_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Thin-plate kernel r^2 log r between point sets a (N,2) and b (M,2), (N, M) float64,
    computed in float64 whatever the inputs' type (in place on two buffers: 7x faster than the
    expression with temporaries, the same bits for float64 points)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d2 = a[:, 0, None] - b[None, :, 0]
    d2 *= d2
    dy = a[:, 1, None] - b[None, :, 1]
    dy *= dy
    d2 += dy
    out = np.maximum(d2, 1e-12)
    np.log(out, out=out)
    out *= d2  # (d2 log d2) / 2 = r^2 log r
    out *= 0.5
    out[~(d2 > 0)] = 0.0  # zero distance (and NaN, as np.where(d2 > 0, ...) gives)
    return out


def tps_fit(src: np.ndarray, dst: np.ndarray, lam: float = TPS_LAMBDA) -> tuple:
    """Regularised thin-plate spline taking src (N,2) to dst (N,2)."""
    n = len(src)
    a = np.zeros((n + 3, n + 3))
    a[:n, :n] = _tps_kernel(src, src) + lam * np.eye(n)
    p = np.c_[np.ones(n), src]
    a[:n, n:] = p
    a[n:, :n] = p.T
    rhs = np.zeros((n + 3, 2))
    rhs[:n] = dst
    return src, np.linalg.solve(a, rhs)


def tps_apply(tps: tuple, x: np.ndarray) -> np.ndarray:
    """The thin-plate spline `tps` at points x (M,2)."""
    src, w = tps
    n = len(src)
    return _tps_kernel(x, src) @ w[:n] + w[n] + x @ w[n + 1 :]


def pose_proxies(landmarks: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """(yaw, signed-distance yaw, pitch) proxies of a landmark set aligned to the mean."""
    a = similarity_align(landmarks.astype(np.float64), mean)
    width = max(np.linalg.norm(a[16] - a[0]), 1e-6)
    yaw = (a[30, 0] - 0.5 * (a[0, 0] + a[16, 0])) / width
    yaw2 = (np.linalg.norm(a[30] - a[0]) - np.linalg.norm(a[30] - a[16])) / width
    eye = a[36:48].mean(0)
    mouth = a[48:60].mean(0)
    pitch = (a[30, 1] - eye[1]) / (mouth[1] - eye[1]) if abs(mouth[1] - eye[1]) > 1e-6 else 0.0
    return np.array([yaw, yaw2, pitch])


def _angles() -> np.ndarray:
    """Sample angles of the mask radius (rad)."""
    return np.linspace(0.0, 2 * np.pi, MASK_ANGLES, endpoint=False)


def fourier_basis(theta: np.ndarray) -> np.ndarray:
    """(len(theta), 2H+1) basis 1, cos k t, sin k t for k = 1..H."""
    cols = [np.ones_like(theta)]
    for k in range(1, MASK_HARMONICS + 1):
        cols += [np.cos(k * theta), np.sin(k * theta)]
    return np.stack(cols, 1)


#: Pose proxies are clamped to a little beyond the paper set's range (yaw -0.35..0.38, yaw2
#: -0.59..0.70, pitch 0.36..0.80) so that profile faces do not extrapolate the outline.
PROXY_LIMITS = (np.array([-0.5, -0.8, 0.25]), np.array([0.5, 0.8, 0.9]))


def mask_design(landmarks: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Per-image regressors of the mask radius: (1, yaw, yaw2, pitch), proxies clamped."""
    return np.r_[1.0, np.clip(pose_proxies(landmarks, mean), *PROXY_LIMITS)]


def outline_radius(landmarks: np.ndarray, const: BumpConstants) -> np.ndarray:
    """(MASK_ANGLES,) radius of the face outline around the mean shape's centroid, in px of the
    mean-landmark frame, from the landmarks' pose proxies."""
    radius = fourier_basis(_angles()) @ (mask_design(landmarks, const.mean_landmarks)
                                         @ const.mask_coef)
    return np.maximum(radius, 5.0)


def mask_polygon(landmarks: np.ndarray, const: BumpConstants,
                 radius: np.ndarray | None = None) -> np.ndarray:
    """Face outline (MASK_ANGLES, 2) in crop pixels: the mean-frame radii `radius` (default:
    outline_radius) at _angles() mapped by the landmark thin-plate spline."""
    mean = const.mean_landmarks
    centre = mean.mean(0)
    theta = _angles()
    if radius is None:
        radius = outline_radius(landmarks, const)
    pts = np.c_[centre[0] + radius * np.cos(theta), centre[1] + radius * np.sin(theta)]
    return tps_apply(tps_fit(mean, landmarks.astype(np.float64)), pts)


def landmark_mask(landmarks: np.ndarray, const: BumpConstants) -> np.ndarray:
    """500x500 bool face mask from the landmarks (filled outline, no holes)."""
    return fill_outline(mask_polygon(landmarks, const))


def fill_outline(poly: np.ndarray) -> np.ndarray:
    """500x500 bool mask of a closed outline (N, 2) in crop pixels, filled without holes."""
    m = np.zeros((CROP, CROP), np.uint8)
    cv2.fillPoly(m, [np.round(poly * 4).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=2)
    # a self-intersecting outline (extreme poses) could leave holes: keep the filled outside
    cs, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if cs:
        m[:] = 0
        cv2.drawContours(m, [max(cs, key=cv2.contourArea)], -1, 1, -1)
    return m > 0


def radial_profile(mask_in_mean: np.ndarray, centre: np.ndarray, step: float) -> np.ndarray:
    """Radius (px of the mean frame) where a mask sampled on a grid of `step` px first ends."""
    rs = np.arange(0.0, 220.0, 0.5)
    out = []
    for t in _angles():
        x = ((centre[0] + rs * np.cos(t)) / step).astype(np.float32)[None]
        y = ((centre[1] + rs * np.sin(t)) / step).astype(np.float32)[None]
        v = cv2.remap(mask_in_mean, x, y, cv2.INTER_LINEAR)[0]
        out.append(rs[int(np.argmax(v < 0.5))] if (v < 0.5).any() else rs[-1])
    return np.array(out)


def mask_to_mean_frame(mask: np.ndarray, landmarks: np.ndarray, mean: np.ndarray,
                       step: float = 2.0) -> np.ndarray:
    """A 500x500 mask resampled into the mean-landmark frame on a grid of `step` px."""
    n = int(CROP / step)
    g = np.stack(np.meshgrid(np.arange(n) * step, np.arange(n) * step), -1).reshape(-1, 2)
    xy = tps_apply(tps_fit(mean, landmarks.astype(np.float64)), g).astype(np.float32)
    xy = xy.reshape(n, n, 2)
    return cv2.remap(mask.astype(np.float32), xy[..., 0], xy[..., 1], cv2.INTER_LINEAR)


# ---------------------------------------------------------------- bump features


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; large sigmas run on a 4x smaller image."""
    if sigma >= 8:
        small = cv2.resize(x, (x.shape[1] // 4, x.shape[0] // 4), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), sigma / 4, borderType=cv2.BORDER_REFLECT)
        return cv2.resize(small, (x.shape[1], x.shape[0]), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(x, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def frame_coordinates(landmarks: np.ndarray, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) 500x500 float32: every pixel's position in the mean-landmark frame, centred,
    /100 px."""
    tps = tps_fit(landmarks.astype(np.float64), mean)
    yy, xx = np.mgrid[0:CROP:10, 0:CROP:10]
    uv = tps_apply(tps, np.c_[xx.ravel(), yy.ravel()].astype(np.float64))
    uv = uv.reshape(CROP // 10, CROP // 10, 2).astype(np.float32)
    # grid point k sits at pixel 10k: resize with that alignment
    mat = np.array([[0.1, 0, 0], [0, 0.1, 0]], np.float32)
    uv = cv2.warpAffine(uv, mat, (CROP, CROP), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                        borderMode=cv2.BORDER_REPLICATE)
    c = mean.mean(0).astype(np.float32)  # a float64 centre would make every feature float64
    return (uv[..., 0] - c[0]) / np.float32(100.0), (uv[..., 1] - c[1]) / np.float32(100.0)


def roi_of(region: np.ndarray, pad: int) -> tuple[slice, slice]:
    """Row/column slices of the bounding box of `region` grown by `pad` px (clipped)."""
    ys, xs = np.nonzero(region)
    if len(ys) == 0:
        return slice(0, CROP), slice(0, CROP)
    return (slice(max(int(ys.min()) - pad, 0), min(int(ys.max()) + pad + 1, CROP)),
            slice(max(int(xs.min()) - pad, 0), min(int(xs.max()) + pad + 1, CROP)))


def features(crop_bgr: np.ndarray, landmarks: np.ndarray, mask: np.ndarray,
             mean: np.ndarray, roi: tuple[slice, slice] | None = None) -> np.ndarray:
    """(h, w, len(FEATURES)) float32 per-pixel features (see FEATURES) inside `roi`.

    The blurs see the whole crop; the per-pixel terms are computed in roi only (default: all).
    """
    ry, rx = roi if roi is not None else (slice(0, CROP), slice(0, CROP))
    f = crop_bgr.astype(np.float32) * np.float32(1 / 255.0)
    b, g_, r = f[..., 0], f[..., 1], f[..., 2]
    grey = 0.299 * r + 0.587 * g_ + 0.114 * b
    sel = mask
    mean_g = float(grey[sel].mean())
    sd = float(grey[sel].std()) + 1e-3
    z = (grey - mean_g) / sd
    cr = (r - g_ - float((r - g_)[sel].mean())) / sd
    cb = (b - g_ - float((b - g_)[sel].mean())) / sd
    z16 = _blur(z, 16)  # one blur for the band-pass and the local contrast
    blurs = [(z16 if s == 16 else _blur(z, s))[ry, rx] for s in (1, 2, 4, 8, 16, 32)]
    lz_full = z - z16
    lc = lz_full[ry, rx] / np.sqrt(_blur(lz_full * lz_full, 16)[ry, rx] + 1e-3)
    crb, cbb = _blur(cr, 4)[ry, rx], _blur(cb, 4)[ry, rx]
    d = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)[ry, rx]
    fr = f[ry, rx]
    u, v = frame_coordinates(landmarks, mean)
    u, v = u[ry, rx], v[ry, rx]
    F: dict[str, np.ndarray] = {}
    one = np.ones_like(d)
    F["const"] = one
    z1 = blurs[0]
    F["z1"] = z1
    for i, s in enumerate((2, 4, 8, 16, 32)):
        F[f"b{s}"] = blurs[i] - blurs[i + 1]
    low = blurs[-1]
    F["cr"], F["cb"], F["lc"] = cr[ry, rx], cb[ry, rx], lc
    e12 = np.exp(-d / 12)
    F["d4"], F["d12"], F["d36"] = np.exp(-d / 4), e12, np.exp(-d / 36)
    F["zd"] = z1 * e12
    F["z2"] = z1 * z1
    F["zabs"] = np.abs(z1)
    # powers 0-3 of the frame coordinates: squares exact, cubes rounded once from float64
    # (numpy's float32 power takes 9 ms per 500x500 map and is not correctly rounded)
    pu = [np.ones_like(u), u, u * u, _cube(u)]
    pv = [np.ones_like(v), v, v * v, _cube(v)]
    for a in range(4):
        for c in range(4 - a):
            if a + c:
                F[f"p{a}{c}"] = pu[a] * pv[c]
    F["zu"] = z1 * u
    F["zv"] = z1 * v
    for k in (-1.5, -0.75, 0, 0.75, 1.5):
        F[f"h{k}"] = np.maximum(z1 - k, 0)
    F["bd4"] = F["b4"] * e12
    F["bd16"] = F["b16"] * e12
    F["lowd"] = low * e12
    F["lowu"] = low * u
    F["lowv"] = low * v
    F["z1u2"] = F["zu"] * u
    F["z1v2"] = F["zv"] * v
    F["crb"], F["cbb"] = crb, cbb
    # channel max / min as two elementwise passes (reducing the 3-long axis is 30x slower)
    mx = np.maximum(np.maximum(fr[..., 0], fr[..., 1]), fr[..., 2])
    mn = np.minimum(np.minimum(fr[..., 0], fr[..., 1]), fr[..., 2])
    F["sat"] = (mx - mn) / (mx + 1e-2)
    F["dlin"] = np.minimum(d, 60) / 60
    F["gsd"] = one * (sd * 4)
    F["gmean"] = one * mean_g
    return stack_features(F, FEATURES, d.shape)


def _cube(x: np.ndarray) -> np.ndarray:
    """x**3 of a float32 map, computed in float64 (exact up to one rounding) and rounded to
    float32."""
    x64 = x.astype(np.float64)
    return (x64 * x64 * x).astype(np.float32)


def stack_features(maps: dict[str, np.ndarray], names: Sequence[str],
                   shape: tuple[int, ...]) -> np.ndarray:
    """(*shape, len(names)) float32: the maps in `names` order, each cast to float32 (not
    stacked in float64 first). Images (2-D shape) are interleaved by OpenCV's `merge` (2x
    faster than numpy band by band, 3x faster than whole-map strided writes; the same
    values)."""
    if len(shape) != 2 or not 0 < len(names) <= 512 or 0 in tuple(shape):  # cv2.merge's range
        out = np.empty(tuple(shape) + (len(names),), np.float32)
        for i, k in enumerate(names):
            out[..., i] = maps[k]
        return out
    planes = []
    for k in names:
        m = maps[k]
        if not (isinstance(m, np.ndarray) and m.dtype == np.float32 and m.shape == tuple(shape)
                and m.strides[1] == 4):
            m = np.ascontiguousarray(np.broadcast_to(m, tuple(shape)), np.float32)
        planes.append(m)
    out = cv2.merge(planes)
    return out.reshape(tuple(shape) + (len(names),))  # one map: merge gives (H, W)


# ---------------------------------------------------------------- photometric part


def normals_from_depth(z: np.ndarray, focal: float = 1000.0) -> tuple[np.ndarray, np.ndarray]:
    """(normals HxWx3, valid HxW) in camera axes (x right, y up, z to the camera) from camera z.

    z: HxW camera z in mm (negative in front, 0 = background), as depth_to_metric gives.
    Pixels are back-projected (X = z (u - cx) / -f, Y = z (v - cy) / f); normals are the
    cross product of the central differences, turned towards the camera.
    """
    h, w = z.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    zz = z.astype(np.float64)
    p = np.stack([zz * (u - w / 2) / -focal, zz * (v - h / 2) / focal, zz], -1)
    pu = np.zeros_like(p)
    pv = np.zeros_like(p)
    pu[:, 1:-1] = p[:, 2:] - p[:, :-2]
    pv[1:-1] = p[2:] - p[:-2]
    n = np.cross(pv, pu)
    n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
    n[n[..., 2] < 0] *= -1
    fg = z < 0
    valid = fg.copy()
    valid[:, 1:-1] &= fg[:, 2:] & fg[:, :-2]
    valid[1:-1] &= fg[2:] & fg[:-2]
    valid[[0, -1]] = False
    valid[:, [0, -1]] = False
    return n.astype(np.float32), valid


def estimate_lighting(intensity: np.ndarray, normals: np.ndarray, region: np.ndarray,
                      iters: int = 8) -> np.ndarray:
    """First-order spherical-harmonics light times albedo, c (4,): I ~ c0 + c1 nx + c2 ny + c3 nz.

    Robust least squares (iteratively reweighted, Tukey weights on the residual) over `region`,
    so hair, glasses and highlights that do not fit a smooth Lambertian face count little.
    """
    y = intensity[region].astype(np.float64)
    a = np.c_[np.ones(len(y)), normals[region].astype(np.float64)]
    wts = np.ones(len(y))
    c = np.zeros(4)
    for _ in range(iters):
        sw = np.sqrt(wts)
        c = np.linalg.lstsq(a * sw[:, None], y * sw, rcond=None)[0]
        res = y - a @ c
        scale = 4.685 * 1.4826 * max(float(np.median(np.abs(res))), 1e-6)
        wts = np.clip(1 - (res / scale) ** 2, 0, None) ** 2
    return c


def shading_detail(intensity: np.ndarray, normals: np.ndarray, region: np.ndarray,
                   light: np.ndarray, mm_per_px: float, smooth: float = 0.02,
                   damp: float = 1e-5, max_mm: float = 4.0) -> np.ndarray:
    """Height detail (mm, toward the camera) explaining the shading left by the foundation.

    Linearised Lambertian shading: a height field h tilts the normal by (-dh/dX, -dh/dY), so
    I - c.(1, n) ~ (-c1 dh/du + c2 dh/dv) / mm_per_px (u right, v down). Solved in the least
    squares with a smoothness prior (`smooth` |grad h|^2) and a small pull to 0 (`damp`), both
    relative to the light's in-plane strength (c1^2 + c2^2) / mm_per_px^2, in closed form per
    frequency (FFT, padded); the residual is zero outside `region` and capped at 2.5 robust
    sigmas inside, the height clipped to +-max_mm. A light along the view axis shows no
    detail: the result is then zero.
    """
    h, w = intensity.shape
    shade = light[0] + (normals.reshape(-1, 3) @ light[1:]).reshape(h, w)
    r = np.where(region, intensity - shade, 0.0)
    # robust: residuals far beyond the typical one (eyebrows, eyes, highlights) are capped
    cap = 2.5 * 1.4826 * max(float(np.median(np.abs(r[region]))), 1e-6) if region.any() else 0
    r = np.clip(r, -cap, cap)
    ph, pw = 2 * h, 2 * w
    big = np.zeros((ph, pw))
    big[:h, :w] = r
    fu = np.exp(2j * np.pi * np.fft.fftfreq(pw))[None, :] - 1
    fv = np.exp(2j * np.pi * np.fft.fftfreq(ph))[:, None] - 1
    au, av = -light[1] / mm_per_px, light[2] / mm_per_px
    k = au * au + av * av
    if k < 1e-12:
        return np.zeros((h, w))
    a = au * fu + av * fv
    g2 = np.abs(fu) ** 2 + np.abs(fv) ** 2
    hh = np.conj(a) * np.fft.fft2(big) / (np.abs(a) ** 2 + k * (smooth * g2 + damp))
    return np.clip(np.real(np.fft.ifft2(hh))[:h, :w], -max_mm, max_mm) * region


def foundation_geometry(model: Any, fit: Any) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(normals, valid, mm per pixel) of the foundation rendered at the fitted pose, or None."""
    try:
        from extreme3d.render import depth_to_metric, render

        get = (lambda k: fit[k]) if isinstance(fit, dict) else (lambda k: getattr(fit, k))
        verts = model.shape(alpha=get("alpha"), expr=get("expr"))
        _, depth = render(verts, model.faces_fill, get("rvec"), get("tvec"))
        z = depth_to_metric(depth)[:CROP, :CROP]
    except Exception:  # noqa: BLE001 - the image-space estimate needs none of this
        return None
    n, valid = normals_from_depth(z)
    if valid.sum() < 100:
        return None
    return n, valid, float(np.median(-z[valid])) / 1000.0


# ---------------------------------------------------------------- checks and estimator


def _to_bgr(crop: np.ndarray) -> np.ndarray:
    """A 500x500x3 uint8 BGR crop (greyscale input is expanded; wrong sizes are an error)."""
    crop = np.asarray(crop)
    if crop.ndim == 2:
        crop = np.repeat(crop[..., None], 3, 2)
    if crop.ndim != 3 or crop.shape[2] not in (3, 4):
        raise Extreme3DError(f"crop must be HxWx3, got shape {crop.shape}")
    crop = crop[..., :3]
    if crop.dtype != np.uint8:
        crop = np.clip(crop, 0, 255).astype(np.uint8)
    if crop.shape[:2] != (CROP, CROP):
        crop = cv2.resize(crop, (CROP, CROP), interpolation=cv2.INTER_AREA)
    return crop


def check_input(crop_bgr: np.ndarray, mask: np.ndarray) -> str:
    """Empty string when the crop can give a bump map, else the reason it cannot."""
    npx = int(mask.sum())
    if npx < 2500:
        return f"the face covers only {npx} pixels of the crop (need 2500)"
    px = crop_bgr[mask].astype(np.int16)
    grey = px.mean(1)
    if (grey < 8).mean() > 0.5:
        return "the face region is black (under-exposed crop)"
    if (px.min(1) > 247).mean() > 0.5:
        return "the face region is saturated (over-exposed crop)"
    if grey.std() < 2.0:
        return "the face region has no contrast"
    return ""


def is_greyscale(crop_bgr: np.ndarray, mask: np.ndarray) -> bool:
    """True when the face region has (almost) no colour."""
    px = crop_bgr[mask].astype(np.int16)
    return float((np.abs(px[:, 2] - px[:, 1]) + np.abs(px[:, 0] - px[:, 1])).mean()) < 2.0


def to_maps(bump_mm: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """512x512 uint8 bump (127 + d*12/1.25) and mask (0/255, smoothed edge) with the margin."""
    bump = np.full((MAP_SIZE, MAP_SIZE), FLAT, np.uint8)
    val = np.clip(np.rint(FLAT + bump_mm * UNITS_PER_MM), 0, 255).astype(np.uint8)
    bump[MARGIN : MARGIN + CROP, MARGIN : MARGIN + CROP] = val
    soft = cv2.GaussianBlur(mask.astype(np.float32) * 255, (0, 0), 1.0)
    m = np.zeros((MAP_SIZE, MAP_SIZE), np.uint8)
    m[MARGIN : MARGIN + CROP, MARGIN : MARGIN + CROP] = np.clip(np.rint(soft), 0, 255)
    return bump, m


def flat_maps(mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The flat fallback: bump all 127, the given mask (all 255 when None)."""
    bump = np.full((MAP_SIZE, MAP_SIZE), FLAT, np.uint8)
    if mask is None:
        return bump, np.full((MAP_SIZE, MAP_SIZE), 255, np.uint8)
    return bump, to_maps(np.zeros((CROP, CROP)), mask)[1]


def predict_mm(crop_bgr: np.ndarray, landmarks: np.ndarray, mask: np.ndarray,
               const: BumpConstants, grey: bool = False) -> np.ndarray:
    """500x500 bump in mm (fading to 0 outside the mask); grey: the greyscale weights."""
    roi = roi_of(mask, int(FADE_PX) + 1)
    feat = features(crop_bgr, landmarks, mask, const.mean_landmarks, roi)
    d_out = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)[roi]
    fade = np.clip(1.0 - d_out / FADE_PX, 0.0, 1.0)
    out = np.zeros((CROP, CROP), np.float32)
    w = const.bump_weights_grey if grey else const.bump_weights
    out[roi] = (feat @ w.astype(np.float32)) * fade
    return out


def _foundation_coverage(model: Any, fit: Any) -> np.ndarray | None:
    """500x500 bool coverage of the foundation rendered at the fitted pose, or None."""
    try:
        from extreme3d.render import render

        get = (lambda k: fit[k]) if isinstance(fit, dict) else (lambda k: getattr(fit, k))
        verts = model.shape(alpha=get("alpha"), expr=get("expr"))
        _, depth = render(verts, model.faces_fill, get("rvec"), get("tvec"))
        return np.asarray(depth)[:CROP, :CROP] < 1.0
    except Exception:  # noqa: BLE001 - the landmark mask is always available
        return None


def refine_coverage(coverage: np.ndarray) -> np.ndarray:
    """A rendered coverage made one smooth region without holes (largest component, filled)."""
    m = coverage.astype(np.uint8)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    cs, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    out = np.zeros_like(m)
    if cs:
        cv2.drawContours(out, [max(cs, key=cv2.contourArea)], -1, 1, -1)
    smooth = cv2.GaussianBlur(out.astype(np.float32), (0, 0), 2.0)
    return smooth >= 0.5


def estimate_bump(crop_bgr: np.ndarray, landmarks68: np.ndarray, fit: Any = None,
                  model: Any = None, constants: BumpConstants | None = None,
                  greyscale: str = "flat", mask_source: str = "landmarks",
                  detail: str = "image") -> tuple[np.ndarray, np.ndarray, BumpInfo]:
    """(bump512 uint8, mask512 uint8, info) from a 500x500 BGR crop and its 68 landmarks.

    The crop is BGR (as cv2.imread gives it), landmarks in crop pixels. `fit`/`model`
    (optional) give the foundation's coverage: mask_source "landmarks" (default: the outline
    fitted to the original's masks) ignores them, "foundation" uses the coverage itself (holes
    filled, edge smoothed; the right choice with the BFM, whose region the original's masks
    follow) and reports its IoU with the landmark outline in info.extras["foundation_iou"].
    Bad input (few face pixels, black, saturated or flat crop) gives the flat map and a
    message in info.message (source "flat"). A greyscale crop gives the flat map and a
    message too (greyscale="flat", the default); greyscale="estimate" uses the weights fitted
    without the colour features instead. It never raises for image content.

    detail: "image" (default: the image-space model fitted to the Bump CNN's maps),
    "shading" (photometric: first-order SH light and albedo fitted robustly on the
    foundation's normals, height from the shading the foundation leaves unexplained) or
    "both" (their sum). "shading"/"both" need fit and model, else "image" is used.
    """
    t0 = time.perf_counter()
    const = constants or default_constants()
    crop = _to_bgr(crop_bgr)
    lm = np.asarray(landmarks68, np.float64)
    if lm.shape != (68, 2) or not np.isfinite(lm).all():
        b, m = flat_maps(None)
        return b, m, BumpInfo("flat", f"need 68 finite landmarks, got {lm.shape}",
                              time.perf_counter() - t0)
    if detail not in ("image", "shading", "both"):
        raise ValueError(f"detail must be 'image', 'shading' or 'both', got {detail!r}")
    if greyscale not in ("flat", "estimate"):
        raise ValueError(f"greyscale must be 'flat' or 'estimate', got {greyscale!r}")
    if mask_source not in ("landmarks", "foundation"):
        raise ValueError(f"mask_source must be 'landmarks' or 'foundation', got {mask_source!r}")
    mask = landmark_mask(lm, const)
    info = BumpInfo("photo")
    info.extras["mask_source"] = "landmarks"
    if mask_source == "foundation" and model is not None and fit is not None:
        cov = _foundation_coverage(model, fit)
        if cov is not None and cov.any():
            inter = float((cov & mask).sum())
            info.extras["foundation_iou"] = inter / max(float((cov | mask).sum()), 1.0)
            if mask_source == "foundation":
                mask = refine_coverage(cov)
                info.extras["mask_source"] = "foundation"
    if mask_source == "foundation" and info.extras["mask_source"] != "foundation":
        info.message = "no foundation coverage (fit/model missing): landmark mask used"
    reason = check_input(crop, mask)
    if reason:
        b, m = flat_maps(mask if mask.sum() >= 50 else None)
        return b, m, BumpInfo("flat", reason + ": flat bump used", time.perf_counter() - t0,
                              int(mask.sum()))
    grey = is_greyscale(crop, mask)
    if grey:
        if greyscale == "flat":
            b, m = flat_maps(mask)
            return b, m, BumpInfo("flat", "the crop is greyscale (no colour in the face "
                                  "region): flat bump used (greyscale='estimate' estimates "
                                  "it from grey only)", time.perf_counter() - t0,
                                  int(mask.sum()))
        info.message = "; ".join(x for x in (info.message, "the crop is greyscale: bump from "
                                             "grey only (no colour terms)") if x)
    geo = None
    if detail != "image":
        geo = foundation_geometry(model, fit) if model is not None and fit is not None else None
        if geo is None:
            info.message = "; ".join(x for x in (info.message, "no foundation (fit/model): "
                                                 "image detail only") if x)
    if geo is None or detail == "both":
        bump_mm = predict_mm(crop, lm, mask, const, grey)
    else:
        bump_mm = np.zeros((CROP, CROP), np.float32)
    if geo is not None:
        normals, valid, mm_px = geo
        region = valid & mask
        if region.sum() >= 100:
            grey_img = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float64)
            light = estimate_lighting(grey_img, normals, region)
            bump_mm = bump_mm + shading_detail(grey_img, normals, region, light, mm_px)
            info.extras["light"] = light
        info.extras["detail"] = detail
    b, m = to_maps(bump_mm, mask)
    info.seconds = time.perf_counter() - t0
    info.mask_pixels = int(mask.sum())
    return b, m, info


# ---------------------------------------------------------------- fitting (used by the script)


def load_paper_item(data_dir: Path, name: str) -> tuple:
    """(crop BGR, landmarks (68,2), bump (512,512) uint8, mask (512,512) uint8) of a paper crop."""
    crop = cv2.imread(str(data_dir / "imgs" / f"{name}.png"), cv2.IMREAD_COLOR)
    if crop is None:
        raise Extreme3DError(f"cannot read {data_dir / 'imgs' / (name + '.png')}")
    lm = read_pts(data_dir / "imgs" / f"{name}.pts")
    bump = cv2.imread(str(data_dir / "bump_original" / f"{name}_bump.png"), cv2.IMREAD_GRAYSCALE)
    mask = cv2.imread(str(data_dir / "bump_original" / f"{name}_mask.png"), cv2.IMREAD_GRAYSCALE)
    if bump is None or mask is None:
        raise Extreme3DError(f"cannot read the bump/mask of {name} in {data_dir / 'bump_original'}")
    return crop, lm, bump, mask


def paper_names(data_dir: Path) -> list[str]:
    """Names of the crops in data_dir that have bump_original maps."""
    return sorted(p.name[: -len("_bump.png")]
                  for p in (data_dir / "bump_original").glob("*_bump.png")
                  if (data_dir / "imgs" / (p.name[: -len("_bump.png")] + ".png")).exists())


def read_pts(path: Path) -> np.ndarray:
    """68x2 landmarks from a .pts file (plain 'x y' lines or the iBUG format)."""
    rows = []
    for line in Path(path).read_text().splitlines():
        parts = line.replace(",", " ").split()
        if len(parts) == 2:
            try:
                rows.append((float(parts[0]), float(parts[1])))
            except ValueError:
                continue
    if len(rows) != 68:
        raise Extreme3DError(f"{path}: expected 68 landmarks, found {len(rows)}")
    return np.array(rows)


def fit_mask_coef(items: list[tuple], mean: np.ndarray) -> np.ndarray:
    """Least-squares mask radius coefficients (4, 2H+1) from (landmarks, mask500) pairs."""
    centre = mean.mean(0)
    basis = fourier_basis(_angles())
    rows, targets = [], []
    for lm, m in items:
        prof = radial_profile(mask_to_mean_frame(m.astype(np.float32), lm, mean), centre, 2.0)
        rows.append(mask_design(lm, mean))
        targets.append(np.linalg.lstsq(basis, prof, rcond=None)[0])
    x, y = np.array(rows), np.array(targets)
    reg = MASK_RIDGE * np.diag([0.0, 1.0, 1.0, 1.0])
    return np.linalg.solve(x.T @ x + reg, x.T @ y)


def paper_mask500(item: tuple) -> np.ndarray:
    """500x500 bool face mask (>= 127) of a paper item, in crop pixels (the map's 6-px margin
    removed)."""
    return item[3][MARGIN : MARGIN + CROP, MARGIN : MARGIN + CROP] >= 127


def fit_outline(items: list[tuple]) -> BumpConstants:
    """Mean landmarks and mask coefficients from paper items (bump weights left zero)."""
    mean = mean_shape([it[1] for it in items])
    coef = fit_mask_coef([(it[1], paper_mask500(it)) for it in items], mean)
    return BumpConstants(mean, coef, np.zeros(len(FEATURES)), np.zeros(len(FEATURES)))


def fit_constants(items: list[tuple], subsample: int = 7) -> BumpConstants:
    """All constants from paper items (crop, landmarks, bump512, mask512) by least squares."""
    const = fit_outline(items)
    mean = const.mean_landmarks
    masks = [paper_mask500(it) for it in items]
    xtx = np.zeros((len(FEATURES), len(FEATURES)))
    xty = np.zeros(len(FEATURES))
    for (crop, lm, bump, _), pm in zip(items, masks, strict=True):
        ours = landmark_mask(lm, const)
        roi = roi_of(pm | ours, 2)
        feat = features(crop, lm, ours, mean, roi)[pm[roi]][::subsample].astype(np.float64)
        t = bump[MARGIN : MARGIN + CROP, MARGIN : MARGIN + CROP][roi][pm[roi]][::subsample] - 127.0
        t = t / UNITS_PER_MM
        xtx += feat.T @ feat
        xty += feat.T @ t
    const.bump_weights = np.linalg.solve(xtx + BUMP_RIDGE * np.eye(len(FEATURES)), xty)
    keep = np.array([k not in COLOUR_FEATURES for k in FEATURES])
    sub = xtx[np.ix_(keep, keep)] + BUMP_RIDGE * np.eye(int(keep.sum()))
    const.bump_weights_grey = np.zeros(len(FEATURES))
    const.bump_weights_grey[keep] = np.linalg.solve(sub, xty[keep])
    return const


def write_constants(const: BumpConstants, path: Path, source: str) -> None:
    """Writes the constants as a Python module."""
    def fmt(a: np.ndarray) -> str:
        return "[\n" + "".join(f"    {float(x):.6g},\n" for x in np.ravel(a)) + "]"

    text = (
        '"""Constants of extreme3d.bump_photo, generated by scripts/fit_bump_photo.py from\n'
        f'{source}. Do not edit by hand: rerun the script."""\n\n'
        "#: Mean landmark shape (68 x/y pairs, crop px).\n"
        f"MEAN_LANDMARKS = {fmt(const.mean_landmarks)}\n\n"
        f"#: Mask radius coefficients (4 regressors x {2 * MASK_HARMONICS + 1} Fourier terms,"
        " px).\n"
        f"MASK_COEF = {fmt(const.mask_coef)}\n\n"
        f"#: Bump weights (mm per feature unit), in the order of bump_photo.FEATURES.\n"
        f"BUMP_WEIGHTS = {fmt(const.bump_weights)}\n\n"
        f"#: Bump weights for greyscale crops (colour features' weights are zero).\n"
        f"BUMP_WEIGHTS_GREY = {fmt(const.bump_weights_grey)}\n"
    )
    Path(path).write_text(text)
