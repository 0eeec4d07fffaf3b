"""Reliability of the batch and the core against hostile input (issue 17).

1. corpus: a generated batch of bad and odd inputs (mutated images, .pts and list entries, FIFOs,
   devices, huge declared sizes, undecodable / long / colliding names, an input inside the output
   tree) run as one `extreme3d batch --jobs 2` with a timeout; each entry must be recorded in
   summary.json (done, or failed with one line), no traceback, nothing written outside the output
   folder, no temp file left. Plus the hostile unit tests and generated corpora
   (tests/test_core_inputs.py, test_hostile.py, test_trust.py, test_corpus_core.py: every _core
   entry point's array arguments mutated, test_corpus_batch.py: ~125 generated batch entries,
   test_isolation.py: a SIGSEGV planted in each per-image stage) run in a child process.
2. fuzz: bench/fuzz.py --seconds F per _core entry point.
3. sanitizer: the status `make sanitize` left in build/sanitize/status (not_run if absent).
4. kill trials: a 4-image batch SIGKILLed at a random time inside the duration of an unkilled
   run (timed first), then rerun: every output file must parse (PLY, PNG, JSON), no temp
   files, every image done.
5. RSS: the API's reconstruct() over N crops in one process; slope of RSS over the last 2/3.

Ends with `SUMMARY cases=.. failed=.. crashes=.. hangs=.. fuzz_execs=.. fuzz_crashes=..
sanitizer=.. kill_trials=.. kill_lost=.. rss_slope_mb_per_img=..`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _common import sfm_source  # noqa: E402

from extreme3d.paths import shared_dir  # noqa: E402

GOOD = "286264"
FAST = ["--bump-source", "flat", "--outputs", "final_frontal", "--no-overlay", "--no-params",
        "--no-progress"]


def huge_png(path: Path, side: int = 16000) -> None:
    """A tiny valid greyscale PNG declaring side x side pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))

    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(b"\0" * (side + 1)) for _ in range(side)) + comp.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", side.to_bytes(4, "big") * 2
                                                   + bytes([8, 0, 0, 0, 0]))
                     + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def build_corpus(root: Path, png: Path, pts: Path, rng: random.Random) -> tuple[Path, int]:
    """Writes inputs, landmarks and the list under root; returns (list path, entries)."""
    ins, lms, out = root / "in", root / "lms", root / "out"
    for d in (ins, lms, out / "imgs"):
        d.mkdir(parents=True, exist_ok=True)
    data, pts_text = png.read_bytes(), pts.read_text()
    img = cv2.imread(str(png))
    lines: list[bytes] = []

    def add(name: str | bytes, image: bytes | None, lm: str | None = pts_text,
            ext: bytes = b".png") -> None:
        stem = name if isinstance(name, bytes) else name.encode()
        path = os.path.join(os.fsencode(ins), stem + ext)
        if image is not None:
            Path(os.fsdecode(path)).write_bytes(image)
        if lm is not None:
            Path(os.fsdecode(os.path.join(os.fsencode(lms), stem + b".pts"))).write_text(lm)
        lines.append(path + b"\n")

    # images
    add("ok", data)
    for k in range(8):
        add(f"trunc{k}", data[: rng.randrange(0, len(data))])
    for k in range(8):
        b = bytearray(data)
        for _ in range(rng.randrange(1, 20)):
            b[rng.randrange(8, len(b))] ^= 1 << rng.randrange(8)
        add(f"flip{k}", bytes(b))
    for k in range(3):
        add(f"random{k}", rng.randbytes(rng.randrange(0, 5000)))
    jpg = cv2.imencode(".jpg", img)[1].tobytes()
    add("jpeg", jpg, ext=b".jpg")
    add("jpeg_trunc", jpg[: len(jpg) // 3], ext=b".jpg")
    add("empty", b"")
    add("tiny", cv2.imencode(".png", img[:3, :3])[1].tobytes())
    add("grey16", cv2.imencode(".png", (cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(np.uint16)
                                         * 257))[1].tobytes())
    add("rgba", cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_BGR2BGRA))[1].tobytes())
    ok, tif = cv2.imencode(".tif", img.astype(np.float32) / 255)
    add("float_tiff", tif.tobytes(), ext=b".tif")
    huge_png(ins / "huge.png")
    add("huge", None)
    os.mkfifo(ins / "fifo.png")
    add("fifo", None)
    (ins / "folder.png").mkdir()
    add("folder", None)
    os.symlink("/dev/zero", ins / "zero.png")
    add("zero", None)
    add("missing", None)
    add(b"caf\xe9", data)
    add("N" * 190, data)
    add("N" * 240, data)
    add("ok_detect", data)  # collides with ok's imgs/ok_detect.png
    shutil.copyfile(png, out / "imgs" / "inside.png")
    (lms / "inside.pts").write_text(pts_text)
    lines.append(os.fsencode(out / "imgs" / "inside.png") + b"\n")
    # landmarks
    from extreme3d.io.pts import read_pts

    lm = read_pts(pts)

    def pts_of(a) -> str:
        return "version: 1\nn_points: 68\n{\n" + "".join(f"{x} {y}\n" for x, y in a) + "}\n"

    cases = {"pts_empty": "", "pts_garbage": "hello\x00world", "pts_67": pts_of(lm[:67]),
             "pts_nan": pts_of(np.where(np.arange(68)[:, None] == 5, np.nan, lm)),
             "pts_inf": pts_of(lm * np.inf), "pts_1e300": pts_of(lm * 1e300),
             "pts_negative": pts_of(-lm), "pts_same": pts_of(lm * 0 + 250),
             "pts_outside": pts_of(lm + 5000), "pts_commas": pts_text.replace(" ", ","),
             "pts_nobrace": pts_text.replace("{", ""), "pts_69": pts_of(np.vstack([lm, lm[:1]])),
             "pts_line": pts_of(np.stack([np.linspace(0, 499, 68), np.full(68, 250.0)], 1)),
             "pts_tiny": pts_of(250 + (lm - 250) * 1e-4)}
    for name, text in cases.items():
        add(name, data, text)
    shutil.copyfile(png, ins / "pts_fifo.png")
    os.mkfifo(lms / "pts_fifo.pts")
    add("pts_fifo", None, None)
    shutil.copyfile(png, ins / "pts_dev.png")
    os.symlink("/dev/zero", lms / "pts_dev.pts")
    add("pts_dev", None, None)
    # list oddities
    lines += [b"\n", b"# a comment\n", b"   \n", lines[0], b"relative/none.png\n",
              b"\xff\xfe\n", b"x" * 5000 + b"\n"]
    listing = root / "list.txt"
    listing.write_bytes(b"".join(lines))
    entries = sum(1 for ln in lines if ln.strip() and not ln.startswith(b"#"))
    return listing, entries


