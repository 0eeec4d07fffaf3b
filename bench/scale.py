"""Throughput of the batch with the local engine and with Ray on this machine, per-stage costs,
Ray's start-up, and kill trials (the inputs of docs/scale.md's projection).

On `--images` paper crops with their .pts (landmark path) and the Surrey model:
- local engine with --jobs 1 and --jobs 2 (images/s of the whole run, models loaded included);
- Ray (a fresh local cluster) with 1 and 2 CPUs: images/s of the whole run, the start-up
  (ray.init + actors ready, models loaded) reported apart, and the run's time line (entries the
  warm start did while the cluster started, the actors' first and last answers, cluster stop);
- per-stage seconds per image (summary.json and the params files' timings);
- the prepare stage with dlib detection on in-the-wild test photos (CPU seconds, --detect);
- the two CNN stages on CPU with real-size networks of random weights (bench/batch.py's ResNet-101
  and U-Net) on a few crops (--cnn-images, 0 to skip);
- kill trials: a Ray run over 3 crops whose geometry actor is killed (ray.kill) as soon as the
  first image's files appear; a trial is ok when the job completes with every image done and
  the same files and bytes as the local engine, and no temporary file left.

    .venv/bin/python bench/scale.py [--images 20] [--trials 5] [--cnn-images 4]

Last line: SUMMARY local_img_s=.. ray1_img_s=.. ray2_img_s=.. ray_overhead=.. kill_trials_ok=..
(local_img_s: the local engine's best of --jobs 1/2; rayN_img_s: whole Ray runs at N CPUs,
start-up included; ray_overhead = 1 - ray2_img_s / local_img_s; plus ray2_steady_img_s
(start-up excluded), ray_start_s and the per-stage seconds.)
The machine may be shared: wall-clock figures are noisy; cpu_s figures are this process's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from extreme3d.output_guard import LOCK_FILE
from extreme3d.paths import shared_dir
from extreme3d.pipeline import BatchOptions, run_batch

STAGE_KEYS = ("prepare", "shape_cnn", "bump_cnn", "core", "write")


def _options(listing: Path, out: Path, landmarks: Path, model: Path, **kw) -> BatchOptions:
    return BatchOptions(input_list=listing, output_dir=out, landmark_dir=landmarks,
                        model_path=model, progress=False, **kw)


def _files(folder: Path) -> dict[str, bytes]:
    """Output files (state folder, summary and timings excluded) -> comparable content."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if (not p.is_file() or ".extreme3d" in p.parts
                or p.name in ("summary.json", LOCK_FILE)):  # state, run lock, timings
            continue
        rel = str(p.relative_to(folder))
        data = p.read_bytes()
        if rel.startswith("params/"):
            doc = json.loads(data)
            doc.pop("timings_s", None)
            data = json.dumps(doc, sort_keys=True).encode()
        elif rel == "imList.txt":
            data = data.replace(str(folder).encode(), b"<out>")
        out[rel] = data
    return out


def _param_timings(folder: Path) -> dict[str, float]:
    """Mean of the params files' timings_s per key (fit, bump, geometry, colors, ...)."""
    sums: dict[str, list[float]] = {}
    for p in (folder / "params").glob("*.json"):
        for k, v in json.loads(p.read_text()).get("timings_s", {}).items():
            sums.setdefault(k, []).append(float(v))
    return {k: sum(v) / len(v) for k, v in sums.items()}


def _ray_run(opts: BatchOptions, cpus: int) -> tuple[float, float, object]:
    """(wall seconds, start-up seconds, summary) of a Ray run on a fresh local cluster."""
    import ray

    from extreme3d.engines.ray_engine import RayOptions, run_ray_batch

    t0 = time.perf_counter()
    summary = run_ray_batch(opts, RayOptions(num_cpus=cpus), log=lambda _m: None)
    wall = time.perf_counter() - t0
    start = summary.options.get("ray_init_s", 0.0) + summary.options.get("ray_actors_ready_s", 0)
    assert not ray.is_initialized()
    return wall, start, summary


