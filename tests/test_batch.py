"""The batch command end to end with the Surrey model: detection path with both fallbacks
(landmarks identity, flat bump), landmark path with the CNNs (stand-in shape network, random
U-Net) and two worker processes; outputs parse, summary.json is right, bad entries are skipped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from extreme3d import Extreme3DError
from extreme3d.io.ply import read_ply
from extreme3d.io.pts import read_pts
from extreme3d.pipeline import DEFAULT_OUTPUTS, BatchOptions, run_batch
from extreme3d.stages.models import choose_bump_source, choose_shape_source
from extreme3d.testBatchModel import main as batch_main

PHOTOS = ["Jon-Hamm.png", "436764_detail.jpg"]


@pytest.fixture()
def core_stages():
    """The fit and geometry stages (other modules of the package) must be importable."""
    pytest.importorskip("extreme3d.fitting")
    pytest.importorskip("extreme3d.geometry")
CROPS = ["Jon-Hamm", "286264"]


def _check_image_outputs(out: Path, name: str, model, outputs=DEFAULT_OUTPUTS) -> None:
    """Every file of one image exists and parses with the expected sizes."""
    crop = cv2.imread(str(out / "imgs" / f"{name}.png"))
    assert crop.shape == (500, 500, 3)
    assert cv2.imread(str(out / "imgs" / f"{name}_detect.png")) is not None
    pts = read_pts(out / "imgs" / f"{name}.pts")
    assert pts.shape == (68, 2) and (pts > 0).all() and (pts < 500).all()
    alpha = np.loadtxt(out / "shape" / f"{name}.ply.alpha")
    assert alpha.shape == (99,) and np.isfinite(alpha).all()
    foundation = read_ply(out / "shape" / f"{name}.ply")
    assert foundation.vertices.shape == (model.num_vertices, 3)
    np.testing.assert_array_equal(foundation.faces, model.faces)
    for suffix in ("bump", "mask"):
        im = cv2.imread(str(out / "bump" / f"{name}_{suffix}.png"), cv2.IMREAD_UNCHANGED)
        assert im.shape == (512, 512) and im.dtype == np.uint8
    for key in outputs:
        mesh = read_ply(out / "3D" / f"{name}_{key}.ply")
        assert len(mesh.vertices) > 0 and len(mesh.faces) > 0
        assert np.isfinite(mesh.vertices).all()
    frontal = read_ply(out / "3D" / f"{name}_foundation_frontal.ply")
    assert frontal.vertices.shape == (model.num_vertices, 3)


@pytest.mark.slow
def test_detection_path_with_fallbacks(core_stages, shared, sfm_h5, sfm_model, tmp_path, capsys):
    out = tmp_path / "out dir"  # a path with a space, already existing with a stale file
    (out / "3D").mkdir(parents=True)
    (out / "3D" / "stale.txt").write_text("keep me")
    bad = tmp_path / "broken photo.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    grey = tmp_path / "grey.png"
    rgb = cv2.imread(str(shared / "data" / "test" / PHOTOS[1]))
    cv2.imwrite(str(grey), cv2.cvtColor(rgb, cv2.COLOR_BGR2GRAY))
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((300, 300, 3), 200, np.uint8))
    lines = [str(shared / "data" / "test" / PHOTOS[0]), "", str(bad), str(grey), "  ",
             str(blank)]
    listing = tmp_path / "list.txt"
    listing.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    rc = batch_main([str(listing), str(out), "--model", str(sfm_h5), "--cnn-dir",
                     str(tmp_path / "no_cnn"), "--bump-source", "flat", "--no-progress",
                     "--preview"])
    assert rc == 0
    err = capsys.readouterr()
    assert "shape: landmarks" in err.err and "bump: flat" in err.err
    assert "broken photo.jpg" in err.err and "no face" in err.err
    for name in ("Jon-Hamm", "grey"):
        _check_image_outputs(out, name, sfm_model)
        preview = cv2.imread(str(out / "preview" / f"{name}.png"))
        assert preview.shape == (500, 1500, 3)
        bump = cv2.imread(str(out / "bump" / f"{name}_bump.png"), cv2.IMREAD_UNCHANGED)
        mask = cv2.imread(str(out / "bump" / f"{name}_mask.png"), cv2.IMREAD_UNCHANGED)
        assert (bump == 127).all()
        assert set(np.unique(mask)) == {0, 255} and 0.05 < (mask > 0).mean() < 0.9
    assert (out / "3D" / "stale.txt").read_text() == "keep me"
    listed = (out / "imList.txt").read_text().splitlines()
    assert listed == [str(out / "imgs" / "Jon-Hamm.png"), str(out / "imgs" / "grey.png")]

    summary = json.loads((out / "summary.json").read_text())
    assert summary["images_total"] == 4 and summary["images_done"] == 2
    assert summary["images_failed"] == 2
    assert summary["shape_source"] == "landmarks" and summary["bump_source"] == "flat"
    failed = {f["name"]: f for f in summary["failed"]}
    assert failed["broken photo"]["stage"] == "prepare"
    assert "broken photo.jpg" in failed["broken photo"]["reason"]
    assert failed["blank"]["stage"] == "prepare" and "no face" in failed["blank"]["reason"]
    done = [im for im in summary["images"] if im["status"] == "done"]
    assert [im["name"] for im in done] == ["Jon-Hamm", "grey"]
    for im in done:
        assert im["bump_source"] == "flat" and im["shape_source"] == "landmarks"
        assert im["seconds"]["core"] > 0 and im["seconds"]["prepare"] > 0
        assert f"3D/{im['name']}_final_frontal.ply" in im["outputs"]
    assert summary["seconds_per_image"]["total"] > 0


@pytest.mark.slow
def test_photo_bump_source_is_the_default_without_weights(core_stages, shared, sfm_h5, sfm_model,
                                                          tmp_path):
    pytest.importorskip("extreme3d.bump_photo")
    paper = shared / "data" / "paper" / "imgs"
    listing = tmp_path / "list.txt"
    listing.write_text(f"{paper / 'Jon-Hamm.png'}\n")
    summary = run_batch(BatchOptions(
        input_list=listing, output_dir=tmp_path / "out", landmark_dir=paper, model_path=sfm_h5,
        cnn_dir=tmp_path / "no_cnn", progress=False,
    ), log=lambda _m: None)
    assert summary.bump_source == "photo" and summary.shape_source == "landmarks"
    assert [r.name for r in summary.done] == ["Jon-Hamm"]
    rec = summary.done[0]
    assert rec.bump_source in ("photo", "flat")  # flat only with a note saying why
    assert rec.bump_source == "photo" or rec.note
    _check_image_outputs(tmp_path / "out", "Jon-Hamm", sfm_model)
    assert "bump/Jon-Hamm_bump.png" in rec.outputs
    bump = cv2.imread(str(tmp_path / "out" / "bump" / "Jon-Hamm_bump.png"), cv2.IMREAD_UNCHANGED)
    if rec.bump_source == "photo":
        assert bump.std() > 0  # not a flat map
    data = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert data["images"][0]["bump_source"] == rec.bump_source
    # the occlusion step is on by default: Jon Hamm's sunglasses are found and masked out
    occ = data["images"][0]["occlusion"]
    assert occ["enabled"] and occ["source"] == "photo" and occ["occluded_fraction"] > 0.05
    occluders = cv2.imread(str(tmp_path / "out" / "bump" / "Jon-Hamm_occluders.png"),
                           cv2.IMREAD_UNCHANGED)
    mask = cv2.imread(str(tmp_path / "out" / "bump" / "Jon-Hamm_mask.png"), cv2.IMREAD_UNCHANGED)
    assert (occluders == 255).sum() > 3000 and (mask[occluders == 255] == 0).all()
    params = json.loads((tmp_path / "out" / "params" / "Jon-Hamm.json").read_text())
    assert params["occlusion"]["occluded_fraction"] == occ["occluded_fraction"]


def _cnn_dir(folder: Path) -> Path:
    """CNN folder: stand-in shape network (pickled as MainModel) and a random full U-Net."""
    from _helpers import write_cnn_folder

    return write_cnn_folder(folder)


@pytest.mark.slow
def test_landmark_path_with_cnns_and_two_jobs(core_stages, shared, sfm_h5, sfm_model, tmp_path):
    paper = shared / "data" / "paper" / "imgs"
    lms = tmp_path / "landmarks"
    lms.mkdir()
    for name in CROPS:
        shutil.copy(paper / f"{name}.pts", lms / f"{name}.pts")
    listing = tmp_path / "list.txt"
    missing = tmp_path / "no_such_image.png"
    listing.write_text("".join(f"{p}\n" for p in [paper / f"{CROPS[0]}.png", missing,
                                                  paper / f"{CROPS[1]}.png"]))
    cnn = _cnn_dir(tmp_path / "CNN")
    outputs = ("foundation_frontal", "withBump_frontal", "sparse_full_frontal", "final_frontal")
    summary = run_batch(BatchOptions(
        input_list=listing, output_dir=tmp_path / "out", landmark_dir=lms, model_path=sfm_h5,
        cnn_dir=cnn, device="cpu", outputs=outputs, jobs=2, batch_size=2, progress=False,
        occlusion=False,  # the files must hold exactly what the networks give
        trust_cnn_pickles=True,
    ), log=lambda _m: None)
    assert summary.shape_source == "cnn" and summary.bump_source == "cnn"
    assert [r.name for r in summary.done] == CROPS
    assert [r.name for r in summary.failed] == ["no_such_image"]
    assert summary.failed[0].stage == "prepare"
    out = tmp_path / "out"
    for name in CROPS:
        _check_image_outputs(out, name, sfm_model, outputs)
        # The landmarks of a 500x500 paper crop come back (nearly) unchanged in the crop.
        np.testing.assert_allclose(read_pts(out / "imgs" / f"{name}.pts"),
                                   read_pts(paper / f"{name}.pts"), atol=2.0)
        assert not (out / "3D" / f"{name}_foundation_aligned.ply").exists()
        mask = cv2.imread(str(out / "bump" / f"{name}_mask.png"), cv2.IMREAD_UNCHANGED)
        assert mask.min() > 200  # the U-Net's mask head was biased positive
    # The written files hold what the networks give for the written crops.
    from extreme3d.models.bump_cnn import BumpCNN
    from extreme3d.models.shape_cnn import ShapeCNN

    shape_net = ShapeCNN.load(cnn, device="cpu", trust_pickles=True)
    bump_net = BumpCNN.load(cnn / "ckpt_109_grad.pth.tar", device="cpu")
    crop = cv2.imread(str(out / "imgs" / f"{CROPS[0]}.png"))
    coeffs = shape_net.predict([crop])[0]
    alpha = np.loadtxt(out / "shape" / f"{CROPS[0]}.ply.alpha")
    np.testing.assert_allclose(alpha, coeffs[:99], rtol=1e-5, atol=1e-6)
    k = sfm_model.num_shape
    want = (sfm_model.shape_mu + sfm_model.exp_mu
            + sfm_model.shape_pc @ (alpha[:k] * sfm_model.shape_ev)).reshape(-1, 3)
    got = read_ply(out / "shape" / f"{CROPS[0]}.ply").vertices
    np.testing.assert_allclose(got, want, atol=6e-5 + 1e-6 * np.abs(want).max())
    bump_want, mask_want = bump_net.predict([crop[:, :, ::-1]])[0]
    bump = cv2.imread(str(out / "bump" / f"{CROPS[0]}_bump.png"), cv2.IMREAD_UNCHANGED)
    assert np.abs(bump.astype(int) - bump_want).max() <= 1
    mask = cv2.imread(str(out / "bump" / f"{CROPS[0]}_mask.png"), cv2.IMREAD_UNCHANGED)
    assert np.abs(mask.astype(int) - mask_want).max() <= 1
    data = json.loads((out / "summary.json").read_text())
    assert data["options"]["jobs"] == 2 and data["images_done"] == 2
    assert data["seconds_per_image"]["shape_cnn"] > 0 and data["seconds_per_image"]["bump_cnn"] > 0


def test_missing_model_is_one_clear_error(tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text("/nowhere/x.jpg\n")
    with pytest.raises(Extreme3DError, match=r"no_model\.h5.*prepare-model"):
        run_batch(BatchOptions(listing, tmp_path / "out", model_path=tmp_path / "no_model.h5",
                               progress=False))
    assert batch_main([str(listing), str(tmp_path / "out"), "--model",
                       str(tmp_path / "no_model.h5"), "--no-progress"]) == 1


def test_source_selection(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert choose_shape_source(None, empty) == "landmarks"
    with pytest.raises(Extreme3DError, match="shape_model"):
        choose_shape_source("cnn", empty)
    monkeypatch.setattr("extreme3d.stages.models.photo_bump_available", lambda: False)
    assert choose_bump_source(None, empty) == "flat"
    with pytest.raises(Extreme3DError, match="ckpt_109_grad"):
        choose_bump_source("cnn", empty)
    monkeypatch.setattr("extreme3d.stages.models.photo_bump_available", lambda: True)
    assert choose_bump_source(None, empty) == "photo"
    (empty / "ckpt_109_grad.pth.tar").write_bytes(b"x")
    assert choose_bump_source(None, empty) == "cnn"
    assert choose_bump_source("flat", empty) == "flat"
    for name in ("shape_model.pth", "shape_model.py", "shape_mean.npz"):
        (empty / name).write_bytes(b"x")
    assert choose_shape_source(None, empty) == "cnn"
    assert choose_shape_source("landmarks", empty) == "landmarks"


def test_bad_outputs_option_is_rejected(tmp_path, capsys):
    with pytest.raises(SystemExit):
        batch_main([str(tmp_path / "l.txt"), str(tmp_path / "o"), "--outputs", "final_aligned"])
    assert "final_aligned" in capsys.readouterr().err


def test_url_output_needs_the_ray_engine(tmp_path, capsys):
    assert batch_main([str(tmp_path / "l.txt"), "memory://out", "--engine", "local"]) == 1
    assert "memory://out: --engine local writes to a local folder" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        batch_main([str(tmp_path / "l.txt"), "o", "--engine", "ray", "--cnn-gpus", "0"])


def test_photo_estimator_failure_falls_back_to_flat(core_stages, shared, sfm_h5, tmp_path,
                                                    monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("estimator exploded")

    monkeypatch.setattr("extreme3d.stages.models.photo_bump_available", lambda: True)
    monkeypatch.setattr("extreme3d.stages.bump.photo_bump_info", broken)
    paper = shared / "data" / "paper" / "imgs"
    listing = tmp_path / "list.txt"
    listing.write_text(f"{paper / '286264.png'}\n")
    summary = run_batch(BatchOptions(
        input_list=listing, output_dir=tmp_path / "out", landmark_dir=paper, model_path=sfm_h5,
        cnn_dir=tmp_path / "no_cnn", bump_source="photo", progress=False,
        isolate_core=False,  # the monkeypatch lives in this process
    ), log=lambda _m: None)
    rec = summary.done[0]
    assert rec.bump_source == "flat" and "estimator exploded" in rec.note
    bump = cv2.imread(str(tmp_path / "out" / "bump" / "286264_bump.png"), cv2.IMREAD_UNCHANGED)
    assert (bump == 127).all()


@pytest.mark.slow
def test_worker_crash_fails_only_its_image(sfm_h5):
    from _crash_worker import run as crashing_worker

    from extreme3d.crop import CropBox
    from extreme3d.pipeline import CRASH_REASON, CoreTask, _CorePool
    from extreme3d.stages.face import FaceOptions
    from extreme3d.stages.prepare import PreparedFace
    from extreme3d.stages.shape import Identity

    names = ["a", "boom", "b", "c", "d"]
    results = {}
    pool = _CorePool(2, sfm_h5, lambda r: results.__setitem__(r.index, r), crashing_worker)
    try:
        for i, name in enumerate(names):
            face = PreparedFace(name, np.zeros((500, 500, 3), np.uint8), np.zeros((68, 2)),
                                CropBox(0, 0, 500, 500), np.zeros((68, 2)), (500, 500), "file", 1)
            identity = Identity(np.zeros(3), np.zeros(3), None, "landmarks")
            pool.submit(CoreTask(i, "", face, identity, None, "flat", FaceOptions(), ()))
        pool.collect(block=True)
    finally:
        pool.close()
    assert sorted(results) == list(range(len(names)))
    assert [results[i].ok for i in range(len(names))] == [n != "boom" for n in names]
    assert results[1].reason.startswith(CRASH_REASON) and "SIGKILL" in results[1].reason
    assert results[2].outputs == ["b"]


def test_local_engine_rerun_skips_done_images(core_stages, shared, sfm_h5, tmp_path):
    paper = shared / "data" / "paper" / "imgs"
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{paper / n}.png\n" for n in CROPS))
    opts = BatchOptions(input_list=listing, output_dir=tmp_path / "out", landmark_dir=paper,
                        model_path=sfm_h5, outputs=("final_frontal",), colors="none",
                        overlay=False, progress=False)
    first = run_batch(opts, log=lambda _m: None)
    assert [r.name for r in first.done] == CROPS
    out = tmp_path / "out"
    done = out / ".extreme3d" / "done"
    assert sorted(p.stem for p in done.iterdir()) == sorted(CROPS)
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()
              and p.name not in ("summary.json", "imList.txt", ".extreme3d.lock")}
    again = run_batch(opts, log=lambda _m: None)  # nothing to do: no file rewritten
    assert [r.name for r in again.done] == CROPS
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert (out / "imList.txt").read_text() == "".join(
        f"{out.absolute() / 'imgs' / n}.png\n" for n in CROPS)
    (done / f"{CROPS[1]}.json").unlink()  # killed before this image's marker: redone
    mesh = out / "3D" / f"{CROPS[1]}_final_frontal.ply"
    before = mesh.read_bytes()
    mesh.unlink()
    third = run_batch(opts, log=lambda _m: None)
    assert [r.name for r in third.done] == CROPS and mesh.read_bytes() == before
    kept = out / "3D" / f"{CROPS[0]}_final_frontal.ply"
    assert kept.stat().st_mtime_ns == stamps[kept]


def test_implausible_landmarks_are_recorded_and_warned(core_stages, shared, sfm_h5, tmp_path):
    """Landmark path, no CNN: a crop whose jaw points 0..5 lie 60 px out on the background gets
    a one-line warning and params landmarks.quality.ok false with those points down-weighted;
    the same crop with its own landmarks is ok. Both images complete."""
    from extreme3d.params import read_params

    paper = shared / "data" / "paper" / "imgs"
    name = CROPS[0]
    lms = tmp_path / "landmarks"
    lms.mkdir()
    pts = read_pts(paper / f"{name}.pts")
    bad = pts.copy()
    centre = pts[27:36].mean(axis=0)
    for j in range(6):
        d = bad[j] - centre
        bad[j] += 60.0 * d / np.linalg.norm(d)
    shutil.copy(paper / f"{name}.pts", lms / f"{name}.pts")
    shutil.copy(paper / f"{name}.png", tmp_path / "moved.png")
    (lms / "moved.pts").write_text(
        "version: 1\nn_points: 68\n{\n" + "".join(f"{x} {y}\n" for x, y in bad) + "}\n")
    listing = tmp_path / "list.txt"
    listing.write_text(f"{paper / f'{name}.png'}\n{tmp_path / 'moved.png'}\n")
    said: list[str] = []
    summary = run_batch(BatchOptions(
        input_list=listing, output_dir=tmp_path / "out", landmark_dir=lms, model_path=sfm_h5,
        cnn_dir=tmp_path / "no_cnn", device="cpu", outputs=("foundation_frontal",),
        bump_source="flat", progress=False, preview=False,
    ), log=said.append)
    assert [r.name for r in summary.done] == [name, "moved"]
    warnings = [m for m in said if m.startswith("warning:")]
    assert len(warnings) == 1 and "moved.png" in warnings[0] and "jaw" in warnings[0]
    assert "\n" not in warnings[0]
    good = read_params(tmp_path / "out" / "params" / f"{name}.json")["landmarks"]["quality"]
    moved = read_params(tmp_path / "out" / "params" / "moved.json")["landmarks"]["quality"]
    assert good["ok"] and good["warning"] == ""
    assert not moved["ok"] and {0, 1, 2} <= set(moved["downweighted"])
