"""Reproduces the constants of extreme3d.occlusion from the paper data.

Usage: python scripts/fit_occlusion.py [--data ../shared/data/paper] [--out FILE]

Reads every crop of DATA/imgs with DATA/bump_original/<name>_bump.png, _mask.png and
DATA/bump_blended/<name>_bump.png, computes its reference occluded region R (bench/occlusion.py's
definition), and fits (1) the mean clean-detail template (the de-occluded maps averaged in the
mean-landmark frame), (2) the logistic weights of the occluder cues against R and (3) the
probability threshold (best mean IoU with R); writes src/extreme3d/occlusion/constants.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

from occlusion import load  # noqa: E402 - bench/occlusion.py holds R's definition

from extreme3d import bump_photo as bp  # noqa: E402
from extreme3d import occlusion as oc  # noqa: E402
from extreme3d.occlusion.fit import write_constants  # noqa: E402
from extreme3d.paths import shared_dir  # noqa: E402


def main() -> int:
    """Fits and writes the constants."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=shared_dir() / "data" / "paper")
    ap.add_argument("--out", type=Path,
                    default=REPO / "src" / "extreme3d" / "occlusion" / "constants.py")
    args = ap.parse_args()
    t0 = time.perf_counter()
    names = [n for n in bp.paper_names(args.data)
             if (args.data / "bump_blended" / f"{n}_bump.png").exists()]
    if not names:
        raise SystemExit(f"no crops with bump_original and bump_blended maps in {args.data}")
    items = []
    for n in names:
        it = load(args.data, n)
        items.append(oc.PaperItem(it["crop"], it["lm"], it["orig"], it["blend"], it["mask"],
                                  it["R"]))
    const = oc.fit_constants(items)
    write_constants(const, args.out, f"{len(names)} crops of ../shared/data/paper")
    print(f"fitted on {len(names)} crops in {time.perf_counter() - t0:.1f} s: "
          f"{const.template.size} template cells, {len(const.weights)} weights, "
          f"threshold {const.threshold} -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