def _kill_trial(opts: BatchOptions, out: Path, want: dict[str, bytes]) -> bool:
    """One Ray run whose first geometry actor is killed once files appear; True when it
    completes with every image done, the reference's files and bytes, and no temp file."""
    import ray

    from extreme3d.engines.ray_engine import ACTOR_PREFIX, RayOptions, run_ray_batch

    result: dict[str, object] = {}

    def job() -> None:
        try:
            result["summary"] = run_ray_batch(opts, RayOptions(), log=lambda _m: None)
        except Exception as exc:  # noqa: BLE001 - reported as a failed trial
            result["error"] = exc

    thread = threading.Thread(target=job)
    thread.start()
    deadline = time.time() + 300
    killed = False
    while thread.is_alive() and time.time() < deadline and not killed:
        if list((out / "imgs").glob("*.png")):
            names = [n for n in ray.util.list_named_actors()
                     if n.startswith(f"{ACTOR_PREFIX}-geometry")]
            if names:
                ray.kill(ray.get_actor(names[0]), no_restart=False)
                killed = True
        time.sleep(0.05)
    thread.join(600)
    summary = result.get("summary")
    if summary is None or not killed:
        print(f"  trial: {'not killed' if not killed else result.get('error')}", file=sys.stderr)
        return False
    got = _files(out)
    ok = (len(summary.done) == len(summary.images) and got == want
          and not list(out.rglob("*.tmp")))
    print(f"  trial: killed mid-run, {len(summary.done)} done, same files: {got == want}",
          file=sys.stderr)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--cnn-images", type=int, default=4)
    parser.add_argument("--detect", type=int, default=8, help="test photos for dlib's cost")
    parser.add_argument("--shared", type=Path, default=None)
    parser.add_argument("--model", type=Path, default=None,
                        help="morphable model .h5 (default: 3DMM_model/sfm_mod.h5)")
    args = parser.parse_args()
    try:
        import ray
    except ImportError:
        print("Ray is not installed: pip install 'extreme3d[ray]'", file=sys.stderr)
        return 1
    data = (args.shared or shared_dir()) / "data" / "paper" / "imgs"
    model = args.model or Path(__file__).resolve().parents[1] / "3DMM_model" / "sfm_mod.h5"
    if not model.is_file():
        print(f"model not found: {model} (extreme3d prepare-model sfm)", file=sys.stderr)
        return 1
    crops = sorted(p for p in data.glob("*.png") if p.with_suffix(".pts").is_file())
    crops = crops[: args.images]
    tmp = Path(tempfile.mkdtemp(prefix="scale-"))
    listing = tmp / "list.txt"
    listing.write_text("".join(f"{p}\n" for p in crops))
    n = len(crops)
    print(f"{n} paper crops (landmark path), model {model.name}, {os.cpu_count()} cores "
          "(shared machine: timings are noisy)")

    rates, local_summary, cpu1 = {}, None, 0.0
    for jobs in (1, 2):
        t0 = time.perf_counter()
        c0 = time.process_time()
        s = run_batch(_options(listing, tmp / f"local{jobs}", data, model, jobs=jobs),
                      log=lambda _m: None)
        wall = time.perf_counter() - t0
        rates[jobs] = len(s.done) / wall
        print(f"local --jobs {jobs}: {len(s.done)}/{n} in {wall:.1f} s = {rates[jobs]:.3f} img/s "
              f"(driver cpu {time.process_time() - c0:.1f} s)")
        if jobs == 1:
            local_summary, cpu1 = s, (time.process_time() - c0) / max(1, len(s.done))
    local = max(rates.values())
    stages = local_summary.seconds_per_image()
    timings = _param_timings(tmp / "local1")
    print("local per-stage s/img: " + ", ".join(f"{k} {stages[k]:.3f}" for k in STAGE_KEYS)
          + "; inside core/write (params timings): "
          + ", ".join(f"{k} {v:.3f}" for k, v in timings.items()))

    ray_rates, steady, starts = {}, {}, {}
    ref = _files(tmp / "local1")
    for cpus in (1, 2):
        wall, start, s = _ray_run(_options(listing, tmp / f"ray{cpus}", data, model), cpus)
        ray_rates[cpus] = len(s.done) / wall
        steady[cpus] = len(s.done) / max(1e-9, wall - start)
        starts[cpus] = start
        same = _files(tmp / f"ray{cpus}") == ref
        o = s.options
        print(f"ray {cpus} cpu: {len(s.done)}/{n} in {wall:.1f} s = {ray_rates[cpus]:.3f} img/s; "
              f"start-up {start:.1f} s (init {o.get('ray_init_s')} s, actors "
              f"{o.get('ray_actors_ready_s')} s); without start-up "
              f"{steady[cpus]:.3f} img/s; same files as local: {same}")
        print(f"  time line: {o.get('ray_warm_entries', 0)} entries done while the cluster "
              f"started; actors' first answer at {o.get('ray_first_result_s')} s, last at "
              f"{o.get('ray_last_result_s')} s; cluster stopped in {o.get('ray_stop_s')} s")

    cnn = {}
    if args.cnn_images > 0:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from batch import make_cnn_dir

        cnn_dir = make_cnn_dir(tmp / "CNN")
        sub = tmp / "cnn_list.txt"
        sub.write_text("".join(f"{p}\n" for p in crops[: args.cnn_images]))
        s = run_batch(_options(sub, tmp / "cnn", data, model, cnn_dir=cnn_dir, device="cpu",
                               batch_size=4, trust_cnn_pickles=True), log=lambda _m: None)
        cnn = s.seconds_per_image()
        print(f"CNNs on CPU (real sizes, random weights, {len(s.done)} crops): shape_cnn "
              f"{cnn['shape_cnn']:.3f} s/img, bump_cnn {cnn['bump_cnn']:.3f} s/img")

    detect = []
    for photo in sorted((data.parents[1] / "test").glob("*.*"))[: args.detect]:
        from extreme3d.stages.prepare import prepare_photo

        c0 = time.process_time()
        try:
            prepare_photo(photo, photo.stem)
        except Exception:  # noqa: BLE001 - a photo without a face still costs its detection
            pass
        detect.append(time.process_time() - c0)
    detect_s = sum(detect) / len(detect) if detect else float("nan")
    print(f"prepare with dlib detection on {len(detect)} test photos: {detect_s:.3f} cpu-s/img")

    ok = 0
    if args.trials > 0:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        small = tmp / "kill_list.txt"
        small.write_text("".join(f"{p}\n" for p in crops[:3]))
        want_dir = tmp / "kill_ref"
        run_batch(_options(small, want_dir, data, model), log=lambda _m: None)
        want = _files(want_dir)
        for k in range(args.trials):
            out = tmp / f"kill{k}"
            ok += _kill_trial(_options(small, out, data, model), out, want)
        ray.shutdown()
        print(f"kill trials: {ok}/{args.trials} ok")

    overhead = 1.0 - ray_rates[2] / local
    figures = {
        "local_img_s": local, "ray1_img_s": ray_rates[1], "ray2_img_s": ray_rates[2],
        "ray_overhead": overhead, "kill_trials_ok": ok, "kill_trials": args.trials,
        "local1_img_s": rates[1], "local2_img_s": rates[2],
        "ray1_steady_img_s": steady[1], "ray2_steady_img_s": steady[2],
        "ray_start_s": starts[2], "local1_cpu_s_per_img": cpu1, "prepare_detect_cpu_s": detect_s,
        **{f"{k}_s": stages[k] for k in STAGE_KEYS},
        **({"shape_cnn_cpu_s": cnn["shape_cnn"], "bump_cnn_cpu_s": cnn["bump_cnn"]}
           if cnn else {}),
    }
    print("SUMMARY " + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                                for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
