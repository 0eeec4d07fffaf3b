"""Bench of the photo bump estimator against the original's Bump CNN maps.

Usage: python bench/bump.py [--data DIR] [--model H5] [--folds 5] [--greyscale flat|estimate]

With --model the foundation is fitted to the landmarks (identity, then pose and expression)
and its rendered coverage is the mask (mask_source="foundation"); the timing then includes
the render but not the fit.

For every crop of DIR/imgs with DIR/bump_original/<name>_bump.png and _mask.png: Pearson r and
RMSE (mm) of our bump against the paper's inside the paper's mask (>= 127), IoU of our mask
(>= 127) against the paper's, and seconds per image of extreme3d.bump_photo.estimate_bump.
The estimator's constants are fitted on the same data, so every figure is 5-fold
cross-validated: constants fitted on 4/5 of the crops (by image), scored on the other 1/5.
Baselines in the same run and folds: a constant (train mean), and the best global affine map
of per-image z-scored grey (z-scored inside the paper mask, fitted on the train folds).
The estimator runs with its defaults (--greyscale flat): a greyscale crop gives the flat map
(source "flat", scored as such: r = 0, RMSE of the flat map); `flat=` counts those images, and
r/RMSE medians over the images that got a photo bump are photo_r_median / photo_rmse_mm_median.
--only NAME... scores only those crops (the constants are still fitted on the other folds).
Last line: SUMMARY r_median=.. rmse_mm_median=.. iou_median=.. iou_mean=.. iou_min=..
s_per_image=.. flat=.. photo_r_median=.. photo_rmse_mm_median=.. grey_r_median=..
grey_rmse_mm_median=.. const_rmse_mm_median=..
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
from _common import paper_set

from extreme3d import bump_photo as bp
from extreme3d.paths import shared_dir

M, C = bp.MARGIN, bp.CROP


def grey_z(crop: np.ndarray, pm: np.ndarray) -> np.ndarray:
    """Grey of the crop z-scored inside the paper mask pm, at the mask's pixels."""
    g = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float64)[pm]
    return (g - g.mean()) / max(g.std(), 1e-6)


def main() -> int:
    """Runs the bench and prints one line per image and the SUMMARY line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=shared_dir() / "data" / "paper")
    ap.add_argument("--model", type=Path, help="morphable model .h5: fit the foundation too")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--greyscale", choices=("flat", "estimate"), default="flat",
                    help="the estimator's greyscale option (default: its default, flat)")
    ap.add_argument("--only", nargs="*", help="score only these crop names (others still train)")
    args = ap.parse_args()
    paper = paper_set(args.data, args.folds)
    if paper is None:
        return 1
    names, items = paper
    model = None
    if args.model:
        from extreme3d.morphable import load_model

        model = load_model(args.model)
    folds = np.arange(len(names)) % args.folds
    pms = [bp.paper_mask500(it) for it in items]
    tgt = [(it[2][M : M + C, M : M + C][pm] - 127.0) / bp.UNITS_PER_MM
           for it, pm in zip(items, pms, strict=True)]
    rows: dict[int, dict] = {}
    for k in range(args.folds):
        if args.only and not any(names[i] in args.only for i in np.where(folds == k)[0]):
            continue
        train = [i for i in range(len(items)) if folds[i] != k]
        const = bp.fit_constants([items[i] for i in train])
        cmean = float(np.mean(np.concatenate([tgt[i] for i in train])))
        z = np.concatenate([grey_z(items[i][0], pms[i]) for i in train])
        a, b = np.polyfit(z, np.concatenate([tgt[i] for i in train]), 1)
        for i in np.where(folds == k)[0]:
            if args.only and names[i] not in args.only:
                continue
            crop, lm, _, pmask = items[i]
            fit = None
            if model is not None:
                from extreme3d.fitting import fit_identity, fit_pose_expression

                ident = fit_identity(model, lm)
                fit = fit_pose_expression(model, lm, ident.alpha)
            t0 = time.perf_counter()
            bump, mask, info = bp.estimate_bump(crop, lm, fit=fit, model=model, constants=const,
                                                mask_source="foundation" if model else "landmarks",
                                                greyscale=args.greyscale)
            secs = time.perf_counter() - t0
            pm, t = pms[i], tgt[i]
            pred = (bump[M : M + C, M : M + C][pm] - 127.0) / bp.UNITS_PER_MM
            ours = mask >= 127
            paper = pmask >= 127
            gz = grey_z(crop, pm)
            rows[i] = dict(
                r=float(np.corrcoef(pred, t)[0, 1]) if pred.std() > 0 else 0.0,
                rmse=float(np.sqrt(np.mean((pred - t) ** 2))),
                iou=float((ours & paper).sum() / max((ours | paper).sum(), 1)),
                secs=secs, src=info.source,
                gr=float(np.corrcoef(gz, t)[0, 1]),
                grmse=float(np.sqrt(np.mean((a * gz + b - t) ** 2))),
                crmse=float(np.sqrt(np.mean((cmean - t) ** 2))),
            )
            r = rows[i]
            print(f"{names[i][:40]:40s} r={r['r']:.3f} rmse={r['rmse']:.3f}mm iou={r['iou']:.3f} "
                  f"{r['secs']:.3f}s src={r['src']} | grey r={r['gr']:.3f} "
                  f"rmse={r['grmse']:.3f} | const rmse={r['crmse']:.3f}", flush=True)

    def med(key: str) -> float:
        return float(np.median([r[key] for r in rows.values()]))

    secs = float(np.mean([r["secs"] for r in rows.values()]))
    photo = [r for r in rows.values() if r["src"] == "photo"]
    flat = len(rows) - len(photo)
    flat_names = [names[i] for i, r in rows.items() if r["src"] != "photo"]
    if flat_names:
        print(f"flat (greyscale or bad input): {', '.join(n[:30] for n in flat_names)}")
    ious = np.array([r["iou"] for r in rows.values()])
    print(f"{len(rows)} crops, {args.folds}-fold cross-validated "
          "(constants fitted on the other folds)")
    print(f"SUMMARY r_median={med('r'):.4f} rmse_mm_median={med('rmse'):.4f} "
          f"iou_median={med('iou'):.4f} iou_mean={ious.mean():.4f} iou_min={ious.min():.4f} "
          f"s_per_image={secs:.3f} flat={flat} "
          f"photo_r_median={np.median([r['r'] for r in photo] or [np.nan]):.4f} "
          f"photo_rmse_mm_median={np.median([r['rmse'] for r in photo] or [np.nan]):.4f} "
          f"grey_r_median={med('gr'):.4f} grey_rmse_mm_median={med('grmse'):.4f} "
          f"const_rmse_mm_median={med('crmse'):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