def snapshot(root: Path, skip: Path) -> set[Path]:
    """Files under root outside skip."""
    return {p for p in root.rglob("*") if skip not in p.parents and p != skip}


def run_corpus(model: Path, png: Path, pts: Path, timeout: float) -> dict:
    """The generated batch: counts of cases, failed checks, crashes and hangs."""
    res = {"cases": 0, "failed": 0, "crashes": 0, "hangs": 0}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        listing, n = build_corpus(root, png, pts, random.Random(17))
        out = root / "out"
        before = snapshot(root, out)
        cmd = [sys.executable, "-m", "extreme3d", "batch", str(listing), str(out),
               str(root / "lms"), "--model", str(model), "--cnn-dir", str(root / "no_cnn"),
               "--jobs", "2", *FAST]
        t0 = time.time()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  errors="replace")
        except subprocess.TimeoutExpired:
            res.update(cases=n, hangs=1, failed=n)
            return res
        res["cases"] = n
        problems = []
        if proc.returncode not in (0, 2):
            res["crashes"] += proc.returncode < 0
            problems.append(f"batch rc {proc.returncode}")
        if "Traceback" in proc.stderr + proc.stdout:
            problems.append("traceback printed")
        if snapshot(root, out) != before:
            problems.append("files written outside the output folder")
        if list(out.rglob("*.tmp")):
            problems.append("temp files left")
        try:
            summary = json.loads((out / "summary.json").read_text())
        except (OSError, ValueError):
            summary = None
            problems.append("no summary.json")
        bad_entries = 0
        if summary is not None:
            recorded = len(summary["images"]) + len(
                [f for f in summary["failed"] if f["stage"] == "list"])
            if recorded < n:
                problems.append(f"{n - recorded} entries missing from summary.json")
                bad_entries += n - recorded
            for r in summary["images"]:
                if r["status"] != "done" and (not r["reason"] or "\n" in r["reason"]):
                    bad_entries += 1
                    problems.append(f"{r['name']}: reason {r['reason']!r}")
            done = sum(r["status"] == "done" for r in summary["images"])
            print(f"corpus: {n} entries, {done} done, "
                  f"{summary['images_failed']} failed/skipped, {time.time() - t0:.1f} s")
        res["failed"] += bad_entries + (len(problems) > 0 and bad_entries == 0)
        for p in problems:
            print(f"  PROBLEM: {p}")
    return res


