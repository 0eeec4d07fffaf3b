"""Tests of occluder segmentation and bump de-occlusion (extreme3d.occlusion)."""

from __future__ import annotations

import runpy
from pathlib import Path

import cv2
import numpy as np
import pytest

from extreme3d import bump_photo as bp
from extreme3d import occlusion as oc
from extreme3d.occlusion import frame as fr
from extreme3d.occlusion import segment as sg
from extreme3d.occlusion.fill import geometry

M, C = bp.MARGIN, bp.CROP


def _symmetric_landmarks() -> tuple[np.ndarray, float]:
    """(landmarks, axis x): the mean landmark shape made exactly left/right symmetric."""
    lm = bp.default_constants().mean_landmarks.copy()
    axis = float(lm[[27, 28, 29, 30, 33, 51, 57, 8], 0].mean())
    refl = lm[fr.MIRROR_68].copy()
    refl[:, 0] = 2 * axis - refl[:, 0]
    return 0.5 * (lm + refl), axis


def _symmetric_bump(axis: float) -> np.ndarray:
    """512x512 uint8 bump with left/right symmetric detail (ripples and blobs) about axis."""
    yy, xx = np.mgrid[0:C, 0:C].astype(np.float64)
    dx = np.abs(xx - axis)
    mm = 1.5 * np.sin(dx / 9.0) * np.cos(yy / 13.0) + 2.0 * np.exp(-((dx - 60) ** 2 +
                                                                     (yy - 230) ** 2) / 400)
    out = np.full((512, 512), 127, np.uint8)
    out[M : M + C, M : M + C] = np.clip(np.rint(127 + mm * bp.UNITS_PER_MM), 0, 255)
    return out


def _face_mask(lm: np.ndarray) -> np.ndarray:
    """512x512 uint8 face mask of the landmark outline."""
    return bp.to_maps(np.zeros((C, C)), bp.landmark_mask(lm, bp.default_constants()))[1]


def test_mirror_map_of_a_symmetric_face():
    """On a symmetric landmark set the mirror map is the reflection about the face axis."""
    lm, axis = _symmetric_landmarks()
    mir = fr.mirror_map(lm)
    for x, y in ((200, 250), (300, 320), (240, 180)):
        assert abs(mir[y, x, 0] - (2 * axis - x)) < 1.5 and abs(mir[y, x, 1] - y) < 1.5
    assert (fr.MIRROR_68[fr.MIRROR_68] == np.arange(68)).all()


def test_painted_occluder_is_filled_from_its_mirror():
    """A rectangle painted into one side of a symmetric bump is refilled from the other side;
    every pixel outside the occluder keeps its value."""
    lm, axis = _symmetric_landmarks()
    clean = _symmetric_bump(axis)
    mask = _face_mask(lm)
    painted = clean.copy()
    occ = np.zeros((C, C), bool)
    occ[220:270, int(axis) + 30 : int(axis) + 90] = True
    painted[M : M + C, M : M + C][occ] = 30  # a deep trough: sunglasses-like
    crop = np.full((C, C, 3), 150, np.uint8)
    res = oc.deocclude(crop, lm, painted, mask, occluders=occ)
    inner, ref = sg.crop_of(res.bump).astype(int), sg.crop_of(clean).astype(int)
    err_mm = np.abs(inner[occ] - ref[occ]) / bp.UNITS_PER_MM
    assert err_mm.mean() < 0.15 and err_mm.max() < 1.0  # painted: ~10 mm off
    assert (res.bump[~res.occluders] == painted[~res.occluders]).all()
    assert (sg.crop_of(res.occluders) == occ).all() and (res.mask == mask).all()
    assert res.mirrored_fraction > 0.95
    assert 0.0 < res.occluded_fraction < 0.1


