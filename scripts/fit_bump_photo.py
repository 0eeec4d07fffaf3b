"""Reproduces the constants of extreme3d.bump_photo from the paper data.

Usage: python scripts/fit_bump_photo.py [--data ../shared/data/paper] [--out FILE]

Reads every crop of DATA/imgs that has DATA/bump_original/<name>_bump.png and _mask.png,
fits (1) the Procrustes mean of the 68 landmarks, (2) the mask radius coefficients
(Fourier series of the face outline in the mean-landmark frame, linear in three pose proxies)
and (3) the bump weights (ridge regression of the bump in mm on the per-pixel features, inside
the paper masks), and writes them as src/extreme3d/bump_photo_constants.py (default --out).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from extreme3d import bump_photo as bp
from extreme3d.paths import shared_dir

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    """Fits and writes the constants."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=shared_dir() / "data" / "paper")
    ap.add_argument("--out", type=Path,
                    default=REPO / "src" / "extreme3d" / "bump_photo_constants.py")
    args = ap.parse_args()
    t0 = time.perf_counter()
    names = bp.paper_names(args.data)
    if not names:
        raise SystemExit(f"no crops with bump_original maps in {args.data}")
    items = [bp.load_paper_item(args.data, n) for n in names]
    const = bp.fit_constants(items)
    bp.write_constants(const, args.out, f"{len(names)} crops of ../shared/data/paper")
    n = (const.mean_landmarks.size + const.mask_coef.size + const.bump_weights.size
         + const.bump_weights_grey.size)
    print(f"fitted {n} constants on {len(names)} crops in {time.perf_counter() - t0:.1f} s "
          f"-> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
