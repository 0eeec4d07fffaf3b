"""The Ray engine on a local 2-CPU cluster: the same files and bytes as the local engine (a
local folder and fsspec's memory file system), a geometry actor killed mid-run loses nothing,
a rerun skips complete images and redoes one whose marker is missing. Skipped without Ray."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
#: a Ray test that stalls fails after 5 min (seconds here) instead of holding up the suite
pytestmark = pytest.mark.timeout(300)

from extreme3d.engines.ray_engine import ACTOR_PREFIX, RayOptions, run_ray_batch  # noqa: E402
from extreme3d.engines.sink import DONE_DIR, STATE_DIR, Sink  # noqa: E402
from extreme3d.pipeline import BatchOptions, run_batch  # noqa: E402
from extreme3d.testBatchModel import main as batch_main  # noqa: E402

#: a hand over the face (MediaPipe and the GrabCut outline, seeded: the same bytes on every
#: engine) and sunglasses (the light rims)
PAPER = ["700-man-crisis-thoughtful-tired-face-think", "Jon-Hamm"]
PHOTO = "436764_detail.jpg"
OUTPUTS = ("foundation_frontal", "withBump_aligned", "final_frontal")
#: Files whose bytes differ between any two runs (timings), compared without them.
VARYING = ("summary.json", "imList.txt")


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster with 2 CPUs for this module."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def job(shared, sfm_h5, tmp_path_factory):
    """The input list (2 paper crops, a photo, a missing file), options and the local
    engine's outputs for it."""
    root = tmp_path_factory.mktemp("ray_job")
    paper = shared / "data" / "paper" / "imgs"
    paths = [paper / f"{n}.png" for n in PAPER] + [shared / "data" / "test" / PHOTO,
                                                    root / "missing.png"]
    listing = root / "list.txt"
    listing.write_text("".join(f"{p}\n" for p in paths))

    def options(out) -> BatchOptions:
        return BatchOptions(input_list=listing, output_dir=out, model_path=sfm_h5,
                            outputs=OUTPUTS, progress=False)

    summary = run_batch(options(root / "local"), log=lambda _m: None)
    assert len(summary.done) == 3 and [r.stage for r in summary.failed] == ["prepare"]
    return root, options


def _tree(folder: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every output file (state folder and the local engine's run lock
    excluded)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and STATE_DIR not in p.parts and p.name != ".extreme3d.lock"}


def _comparable(rel: str, data: bytes, root: str) -> object:
    """A file's bytes, without what legitimately varies: timings in params, the root folder
    in imList.txt."""
    if rel.startswith("params/"):
        doc = json.loads(data)
        doc.pop("timings_s")
        return doc
    if rel == "imList.txt":
        return data.decode().replace(root, "<out>")
    return data


def _assert_same_outputs(got: dict[str, bytes], got_root: str, want_folder: Path) -> None:
    want = _tree(want_folder)
    assert sorted(got) == sorted(want)
    for rel in want:
        if rel == "summary.json":
            continue
        assert (_comparable(rel, got[rel], got_root)
                == _comparable(rel, want[rel], str(want_folder))), rel


def test_same_outputs_as_local_engine_and_rerun_skips(cluster, job):
    root, options = job
    out = root / "ray"
    summary = run_ray_batch(options(out), RayOptions(), log=lambda _m: None)
    assert [r.name for r in summary.done] == PAPER + ["436764_detail"]
    assert [(r.name, r.stage) for r in summary.failed] == [("missing", "prepare")]
    _assert_same_outputs(_tree(out), str(out), root / "local")
    data = json.loads((out / "summary.json").read_text())
    assert data["images_done"] == 3 and data["options"]["engine"] == "ray"
    # The per-image records carry the occlusion step's figures, as the local engine's do.
    local = json.loads((root / "local" / "summary.json").read_text())
    occlusion = {r["name"]: r["occlusion"] for r in local["images"] if r["status"] == "done"}
    assert occlusion and all(v is not None for v in occlusion.values())
    assert {r["name"]: r["occlusion"] for r in data["images"]
            if r["status"] == "done"} == occlusion
    assert sorted(p.stem for p in (out / DONE_DIR).iterdir()) == sorted(
        PAPER + ["436764_detail"])
    assert not list(out.rglob("*.tmp")) and not (out / STATE_DIR / "staging").exists()

    # A rerun changes no image file (only the failed entry is tried again); the merged
    # summary still lists every image.
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()
              and p.name not in VARYING}
    summary = run_ray_batch(options(out), RayOptions(), log=lambda _m: None)
    assert len(summary.done) == 3 and [r.name for r in summary.failed] == ["missing"]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps

    # A job killed before an image's marker: the rerun redoes that image only.
    gone = out / "3D" / f"{PAPER[1]}_final_frontal.ply"
    gone.unlink()
    (out / DONE_DIR / f"{PAPER[1]}.json").unlink()
    keep = out / "3D" / f"{PAPER[0]}_final_frontal.ply"
    before = keep.stat().st_mtime_ns
    summary = run_ray_batch(options(out), RayOptions(), log=lambda _m: None)
    assert len(summary.done) == 3 and gone.is_file() and keep.stat().st_mtime_ns == before
    _assert_same_outputs(_tree(out), str(out), root / "local")


