"""Bench of occluder segmentation and bump de-occlusion against the paper's de-occluded maps.

Usage: python bench/occlusion.py [--data DIR] [--folds 5] [--only NAME...]

The paper's results were made from Bump-CNN maps de-occluded after the network:
DIR/bump_original/<name>_bump.png is the network's map, DIR/bump_blended/<name>_bump.png the
de-occluded one (same mask). The reference occluded region R of a crop is where that step acted
(`reference_region`, on the 512x512 maps):

    R = mask AND (|blended - original| > 12 OR |high-pass of (blended - original)| > 8)

with the high-pass d - GaussianBlur(d, sigma 8), the mask the original's mask >= 127; R is then
opened with a 3x3 square, closed with a 15x15 ellipse, and components < 400 px are dropped.

Per crop (bump values v in mm: (v - 127) / 12 * 1.25):
  (a) RMSE inside R between our de-occluded map and bump_blended, starting from bump_original
      (CNN route) and from our `photo` map (photo route); baselines: no de-occlusion (the input
      map itself) and, for the CNN route, OpenCV's Telea inpainting given the true R (radius 5);
  (b) RMSE outside R (inside the mask) between our de-occluded map and its input map;
  (c) IoU of our occluder mask (inside the face mask) with R.
Seconds per image: segmentation + de-occlusion of the CNN route (extreme3d.occlusion).

The segmentation's pixel classifier and the detail template are fitted on the same data, so
every figure is cross-validated by image (--folds, default 5): constants fitted on the other
folds (extreme3d.occlusion.fit_constants), scored on the held-out crops.
Medians are over the crops with R >= 2% of the mask.
Last line: SUMMARY cnn_inside_mm=.. cnn_inside_none_mm=.. photo_inside_mm=..
photo_inside_none_mm=.. outside_change_mm=.. occluder_iou=.. s_per_image=.. (plus the two
true-R baselines and the photo route's outside change).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from extreme3d import bump_photo as bp
from extreme3d import occlusion as oc
from extreme3d.paths import shared_dir

MM_PER_UNIT = 1.25 / 12.0


def reference_region(original: np.ndarray, blended: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """512x512 bool: where the paper's de-occlusion changed the map (the issue's definition)."""
    d = blended.astype(np.float32) - original.astype(np.float32)
    high = d - cv2.GaussianBlur(d, (0, 0), 8.0)
    r = ((mask >= 127) & ((np.abs(d) > 12) | (np.abs(high) > 8))).astype(np.uint8)
    r = cv2.morphologyEx(r, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    r = cv2.morphologyEx(r, cv2.MORPH_CLOSE,
                         cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15)))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(r, connectivity=8)
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= 400
    return keep[lab]


def rmse_mm(a: np.ndarray, b: np.ndarray, region: np.ndarray) -> float:
    """RMSE in mm between two bump maps (uint8 encoding) over a bool region (nan if empty)."""
    if not region.any():
        return float("nan")
    d = (a[region].astype(np.float64) - b[region].astype(np.float64)) * MM_PER_UNIT
    return float(np.sqrt(np.mean(d * d)))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks (1 when both are empty)."""
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def load(data: Path, name: str) -> dict:
    """Crop, landmarks, original/blended bump and the mask of one paper crop."""
    crop, lm, orig, mask = bp.load_paper_item(data, name)
    blend = cv2.imread(str(data / "bump_blended" / f"{name}_bump.png"), cv2.IMREAD_GRAYSCALE)
    if blend is None:
        raise SystemExit(f"cannot read {data / 'bump_blended' / (name + '_bump.png')}")
    return dict(name=name, crop=crop, lm=lm, orig=orig, blend=blend, mask=mask,
                R=reference_region(orig, blend, mask))