def test_occluder_without_clean_partner_uses_the_template_seamlessly():
    """When both sides are occluded the fill comes from the template, meets the map on the
    border without a step, and the rest of the map is unchanged."""
    lm, axis = _symmetric_landmarks()
    clean = _symmetric_bump(axis)
    mask = _face_mask(lm)
    occ = np.zeros((C, C), bool)
    occ[220:260, int(axis) - 80 : int(axis) + 80] = True
    painted = clean.copy()
    painted[M : M + C, M : M + C][occ] = 30
    res = oc.deocclude(np.full((C, C, 3), 150, np.uint8), lm, painted, mask, occluders=occ)
    inner = sg.crop_of(res.bump).astype(int)
    assert res.mirrored_fraction < 0.05
    assert (res.bump[~res.occluders] == painted[~res.occluders]).all()
    # no seam: the step across the occluder's border is like the map's own steps
    ring = cv2.dilate(occ.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & ~occ
    ys, xs = np.nonzero(ring)
    steps = [abs(inner[y, x] - inner[y + dy, x + dx]) for y, x in zip(ys, xs, strict=True)
             for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)) if occ[y + dy, x + dx]]
    assert np.median(steps) <= 3 and max(steps) < 20
    assert (inner[occ] > 60).all()  # the trough is gone


def test_segmentation_finds_a_painted_foreign_rectangle():
    """A dark-blue rectangle over one eye region of a skin-coloured face, pressed into the bump
    as a trough, is found as an occluder; the clean face away from it (15 px) mostly is not."""
    lm, axis = _symmetric_landmarks()
    rng = np.random.default_rng(1)
    crop = np.empty((C, C, 3), np.float32)
    crop[:] = (110, 145, 195)  # BGR skin
    crop += cv2.GaussianBlur(rng.normal(0, 12, (C, C)).astype(np.float32), (0, 0), 2)[..., None]
    mask = _face_mask(lm)
    geo = geometry(lm, oc.default_constants())
    bump = bp.to_maps(geo["template"], np.ones((C, C), bool))[0]
    rect = np.zeros((C, C), bool)
    eye = lm[36:42].mean(0).astype(int)
    rect[eye[1] - 25 : eye[1] + 25, eye[0] - 45 : eye[0] + 45] = True
    crop[rect] = (90, 30, 20)
    bump[M : M + C, M : M + C][rect] = 90
    occ, prob, _ = oc.find_occluders(np.clip(crop, 0, 255).astype(np.uint8), lm, bump, mask)
    inter, union = (occ & rect).sum(), (occ | rect).sum()
    assert inter / union > 0.5
    face = sg.crop_of(mask) >= 127
    away = face & ~cv2.dilate(rect.astype(np.uint8), np.ones((31, 31), np.uint8)).astype(bool)
    assert (occ & away).sum() < 0.03 * away.sum()


def test_bad_input():
    """Wrong map sizes raise ValueError; bad landmarks give the input back with a message."""
    lm, _ = _symmetric_landmarks()
    crop = np.full((C, C, 3), 150, np.uint8)
    bump = np.full((512, 512), 127, np.uint8)
    with pytest.raises(ValueError, match="512x512"):
        oc.deocclude(crop, lm, bump[:500], bump)
    res = oc.deocclude(crop, lm[:10], bump, bump)
    assert "68" in res.message and (res.bump == bump).all() and not res.occluders.any()


def test_flat_map_is_left_alone_unless_occluders_are_given():
    """A flat map (the photo estimator's fallback, e.g. for greyscale crops) comes back
    unchanged with no occluders and a message, even with a painted foreign rectangle in the
    crop; given occluders are still filled, and only they."""
    lm, _ = _symmetric_landmarks()
    crop = np.full((C, C, 3), 140, np.uint8)
    rect = np.zeros((C, C), bool)
    eye = lm[36:42].mean(0).astype(int)
    rect[eye[1] - 25 : eye[1] + 25, eye[0] - 45 : eye[0] + 45] = True
    crop[rect] = 20
    mask = _face_mask(lm)
    flat = np.full((512, 512), bp.FLAT, np.uint8)
    assert oc.is_flat(flat, mask)
    res = oc.deocclude(crop, lm, flat, mask)
    assert "flat" in res.message and not res.occluders.any() and (res.bump == flat).all()
    given = oc.deocclude(crop, lm, flat, mask, occluders=rect)
    assert given.occluders.any() and given.message == ""
    changed = sg.crop_of(given.bump) != bp.FLAT
    assert changed.any() and not (changed & ~rect).any()
    detailed = flat.copy()
    detailed[M + eye[1], M + eye[0]] = 120  # one pixel of detail: not flat any more
    assert not oc.is_flat(detailed, mask)
    assert not oc.is_flat(flat, np.zeros_like(mask))  # no face in the mask: nothing to call flat


def _bench_module() -> dict:
    """bench/occlusion.py's namespace (reference_region and load)."""
    return runpy.run_path(str(Path(__file__).resolve().parent.parent / "bench" / "occlusion.py"))


