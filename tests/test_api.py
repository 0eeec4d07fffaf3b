"""The Python API (extreme3d.Reconstructor), params JSON, overlays, several faces per photo,
and the documented example (docs/api.md) run as written."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from extreme3d import Extreme3DError
from extreme3d.api import Reconstructor
from extreme3d.camera import project, rotation_matrix
from extreme3d.params import project_with_params, read_params

FRONTAL = "Jon-Hamm.png"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "api.md"


@pytest.fixture(scope="module")
def rec(sfm_h5, tmp_path_factory) -> Reconstructor:
    """A Reconstructor on the Surrey model, no CNNs (identity from landmarks, flat bump)."""
    empty = tmp_path_factory.mktemp("no_cnn")
    return Reconstructor(model=sfm_h5, cnn_dir=empty, bump_source="flat", texture_size=1024)


@pytest.fixture(scope="module")
def photo_path(shared) -> Path:
    path = shared / "data" / "test" / FRONTAL
    if not path.is_file():
        pytest.skip(f"{path} missing")
    return path


@pytest.fixture(scope="module")
def face(rec, photo_path):
    faces = rec.reconstruct(photo_path)
    assert len(faces) == 1
    return faces[0]


def test_result_holds_what_the_issue_lists(rec, face, photo_path) -> None:
    assert face.name == "Jon-Hamm" and face.image_path == str(photo_path)
    assert face.crop.shape == (500, 500, 3) and face.crop.dtype == np.uint8
    assert face.landmarks.shape == (68, 2) and face.landmarks_3d.shape == (68, 3)
    assert face.landmark_vertices.shape == (68,)
    np.testing.assert_allclose(face.landmarks_3d, face.foundation.vertices[face.landmark_vertices],
                               atol=1e-3)
    p = face.pose
    np.testing.assert_allclose(p.matrix, rotation_matrix(p.rvec), atol=1e-12)
    # yaw/pitch/roll rebuild R as documented: R = Ry(yaw) Rx(pitch) Rz(roll)
    from scipy.spatial.transform import Rotation

    rebuilt = Rotation.from_euler("YXZ", [p.yaw, p.pitch, p.roll], degrees=True).as_matrix()
    np.testing.assert_allclose(rebuilt, p.matrix, atol=1e-9)
    assert p.focal == 1000.0 and p.principal_point == (250.0, 250.0)
    assert face.alpha.shape == (rec.model.num_shape,)
    assert face.expr.shape == (rec.model.num_expr,)
    for key in ("foundation_frontal", "withBump_frontal", "final_frontal"):
        m = face.meshes[key]
        assert m.colors is not None and m.colors.shape == m.vertices.shape
    assert face.bump.shape == (512, 512) and face.mask.shape == (512, 512)
    assert face.sources == {"landmarks": "dlib", "shape": "landmarks", "bump": "flat",
                            "fit": "identity fit (robust, jaw on the silhouette)",
                            "geometry": "soft symmetry",
                            "colors": "photo"}


def test_3d_landmarks_project_onto_the_2d_ones_within_the_fit_rmse(face) -> None:
    used = face.landmarks_used
    crop_uv = project(face.landmarks_3d, face.pose.rvec, face.pose.tvec)
    rmse_crop = np.sqrt(np.mean(np.sum((crop_uv - face.landmarks_crop) ** 2, axis=1)[used]))
    assert rmse_crop <= face.rmse_px + 1e-3
    img_uv = face.projected_landmarks()
    rmse_img = np.sqrt(np.mean(np.sum((img_uv - face.landmarks) ** 2, axis=1)[used]))
    assert rmse_img <= face.rmse_px_image + 1e-3
    assert face.rmse_px_image == pytest.approx(face.rmse_px * face.box.height / 500)


def test_params_json_round_trips(face, tmp_path) -> None:
    written = face.save(tmp_path, formats=("obj",), outputs=("final_frontal",), overlay=False)
    assert "params/Jon-Hamm.json" in written
    doc = read_params(tmp_path / "params" / "Jon-Hamm.json")
    assert doc == json.loads(json.dumps(face.params())) | {"outputs": doc["outputs"]}
    np.testing.assert_allclose(doc["pose"]["rvec"], face.pose.rvec)
    np.testing.assert_allclose(doc["pose"]["tvec_mm"], face.pose.tvec)
    np.testing.assert_allclose(doc["coefficients"]["identity"], face.alpha)
    np.testing.assert_allclose(doc["coefficients"]["expression"], face.expr)
    assert doc["crop"]["box"] == list(face.box.as_tuple())
    assert doc["pose"]["yaw_deg"] == pytest.approx(face.pose.yaw)
    # the stored camera reprojects the stored 3D landmarks onto the 2D ones within the fit RMSE
    used = doc["landmarks"]["used_in_fit"]
    for frame, key, rmse in (("image", "image_px", doc["quality"]["fit_rmse_px_image"]),
                             ("crop", "crop_px", doc["quality"]["fit_rmse_px_crop"])):
        uv = project_with_params(doc, doc["landmarks"]["model_mm"], frame)
        err = np.sum((uv - np.asarray(doc["landmarks"][key])) ** 2, axis=1)[used]
        assert np.sqrt(err.mean()) <= rmse + 1e-2, frame
    with pytest.raises(Extreme3DError, match="not an extreme3d params"):
        (tmp_path / "bad.json").write_text("{}")
        read_params(tmp_path / "bad.json")


def test_textured_obj_of_a_photo_reproduces_the_visible_face(face, tmp_path) -> None:
    from extreme3d.io.obj import read_obj_texture
    from extreme3d.texture import SOURCE_PHOTO, render_textured

    path = face.final.save(tmp_path / "final.obj")
    verts, faces, uv, tex = read_obj_texture(path)
    assert uv.shape == (len(verts), 2) and tex is not None
    rgb, cov, pos = render_textured(verts, faces, uv, tex, face.pose.rvec, face.pose.tvec)
    src = face.texture_map("final_frontal").source
    s = src.shape[0]
    texel = src[np.clip(pos[..., 1].astype(int), 0, s - 1), np.clip(pos[..., 0].astype(int), 0,
                                                                      s - 1)]
    sel = cov & (texel == SOURCE_PHOTO)
    assert sel.sum() > 20000
    mae = np.abs(rgb[sel].astype(float) - face.crop[:, :, ::-1][sel]).mean()
    assert mae < 2.0, mae  # measured 0.3-0.6 on shared photos


def test_overlay_lines_up_with_the_photo(face) -> None:
    from extreme3d.overlay import MODEL_COLOR

    photo = face.photo
    over = face.overlay()
    assert over.shape == photo.shape
    proj = face.projected_landmarks()
    err = np.linalg.norm(proj - face.landmarks, axis=1)[face.landmarks_used]
    assert np.sqrt(np.mean(err**2)) <= 2.0 + face.rmse_px_image
    # the red dots are drawn where the projected landmarks are
    px = np.round(proj).astype(int)
    hits = [np.abs(over[y, x].astype(int) - MODEL_COLOR).max() < 40 for x, y in px]
    assert np.mean(hits) > 0.8
    # the mesh is blended over the face, the image corner is untouched
    cx, cy = np.round(face.landmarks[30]).astype(int)  # nose tip
    assert np.abs(over[cy + 3, cx + 6].astype(int) - photo[cy + 3, cx + 6]).sum() > 0
    np.testing.assert_array_equal(over[:5, :5], photo[:5, :5])


@pytest.mark.slow
def test_collage_gives_two_faces_left_to_right(rec, shared, tmp_path) -> None:
    import cv2

    a = cv2.imread(str(shared / "data" / "test" / FRONTAL))
    b = cv2.imread(str(shared / "data" / "test" / "lra1418.jpg"))
    h = 400
    a = cv2.resize(a, (int(a.shape[1] * h / a.shape[0]), h))
    b = cv2.resize(b, (int(b.shape[1] * h / b.shape[0]), h))
    collage = np.concatenate([b, a], axis=1)
    path = tmp_path / "collage.png"
    cv2.imwrite(str(path), collage)
    faces = rec.reconstruct(path, all_faces=True)
    assert [f.name for f in faces] == ["collage_face0", "collage_face1"]
    assert [f.index for f in faces] == [0, 1]
    assert faces[0].landmarks[:, 0].max() < b.shape[1] <= faces[1].landmarks[:, 0].min()
    assert rec.reconstruct(path, landmarks=[f.landmarks for f in faces[::-1]],
                           all_faces=True)[0].landmarks[0, 0] == faces[0].landmarks[0, 0]
    assert len(rec.reconstruct(path)) == 1
    from extreme3d.stages.outputs import write_prepared
    from extreme3d.stages.prepare import prepare_photo

    prepared = prepare_photo(path, "collage", all_faces=True, keep_photo=True)
    assert [p.name for p in prepared] == ["collage_face0", "collage_face1"]
    np.testing.assert_allclose(prepared[1].original_landmarks, faces[1].landmarks)
    write_prepared(tmp_path / "prep", prepared[1])
    assert (tmp_path / "prep" / "imgs" / "collage_face1.pts").is_file()
    assert (tmp_path / "prep" / "imgs" / "collage_face1_detect.png").is_file()
    written = faces[1].save(tmp_path / "out", formats=("ply",), outputs=("final_frontal",))
    assert "overlay/collage_face1.png" in written and "params/collage_face1.json" in written
    assert read_params(tmp_path / "out" / "params" / "collage_face1.json")["face_index"] == 1


def test_given_landmarks_and_errors(rec, face) -> None:
    again = rec.reconstruct(face.photo, landmarks=face.landmarks, name="again")[0]
    assert again.name == "again" and again.sources["landmarks"] == "given"
    np.testing.assert_allclose(again.pose.rvec, face.pose.rvec, atol=1e-6)
    with pytest.raises(Extreme3DError, match=r"\(68, 2\)"):
        rec.reconstruct(face.photo, landmarks=np.zeros((5, 2)))
    with pytest.raises(Extreme3DError, match="no face"):
        rec.reconstruct(np.zeros((200, 200, 3), np.uint8))
    with pytest.raises(Extreme3DError, match="unknown mesh format"):
        face.save("/nonexistent", formats=("stl",))


def _examples() -> list[Path]:
    """Files holding the API example block (docs/api.md; README.md once it carries it)."""
    return [p for p in (DOCS, DOCS.parent.parent / "README.md")
            if p.is_file() and "<!-- api-example" in p.read_text()]


@pytest.mark.slow
@pytest.mark.parametrize("doc", _examples(), ids=lambda p: p.name)
def test_docs_example_runs(doc, sfm_h5, tmp_path, monkeypatch, capsys) -> None:
    text = doc.read_text()
    block = re.search(r"<!-- api-example[^>]*-->\s*```python\n(.*?)```", text, re.S)
    assert block is not None, f"{doc.name} lost its example block"
    code = block.group(1)
    assert len([ln for ln in code.splitlines() if ln.strip()]) <= 10
    monkeypatch.setenv("EXTREME3D_MODEL_DIR", str(sfm_h5.parent))
    monkeypatch.setenv("EXTREME3D_CNN_DIR", str(tmp_path / "no_cnn"))
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(doc), "exec"), {"__name__": "__docs__"})  # noqa: S102
    assert re.search(r"yaw -?\d+\.\d pitch -?\d+\.\d roll -?\d+\.\d deg", capsys.readouterr().out)
    for f in ("astronaut_final.obj", "astronaut_final.mtl", "astronaut_final.png",
              "astronaut_foundation.ply", "astronaut_out/params/image.json",
              "astronaut_out/overlay/image.png", "astronaut_out/3D/image_final_frontal.obj"):
        assert (tmp_path / f).is_file(), f
    assert os.path.getsize(tmp_path / "astronaut_final.png") > 10000


def test_batch_hook_writes_coloured_meshes_params_and_overlay(rec, face, photo_path,
                                                             tmp_path) -> None:
    """The batch's per-face path after the geometry (stages.face.face_result, then
    stages.outputs.save_face) on the API's result: same colours, params and projection."""
    from types import SimpleNamespace

    from extreme3d.io.ply import read_ply
    from extreme3d.stages.bump import BumpMaps
    from extreme3d.stages.face import FaceOptions, face_result
    from extreme3d.stages.outputs import save_face
    from extreme3d.stages.prepare import PreparedFace
    from extreme3d.stages.shape import Identity

    fit = SimpleNamespace(rvec=face.pose.rvec, tvec=face.pose.tvec, expr=face.expr,
                          rmse_px=face.rmse_px, landmarks_used=face.landmarks_used,
                          landmark_vertices=face.landmark_vertices, mode="identity",
                          pose_choice="identity")
    prepared = PreparedFace("jh", face.crop, face.landmarks_crop, face.box, face.landmarks,
                            face.image_size, "dlib", 1, image_path=str(photo_path))
    res = face_result(rec.model, prepared, Identity(face.alpha, face.alpha, None, "landmarks"),
                      fit, BumpMaps(face.bump, face.mask, "flat", occluders=face.occluders),
                      SimpleNamespace(meshes=face.meshes), FaceOptions(texture_size=256))
    written = save_face(res, tmp_path, formats=("ply", "obj"),
                        outputs=("foundation_aligned", "final_frontal"), maps=False)
    assert set(written) >= {"3D/jh_final_frontal.ply", "3D/jh_final_frontal.obj",
                            "3D/jh_final_frontal.png", "3D/jh_foundation_aligned.obj",
                            "params/jh.json", "overlay/jh.png"}
    ply = read_ply(tmp_path / "3D" / "jh_final_frontal.ply")
    assert ply.colors is not None  # PLY: the original layout of final_frontal
    assert len(ply.vertices) == face.meshes["final_frontal"].num_vertices
    np.testing.assert_array_equal(ply.colors, face.meshes["final_frontal"].colors)
    doc = read_params(tmp_path / "params" / "jh.json")
    assert doc["image"]["width"] == face.image_size[0] and doc["sources"]["shape"] == "landmarks"
    np.testing.assert_allclose(res.projected_landmarks(), face.projected_landmarks())


