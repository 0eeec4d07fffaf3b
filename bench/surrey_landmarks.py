#!/usr/bin/env python3
"""How well the converted Surrey model's landmark lists fit real landmarks, using the original
program's own poses.

Reads the original's meshes (../shared/oracle/run.py output: <name>_foundation_frontal.ply and
<name>_foundation_aligned.ply, made with the given model and zero alphas), recovers its pose
(rigid fit frontal -> aligned; yaw = -rvec[1]), projects the model's landmark vertices with its
camera (f = 1000, 500x500, x mirrored) and compares with DATA/imgs/<name>.pts:

  far      contour points of the side turning away (1-8 for yaw > 0, 10-17 for yaw < 0), for
           |yaw| < pi/9 where the original uses the inner list: mean error (px) with the inner
           list and with the outer list;
  face     points 18-68: mean error (px) over all images.

  python ../shared/oracle/run.py --h5 MODEL.h5 --data ../shared/data/paper --out REF
  bench/surrey_landmarks.py --model MODEL.h5 --ref REF [--data ../shared/data/paper]

The last line is `SUMMARY key=value ...`.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import cv2
import numpy as np

from extreme3d.morphable import load_model
from extreme3d.paths import shared_dir

FOCAL, CENTRE = 1000.0, 250.0


def read_ply_vertices(path: Path) -> np.ndarray:
    """Vertices (V, 3) of an ASCII PLY."""
    lines = path.read_text().splitlines()
    count = next(int(x.split()[2]) for x in lines if x.startswith("element vertex"))
    start = lines.index("end_header") + 1
    return np.array([[float(v) for v in x.split()[:3]] for x in lines[start : start + count]])


def main() -> None:
    """Prints per-image errors and the SUMMARY line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--ref", required=True, type=Path, help="the oracle's output folder")
    ap.add_argument("--data", type=Path, default=shared_dir() / "data" / "paper")
    a = ap.parse_args()
    model = load_model(a.model)
    inner, outer = model.inner_landmarks, model.outer_landmarks
    far_in, far_out, face = [], [], []
    for aligned_path in sorted(a.ref.glob("*_foundation_aligned.ply")):
        name = aligned_path.name[: -len("_foundation_aligned.ply")]
        aligned = read_ply_vertices(aligned_path)
        frontal = read_ply_vertices(a.ref / f"{name}_foundation_frontal.ply")
        u, _, vt = np.linalg.svd((frontal - frontal.mean(0)).T @ (aligned - aligned.mean(0)))
        rot = (u @ vt).T
        yaw = -float(cv2.Rodrigues(rot)[0][1, 0])
        pts = np.loadtxt(a.data / "imgs" / f"{name}.pts")
        proj = np.column_stack([
            -FOCAL * aligned[:, 0] / aligned[:, 2] + CENTRE,
            FOCAL * aligned[:, 1] / aligned[:, 2] + CENTRE,
        ])
        err_face = np.linalg.norm(proj[outer[17:]] - pts[17:], axis=1).mean()
        face.append(err_face)
        line = f"{name[:40]:40s} yaw {math.degrees(yaw):6.1f} face {err_face:5.2f}"
        if 0 < abs(yaw) < math.pi / 9:
            side = list(range(8)) if yaw > 0 else list(range(9, 17))
            e_in = np.linalg.norm(proj[inner[side]] - pts[side], axis=1).mean()
            e_out = np.linalg.norm(proj[outer[side]] - pts[side], axis=1).mean()
            far_in.append(e_in)
            far_out.append(e_out)
            line += f" far inner {e_in:5.2f} outer {e_out:5.2f}"
        print(line)
    if not face:
        raise SystemExit(f"no *_foundation_aligned.ply in {a.ref}")
    print(
        f"SUMMARY images={len(face)} far_images={len(far_in)} "
        f"far_inner_px={np.mean(far_in):.2f} far_outer_px={np.mean(far_out):.2f} "
        f"face_px={np.mean(face):.2f}"
    )


if __name__ == "__main__":
    main()
