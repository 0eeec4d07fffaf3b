"""Time of the geometry core (combineBump after the fit: render, dense mesh, bump, occlusion,
soft symmetry, completion) per 500x500 image, per stage.

Two models: the Surrey model (3448 vertices) fitted to the paper crops' landmarks with their
blended bump maps, and a synthetic BFM-sized face (47,089 vertices: an n x n half-ellipsoid
height field with mirror pairs) with a synthetic bump and mask.

Usage: python bench/geometry.py [--images N] [--repeat R]. Last line: SUMMARY key=value ...
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from _common import height_field, sfm_source

from extreme3d import _core
from extreme3d.paths import shared_dir

POSE = (np.array([0.05, 0.35, -0.04]), np.array([3.0, -2.0, -1000.0]))


def synthetic_bfm_sized(n: int = 217) -> _core.FaceModel:
    """A face-sized height field of n*n vertices with 10 smooth identity PCs and mirror pairs."""
    x, y, z, faces = height_field(n)
    mu = np.stack([x, y, z], -1).reshape(-1).astype(np.float32)
    rng = np.random.default_rng(0)
    pcs = [
        np.stack([0 * x, 0 * y, np.cos(k * x / 40.0) * np.cos(k * y / 50.0)], -1) for k in range(10)
    ]
    pc = np.stack([p.reshape(-1) for p in pcs], 1).astype(np.float32)
    pair = np.arange(n * n).reshape(n, n)[:, ::-1].ravel().astype(np.int32)
    lm = rng.integers(0, n * n, 68).astype(np.int32)
    e = np.zeros((3 * n * n, 1), np.float32)
    return _core.FaceModel(
        mu,
        pc,
        np.ones(10, np.float32),
        mu * 0,
        e,
        np.ones(1, np.float32),
        faces,
        faces,
        pair,
        lm,
        lm,
    )


def time_runs(fn: Callable[[], dict], repeat: int) -> tuple[float, dict[str, float]]:
    """Median wall time (ms) of fn() and the median per-stage timings it reports."""
    totals, stages = [], {}
    fn()  # warm-up (GL context)
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn()
        totals.append((time.perf_counter() - t0) * 1e3)
        for k, v in res["timings_ms"].items():
            stages.setdefault(k, []).append(v)
    return statistics.median(totals), {k: statistics.median(v) for k, v in stages.items()}


def sfm_runs(images: int, repeat: int) -> list[float]:
    """Median ms per paper crop with the Surrey model fitted to its landmarks."""
    src = sfm_source()
    paper = shared_dir() / "data" / "paper"
    if not (src / "sfm_shape_3448.bin").is_file() or not paper.is_dir():
        return []
    from extreme3d.fitting import fit_pose_expression
    from extreme3d.io.pts import read_pts
    from extreme3d.morphable import load_model
    from extreme3d.prepare.sfm import convert_sfm

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        model = load_model(convert_sfm(src, Path(tmp) / "sfm_mod.h5"))
        for pts in sorted((paper / "imgs").glob("*.pts"))[:images]:
            stem = pts.stem
            bump = cv2.imread(
                str(paper / "bump_blended" / f"{stem}_bump.png"), cv2.IMREAD_GRAYSCALE
            )
            mask = cv2.imread(
                str(paper / "bump_blended" / f"{stem}_mask.png"), cv2.IMREAD_GRAYSCALE
            )
            if bump is None or mask is None:
                continue
            fit = fit_pose_expression(model, read_pts(pts))
            alpha = np.zeros(model.num_shape, np.float32)
            args = (
                model.core,
                alpha,
                np.asarray(fit.expr, np.float32),
                fit.rvec,
                fit.tvec,
                bump,
                mask,
            )
            total, stages = time_runs(lambda a=args: _core.combine_bump(*a), repeat)
            print(
                f"sfm {stem[:40]:40s} {total:7.1f} ms  "
                + " ".join(f"{k}={v:.1f}" for k, v in stages.items())
            )
            out.append(total)
    return out


def main() -> None:
    """Times the Surrey runs and the synthetic BFM-sized run; prints the SUMMARY line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5, help="paper crops to time")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per input")
    args = parser.parse_args()
    sfm = sfm_runs(args.images, args.repeat)
    model = synthetic_bfm_sized()
    y, x = np.mgrid[0:512, 0:512]
    bump = np.clip(127 + 30 * np.sin(x / 7.0) * np.cos(y / 11.0), 0, 255).astype(np.uint8)
    mask = np.full((512, 512), 255, np.uint8)
    mask[300:380, 150:260] = 0  # an occluder
    a = (model, np.full(10, 0.5, np.float32), np.zeros(1, np.float32), *POSE, bump, mask)
    total, stages = time_runs(lambda: _core.combine_bump(*a), args.repeat)
    print(
        f"bfm47k synthetic {total:7.1f} ms  " + " ".join(f"{k}={v:.1f}" for k, v in stages.items())
    )
    sfm_ms = statistics.median(sfm) if sfm else float("nan")
    print(
        f"SUMMARY sfm_images={len(sfm)} sfm_ms_median={sfm_ms:.1f} bfm47k_ms={total:.1f} "
        f"bfm47k_render_ms={stages.get('render', float('nan')):.1f} cores={os.cpu_count()}"
    )


if __name__ == "__main__":
    main()