PAPER_OCCLUDED = ("sport-sunglasses-lowres-4809", "papas-famosos-brad-pitt-con-gafas-y-bufanda")


@pytest.mark.parametrize("name", PAPER_OCCLUDED)
def test_paper_crop_with_sunglasses(shared: Path, name: str):
    """On paper crops with sunglasses the occluders overlap the paper's de-occluded region and
    the de-occluded map is much closer to the paper's inside it; outside, nothing changes."""
    data = shared / "data" / "paper"
    if not (data / "bump_blended" / f"{name}_bump.png").exists():
        pytest.skip(f"{name} not in {data}")
    bench = _bench_module()
    it = bench["load"](data, name)
    res = oc.deocclude(it["crop"], it["lm"], it["orig"], it["mask"])
    R = it["R"]
    rmse = bench["rmse_mm"]
    assert rmse(res.bump, it["blend"], R) < 0.75 * rmse(it["orig"], it["blend"], R)
    assert bench["iou"](res.occluders, R) > 0.4
    assert (res.bump[~res.occluders] == it["orig"][~res.occluders]).all()


def test_reference_region_definition():
    """R: changes > 12 units inside the mask, small specks dropped, outside the mask empty."""
    ns = _bench_module()
    orig = np.full((512, 512), 127, np.uint8)
    mask = np.zeros((512, 512), np.uint8)
    mask[100:400, 100:400] = 255
    blend = orig.copy()
    blend[200:260, 150:230] = 160  # a 60x80 change: kept
    blend[300:305, 300:305] = 200  # a 25-px speck: dropped
    blend[20:80, 20:80] = 200  # outside the mask: not in R
    R = ns["reference_region"](orig, blend, mask)
    assert R[200:260, 150:230].all() and not R[302, 302] and not R[50, 50]
    assert not R[:185].any() and not R[275:].any()  # the high-pass widens the edge by < 15 px


def test_cli_deocclude_and_estimate_bump(shared: Path, tmp_path: Path):
    """`extreme3d deocclude` writes bump, mask and occluders (512x512); `estimate-bump` writes
    the occluders by default and not with --occlusion off."""
    from extreme3d.cli import main

    data = shared / "data" / "paper"
    name = PAPER_OCCLUDED[0]
    if not (data / "imgs" / f"{name}.png").exists():
        pytest.skip(f"{name} not in {data}")
    img, pts = str(data / "imgs" / f"{name}.png"), str(data / "imgs" / f"{name}.pts")
    rc = main(["deocclude", img, pts, "--bump", str(data / "bump_original" / f"{name}_bump.png"),
               "--mask", str(data / "bump_original" / f"{name}_mask.png"), "--out",
               str(tmp_path / "cnn")])
    assert rc == 0
    for suffix in ("bump", "mask", "occluders"):
        m = cv2.imread(str(tmp_path / "cnn" / f"{name}_{suffix}.png"), cv2.IMREAD_GRAYSCALE)
        assert m is not None and m.shape == (512, 512)
    occ = cv2.imread(str(tmp_path / "cnn" / f"{name}_occluders.png"), cv2.IMREAD_GRAYSCALE)
    assert (occ == 255).sum() > 5000
    assert main(["estimate-bump", img, pts, "--out", str(tmp_path / "on")]) == 0
    assert (tmp_path / "on" / f"{name}_occluders.png").exists()
    assert main(["estimate-bump", img, pts, "--occlusion", "off", "--out",
                 str(tmp_path / "off")]) == 0
    assert not (tmp_path / "off" / f"{name}_occluders.png").exists()
    on = cv2.imread(str(tmp_path / "on" / f"{name}_bump.png"), cv2.IMREAD_GRAYSCALE)
    off = cv2.imread(str(tmp_path / "off" / f"{name}_bump.png"), cv2.IMREAD_GRAYSCALE)
    occ_on = cv2.imread(str(tmp_path / "on" / f"{name}_occluders.png"), cv2.IMREAD_GRAYSCALE)
    assert (on != off).sum() > 1000 and (on[occ_on == 0] == off[occ_on == 0]).all()
    assert main(["deocclude", str(tmp_path / "nope.png"), pts, "--bump", img, "--out",
                 str(tmp_path)]) == 1


