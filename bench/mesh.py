"""The final mesh as people open it: the original's layout (sparse + dense + mirrored dense,
concatenated) against the clean mesh (extreme3d.clean_mesh), per image.

Inputs: the paper crops (Surrey model, identity and pose fitted to their .pts, bump_original maps)
and the photos of data/test (the API: dlib landmarks, default sources). Per mesh: connected
components, boundary loops, non-manifold edges and vertices, inconsistently oriented edges,
unreferenced vertices, the largest step across the seam between detail and sparse surface (mm:
offset of a detail vertex at the seam from the completed sparse surface), how far detail
vertices deeper than the blend band moved (mm), the time of the clean build and, for the photos,
the textured OBJ (+MTL+PNG) bytes: the original layout, the clean mesh as the OBJ files get it by
default (error-bounded simplification: its topology, time and the exact distance of the full
clean vertices to it) and in full (`--decimate off`). `--render DIR` writes frontal and 60 degree
renders of the original, the clean and the simplified clean mesh for the first three photos.

Usage: python bench/mesh.py [--paper N] [--photos N] [--render DIR] [--max-gap MM].
Last line: SUMMARY key=value ...
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import sfm_source

from extreme3d.clean_mesh import (
    KIND_SPARSE,
    build_clean_mesh,
    detail_chart_positions,
    model_chart,
    surface_at,
)
from extreme3d.mesh_topology import boundary_half_edges, mesh_topology
from extreme3d.paths import shared_dir

HEADER = (f"{'image':34s} {'layout':8s} {'verts':>7s} {'faces':>7s} {'comp':>4s} {'loops':>5s} "
          f"{'nm_e':>4s} {'nm_v':>4s} {'flip':>4s} {'unref':>6s} {'step':>6s} {'moved':>7s} "
          f"{'obj_mb':>6s} {'ms':>6s}")


def original_seam_step(chart, model, geo) -> float:
    """Largest offset (mm) from the completed sparse surface of the original's detail vertices on
    the border of their patch (where the detail surface ends on the sparse one)."""
    final = geo.meshes["final_frontal"]
    nv = model.num_vertices
    ns = len(geo.registration["tri"])
    f = final.faces.astype(np.int64)
    uv_pair = detail_chart_positions(chart, geo.registration["tri"], geo.registration["w"],
                                     model.pair)
    steps = []
    for lo in (nv, nv + ns):
        patch = f[(f >= lo).all(1) & (f < lo + ns).all(1)]
        if len(patch) == 0:
            continue
        ends = np.unique(boundary_half_edges(patch, len(final.vertices)).reshape(-1))
        uv = uv_pair[0 if lo == nv else 1][ends - lo]
        base, face = surface_at(chart, np.asarray(model.faces, np.int64),
                                final.vertices[:nv].astype(np.float64), uv)
        d = np.linalg.norm(final.vertices[ends].astype(np.float64) - base, axis=1)[face >= 0]
        if len(d):
            steps.append(float(d.max()))
    return max(steps) if steps else 0.0


def clean_seam_step(clean) -> float:
    """Largest offset (mm) from the sparse surface of the clean mesh's detail vertices that share
    an edge with a sparse vertex or with a detail vertex of the other kind."""
    f = clean.mesh.faces.astype(np.int64)
    a = f.reshape(-1)
    b = f[:, [1, 2, 0]].reshape(-1)
    k = clean.kind.astype(np.int64)
    cross = k[a] != k[b]
    ends = np.unique(np.concatenate([a[cross], b[cross]]))
    ends = ends[k[ends] != KIND_SPARSE]
    return float(clean.offset[ends].max()) if len(ends) else 0.0


def interior_moved(clean, final) -> float:
    """Largest move (mm) of the detail vertices with full detail weight (beyond the band)."""
    deep = (clean.kind != KIND_SPARSE) & (clean.blend >= 1.0)
    if not deep.any():
        return 0.0
    d = clean.mesh.vertices[deep].astype(np.float64) - final.vertices[clean.source[deep]]
    return float(np.linalg.norm(d, axis=1).max())


def build(model, geo):
    """(CleanMesh, seconds) from a geometry result."""
    chart = model_chart(model)
    final = geo.meshes["final_frontal"]
    t0 = time.perf_counter()
    clean = build_clean_mesh(chart, model.faces, model.pair, final.vertices, final.faces,
                             model.num_vertices, geo.registration["tri"], geo.registration["w"])
    return clean, time.perf_counter() - t0


def row(name: str, layout: str, topo, step: float, moved: float, obj_mb: float, ms: float) -> str:
    """One table line."""
    return (f"{name[:34]:34s} {layout:8s} {topo.vertices:7d} {topo.faces:7d} {topo.components:4d} "
            f"{topo.boundary_loops:5d} {topo.nonmanifold_edges:4d} {topo.nonmanifold_vertices:4d} "
            f"{topo.inconsistent_edges:4d} {topo.unreferenced:6d} {step:6.2f} {moved:7.4f} "
            f"{obj_mb:6.2f} {ms:6.1f}")


def paper_runs(n: int, max_gap: float | None, stats: dict) -> None:
    """The paper crops: fitted identity/pose, bump_original maps, run_geometry, both layouts."""
    from extreme3d.bump_photo import load_paper_item, paper_names
    from extreme3d.fitting import fit_identity, fit_pose_expression
    from extreme3d.geometry import run_geometry

    data = shared_dir() / "data" / "paper"
    model = load_sfm()
    if model is None or not data.is_dir():
        print("paper crops or Surrey model missing: skipped", file=sys.stderr)
        return
    for name in paper_names(data)[:n]:
        crop, lm, bump, mask = load_paper_item(data, name)
        alpha = np.asarray(fit_identity(model, lm).alpha, np.float64).reshape(-1)
        fit = fit_pose_expression(model, lm, alpha, mode="faithful")
        geo = run_geometry(model, alpha, fit.expr, fit.rvec, fit.tvec, bump, mask,
                           max_gap=max_gap)
        record(stats, "paper", name, model, geo, None)


def record(stats: dict, group: str, name: str, model, geo, sizes) -> None:
    """Measures both layouts of one geometry result, prints and stores the figures."""
    final = geo.meshes["final_frontal"]
    clean, secs = build(model, geo)
    chart = model_chart(model)
    t_o = mesh_topology(final.vertices, final.faces)
    t_c = mesh_topology(clean.mesh.vertices, clean.mesh.faces)
    s_o = original_seam_step(chart, model, geo)
    s_c = clean_seam_step(clean)
    moved = interior_moved(clean, final)
    ob, cb, fb = sizes if sizes else (float("nan"),) * 3
    print(row(name, "original", t_o, s_o, 0.0, ob, 0.0))
    print(row(name, "clean", t_c, s_c, moved, fb, secs * 1e3), flush=True)
    if sizes:
        print(row(name, "simple", stats["simp_topo"][-1], float("nan"), float("nan"), cb,
                  stats["simp_s"][-1] * 1e3), flush=True)
    for key, value in (("orig", t_o), ("clean", t_c)):
        stats.setdefault(key, []).append(value)
    stats.setdefault("step_orig", []).append(s_o)
    stats.setdefault("step_clean", []).append(s_c)
    stats.setdefault("moved", []).append(moved)
    stats.setdefault("secs", []).append(secs)
    stats.setdefault("registered", []).append(geo.counts["registered"])
    stats.setdefault("used_orig", []).append(t_o.vertices - t_o.unreferenced)
    if sizes:
        stats.setdefault("obj_orig", []).append(ob)
        stats.setdefault("obj_clean", []).append(cb)
        stats.setdefault("obj_ratio", []).append(cb / ob)
        stats.setdefault("obj_full", []).append(fb)
        stats.setdefault("obj_ratio_full", []).append(fb / ob)
    stats.setdefault("last", {})[name] = (final, clean)


def load_sfm():
    """The Surrey model converted into a temporary file, or None when its files are missing."""
    from extreme3d.morphable import load_model
    from extreme3d.prepare.sfm import convert_sfm

    src = sfm_source()
    if not (src / "sfm_shape_3448.bin").is_file():
        return None
    tmp = Path(tempfile.mkdtemp())
    return load_model(convert_sfm(src, tmp / "sfm_mod.h5"))


def textured_bytes(res, clean, folder: Path, digits: int | None, stats: dict
                   ) -> tuple[float, float, float]:
    """(original, default clean, full clean) MB of the textured final OBJ + MTL + PNG: the
    original layout as written before issue 15, the clean mesh as the OBJ files get it by
    default (error-bounded simplification, extreme3d.decimate.simplify) and in full (`--decimate
    off`). Both clean OBJs are read back with trimesh (faces equal, largest position and uv
    errors stored); the simplification's time, faces, topology and distance of the full clean
    vertices to the simplified surface are stored."""
    from extreme3d.api import TexturedMesh
    from extreme3d.decimate import DETAIL_TOLERANCE_TEXELS, simplify

    orig = res.textured("final_frontal")  # the original layout (res.final is the clean mesh)
    orig.save(folder / "o" / "final.obj", digits=6, uv_digits=6)  # as written before issue 15
    cm = TexturedMesh(vertices=clean.mesh.vertices, faces=clean.mesh.faces,
                      uv=orig.uv[clean.source], texture=orig.texture)
    kw = {} if digits is None else {"digits": digits}
    readback(cm, cm.save(folder / "f" / "final.obj", **kw), stats)
    t0 = time.perf_counter()
    d = simplify(cm.vertices, cm.faces, cm.uv,
                 uv_tolerance=DETAIL_TOLERANCE_TEXELS / max(cm.texture.shape[:2]))
    stats.setdefault("simp_s", []).append(time.perf_counter() - t0)
    sm = TexturedMesh(vertices=d.vertices, faces=d.faces, uv=cm.uv[d.source], texture=cm.texture)
    readback(sm, sm.save(folder / "c" / "final.obj", **kw), stats)
    dist = surface_distance_exact(cm.vertices.astype(np.float64), d.vertices, d.faces)
    stats.setdefault("simp_p99", []).append(float(np.percentile(dist, 99)))
    stats.setdefault("simp_max", []).append(float(dist.max()))
    stats.setdefault("simp_faces", []).append(len(d.faces) / len(cm.faces))
    stats.setdefault("simp_topo", []).append(mesh_topology(d.vertices, d.faces))
    stats["simplified_last"] = d
    print(f"    simplified: {len(d.faces)} of {len(cm.faces)} faces "
          f"({len(d.faces) / len(cm.faces):.2f}), {stats['simp_s'][-1]:.2f} s, distance of the "
          f"clean vertices median {np.median(dist):.4f} p99 {np.percentile(dist, 99):.4f} max "
          f"{dist.max():.4f} mm")

    def mb(d: Path) -> float:
        return sum(p.stat().st_size for p in d.iterdir()) / 1e6

    return mb(folder / "o"), mb(folder / "c"), mb(folder / "f")


def readback(mesh, path: Path, stats: dict) -> None:
    """Reads an OBJ back with trimesh: faces and vertex count must equal the mesh's; the largest
    position (mm) and uv errors are stored."""
    from extreme3d.io.obj import read_obj_texture

    v, f, uv, tex = read_obj_texture(path)
    if not np.array_equal(f, mesh.faces) or tex is None or len(v) != len(mesh.vertices):
        raise RuntimeError(f"{path}: the OBJ read back is not the mesh written")
    stats.setdefault("readback_mm", []).append(float(np.abs(v - mesh.vertices).max()))
    stats.setdefault("readback_uv", []).append(float(np.abs(uv - mesh.uv).max()))


def photo_runs(n: int, max_gap: float | None, stats: dict, digits: int | None, ratio: float
               ) -> None:
    """The test photos through the API (first face), geometry re-run for its registration."""
    from extreme3d.api import Reconstructor
    from extreme3d.geometry import run_geometry

    data = shared_dir() / "data" / "test"
    model = load_sfm()
    if model is None or not data.is_dir():
        print("test photos or Surrey model missing: skipped", file=sys.stderr)
        return
    rec = Reconstructor(model)
    photos = sorted(p for p in data.iterdir() if p.suffix.lower() in (".jpg", ".png", ".jpeg"))
    for path in photos[:n]:
        try:
            res = rec.reconstruct(path)[0]
        except Exception as exc:  # noqa: BLE001
            print(f"{path.name}: {exc}", file=sys.stderr)
            continue
        mask = res.mask if res.geometry_mask is None else res.geometry_mask  # as the API's
        geo = run_geometry(model, res.alpha, res.expr, res.pose.rvec, res.pose.tvec, res.bump,
                           mask, max_gap=max_gap)
        clean, _ = build(model, geo)
        with tempfile.TemporaryDirectory() as tmp:
            sizes = textured_bytes(res, clean, Path(tmp), digits, stats)
            if ratio < 1.0:
                decimation(res, clean, ratio, Path(tmp), digits, stats)
        stats.setdefault("simplified", {})[path.stem] = stats.pop("simplified_last")
        record(stats, "photo", path.stem, model, geo, sizes)


def surface_distance(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray,
                     k: int = 12) -> np.ndarray:
    """Distance (mm) of each point to the nearest of the k triangles with the nearest
    centroids (exact point-triangle distances)."""
    from scipy.spatial import cKDTree

    tri = np.asarray(vertices, np.float64)[faces]
    _, near = cKDTree(tri.mean(1)).query(points, k=k)
    best = np.full(len(points), np.inf)
    for j in range(k):
        best = np.minimum(best, _point_triangle(points, tri[near[:, j]]))
    return best


def surface_distance_exact(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray,
                           floor: float = 0.01) -> np.ndarray:
    """Distance (mm) of each point to the surface: `surface_distance` (an upper bound: the
    nearest triangle may not be among the 12 nearest centroids when triangles are large), made
    exact for the points farther than `floor` mm by testing every triangle whose bounding
    sphere (centroid, largest centroid-corner distance) comes within that bound (triangles
    grouped by radius, one KD-tree per group)."""
    from scipy.spatial import cKDTree

    best = surface_distance(points, vertices, faces)
    tri = np.asarray(vertices, np.float64)[faces]
    cen = tri.mean(1)
    rad = np.linalg.norm(tri - cen[:, None], axis=2).max(1)
    idx = np.flatnonzero(best > floor)
    if not len(idx):
        return best
    cuts = [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, np.inf]
    for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
        ids = np.flatnonzero((rad > lo) & (rad <= hi) if lo > 0 else rad <= hi)
        if not len(ids):
            continue
        lists = cKDTree(cen[ids]).query_ball_point(points[idx], best[idx] + rad[ids].max())
        lens = np.fromiter((len(x) for x in lists), np.int64, len(lists))
        if not lens.sum():
            continue
        pi = np.repeat(idx, lens)
        tj = ids[np.concatenate([np.asarray(x, np.int64) for x in lists])]
        for s in range(0, len(pi), 1 << 20):
            sl = slice(s, s + (1 << 20))
            np.minimum.at(best, pi[sl], _point_triangle(points[pi[sl]], tri[tj[sl]]))
    return best


def _point_triangle(p: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Exact distances of points p (N,3) to triangles tri (N,3,3): the plane when the
    projection is inside, else the nearest edge."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    n = np.cross(b - a, c - a)
    nn = np.linalg.norm(n, axis=1)
    n = n / np.where(nn > 0, nn, 1)[:, None]
    d_plane = np.einsum("ij,ij->i", p - a, n)
    q = p - d_plane[:, None] * n
    inside = np.ones(len(p), bool)
    for u, v in ((a, b), (b, c), (c, a)):
        inside &= np.einsum("ij,ij->i", np.cross(v - u, q - u), n) >= 0
    edge = np.full(len(p), np.inf)
    for u, v in ((a, b), (b, c), (c, a)):
        e = v - u
        t = np.clip(np.einsum("ij,ij->i", p - u, e) / np.maximum(
            np.einsum("ij,ij->i", e, e), 1e-30), 0, 1)
        edge = np.minimum(edge, np.linalg.norm(p - (u + t[:, None] * e), axis=1))
    return np.where(inside & (nn > 0), np.abs(d_plane), edge)


def decimation(res, clean, ratio: float, folder: Path, digits: int | None, stats: dict
               ) -> None:
    """Decimates the clean mesh: time, faces kept, distance of the clean vertices to the
    decimated surface, textured OBJ bytes."""
    from extreme3d.api import TexturedMesh
    from extreme3d.decimate import decimate

    t0 = time.perf_counter()
    d = decimate(clean.mesh.vertices, clean.mesh.faces, ratio)
    secs = time.perf_counter() - t0
    dist = surface_distance_exact(clean.mesh.vertices.astype(np.float64), d.vertices, d.faces)
    orig = res.textured("final_frontal")
    uv = orig.uv[clean.source][d.source]
    TexturedMesh(vertices=d.vertices, faces=d.faces, uv=uv,
                 texture=orig.texture).save(folder / "d" / "final.obj",
                                            **({} if digits is None else {"digits": digits}))
    mb = sum(p.stat().st_size for p in (folder / "d").iterdir()) / 1e6
    print(f"    decimated {ratio:.2f}: {len(d.faces)} faces, {secs:.2f} s, distance to the clean "
          f"surface median {np.median(dist):.3f} p99 {np.percentile(dist, 99):.3f} max "
          f"{dist.max():.2f} mm, OBJ+MTL+PNG {mb:.2f} MB")
    stats.setdefault("dec_s", []).append(secs)
    stats.setdefault("dec_p99", []).append(float(np.percentile(dist, 99)))
    stats.setdefault("dec_max", []).append(float(dist.max()))
    stats.setdefault("dec_mb", []).append(mb)


def render_pair(final, clean, out: Path, simplified=None) -> None:
    """Writes <out> : original | clean (| the clean mesh simplified as in the OBJ files),
    frontal (top) and turned 60 degrees (bottom)."""
    import cv2

    from extreme3d.preview import frontal_pose
    from extreme3d.render import render

    tiles = []
    for yaw in (0.0, 60.0):
        a = np.deg2rad(yaw)
        rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        row_imgs = []
        meshes = [(final.vertices, final.faces), (clean.mesh.vertices, clean.mesh.faces)]
        if simplified is not None:
            meshes.append((simplified.vertices, simplified.faces))
        for v, f in meshes:
            vr = np.asarray(v, np.float64) @ rot.T
            r, t = frontal_pose(vr)
            rgb, _ = render(vr, f, r, t, shading="lambert")
            row_imgs.append(rgb[:, :, ::-1])
        tiles.append(np.concatenate(row_imgs, 1))
    cv2.imwrite(str(out), np.concatenate(tiles, 0))


def main() -> None:
    """Runs the paper crops and the test photos; prints the table and the SUMMARY line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paper", type=int, default=46, help="paper crops to measure")
    parser.add_argument("--photos", type=int, default=100, help="test photos to measure")
    parser.add_argument("--render", type=Path, help="folder for renders of three photos")
    parser.add_argument("--max-gap", type=float, default=None, help="registration gap (mm)")
    parser.add_argument("--digits", type=int, default=None,
                        help="decimals of the clean OBJ's positions (default: the writer's)")
    parser.add_argument("--decimate", type=float, default=0.25,
                        help="fraction of faces kept by the decimation measured on the photos")
    args = parser.parse_args()
    print(HEADER)
    stats: dict = {}
    paper_runs(args.paper, args.max_gap, stats)
    photo_stats: dict = {}
    photo_runs(args.photos, args.max_gap, photo_stats, args.digits, args.decimate)
    if args.render and photo_stats.get("last"):
        args.render.mkdir(parents=True, exist_ok=True)
        for name, (final, clean) in list(photo_stats["last"].items())[:3]:
            render_pair(final, clean, args.render / f"{name[:40]}.png",
                        photo_stats.get("simplified", {}).get(name))
    for k, v in photo_stats.items():
        if k not in ("last", "simplified"):
            stats.setdefault(k, []).extend(v)
    if not stats.get("clean"):
        print("SUMMARY images=0")
        return
    orig, clean = stats["orig"], stats["clean"]

    def mx(items, attr):
        return max(getattr(t, attr) for t in items)

    nan = float("nan")
    print(
        f"original: components_max={mx(orig, 'components')} "
        f"boundary_loops_max={mx(orig, 'boundary_loops')} "
        f"nonmanifold_edges={sum(t.nonmanifold_edges for t in orig)} "
        f"unreferenced_median={statistics.median(t.unreferenced for t in orig):.0f} "
        f"seam_step_mm_max={max(stats['step_orig']):.2f} "
        f"obj_mb_median={statistics.median(stats.get('obj_orig', [nan])):.2f}"
    )
    if stats.get("dec_s"):
        print(f"decimate {args.decimate}: s_median={statistics.median(stats['dec_s']):.2f} "
              f"distance_p99_mm_max={max(stats['dec_p99']):.3f} "
              f"distance_mm_max={max(stats['dec_max']):.2f} "
              f"obj_mb_median={statistics.median(stats['dec_mb']):.2f}")
    if stats.get("simp_s"):
        st = stats["simp_topo"]
        print(f"simplified OBJ (default): images={len(st)} "
              f"components_max={mx(st, 'components')} "
              f"boundary_loops_max={mx(st, 'boundary_loops')} "
              f"nonmanifold_edges={sum(t.nonmanifold_edges for t in st)} "
              f"nonmanifold_vertices={sum(t.nonmanifold_vertices for t in st)} "
              f"flipped_edges={sum(t.inconsistent_edges for t in st)} "
              f"unreferenced={sum(t.unreferenced for t in st)} "
              f"faces_kept_median={statistics.median(stats['simp_faces']):.3f} "
              f"faces_kept_max={max(stats['simp_faces']):.3f} "
              f"distance_p99_mm_max={max(stats['simp_p99']):.4f} "
              f"distance_mm_max={max(stats['simp_max']):.4f} "
              f"s_median={statistics.median(stats['simp_s']):.3f} "
              f"s_max={max(stats['simp_s']):.3f}")
        print(f"full clean OBJ (--decimate off): obj_mb_median="
              f"{statistics.median(stats['obj_full']):.2f} obj_ratio_median="
              f"{statistics.median(stats['obj_ratio_full']):.3f}")
    if stats.get("readback_mm"):
        print(f"clean OBJs read back (trimesh): faces equal, position_mm_max="
              f"{max(stats['readback_mm']):.4f} uv_max={max(stats['readback_uv']):.6f}")
    print(f"registered_median={statistics.median(stats['registered']):.0f} "
          f"original_used_vertices_median={statistics.median(stats['used_orig']):.0f} "
          f"clean_vertices_median={statistics.median(t.vertices for t in clean):.0f}")
    print(
        f"SUMMARY images={len(clean)} components_max={mx(clean, 'components')} "
        f"boundary_loops_max={mx(clean, 'boundary_loops')} "
        f"nonmanifold_edges={sum(t.nonmanifold_edges for t in clean)} "
        f"nonmanifold_vertices={sum(t.nonmanifold_vertices for t in clean)} "
        f"flipped_edges={sum(t.inconsistent_edges for t in clean)} "
        f"unreferenced={sum(t.unreferenced for t in clean)} "
        f"seam_step_mm_max={max(stats['step_clean']):.3f} "
        f"interior_moved_mm_max={max(stats['moved']):.4f} "
        f"obj_mb_median={statistics.median(stats.get('obj_clean', [nan])):.2f} "
        f"obj_mb_median_original={statistics.median(stats.get('obj_orig', [nan])):.2f} "
        f"obj_ratio_median={statistics.median(stats.get('obj_ratio', [nan])):.3f} "
        f"obj_readback_mm_max={max(stats.get('readback_mm', [nan])):.4f} "
        f"clean_s_median={statistics.median(stats['secs']):.3f}"
    )


if __name__ == "__main__":
    main()