def run_unit_cases(timeout: float) -> dict:
    """The hostile unit tests in a child process."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           "tests/test_core_inputs.py", "tests/test_hostile.py", "tests/test_trust.py",
           "tests/test_corpus_core.py", "tests/test_corpus_batch.py", "tests/test_isolation.py"]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"cases": 1, "failed": 1, "crashes": 0, "hangs": 1}
    passed = int(m.group(1)) if (m := re.search(r"(\d+) passed", proc.stdout)) else 0
    failed = int(m.group(1)) if (m := re.search(r"(\d+) failed", proc.stdout)) else 0
    crashed = proc.returncode < 0 or proc.returncode in (134, 139)
    print(f"unit cases: {passed} passed, {failed} failed (rc {proc.returncode})")
    return {"cases": passed + failed, "failed": failed, "crashes": int(crashed), "hangs": 0}


def run_fuzz(seconds: float) -> tuple[int, int]:
    """(execs, crashes) of bench/fuzz.py."""
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "fuzz.py"), "--seconds",
                           str(seconds)], cwd=ROOT, capture_output=True, text=True)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("SUMMARY")]
    print(line[-1] if line else proc.stdout[-2000:])
    if not line:
        return 0, 1
    kv = dict(x.split("=") for x in line[-1].split()[1:])
    return int(kv["fuzz_execs"]), int(kv["fuzz_crashes"])


def valid_file(p: Path) -> bool:
    """Whether an output file parses (PLY, PNG, JSON, text)."""
    try:
        if p.suffix == ".ply":
            from extreme3d.io.ply import read_ply

            return len(read_ply(p).vertices) > 0
        if p.suffix == ".png":
            return cv2.imread(str(p), cv2.IMREAD_UNCHANGED) is not None
        if p.suffix == ".json":
            json.loads(p.read_text())
        return True
    except Exception:  # noqa: BLE001
        return False


def run_kills(model: Path, png: Path, pts: Path, trials: int, rng: random.Random) -> tuple[int,
                                                                                          int]:
    """(trials, lost): files invalid or left as temp files, or images not done, after a
    SIGKILL at a random time and a rerun."""
    lost = 0
    duration = None  # seconds of a whole batch, timed by the first trial (not killed)
    for k in range(trials + 1):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "lms").mkdir()
            names = [f"img{i}" for i in range(4)]
            for n in names:
                shutil.copyfile(png, root / f"{n}.png")
                shutil.copyfile(pts, root / "lms" / f"{n}.pts")
            (root / "list.txt").write_text("".join(f"{root / n}.png\n" for n in names))
            cmd = [sys.executable, "-m", "extreme3d", "batch", str(root / "list.txt"),
                   str(root / "out"), str(root / "lms"), "--model", str(model), "--cnn-dir",
                   str(root / "no_cnn"), "--jobs", "2", "--bump-source", "flat", "--no-progress"]
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
            if duration is None:
                proc.wait()
                duration = time.perf_counter() - t0
                print(f"kill trials: an unkilled batch takes {duration:.1f} s")
                continue
            delay = rng.uniform(0.1, 0.9) * duration  # a kill inside the batch
            time.sleep(delay)
            with_kill = proc.poll() is None
            if with_kill:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            out = root / "out"
            bad = [p for p in out.rglob("*") if p.is_file() and not valid_file(p)]
            temps = list(out.rglob("*.tmp"))
            try:
                summary = json.loads((out / "summary.json").read_text())
                not_done = sum(r["status"] != "done" for r in summary["images"])
            except (OSError, ValueError):
                not_done = len(names)
            n_lost = len(bad) + len(temps) + not_done
            lost += n_lost
            print(f"kill trial {k}: {'killed' if with_kill else 'finished'} at {delay:.1f} s, "
                  f"rerun rc {rerun.returncode}, invalid {len(bad)}, temp {len(temps)}, "
                  f"not done {not_done}")
    return trials, lost


def rss_slope(model: Path, png: Path, pts: Path, n: int) -> float:
    """MB of RSS per image over the last 2/3 of n reconstructions in one process (a child)."""
    code = f"""