def test_stage_occlusion_step():
    """stages.bump.deoccluded: off gives the maps unchanged; on de-occludes a photo map, sets
    the mask to 0 on the occluders and records what it found; a flat map stays as is."""
    from extreme3d.stages.bump import BumpMaps, deoccluded

    lm, axis = _symmetric_landmarks()
    rng = np.random.default_rng(2)
    crop = np.empty((C, C, 3), np.float32)
    crop[:] = (110, 145, 195)
    crop += cv2.GaussianBlur(rng.normal(0, 12, (C, C)).astype(np.float32), (0, 0), 2)[..., None]
    rect = np.zeros((C, C), bool)
    eye = lm[36:42].mean(0).astype(int)
    rect[eye[1] - 25 : eye[1] + 25, eye[0] - 45 : eye[0] + 45] = True
    crop[rect] = (90, 30, 20)
    crop = np.clip(crop, 0, 255).astype(np.uint8)
    mask = _face_mask(lm)
    bump = bp.to_maps(geometry(lm, oc.default_constants())["template"], np.ones((C, C), bool))[0]
    bump[M : M + C, M : M + C][rect] = 90
    maps = BumpMaps(bump, mask, "photo")
    off = deoccluded(maps, crop, lm, enabled=False)
    assert off.bump is bump and off.mask is mask and off.occluders is None
    assert off.occlusion == {"enabled": False}
    on = deoccluded(maps, crop, lm)
    occ = on.occluders > 127
    assert occ.any() and (on.mask[occ] == 0).all() and (on.mask[~occ] == mask[~occ]).all()
    assert (on.bump[~occ] == bump[~occ]).all() and (on.bump[occ] != bump[occ]).any()
    assert on.occlusion["enabled"] and 0.01 < on.occlusion["occluded_fraction"] < 0.3
    # part of the band (its middle, the mirror image of its own other half) has no clean
    # partner: what soft symmetry reads keeps that share of the occluders visible
    geo = on.geometry_mask
    assert geo is not None and (geo[~occ] == mask[~occ]).all() and (geo[occ] <= mask[occ]).all()
    assert (geo[occ] > 0).any() and (geo[occ] == 0).any()
    assert 0.0 < on.occlusion["detail_fraction"] < 1.0
    assert on.occlusion["detail_fraction"] == pytest.approx(
        float(((geo > 0) & occ).sum()) / occ.sum(), abs=1e-4)
    flat = deoccluded(BumpMaps(np.full_like(bump, 127), mask, "flat"), crop, lm)
    assert flat.occluders is None and (flat.mask == mask).all()


def test_geometry_mask_keeps_the_unpaired_occluders_interior():
    """stages.bump.geometry_mask: occluders with a clean mirrored partner are 0 (soft symmetry
    mirrors the other side there); those without one (both eyes behind a band) keep the face
    mask's value inside, eroded by UNPAIRED_ERODE_PX, so the de-occluded detail stays in the
    geometry; the share kept is returned."""
    from extreme3d.stages.bump import UNPAIRED_ERODE_PX, geometry_mask

    mask = np.zeros((bp.MAP_SIZE, bp.MAP_SIZE), np.uint8)
    mask[50:450, 50:450] = 255
    occ = np.zeros(mask.shape, bool)
    occ[100:160, 100:400] = True  # a band over both eyes: no clean partner
    occ[300:330, 100:140] = True  # one cheek: its partner is clean
    unpaired = np.zeros_like(occ)
    unpaired[100:160, 100:400] = True
    out, kept = geometry_mask(mask, occ, unpaired)
    e = UNPAIRED_ERODE_PX
    inner = np.zeros_like(occ)
    inner[100 + e : 160 - e, 100 + e : 400 - e] = True
    assert (out[inner] == 255).all() and (out[occ & ~inner] == 0).all()
    assert (out[~occ] == mask[~occ]).all()
    assert kept == pytest.approx(inner.sum() / occ.sum())
    low, _ = geometry_mask(mask, occ, unpaired, above=130)  # only the rows above 130 kept
    rows = np.arange(bp.MAP_SIZE)[:, None]
    assert (low[occ & (rows >= 130 - e)] == 0).all()
    assert (low[inner & (rows < 130 - e)] == 255).all()
    none, k0 = geometry_mask(mask, occ, None)  # no unpaired map: every occluder at 0
    assert (none[occ] == 0).all() and (none[~occ] == mask[~occ]).all() and k0 == 0.0


