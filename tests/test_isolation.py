"""Crash isolation of every per-image stage (issue 17): a native crash (SIGSEGV planted through
EXTREME3D_TEST_CRASH, read by the worker pools when they start) in prepare, the landmark shape
fit, the shape CNN, the bump CNN or the core stage fails only its image, with the signal, for
--jobs 1 and 2; the other images are written and summary.json lists them all. The CNNs in their
worker give the same bytes as in the main process."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest

from extreme3d.pipeline import CRASH_TEST_ENV, BatchOptions, run_batch
from extreme3d.testBatchModel import main as batch_main

GOOD = "286264"
FAST = ["--bump-source", "flat", "--outputs", "final_frontal", "--no-overlay", "--no-params",
        "--no-progress"]
NAMES = ["a", "crash_prepare", "b", "crash_shape", "crash_core", "c"]


@pytest.mark.slow
@pytest.mark.parametrize("jobs", [1, 2])
def test_native_crash_in_each_stage_fails_only_its_image(shared, sfm_h5, tmp_path, monkeypatch,
                                                         capsys, jobs):
    paper = shared / "data" / "paper" / "imgs"
    (tmp_path / "in").mkdir()
    (tmp_path / "lms").mkdir()
    for name in NAMES:
        shutil.copyfile(paper / f"{GOOD}.png", tmp_path / "in" / f"{name}.png")
        shutil.copyfile(paper / f"{GOOD}.pts", tmp_path / "lms" / f"{name}.pts")
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{tmp_path / 'in' / n}.png\n" for n in NAMES))
    monkeypatch.setenv(CRASH_TEST_ENV,
                       "prepare:crash_prepare,shape:crash_shape,core:crash_core")
    out = tmp_path / "out"
    rc = batch_main([str(listing), str(out), str(tmp_path / "lms"), "--model", str(sfm_h5),
                     "--cnn-dir", str(tmp_path / "no_cnn"), "--jobs", str(jobs), *FAST])
    err = capsys.readouterr().err
    assert rc == 0
    assert "Traceback" not in err
    summary = json.loads((out / "summary.json").read_text())
    by_name = {r["name"]: r for r in summary["images"]}
    assert sorted(by_name) == sorted(NAMES)
    assert summary["images_done"] == 3 and summary["images_failed"] == 3
    for name in ("a", "b", "c"):
        assert by_name[name]["status"] == "done"
        assert (out / "3D" / f"{name}_final_frontal.ply").stat().st_size > 0
    for name, stage, recorded in (("crash_prepare", "prepare", "prepare"),
                                  ("crash_shape", "shape", "shape_cnn"),
                                  ("crash_core", "core", "core")):
        rec = by_name[name]
        assert rec["status"] == "failed" and rec["stage"] == recorded
        assert rec["reason"].startswith(f"the {stage} stage crashed its worker process")
        assert rec["reason"].endswith("(SIGSEGV)")
        assert f"{tmp_path / 'in' / name}.png: the {stage} stage crashed" in err
        assert not (out / "3D" / f"{name}_final_frontal.ply").exists()
    assert not list(out.rglob("*.tmp"))
    assert not (Path.cwd() / "core").exists()


def _inputs(shared: Path, tmp_path: Path, names: list[str]) -> Path:
    """Copies of one paper crop and its landmarks under `names`; returns the list file."""
    paper = shared / "data" / "paper" / "imgs"
    (tmp_path / "in").mkdir()
    (tmp_path / "lms").mkdir()
    for name in names:
        shutil.copyfile(paper / f"{GOOD}.png", tmp_path / "in" / f"{name}.png")
        shutil.copyfile(paper / f"{GOOD}.pts", tmp_path / "lms" / f"{name}.pts")
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{tmp_path / 'in' / n}.png\n" for n in names))
    return listing


CNN_NAMES = ["a", "crash_shape_cnn", "crash_bump_cnn", "c"]


@pytest.mark.slow
@pytest.mark.parametrize(("jobs", "batch"), [(1, 4), (2, 2)])
def test_native_crash_in_a_cnn_stage_fails_only_its_image(shared, sfm_h5, tmp_path, monkeypatch,
                                                          capsys, jobs, batch):
    """The shape and bump CNNs run in a worker process: a SIGSEGV in a batch fails only the face
    that crashes (the batch re-run one face at a time in a fresh worker)."""
    from _helpers import write_cnn_folder

    listing = _inputs(shared, tmp_path, CNN_NAMES)
    cnn = write_cnn_folder(tmp_path / "CNN")
    monkeypatch.setenv(CRASH_TEST_ENV, "shape_cnn:crash_shape_cnn,bump_cnn:crash_bump_cnn")
    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the trusted pickle's warning
        rc = batch_main([str(listing), str(out), str(tmp_path / "lms"), "--model", str(sfm_h5),
                         "--cnn-dir", str(cnn), "--trust-cnn-pickles", "--device", "cpu",
                         "--occlusion", "off", "--jobs", str(jobs), "--batch-size", str(batch),
                         *FAST[2:]])
    err = capsys.readouterr().err
    assert rc == 0
    assert "Traceback" not in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["shape_source"] == "cnn" and summary["bump_source"] == "cnn"
    by_name = {r["name"]: r for r in summary["images"]}
    assert sorted(by_name) == sorted(CNN_NAMES)
    assert summary["images_done"] == 2 and summary["images_failed"] == 2
    for name in ("a", "c"):
        assert by_name[name]["status"] == "done"
        for f in (f"3D/{name}_final_frontal.ply", f"bump/{name}_bump.png",
                  f"shape/{name}.ply.alpha"):
            assert (out / f).stat().st_size > 0, f
    # the bump maps of a and c (the same crop, each run alone after a crash in its batch, by
    # different workers) have the same bytes, those of the U-Net run in this process
    for f in ("bump/{}_bump.png", "bump/{}_mask.png"):
        assert (out / f.format("a")).read_bytes() == (out / f.format("c")).read_bytes(), f
    import cv2

    from extreme3d.models.bump_cnn import BumpCNN

    crop = cv2.imread(str(out / "imgs" / "a.png"))
    bump, mask = BumpCNN.load(cnn / "ckpt_109_grad.pth.tar", "cpu").predict([crop[:, :, ::-1]])[0]
    assert cv2.imread(str(out / "bump" / "a_bump.png"), cv2.IMREAD_UNCHANGED).tobytes() == (
        bump.tobytes())
    assert cv2.imread(str(out / "bump" / "a_mask.png"), cv2.IMREAD_UNCHANGED).tobytes() == (
        mask.tobytes())
    for name, stage, label in (("crash_shape_cnn", "shape_cnn", "shape CNN"),
                               ("crash_bump_cnn", "bump_cnn", "bump CNN")):
        rec = by_name[name]
        assert rec["status"] == "failed" and rec["stage"] == stage
        assert rec["reason"].startswith(f"the {label} stage crashed its worker process")
        assert rec["reason"].endswith("(SIGSEGV)")
        assert f"{tmp_path / 'in' / name}.png: the {label} stage crashed" in err
        assert not (out / "3D" / f"{name}_final_frontal.ply").exists()
        assert not (out / "bump" / f"{name}_bump.png").exists()
    assert (out / "shape" / "crash_bump_cnn.ply.alpha").exists()  # its shape stage ran
    assert not list(out.rglob("*.tmp"))
    assert not (Path.cwd() / "core").exists()


@pytest.mark.slow
def test_a_crash_while_the_cnn_worker_reloads_is_named_as_such(shared, sfm_h5, tmp_path,
                                                               monkeypatch, capsys):
    """After a crash the fresh CNN worker's networks are awaited before a face runs: a crash
    while reloading fails the waiting face with a reason naming the reload and the CNN folder
    (not a stage crash blamed on the face); the next face gets a fresh worker again."""
    from _helpers import write_cnn_folder

    names = ["a", "crash_bump_cnn", "c"]
    listing = _inputs(shared, tmp_path, names)
    cnn = write_cnn_folder(tmp_path / "CNN")
    # the first worker crashes on crash_bump_cnn's batch; its replacement (start 2) crashes
    # while loading, so face a (the first re-run alone) fails with the reload named
    monkeypatch.setenv(CRASH_TEST_ENV, "bump_cnn:crash_bump_cnn,cnn_load:2")
    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the trusted pickle's warning
        rc = batch_main([str(listing), str(out), str(tmp_path / "lms"), "--model", str(sfm_h5),
                         "--cnn-dir", str(cnn), "--trust-cnn-pickles", "--device", "cpu",
                         "--occlusion", "off", "--jobs", "1", "--batch-size", "3", *FAST[2:]])
    err = capsys.readouterr().err
    assert rc == 0 and "Traceback" not in err
    by_name = {r["name"]: r for r in json.loads((out / "summary.json").read_text())["images"]}
    assert by_name["a"]["status"] == "failed" and by_name["a"]["stage"] == "bump_cnn"
    assert by_name["a"]["reason"] == (
        f"{cnn}: the CNN worker process crashed while reloading the networks (SIGSEGV)")
    rec = by_name["crash_bump_cnn"]
    assert rec["status"] == "failed"
    assert rec["reason"].startswith("the bump CNN stage crashed its worker process")
    assert by_name["c"]["status"] == "done"
    assert (out / "3D" / "c_final_frontal.ply").stat().st_size > 0
    assert not list(out.rglob("*.tmp"))


@pytest.mark.slow
def test_cnn_worker_gives_the_bytes_of_the_main_process(shared, sfm_h5, tmp_path):
    """No crash: the CNN worker's files are byte-identical to those of the CNN run in the main
    process (the shape CNN on a batch of two faces), and a CNN file that cannot load stops the
    run with one line naming it, as before."""
    from _helpers import write_cnn_folder

    from extreme3d import Extreme3DError

    listing = _inputs(shared, tmp_path, ["a", "b"])
    cnn = write_cnn_folder(tmp_path / "CNN")
    files = {}
    for isolate in (True, False):
        out = tmp_path / f"out_{isolate}"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            summary = run_batch(BatchOptions(
                input_list=listing, output_dir=out, landmark_dir=tmp_path / "lms",
                model_path=sfm_h5, cnn_dir=cnn, device="cpu", outputs=("final_frontal",),
                bump_source="flat", batch_size=2, progress=False, overlay=False, params=False,
                trust_cnn_pickles=True, isolate_cnn=isolate), log=lambda _m: None)
        assert len(summary.done) == 2
        assert any("shape_model.pth" in str(w.message) for w in caught)  # the trust warning
        files[isolate] = {p.relative_to(out).as_posix(): p.read_bytes()
                          for sub in ("shape", "bump", "3D") for p in (out / sub).iterdir()}
    assert len(files[True]) >= 8 and files[True].keys() == files[False].keys()
    for name, data in files[True].items():
        assert data == files[False][name], name
    (cnn / "shape_model.pth").write_bytes(b"not a pickle")
    with pytest.raises(Extreme3DError, match=r"shape_model\.pth") as err:
        run_batch(BatchOptions(input_list=listing, output_dir=tmp_path / "out_bad",
                               landmark_dir=tmp_path / "lms", model_path=sfm_h5, cnn_dir=cnn,
                               device="cpu", bump_source="flat", progress=False,
                               trust_cnn_pickles=True),
                  log=lambda _m: None)
    assert "\n" not in str(err.value)


def test_stage_crash_hook_is_inert_without_the_variable(monkeypatch):
    from extreme3d import pipeline

    monkeypatch.setattr(pipeline, "_CRASH_AT", None)
    pipeline._crash_hook("prepare", "crash_prepare")  # returns: no crash planted
    monkeypatch.setattr(pipeline, "_CRASH_AT", "core:x")
    pipeline._crash_hook("prepare", "x")  # another stage: no crash
    monkeypatch.setattr(pipeline, "_CRASH_AT", "shape_cnn:x")
    pipeline._crash_hook("bump_cnn", "x")


def test_temp_files_orphaned_during_the_run_are_removed_at_its_end(shared, sfm_h5, tmp_path,
                                                                   monkeypatch):
    """A worker killed mid-write (its pool broken by another image's crash) leaves a temp file
    after its image was redone; the run removes such orphans once every stage has finished."""
    import extreme3d.pipeline as pipeline

    listing = _inputs(shared, tmp_path, ["a", "b"])
    out = tmp_path / "out"
    real = pipeline.run_core
    orphans: list[Path] = []

    def run_core_leaving_a_temp(*args, **kwargs):
        orphan = out / "3D" / f".x{len(orphans)}_final_frontal.ply.abc123.tmp"
        orphan.write_bytes(b"half a mesh")
        orphans.append(orphan)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "run_core", run_core_leaving_a_temp)
    summary = run_batch(BatchOptions(
        input_list=listing, output_dir=out, landmark_dir=tmp_path / "lms", model_path=sfm_h5,
        cnn_dir=tmp_path / "no_cnn", bump_source="flat", outputs=("final_frontal",),
        overlay=False, params=False, progress=False, isolate_core=False, isolate_stages=False),
        log=lambda _m: None)
    assert [r.status for r in summary.images] == ["done", "done"]
    assert len(orphans) == 2 and not any(p.exists() for p in orphans)
    assert not list(out.rglob("*.tmp"))
    assert (out / "3D" / "a_final_frontal.ply").stat().st_size > 0
