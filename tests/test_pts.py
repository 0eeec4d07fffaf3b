"""Landmark (.pts) and coefficient (.ply.alpha) files: formats and one-line errors."""

from __future__ import annotations

import os

import numpy as np
import pytest

from extreme3d import Extreme3DError
from extreme3d.io.pts import read_coefficients, read_pts, write_coefficients, write_pts

PTS = np.column_stack([np.arange(68) * 1.5, 300 - np.arange(68) * 0.25])


def _plain(points):
    return "".join(f"{x} {y}\n" for x, y in points)


def test_ibug_header_with_comments(tmp_path):
    body = "".join(f"{x} {y}   # point\n" for x, y in PTS)
    path = tmp_path / "a.pts"
    path.write_text(f"# made by hand\nversion: 1\nn_points:  68\n{{\n{body}}}\n")
    np.testing.assert_array_equal(read_pts(path), PTS)


def test_plain_lines_like_np_loadtxt(tmp_path):
    path = tmp_path / "b.pts"
    path.write_text("\r\n" + _plain(PTS).replace("\n", "\r\n") + "\n\n")
    got = read_pts(path)
    assert got.shape == (68, 2) and got.dtype == np.float64
    np.testing.assert_array_equal(got, PTS)


def test_67_points_is_one_line_error_naming_the_file(tmp_path):
    path = tmp_path / "short.pts"
    path.write_text(_plain(PTS[:67]))
    with pytest.raises(Extreme3DError) as err:
        read_pts(path)
    msg = str(err.value)
    assert "short.pts" in msg and "68" in msg and "67" in msg and "\n" not in msg


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("1 2\n3 x\n", r"line 2.*'3 x'"),
        ("1 2 3\n", r"line 1.*two finite numbers"),
        ("1 nan\n", r"line 1"),
        ("version: 1\nn_points: 2\n{\n1 2\n}\n", r"n_points: 2.*1 points"),
    ],
)
def test_malformed_pts(tmp_path, text, pattern):
    path = tmp_path / "m.pts"
    path.write_text(text)
    with pytest.raises(Extreme3DError, match=pattern) as err:
        read_pts(path, num_points=None)
    assert str(err.value).startswith(str(path))


def test_missing_pts_file(tmp_path):
    with pytest.raises(Extreme3DError, match=r"nothere\.pts: landmark file not found"):
        read_pts(tmp_path / "nothere.pts")


def test_write_pts_matches_original_format(tmp_path):
    pts = np.array([[122.64151, 233.962265], [1.0, 2.5]], np.float32)
    path = write_pts(tmp_path / "o.pts", pts)
    # the original writes "%f %f" of the float32 values
    assert path.read_text() == "122.641510 233.962265\n1.000000 2.500000\n"
    path = write_pts(tmp_path / "i.pts", PTS, ibug_header=True)
    text = path.read_text()
    assert text.startswith("version: 1\nn_points: 68\n{\n") and text.endswith("}\n")
    np.testing.assert_allclose(read_pts(path), PTS, atol=1e-6)


def test_coefficients_round_trip_and_count(tmp_path):
    values = np.array([-0.6818834543228149414, 1e-20, 3.0])
    path = write_coefficients(tmp_path / "x.ply.alpha", values)
    assert path.read_text().splitlines()[0] == "-6.818834543228149414e-01"  # np.savetxt default
    np.testing.assert_array_equal(read_coefficients(path, count=3), values)
    with pytest.raises(Extreme3DError, match=r"x\.ply\.alpha: expected 99 coefficients, found 3"):
        read_coefficients(path, count=99)
    (tmp_path / "bad.ply.alpha").write_text("1\nabc\n")
    with pytest.raises(Extreme3DError, match=r"bad\.ply\.alpha: line 2"):
        read_coefficients(tmp_path / "bad.ply.alpha")


def test_paper_files_parse(shared):
    pts = read_pts(shared / "data/paper/imgs/Jon-Hamm.pts")
    assert pts.shape == (68, 2) and np.all((pts > 0) & (pts < 500))
    alpha = read_coefficients(shared / "data/paper/shape/Jon-Hamm.ply.alpha", count=99)
    assert np.all(np.abs(alpha) < 10)


def test_written_files_get_the_umask_permissions(tmp_path):
    """Atomic writes (mkstemp makes 0600 files) end with 0666 minus the process umask."""
    old = os.umask(0o027)
    try:
        path = write_pts(tmp_path / "a.pts", PTS)
        assert path.stat().st_mode & 0o777 == 0o640
        os.umask(0o022)
        write_coefficients(tmp_path / "a.ply.alpha", [1.0, 2.0])
        assert (tmp_path / "a.ply.alpha").stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(old)
