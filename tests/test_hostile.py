"""Regression corpus of hostile and odd inputs (issue 17), generated here (no binary blobs): each
case asserts the message, the exit code, the other images' outputs and that nothing was written
outside the output folder. One batch run holds most per-image cases (keeps the suite fast)."""

from __future__ import annotations

import os
import shutil
import threading
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from extreme3d import Extreme3DError
from extreme3d.output_guard import LOCK_FILE, check_output_name, folder_lock
from extreme3d.testBatchModel import main as batch_main

GOOD = "286264"
FAST = ["--bump-source", "flat", "--outputs", "final_frontal", "--no-overlay", "--no-params",
        "--no-progress"]


def huge_png(path: Path, side: int = 16000) -> None:
    """A valid, tiny (highly compressed) greyscale PNG declaring side x side pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))

    ihdr = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    comp = zlib.compressobj(9)
    row = b"\0" * (side + 1)
    body = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body)
                     + chunk(b"IEND", b""))


def snapshot(root: Path, skip: Path) -> set[Path]:
    """Every file under root except those under skip."""
    return {p for p in root.rglob("*") if skip not in p.parents and p != skip}


@pytest.fixture()
def sandbox(tmp_path: Path) -> Path:
    (tmp_path / "in").mkdir()
    (tmp_path / "lms").mkdir()
    return tmp_path


def _add(sandbox: Path, name: str, image_src: Path | None, pts_src: Path | None,
         name_bytes: bytes | None = None) -> bytes:
    """Puts an input image (copy) and its .pts in the sandbox; returns the list line (bytes)."""
    stem = name_bytes if name_bytes is not None else name.encode()
    img = os.path.join(os.fsencode(sandbox / "in"), stem + b".png")
    if image_src is not None:
        shutil.copyfile(image_src, img)
    if pts_src is not None:
        shutil.copyfile(pts_src, os.path.join(os.fsencode(sandbox / "lms"), stem + b".pts"))
    return img + b"\n"


@pytest.mark.slow
def test_hostile_batch_corpus(shared, sfm_h5, sandbox, capsys):
    paper = shared / "data" / "paper" / "imgs"
    png, pts = paper / f"{GOOD}.png", paper / f"{GOOD}.pts"
    out = sandbox / "out"
    lines = []
    long_ok = "L" * 190
    lines.append(_add(sandbox, long_ok, png, pts))  # a long but valid name: done
    lines.append(_add(sandbox, "x", png, pts))  # done
    lines.append(_add(sandbox, "x_detect", png, pts))  # collides with x's imgs/x_detect.png
    lines.append(_add(sandbox, "L" * 240, png, pts))  # too long for its output files
    lines.append(_add(sandbox, "", png, pts, name_bytes=b"caf\xe9"))  # not UTF-8: done
    # a FIFO as the image and as a .pts (never opened for reading: no hang)
    os.mkfifo(sandbox / "in" / "fifo_img.png")
    shutil.copyfile(pts, sandbox / "lms" / "fifo_img.pts")
    lines.append(_add(sandbox, "fifo_img", None, None))
    shutil.copyfile(png, sandbox / "in" / "fifo_pts.png")
    os.mkfifo(sandbox / "lms" / "fifo_pts.pts")
    lines.append(_add(sandbox, "fifo_pts", None, None))
    # a device as the .pts, a folder as the image
    shutil.copyfile(png, sandbox / "in" / "dev_pts.png")
    os.symlink("/dev/zero", sandbox / "lms" / "dev_pts.pts")
    lines.append(_add(sandbox, "dev_pts", None, None))
    (sandbox / "in" / "folder.png").mkdir()
    lines.append(_add(sandbox, "folder", None, pts))
    # a 249 KB-class PNG declaring 16000 x 16000 pixels
    huge_png(sandbox / "in" / "huge.png")
    lines.append(_add(sandbox, "huge", None, pts))
    # landmarks far outside the image
    from extreme3d.io.pts import read_pts

    lm = read_pts(pts) + 5000
    (sandbox / "lms" / "outside.pts").write_text(
        "version: 1\nn_points: 68\n{\n" + "".join(f"{x} {y}\n" for x, y in lm) + "}\n")
    lines.append(_add(sandbox, "outside", png, None))
    # a float32 TIFF (0..1 values) reads as the photo, not black
    img = cv2.imread(str(png)).astype(np.float32) / 255
    cv2.imwrite(str(sandbox / "in" / "tiff.tif"), img)
    shutil.copyfile(pts, sandbox / "lms" / "tiff.pts")
    lines.append(os.fsencode(sandbox / "in" / "tiff.tif") + b"\n")
    # an input inside the output tree
    (out / "imgs").mkdir(parents=True)
    shutil.copyfile(png, out / "imgs" / "inside.png")
    shutil.copyfile(pts, sandbox / "lms" / "inside.pts")
    lines.append(os.fsencode(out / "imgs" / "inside.png") + b"\n")
    # truncated image
    (sandbox / "in" / "trunc.png").write_bytes(png.read_bytes()[:300])
    shutil.copyfile(pts, sandbox / "lms" / "trunc.pts")
    lines.append(_add(sandbox, "trunc", None, None))
    listing = sandbox / "list.txt"
    listing.write_bytes(b"".join(lines))

    before = snapshot(sandbox, out)
    inside_before = (out / "imgs" / "inside.png").read_bytes()
    rc = batch_main([str(listing), str(out), str(sandbox / "lms"), "--model", str(sfm_h5),
                     "--cnn-dir", str(sandbox / "no_cnn"), *FAST])
    captured = capsys.readouterr()
    assert rc == 0
    assert snapshot(sandbox, out) == before, "files written outside the output folder"
    assert (out / "imgs" / "inside.png").read_bytes() == inside_before

    import json

    summary = json.loads((out / "summary.json").read_text())
    by_name = {r["name"]: r for r in summary["images"]}
    done = {r["name"] for r in summary["images"] if r["status"] == "done"}
    assert done == {long_ok, "x", os.fsdecode(b"caf\xe9"), "tiff"}
    for name in done:
        assert (out / "3D" / f"{name}_final_frontal.ply").stat().st_size > 0
    expected = {
        "x_detect": "collides with 'x'",
        "L" * 240: "output name too long",
        "fifo_img": "is a FIFO",
        "fifo_pts": "is a FIFO",
        "dev_pts": "character device",
        "folder": "is a folder",
        "huge": "image too large (",
        "outside": "68 of the 68 landmarks lie outside",
        "inside": "inside the output folder",
        "trunc": "not a readable image",
    }
    for name, message in expected.items():
        rec = by_name[name]
        assert rec["status"] == "failed" and message in rec["reason"], (name, rec["reason"])
        assert "\n" not in rec["reason"]
    # x's files are its own (x_detect never wrote its crop over x's detection image)
    assert not (out / "imgs" / "x_detect.pts").exists()
    tiff_crop = cv2.imread(str(out / "imgs" / "tiff.png"))
    assert tiff_crop.mean() > 40
    assert os.fsencode(out / "imgs") + b"/caf\xe9.png" in (out / "imList.txt").read_bytes()
    assert "Traceback" not in captured.err + captured.out
    assert not list(out.rglob("*.tmp"))


def test_lock_refuses_a_second_run(sfm_h5, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    listing = tmp_path / "list.txt"
    listing.write_text("")
    with folder_lock(out):
        with pytest.raises(Extreme3DError, match="another extreme3d run"):
            from extreme3d.pipeline import BatchOptions, run_batch

            run_batch(BatchOptions(listing, out, model_path=sfm_h5, progress=False))
        held = threading.Event()

        def second() -> None:
            try:
                with folder_lock(out):
                    pass
            except Extreme3DError:
                held.set()

        t = threading.Thread(target=second)
        t.start()
        t.join()
        assert held.is_set()
    assert (out / LOCK_FILE).exists()
    run_batch(BatchOptions(listing, out, model_path=sfm_h5, progress=False))  # released


@pytest.mark.parametrize("name", ["../../x", "/tmp/x", "a/b", "..", "", "x\0y", "é" * 150])
def test_output_names_stay_inside(name, tmp_path):
    from extreme3d.stages.outputs import save_face

    with pytest.raises(Extreme3DError, match="output name"):
        check_output_name(name)
    if name:  # "" means the result's own name
        with pytest.raises(Extreme3DError, match="output name"):
            save_face(object(), tmp_path / "out", name)
    assert not (tmp_path / "x").exists() and not list(tmp_path.parent.glob("x"))


def test_estimate_bump_name_cannot_escape(shared, tmp_path, capsys):
    from extreme3d.cli import main as cli_main

    paper = shared / "data" / "paper" / "imgs"
    out = tmp_path / "a" / "b" / "out"
    rc = cli_main(["estimate-bump", str(paper / f"{GOOD}.png"), str(paper / f"{GOOD}.pts"),
                   "--out", str(out), "--name", "../../../x"])
    err = capsys.readouterr().err
    assert rc != 0 and "path separator" in err and "Traceback" not in err
    assert not list(tmp_path.rglob("x_bump.png"))


def test_fifo_list_and_dev_zero_pts_do_not_hang(tmp_path):
    from extreme3d.io.pts import read_pts
    from extreme3d.naming import read_input_list

    os.mkfifo(tmp_path / "list.txt")
    with pytest.raises(Extreme3DError, match="FIFO"):
        read_input_list(tmp_path / "list.txt")
    with pytest.raises(Extreme3DError, match="character device"):
        read_pts("/dev/zero")
    big = tmp_path / "big.pts"
    with open(big, "wb") as f:
        f.truncate(70 << 20)  # sparse: 70 MB of zeros
    with pytest.raises(Extreme3DError, match="too large"):
        read_pts(big)


def test_bad_options_exit_cleanly(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        batch_main([str(tmp_path / "l.txt"), str(tmp_path / "o"), "--texture-size", "100000"])
    assert exc.value.code == 2 and "between 16 and 8192" in capsys.readouterr().err


def test_model_overflowing_float32_is_one_line(sfm_h5, tmp_path):
    import h5py

    from extreme3d.morphable import load_model

    bad = tmp_path / "bad.h5"
    shutil.copyfile(sfm_h5, bad)
    with h5py.File(bad, "r+") as f:
        mu = f["shapeMU"][()].astype(np.float64)
        del f["shapeMU"]
        f["shapeMU"] = np.full_like(mu, 1e300)
    with pytest.raises(Extreme3DError, match=r"bad.h5: dataset 'shapeMU'.*NaN or infinite"):
        load_model(bad)
    big = tmp_path / "big.h5"
    shutil.copyfile(sfm_h5, big)
    with h5py.File(big, "r+") as f:
        del f["expPC"]
        f.create_dataset("expPC", shape=(200000, 20000), dtype="f8", chunks=(1000, 100),
                         compression="gzip")  # declared 32 GB, a few KB on disk
    assert big.stat().st_size < 50 << 20
    with pytest.raises(Extreme3DError, match="big.h5: model datasets declare"):
        load_model(big)


@pytest.mark.slow
def test_crash_with_one_job_and_broken_pool_at_submit(sfm_h5):
    """--jobs 1 runs the core stage in a worker too; a worker killed while tasks are queued
    makes pool.submit raise BrokenProcessPool, which is handled: every other task completes."""
    import time

    from _crash_worker import run as crashing_worker

    from extreme3d.crop import CropBox
    from extreme3d.pipeline import CRASH_REASON, CoreTask, _CorePool
    from extreme3d.stages.face import FaceOptions
    from extreme3d.stages.prepare import PreparedFace
    from extreme3d.stages.shape import Identity

    names = ["a", "boom", "b", "c", "d", "e", "f"]
    results = {}
    pool = _CorePool(1, sfm_h5, lambda r: results.__setitem__(r.index, r), crashing_worker)
    try:
        for i, name in enumerate(names):
            face = PreparedFace(name, np.zeros((500, 500, 3), np.uint8), np.zeros((68, 2)),
                                CropBox(0, 0, 500, 500), np.zeros((68, 2)), (500, 500), "file", 1)
            identity = Identity(np.zeros(3), np.zeros(3), None, "landmarks")
            pool.submit(CoreTask(i, "", face, identity, None, "flat", FaceOptions(), ()))
            time.sleep(0.3)  # let the worker die before the next submit
        pool.collect(block=True)
    finally:
        pool.close()
    assert sorted(results) == list(range(len(names)))
    assert [results[i].ok for i in range(len(names))] == [n != "boom" for n in names]
    assert results[1].reason.startswith(CRASH_REASON) and "SIGKILL" in results[1].reason


def test_list_line_too_long_for_the_file_system(tmp_path):
    from extreme3d.naming import read_input_list

    listing = tmp_path / "list.txt"
    listing.write_bytes(b"x" * 5000 + b"\n" + b"\xff\xfe\xfd\xfc.png\n")
    result = read_input_list(listing)
    assert "File name too long" in result.problems[0].message
    assert [e.name for e in result.entries] == [os.fsdecode(b"\xff\xfe\xfd\xfc")]
