"""Vertex colours against the photo: how well each coloured mesh, rendered at the fitted pose,
reproduces the crop (footprint-matched samples against point samples).

Usage: python bench/colors.py [--shared ../shared] [--images N] [--model FILE]

Runs the API (`Reconstructor`, the batch's defaults) on the test photos
(`<shared>/data/test`), keeps the inputs of every `photo_vertex_colors` call, then colours each
mesh twice: with `footprint=True` (the default: coarse vertices sampled at their footprint's
blur) and `footprint=False` (point samples). Each result is rendered at the fitted pose with
the triangles whose three vertices came from the photo, unlit, and compared with the crop on
the pixels they cover (RMSE, grey levels, RGB). Meshes are grouped by kind: `model` (the
morphable model's own vertices: the foundation and the identity shape), `dense` (withBump) and
`final` (final_frontal, with its sparse surround).

Last line: SUMMARY images=.. model_rmse=.. model_rmse_point=.. dense_rmse=.. dense_rmse_point=..
final_rmse=.. final_rmse_point=.. ms_per_mesh=.. ms_per_mesh_point=.. (medians over meshes).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from extreme3d.paths import shared_dir

REPO = Path(__file__).resolve().parent.parent


def rmse_at_pose(colour: Callable[..., Any], args: tuple, kwargs: dict, footprint: bool
                 ) -> tuple[float, float]:
    """(RMSE grey levels of the coloured photo triangles rendered at the pose against the crop,
    seconds of the colouring) for one captured call of `colour` (photo_vertex_colors)."""
    from extreme3d import colors as C
    from extreme3d.render import render

    t0 = time.perf_counter()
    vc = colour(*args, **kwargs, footprint=footprint)
    secs = time.perf_counter() - t0
    v, faces, img, rvec, tvec = args[:5]
    f = np.asarray(faces).reshape(-1, 3)
    seen = vc.source == C.SOURCE_PHOTO
    h, w = img.shape[:2]
    rgb, depth = render(v, f[seen[f].all(axis=1)], rvec, tvec, colors=vc.colors,
                        focal=kwargs.get("focal", C.FOCAL), width=w, height=h)
    cov = depth < 1
    if not cov.any():
        return float("nan"), secs
    d = rgb[cov].astype(np.float64) - np.asarray(img)[:, :, ::-1][cov]
    return float(np.sqrt(np.mean(d * d))), secs


def main() -> int:
    """Runs the bench and prints one line per image and the SUMMARY line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=shared_dir())
    ap.add_argument("--images", type=int, default=0, help="first N photos (0: all)")
    ap.add_argument("--model", type=Path, default=REPO / "3DMM_model" / "sfm_mod.h5")
    args = ap.parse_args()
    photos = sorted(p for p in (args.shared / "data" / "test").iterdir() if p.is_file())
    if args.images:
        photos = photos[: args.images]
    if not photos or not args.model.exists():
        print(f"need photos in {args.shared / 'data' / 'test'} and the model {args.model} "
              "(make demo converts the Surrey model)")
        return 1

    import extreme3d.colors as C
    from extreme3d.api import Reconstructor

    colour = C.photo_vertex_colors
    calls: list[tuple[tuple, dict]] = []

    def keep(*a, **k):  # noqa: ANN002, ANN003
        """photo_vertex_colors, its arguments recorded."""
        calls.append((a, k))
        return colour(*a, **k)

    C.photo_vertex_colors = keep
    rec = Reconstructor(model=str(args.model))
    model_vertices = None
    figures: dict[str, dict[bool, list[float]]] = defaultdict(lambda: defaultdict(list))
    times: dict[bool, list[float]] = defaultdict(list)
    done = 0
    for path in photos:
        calls.clear()
        try:
            faces = rec.reconstruct(str(path))  # colours every mesh (stages.result.color_meshes)
        except Exception as exc:  # noqa: BLE001 - a photo the pipeline refuses is reported
            print(f"{path.name}: {exc}")
            continue
        model_vertices = model_vertices or faces[0].model.num_vertices
        # the kind by vertex count (the test photos hold one face each): the model's own
        # vertices, the largest mesh (final_frontal), the rest (withBump)
        sizes = [len(a[0]) for a, _ in calls]
        row = []
        for a, k in calls:
            n = len(a[0])
            kind = "model" if n == model_vertices else "final" if n == max(sizes) else "dense"
            for fp in (True, False):
                err, secs = rmse_at_pose(colour, a, k, fp)
                figures[kind][fp].append(err)
                times[fp].append(secs)
            on, off = figures[kind][True][-1], figures[kind][False][-1]
            row.append(f"{kind} {on:.2f} (point {off:.2f})")
        done += 1
        print(f"{path.name[:40]:40s} " + ", ".join(row), flush=True)
    C.photo_vertex_colors = colour
    if not done:
        return 1

    def med(kind: str, fp: bool) -> float:
        """Median RMSE (grey levels) of one kind of mesh, footprint on or off."""
        return float(np.nanmedian(figures[kind][fp])) if figures[kind][fp] else float("nan")

    parts = [f"images={done}"]
    for kind in ("model", "dense", "final"):
        parts += [f"{kind}_rmse={med(kind, True):.3f}", f"{kind}_rmse_point={med(kind, False):.3f}"]
    parts += [f"ms_per_mesh={1000 * np.median(times[True]):.1f}",
              f"ms_per_mesh_point={1000 * np.median(times[False]):.1f}"]
    print("SUMMARY " + " ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