import re, numpy as np
from extreme3d import Reconstructor
from extreme3d.io.pts import read_pts
r = Reconstructor(model={str(model)!r}, cnn_dir="/nonexistent", bump_source="flat")
lm = read_pts({str(pts)!r})
for i in range({n}):
    r.reconstruct({str(png)!r}, landmarks=lm)
    rss = int(re.search(r"VmRSS:\\s*(\\d+)", open("/proc/self/status").read()).group(1))
    print("RSS", rss / 1024)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=1200)
    rss = [float(x) for x in re.findall(r"RSS ([\d.]+)", proc.stdout)]
    if len(rss) < 6:
        print(proc.stderr[-2000:])
        return float("nan")
    tail = np.array(rss[len(rss) // 3:])
    slope = float(np.polyfit(np.arange(len(tail)), tail, 1)[0])
    print(f"rss: {len(rss)} images, {rss[0]:.0f} -> {rss[-1]:.0f} MB, slope over the last "
          f"{len(tail)}: {slope:.3f} MB/img")
    return slope


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fuzz-seconds", type=float, default=5.0, help="per _core entry point")
    ap.add_argument("--kill-trials", type=int, default=5)
    ap.add_argument("--rss-images", type=int, default=30)
    ap.add_argument("--timeout", type=float, default=900.0, help="for the corpus batch")
    args = ap.parse_args()
    paper = shared_dir() / "data" / "paper" / "imgs"
    png, pts = paper / f"{GOOD}.png", paper / f"{GOOD}.pts"
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "sfm_mod.h5"
        from extreme3d.prepare.sfm import convert_sfm

        convert_sfm(sfm_source(), model)
        totals = run_corpus(model, png, pts, args.timeout)
        for k, v in run_unit_cases(args.timeout).items():
            totals[k] += v
        execs, fuzz_crashes = run_fuzz(args.fuzz_seconds)
        status = ROOT / "build" / "sanitize" / "status"
        sanitizer = status.read_text().strip().replace(" ", "_") if status.exists() else "not_run"
        trials, lost = run_kills(model, png, pts, args.kill_trials, random.Random(5))
        slope = rss_slope(model, png, pts, args.rss_images)
    print(f"SUMMARY cases={totals['cases']} failed={totals['failed']} "
          f"crashes={totals['crashes']} hangs={totals['hangs']} fuzz_execs={execs} "
          f"fuzz_crashes={fuzz_crashes} sanitizer={sanitizer} kill_trials={trials} "
          f"kill_lost={lost} rss_slope_mb_per_img={slope:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
