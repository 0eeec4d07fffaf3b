"""Per-image time of the core stages on the paper images, landmark RMSE, and eos's fit for scale.

For every paper crop (imgs/*.png + .pts, bump and mask from bump_blended): identity (paper
alpha with a 99-coefficient model, else fitted to the landmarks), pose + expression fit, the
geometry stages (timings from GeometryResult.timings_ms) and writing the four default meshes.
Stages reported (median and max ms per image): identity, fit, render (foundation + render),
dense+bump (dense_mesh + bump), occlusion+symmetry (all other geometry stages), write; `core`
= identity + fit + geometry (no file IO).

The landmark RMSE (px) is measured on the 50 iBUG landmarks with a fixed vertex in the Surrey
model's ibug_to_sfm.txt (1-based iBUG 9, 18-60, 62-64, 66-68: the chin and every inner point
except the inner mouth corners; the contour moves with the pose in both fits): the mapped
vertices of the fitted shape, projected with the pose the pipeline uses downstream. eos
(`eos.fitting.fit_shape_and_pose`, Surrey model + expression blendshapes, edge topology and
contours, 500x500, default settings) is timed and measured on the same landmarks and vertices
with its affine camera.

Usage: python bench/core.py [--data DIR] [--model H5] [--fit faithful|best] [--limit N]
Last line: SUMMARY core_s_median=.. core_s_max=.. fit_ms_median=.. rmse_px_median=..
eos_fit_ms_median=.. eos_rmse_px_median=.. boundary_loops_median=..
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from extreme3d.paths import shared_dir

#: 0-based iBUG landmarks with a fixed Surrey vertex (the ibug_to_sfm.txt mapping): 50 points.
FIXED_LANDMARKS = np.array([8, *range(17, 60), 61, 62, 63, 65, 66, 67])
RENDER_KEYS = ("foundation", "render")
DENSE_KEYS = ("dense_mesh", "bump")


def sfm_mapping(sfm_dir: Path) -> dict[int, int]:
    """iBUG landmark (0-based) -> Surrey vertex (0-based) from ibug_to_sfm.txt."""
    from extreme3d.prepare.sfm import MAPPING_FILE, read_mapping

    return read_mapping(sfm_dir / MAPPING_FILE)


def boundary_loops(faces: np.ndarray) -> int:
    """Number of connected components of the boundary edges (edges of exactly one triangle)."""
    f = np.asarray(faces, np.int64).reshape(-1, 3)
    if f.size == 0:
        return 0
    e = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    uniq, counts = np.unique(e, axis=0, return_counts=True)
    border = uniq[counts == 1]
    if border.size == 0:
        return 0
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    verts, inv = np.unique(border, return_inverse=True)
    inv = inv.reshape(-1, 2)
    n = verts.size
    graph = coo_matrix((np.ones(len(inv)), (inv[:, 0], inv[:, 1])), shape=(n, n))
    return int(connected_components(graph, directed=False)[0])


def rmse(uv: np.ndarray, lms: np.ndarray) -> float:
    """Root mean squared point distance (px)."""
    return float(np.sqrt(np.mean(np.sum((uv - lms) ** 2, axis=1))))


class EosFitter:
    """eos's fit_shape_and_pose with the Surrey model, as in eos's fit-model example."""

    def __init__(self, sfm_dir: Path) -> None:
        import eos

        self.eos = eos
        model = eos.morphablemodel.load_model(str(sfm_dir / "sfm_shape_3448.bin"))
        blend = eos.morphablemodel.load_blendshapes(
            str(sfm_dir / "expression_blendshapes_3448.bin"))
        self.model = eos.morphablemodel.MorphableModel(
            model.get_shape_model(), blend, color_model=eos.morphablemodel.PcaModel(),
            vertex_definitions=None, texture_coordinates=model.get_texture_coordinates(),
        )
        self.mapper = eos.core.LandmarkMapper(str(sfm_dir / "ibug_to_sfm.txt"))
        self.edges = eos.morphablemodel.load_edge_topology(
            str(sfm_dir / "sfm_3448_edge_topology.json"))
        self.contour = eos.fitting.ContourLandmarks.load(str(sfm_dir / "ibug_to_sfm.txt"))
        self.model_contour = eos.fitting.ModelContour.load(str(sfm_dir / "sfm_model_contours.json"))

    def fit(self, lms: np.ndarray, w: int = 500, h: int = 500):
        """(mesh vertices (V, 3), pixel projection function) of eos's fit."""
        marks = [self.eos.core.Landmark(str(i + 1), [float(x), float(y)])
                 for i, (x, y) in enumerate(lms)]
        mesh, pose, _, _ = self.eos.fitting.fit_shape_and_pose(
            self.model, marks, self.mapper, w, h, self.edges, self.contour, self.model_contour)
        mvp = np.asarray(pose.get_projection()) @ np.asarray(pose.get_modelview())
        verts = np.asarray(mesh.vertices, np.float64)

        def project(ids: np.ndarray) -> np.ndarray:
            hom = np.c_[verts[ids], np.ones(len(ids))] @ mvp.T
            ndc = hom[:, :2] / hom[:, 3:4]
            return np.stack([(ndc[:, 0] + 1) * w / 2, h - (ndc[:, 1] + 1) * h / 2], axis=1)

        return verts, project


