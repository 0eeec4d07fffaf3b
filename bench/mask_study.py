"""Ceiling study of the photo face mask (issue 6): how close the landmark outline, image cues
and oracle knowledge come to the original's Bump-CNN masks.

Usage: python bench/mask_study.py [--data DIR] [--folds 5]

For every crop of DIR/imgs with DIR/bump_original/<name>_mask.png, the IoU (masks >= 127, the
500x500 crop at offset 6 of the 512x512 map) of these masks against the paper's:

- baseline: the shipped outline (extreme3d.bump_photo.landmark_mask), its constants fitted on
  the other folds (the figure bench/bump.py reports as iou_median);
- oracle_mean / oracle_shift: the same outline with each image's own mean radius (Fourier mode
  0 of the paper mask's radius in the mean-landmark frame), or mean radius and shift (modes
  0-1), taken from the paper mask itself: upper bounds of a per-image correction;
- rays_cv: the outline moved along each ray to where a per-cell logistic model of image cues
  puts the boundary (cues: offset from the outline, skin-colour distance from the cheeks,
  lightness, local texture, black padding, radial and tangential edges, their running maxima
  outward, the cues times cos/sin of the angle), the boundary per ray chosen by dynamic
  programming (a cut in the cumulative log-odds, offsets smooth across rays); fitted on 4/5
  of the crops, scored on the other 1/5;
- rays_insample: the same model fitted and scored on all crops: an optimistic bound of what
  these cues carry.

Last line: SUMMARY images=.. baseline_iou_median=.. oracle_mean_iou_median=..
oracle_shift_iou_median=.. rays_cv_iou_median=.. rays_insample_iou_median=..
(each also with its mean).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from _common import paper_set

from extreme3d import bump_photo as bp
from extreme3d.paths import shared_dir

C = bp.CROP
#: Polar grid of the mean-landmark frame: the outline's angles and radii (mean-frame px).
ANGLES = bp._angles()
RADII = np.arange(0.0, 220.0, 1.0)
BASIS = bp.fourier_basis(ANGLES)
#: Cells farther than this (fraction of the mean outline radius) from the outline are fixed.
BAND = 0.35
#: Largest boundary offset from the outline (mean-frame px) and jump between adjacent rays.
MAX_OFFSET, MAX_JUMP = 40, 3


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks."""
    return float((a & b).sum() / max((a | b).sum(), 1))


def polar_grid(lm: np.ndarray, const: bp.BumpConstants) -> np.ndarray:
    """(angles, radii, 2) crop pixels of the mean-frame polar grid mapped by the landmark TPS."""
    mean = const.mean_landmarks
    c = mean.mean(0)
    x = c[0] + RADII[None] * np.cos(ANGLES)[:, None]
    y = c[1] + RADII[None] * np.sin(ANGLES)[:, None]
    tps = bp.tps_fit(mean, lm.astype(np.float64))
    pts = bp.tps_apply(tps, np.c_[x.ravel(), y.ravel()])
    return pts.reshape(len(ANGLES), len(RADII), 2).astype(np.float32)


