"""Tests of the weight-free photo bump estimator (extreme3d.bump_photo)."""

from __future__ import annotations

import runpy
from pathlib import Path

import cv2
import numpy as np
import pytest

from extreme3d import bump_photo as bp

M, C = bp.MARGIN, bp.CROP


def _face_landmarks() -> np.ndarray:
    """The constants' mean landmark shape: a plausible frontal face in a 500x500 crop."""
    return bp.default_constants().mean_landmarks.copy()


def _skin_crop(seed: int = 0) -> np.ndarray:
    """A 500x500 BGR crop: skin-coloured face ellipse with texture on a dark background."""
    rng = np.random.default_rng(seed)
    img = np.full((C, C, 3), 30, np.uint8)
    cv2.ellipse(img, (276, 300), (120, 160), 0, 0, 360, (120, 150, 200), -1)
    noise = cv2.GaussianBlur(rng.normal(0, 20, (C, C)).astype(np.float32), (0, 0), 3)
    return np.clip(img.astype(np.float32) + noise[..., None], 0, 255).astype(np.uint8)


def test_encoding_margin_and_mask_shape():
    """Maps are 512x512 uint8; margin and far outside the face are flat; mask has no holes."""
    bump, mask, info = bp.estimate_bump(_skin_crop(), _face_landmarks())
    assert info.source == "photo", info.message
    assert bump.shape == mask.shape == (512, 512) and bump.dtype == mask.dtype == np.uint8
    assert (bump[:M] == 127).all() and (bump[:, -M:] == 127).all() and (mask[:M] == 0).all()
    inside = mask >= 127
    assert 20000 < inside.sum() < 120000
    assert np.abs(bump[inside].astype(int) - 127).mean() > 2  # detail, not flat
    far = cv2.distanceTransform((~inside).astype(np.uint8), cv2.DIST_L2, 5) > bp.FADE_PX + 2
    assert (bump[far] == 127).all()
    # one component, no holes: filling the outer contour changes nothing
    cs, _ = cv2.findContours(inside.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    assert len(cs) == 1
    filled = np.zeros_like(mask)
    cv2.drawContours(filled, cs, -1, 1, -1)
    assert (filled.astype(bool) == inside).mean() > 0.999


@pytest.mark.parametrize(
    "kind", ["black", "saturated", "tiny", "flatgrey", "bad_landmarks"]
)
def test_bad_input_gives_flat_map_and_message(kind):
    """Bad crops give the flat bump and a clear message, never an exception."""
    lm = _face_landmarks()
    crop = _skin_crop()
    if kind == "black":
        crop = np.zeros_like(crop)
    elif kind == "saturated":
        crop = np.full_like(crop, 255)
    elif kind == "tiny":
        lm = (lm - lm.mean(0)) * 0.1 + 250  # face ~15 px wide
    elif kind == "flatgrey":
        crop = np.full_like(crop, 128)
    else:
        lm = lm[:60]
    bump, mask, info = bp.estimate_bump(crop, lm)
    assert info.source == "flat"
    assert info.message
    assert (bump == 127).all() and mask.shape == (512, 512)


def test_greyscale_crop():
    """A greyscale crop gives the flat map and a clear message by default, never an exception;
    greyscale="estimate" uses the grey-only weights instead."""
    grey = cv2.cvtColor(cv2.cvtColor(_skin_crop(), cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    bump, mask, info = bp.estimate_bump(grey, _face_landmarks())
    assert info.source == "flat" and "greyscale" in info.message and "flat" in info.message
    assert (bump == 127).all() and (mask >= 127).sum() > 20000  # the face mask is still given
    # a 2-D array is a greyscale crop too
    bump2, _, info2 = bp.estimate_bump(grey[..., 0], _face_landmarks())
    assert info2.source == "flat" and "greyscale" in info2.message and (bump2 == 127).all()
    bump3, _, info3 = bp.estimate_bump(grey, _face_landmarks(), greyscale="estimate")
    assert info3.source == "photo" and "greyscale" in info3.message and (bump3 != 127).any()
    # the colour crop itself is not treated as greyscale
    _, _, info4 = bp.estimate_bump(_skin_crop(), _face_landmarks())
    assert info4.source == "photo" and "greyscale" not in info4.message
    with pytest.raises(ValueError):
        bp.estimate_bump(grey, _face_landmarks(), greyscale="colour")


def test_known_appearance_bump_is_recovered():
    """A known smooth relief shown in the crop as shading-like brightness is recovered.

    The crop is a rendered-like face (smooth skin, landmarks of the mean shape) whose brightness
    carries a known smooth relief h (mm, spread like the CNN's maps): I = base + 11 * h. The
    estimator maps appearance to relief (as the Bump CNN does), so its map must follow h far
    better than a flat map.
    Measured: RMSE 0.50 mm against 1.42 mm for the flat map, r = 0.943.
    """
    lm = _face_landmarks()
    yy, xx = np.mgrid[0:C, 0:C].astype(np.float32)
    h = np.zeros((C, C), np.float32)
    for cx, cy, s, a in ((276, 260, 35, 4.0), (200, 330, 30, -3.0), (350, 330, 30, -3.0),
                         (276, 400, 25, 2.0)):
        h += a * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
    base = np.array([110, 140, 190], np.float32)
    crop = np.clip(base + 11.0 * h[..., None], 0, 255).astype(np.uint8)
    bump, mask, info = bp.estimate_bump(crop, lm)
    assert info.source == "photo", info.message
    inside = mask[M : M + C, M : M + C] >= 127
    est = (bump[M : M + C, M : M + C][inside] - 127.0) / bp.UNITS_PER_MM
    truth = h[inside] - h[inside].mean() + est.mean()  # relief up to the global offset
    rmse = float(np.sqrt(np.mean((est - truth) ** 2)))
    flat = float(np.sqrt(np.mean((truth - truth.mean()) ** 2)))
    r = float(np.corrcoef(est, truth)[0, 1])
    print(f"r={r:.3f} rmse={rmse:.3f} flat={flat:.3f}")
    assert r > 0.9 and rmse < 0.6 * flat, (r, rmse, flat)


def test_constants_fit_round_trip(tmp_path: Path):
    """The fit reproduces a complete constant set that survives writing as Python code."""
    rng = np.random.default_rng(1)
    items = []
    for k in range(6):
        lm = _face_landmarks() + rng.normal(0, 3, (68, 2))
        crop = _skin_crop(k)
        mask = np.zeros((512, 512), np.uint8)
        cv2.ellipse(mask, (282, 300), (115, 150), 0, 0, 360, 255, -1)
        grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float32)
        bump = np.full((512, 512), 127, np.uint8)
        bump[M : M + C, M : M + C] = np.clip(127 + (grey - 100) * 0.5, 0, 255).astype(np.uint8)
        bump[mask < 127] = 127
        items.append((crop, lm, bump, mask))
    const = bp.fit_constants(items, subsample=11)
    assert const.mean_landmarks.shape == (68, 2)
    assert const.mask_coef.shape == (4, 2 * bp.MASK_HARMONICS + 1)
    outline = bp.fit_outline(items)  # the mask part alone, as bench/mask_study.py fits it
    assert np.array_equal(outline.mask_coef, const.mask_coef)
    assert np.array_equal(outline.mean_landmarks, const.mean_landmarks)
    assert const.bump_weights.shape == (len(bp.FEATURES),)
    assert all(np.isfinite(a).all() for a in (const.mask_coef, const.bump_weights))
    out = tmp_path / "consts.py"
    bp.write_constants(const, out, "a test")
    ns = runpy.run_path(str(out))
    assert np.allclose(np.reshape(ns["BUMP_WEIGHTS"], -1), const.bump_weights, rtol=1e-5,
                       atol=1e-6)
    grey_w = np.asarray(ns["BUMP_WEIGHTS_GREY"])
    colour = [bp.FEATURES.index(k) for k in bp.COLOUR_FEATURES]
    assert (grey_w[colour] == 0).all()
    # the fitted mask follows the training masks
    m = bp.landmark_mask(items[0][1], const)
    ref = items[0][3][M : M + C, M : M + C] >= 127
    assert (m & ref).sum() / (m | ref).sum() > 0.85


def _paper(shared: Path) -> Path:
    path = shared / "data" / "paper"
    if not (path / "bump_original").is_dir():
        pytest.skip("no paper data")
    return path


def test_paper_crop_against_original(shared: Path):
    """On a paper crop the map follows the Bump CNN's (in-sample constants: loose bounds)."""
    data = _paper(shared)
    name = bp.paper_names(data)[3]
    crop, lm, ref_bump, ref_mask = bp.load_paper_item(data, name)
    bump, mask, info = bp.estimate_bump(crop, lm)
    assert info.source == "photo"
    pm = ref_mask >= 127
    ours = mask >= 127
    assert (ours & pm).sum() / (ours | pm).sum() > 0.85
    est = bump[pm].astype(float)
    ref = ref_bump[pm].astype(float)
    assert np.corrcoef(est, ref)[0, 1] > 0.9
    assert np.sqrt(np.mean((est - ref) ** 2)) / bp.UNITS_PER_MM < 0.8  # mm; constant: ~1.4


def test_cli_estimate_bump(shared: Path, tmp_path: Path):
    """`extreme3d estimate-bump` writes <name>_bump.png and <name>_mask.png."""
    from extreme3d.cli import main

    data = _paper(shared)
    name = bp.paper_names(data)[0]
    rc = main(["estimate-bump", str(data / "imgs" / f"{name}.png"),
               str(data / "imgs" / f"{name}.pts"), "--out", str(tmp_path)])
    assert rc == 0
    b = cv2.imread(str(tmp_path / f"{name}_bump.png"), cv2.IMREAD_GRAYSCALE)
    m = cv2.imread(str(tmp_path / f"{name}_mask.png"), cv2.IMREAD_GRAYSCALE)
    assert b.shape == m.shape == (512, 512) and (m >= 127).sum() > 20000
    rc = main(["estimate-bump", str(tmp_path / "missing.png"), str(data / "imgs" / f"{name}.pts"),
               "--out", str(tmp_path)])
    assert rc == 1


def _rendered_face(sfm_model, rvec):
    """(BGR crop, landmarks, coverage, fit dict) of the Surrey mean face rendered at a pose."""
    from extreme3d.camera import project
    from extreme3d.render import render

    verts = sfm_model.shape()
    fit = {"alpha": np.zeros(sfm_model.num_shape, np.float32),
           "expr": np.zeros(sfm_model.num_expr, np.float32),
           "rvec": np.asarray(rvec, float), "tvec": np.array([0.0, 10.0, -900.0])}
    colors = np.tile(np.array([[200, 150, 120]], np.float32), (len(verts), 1))  # RGB skin
    rgb, depth = render(verts, sfm_model.faces, fit["rvec"], fit["tvec"], colors=colors,
                        shading="lambert")
    lm = project(verts[sfm_model.inner_landmarks], fit["rvec"], fit["tvec"])
    return np.ascontiguousarray(rgb[..., ::-1]), lm, depth < 1.0, fit


@pytest.mark.parametrize("yaw", [0.0, 0.5])
def test_mask_of_rendered_face_matches_coverage(sfm_model, yaw):
    """With the fitted foundation, mask_source='foundation' gives the render's coverage."""
    crop, lm, coverage, fit = _rendered_face(sfm_model, [0.05, yaw, 0.0])
    assert coverage.sum() > 20000
    bump, mask, info = bp.estimate_bump(crop, lm, fit=fit, model=sfm_model,
                                        mask_source="foundation")
    assert info.extras["mask_source"] == "foundation" and info.source == "photo"
    ours = mask[M : M + C, M : M + C] >= 127
    iou = (ours & coverage).sum() / (ours | coverage).sum()
    assert iou > 0.95, iou
    # the landmark outline (the original's forehead-to-chin convention) overlaps it too
    assert info.extras["foundation_iou"] > 0.6
    # without a model the foundation mask falls back to the landmark mask, with a message
    _, mask2, info2 = bp.estimate_bump(crop, lm, mask_source="foundation")
    assert info2.extras["mask_source"] == "landmarks" and "landmark mask" in info2.message


def _foundation_z(sfm_model, rvec=(0.1, 0.3, 0.0)):
    """Camera z (mm) and the fit dict of the Surrey mean face rendered at a pose."""
    from extreme3d.render import depth_to_metric, render

    fit = {"alpha": np.zeros(sfm_model.num_shape, np.float32),
           "expr": np.zeros(sfm_model.num_expr, np.float32),
           "rvec": np.asarray(rvec, float), "tvec": np.array([0.0, 10.0, -900.0])}
    _, depth = render(sfm_model.shape(), sfm_model.faces_fill, fit["rvec"], fit["tvec"])
    return depth_to_metric(depth), fit


def test_lighting_recovered_from_lambertian_render(sfm_model):
    """SH light x albedo of a Lambertian foundation render comes back within 5%, even with 10%
    of the pixels replaced by outliers (hair, glasses, highlights)."""
    z, _ = _foundation_z(sfm_model)
    normals, valid = bp.normals_from_depth(z)
    assert valid.sum() > 20000 and (normals[valid][:, 2] > 0).all()
    light = np.array([80.0, 40.0, 60.0, 120.0])
    img = light[0] + (normals.reshape(-1, 3) @ light[1:]).reshape(z.shape)
    rng = np.random.default_rng(0)
    bad = rng.random(img.shape) < 0.1
    img[bad] = rng.uniform(0, 255, int(bad.sum()))
    est = bp.estimate_lighting(img, normals, valid)
    assert np.all(np.abs(est - light) <= 0.05 * np.abs(light)), est


def test_shaded_bump_on_foundation_is_recovered(sfm_model):
    """A known smooth bump layered on the foundation, shaded and rendered, is recovered by the
    photometric detail (detail="shading") far better than by a flat map.

    Measured: RMSE 0.43 mm against 0.79 mm for the flat map, r = 0.845 (one light: detail
    across the light direction is only inferred through the smoothness prior).
    """
    from extreme3d.camera import project

    z, fit = _foundation_z(sfm_model)
    n0, valid = bp.normals_from_depth(z)
    ys, xs = np.nonzero(valid)
    yy, xx = np.mgrid[0:C, 0:C].astype(np.float64)
    h = np.zeros((C, C))
    for dx, dy, s, a in ((0, -40, 25, 2.0), (-45, 20, 20, -1.5), (45, 20, 20, -1.5),
                         (0, 70, 18, 1.0)):
        h += a * np.exp(-((xx - xs.mean() - dx) ** 2 + (yy - ys.mean() - dy) ** 2) / (2 * s * s))
    n1, _ = bp.normals_from_depth(np.where(z < 0, z + h, 0.0))
    light = np.array([80.0, 40.0, 60.0, 120.0])
    grey = light[0] + (n1.reshape(-1, 3) @ light[1:]).reshape(C, C)
    crop = np.clip(grey[..., None] * np.array([0.8, 0.95, 1.15]), 0, 255).astype(np.uint8)
    lm = project(sfm_model.shape()[sfm_model.inner_landmarks], fit["rvec"], fit["tvec"])
    bump, mask, info = bp.estimate_bump(crop, lm, fit=fit, model=sfm_model, detail="shading")
    assert info.source == "photo" and "light" in info.extras
    region = (mask[M : M + C, M : M + C] >= 127) & cv2.erode(valid.astype(np.uint8),
                                                               np.ones((5, 5))).astype(bool)
    est = (bump[M : M + C, M : M + C][region] - 127.0) / bp.UNITS_PER_MM
    truth = h[region]
    est = est - est.mean() + truth.mean()  # the relief up to its mean
    rmse = float(np.sqrt(np.mean((est - truth) ** 2)))
    flat = float(np.sqrt(np.mean((truth - truth.mean()) ** 2)))
    r = float(np.corrcoef(est, truth)[0, 1])
    print(f"r={r:.3f} rmse={rmse:.3f} flat={flat:.3f}")
    assert r > 0.8 and rmse < 0.65 * flat, (r, rmse, flat)
    # without the foundation the shading detail is unavailable: image detail, with a message
    _, _, info2 = bp.estimate_bump(crop, lm, detail="shading")
    assert "image detail only" in info2.message


@pytest.mark.parametrize("shape", [(61, 7), (3, 5), (2, 3, 4), (500, 400)])
def test_stack_features_equals_a_plain_stack(shape):
    """The stack holds every map, cast to float32, in `names` order (any row count,
    float64 and float32 maps, a map broadcast from one row)."""
    rng = np.random.default_rng(3)
    maps = {"a": rng.random(shape), "b": rng.random(shape).astype(np.float32),
            "c": rng.random((1,) * (len(shape) - 1) + (shape[-1],))}
    names = ["c", "a", "b"]
    got = bp.stack_features(maps, names, shape)
    want = np.stack([np.broadcast_to(maps[k], shape).astype(np.float32) for k in names], -1)
    assert got.dtype == np.float32 and got.shape == shape + (3,)
    assert np.array_equal(got, want)
    if len(shape) == 2:  # a view with a row stride (a crop's ROI), and one map alone
        big = rng.random((shape[0] + 9, shape[1] + 5)).astype(np.float32)
        view = big[4 : 4 + shape[0], 2 : 2 + shape[1]]
        got = bp.stack_features({"v": view, "b": maps["b"]}, ["v", "b"], shape)
        assert np.array_equal(got, np.stack([view, maps["b"]], -1))
        assert np.array_equal(bp.stack_features({"v": view}, ["v"], shape), view[..., None])
        assert bp.stack_features({}, [], shape).shape == shape + (0,)  # outside cv2.merge's range


def test_tps_kernel_is_the_plain_expression_bit_for_bit():
    """_tps_kernel (in place, two buffers) gives exactly r^2 log r = d2 log(d2) / 2 written as
    one expression with temporaries, zero at zero distance, on random, integer and repeated
    points."""
    rng = np.random.default_rng(7)
    b = rng.uniform(-50, 550, (68, 2))
    nan = rng.uniform(0, 500, (50, 2))
    nan[3] = np.nan
    for a in (rng.uniform(-50, 550, (500, 2)), np.rint(rng.uniform(0, 500, (300, 2))),
              np.vstack([b, b[:5] + 1e-9]), nan):
        d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        ref = np.where(d2 > 0, 0.5 * d2 * np.log(np.maximum(d2, 1e-12)), 0.0)
        np.testing.assert_array_equal(bp._tps_kernel(a, b), ref)


def test_cube_is_the_float64_cube_rounded_once():
    """_cube: x**3 in float64 rounded to float32: within half a float32 step of the exact
    (rational) cube, for the frame coordinates' range and beyond."""
    from fractions import Fraction

    x = np.random.default_rng(5).normal(0, 3, 2000).astype(np.float32)
    got = bp._cube(x)
    assert got.dtype == np.float32 and got.shape == x.shape
    for xi, gi in zip(x.tolist(), got.tolist(), strict=True):
        exact = Fraction(xi) ** 3  # x is exact in float64; its cube as a rational
        half_step = Fraction(float(np.spacing(np.float32(abs(gi))))) / 2
        assert abs(Fraction(gi) - exact) <= half_step * (1 + Fraction(1, 10**6))