def test_face_geometry_reads_the_geometry_mask(monkeypatch: pytest.MonkeyPatch):
    """stages.face.face_geometry hands soft symmetry the maps' geometry_mask when there is one,
    else their mask."""
    import extreme3d.geometry
    from extreme3d.stages.bump import BumpMaps
    from extreme3d.stages.face import face_geometry

    seen = []

    class Geo:
        meshes = {"final_frontal": None}

    def fake(model, alpha, expr, rvec, tvec, bump, mask, **kw):
        seen.append(mask)
        return Geo()

    monkeypatch.setattr(extreme3d.geometry, "run_geometry", fake)
    ident = type("I", (), {"alpha": None})()
    fit = type("F", (), {"expr": None, "rvec": None, "tvec": None})()
    bump = np.full((bp.MAP_SIZE, bp.MAP_SIZE), 127, np.uint8)
    mask, geo_mask = np.zeros_like(bump), np.full_like(bump, 255)
    face_geometry(None, ident, fit, BumpMaps(bump, mask, "photo"), True, ("final_frontal",))
    face_geometry(None, ident, fit, BumpMaps(bump, mask, "photo", geometry_mask=geo_mask), True,
                  ("final_frontal",))
    assert seen[0] is mask and seen[1] is geo_mask


def test_occluders_over_most_of_the_face_are_not_applied(monkeypatch: pytest.MonkeyPatch):
    """stages.bump.deoccluded: a segmentation that calls more than MAX_OCCLUDED of the face an
    occluder (e.g. on a random network's maps) leaves the maps as they were, with a note, so
    the geometry still has a face to complete."""
    import extreme3d.occlusion as occlusion
    from extreme3d.stages import bump as stage

    lm, _ = _symmetric_landmarks()
    mask = _face_mask(lm)
    bump = np.full((512, 512), 127, np.uint8)
    bump[mask > 0] = 140
    face = mask >= 127
    ys, xs = np.nonzero(face)
    for share, applied in ((0.5, True), (0.8, False)):
        occ = np.zeros_like(face)
        occ[ys[: int(share * len(ys))], xs[: int(share * len(xs))]] = True
        res = oc.OcclusionResult(np.where(occ, 100, bump).astype(np.uint8), mask.copy(), occ,
                                 float(occ.sum()) / face.sum(), 0.0)
        monkeypatch.setattr(occlusion, "deocclude", lambda *a, r=res, **k: r)
        out = stage.deoccluded(stage.BumpMaps(bump, mask, "photo"), np.zeros((C, C, 3), np.uint8),
                               lm)
        assert (out.occluders is not None) == applied
        if not applied:
            assert out.bump is bump and out.mask is mask
            assert "not applied" in out.occlusion["note"]
            assert out.occlusion["occluded_fraction"] > stage.MAX_OCCLUDED
            assert out.occlusion["mirrored_fraction"] == 0.0 and out.seconds >= res.seconds


def test_soften_drops_small_changes_keeps_large_ones_and_fades_the_band():
    """soften: changes under the tolerance are not made, changes over FULL_MM are made exactly,
    the ramp between is continuous, and the change fades to ~0 at the grown band's edge."""
    from extreme3d.occlusion import fill as fl

    base = np.zeros((40, 40))
    filled = np.zeros((40, 40))
    filled[:, :10] = 0.3  # small change: dropped
    filled[:, 10:20] = 2.0  # large change: kept exactly
    filled[:, 20:30] = 1.0  # in the ramp: 1.5 * (1.0 - 0.5) / 1.0 = 0.75
    out = fl.soften(base, filled, None)
    assert np.allclose(out[:, :10], 0.0) and np.allclose(out[:, 10:20], 2.0)
    assert np.allclose(out[:, 20:30], fl.FULL_MM * (1.0 - fl.TOLERANCE_MM)
                       / (fl.FULL_MM - fl.TOLERANCE_MM))
    core = np.zeros((40, 40), bool)
    core[:, :5] = True
    faded = fl.soften(base, np.full((40, 40), 3.0), core, tolerance_mm=0.0)
    assert np.allclose(faded[:, :5], 3.0)
    assert (np.diff(faded[20, 4 : 4 + fl.FEATHER_PX + 2]) < 0).all()  # monotone fade
    assert np.allclose(faded[:, 5 + fl.FEATHER_PX + 1 :], 0.0)