def paper_radius(item: tuple, const: bp.BumpConstants) -> np.ndarray:
    """(angles,) radius (mean-frame px) where the paper mask first ends along each ray."""
    mean = const.mean_landmarks
    inside = bp.mask_to_mean_frame(bp.paper_mask500(item).astype(np.float32), item[1], mean)
    return bp.radial_profile(inside, mean.mean(0), 2.0)


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with reflected borders."""
    return cv2.GaussianBlur(x, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def cue_maps(crop: np.ndarray, lm: np.ndarray) -> dict[str, np.ndarray]:
    """500x500 float32 image cues: skin-colour distance, lightness, texture, padding, gradient."""
    lab = cv2.cvtColor(crop, cv2.COLOR_BGR2LAB).astype(np.float32)
    cheeks = np.zeros((C, C), np.uint8)
    cv2.fillConvexPoly(cheeks, cv2.convexHull(lm[np.r_[1:16, 27]].astype(np.float32))
                       .astype(np.int32), 1)
    for a, b in ((36, 42), (42, 48), (48, 60)):  # eyes and mouth are not skin
        cv2.fillConvexPoly(cheeks, cv2.convexHull(lm[a:b].astype(np.float32)).astype(np.int32), 0)
    cheeks = cv2.erode(cheeks, np.ones((9, 9), np.uint8)) > 0
    skin = lab[cheeks]
    med = np.median(skin, 0)
    mad = np.median(np.abs(skin - med), 0) * 1.4826 + 2.0
    z = (np.stack([_blur(lab[..., k], 2.0) for k in range(3)], -1) - med) / mad
    grey = lab[..., 0]
    local_sd = np.sqrt(np.maximum(_blur(grey * grey, 3) - _blur(grey, 3) ** 2, 0))
    smooth = _blur(grey, 1.5)
    return {
        "colour": np.tanh(np.hypot(z[..., 1], z[..., 2]) / 3),
        "light": np.tanh(z[..., 0] / 3),
        "texture": np.log((local_sd + 1) / (np.median(local_sd[cheeks]) + 1.0)),
        "black": _blur((crop.max(2) < 8).astype(np.float32), 2),
        "gx": cv2.Sobel(smooth, cv2.CV_32F, 1, 0) / 8,
        "gy": cv2.Sobel(smooth, cv2.CV_32F, 0, 1) / 8,
    }


def cell_features(item: tuple, cues: dict[str, np.ndarray],
                  const: bp.BumpConstants) -> tuple[np.ndarray, ...]:
    """(features (angles, radii, F), paper inside (angles, radii), grid, outline radius) of a
    crop with its cue_maps, in the polar grid of the constants `const`."""
    lm = item[1]
    grid = polar_grid(lm, const)
    rad = bp.outline_radius(lm, const)

    def at(img: np.ndarray) -> np.ndarray:
        return cv2.remap(img.astype(np.float32), grid[..., 0], grid[..., 1], cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)

    ray = np.gradient(grid, axis=1)
    ray /= np.linalg.norm(ray, axis=2, keepdims=True) + 1e-6
    gx, gy = at(cues["gx"]), at(cues["gy"])
    radial = np.tanh(np.abs(gx * ray[..., 0] + gy * ray[..., 1]) / 5)
    tangential = np.tanh(np.abs(gy * ray[..., 0] - gx * ray[..., 1]) / 5)
    offset = (RADII[None] - rad[:, None]) / rad.mean()
    local = [at(cues["colour"]), at(cues["light"]), at(cues["texture"]), at(cues["black"]),
             radial, tangential]
    started = RADII[None] >= rad[:, None] - BAND * rad.mean()
    for cue, floor in ((local[0], -1.0), (local[2], -9.0), (radial, 0.0)):
        local.append(np.maximum.accumulate(np.where(started, cue, floor), axis=1))
    cols = [np.ones_like(offset), offset, np.clip(offset, -0.2, 0.2)] + local
    for cue in local + [offset]:
        cols += [cue * np.cos(ANGLES)[:, None], cue * np.sin(ANGLES)[:, None]]
    inside = at(bp.paper_mask500(item).astype(np.float32)) >= 0.5
    return np.stack(cols, -1), inside, grid, rad


def fit_logistic(x: np.ndarray, y: np.ndarray, ridge: float = 1.0, iters: int = 20) -> np.ndarray:
    """Ridge-regularised logistic regression weights by Newton's method."""
    w = np.zeros(x.shape[1])
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(x @ w)))
        hess = (x * (p * (1 - p))[:, None]).T @ x + ridge * np.eye(len(w))
        w -= np.linalg.solve(hess, x.T @ (p - y) + ridge * w)
    return w