def main() -> int:
    """Runs the bench and prints one line per crop and the SUMMARY line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=shared_dir() / "data" / "paper")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--only", nargs="*", help="score only these crop names (others still train)")
    args = ap.parse_args()
    names = [n for n in bp.paper_names(args.data)
             if (args.data / "bump_blended" / f"{n}_bump.png").exists()]
    if len(names) < args.folds:
        print(f"need at least {args.folds} crops with bump_original and bump_blended in "
              f"{args.data}")
        return 1
    items = [load(args.data, n) for n in names]
    folds = np.arange(len(items)) % args.folds
    rows = []
    for k in range(args.folds):
        test = [i for i in np.where(folds == k)[0]
                if not args.only or names[i] in args.only]
        if not test:
            continue
        const = oc.fit_constants([oc.PaperItem(it["crop"], it["lm"], it["orig"], it["blend"],
                                               it["mask"], it["R"])
                                  for i, it in enumerate(items) if folds[i] != k])
        for i in test:
            it = items[i]
            mask, R, orig, blend = it["mask"], it["R"], it["orig"], it["blend"]
            face = mask >= 127
            t0 = time.perf_counter()
            res = oc.deocclude(it["crop"], it["lm"], orig, mask, constants=const)
            secs = time.perf_counter() - t0
            pbump, pmask, _ = bp.estimate_bump(it["crop"], it["lm"])
            pres = oc.deocclude(it["crop"], it["lm"], pbump, pmask, constants=const)
            given = oc.deocclude(it["crop"], it["lm"], orig, mask, constants=const,
                                 occluders=R[bp.MARGIN : bp.MARGIN + bp.CROP,
                                             bp.MARGIN : bp.MARGIN + bp.CROP])
            r8 = R.astype(np.uint8)
            telea = cv2.inpaint(orig, cv2.dilate(r8, np.ones((3, 3), np.uint8)), 5,
                                cv2.INPAINT_TELEA)
            out_r = face & ~R
            row = dict(
                name=it["name"], frac=float(R.sum() / max(face.sum(), 1)),
                cnn=rmse_mm(res.bump, blend, R), cnn_none=rmse_mm(orig, blend, R),
                telea=rmse_mm(telea, blend, R), given=rmse_mm(given.bump, blend, R),
                photo=rmse_mm(pres.bump, blend, R), photo_none=rmse_mm(pbump, blend, R),
                out=rmse_mm(res.bump, orig, out_r), pout=rmse_mm(pres.bump, pbump, out_r),
                iou=iou(res.occluders & face, R), occ=float(res.occluded_fraction), secs=secs,
            )
            rows.append(row)
            print(f"{row['name'][:40]:40s} R={row['frac']:.3f} occ={row['occ']:.3f} "
                  f"iou={row['iou']:.3f} | cnn {row['cnn']:.3f} (none {row['cnn_none']:.3f}, "
                  f"telea {row['telea']:.3f}, ours|R {row['given']:.3f}) photo {row['photo']:.3f} "
                  f"(none {row['photo_none']:.3f}) | outside {row['out']:.3f}/{row['pout']:.3f}"
                  f" | {secs:.3f}s", flush=True)
    sel = [r for r in rows if r["frac"] >= 0.02]
    if not sel:
        print("no crop with R >= 2% of the mask")
        return 1

    def med(key: str) -> float:
        return float(np.nanmedian([r[key] for r in sel]))

    print(f"{len(rows)} crops, {len(sel)} with R >= 2% of the mask; {args.folds}-fold "
          "cross-validated (constants fitted on the other folds)")
    print(f"SUMMARY cnn_inside_mm={med('cnn'):.3f} cnn_inside_none_mm={med('cnn_none'):.3f} "
          f"photo_inside_mm={med('photo'):.3f} photo_inside_none_mm={med('photo_none'):.3f} "
          f"outside_change_mm={med('out'):.3f} occluder_iou={med('iou'):.3f} "
          f"s_per_image={np.mean([r['secs'] for r in rows]):.3f} "
          f"telea_true_R_mm={med('telea'):.3f} ours_true_R_mm={med('given'):.3f} "
          f"photo_outside_change_mm={med('pout'):.3f} "
          f"crops={len(sel)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
