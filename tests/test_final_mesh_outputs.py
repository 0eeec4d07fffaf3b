"""Which file holds which final mesh (--mesh clean|original), binary PLY, --decimate and
--max-gap through the API and the batch command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from extreme3d import Extreme3DError
from extreme3d.api import Reconstructor
from extreme3d.io.obj import read_obj_texture
from extreme3d.io.ply import read_ply
from extreme3d.mesh_topology import mesh_topology

PHOTO = "Jon-Hamm.png"


@pytest.fixture(scope="module")
def photo(shared):
    path = shared / "data" / "test" / PHOTO
    if not path.is_file():
        pytest.skip(f"{path} missing")
    return path


@pytest.fixture(scope="module")
def face(sfm_h5, photo, tmp_path_factory):
    rec = Reconstructor(model=sfm_h5, cnn_dir=tmp_path_factory.mktemp("no_cnn"),
                        bump_source="flat", texture_size=256)
    return rec.reconstruct(photo)[0]


def obj_counts(path) -> tuple[int, int]:
    """(v lines, f lines) of an OBJ file."""
    lines = path.read_text().splitlines()
    return sum(x.startswith("v ") for x in lines), sum(x.startswith("f ") for x in lines)


def test_final_is_the_clean_mesh_and_ply_keeps_the_original_layout(face, tmp_path):
    original = face.meshes["final_frontal"]
    clean = face.final
    t = mesh_topology(clean.vertices, clean.faces)
    assert (t.components, t.nonmanifold_edges, t.unreferenced) == (1, 0, 0)
    assert t.boundary_loops <= 2
    assert mesh_topology(original.vertices, original.faces).unreferenced > 0
    assert clean.colors is not None and clean.uv is not None and clean.texture is not None
    written = face.save(tmp_path, formats=("ply", "obj"), outputs=("final_frontal",),
                        maps=False, overlay=False, params=False)
    assert f"3D/{face.name}_final_frontal.obj" in written
    assert f"3D/{face.name}_final_frontal.ply" in written
    ply = read_ply(tmp_path / "3D" / f"{face.name}_final_frontal.ply")
    assert len(ply.vertices) == original.num_vertices  # the original's layout and bytes
    # the OBJ holds the clean mesh simplified within 0.03 mm (a subset of its vertices), read
    # back by trimesh; --decimate off gives the full clean mesh
    obj = tmp_path / "3D" / f"{face.name}_final_frontal.obj"
    nv, nf = obj_counts(obj)
    assert nv < clean.num_vertices and nf < clean.num_faces
    v, f, uv, tex = read_obj_texture(obj)
    t = mesh_topology(v, f)
    assert (t.components, t.nonmanifold_edges, t.unreferenced) == (1, 0, 0)
    assert t.boundary_loops <= 2 and tex is not None and len(uv) == nv
    from scipy.spatial import cKDTree

    assert cKDTree(clean.vertices).query(v)[0].max() <= 1e-3  # clean vertices, 3 decimals
    face.save(tmp_path / "full", formats=("obj",), outputs=("final_frontal",), maps=False,
              overlay=False, params=False, decimate="off")
    assert obj_counts(tmp_path / "full" / "3D" / f"{face.name}_final_frontal.obj") == (
        clean.num_vertices, clean.num_faces)
    # the GLB holds the same simplified mesh
    import trimesh

    face.save(tmp_path / "g", formats=("glb",), outputs=("final_frontal",), maps=False,
              overlay=False, params=False)
    glb = trimesh.load(tmp_path / "g" / "3D" / f"{face.name}_final_frontal.glb", force="mesh",
                       process=False)
    assert len(glb.faces) == nf


def test_mesh_modes_binary_ply_and_decimation(face, tmp_path):
    original = face.meshes["final_frontal"]
    clean = face.final
    try:
        face.mesh_mode = "clean"
        face.save(tmp_path / "c", formats=("ply",), outputs=("final_frontal",), maps=False,
                  overlay=False, params=False, ply_binary=True, decimate=0.25)
        path = tmp_path / "c" / "3D" / f"{face.name}_final_frontal.ply"
        assert b"format binary_little_endian 1.0" in path.read_bytes()[:100]
        light = read_ply(path)
        assert abs(len(light.faces) / clean.num_faces - 0.25) < 0.02
        t = mesh_topology(light.vertices, light.faces)
        assert (t.components, t.nonmanifold_edges, t.unreferenced) == (1, 0, 0)
        face.mesh_mode = "original"
        assert face.final is original
        face.save(tmp_path / "o", formats=("obj",), outputs=("final_frontal",), maps=False,
                  overlay=False, params=False)
        assert obj_counts(tmp_path / "o" / "3D" / f"{face.name}_final_frontal.obj")[0] == (
            original.num_vertices)
    finally:
        face.mesh_mode = None


def test_bad_mesh_options_are_one_clear_error(sfm_h5, tmp_path):
    for kwargs in ({"mesh": "tidy"}, {"max_gap": 0.0}):
        with pytest.raises(Extreme3DError, match="mesh must|max_gap"):
            Reconstructor(model=sfm_h5, cnn_dir=tmp_path, bump_source="flat", **kwargs)
    from extreme3d.testBatchModel import main as batch_main

    for extra in (["--decimate", "2"], ["--max-gap", "-1"], ["--mesh", "tidy"]):
        with pytest.raises(SystemExit):
            batch_main([str(tmp_path / "l.txt"), str(tmp_path / "o"), *extra])


def test_batch_mesh_options(sfm_h5, photo, tmp_path):
    from extreme3d.testBatchModel import main as batch_main

    (tmp_path / "list.txt").write_text(f"{photo}\n")
    out = tmp_path / "out"
    rc = batch_main([str(tmp_path / "list.txt"), str(out), "--model", str(sfm_h5),
                     "--cnn-dir", str(tmp_path / "no_cnn"), "--bump-source", "flat",
                     "--outputs", "final_frontal", "--mesh", "clean", "--ply-binary",
                     "--max-gap", "4", "--no-progress", "--no-overlay"])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    opts = summary["options"]
    assert (opts["mesh"], opts["max_gap_mm"], opts["ply_binary"]) == ("clean", 4.0, True)
    name = summary["images"][0]["name"]
    mesh = read_ply(out / "3D" / f"{name}_final_frontal.ply")
    t = mesh_topology(mesh.vertices, mesh.faces)
    assert (t.components, t.nonmanifold_edges, t.unreferenced) == (1, 0, 0)
    assert mesh.colors is not None and np.isfinite(mesh.vertices).all()


def test_preview_renders_the_final_mesh_the_user_gets(face, tmp_path, monkeypatch):
    """The preview draws `final` (the clean mesh: no slits or holes between the original
    layout's pieces), and the original layout when mesh_mode is 'original'."""
    import dataclasses

    import extreme3d.preview
    from extreme3d.stages import outputs

    drawn = []
    monkeypatch.setattr(extreme3d.preview, "write_preview",
                        lambda path, crop, mesh, rvec, tvec: drawn.append(mesh))
    assert outputs.write_preview(tmp_path, face.name, face) == f"preview/{face.name}.png"
    clean = face.clean_final(textured=False)
    assert drawn[-1] is clean and drawn[-1].colors is not None
    original = dataclasses.replace(face, mesh_mode="original", _clean={})
    outputs.write_preview(tmp_path, face.name, original)
    assert drawn[-1] is face.meshes["final_frontal"]
    assert len(drawn[-1].vertices) != len(clean.vertices)
    # a clean mesh that cannot be built: the original layout in the picture, no failure
    broken = dataclasses.replace(face, _clean={})

    def fail(*args, **kwargs):
        raise Extreme3DError("no clean mesh")

    monkeypatch.setattr(broken, "clean_final", fail)
    outputs.write_preview(tmp_path, face.name, broken)
    assert drawn[-1] is face.meshes["final_frontal"]