def main() -> None:
    """Runs the benchmark and prints the table and the SUMMARY line."""
    from extreme3d.camera import project as cam_project
    from extreme3d.io.pts import read_pts
    from extreme3d.pipeline import default_model_path, load_morphable
    from extreme3d.testPaperResults import DEFAULT_OUTPUTS, list_images, run_image

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=shared_dir() / "data" / "paper")
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--fit", default="faithful", choices=("faithful", "best"))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--sfm-dir", type=Path, default=shared_dir() / "models" / "sfm")
    args = ap.parse_args()

    model_path = args.model
    tmp = tempfile.TemporaryDirectory()
    if model_path is None:
        model_path = default_model_path()
        if not model_path.is_file():
            from extreme3d.prepare.sfm import convert_sfm

            model_path = Path(tmp.name) / "sfm_mod.h5"
            convert_sfm(args.sfm_dir, model_path)
    model = load_morphable(model_path)
    mapping = sfm_mapping(args.sfm_dir)
    vids = np.array([mapping[i] for i in FIXED_LANDMARKS])
    sfm_sized = model.num_vertices == 3448
    eos_fit = EosFitter(args.sfm_dir)

    names = list_images(args.data)[: args.limit]
    stages = {k: [] for k in ("identity", "fit", "render", "dense+bump", "occl+sym", "write")}
    core, ours_rmse, eos_ms, eos_rmse, loops, failed = [], [], [], [], [], []
    out = Path(tmp.name) / "out"
    for name in names:
        rec = run_image(model, name, args.data, out, fit_mode=args.fit, outputs=DEFAULT_OUTPUTS,
                        keep=True)
        if not rec.ok:
            failed.append(name)
            print(f"{name}: FAILED {rec.reason}")
            continue
        g = rec.geometry_ms
        render = sum(g.get(k, 0.0) for k in RENDER_KEYS)
        dense = sum(g.get(k, 0.0) for k in DENSE_KEYS)
        other = sum(v for k, v in g.items() if k not in RENDER_KEYS + DENSE_KEYS)
        row = {"identity": rec.seconds["identity"] * 1e3, "fit": rec.seconds["fit"] * 1e3,
               "render": render, "dense+bump": dense, "occl+sym": other,
               "write": rec.seconds["write"] * 1e3}
        for k, v in row.items():
            stages[k].append(v)
        core.append(rec.seconds["identity"] + rec.seconds["fit"] + rec.seconds["geometry"])
        loops.append(boundary_loops(rec.meshes["final_frontal"].faces))

        lms = read_pts(args.data / "imgs" / f"{name}.pts")
        fit = rec.fit
        if sfm_sized:
            verts = model.shape(fit.alpha, fit.expr).astype(np.float64)
            uv = cam_project(verts[vids], fit.rvec, fit.tvec)
            ours_rmse.append(rmse(uv, lms[FIXED_LANDMARKS]))
        t0 = time.perf_counter()
        _, eproj = eos_fit.fit(lms)
        eos_ms.append((time.perf_counter() - t0) * 1e3)
        eos_rmse.append(rmse(eproj(vids), lms[FIXED_LANDMARKS]))
        print(f"{name[:40]:40s} core {core[-1] * 1e3:7.1f} ms fit {row['fit']:6.1f} ms "
              f"rmse {ours_rmse[-1] if ours_rmse else float('nan'):5.2f} px | eos "
              f"{eos_ms[-1]:6.1f} ms rmse {eos_rmse[-1]:5.2f} px | loops {loops[-1]}")

    print(f"\n{len(core)} images ({len(failed)} failed), model {model_path.name}, fit {args.fit}")
    print(f"{'stage':12s} {'median ms':>10s} {'max ms':>10s}")
    for k, v in stages.items():
        if v:
            print(f"{k:12s} {np.median(v):10.1f} {np.max(v):10.1f}")

    def med(v):
        return float(np.median(v)) if v else float("nan")

    print(
        f"SUMMARY core_s_median={med(core):.3f} core_s_max={max(core, default=float('nan')):.3f} "
        f"fit_ms_median={med(stages['fit']):.2f} rmse_px_median={med(ours_rmse):.2f} "
        f"eos_fit_ms_median={med(eos_ms):.1f} eos_rmse_px_median={med(eos_rmse):.2f} "
        f"boundary_loops_median={med(loops):.0f}"
    )
    tmp.cleanup()


if __name__ == "__main__":
    main()