def test_overlay_camera_matches_the_projection_for_small_and_huge_boxes(sfm_model) -> None:
    from extreme3d.crop import CropBox
    from extreme3d.overlay import MAX_RENDER, project_to_image, render_in_image

    v = sfm_model.shape()
    rvec, tvec = np.array([0.1, 0.3, 0.05]), np.array([5.0, -3.0, -600.0])
    for side in (300, MAX_RENDER + 700):
        box = CropBox(-40, 25, -40 + side, 25 + side)
        shape = (side + 100, side + 50, 3)
        _, covered = render_in_image(v, sfm_model.faces, rvec, tvec, box, shape)
        ys, xs = np.nonzero(covered)
        uv = project_to_image(v, rvec, tvec, box)
        # the rendered silhouette spans the projected vertices (within a pixel of the scale)
        tol = 1.5 * side / 500 + 1
        assert abs(xs.min() - uv[:, 0].min()) < tol and abs(xs.max() - uv[:, 0].max()) < tol
        assert abs(ys.min() - uv[:, 1].min()) < tol and abs(ys.max() - uv[:, 1].max()) < tol


@pytest.mark.slow
def test_batch_command_writes_colours_obj_params_overlay_for_every_face(sfm_h5, shared,
                                                                        tmp_path) -> None:
    import cv2

    from extreme3d.io.ply import read_ply
    from extreme3d.testBatchModel import main as batch_main

    a = cv2.imread(str(shared / "data" / "test" / FRONTAL))
    b = cv2.imread(str(shared / "data" / "test" / "lra1418.jpg"))
    h = 400
    a = cv2.resize(a, (int(a.shape[1] * h / a.shape[0]), h))
    b = cv2.resize(b, (int(b.shape[1] * h / b.shape[0]), h))
    cv2.imwrite(str(tmp_path / "two.png"), np.concatenate([b, a], axis=1))
    (tmp_path / "list.txt").write_text(f"{tmp_path / 'two.png'}\n")
    out = tmp_path / "out"
    rc = batch_main([str(tmp_path / "list.txt"), str(out), "--model", str(sfm_h5),
                     "--cnn-dir", str(tmp_path / "no_cnn"), "--bump-source", "flat",
                     "--formats", "ply,obj", "--all-faces", "--outputs", "final_frontal",
                     "--texture-size", "256", "--no-progress"])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [im["name"] for im in summary["images"]] == ["two_face0", "two_face1"]
    assert summary["options"]["colors"] == "photo"
    lefts = []
    for k in (0, 1):
        name = f"two_face{k}"
        for rel in (f"3D/{name}_final_frontal.obj", f"3D/{name}_final_frontal.mtl",
                    f"3D/{name}_final_frontal.png", f"params/{name}.json", f"overlay/{name}.png",
                    f"imgs/{name}.png"):
            assert (out / rel).is_file(), rel
        assert read_ply(out / "3D" / f"{name}_final_frontal.ply").colors is not None
        doc = read_params(out / "params" / f"{name}.json")
        assert doc["face_index"] == k and doc["sources"]["landmarks"] == "dlib"
        lefts.append(doc["crop"]["box"][0])
        uv = project_with_params(doc, doc["landmarks"]["model_mm"])
        err = np.sum((uv - np.asarray(doc["landmarks"]["image_px"])) ** 2, axis=1)
        assert np.sqrt(err[doc["landmarks"]["used_in_fit"]].mean()) <= (
            doc["quality"]["fit_rmse_px_image"] + 1e-2)
    assert lefts[0] < lefts[1]
    with pytest.raises(SystemExit):
        batch_main([str(tmp_path / "list.txt"), str(out), "--formats", "stl"])


