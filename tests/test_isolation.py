"""Crash isolation of every per-image stage (issue 17): a native crash (SIGSEGV planted through
EXTREME3D_TEST_CRASH, read by the worker pools when they start) in prepare, the landmark shape
fit or the core stage fails only its image, with the signal, for --jobs 1 and 2; the other images
are written and summary.json lists them all."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from extreme3d.pipeline import CRASH_TEST_ENV
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


def test_stage_crash_hook_is_inert_without_the_variable(monkeypatch):
    from extreme3d import pipeline

    monkeypatch.setattr(pipeline, "_CRASH_AT", None)
    pipeline._crash_hook("prepare", "crash_prepare")  # returns: no crash planted
    monkeypatch.setattr(pipeline, "_CRASH_AT", "core:x")
    pipeline._crash_hook("prepare", "x")  # another stage: no crash
