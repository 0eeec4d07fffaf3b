"""End to end on in-the-wild photos: the shared test photos through the batch as a new user runs
it (`--formats ply,obj --preview`, CNN-free fallbacks: identity from the landmarks, photo bump
estimator, Surrey model), then with the default outputs; per stage the wall and CPU seconds per
image, peak RSS, and in the same run the reference implementations for the ratios: the numpy
texture bake (extreme3d.texture_reference) on the meshes the batch baked, and dlib detection at
full resolution on the photos (plus 3x upscaled copies: photos >= 2000 px).

    .venv/bin/python bench/e2e.py [--images 22] [--shared ../shared] [--bakes 6]

Last line: SUMMARY e2e_s=.. e2e_cpu_s=.. default_cpu_s=.. bake_ms=.. bake_ratio=.. detect_ms=..
detect_ratio=.. colors_ms=.. peak_rss_mb=..
(e2e_s, e2e_cpu_s: median wall / CPU seconds per image of the ply,obj,preview run; default_cpu_s:
the same for the default outputs; bake_ms: median new bake of a 1024x1024 texture; bake_ratio:
median reference / new time on the same meshes; detect_ms: median detection (landmarks
included) per test photo; detect_ratio: median full-resolution / new detection time on the
photos of >= 2000 px; colors_ms: median photo vertex colours per mesh; CPU times count every
thread of this process.)
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

#: (module, attribute, stage name): functions timed per call (wall and CPU of the process).
TIMED = (
    ("extreme3d.pipeline", "_prepare_entry", "prepare"),
    ("extreme3d.landmarks", "detect_faces", "detect"),
    ("extreme3d.fitting", "fit_identity", "shape_fit"),
    ("extreme3d.fitting", "fit_pose_expression", "pose_fit"),
    ("extreme3d.stages.bump", "photo_bump_info", "bump_photo"),
    ("extreme3d.stages.face", "deoccluded", "occlusion"),
    ("extreme3d.geometry", "run_geometry", "geometry"),
    ("extreme3d.colors", "render_depth", "depth_render"),
    ("extreme3d.colors", "photo_vertex_colors", "colors"),
    ("extreme3d.texture", "bake_texture", "texture"),
    ("extreme3d.overlay", "overlay_image", "overlay"),
    ("extreme3d.preview", "write_preview", "preview"),
    ("extreme3d.stages.outputs", "save_face", "outputs"),
    ("extreme3d.pipeline", "run_core", "core_total"),
)


def cpu_now() -> float:
    """CPU seconds (user + system) of this process, all threads."""
    return time.process_time()


def peak_rss_mb() -> float:
    """Peak resident memory of this process, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Timer:
    """Per-stage lists of (wall, cpu) seconds of every timed call, with hooks on some calls."""

    def __init__(self) -> None:
        self.calls: dict[str, list[tuple[float, float]]] = defaultdict(list)
        self.hooks: dict[str, Callable[..., None]] = {}
        self._saved: list[tuple[Any, str, Any]] = []

    def wrap(self, module: Any, attr: str, stage: str) -> None:
        """Replaces module.attr by a timed wrapper (undone by `restore`)."""
        fn = getattr(module, attr)

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0, c0 = time.perf_counter(), cpu_now()
            try:
                return fn(*args, **kwargs)
            finally:
                self.calls[stage].append((time.perf_counter() - t0, cpu_now() - c0))
                hook = self.hooks.get(stage)
                if hook is not None:
                    hook(*args, **kwargs)

        self._saved.append((module, attr, fn))
        setattr(module, attr, timed)

    def install(self) -> None:
        """Wraps every function of TIMED."""
        import importlib

        for mod, attr, stage in TIMED:
            self.wrap(importlib.import_module(mod), attr, stage)

    def restore(self) -> None:
        """Puts the original functions back."""
        for module, attr, fn in reversed(self._saved):
            setattr(module, attr, fn)
        self._saved.clear()

    def reset(self) -> None:
        """Forgets the recorded calls."""
        self.calls.clear()


def run_batch_timed(photos: list[Path], work: Path, model: Path, out: str, timer: Timer,
                    **options: Any) -> tuple[Any, float, float]:
    """Runs the batch on the photos; (summary, wall s, CPU s)."""
    from extreme3d.pipeline import BatchOptions, run_batch

    listing = work / f"{out}.txt"
    listing.write_text("".join(f"{p}\n" for p in photos))
    cnn = work / "no_cnn"
    cnn.mkdir(exist_ok=True)
    timer.reset()
    t0, c0 = time.perf_counter(), cpu_now()
    summary = run_batch(BatchOptions(
        input_list=listing, output_dir=work / out, model_path=model, cnn_dir=cnn,
        device="cpu", progress=False, isolate_core=False, isolate_stages=False, **options,
    ), log=lambda _msg: None)
    wall, cpu = time.perf_counter() - t0, cpu_now() - c0
    for rec in summary.failed:
        print(f"  failed: {rec.name}: {rec.reason}", file=sys.stderr)
    return summary, wall, cpu


