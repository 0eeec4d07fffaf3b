"""Batch stage 1 (crops): paper crops reproduced, landmark files, per-image errors, CLI."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from extreme3d.cli import main
from extreme3d.io.pts import read_pts, write_pts
from extreme3d.prepare_images import prepare_batch, prepare_image

JON = "Jon-Hamm.png"


def test_paper_crop_reproduced_byte_for_byte(shared, tmp_path):
    # The paper's Jon-Hamm crop was made from dlib landmarks: ours must be identical files.
    res = prepare_image(shared / "data/test" / JON, tmp_path)
    paper = shared / "data/paper/imgs"
    assert res.name == "Jon-Hamm" and res.landmark_source == "dlib" and res.num_faces == 1
    assert (tmp_path / "imgs/Jon-Hamm.pts").read_text() == (paper / "Jon-Hamm.pts").read_text()
    ref = cv2.imread(str(paper / "Jon-Hamm.png"))
    np.testing.assert_array_equal(res.crop, ref)
    assert (tmp_path / "imgs/Jon-Hamm.png").read_bytes() == (paper / "Jon-Hamm.png").read_bytes()
    detect = cv2.imread(str(tmp_path / "imgs/Jon-Hamm_detect.png"))
    assert detect.shape[:2] == (res.image_size[1], res.image_size[0])
    assert sorted(p.name for p in (tmp_path / "imgs").iterdir()) == [
        "Jon-Hamm.png", "Jon-Hamm.pts", "Jon-Hamm_detect.png"]


@pytest.mark.parametrize(
    "photo",
    ["f20938b641e8e7c5fb26198c609e03a6--men-in-glasses-john-hamm.jpg",
     "hairstyle-for-round-faces-a-line-bob-with-side-parting.jpg"],
)
def test_crop_close_to_paper_crop(shared, photo):
    # Most paper crops used other (integer, crop-space) landmarks: ours agree within a few px.
    res = prepare_image(shared / "data/test" / photo)
    ref = read_pts(shared / "data/paper/imgs" / (res.name + ".pts"))
    dist = np.linalg.norm(res.landmarks - ref, axis=1)
    assert np.median(dist) < 5.0 and dist.max() < 12.0
    paper = cv2.imread(str(shared / "data/paper/imgs" / (res.name + ".png")), cv2.IMREAD_GRAYSCALE)
    ours = cv2.cvtColor(res.crop, cv2.COLOR_BGR2GRAY)
    assert np.corrcoef(ours.ravel(), paper.ravel())[0, 1] > 0.7


def test_landmark_dir_and_mapping_back(shared, tmp_path):
    dlib_res = prepare_image(shared / "data/test" / JON)
    lmdir = tmp_path / "lms"
    lmdir.mkdir()
    write_pts(lmdir / "Jon-Hamm.pts", dlib_res.original_landmarks, ibug_header=True)
    res = prepare_image(shared / "data/test" / JON, tmp_path / "out", lmdir)
    assert res.landmark_source == "file"
    assert res.box == dlib_res.box  # same points -> same box and crop
    np.testing.assert_array_equal(res.crop, dlib_res.crop)
    np.testing.assert_allclose(res.landmarks, dlib_res.landmarks, atol=1e-4)
    from extreme3d.crop import from_crop_coords

    back = from_crop_coords(res.landmarks, res.box)
    np.testing.assert_allclose(back, res.original_landmarks, atol=1e-9)
    assert res.scale == pytest.approx(500 / res.box.height)


def test_batch_collects_errors_and_goes_on(shared, tmp_path, capsys):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 90, np.uint8))
    broken = tmp_path / "broken.jpg"
    broken.write_text("no image")
    jon = shared / "data/test" / JON
    lst = tmp_path / "list.txt"
    lst.write_text(f"{blank}\r\n\r\n{broken}\n{tmp_path}/missing.png\n{jon}\n{jon}\n")
    out = tmp_path / "out"
    report = prepare_batch(lst, out)
    assert [name for name, _ in report.prepared] == ["Jon-Hamm"]
    assert (out / "imList.txt").read_text() == f"{out.absolute()}/imgs/Jon-Hamm.png\n"
    messages = [f.message for f in report.failures]
    assert len(messages) == 4
    assert any(m.startswith(f"{blank}: no face detected") for m in messages)
    assert any(m.startswith(f"{broken}: not a readable image") for m in messages)
    assert any(m.startswith(f"{tmp_path}/missing.png: image not found") for m in messages)
    assert any("already used by line 5" in m for m in messages)
    assert all("\n" not in m for m in messages)
    assert not [p for p in (out / "imgs").iterdir() if p.name.endswith(".tmp")]

    # the same through the command line: exit 1, one stderr line per failure
    rc = main(["prepare-images", str(lst), str(tmp_path / "cli")])
    captured = capsys.readouterr()
    assert rc == 1
    assert len(captured.err.strip().splitlines()) == 4
    assert "1 prepared, 4 failed" in captured.out


def test_bad_landmark_file_names_it(shared, tmp_path, capsys):
    lmdir = tmp_path / "lms"
    lmdir.mkdir()
    (lmdir / "Jon-Hamm.pts").write_text("".join(f"{i} {i}\n" for i in range(67)))
    lst = tmp_path / "l.txt"
    lst.write_text(f"{shared / 'data/test' / JON}\n")
    report = prepare_batch(lst, tmp_path / "o", lmdir)
    assert not report.prepared
    (failure,) = report.failures
    assert failure.message == f"{lmdir}/Jon-Hamm.pts: expected 68 landmarks, found 67"
    rc = main(["prepare-images", str(lst), str(tmp_path / "o2"), str(tmp_path / "nodir")])
    assert rc == 1
    assert capsys.readouterr().err.strip() == (
        f"extreme3d: error: {tmp_path}/nodir: landmark folder not found")
