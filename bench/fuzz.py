"""Fuzzes every extreme3d._core entry point (issue 17): structured inputs decoded from the fuzzer's
bytes (dtype, shape near the expected one, special values: NaN, inf, 1e300, 2**32 + 5, strided
and reversed views) and passed to the entry point. A refusal (ValueError, TypeError) is fine;
any other exception, a native crash (signal) or a hang (> --timeout s for one input) is a finding.

Engine: atheris (libFuzzer; `pip install atheris`, optional) when importable -- one child
process per entry point, `-max_total_time=--seconds`; else a seeded random byte generator
(same decoder, same checks) in a child process per entry point. The native code is not
coverage-instrumented (g++ build), so the search is structured-random rather than
coverage-guided either way.

    python bench/fuzz.py --seconds 20            # every entry point, 20 s each
    python bench/fuzz.py --seconds 60 --only render,combine_bump

Ends with `SUMMARY engine=.. entry_points=.. seconds_each=.. fuzz_execs=.. fuzz_crashes=..`.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

np.seterr(all="ignore")
SPECIAL = [0.0, 1.0, -1.0, 0.5, 2.0, 499.0, 1e3, -1e3, 1e7, 1e38, 3.5e38, 1e160, 1e300, -1e300,
           np.nan, np.inf, -np.inf, 2.0**31, 2.0**32 + 5, -(2.0**31), 255.0, 256.0, 300.0]
DTYPES = [np.float32, np.float64, np.int32, np.int64, np.uint8, np.uint64, np.int8, bool,
          np.float16, np.complex64, object]
SIZES = [0, 1, 2, 3, 4, 5, 68, 100, -1]


class Source:
    """Decodes fuzzer bytes into choices (ints, floats, arrays); zeros once exhausted."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0
        self.hostile = self.byte() % 2 == 1  # else every value is well-formed (reaches the core)

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def pick(self, items):
        return items[self.byte() % len(items)]

    def flag(self, percent: int = 50) -> bool:
        return self.byte() * 100 < percent * 256

    def number(self) -> float:
        if self.hostile and self.flag(40):
            return float(self.pick(SPECIAL))
        raw = int.from_bytes(bytes(self.byte() for _ in range(4)), "little")
        return (raw / 2**32 - 0.5) * self.pick([1.0, 10.0, 1000.0, 1e6])

    def integer(self, typical: list[int]) -> int:
        if not self.hostile or self.flag(70):
            return int(self.pick(typical))
        return int(self.pick([-1, 0, 1, 2**31 - 1, 2**31, -(2**31), 2**40, 7, 1 << 20]))

    def array(self, shape: tuple[int, ...], sane: tuple[float, float] = (-50.0, 50.0),
              dtype=np.float64) -> object:
        """An array near `shape` (-1 in shape: a small size) of mostly-sane values."""
        if not self.hostile:
            shp = [s if s >= 0 else self.pick([3, 10, 50]) for s in shape]
            seed = self.byte() | (self.byte() << 8)
            values = np.random.default_rng(seed).uniform(sane[0], sane[1], int(np.prod(shp)))
            return values.astype(dtype).reshape(shp)
        if self.flag(10):
            return self.pick([None, 3, "x", [1, 2], [[1, 2], [3]]])
        shp = [s if s >= 0 else self.pick([0, 1, 3, 10, 50]) for s in shape]
        if self.flag(15):
            shp = [self.pick(SIZES) if s < 0 else s for s in
                   [self.pick(SIZES) for _ in range(self.pick([0, 1, 2, 3]))]]
            shp = [max(0, s) for s in shp]
        if self.flag(10):
            shp = [s + self.pick([-1, 1]) for s in shp]
            shp = [max(0, s) for s in shp]
        n = int(np.prod(shp)) if shp else 1
        if n > 4_000_000:
            shp, n = [1], 1
        seed = self.byte() | (self.byte() << 8)
        values = np.random.default_rng(seed).uniform(sane[0], sane[1], n)
        for _ in range(self.byte() % 4):
            if n:
                values[self.byte() * n // 256] = self.pick(SPECIAL)
        dt = dtype if self.flag(70) else self.pick(DTYPES)
        with np.errstate(all="ignore"):
            try:
                arr = values.astype(dt).reshape(shp)
            except (ValueError, TypeError, OverflowError):
                arr = values.reshape(shp)
        if arr.ndim and self.flag(15):  # a reversed / strided view of a bigger array
            big = np.repeat(arr, 2, axis=0)
            arr = big[::-2] if self.flag() else big[::2]
        return arr


def tiny_model():
    """A small valid FaceModel (100 vertices, 5 + 4 components)."""
    from extreme3d import _core

    xy = np.stack(np.meshgrid(np.arange(10.0), np.arange(10.0)), -1).reshape(-1, 2) * 10 - 45
    mu = np.concatenate([xy, np.zeros((100, 1))], 1).reshape(-1).astype(np.float32)
    faces = np.array([[i, i + 1, i + 10] for i in range(89) if i % 10 != 9], np.int32)
    rng = np.random.default_rng(0)
    return _core.FaceModel(mu, rng.standard_normal((300, 5)).astype(np.float32),
                           np.ones(5, np.float32), np.zeros(300, np.float32),
                           rng.standard_normal((300, 4)).astype(np.float32),
                           np.ones(4, np.float32), faces, faces, np.arange(100, dtype=np.int32),
                           np.arange(68, dtype=np.int32), np.arange(68, dtype=np.int32))


def _pose(s: Source):
    return s.array((3,), (-0.5, 0.5)), s.array((3,), (-10.0, 10.0)) - np.array([0, 0, 500.0])


def _size(s: Source) -> int:
    return s.integer([2, 3, 16, 64, 100, 200])


def harnesses(model) -> dict:
    """Entry point name -> function(Source) calling it."""
    from extreme3d import _core

    def lm(s):
        return s.array((68, 2), (20.0, 180.0))

    return {
        "FaceModel": lambda s: _core.FaceModel(
            s.array((300,)), s.array((300, 5)), s.array((5,), (0, 2)), s.array((300,)),
            s.array((300, 4)), s.array((4,), (0, 2)), s.array((-1, 3), (0, 100), np.int32),
            s.array((-1, 3), (0, 100), np.int32), s.array((100,), (0, 100), np.int32),
            s.array((68,), (0, 100), np.int32), s.array((68,), (0, 100), np.int32)),
        "FaceModel.vertices": lambda s: model.vertices(s.array((5,)), s.array((4,))),
        "render": lambda s: _core.render(
            s.array((-1, 3)), s.array((-1, 3), (0, 10), np.int32), *_pose(s),
            s.array((-1, 3), (0, 255)) if s.flag() else None, s.number() if s.flag(20) else 200.0,
            _size(s), _size(s), s.pick(["flat", "lambert", "x"])),
        "render_triangle_ids": lambda s: _core.render_triangle_ids(
            s.array((-1, 3)), s.array((-1, 3), (0, 10), np.int32), *_pose(s),
            s.number() if s.flag(20) else 200.0, _size(s), _size(s)),
        "depth_to_metric": lambda s: _core.depth_to_metric(
            s.array((-1, -1), (0, 1), np.float32), s.number() if s.flag(30) else 50.0,
            s.number() if s.flag(30) else 1e4),
        "epnp": lambda s: _core.epnp(s.array((68, 3)), s.array((68, 2), (0, 500)),
                                     s.number() if s.flag(20) else 1000.0, _size(s), _size(s)),
        "fit_pose_expression": lambda s: _core.fit_pose_expression(
            model, lm(s), s.array((5,), (-1, 1)), 1000.0, 200, 200,
            s.pick(["faithful", "best", "x"])),
        "fit_identity": lambda s: _core.fit_identity(
            model, lm(s), 1000.0, 200, 200, s.number() if s.flag(20) else 4.0,
            s.number() if s.flag(20) else 4.0, s.integer([1, 2, 3, 8])),
        "combine_bump": lambda s: _core.combine_bump(
            model, s.array((5,), (-1, 1)), s.array((4,), (-1, 1)), *_pose(s),
            s.array((70, 70), (0, 255), np.uint8), s.array((70, 70), (0, 255), np.uint8),
            s.number() if s.flag(20) else 1000.0, s.integer([64, 50, 2]),
            s.integer([64, 50, 2]), s.flag(), s.integer([0, 6, 3]),
            s.number() if s.flag(20) else 4.0),
        "dense_mesh": lambda s: _core.dense_mesh(
            s.array((40, 40), (0.9, 1.0), np.float32), s.array((46, 46), (0, 255), np.uint8),
            s.array((46, 46), (0, 255), np.uint8) if s.flag() else None,
            s.number() if s.flag(20) else 1000.0, s.integer([6, 0, 3])),
        "grid_faces": lambda s: _core.grid_faces(s.array((-1, -1), (-1, 50), np.int32)),
        "bump_to_mm": lambda s: _core.bump_to_mm(s.integer([0, 127, 255, 256, -1])),
        "occlusion_map": lambda s: _core.occlusion_map(
            s.array((30, 30), (0.5, 1), np.float32), s.array((30, 30), (0.5, 1), np.float32),
            *_pose(s), s.number() if s.flag(20) else 1000.0),
        "occlusion_reference_pose": lambda s: _core.occlusion_reference_pose(*_pose(s)),
        "occlusion_scores": lambda s: _core.occlusion_scores(
            s.array((50, 3)), s.array((50,), (0, 2), bool), s.array((40, 40), (0, 1), np.float32),
            *_pose(s), s.number() if s.flag(20) else 1000.0),
        "blur_counts": lambda s: _core.blur_counts(s.array((-1, -1), (0, 255), np.uint8),
                                                   s.integer([3, 5, 1, 0, 7])),
        "detector_pyramid_level": lambda s: _core.detector_pyramid_level(
            s.array((-1, -1, 3), (0, 255), np.uint8), s.integer([1, 0, 2, 3, -1]),
            s.integer([0, 1, 3, 8, 101, -1]), s.flag(70)),
        "delaunay_triangles": lambda s: _core.delaunay_triangles(s.array((-1, 2), (0, 100),
                                                                         np.float32)),
        "estimate_rigid_transform": lambda s: _core.estimate_rigid_transform(
            s.array((-1, 3), (-50, 50), np.float32), s.array((-1, 3), (-50, 50), np.float32)),
        "point_in_triangle": lambda s: _core.point_in_triangle(
            s.array((2,)), s.array((2,)), s.array((2,)), s.array((2,))),
        "format_ply_body": lambda s: _core.format_ply_body(
            s.array((-1, 3)), s.array((-1, 3), (0, 255), np.uint8) if s.flag() else None,
            s.array((-1, 3), (0, 10), np.int64) if s.flag() else None,
            s.pick(["cpp", "python", "x"])),
        "format_obj_rows": lambda s: _core.format_obj_rows(
            s.array((-1, 3), (-50, 50), s.pick([np.float64, np.int64, np.uint64])),
            s.pick(["v ", "f ", ""]), s.integer([6, 0, 30, 31]), s.integer([1, 2, 3, 4])),
        "vertex_normals": lambda s: _core.vertex_normals(
            s.array((-1, 3), (-50, 50), np.float32), s.array((-1, 3), (0, 10), np.int32)),
        "vertex_footprint": lambda s: _core.vertex_footprint(
            s.array((-1, 2), (-500, 500)), s.array((-1, 3), (0, 10), np.int32)),
        "mirror_nearest": lambda s: _core.mirror_nearest(
            s.array((-1, 3)), s.array((-1, 3)), s.number() if s.flag(30) else 3.0),
        "mirror_nearest_sets": lambda s: _core.mirror_nearest_sets(
            s.array((-1, 3)), [s.array((-1, 3)) for _ in range(int(s.pick([0, 1, 2, 3])))],
            s.number() if s.flag(30) else 3.0),
        "harmonic_fill": lambda s: _core.harmonic_fill(
            s.array((-1, 3), (0, 20), np.int32), s.array((20, 3), (-255, 255)),
            s.array((20,), (0, 2), bool), s.number() if s.flag(20) else 1e-6),
        "push_pull_fill": lambda s: _core.push_pull_fill(
            s.array((-1, -1, 3), (0, 1), np.float32), s.array((-1, -1), (0, 2), bool)),
        "rasterize_uv": lambda s: _core.rasterize_uv(
            s.array((-1, 2), (0, 1), np.float32), s.array((-1, 3), (0, 10), np.int32),
            s.integer([8, 32, 64, 0])),
        "bake_texture": lambda s: _core.bake_texture(
            s.array((100, 3), (-45, 45), np.float32), s.array((-1, 3), (0, 100), np.int32),
            s.array((100, 2), (0, 1), np.float32), s.array((64, 64, 3), (0, 255), np.uint8),
            s.array((64, 64), (-600, -400), np.float32), s.array((64, 64), (0, 2), bool),
            s.array((3, 3), (-1, 1)), s.array((3,), (-10, 10)) - np.array([0, 0, 500.0]),
            size=s.integer([16, 32, 8]), focal=s.number() if s.flag(20) else 60.0,
            seam_factor=s.integer([4, 1, 2])),
        "photo_samples": lambda s: _core.photo_samples(
            s.array((-1, 3), (-45, 45)), s.array((-1, 3), (-1, 1)),
            s.array((64, 64, 3), (0, 255), np.uint8), s.array((64, 64), (-600, -400), np.float32),
            s.array((64, 64), (0, 2), bool), s.array((3, 3), (-1, 1)),
            s.array((3,), (-10, 10)) - np.array([0, 0, 500.0]),
            focal=s.number() if s.flag(20) else 60.0),
        # the clean-mesh builder (src/cpp/core: mesh_edges, delaunay, chart_raster,
        # raster_morphology, mesh_repair)
        "boundary_half_edges": lambda s: _core.boundary_half_edges(
            s.array((-1, 3), (-1, 40), np.int32), s.integer([40, 0, 10, -1])),
        "face_components": lambda s: _core.face_components(
            s.array((-1, 3), (-1, 40), np.int32), s.integer([40, 0, 10, -1])),
        "drop_bowties": lambda s: _core.drop_bowties(
            s.array((-1, 3), (-1, 40), np.int32), s.integer([40, 0, 10, -1])),
        "delaunay_2d": lambda s: _core.delaunay_2d(s.array((-1, 2), (-100, 100))),
        "orient_by_area": lambda s: _core.orient_by_area(
            s.array((-1, 2), (-10, 10)), s.array((-1, 3), (-1, 20), np.int32),
            s.number() if s.flag(20) else 1.0),
        "weighted_positions": lambda s: _core.weighted_positions(
            s.array((-1, 3)), s.array((-1, 3), (-1, 20), np.int32), s.array((-1, 3), (0, 1))),
        "binary_dilation": lambda s: _core.binary_dilation(
            s.array((-1, -1), (0, 2), bool), s.integer([1, 0, 3, -1, 100])),
        "binary_erosion": lambda s: _core.binary_erosion(
            s.array((-1, -1), (0, 2), bool), s.integer([1, 0, 3, -1, 100])),
        "distance_transform": lambda s: _core.distance_transform(
            s.array((-1, -1), (0, 2), bool)),
        "region_distance": lambda s: _core.region_distance(
            s.array((-1,), (-1, 400), np.int32), s.array((20, 20), (0, 2), bool),
            s.integer([0, 1, 3, -1])),
        "ChartRaster": lambda s: _chart_raster(_core, s),
        "simplify_bounded": lambda s: _core.simplify_bounded(
            s.array((-1, 3), (-10, 10)), s.array((-1, 3), (-1, 20), np.int32),
            s.array((-1, 2), (0, 1)) if s.flag(50) else None,
            abs(s.number()) if s.flag(80) else s.number(),
            s.number() if s.flag(30) else 0.01, s.number() if s.flag(20) else 0.5,
            s.number() if s.flag(20) else 0.1, s.number() if s.flag(20) else -1.0),
    }


def _chart_raster(core, s: Source):
    """Builds a ChartRaster from fuzzed arrays and queries it."""
    raster = core.ChartRaster(
        s.array((-1, 2), (-10, 10)), s.array((-1, 3), (-1, 20), np.int32),
        s.array((-1, -1), (-1, 20), np.int32), s.array((-1, -1), (0, 2), bool),
        s.array((2,), (-10, 0)), s.number() if s.flag(20) else 1.0)
    raster.surface(s.array((-1, 3)), s.array((-1, 2), (-10, 10)))
    raster.inside(s.array((-1, 2), (-10, 10)))
    raster.triangles_inside(s.array((-1, 2), (-10, 10)), s.array((-1, 3), (-1, 20), np.int32))


def one_input(fn, data: bytes) -> None:
    """Runs one input; refusals are fine, any other exception propagates (a finding)."""
    import warnings

    warnings.simplefilter("ignore")
    try:
        fn(Source(data))
    except (ValueError, TypeError):
        pass


def child(name: str, seconds: float, engine: str, artifacts: str) -> None:
    """Fuzzes one entry point in this process (exits on a finding)."""
    fn = harnesses(tiny_model())[name]
    if engine == "atheris":
        import atheris

        atheris.Setup([sys.argv[0], f"-max_total_time={int(seconds)}", "-print_final_stats=1",
                       "-timeout=60", "-rss_limit_mb=6144", "-max_len=512",
                       f"-artifact_prefix={artifacts}/"], lambda d: one_input(fn, d))
        atheris.Fuzz()
        return
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    n, end = 0, time.time() + seconds
    while time.time() < end:
        data = rng.integers(0, 256, int(rng.integers(0, 512)), dtype=np.uint8).tobytes()
        Path(artifacts, "current").write_bytes(data)
        one_input(fn, data)
        n += 1
    print(f"stat::number_of_executed_units: {n}", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="fuzzing time per entry point")
    ap.add_argument("--only", default="", help="comma-separated entry points (default: all)")
    ap.add_argument("--engine", choices=("auto", "atheris", "random"), default="auto")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--artifacts", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401

            engine = "atheris"
        except ImportError:
            engine = "random"
    if args.child:
        child(args.child, args.seconds, engine, args.artifacts)
        return 0
    names = list(harnesses(tiny_model()))
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    execs = crashes = 0
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.time()
            try:
                proc = subprocess.run(
                    [sys.executable, __file__, "--child", name, "--seconds", str(args.seconds),
                     "--engine", engine, "--artifacts", tmp],
                    capture_output=True, text=True, timeout=args.seconds + 120)
                rc, err = proc.returncode, proc.stderr
            except subprocess.TimeoutExpired as exc:
                rc, err = "hang", (exc.stderr or b"").decode(errors="replace")
            m = re.findall(r"stat::number_of_executed_units:\s*(\d+)", err)
            n = int(m[-1]) if m else 0
            status = "ok" if rc == 0 else f"FINDING rc={rc}"
            if rc != 0:
                crashes += 1
                kept = Path("build/fuzz_findings")
                kept.mkdir(parents=True, exist_ok=True)
                for f in Path(tmp).iterdir():
                    (kept / f"{name}_{f.name}").write_bytes(f.read_bytes())
                tail = [ln for ln in err.splitlines() if ln.strip()][-6:]
                print("\n".join("    " + ln for ln in tail))
            execs += n
            print(f"{name:26s} {n:8d} execs {time.time() - t0:6.1f} s  {status}", flush=True)
    print(f"SUMMARY engine={engine} entry_points={len(names)} seconds_each={args.seconds:g} "
          f"fuzz_execs={execs} fuzz_crashes={crashes}")
    return 0 if crashes == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