def test_memory_file_system_from_the_command_line(cluster, job, sfm_h5):
    root, options = job
    url = "memory://e3d-test/out"
    code = batch_main([str(root / "list.txt"), url, "--engine", "ray", "--model", str(sfm_h5),
                       "--outputs", ",".join(OUTPUTS), "--no-progress"])
    assert code == 0
    sink = Sink(url)
    files = {}
    for path in sink.fs.find(sink.root):
        rel = path[len(sink.root) + 1:]
        if not rel.startswith(STATE_DIR):
            files[rel] = sink.fs.cat_file(path)
    _assert_same_outputs(files, url, root / "local")
    assert sink.done_names() == set(PAPER + ["436764_detail"])
    data = json.loads(files["summary.json"])
    assert data["images_done"] == 3 and data["options"]["output_dir"] == url


def test_killed_actor_loses_no_image(cluster, job):
    root, options = job
    out = root / "killed"
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault(
        "summary", run_ray_batch(options(out), RayOptions(), log=lambda _m: None)))
    thread.start()
    deadline = time.time() + 120
    while not list((out / "imgs").glob("*.png")) and time.time() < deadline:
        time.sleep(0.05)
    names = [n for n in ray.util.list_named_actors() if n.startswith(f"{ACTOR_PREFIX}-geometry")]
    assert names
    ray.kill(ray.get_actor(names[0]), no_restart=False)
    thread.join(300)
    assert not thread.is_alive()
    assert len(result["summary"].done) == 3
    _assert_same_outputs(_tree(out), str(out), root / "local")
    assert not list(out.rglob("*.tmp"))


def test_cnn_actor_gives_the_local_engines_bytes(cluster, shared, sfm_h5, tmp_path):
    from test_batch import _cnn_dir

    paper = shared / "data" / "paper" / "imgs"
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{paper / n}.png\n" for n in PAPER + ["3808673138_5e653ffd1d_b"]))
    cnn = _cnn_dir(tmp_path / "CNN")

    def options(out) -> BatchOptions:
        return BatchOptions(input_list=listing, output_dir=out, landmark_dir=paper,
                            model_path=sfm_h5, cnn_dir=cnn, device="cpu", batch_size=2,
                            outputs=("final_frontal",), colors="none", overlay=False,
                            progress=False, trust_cnn_pickles=True)

    local = run_batch(options(tmp_path / "local"), log=lambda _m: None)
    assert local.shape_source == "cnn" and local.bump_source == "cnn" and len(local.done) == 3
    summary = run_ray_batch(options(tmp_path / "ray"), RayOptions(), log=lambda _m: None)
    assert summary.options["ray_cnn_actors"] == 1 and len(summary.done) == 3
    assert all(r.seconds["shape_cnn"] > 0 and r.seconds["bump_cnn"] > 0 for r in summary.done)
    _assert_same_outputs(_tree(tmp_path / "ray"), str(tmp_path / "ray"), tmp_path / "local")


def test_actors_that_cannot_start_give_a_clear_error(cluster, job):
    """Three 1-CPU geometry actors on the 2-CPU cluster: one can never start; the run stops with
    a one-line error after start_timeout_s instead of waiting forever."""
    from extreme3d import Extreme3DError

    root, options = job
    t0 = time.perf_counter()
    with pytest.raises(Extreme3DError, match="did not start within 3 s"):
        run_ray_batch(options(root / "stuck"), RayOptions(workers=3, start_timeout_s=3),
                      log=lambda _m: None)
    assert time.perf_counter() - t0 < 60
    deadline = time.time() + 30  # the killed actors give their CPUs back
    while ray.available_resources().get("CPU", 0) < 2 and time.time() < deadline:
        time.sleep(0.2)
    assert ray.available_resources().get("CPU", 0) == 2
