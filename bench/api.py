"""Bench of the Python API: seconds per face for reconstruct() and for writing the full output
set (PLY + textured OBJ + params + overlay), and the textured-render error on visible pixels.

    .venv/bin/python bench/api.py [--model 3DMM_model/sfm_mod.h5] [--images N]

Uses the shared test photos (../shared/data/test); ends with one SUMMARY line.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    """Runs the bench and prints the SUMMARY line."""
    from extreme3d.api import Reconstructor
    from extreme3d.paths import shared_dir
    from extreme3d.pipeline import default_model_path
    from extreme3d.texture import SOURCE_PHOTO, render_textured

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--images", type=int, default=6)
    ap.add_argument("--bump-source", default="flat")
    args = ap.parse_args(argv)
    photos = sorted((shared_dir() / "data" / "test").iterdir())[: args.images]
    t0 = time.perf_counter()
    rec = Reconstructor(model=args.model or default_model_path(), bump_source=args.bump_source)
    load_s = time.perf_counter() - t0
    rec_s, save_s, maes = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for p in photos:
            t = time.perf_counter()
            try:
                face = rec.reconstruct(p)[0]
            except Exception as exc:  # noqa: BLE001 - report and go on
                print(f"{p.name}: {exc}", file=sys.stderr)
                continue
            rec_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            face.save(tmp, formats=("ply", "obj"))
            save_s.append(time.perf_counter() - t)
            fin = face.final
            rgb, cov, pos = render_textured(fin.vertices, fin.faces, fin.uv, fin.texture,
                                            face.pose.rvec, face.pose.tvec)
            src = face.texture_map("final_frontal").source
            s = src.shape[0]
            texel = src[np.clip(pos[..., 1].astype(int), 0, s - 1),
                        np.clip(pos[..., 0].astype(int), 0, s - 1)]
            sel = cov & (texel == SOURCE_PHOTO)
            maes.append(float(np.abs(rgb[sel].astype(float) - face.crop[:, :, ::-1][sel]).mean()))
            print(f"{p.name}: reconstruct {rec_s[-1]:.2f} s, save {save_s[-1]:.2f} s, "
                  f"textured MAE {maes[-1]:.2f}, yaw {face.pose.yaw:.1f}")
    n = len(rec_s)
    print(f"SUMMARY faces={n} load_s={load_s:.2f} reconstruct_s={np.mean(rec_s):.2f} "
          f"save_ply_obj_s={np.mean(save_s):.2f} textured_mae_mean={np.mean(maes):.2f} "
          f"textured_mae_max={np.max(maes):.2f}")
    return 0 if n else 1


if __name__ == "__main__":
    sys.exit(main())
