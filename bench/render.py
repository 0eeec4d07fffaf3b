"""Renders per second of the OSMesa renderer at 500x500: the Surrey model mean (3448 vertices)
and a synthetic 47k-vertex face-sized height field (BFM-sized: 47,089 vertices, 93,312 faces).

Usage: python bench/render.py [--seconds S]. Last line: SUMMARY key=value ...
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _common import height_field, sfm_source

from extreme3d.render import render, render_triangle_ids

POSE = (np.array([0.05, 0.35, -0.04]), np.array([3.0, -2.0, -1000.0]))


def sfm_mesh() -> tuple[np.ndarray, np.ndarray] | None:
    """Mean shape and faces (0-based) of the Surrey model converted like the test fixture."""
    src = sfm_source()
    if not (src / "sfm_shape_3448.bin").is_file():
        return None
    import h5py

    from extreme3d.prepare.sfm import convert_sfm

    with tempfile.TemporaryDirectory() as tmp:
        out = convert_sfm(src, Path(tmp) / "sfm_mod.h5")
        with h5py.File(out, "r") as f:
            vertices = np.asarray(f["shapeMU"], np.float32).reshape(-1, 3)
            faces = np.asarray(f["faces"], np.int32) - 1  # the file is 1-based
    return vertices, faces


def height_field_mesh(n: int = 217) -> tuple[np.ndarray, np.ndarray]:
    """An n x n face-sized half-ellipsoid height field (mm), triangles facing +z."""
    x, y, z, faces = height_field(n)
    vertices = np.stack([x.ravel(), y.ravel(), z.ravel()], 1).astype(np.float32)
    return vertices, faces


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of fn() (1 / median call time over about `seconds`, after 3 warm-up
    calls; the median is robust to the odd preemption on a shared machine)."""
    for _ in range(3):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1.0 / float(np.median(times))


def main() -> None:
    """Measures the rates and prints them with the SUMMARY line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()
    meshes = {"bfm47k": height_field_mesh()}
    sfm = sfm_mesh()
    if sfm is not None:
        meshes = {"sfm": sfm, **meshes}
    summary = {}
    rvec, tvec = POSE
    for name, (v, f) in meshes.items():
        covered = int((render(v, f, rvec, tvec)[1] < 1).sum())
        flat = rate(lambda v=v, f=f: render(v, f, rvec, tvec), args.seconds)
        lam = rate(lambda v=v, f=f: render(v, f, rvec, tvec, shading="lambert"), args.seconds)
        ids = rate(lambda v=v, f=f: render_triangle_ids(v, f, rvec, tvec), args.seconds)
        print(
            f"{name}: {len(v)} vertices, {len(f)} faces, {covered} px covered at 500x500: "
            f"flat {flat:.1f}/s, lambert {lam:.1f}/s, triangle ids {ids:.1f}/s"
        )
        summary[f"{name}_renders_per_s"] = f"{flat:.1f}"
        summary[f"{name}_lambert_per_s"] = f"{lam:.1f}"
        summary[f"{name}_ids_per_s"] = f"{ids:.1f}"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} CPUs, load average {load:.1f} (rates fall when the CPUs are shared)")
    print("SUMMARY " + " ".join(f"{k}={v}" for k, v in summary.items()))


if __name__ == "__main__":
    main()
