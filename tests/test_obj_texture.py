"""Textured OBJ/GLB outputs: UV atlas, texture baking from the photo, trimesh round trip."""

from __future__ import annotations

import numpy as np
import pytest

from extreme3d.api import TexturedMesh
from extreme3d.io.obj import read_obj_texture
from extreme3d.texture import (
    SOURCE_NONE,
    SOURCE_PHOTO,
    bake_texture,
    cylindrical_uv,
    push_pull_fill,
    render_textured,
)

POSE_R = np.array([0.08, 0.45, -0.05])
POSE_T = np.array([0.0, 5.0, -600.0])
#: Mean absolute error (grey levels, RGB) allowed between a textured rendering at the pose the
#: texture was baked from and the photo, on the pixels whose texel came from the photo. Measured
#: 1.06 here (1024 texels, the detailed astronaut picture: double bilinear resampling) and
#: 0.3-0.6 on shared test photos; a wrong UV map (v flipped, u/v swapped) gives 55-80.
MAE_LIMIT = 2.0


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A detailed 500x500 BGR picture (scikit-image's astronaut) standing in for a crop."""
    import cv2
    from skimage import data

    return np.ascontiguousarray(cv2.resize(data.astronaut(), (500, 500))[:, :, ::-1])


@pytest.fixture(scope="module")
def baked(sfm_model, photo):
    v = sfm_model.shape()
    return v, sfm_model.faces, bake_texture(v, sfm_model.faces, photo, POSE_R, POSE_T, size=1024)


def _photo_mae(v, faces, uv, tex, photo, source) -> float:
    rgb, cov, pos = render_textured(v, faces, uv, tex, POSE_R, POSE_T)
    s = source.shape[0]
    src = source[np.clip(pos[..., 1].astype(int), 0, s - 1), np.clip(pos[..., 0].astype(int), 0,
                                                                       s - 1)]
    sel = cov & (src == SOURCE_PHOTO)
    assert sel.sum() > 10000
    return float(np.abs(rgb[sel].astype(float) - photo[:, :, ::-1][sel]).mean())


def test_uv_atlas_is_in_range_and_mostly_unfolded(sfm_model) -> None:
    v = sfm_model.shape()
    uv = cylindrical_uv(v)
    assert uv.shape == (len(v), 2) and uv.min() >= 0.0 and uv.max() <= 1.0
    f = sfm_model.faces
    a, b, c = uv[f[:, 0]], uv[f[:, 1]], uv[f[:, 2]]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    major = np.sign(np.median(area))
    assert np.mean(np.sign(area) != major) < 0.02  # folded triangles (e.g. under the chin)


def test_textured_render_reproduces_the_photo(baked, photo) -> None:
    v, faces, tm = baked
    counts = tm.counts()
    assert counts["photo"] > 0 and counts["mirror"] > 0  # yawed: the far side is mirrored
    assert (tm.source == SOURCE_NONE).any()  # texels outside the atlas exist (padding)
    mae = _photo_mae(v, faces, tm.uv, tm.image, photo, tm.source)
    assert mae < MAE_LIMIT, mae
    # a wrong UV mapping clearly fails: v flipped, or u and v swapped
    flipped = tm.uv.copy()
    flipped[:, 1] = 1.0 - flipped[:, 1]
    assert _photo_mae(v, faces, flipped, tm.image, photo, tm.source) > 10 * MAE_LIMIT
    assert _photo_mae(v, faces, tm.uv[:, ::-1], tm.image, photo, tm.source) > 10 * MAE_LIMIT


def test_obj_round_trip_with_trimesh(baked, photo, tmp_path) -> None:
    v, faces, tm = baked
    mesh = TexturedMesh(v, faces, np.full(v.shape, 128, np.uint8), uv=tm.uv, texture=tm.image)
    path = mesh.save(tmp_path / "face_final_frontal.obj")
    for ext in (".mtl", ".png"):
        assert path.with_suffix(ext).is_file()
    mtl = path.with_suffix(".mtl").read_text()
    assert "map_Kd face_final_frontal.png" in mtl
    verts, fcs, uv, tex = read_obj_texture(path)
    np.testing.assert_allclose(verts, v, atol=1e-3)
    np.testing.assert_array_equal(fcs, faces)
    np.testing.assert_allclose(uv, tm.uv, atol=5e-5)  # 4 decimals in the file (OBJ_UV_DIGITS)
    assert tex is not None and tex.shape == tm.image.shape
    np.testing.assert_array_equal(tex, tm.image)
    # the file, as loaded, renders the photo back as well as the in-memory texture
    assert _photo_mae(verts, fcs, uv, tex, photo, tm.source) < MAE_LIMIT
    # PLY keeps the original layout with the per-vertex colours
    ply = mesh.save(tmp_path / "face.ply").read_text().splitlines()
    assert "property uchar red" in ply and ply[-1].startswith("3 ")


def test_glb_and_vertex_colour_obj(baked, tmp_path) -> None:
    import trimesh

    v, faces, tm = baked
    TexturedMesh(v, faces, uv=tm.uv, texture=tm.image).save(tmp_path / "f.glb")
    scene = trimesh.load(tmp_path / "f.glb")
    geom = next(iter(scene.geometry.values()))
    assert len(geom.vertices) == len(v) and geom.visual.uv is not None
    col = np.tile(np.array([[200, 100, 50]], np.uint8), (len(v), 1))
    TexturedMesh(v, faces, col).save(tmp_path / "c.obj")
    loaded = trimesh.load(tmp_path / "c.obj", process=False)
    np.testing.assert_array_equal(loaded.visual.vertex_colors[:, :3], col)


def test_push_pull_fill_keeps_known_pixels_and_stays_in_range() -> None:
    rng = np.random.default_rng(1)
    img = rng.uniform(50, 200, (37, 53, 3)).astype(np.float32)
    known = rng.uniform(size=(37, 53)) < 0.1
    out = push_pull_fill(img, known)
    np.testing.assert_array_equal(out[known], img[known])
    assert out.min() >= 50 - 1e-3 and out.max() <= 200 + 1e-3
    assert np.isfinite(out).all()


def test_mirrored_texels_match_the_hidden_side_better_with_seam_correction(sfm_model) -> None:
    from extreme3d.render import render
    from extreme3d.texture import SOURCE_MIRROR

    v = sfm_model.shape()
    faces = sfm_model.faces
    lo, hi = v.min(axis=0), v.max(axis=0)
    # symmetric albedo (|x|, y) under a light from one side
    base = np.stack([np.abs(v[:, 0]) / hi[0], (v[:, 1] - lo[1]) / (hi[1] - lo[1]),
                     np.full(len(v), 0.5)], axis=1) * 150 + 40
    col = np.clip(base * (1.0 + 0.35 * v[:, 0] / np.abs(v[:, 0]).max())[:, None], 0, 255)
    rgb, _ = render(v, faces, POSE_R, POSE_T, colors=col)
    img = np.ascontiguousarray(rgb[:, :, ::-1])
    other_r = POSE_R * np.array([1.0, -1.0, -1.0])  # the mirrored view shows the hidden side
    truth, _ = render(v, faces, other_r, POSE_T, colors=col)
    errs = {}
    for fix in (True, False):
        tm = bake_texture(v, faces, img, POSE_R, POSE_T, size=512, seam_correction=fix)
        out, cov, pos = render_textured(v, faces, tm.uv, tm.image, other_r, POSE_T)
        src = tm.source[np.clip(pos[..., 1].astype(int), 0, 511),
                        np.clip(pos[..., 0].astype(int), 0, 511)]
        sel = cov & (src == SOURCE_MIRROR)
        assert sel.sum() > 2000
        errs[fix] = float(np.abs(out[sel].astype(float) - truth[sel]).mean())
    assert errs[True] < 0.6 * errs[False], errs


@pytest.mark.parametrize("mode", ["plain", "colors", "texture"])
def test_obj_text_is_trimesh_export_text(mode) -> None:
    """The fast OBJ/MTL text is byte for byte trimesh's export_obj (values of every sign and
    magnitude, faces, colours, uv), with and without faces."""
    from extreme3d.io.obj import obj_text, obj_text_reference

    rng = np.random.default_rng(3)
    v = ((rng.random((300, 3)) - 0.5) * 400).astype(np.float32)
    v[:3] = [[-1e-9, 0.0, 5e-7], [-0.0, 1e6, -2.5e-7], [0.0000005, -0.0000005, 123.4567895]]
    faces = rng.integers(0, 300, (500, 3)).astype(np.int32)
    colors = rng.integers(0, 256, (300, 3)).astype(np.uint8) if mode != "plain" else None
    uv = rng.random((300, 2)).astype(np.float32) if mode == "texture" else None
    tex = rng.integers(0, 256, (8, 8, 3)).astype(np.uint8) if mode == "texture" else None
    for f in (faces, None):
        ref_text, ref_files = obj_text_reference(v, f, colors, uv, tex, name="m")
        text, mtl = obj_text(v, f, colors, uv, "m")
        assert text == ref_text
        assert mtl == ref_files.get("m.mtl")


def test_obj_rows_in_cpp_print_as_python_format() -> None:
    from extreme3d import _core

    vals = np.array([[0.0, -0.0, 1.0000005], [2.5e-7, -1.2345675, 1e20], [np.nan, np.inf, -np.inf],
                     [123.4567895, -0.0000004, 7.0]])
    want = "\nv ".join(" ".join(f"{x:.6f}" for x in row) for row in vals.tolist())
    assert _core.format_obj_rows(vals, "v ", 6).decode() == want
    ints = np.array([[1, 2, 3], [40, 500, -6]], np.int64)
    assert _core.format_obj_rows(ints, "f ", 6, 2).decode() == "1/1 2/2 3/3\nf 40/40 500/500 -6/-6"
    with pytest.raises(ValueError, match="2-D"):
        _core.format_obj_rows(vals.ravel(), "v ")
