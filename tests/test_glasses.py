"""Glasses rims as dark rings around the eyes (extreme3d.occlusion.glasses): the ring search on
known tables, synthetic faces with and without rims or wrinkles, and paper crops."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from extreme3d import bump_photo as bp
from extreme3d import occlusion as oc
from extreme3d.occlusion import glasses as gl
from extreme3d.occlusion import segment as sg


def _best_closed_sum(table: np.ndarray) -> float:
    """Largest sum over closed paths (neighbouring rows, last and first, one column apart) by
    trying every path."""
    k, n = table.shape
    best = -np.inf
    for path in itertools.product(range(n), repeat=k):
        if all(abs(path[i] - path[(i + 1) % k]) <= 1 for i in range(k)):
            best = max(best, sum(table[i, path[i]] for i in range(k)))
    return best


def test_closed_path_is_the_best_closed_path():
    rng = np.random.default_rng(3)
    for _ in range(60):
        table = rng.random((5, 4))
        path = gl.closed_path(table)
        assert all(abs(int(path[i]) - int(path[(i + 1) % 5])) <= 1 for i in range(5))
        assert table[np.arange(5), path].sum() == pytest.approx(_best_closed_sum(table))


def test_closed_paths_of_a_batch_are_each_tables_own():
    tables = np.random.default_rng(5).random((4, 64, 36))
    paths = gl.closed_paths(tables)
    for table, path in zip(tables, paths, strict=True):
        np.testing.assert_array_equal(path, gl.closed_path(table))
        assert table[np.arange(64), path].sum() >= table[np.arange(64), gl.closed_path(
            table[::-1])[::-1]].sum() - 1e-9  # no better closed path found the other way round


def test_open_path_is_the_best_path_from_an_allowed_start():
    rng = np.random.default_rng(4)
    for _ in range(40):
        table = rng.integers(0, 4, (5, 4)).astype(float)  # ties on purpose
        start = np.array([False, True, True, False])
        path = gl.open_path(table, start)
        assert start[path[0]] and (np.abs(np.diff(path)) <= 1).all()
        best = max(sum(table[i, p[i]] for i in range(5))
                   for p in itertools.product(range(4), repeat=5)
                   if start[p[0]] and all(abs(p[i] - p[i + 1]) <= 1 for i in range(4)))
        assert table[np.arange(5), path].sum() == best


def test_closed_path_follows_a_ring_through_noise():
    """A bright wavy ring in a noisy (64, 36) table: the path is the ring."""
    rng = np.random.default_rng(0)
    ring = np.round(18 + 6 * np.sin(np.linspace(0, 2 * np.pi, 64, endpoint=False))).astype(int)
    table = rng.random((64, 36))
    table[np.arange(64), ring] += 3.0
    np.testing.assert_array_equal(gl.closed_path(table), ring)


def _skin(seed: int = 0) -> np.ndarray:
    """500x500 BGR skin-coloured crop with mild noise."""
    rng = np.random.default_rng(seed)
    img = np.empty((500, 500, 3), np.float32)
    img[:] = (120, 150, 200)
    img += rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _rims(img: np.ndarray, lm: np.ndarray, half: float = 1.15) -> np.ndarray:
    """Draws black rectangular rims (8 px, `half` eye widths each side of the eye's centre)
    around both eyes; returns their mask."""
    mask = np.zeros(img.shape[:2], np.uint8)
    for eye in gl.EYES:
        pts = lm[list(eye)]
        c, w = pts.mean(axis=0), float(np.linalg.norm(pts[3] - pts[0]))
        box = np.array([[c[0] - half * w, c[1] - 0.7 * w], [c[0] + half * w, c[1] + 0.7 * w]])
        cv2.rectangle(mask, tuple(np.round(box[0]).astype(int)),
                      tuple(np.round(box[1]).astype(int)), 1, 8)
    img[mask > 0] = (30, 30, 30)
    return mask > 0


def test_black_rims_are_found_and_masked():
    lm = bp.default_constants().mean_landmarks.copy()
    face = np.ones((500, 500), bool)
    img = _skin()
    rims = _rims(img, lm)
    found = gl.find_rims(img, lm, face)
    assert found.found
    assert (found.mask & rims).sum() >= 0.35 * rims.sum()  # a narrow band, cut at the corners
    grown = sg.grown(found.mask, face)  # as the occluder core is grown
    assert (grown & rims).sum() >= 0.95 * rims.sum()
    near = cv2.dilate(rims.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert (found.mask & ~near).sum() <= 0.05 * found.mask.sum()
    record = found.record(face)
    assert record["found"] and record["kinds"] == ["dark"] and 0 < record["fraction"] < 0.1
    assert [len(v) for v in record["scores"].values()] == [2, 2]  # per kind, per eye


def test_temple_arms_leaving_the_rims_join_them():
    """Black arms drawn from the rims' outer sides toward the ears are masked with the rims,
    as far as the face reaches; without arms nothing is masked out there."""
    lm = bp.default_constants().mean_landmarks.copy()
    face = np.ones((500, 500), bool)
    img = _skin()
    rims = _rims(img, lm)
    xs = np.nonzero(rims.any(axis=0))[0]
    arms = np.zeros((500, 500), np.uint8)
    for eye, x_rim, x_end in ((gl.EYES[0], xs.min(), xs.min() - 60),
                              (gl.EYES[1], xs.max(), xs.max() + 60)):
        y = int(round(lm[list(eye)].mean(axis=0)[1]))
        cv2.line(arms, (int(x_rim), y), (int(x_end), y - 4), 1, 5)
    bare = gl.find_rims(img.copy(), lm, face).mask
    img[arms > 0] = (30, 30, 30)
    found = gl.find_rims(img, lm, face)
    grown = sg.grown(found.mask, face)
    far = (arms > 0) & ~(cv2.dilate(rims.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0)
    assert (grown & far).sum() >= 0.8 * far.sum()
    assert not (bare & far).any()


def test_arms_leaving_the_rims_top_corners_join_them():
    """Black arms leaving the rims at their upper outer corners (where most frames hold them)
    and a fainter but longer dark line at the eyes' height beside each (a shadow, which the
    rims' own arm search, starting at the eyes' height, follows): the corner arm is masked
    too."""
    lm = bp.default_constants().mean_landmarks.copy()
    face = np.ones((500, 500), bool)
    img = _skin()
    rims = _rims(img, lm)
    ys, xs = np.nonzero(rims)
    arms = np.zeros((500, 500), np.uint8)
    shadow = np.zeros((500, 500), np.uint8)
    for eye, x_rim, x_end in ((gl.EYES[0], xs.min(), xs.min() - 60),
                              (gl.EYES[1], xs.max(), xs.max() + 60)):
        y = int(round(lm[list(eye)].mean(axis=0)[1]))
        cv2.line(arms, (int(x_rim), int(ys.min()) + 4), (int(x_end), int(ys.min())), 1, 5)
        x_far = int(x_rim + 1.5 * (x_end - x_rim))
        cv2.line(shadow, (int(x_rim), y), (x_far, y + 2), 1, 3)
    img[shadow > 0] = (60, 75, 100)
    img[arms > 0] = (30, 30, 30)
    found = gl.find_rims(img, lm, face)
    grown = sg.grown(found.mask, face)
    far = (arms > 0) & ~(cv2.dilate(rims.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0)
    assert found.found and (grown & far).sum() >= 0.8 * far.sum()
    strength = gl.line_maps(img)["dark"]
    for e, eye in enumerate(gl.EYES):  # corner_arm on each rim's box: the arm, not the shadow
        pts = np.asarray(lm, np.float64)[list(eye)]
        c, w = pts.mean(axis=0), float(np.linalg.norm(pts[3] - pts[0]))
        box = np.zeros((500, 500), np.uint8)
        cv2.rectangle(box, tuple(np.round(c - (1.15 * w, 0.7 * w)).astype(int)),
                      tuple(np.round(c + (1.15 * w, 0.7 * w)).astype(int)), 1, cv2.FILLED)
        out = pts[0] - pts[3] if e == 0 else pts[3] - pts[0]
        start, arm = gl.corner_arm(strength, face, box > 0, c, out / np.linalg.norm(out), w,
                                   found.scores["dark"][e][0])
        assert abs(start[1] - (ys.min() + 4)) <= 6 and len(arm) >= 20


def test_white_rims_are_found_as_light_rings():
    """White frames (or shiny metal) on skin: no dark ring, a light one."""
    lm = bp.default_constants().mean_landmarks.copy()
    face = np.ones((500, 500), bool)
    img = _skin()
    rims = _rims(img, lm)
    img[rims] = (235, 235, 235)
    found = gl.find_rims(img, lm, face)
    assert found.kinds == ("light",)
    assert (sg.grown(found.mask, face) & rims).sum() >= 0.95 * rims.sum()


def test_a_bare_or_wrinkled_face_has_no_rims():
    """No rims: nothing found. Dark wrinkles everywhere (thin random lines): a ring is dark in
    places only, and as dark between the rings, so nothing is found either."""
    lm = bp.default_constants().mean_landmarks.copy()
    face = np.ones((500, 500), bool)
    bare = gl.find_rims(_skin(), lm, face)
    assert not bare.found and not bare.mask.any()
    img = _skin(1)
    rng = np.random.default_rng(1)
    for _ in range(900):
        p = rng.uniform(100, 400, 2)
        d = rng.normal(size=2)
        q = p + 25 * d / np.linalg.norm(d)
        cv2.line(img, tuple(np.round(p).astype(int)), tuple(np.round(q).astype(int)),
                 (60, 70, 90), 2)
    wrinkled = gl.find_rims(img, lm, face)
    assert not wrinkled.found, wrinkled.scores


def test_a_rim_around_one_eye_only_is_not_glasses():
    lm = bp.default_constants().mean_landmarks.copy()
    img = _skin()
    rims = _rims(img.copy(), lm)
    left = rims & (np.arange(500)[None, :] < lm[27, 0])  # the image-left rim only
    img[left] = (30, 30, 30)
    assert not gl.find_rims(img, lm, np.ones((500, 500), bool)).found


def _half_rims(img: np.ndarray, lm: np.ndarray, bridge: bool) -> np.ndarray:
    """Draws half-rim frames: black top bars (8 px) over both eyes with their upper sides, a
    faint thin lower rim, and with `bridge` a black bar across the nose joining the top bars;
    returns the mask of the black parts."""
    mask = np.zeros(img.shape[:2], np.uint8)
    faint = np.zeros(img.shape[:2], np.uint8)
    tops = []
    for eye in gl.EYES:
        pts = lm[list(eye)]
        c, w = pts.mean(axis=0), float(np.linalg.norm(pts[3] - pts[0]))
        x0, x1, y0, y1 = c[0] - 0.8 * w, c[0] + 0.8 * w, c[1] - 0.6 * w, c[1] + 0.6 * w
        top = np.round([[x0, c[1]], [x0, y0], [x1, y0], [x1, c[1]]]).astype(np.int32)
        cv2.polylines(mask, [top], False, 1, 8)
        low = np.round([[x0, c[1]], [x0, y1], [x1, y1], [x1, c[1]]]).astype(np.int32)
        cv2.polylines(faint, [low], False, 1, 2)
        tops.append((x0, x1, y0))
    if bridge:
        (_, right_of_first, y), (left_of_second, _, _) = sorted(tops)
        cv2.line(mask, (int(round(right_of_first)), int(round(y))),
                 (int(round(left_of_second)), int(round(y))), 1, 6)
    img[faint > 0] = (110, 138, 186)  # ring strength ~13: under the dark test, over BRIDGED_DARK
    img[mask > 0] = (30, 30, 30)
    return mask > 0


def test_half_rim_frames_are_found_by_their_bridge():
    """Half-rim frames (black top bars, a faint lower rim): the bar across the nose confirms
    the glasses, the ring test is relaxed (BRIDGED_DARK) and the bar joins the rims; the same
    top bars without a bar across the nose (brows do not cross it) are not taken for rims."""
    lm = bp.default_constants().mean_landmarks.copy()
    face = np.ones((500, 500), bool)
    img = _skin()
    frame = _half_rims(img, lm, bridge=True)
    found = gl.find_rims(img, lm, face)
    strength, contrast = found.bridge
    assert strength >= gl.BRIDGE_TEST[0] and contrast >= gl.BRIDGE_TEST[1]
    assert found.kinds == ("dark",) and found.record(face)["bridge"][0] >= gl.BRIDGE_TEST[0]
    assert (sg.grown(found.mask, face) & frame).sum() >= 0.9 * frame.sum()
    between = frame & (np.arange(500)[None, :] > lm[39, 0]) & (np.arange(500)[None, :] < lm[42, 0])
    assert (sg.grown(found.mask, face) & between).sum() >= 0.95 * between.sum()
    unbridged = _skin()
    _half_rims(unbridged, lm, bridge=False)
    bare = gl.find_rims(unbridged, lm, face)
    assert bare.bridge[0] < gl.BRIDGE_TEST[0] and not bare.found, bare.scores
    assert gl.find_rims(_skin(), lm, face).bridge[0] < gl.BRIDGE_TEST[0]


def test_bridge_bar_needs_finite_landmarks_and_a_wide_enough_box():
    """NaN brows or eye landmarks, or inner corners closing in (a turned face: a few columns
    say nothing of a frame), give no bar and (0, 0), not an error or a false frame."""
    lm = bp.default_constants().mean_landmarks.copy()
    img = _skin()
    _half_rims(img, lm, bridge=True)
    strength = gl.line_maps(img)["dark"]
    assert gl.bridge_bar(strength, lm)[1][0] >= gl.BRIDGE_TEST[0]
    nan = lm.copy()
    nan[21] = np.nan
    points, score = gl.bridge_bar(strength, nan)
    assert len(points) == 0 and score == (0.0, 0.0)
    assert not gl.find_rims(img, nan, np.ones((500, 500), bool)).bridge[0]
    narrow = lm.copy()
    mid = 0.5 * (lm[39, 0] + lm[42, 0])
    narrow[39, 0], narrow[42, 0] = mid - 6, mid + 6
    assert gl.bridge_bar(strength, narrow)[1] == (0.0, 0.0)


def _paper(shared: Path, name: str) -> tuple:
    data = shared / "data" / "paper"
    if not (data / "imgs" / f"{name}.png").exists():
        pytest.skip(f"{name} not in {data}")
    return bp.load_paper_item(data, name)


def _lenses(img: np.ndarray, lm: np.ndarray, shade: int = 25, width: float = 1.1) -> np.ndarray:
    """Draws filled lenses (ellipses `width` x 0.7 eye widths) of grey `shade` over both eyes;
    returns their mask (the occluder core the cues would give)."""
    mask = np.zeros(img.shape[:2], np.uint8)
    for eye in gl.EYES:
        pts = lm[list(eye)]
        c, w = pts.mean(axis=0), float(np.linalg.norm(pts[3] - pts[0]))
        cv2.ellipse(mask, (int(round(c[0])), int(round(c[1]))),
                    (int(round(width * w)), int(round(0.7 * w))), 0, 0, 360, 1, -1)
    img[mask > 0] = (shade, shade, shade)
    return mask > 0


def test_sunglasses_arms_leaving_dark_lenses_at_a_corner_are_found():
    """Dark lenses the cues found (the core) with black arms leaving their upper outer corners
    toward the ears: the arms are masked along their length, both eyes recorded; without
    arms, or with lenses as light as the skin, nothing is."""
    lm = bp.default_constants().mean_landmarks.copy()
    face = np.ones((500, 500), bool)
    img = _skin()
    core = _lenses(img, lm)
    bare = gl.lens_arms(img.copy(), lm, core, face)
    assert not bare.found and not bare.mask.any()
    arms = np.zeros((500, 500), np.uint8)
    for eye, side in ((gl.EYES[0], -1), (gl.EYES[1], 1)):
        pts = lm[list(eye)]
        c, w = pts.mean(axis=0), float(np.linalg.norm(pts[3] - pts[0]))
        x0, y0 = c[0] + side * 1.0 * w, c[1] - 0.35 * w  # on the lens's upper outer edge
        cv2.line(arms, (int(round(x0)), int(round(y0))),
                 (int(round(x0 + side * 70)), int(round(y0 - 3))), 1, 6)
    img[(arms > 0) & ~core] = (30, 30, 30)
    found = gl.lens_arms(img, lm, core, face)
    assert found.eyes == (0, 1)
    far = (arms > 0) & ~(cv2.dilate(core.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0)
    assert (sg.grown(found.mask, face) & far).sum() >= 0.8 * far.sum()
    assert (found.mask & ~(cv2.dilate(arms, np.ones((9, 9), np.uint8)) > 0)).sum() <= 40
    record = found.record(face)
    assert record["found"] and record["eyes"] == [0, 1] and 0 < record["fraction"] < 0.02
    assert gl.describe_arms(record).startswith("sunglasses arms (")
    light = _skin()
    _lenses(light, lm, shade=150)  # a found "lens" as light as the skin: no arm is looked for
    light[(arms > 0) & ~core] = (30, 30, 30)
    assert not gl.lens_arms(light, lm, core, face).found


def test_dark_arms_of_tinted_lenses_in_light_rims_are_found():
    """Light (metal) rims holding dark lenses, with thin dark arms leaving the rims toward the
    ears: the rims' own arm search (at the light rims' level) misses the dark arms, `lens_arms`
    on the core (rims and lenses, as `find_occluders` has it) finds both; and with the arms
    drawn in the skin's colour nothing is added."""
    lm = bp.default_constants().mean_landmarks.copy()
    face = np.ones((500, 500), bool)
    img = _skin()
    rims = _rims(img, lm)
    img[rims] = (235, 235, 235)
    xs = np.nonzero(rims.any(axis=0))[0]
    arms = np.zeros((500, 500), np.uint8)
    for eye, x_rim, x_end in ((gl.EYES[0], xs.min(), xs.min() - 70),
                              (gl.EYES[1], xs.max(), xs.max() + 70)):
        y = int(round(lm[list(eye)].mean(axis=0)[1]))
        cv2.line(arms, (int(x_rim), y), (int(x_end), y - 4), 1, 3)
    bare = img.copy()
    img[(arms > 0) & ~rims] = (60, 60, 60)
    found = gl.find_rims(img, lm, face)
    assert found.kinds == ("light",)
    inside = np.zeros((500, 500), np.uint8)
    for curve in found.insides:
        cv2.fillPoly(inside, [np.round(curve).astype(np.int32)], 1)
    img[(inside > 0) & ~rims] = (25, 25, 25)  # tinted lenses
    core = gl.with_lenses(found.mask | (inside > 0), found, face)
    far = (arms > 0) & ~(cv2.dilate(rims.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0)
    assert (sg.grown(found.mask, face) & far).sum() < 0.2 * far.sum()  # the rims' own search
    got = gl.lens_arms(img, lm, core, face)
    assert got.eyes == (0, 1)
    assert (sg.grown(got.mask, face) & far).sum() >= 0.8 * far.sum()
    bare[(inside > 0) & ~rims] = (25, 25, 25)
    assert not gl.lens_arms(bare, lm, core, face).found


def test_find_occluders_looks_for_lens_arms_inside_found_rims(monkeypatch: pytest.MonkeyPatch):
    """With rims found, `find_occluders` still runs the lens-arm search on its core, and the
    arms it returns join the occluders."""
    from extreme3d.occlusion import fill

    lm = bp.default_constants().mean_landmarks.copy()
    img = _skin()
    rims = _rims(img, lm)
    mask = np.zeros((512, 512), np.uint8)
    mask[bp.MARGIN : bp.MARGIN + 500, bp.MARGIN : bp.MARGIN + 500] = 255
    bump = np.full((512, 512), 127, np.uint8)
    arm = np.zeros((500, 500), bool)
    arm[240:243, 20:60] = True
    lens = np.zeros((500, 500), bool)  # a marker of the lenses `with_lenses` adds
    lens[300:310, 300:310] = True
    seen = []
    real_with_lenses = gl.with_lenses

    def marked_lenses(core, found, face):
        return real_with_lenses(core, found, face) | lens

    def fake_arms(crop, landmarks, core, face, light=None, maps=None, lenses=None):
        seen.append((bool((core & rims).any()), bool(core[lens].all())))
        return gl.LensArms(arm & face, (0,))

    monkeypatch.setattr(gl, "with_lenses", marked_lenses)
    monkeypatch.setattr(gl, "lens_arms", fake_arms)
    occ, _, geo = fill.find_occluders(img, lm, bump, mask, hands=False)
    assert geo["rims"].found and seen == [(True, True)]  # the core with rims and lenses
    assert occ[arm].all() and geo["arms"].eyes == (0,)


def _one_lens(lm: np.ndarray, e: int) -> np.ndarray:
    """The mask `_lenses` draws over eye e only."""
    other = lm.copy()
    other[list(gl.EYES[1 - e])] = -1000.0  # the other eye's ellipse off the crop
    return _lenses(np.zeros((500, 500, 3), np.uint8), other)


def test_the_second_lens_of_a_pair_is_found_below_the_threshold():
    """paired_lenses: eye 0's dark lens is in the core; eye 1's, as dark, has a probability
    between the hysteresis level and the threshold (a far lens dropped as the eye, or a
    sliver): it joins, and only it. Not when eye 0 has no lens, when eye 1's is as light as
    the skin, or when its probability is below the hysteresis level too."""
    lm = bp.default_constants().mean_landmarks.copy()
    face = np.ones((500, 500), bool)
    img = _skin()
    _lenses(img, lm)
    near, far = _one_lens(lm, 0), _one_lens(lm, 1)
    thr = 0.55
    prob = np.where(near, 0.9, np.where(far, 0.45, 0.02)).astype(np.float32)
    light = gl.lightness(img)
    found = gl.paired_lenses(prob, thr, near, lm, face, light)
    assert found.eyes == (1,)
    assert (found.mask & far).sum() >= 0.85 * far.sum()  # its blurred edge falls below
    assert (found.mask & ~far).sum() <= 0.05 * far.sum() and not (found.mask & near).any()
    assert found.record(face) == {"found": True, "eyes": [1],
                                  "fraction": sg.face_share(found.mask, face)}
    none = np.zeros_like(near)
    assert not gl.paired_lenses(prob, thr, none, lm, face, light).eyes
    low = np.where(far, 0.3, prob).astype(np.float32)  # below 0.65 x 0.55
    assert not gl.paired_lenses(low, thr, near, lm, face, light).eyes
    pale = _skin()
    pale[near] = (25, 25, 25)  # a dark lens over eye 0, skin over eye 1
    assert not gl.paired_lenses(prob, thr, near, lm, face, gl.lightness(pale)).eyes
    # a sliver of the far lens in the core (over the eye, too small for a lens): still found
    eye1 = gl.eye_polygons(lm, (500, 500))[1]
    sliver = near | (cv2.dilate(eye1.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0)
    found = gl.paired_lenses(prob, thr, sliver, lm, face, light)
    assert found.eyes == (1,) and not (found.mask & sliver).any()
    assert (found.mask | sliver)[far].mean() >= 0.85
    # the lower threshold running on beyond the lens (hair, shadow): larger than 1.5x the
    # near lens, not kept; and never on the near eye's side of the face
    spill = prob.copy()
    spill[150:400, 260:470] = np.maximum(spill[150:400, 260:470], 0.45)
    dark = img.copy()
    dark[150:400, 260:470] = (25, 25, 25)
    assert not gl.paired_lenses(spill, thr, near, lm, face, gl.lightness(dark)).eyes
    cx = 0.5 * (lm[list(gl.EYES[0])].mean(axis=0)[0] + lm[list(gl.EYES[1])].mean(axis=0)[0])
    assert not found.mask[:, : int(cx) - 1].any()


def test_paper_sunglasses_far_lens_is_found(shared: Path):
    """Don-Draper (turned face, dark aviators): the cues keep a sliver of the far lens only;
    the pair rule takes the far lens whole, and it is recorded."""
    crop, lm, bump, mask = _paper(shared, "Don-Draper-Sunglasses-by-Randolph-Engineering")
    res = oc.deocclude(crop, lm, bump, mask, hands=False)
    assert res.extras["pair"]["found"] and res.extras["pair"]["eyes"] == [1]
    far = gl.eye_polygons(lm, (500, 500))[1]
    assert (sg.crop_of(res.occluders) & far).sum() >= 0.95 * far.sum()
    assert any(t.startswith("second sunglasses lens (") for t in res.found_notes())
    # the gold bridge between the two lenses, over the top of the nose
    assert res.extras["bridge"]["found"] and 0 < res.extras["bridge"]["fraction"] < 0.01
    assert any(t.startswith("glasses bridge (") for t in res.found_notes())


def test_paper_glasses_rims_are_found_and_refilled(shared: Path):
    """f20938 (black clear-lens frames, which the paper's own de-occlusion removed): the rims
    are found, join the occluders and are recorded."""
    name = "f20938b641e8e7c5fb26198c609e03a6--men-in-glasses-john-hamm"
    crop, lm, bump, mask = _paper(shared, name)
    face = sg.crop_of(mask) >= 127
    rims = gl.find_rims(crop, lm, face)
    assert rims.found and 0.02 < rims.mask.sum() / face.sum() < 0.2
    res = oc.deocclude(crop, lm, bump, mask, hands=False)
    assert res.extras["rims"]["found"]
    assert (sg.crop_of(res.occluders) & rims.mask).sum() == rims.mask.sum()


def test_paper_half_rim_glasses_are_found(shared: Path):
    """cde20a36 (half-rim frames: a dark top bar, a faint lower rim): its rings alone fail the
    dark test; the bar across the nose passes BRIDGE_TEST and the rims are found."""
    crop, lm, _, mask = _paper(shared, "cde20a36b3e7eb90c7b410f289e0c885")
    rims = gl.find_rims(crop, lm, sg.crop_of(mask) >= 127)
    assert rims.bridge[0] >= gl.BRIDGE_TEST[0] and rims.bridge[1] >= gl.BRIDGE_TEST[1]
    weakest = min(rims.scores["dark"])
    assert weakest[0] < gl.TESTS["dark"][0] or weakest[1] < gl.TESTS["dark"][1]
    assert rims.kinds == ("dark",)


@pytest.mark.parametrize("name", [
    "20140420_011855_News1-Apr-25",  # no glasses
    "436764_detail",  # deep wrinkles around the eyes
    "81e6215ffbe28190b95a1e2fdea72066--photos-of-people-old-people",  # wrinkles and a hand
])
def test_paper_faces_without_glasses_have_no_rims(shared: Path, name: str):
    data = shared / "data" / "paper" / "imgs"
    if not (data / f"{name}.png").exists():
        found = sorted(data.glob(f"{name.split('--')[0]}*.png"))
        if not found:
            pytest.skip(f"{name} not in {data}")
        name = found[0].stem
    crop, lm, _, mask = _paper(shared, name)
    assert not gl.find_rims(crop, lm, sg.crop_of(mask) >= 127).found


def test_describe_names_found_rims_only():
    assert gl.describe({"found": True, "fraction": 0.0322}) == "glasses rims (3.2% of the face)"
    assert gl.describe({"found": False, "fraction": 0.0}) == ""
    assert gl.describe(None) == ""


def test_flat_map_still_masks_the_rims(monkeypatch: pytest.MonkeyPatch):
    """stages.bump.deoccluded on a flat map (greyscale crop): the map is unchanged, but rims
    found on the crop become occluders in the mask, and the record says so."""
    from extreme3d.occlusion import hands as hd
    from extreme3d.stages.bump import BumpMaps, deoccluded

    monkeypatch.setattr(hd, "find_hands", lambda crop, landmarks, f: hd.Hands(
        np.zeros_like(f), [], 0, "none"))
    lm = bp.default_constants().mean_landmarks.copy()
    face = bp.landmark_mask(lm, bp.default_constants()) > 0
    mask512 = bp.to_maps(np.zeros((500, 500)), face)[1]
    flat = np.full((512, 512), 127, np.uint8)
    img = cv2.cvtColor(cv2.cvtColor(_skin(), cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    rims = _rims(img, lm)
    out = deoccluded(BumpMaps(flat, mask512, "flat"), img, lm)
    assert out.bump is flat and out.occlusion["rims"]["found"]
    occ = sg.crop_of(out.occluders) > 0
    assert (occ & rims & face).sum() >= 0.95 * (rims & face).sum()
    assert (sg.crop_of(out.mask)[occ] == 0).all()


def test_dark_lenses_are_taken_whole_clear_ones_keep_the_eyes():
    """with_lenses: the cues found most of one lens inside the rims -> both insides join the
    core (a pair of sunglasses, one lens found in part); little inside -> the core as it was."""
    lm = bp.default_constants().mean_landmarks.copy()
    face = np.ones((500, 500), bool)
    img = _skin()
    _rims(img, lm)
    rims = gl.find_rims(img, lm, face)
    assert rims.found and len(rims.insides) == 2
    insides = []
    for curve in rims.insides:
        m = np.zeros((500, 500), np.uint8)
        cv2.fillPoly(m, [np.round(curve).astype(np.int32)], 1)
        insides.append(m > 0)
    ys, xs = np.nonzero(insides[0])
    part = np.zeros_like(face)
    part[ys[: int(0.7 * len(ys))], xs[: int(0.7 * len(xs))]] = True  # 70% of one lens found
    core = rims.mask | part
    out = gl.with_lenses(core, rims, face)
    assert (out >= core).all() and out[insides[0]].all() and out[insides[1]].all()
    little = rims.mask | (part & (np.arange(500)[:, None] < ys.min() + 3))  # a sliver only
    np.testing.assert_array_equal(gl.with_lenses(little, rims, face), little)
    none = gl.Rims(np.zeros_like(face))
    np.testing.assert_array_equal(gl.with_lenses(part, none, face), part)


def test_rims_off_the_face_mask_or_a_mismatched_mask():
    """Rims beside the face mask are not reported; a face mask of another size is an error."""
    lm = bp.default_constants().mean_landmarks.copy()
    img = _skin()
    _rims(img, lm)
    away = np.zeros((500, 500), bool)
    away[480:, :20] = True
    off = gl.find_rims(img, lm, away)
    assert not off.found and not off.mask.any() and off.scores["dark"]
    with pytest.raises(ValueError, match="differ in size"):
        gl.find_rims(img, lm, np.ones((400, 400), bool))


def test_flat_map_with_the_whole_face_occluded_is_not_applied(monkeypatch: pytest.MonkeyPatch):
    """_masks_only keeps the maps when its occluders cover more than MAX_OCCLUDED of the face."""
    from extreme3d.occlusion import hands as hd
    from extreme3d.stages.bump import MAX_OCCLUDED, BumpMaps, deoccluded

    monkeypatch.setattr(hd, "find_hands", lambda crop, landmarks, f: hd.Hands(
        f.copy(), [np.zeros((21, 2))], 0, "found"))
    lm = bp.default_constants().mean_landmarks.copy()
    face = bp.landmark_mask(lm, bp.default_constants()) > 0
    mask512 = bp.to_maps(np.zeros((500, 500)), face)[1]
    flat = np.full((512, 512), 127, np.uint8)
    out = deoccluded(BumpMaps(flat, mask512, "flat"), _skin(), lm)
    assert out.occluders is None and out.mask is mask512
    assert out.occlusion["occluded_fraction"] > MAX_OCCLUDED
    assert "not applied" in out.occlusion["note"]


def test_frames_around_dark_lenses_are_a_band_of_a_tenth_eye_width():
    """lens_frames: each dark lens grown by FRAME_SHARE of its eye's width, less the core, inside
    the face; recorded per eye. Lenses as light as the skin, or no lens, give nothing."""
    lm = bp.default_constants().mean_landmarks.copy()
    face = np.ones((500, 500), bool)
    img = _skin()
    core = _lenses(img, lm)
    found = gl.lens_frames(core, lm, face, gl.lightness(img))
    assert found.eyes == (0, 1) and not (found.mask & core).any()
    r = [gl.FRAME_SHARE * float(np.linalg.norm(lm[e[3]] - lm[e[0]])) for e in gl.EYES]
    dist = cv2.distanceTransform((~core).astype(np.uint8), cv2.DIST_L2, 5)
    assert found.mask[(dist > 0) & (dist <= min(r) - 1)].all()  # the band all round
    assert not found.mask[dist > max(r) + 1].any()  # and no wider
    record = found.record(face)
    assert record["found"] and record["eyes"] == [0, 1] and 0 < record["fraction"] < 0.05
    half = face.copy()
    half[:, 250:] = False  # kept inside the face
    assert not (gl.lens_frames(core, lm, half, gl.lightness(img)).mask & ~half).any()
    light = _skin()
    _lenses(light, lm, shade=150)
    assert not gl.lens_frames(core, lm, face, gl.lightness(light)).eyes
    assert not gl.lens_frames(np.zeros_like(core), lm, face, gl.lightness(img)).mask.any()


def _bridge(img: np.ndarray, core: np.ndarray, lm: np.ndarray, colour: int,
            thick: int) -> tuple[np.ndarray, int]:
    """Draws a horizontal bar `thick` px high in grey `colour` across the gap between the two
    lenses of `core`, a tenth of an eye distance below their top; returns (the bar's pixels in
    the gap, its centre row)."""
    d = float(np.linalg.norm(lm[42:48].mean(axis=0) - lm[36:42].mean(axis=0)))
    ys, xs = np.nonzero(core)
    row = int(ys.min() + 0.1 * d)
    mid = int(round(lm[27, 0]))  # the nose's top, between the lenses
    x0 = int(np.nonzero(core[:, :mid].any(axis=0))[0].max())
    x1 = mid + int(np.nonzero(core[:, mid:].any(axis=0))[0].min())
    bar = np.zeros(core.shape, bool)
    bar[row - thick // 2 : row - thick // 2 + thick, x0 : x1 + 1] = True
    bar &= ~core
    img[bar] = (colour, colour, colour)
    return bar, row


@pytest.mark.parametrize(("colour", "thick"), [(30, 3), (235, 9)])
def test_the_bridge_between_dark_lenses_is_found(colour: int, thick: int):
    """lens_bridge: a dark thin or a light thick bar across the gap between two dark lenses
    (the core), above the eyes: it is masked across the gap, and little beside it (the bar's
    rows only, about as wide as the bar); outside the core and inside the face; recorded."""
    lm = bp.default_constants().mean_landmarks.copy()
    face = np.ones((500, 500), bool)
    img = _skin()
    core = _lenses(img, lm, width=0.9)  # a gap over the nose wider than a line (15 px)
    bar, row = _bridge(img, core, lm, colour, thick)
    lenses = gl.eye_lenses(core, lm, face, gl.lightness(img))
    found = gl.lens_bridge(gl.line_maps(img), lm, core, face, lenses.lenses)
    assert found.found and not (found.mask & core).any()
    assert (found.mask & bar).sum() >= 0.9 * bar.sum()
    near = cv2.dilate(bar.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert (found.mask & ~near).sum() <= 0.1 * found.mask.sum()
    record = found.record(face)
    assert record["found"] and 0 < record["fraction"] < 0.01
    assert gl.describe_bridge(record).startswith("glasses bridge (")
    assert gl.describe_bridge({"found": False, "fraction": 0.0}) == ""
    half = face.copy()
    half[:row] = False  # kept inside the face
    assert not (gl.lens_bridge(gl.line_maps(img), lm, core, half, lenses.lenses).mask
                & ~half).any()
    bare = _skin()  # the same lenses without a bar: no bridge
    _lenses(bare, lm, width=0.9)
    assert not gl.lens_bridge(gl.line_maps(bare), lm, core, face, lenses.lenses).found


def test_no_bridge_without_two_lenses_or_when_they_are_joined():
    """lens_bridge draws nothing when one lens is missing, when the core already joins the
    lenses (a shield, or a bridge found by the cues), or for non-finite landmarks."""
    lm = bp.default_constants().mean_landmarks.copy()
    face = np.ones((500, 500), bool)
    img = _skin()
    core = _lenses(img, lm)
    _bridge(img, core, lm, 30, 3)
    maps = gl.line_maps(img)
    lenses = gl.eye_lenses(core, lm, face, gl.lightness(img)).lenses
    assert not gl.lens_bridge(maps, lm, core, face, [lenses[0], None]).found
    joined = core.copy()
    joined[int(lm[27, 1]) - 5 : int(lm[27, 1]) + 5, 200:300] = True
    assert not gl.lens_bridge(maps, lm, joined, face, lenses).found
    bad = lm.copy()
    bad[40] = np.nan
    assert not gl.lens_bridge(maps, bad, core, face, lenses).found


def test_no_bridge_across_a_gap_wider_than_the_nose(monkeypatch: pytest.MonkeyPatch):
    """lens_bridge: lenses further apart than LENS_BRIDGE_MAX_GAP eye distances are not a pair
    over one nose, whatever lies between them."""
    lm = bp.default_constants().mean_landmarks.copy()
    face = np.ones((500, 500), bool)
    img = _skin()
    core = _lenses(img, lm, width=0.9)
    _bridge(img, core, lm, 30, 3)
    lenses = gl.eye_lenses(core, lm, face, gl.lightness(img)).lenses
    assert gl.lens_bridge(gl.line_maps(img), lm, core, face, lenses).found
    monkeypatch.setattr(gl, "LENS_BRIDGE_MAX_GAP", 0.1)
    assert not gl.lens_bridge(gl.line_maps(img), lm, core, face, lenses).found


def test_the_bridge_between_found_rims_is_found():
    """rim_regions + lens_bridge: light rims around both eyes, with a light bar between them
    above the eyes that the rims' ring does not take: the bar is masked across the gap; rims
    not found give no regions."""
    lm = bp.default_constants().mean_landmarks.copy()
    face = np.ones((500, 500), bool)
    img = _skin()
    img[_rims(img, lm, half=0.95)] = (235, 235, 235)  # a gap over the nose
    bare = img.copy()
    rims = gl.find_rims(img, lm, face)
    assert rims.found and rims.kinds == ("light",)
    regions = gl.rim_regions(rims, face.shape)
    d = float(np.linalg.norm(lm[42:48].mean(axis=0) - lm[36:42].mean(axis=0)))
    left = np.nonzero(regions[0].any(axis=0))[0].max()
    right = np.nonzero(regions[1].any(axis=0))[0].min()
    gap = np.zeros(face.shape, bool)
    row = int(np.nonzero(regions[0].any(axis=1))[0].min() + 0.15 * d)
    gap[row - 2 : row + 2, left + 1 : right] = True
    bar = gap & ~rims.mask
    img[bar] = (235, 235, 235)
    assert bar.sum() >= 4 * 15  # a gap of 15 px or more between the rims
    found = gl.lens_bridge(gl.line_maps(img), lm, rims.mask, face, regions)
    assert (found.mask & bar).sum() >= 0.8 * bar.sum()
    near = cv2.dilate(bar.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert (found.mask & ~near).sum() <= 0.1 * found.mask.sum()
    assert not gl.lens_bridge(gl.line_maps(bare), lm, rims.mask, face, regions).found
    assert gl.rim_regions(gl.Rims(np.zeros(face.shape, bool)), face.shape) == [None, None]


def test_a_light_bridge_and_the_shadow_under_it_are_both_taken():
    """lens_bridge: a white bar across the gap with a dark shadow band right under it: the
    light map's bar and the dark map's bar are both drawn, so neither is left on the nose."""
    lm = bp.default_constants().mean_landmarks.copy()
    face = np.ones((500, 500), bool)
    img = _skin()
    core = _lenses(img, lm, width=0.9)
    bar, row = _bridge(img, core, lm, 235, 5)
    shadow = np.roll(bar, 5, axis=0) & ~core & ~bar
    img[shadow] = (40, 40, 40)
    lenses = gl.eye_lenses(core, lm, face, gl.lightness(img))
    found = gl.lens_bridge(gl.line_maps(img), lm, core, face, lenses.lenses)
    assert (found.mask & bar).sum() >= 0.9 * bar.sum()
    assert (found.mask & shadow).sum() >= 0.9 * shadow.sum()
    near = cv2.dilate((bar | shadow).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert (found.mask & ~near).sum() <= 0.1 * found.mask.sum()


def test_thick_black_frames_are_followed_past_the_band():
    """lens_frames: a black frame reaching past the tenth-eye-width band round a dark lens is
    followed through its dark pixels (up to FRAME_REACH eye widths more); a mid-grey one (a
    shadow, a brow) is not."""
    lm = bp.default_constants().mean_landmarks.copy()
    face = np.ones((500, 500), bool)
    r = [float(np.linalg.norm(lm[e[3]] - lm[e[0]])) for e in gl.EYES]
    for shade, followed in ((15, True), (100, False)):
        img = _skin()
        core = _lenses(img, lm)
        dist = cv2.distanceTransform((~core).astype(np.uint8), cv2.DIST_L2, 5)
        frame = (dist > 0) & (dist <= 0.25 * min(r))
        img[frame] = (shade, shade, shade)
        found = gl.lens_frames(core, lm, face, gl.lightness(img))
        outer = frame & (dist > gl.FRAME_SHARE * max(r) + 1.5)
        assert outer.sum() > 100
        if followed:
            assert (found.mask & outer).sum() >= 0.95 * outer.sum()
            assert not found.mask[dist > 0.25 * min(r) + 2].any()  # not past the frame
        else:
            assert not (found.mask & outer).any()


def test_a_low_bridge_below_the_eyes_centre_row_is_found():
    """lens_bridge searches down to LENS_BRIDGE_BELOW eye distances below the eyes' centre row:
    a black bar a little below that row (a low plastic bridge) is taken."""
    lm = bp.default_constants().mean_landmarks.copy()
    face = np.ones((500, 500), bool)
    img = _skin()
    core = _lenses(img, lm, width=0.9)
    d = float(np.linalg.norm(lm[42:48].mean(axis=0) - lm[36:42].mean(axis=0)))
    row = int(round(lm[36:48, 1].mean() + 0.08 * d))
    mid = int(round(lm[27, 0]))
    x0 = int(np.nonzero(core[:, :mid].any(axis=0))[0].max())
    x1 = mid + int(np.nonzero(core[:, mid:].any(axis=0))[0].min())
    bar = np.zeros(core.shape, bool)
    bar[row - 1 : row + 2, x0 : x1 + 1] = True
    bar &= ~core
    img[bar] = (30, 30, 30)
    lenses = gl.eye_lenses(core, lm, face, gl.lightness(img)).lenses
    found = gl.lens_bridge(gl.line_maps(img), lm, core, face, lenses)
    assert (found.mask & bar).sum() >= 0.9 * bar.sum()


def test_dark_frame_growth_stops_at_its_reach():
    """lens_frames follows dark pixels no further than about FRAME_SHARE + FRAME_REACH eye
    widths from the lens (diagonals up to 1.4x the reach), even when dark hair or background
    runs on much further."""
    lm = bp.default_constants().mean_landmarks.copy()
    face = np.ones((500, 500), bool)
    img = _skin()
    core = _lenses(img, lm)
    dist = cv2.distanceTransform((~core).astype(np.uint8), cv2.DIST_L2, 5)
    img[(dist > 0) & (dist <= 60)] = (15, 15, 15)  # dark all round, far past any frame
    found = gl.lens_frames(core, lm, face, gl.lightness(img))
    w = max(float(np.linalg.norm(lm[e[3]] - lm[e[0]])) for e in gl.EYES)
    limit = gl.FRAME_SHARE * w + 1.42 * round(gl.FRAME_REACH * w) + 2
    assert found.mask.any() and not found.mask[dist > limit].any()
    assert found.mask[(dist > 0) & (dist <= gl.FRAME_SHARE * w + gl.FRAME_REACH * w - 1)].all()