def ray_boundary(logodds: np.ndarray, rad: np.ndarray, smooth: float = 0.5) -> np.ndarray:
    """(angles,) boundary radius index per ray: the cut maximising the inside log-odds, with
    offsets from the outline that change by at most MAX_JUMP px (cost `smooth` per px) between
    adjacent rays (dynamic programming, two laps for the closed outline)."""
    gain = np.concatenate([np.zeros((len(ANGLES), 1)), np.cumsum(logodds, 1)], 1)
    offsets = np.arange(-MAX_OFFSET, MAX_OFFSET + 1)
    start = np.searchsorted(RADII, rad)
    idx = np.clip(start[:, None] + offsets[None], 0, gain.shape[1] - 1)
    g = np.take_along_axis(gain, idx, 1)
    jumps = np.arange(-MAX_JUMP, MAX_JUMP + 1)
    n = len(offsets)

    def lap(init: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        cur, back = init.copy(), []
        for a in range(1, len(ANGLES)):
            cand = np.full((len(jumps), n), -np.inf)
            for j, o in enumerate(jumps):
                lo, hi = max(o, 0), n + min(o, 0)
                cand[j, lo:hi] = cur[lo - o : hi - o] - smooth * abs(o)
            k = np.argmax(cand, 0)
            back.append(k)
            cur = cand[k, np.arange(n)] + g[a]
        return cur, back

    first, _ = lap(g[0])
    last, back = lap(first - first.max() + g[0])
    o = np.zeros(len(ANGLES), int)
    o[-1] = int(np.argmax(last))
    for a in range(len(ANGLES) - 1, 0, -1):
        o[a - 1] = o[a] - jumps[back[a - 1][o[a]]]
    return np.clip(start + offsets[o], 1, len(RADII) - 1)


def ray_mask(cells: tuple[np.ndarray, ...], w: np.ndarray) -> np.ndarray:
    """500x500 bool mask of the ray model with weights w on one crop's cells."""
    x, _, grid, rad = cells
    band = np.abs(x[..., 1])
    logodds = np.where(band < BAND, np.clip(x @ w, -6, 6), np.where(x[..., 1] < 0, 6.0, -6.0))
    b = ray_boundary(logodds, rad)
    return bp.fill_outline(grid[np.arange(len(ANGLES)), b - 1])


def band_cells(cells: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The (features, inside) training cells of one crop within the band around the outline."""
    x, inside = cells[0], cells[1]
    sel = np.abs(x[..., 1]) < BAND
    return x[sel].astype(np.float64), inside[sel].astype(np.float64)


def main() -> int:
    """Runs the study; one line per crop and the SUMMARY line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=shared_dir() / "data" / "paper")
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()
    paper = paper_set(args.data, args.folds)
    if paper is None:
        return 1
    names, items = paper
    folds = np.arange(len(names)) % args.folds
    rows: dict[str, np.ndarray] = {k: np.zeros(len(items)) for k in
                                   ("baseline", "oracle_mean", "oracle_shift", "rays_cv")}
    cells_cv: list = [None] * len(items)
    cues = [cue_maps(it[0], it[1]) for it in items]  # image only: the same in every fold
    for k in range(args.folds):
        train = [i for i in range(len(items)) if folds[i] != k]
        const = bp.fit_outline([items[i] for i in train])
        cells = {i: cell_features(items[i], cues[i], const) for i in range(len(items))}
        xy = [band_cells(cells[i]) for i in train]
        w = fit_logistic(np.concatenate([a for a, _ in xy]), np.concatenate([b for _, b in xy]))
        for i in np.where(folds == k)[0]:
            lm, pm = items[i][1], bp.paper_mask500(items[i])
            rows["baseline"][i] = iou(bp.landmark_mask(lm, const), pm)
            rad = bp.outline_radius(lm, const)
            resid = np.linalg.lstsq(BASIS, paper_radius(items[i], const) - rad, rcond=None)[0]
            for key, modes in (("oracle_mean", 1), ("oracle_shift", 3)):
                own = rad + BASIS[:, :modes] @ resid[:modes]
                rows[key][i] = iou(bp.fill_outline(bp.mask_polygon(lm, const, own)), pm)
            rows["rays_cv"][i] = iou(ray_mask(cells[i], w), pm)
            cells_cv[i] = cells[i]
            scores = " ".join(f"{key}={v[i]:.3f}" for key, v in rows.items())
            print(f"{names[i][:40]:40s} {scores}", flush=True)
    # optimistic bound: the ray model fitted on every crop and scored on the same crops
    xy = [band_cells(c) for c in cells_cv]
    w = fit_logistic(np.concatenate([a for a, _ in xy]), np.concatenate([b for _, b in xy]))
    rows["rays_insample"] = np.array([iou(ray_mask(c, w), bp.paper_mask500(it))
                                      for c, it in zip(cells_cv, items, strict=True)])
    print(f"{len(items)} crops, {args.folds}-fold cross-validated except rays_insample")
    print(f"SUMMARY images={len(items)} " + " ".join(
        f"{key}_iou_median={np.median(v):.4f} {key}_iou_mean={v.mean():.4f}"
        for key, v in rows.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
