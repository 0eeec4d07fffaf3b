"""Compact mesh files: binary PLY, GLB positions, OBJ decimals, quadric decimation, --max-gap."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from extreme3d import Extreme3DError
from extreme3d.decimate import decimate
from extreme3d.io.obj import obj_text, write_glb, write_obj
from extreme3d.io.ply import read_ply, write_ply
from extreme3d.mesh_topology import mesh_topology


def wavy_grid(n: int = 60):
    """(vertices, faces) of a smooth wavy height field (mm) on an n x n grid, 1 mm spacing."""
    x, y = np.meshgrid(np.arange(n, dtype=np.float64), np.arange(n, dtype=np.float64))
    z = 3.0 * np.sin(x / 9.0) * np.cos(y / 11.0)
    idx = np.arange(n * n).reshape(n, n)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    c, d = idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    return np.column_stack([x.ravel(), y.ravel(), z.ravel()]), faces


def test_binary_ply_round_trip_and_size(tmp_path):
    v, f = wavy_grid(30)
    colors = (np.arange(len(v) * 3).reshape(-1, 3) % 256).astype(np.uint8)
    ascii_path = write_ply(tmp_path / "a.ply", v, f, colors)
    bin_path = write_ply(tmp_path / "b.ply", v, f, colors, binary=True)
    assert bin_path.read_bytes().split(b"\n")[1] == b"format binary_little_endian 1.0"
    back = read_ply(bin_path)
    assert np.array_equal(back.vertices, v.astype(np.float32))
    assert np.array_equal(back.faces, f) and np.array_equal(back.colors, colors)
    # header + 15 bytes per vertex + 13 per face
    header = bin_path.read_bytes().index(b"end_header\n") + len(b"end_header\n")
    assert bin_path.stat().st_size == header + 15 * len(v) + 13 * len(f)
    assert bin_path.stat().st_size < ascii_path.stat().st_size


def test_obj_decimals_and_glb_float32_positions(tmp_path):
    v, f = wavy_grid(10)
    v = v + 0.123456789
    text, _ = obj_text(v, f, digits=4)
    first = next(line for line in text.splitlines() if line.startswith("v "))
    assert first == "v 0.1235 0.1235 0.1235"
    uv = np.full((len(v), 2), 0.5123456)
    text, _ = obj_text(v, f, uv=uv, name="m", digits=4, uv_digits=5)
    assert "vt 0.51235 0.51235" in text
    path = write_obj(tmp_path / "m.obj", v, f)
    line = next(x for x in path.read_text().splitlines() if x.startswith("v "))
    assert line == "v 0.123 0.123 0.123"  # the written files use 3 decimals (1 um)
    path = write_obj(tmp_path / "t.obj", v, f, uv=uv, texture=np.zeros((4, 4, 3), np.uint8))
    assert "vt 0.5123 0.5123" in path.read_text()  # and 4 for uv (1/10 texel of 1024)
    glb = write_glb(tmp_path / "m.glb", v, f).read_bytes()
    n = struct.unpack("<I", glb[12:16])[0]
    gltf = json.loads(glb[20:20 + n])
    position = gltf["meshes"][0]["primitives"][0]["attributes"]["POSITION"]
    assert gltf["accessors"][position]["componentType"] == 5126  # FLOAT (float32)


def test_decimation_keeps_the_surface_and_the_border():
    v, f = wavy_grid(60)
    d = decimate(v, f, 0.25)
    assert abs(len(d.faces) / len(f) - 0.25) < 0.02
    t = mesh_topology(d.vertices, d.faces)
    assert (t.components, t.boundary_loops, t.nonmanifold_edges, t.unreferenced) == (1, 1, 0, 0)
    # every decimated vertex lies on the original height field (within 0.05 mm)
    x, y, z = d.vertices[:, 0], d.vertices[:, 1], d.vertices[:, 2]
    assert np.abs(z - 3.0 * np.sin(x / 9.0) * np.cos(y / 11.0)).max() < 0.05
    # border corners stay where they were
    corners = v[[0, 59, 3540, 3599]].astype(np.float32)
    assert all(np.isclose(d.vertices, c).all(1).any() for c in corners)
    assert d.source.max() < len(v) and len(np.unique(d.source)) == len(d.source)
    same = decimate(v, f, 1.0)
    assert len(same.faces) == len(f)


@pytest.mark.parametrize("ratio", [0.0, -1.0, 1.5])
def test_decimation_ratio_checked(ratio):
    v, f = wavy_grid(5)
    with pytest.raises(Extreme3DError, match="decimate"):
        decimate(v, f, ratio)


def test_max_gap_option():
    import argparse

    from extreme3d.geometry import max_gap_type

    assert max_gap_type("4") == 4.0
    for bad in ("0", "-2", "nan", "abc"):
        with pytest.raises(argparse.ArgumentTypeError, match="max-gap"):
            max_gap_type(bad)


def test_max_gap_changes_the_registration(sfm_model):
    from test_geometry import bump_pattern

    from extreme3d.geometry import ORIGINAL_MAX_GAP_MM, default_max_gap, run_geometry

    rng = np.random.default_rng(5)
    alpha = (rng.standard_normal(sfm_model.num_shape) * 0.5).astype(np.float32)
    expr = np.zeros(sfm_model.num_expr, np.float32)
    args = (sfm_model, alpha, expr, np.array([0.05, 0.2, 0.0]), np.array([0, 0, -1100.0]),
            bump_pattern(), np.full((512, 512), 255, np.uint8))
    wide = run_geometry(*args)
    narrow = run_geometry(*args, max_gap=ORIGINAL_MAX_GAP_MM)
    assert default_max_gap(sfm_model) > 10.0
    assert narrow.counts["registered"] < wide.counts["registered"]
    assert len(wide.registration["tri"]) == wide.counts["registered"]
    with pytest.raises(ValueError, match="max_gap"):
        run_geometry(*args, max_gap=-1.0)