def per_image(timer: Timer, n: int, wall: float, cpu: float) -> tuple[np.ndarray, np.ndarray]:
    """Wall and CPU seconds per image: its prepare, identity fit and core stage calls, plus an
    equal share of what the batch spent outside them."""
    stages = ("prepare", "shape_fit", "core_total")
    lists = [timer.calls.get(s, []) for s in stages]
    if any(len(x) != n for x in lists):  # a failed image: fall back to the mean
        return np.full(n, wall / max(n, 1)), np.full(n, cpu / max(n, 1))
    w = np.sum([[c[0] for c in x] for x in lists], axis=0)
    c = np.sum([[c[1] for c in x] for x in lists], axis=0)
    return w + (wall - w.sum()) / n, c + (cpu - c.sum()) / n


def report(name: str, timer: Timer, n: int, wall: float, cpu: float) -> tuple[float, float]:
    """Prints the per-stage table of a run; returns the median (wall, CPU) per image."""
    w, c = per_image(timer, n, wall, cpu)
    print(f"{name}: {n} images, {wall:.1f} s wall, {cpu:.1f} s CPU; per image median "
          f"{np.median(w):.3f} s wall, {np.median(c):.3f} s CPU (mean {wall / n:.3f} / "
          f"{cpu / n:.3f}); load {os.getloadavg()[0]:.1f}")
    print(f"  {'stage':14s} {'calls':>5s} {'wall s/img':>10s} {'cpu s/img':>10s} "
          f"{'median wall':>11s} {'median cpu':>10s}  (per call)")
    for _, _, stage in TIMED:
        calls = timer.calls.get(stage, [])
        if not calls:
            continue
        a = np.array(calls)
        print(f"  {stage:14s} {len(a):5d} {a[:, 0].sum() / n:10.3f} {a[:, 1].sum() / n:10.3f} "
              f"{np.median(a[:, 0]):11.4f} {np.median(a[:, 1]):10.4f}")
    return float(np.median(w)), float(np.median(c))


def bake_ratio(cases: list[dict[str, Any]]) -> tuple[float, float, float]:
    """(median new bake ms, median reference / new ratio, share of texels within 1 grey level)
    on the captured bake inputs, each baked by both implementations back to back."""
    from extreme3d.texture import bake_texture
    from extreme3d.texture_reference import bake_texture_reference

    new_ms, ratios, close = [], [], []
    for args in cases:
        t0 = time.perf_counter()
        new = bake_texture(**args)
        t1 = time.perf_counter()
        ref = bake_texture_reference(**args)
        t2 = time.perf_counter()
        new_ms.append(1000 * (t1 - t0))
        ratios.append((t2 - t1) / max(t1 - t0, 1e-9))
        diff = np.abs(new.image.astype(int) - ref.image.astype(int)).max(axis=2)
        close.append(float(np.mean(diff <= 1)))
        print(f"  bake {new.image.shape[0]}px: new {1000 * (t1 - t0):.0f} ms, reference "
              f"{1000 * (t2 - t1):.0f} ms, texels within 1 grey level {100 * close[-1]:.2f}%")
    return float(np.median(new_ms)), float(np.median(ratios)), float(np.min(close))