@pytest.mark.slow
def test_batch_and_api_give_the_same_outputs(rec, face, photo_path, sfm_h5, tmp_path) -> None:
    from extreme3d.io.ply import read_ply
    from extreme3d.testBatchModel import main as batch_main

    (tmp_path / "list.txt").write_text(f"{photo_path}\n")
    out = tmp_path / "out"
    assert batch_main([str(tmp_path / "list.txt"), str(out), "--model", str(sfm_h5),
                       "--cnn-dir", str(tmp_path / "no_cnn"), "--bump-source", "flat",
                       "--no-progress"]) == 0
    for key in ("foundation_frontal", "withBump_aligned", "final_frontal"):
        mesh = read_ply(out / "3D" / f"Jon-Hamm_{key}.ply")
        np.testing.assert_allclose(mesh.vertices, face.meshes[key].vertices, atol=1e-3)
        np.testing.assert_array_equal(mesh.faces, face.meshes[key].faces)
        np.testing.assert_array_equal(mesh.colors, face.meshes[key].colors)
    doc = read_params(out / "params" / "Jon-Hamm.json")
    np.testing.assert_allclose(doc["pose"]["rvec"], face.pose.rvec, atol=1e-9)
    np.testing.assert_allclose(doc["coefficients"]["identity"], face.alpha, atol=1e-9)
    assert doc["crop"]["box"] == list(face.box.as_tuple())
