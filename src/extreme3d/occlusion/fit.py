"""Fitting the occlusion constants from the paper's Bump-CNN maps and their de-occluded versions
(used by scripts/fit_occlusion.py and bench/occlusion.py; never at run time)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

import extreme3d.occlusion.frame as fr
import extreme3d.occlusion.segment as sg
from extreme3d import bump_photo as bp
from extreme3d.occlusion.fill import OcclusionConstants, geometry, to_mm

#: Template grid in the mean-landmark frame: cell size and extent around the frame centre (px).
TEMPLATE_STEP = 4.0
TEMPLATE_EXTENT = ((-168.0, 168.0), (-212.0, 168.0))
#: Extra weight of the paper's de-occluded pixels (R) in the fill template: what the paper's
#: step put behind occluders counts more than the clean maps' own detail (the cue template
#: is the plain mean).
REGION_WEIGHT = 4.0
#: Logistic regression: ridge weight, pixel subsampling, Newton iterations.
RIDGE = 1.0
SUBSAMPLE = 5
ITERS = 25
THRESHOLDS = np.round(np.arange(0.05, 0.75, 0.025), 3)
#: Thresholds whose mean IoU is within this of the best count as tied; the highest of them
#: (the fewest occluder pixels, the least clean skin changed) is taken.
TIE_IOU = 0.005


class PaperItem(NamedTuple):
    """One paper crop: BGR crop, landmarks, original and de-occluded bump, mask, reference
    occluded region R (512x512 bool)."""

    crop: np.ndarray
    landmarks: np.ndarray
    original: np.ndarray
    blended: np.ndarray
    mask: np.ndarray
    region: np.ndarray


def template_grid() -> tuple[tuple[float, float], tuple[int, int]]:
    """(origin (x, y), shape (rows, cols)) of the template grid in the mean frame."""
    c = bp.default_constants().mean_landmarks.mean(0)
    (x0, x1), (y0, y1) = TEMPLATE_EXTENT
    shape = (int((y1 - y0) / TEMPLATE_STEP) + 1, int((x1 - x0) / TEMPLATE_STEP) + 1)
    return (float(c[0] + x0), float(c[1] + y0)), shape


def fit_template(items: list[PaperItem], region_weight: float = 0.0,
                 ) -> tuple[np.ndarray, tuple[float, float]]:
    """(template mm on the grid, origin): the weighted mean of the de-occluded maps inside the
    masks (pixels of R weighted 1 + region_weight), resampled into the mean-landmark frame (0
    where less than 3 maps' weight covers a cell)."""
    mean = bp.default_constants().mean_landmarks
    origin, (h, w) = template_grid()
    yy, xx = np.mgrid[0:h, 0:w]
    pts = np.c_[origin[0] + xx.ravel() * TEMPLATE_STEP, origin[1] + yy.ravel() * TEMPLATE_STEP]
    total, count = np.zeros((h, w)), np.zeros((h, w))
    for it in items:
        where = bp.tps_apply(bp.tps_fit(mean, np.asarray(it.landmarks, np.float64)), pts)
        where = where.reshape(h, w, 2).astype(np.float32)
        face = sg.crop_of(it.mask) >= 127
        inside = fr.sample(face.astype(np.float32), where) > 0.99
        val = fr.sample(to_mm(sg.crop_of(it.blended)), where)
        wgt = inside * (1.0 + region_weight * fr.sample(sg.crop_of(it.region).astype(np.float32),
                                                        where))
        total += np.where(inside, val, 0.0) * wgt
        count += wgt
    tpl = np.where(count >= 3, total / np.maximum(count, 1e-6), 0.0)
    return tpl.astype(np.float32), origin


def logistic(x: np.ndarray, y: np.ndarray, ridge: float = RIDGE, iters: int = ITERS) -> np.ndarray:
    """Ridge-regularised logistic regression weights (Newton steps; the constant unpenalised)."""
    w = np.zeros(x.shape[1])
    pen = np.full(x.shape[1], ridge)
    pen[0] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        g = x.T @ (p - y) + pen * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + np.diag(pen + 1e-6)
        step = np.linalg.solve(hess, g)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return w


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union (1 when both are empty)."""
    u = (a | b).sum()
    return float((a & b).sum() / u) if u else 1.0


def fit_constants(items: list[PaperItem]) -> OcclusionConstants:
    """Template, logistic weights and threshold from paper items (see the module doc)."""
    tpl, origin = fit_template(items)
    const = OcclusionConstants(tpl, origin, TEMPLATE_STEP, np.zeros(len(sg.FEATURES)),
                               np.zeros(len(sg.CONTEXT)), 0.5,
                               fit_template(items, REGION_WEIGHT)[0])
    xs, ys, cache = [], [], []
    for it in items:
        face = sg.crop_of(it.mask) >= 127
        geo = geometry(it.landmarks, const)
        feat = sg.features(bp._to_bgr(it.crop), to_mm(sg.crop_of(it.original)),
                           geo["template"], face, geo["mirror"], geo["frame"], geo["centre"])
        lab = sg.crop_of(it.region)
        sel = np.zeros_like(face)
        sel[::SUBSAMPLE, ::SUBSAMPLE] = True
        sel &= face
        xs.append(feat[sel].astype(np.float64))
        ys.append(lab[sel].astype(np.float64))
        cache.append((feat, face, lab, geo["mirror"], sel, sg.feature_zones(it.landmarks),
                      sg.lips_line(it.landmarks)))
    const.weights = logistic(np.concatenate(xs), np.concatenate(ys))
    ctx = [sg.context(sg.probability(c[0], const.weights), c[3], c[0]) for c in cache]
    const.context_weights = logistic(
        np.concatenate([x[c[4]].astype(np.float64) for x, c in zip(ctx, cache, strict=True)]),
        np.concatenate(ys))
    probs = [sg.probability(c, const.context_weights) for c in ctx]
    scores = np.array([np.mean([_iou(sg.segment(p, face, t, zones=z, lips=b), lab)
                                for p, (_, face, lab, _, _, z, b) in zip(probs, cache,
                                                                          strict=True)])
                       for t in THRESHOLDS])
    const.threshold = float(THRESHOLDS[np.flatnonzero(scores >= scores.max() - TIE_IOU).max()])
    return const


def write_constants(const: OcclusionConstants, path: Path, source: str) -> None:
    """Writes the constants as a Python module (template in 0.01 mm integers)."""
    def rows(a: np.ndarray, per: int) -> str:
        flat = [str(x) for x in np.ravel(a)]
        return "".join("    " + ", ".join(flat[i : i + per]) + ",\n"
                       for i in range(0, len(flat), per))

    cmm = np.rint(const.template * 100).astype(int)
    fill = np.rint(const.fill_template * 100).astype(int)
    text = (
        '"""Constants of extreme3d.occlusion, generated by scripts/fit_occlusion.py from\n'
        f'{source}. Do not edit by hand: rerun the script."""\n\n'
        "# ruff: noqa: E501\n\n"
        "#: Occluder cue weights (logistic), in the order of segment.FEATURES.\n"
        f"WEIGHTS = [\n{rows(np.array([f'{w:.6g}' for w in const.weights]), 6)}]\n\n"
        "#: Second-stage (context) weights, in the order of segment.CONTEXT.\n"
        f"CONTEXT_WEIGHTS = [\n{rows(np.array([f'{w:.6g}' for w in const.context_weights]), 6)}"
        "]\n\n"
        f"#: Occluder probability threshold.\nTHRESHOLD = {const.threshold}\n\n"
        "#: Mean clean bump template in the mean-landmark frame: origin (px), cell size (px),\n"
        "#: shape (rows, cols) and values in 0.01 mm, row-major.\n"
        f"TEMPLATE_ORIGIN = ({const.origin[0]:.4f}, {const.origin[1]:.4f})\n"
        f"TEMPLATE_STEP = {const.step}\n"
        f"TEMPLATE_SHAPE = {tuple(const.template.shape)}\n"
        f"TEMPLATE_CMM = [\n{rows(cmm, 24)}]\n\n"
        "#: The fill template (de-occluded pixels weighted more), same grid, 0.01 mm.\n"
        f"FILL_TEMPLATE_CMM = [\n{rows(fill, 24)}]\n"
    )
    Path(path).write_text(text)