def detection_ratio(photos: list[Path], work: Path) -> tuple[float, float, float]:
    """(median new detection ms on the photos, median full-res / new ratio on the photos of >=
    2000 px (the test photos upscaled 3x when none is that large), largest landmark difference
    in px between the two)."""
    import cv2

    from extreme3d.landmarks import detect_faces, detect_faces_full, read_image

    def timed(fn: Callable[[np.ndarray], list], img: np.ndarray) -> tuple[float, list]:
        t0 = time.perf_counter()
        faces = fn(img)
        return time.perf_counter() - t0, faces

    images = [read_image(p) for p in photos]
    detect_faces(images[0])  # load the models outside the timing
    new_s, worst = [], 0.0
    for img in images:
        dt, faces = timed(detect_faces, img)
        new_s.append(dt)
    big = [im for im in images if max(im.shape[:2]) >= 2000]
    if not big:
        big = [cv2.resize(im, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
               for im in images if max(im.shape[:2]) >= 700][:4]
    ratios = []
    for img in big + images:
        dn, new = timed(detect_faces, img)
        df, ref = timed(detect_faces_full, img)
        if img is not None and max(img.shape[:2]) >= 2000:
            ratios.append(df / max(dn, 1e-9))
            print(f"  detection {img.shape[1]}x{img.shape[0]}: new {1000 * dn:.0f} ms, full "
                  f"resolution {1000 * df:.0f} ms, faces {len(new)}/{len(ref)}")
        if len(new) == len(ref):
            for a, b in zip(new, ref, strict=True):
                worst = max(worst, float(np.abs(a.landmarks - b.landmarks).max()))
        else:
            worst = float("inf")
    return 1000 * float(np.median(new_s)), float(np.median(ratios)), worst


def use_reference_implementations() -> None:
    """Makes the batch use the reference implementations (for a before/after comparison)."""
    from extreme3d import landmarks, texture, texture_reference

    texture.bake_texture = texture_reference.bake_texture_reference
    landmarks.detect_faces = landmarks.detect_faces_full


def main(argv: list[str] | None = None) -> int:
    """Runs the bench and prints the SUMMARY line."""
    from extreme3d.paths import shared_dir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=0, help="first N test photos (0: all)")
    ap.add_argument("--shared", type=Path, default=shared_dir())
    ap.add_argument("--bakes", type=int, default=6, help="bakes replayed against the reference")
    ap.add_argument("--skip-default", action="store_true")
    ap.add_argument("--reference", action="store_true",
                    help="run the batch with the reference implementations (the numpy bake, "
                         "full-resolution detection): the state before issue 16")
    args = ap.parse_args(argv)
    photos = sorted((args.shared / "data" / "test").glob("*.*"))
    if args.images:
        photos = photos[: args.images]
    if not photos:
        print(f"no photos in {args.shared / 'data' / 'test'}", file=sys.stderr)
        return 1
    from extreme3d.prepare.sfm import convert_sfm

    timer = Timer()
    if args.reference:
        use_reference_implementations()
    cases: list[dict[str, Any]] = []

    def capture(*a: Any, **kw: Any) -> None:
        """Keeps the inputs of the first bakes for the reference comparison."""
        if len(cases) < args.bakes:
            names = ("frontal", "faces", "image_bgr", "rvec", "tvec")
            case = dict(zip(names, a, strict=False)) | kw
            cases.append({k: np.array(v) if isinstance(v, np.ndarray) else v
                          for k, v in case.items()})

    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        work = Path(tmp)
        model = convert_sfm(args.shared / "models" / "sfm", work / "sfm_mod.h5")
        timer.install()
        timer.hooks["texture"] = capture
        try:
            s1, wall1, cpu1 = run_batch_timed(photos, work, model, "out_obj", timer,
                                              formats=("ply", "obj"), preview=True)
            n1 = len(s1.done)
            e2e_s, e2e_cpu = report("ply,obj,preview", timer, n1, wall1, cpu1)
            col = np.array(timer.calls.get("colors", [(np.nan, np.nan)]))
            tex = np.array(timer.calls.get("texture", [(np.nan, np.nan)]))
            colors_ms = 1000 * float(np.median(col[:, 0]))
            default_cpu = float("nan")
            if not args.skip_default:
                s2, wall2, cpu2 = run_batch_timed(photos, work, model, "out_default", timer)
                _, default_cpu = report("default outputs", timer, len(s2.done), wall2, cpu2)
        finally:
            timer.restore()
        print(f"in-batch texture bake: median {1000 * np.median(tex[:, 0]):.0f} ms wall, "
              f"{1000 * np.median(tex[:, 1]):.0f} ms CPU per mesh")
        bake_ms, ratio, close = bake_ratio(cases)
        detect_ms, detect_ratio, worst = detection_ratio(photos, work)
        print(f"reference bake / new: {ratio:.1f}x; worst texture agreement {100 * close:.2f}% "
              f"of texels within 1 grey level; detection full / new on >= 2000 px: "
              f"{detect_ratio:.1f}x, largest landmark difference {worst:.2f} px")
    print(
        f"SUMMARY e2e_s={e2e_s:.3f} e2e_cpu_s={e2e_cpu:.3f} default_cpu_s={default_cpu:.3f} "
        f"bake_ms={bake_ms:.1f} bake_ratio={ratio:.1f} detect_ms={detect_ms:.1f} "
        f"detect_ratio={detect_ratio:.1f} colors_ms={colors_ms:.1f} "
        f"peak_rss_mb={peak_rss_mb():.0f}"
    )
    return 0 if n1 else 1


if __name__ == "__main__":
    sys.exit(main())