def test_telea_fill_restores_a_smooth_slope():
    """telea_fill: a hole cut into a smooth slope is filled close to the slope (a linear ramp
    is what a smooth fill of its border gives); pixels outside the grown hole keep their
    value."""
    from extreme3d.occlusion import fill as fl

    yy, xx = np.mgrid[0:512, 0:512]
    slope = np.clip(np.rint(100 + 0.1 * xx + 0.05 * yy), 0, 255).astype(np.uint8)
    holed = slope.copy()
    hole = np.zeros((C, C), bool)
    hole[200:240, 150:230] = True
    holed[M : M + C, M : M + C][hole] = 250
    out = fl.telea_fill(holed, hole)
    ref = fl.to_mm(sg.crop_of(slope))
    err = np.abs(out[hole] - ref[hole])
    assert err.mean() < 0.25 and err.max() < 1.0  # the painted values were ~10-13 mm off
    far = ~cv2.dilate(hole.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    assert np.allclose(out[far], ref[far])


def test_mirror_agreement_of_symmetric_and_asymmetric_maps():
    """mirror_agreement is 1 on a left/right symmetric map and 0 when one side carries
    detail of several mm that the other lacks."""
    from extreme3d.occlusion import fill as fl

    lm, axis = _symmetric_landmarks()
    bump_mm = fl.to_mm(sg.crop_of(_symmetric_bump(axis))).astype(np.float64)
    face = sg.crop_of(_face_mask(lm)) >= 127
    region = np.zeros((C, C), bool)
    region[220:260, int(axis) + 40 : int(axis) + 80] = True
    mirror = fr.mirror_map(lm)
    assert fl.mirror_agreement(bump_mm, region, face, mirror) > 0.8
    skew = bump_mm.copy()
    skew[:, int(axis) + 5 :] += 3.0 * np.sin(np.arange(C - int(axis) - 5) / 3.0)
    assert fl.mirror_agreement(skew, region, face, mirror) == 0.0


def test_given_occluders_fill_is_a_mix_of_mirror_and_telea_on_asymmetric_maps():
    """On a map whose halves differ, a given occluder is filled with a mix of the Poisson
    (mirror / template) fill and Telea, so the result lies between the two: the even mix on
    the occluder's edge, the Poisson fill alone deeper than TELEA_DEPTH_PX; the caller's
    occluders are not softened (small changes are made too)."""
    from extreme3d.occlusion import fill as fl

    lm, axis = _symmetric_landmarks()
    yy, xx = np.mgrid[0:512, 0:512]
    asym = np.clip(np.rint(127 + 15 * np.sin(xx / 5.0) * (xx > axis + M)), 0, 255)
    bump = asym.astype(np.uint8)
    mask = _face_mask(lm)
    occ = np.zeros((C, C), bool)
    occ[230:262, int(axis) + 40 : int(axis) + 80] = True
    bump[M : M + C, M : M + C][occ] = 131  # a 0.4 mm bump: under soften's tolerance
    crop = np.full((C, C, 3), 150, np.uint8)
    res = oc.deocclude(crop, lm, bump, mask, occluders=occ)
    telea = fl.telea_fill(bump, occ)
    out = fl.to_mm(sg.crop_of(res.bump))
    face = sg.crop_of(mask) >= 127
    src, _ = fl.fill_source(fl.to_mm(sg.crop_of(bump)), occ, face, fr.mirror_map(lm),
                            geometry(lm, oc.default_constants())["fill"])
    poisson = fl.blend(fl.to_mm(sg.crop_of(bump)), src, occ)
    lo, hi = np.minimum(telea, poisson), np.maximum(telea, poisson)
    step = 1.0 / bp.UNITS_PER_MM
    assert ((out[occ] >= lo[occ] - step) & (out[occ] <= hi[occ] + step)).all()
    share = fl.telea_share(occ, np.zeros((C, C)), 0.0)
    assert share[occ].max() == fl.TELEA_SHARE and share[occ].min() == 0.0
    assert np.abs(out - ((1 - share) * poisson + share * telea))[occ].max() <= step
    edge = occ & ~cv2.erode(occ.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert np.abs(out[edge] - 0.5 * (telea[edge] + poisson[edge])).max() <= step
    deep = cv2.distanceTransform(occ.astype(np.uint8), cv2.DIST_L2, 5) > fl.TELEA_DEPTH_PX + 1
    assert deep.any() and np.abs(out[deep] - poisson[deep]).max() <= step
    assert (sg.crop_of(res.bump)[occ] != 131).any()


def test_found_blobs_on_eyes_and_lips_are_dropped_large_occluders_kept():
    """drop_feature_blobs: a blob inside an eye zone, on the lips or beside a nostril is
    dropped; a band over both eyes (sunglasses-like, mostly outside the zones) is kept whole."""
    lm, _ = _symmetric_landmarks()
    zones = sg.feature_zones(lm)
    eye = lm[36:42].mean(0).astype(int)
    lips = lm[48:60].mean(0).astype(int)
    assert zones[eye[1], eye[0]] and zones[lips[1], lips[0]]
    nostril = lm[31:36].mean(0).astype(int)
    assert zones[nostril[1], nostril[0]]  # the lower nose is one (shadow, dark nostrils)
    assert not zones[int(lm[27, 1]), int(lm[27, 0])]  # the bridge is not
    occ = np.zeros((C, C), bool)
    occ[eye[1] - 4 : eye[1] + 5, eye[0] - 8 : eye[0] + 9] = True
    occ[lips[1] - 4 : lips[1] + 5, lips[0] - 15 : lips[0] + 16] = True
    band = np.zeros((C, C), bool)
    top = int(lm[36:48, 1].min()) - 30
    band[top : top + 60, int(lm[0, 0]) + 5 : int(lm[16, 0]) - 5] = True
    occ[nostril[1] - 5 : nostril[1] + 4, nostril[0] + 2 : nostril[0] + 12] = True
    out = sg.drop_feature_blobs(occ | band, zones)
    assert not out[lips[1], lips[0]]
    assert not out[nostril[1], nostril[0] + 6]
    assert (out == band).all() or (out[band].all() and not (out & ~band).any())
    assert not sg.drop_feature_blobs(occ, zones).any()


def test_a_blob_on_the_lips_that_hangs_below_the_mouth_is_kept():
    """drop_feature_blobs with the face mask and the lips: a blob mostly on the lips that runs
    down out of the face across the chin (a microphone held to the mouth), or hangs well below
    the lips inside the face, stays; the same blob without its stem, or one that meets the
    face's edge only above the lips, is dropped."""
    lm, _ = _symmetric_landmarks()
    zones = sg.feature_zones(lm)
    face = sg.crop_of(_face_mask(lm)) >= 127
    lips = sg.lips_line(lm)
    bottom, width = lips
    centre = lm[48:60].mean(0).astype(int)
    head = np.zeros((C, C), bool)
    head[centre[1] - 12 : centre[1] + 13, centre[0] - 28 : centre[0] + 29] = True
    head &= face
    stem = np.zeros((C, C), bool)
    stem[centre[1] : C, centre[0] - 3 : centre[0] + 4] = True
    mic = head | (stem & face)
    assert (mic & zones).sum() > sg.FEATURE_SHARE * mic.sum()  # mostly on the lips' zone
    assert not sg.drop_feature_blobs(mic, zones).any()  # without face and lips: dropped
    np.testing.assert_array_equal(sg.drop_feature_blobs(mic, zones, face=face, lips=lips), mic)
    assert not sg.drop_feature_blobs(head, zones, face=face, lips=lips).any()
    # a short stem, inside the face, 0.3 mouth widths below the lips: kept; 0.15: dropped
    for reach, kept in ((0.3, True), (0.15, False)):
        blob = head | (stem & (np.arange(C)[:, None] <= bottom + reach * width))
        assert not (blob & ~face).any() and (blob & zones).sum() > sg.FEATURE_SHARE * blob.sum()
        assert sg.drop_feature_blobs(blob, zones, face=face, lips=lips).any() == kept
    # the edge above the lips does not count: a blob on the eye zone reaching the face's side
    eye = lm[36:42].mean(0).astype(int)
    side = np.zeros((C, C), bool)
    side[eye[1] - 6 : eye[1] + 7, eye[0] - 12 : eye[0] + 13] = True
    side[eye[1] - 2 : eye[1] + 3, : eye[0]] = True
    side &= face
    assert (side & zones).sum() > sg.FEATURE_SHARE * side.sum()
    assert sg.hangs_below(side.astype(np.int32), 2, face, (0.0, 1e6))[1]  # it meets the edge
    assert not sg.drop_feature_blobs(side, zones, face=face, lips=lips).any()


def _feature_zones_whole_crop(lm: np.ndarray, size: int = C) -> np.ndarray:
    """feature_zones drawn and grown on the whole crop (its first version, with the lower
    nose added): the reference."""
    zones = np.zeros((size, size), np.uint8)
    for idx, left, right, grow in ((range(36, 42), 36, 39, 1 / 3), (range(42, 48), 42, 45, 1 / 3),
                                   (range(48, 60), 48, 54, 0.1),
                                   ([29, 31, 32, 33, 34, 35], 31, 35, sg.NOSE_ZONE)):
        part = np.zeros_like(zones)
        cv2.fillPoly(part, [np.rint(lm[list(idx)]).astype(np.int32)], 1)
        r = max(int(round(grow * float(np.linalg.norm(lm[left] - lm[right])))), 1)
        part = cv2.dilate(part, cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                                          (2 * r + 1, 2 * r + 1)))
        if left == 31:  # the nose's zone ends halfway from its base to the upper lip
            part[max(int(np.floor((lm[33, 1] + lm[51, 1]) / 2)) + 1, 0) :] = 0
        zones |= part
    return zones.astype(bool)


def test_feature_zones_in_boxes_equal_the_whole_crop_version():
    """feature_zones grows each part in its bounding box: the same zones as on the whole crop,
    also for landmarks at, across and beyond the crop's edges."""
    lm, _ = _symmetric_landmarks()
    rng = np.random.default_rng(3)
    for shift in ((0, 0), (-200, 0), (230, -210), (0, 260), (-600, 0), (40, 40)):
        for scale in (1.0, 0.3, 2.5):
            pts = (lm - lm.mean(0)) * scale + lm.mean(0) + shift + rng.normal(0, 1.5, lm.shape)
            np.testing.assert_array_equal(sg.feature_zones(pts), _feature_zones_whole_crop(pts))


def test_channel_norm_is_numpys_norm_bit_for_bit():
    """segment._channel_norm (in place) equals np.linalg.norm over the 3-long last axis."""
    rng = np.random.default_rng(11)
    d = (rng.normal(0, 40, (64, 48, 3))).astype(np.float32)
    want = np.linalg.norm(d, axis=2)
    np.testing.assert_array_equal(sg._channel_norm(d.copy()), want)


def test_harmonic_correction_matches_the_superlu_reference():
    """harmonic_correction (the mesh fill's Cholesky on the pixel grid) equals the SuperLU
    reference within 1e-8 on blobs with holes, and is harmonic: each region pixel is the mean
    of its 4 neighbours; outside the region the boundary is kept."""
    from extreme3d.occlusion import fill as fl

    rng = np.random.default_rng(4)
    reg = np.zeros((90, 120), bool)
    cv2.ellipse(reg.view(np.uint8), (50, 45), (35, 25), 20, 0, 360, 1, -1)
    cv2.circle(reg.view(np.uint8), (95, 30), 12, 1, -1)
    reg[40:48, 45:52] = False  # a hole with its own boundary values
    boundary = np.where(reg, 0.0, rng.normal(0, 1, reg.shape))
    got = fl.harmonic_correction(boundary, reg)
    want = fl.harmonic_correction_reference(boundary, reg)
    assert np.abs(got - want).max() < 1e-8
    np.testing.assert_array_equal(got[~reg], boundary[~reg])
    ys, xs = np.nonzero(reg)
    mean4 = 0.25 * (got[ys - 1, xs] + got[ys + 1, xs] + got[ys, xs - 1] + got[ys, xs + 1])
    assert np.abs(got[ys, xs] - mean4).max() < 1e-8
    far_nan = boundary.copy()
    far_nan[0, 0] = np.nan  # away from the region and its ring: no effect
    np.testing.assert_array_equal(fl.harmonic_correction(far_nan, reg)[reg], got[reg])
    ring_nan = boundary.copy()
    ys0, xs0 = np.nonzero(reg)
    ring_nan[ys0[0] - 1, xs0[0]] = np.nan  # on the ring: NaN spreads as in the reference
    with np.errstate(invalid="ignore"):
        assert np.isnan(fl.harmonic_correction(ring_nan, reg)[reg]).any()
    edge = reg.copy()
    edge[0, 60:70] = True  # touching the border: the reference's clamped stencil
    np.testing.assert_array_equal(fl.harmonic_correction(boundary, edge),
                                  fl.harmonic_correction_reference(boundary, edge))
