"""OSMesa renderer and camera: depth, projection, culling, memory and input checks on synthetic
meshes whose answers are known analytically."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from extreme3d import _core, camera
from extreme3d.render import depth_to_metric, render, render_triangle_ids

NEAR, FAR = 50.0, 10000.0
ZERO = np.zeros(3)


def grid_plane(half: float, n: int, z: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A square n x n vertex grid in the plane z (mm), triangles counter-clockwise from +z."""
    xs = np.linspace(-half, half, n)
    x, y = np.meshgrid(xs, xs)
    vertices = np.stack([x.ravel(), y.ravel(), np.full(x.size, z)], axis=1).astype(np.float32)
    idx = np.arange(n * n).reshape(n, n)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    c, d = idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)]).astype(np.int32)
    return vertices, faces


def icosphere(radius: float, subdivisions: int) -> tuple[np.ndarray, np.ndarray]:
    """A closed sphere mesh with outward (counter-clockwise) triangles."""
    trimesh = pytest.importorskip("trimesh")
    sphere = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return np.asarray(sphere.vertices, np.float32), np.asarray(sphere.faces, np.int32)


def pixel_rays(width: int, height: int, focal: float) -> np.ndarray:
    """Camera-space ray directions (H, W, 3) through pixel centres, scaled to z = -1."""
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    return np.stack([(u - width / 2) / focal, -(v - height / 2) / focal, -np.ones_like(u)], -1)


def rss_kib() -> int:
    """Resident set size of this process (KiB) from /proc/self/status."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    pytest.skip("no VmRSS in /proc/self/status")
    return 0


# --- depth -------------------------------------------------------------------------------------


def test_depth_to_metric_formula() -> None:
    d = np.array([[0.0, 0.5, 0.999, 1.0]], np.float32)
    z = depth_to_metric(d)
    expected = -NEAR * FAR / (FAR - d.astype(np.float64) * (FAR - NEAR))
    np.testing.assert_allclose(z[0, :3], expected[0, :3], rtol=1e-5)
    assert z[0, 0] == pytest.approx(-NEAR)
    assert z[0, 3] == 0.0  # background
    assert z.dtype == np.float32 and z.shape == d.shape


def test_fronto_parallel_plane_depth() -> None:
    vertices, faces = grid_plane(148.0, 4)
    rgb, depth = render(vertices, faces, ZERO, [0.0, 0.0, -800.0])
    z = depth_to_metric(depth)
    # The square spans +-148 mm at 800 mm: u in [65, 435], i.e. pixel centres 65.5..434.5.
    covered = depth < 1
    rows, cols = np.nonzero(covered)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (65, 434, 65, 434)
    np.testing.assert_allclose(z[covered], -800.0, atol=0.05)
    assert np.all(rgb[covered] == 255) and np.all(rgb[~covered] == 0)
    assert np.all(z[~covered] == 0)


def test_tilted_plane_depth_at_pixel_centres() -> None:
    """Plane tilted 50 deg about y: depth changes ~1.2 mm per pixel, so sampling anywhere but the
    pixel centre would miss the 0.05 mm tolerance."""
    vertices, faces = grid_plane(120.0, 3)
    rvec = np.array([0.0, np.radians(50.0), 0.0])
    tvec = np.array([10.0, -5.0, -900.0])
    _, depth = render(vertices, faces, rvec, tvec)
    z = depth_to_metric(depth)
    R = camera.rotation_matrix(rvec)
    normal, offset = R[:, 2], R[:, 2] @ tvec  # plane normal . X = offset in camera space
    rays = pixel_rays(500, 500, 1000.0)
    z_true = -offset / (rays @ normal)  # rays scaled to z = -1: X = -z * ray
    covered = depth < 1
    assert covered.sum() > 10000
    np.testing.assert_allclose(z[covered], z_true[covered], atol=0.05)


def test_plane_crossing_the_near_plane_is_clipped_not_dropped() -> None:
    """A large plane reaching in front of the near plane (50 mm): GL clips it; the part beyond
    the near plane is drawn at the analytic depth, nothing nearer than 50 mm is drawn."""
    vertices, faces = grid_plane(300.0, 2)
    rvec = np.array([np.radians(-70.0), 0.0, 0.0])
    tvec = np.array([0.0, 0.0, -70.0])
    _, depth = render(vertices, faces, rvec, tvec)
    z = depth_to_metric(depth)
    R = camera.rotation_matrix(rvec)
    normal, offset = R[:, 2], R[:, 2] @ tvec
    z_true = -offset / (pixel_rays(500, 500, 1000.0) @ normal)
    covered = depth < 1
    assert covered.sum() > 20000
    assert camera.to_camera(vertices, rvec, tvec)[:, 2].max() > -NEAR  # it does cross
    np.testing.assert_allclose(z[covered], z_true[covered], atol=0.05)
    assert np.all(z[covered] <= -NEAR + 1e-3)
    assert not np.any(covered & (z_true > -NEAR + 0.01) & (z_true < 0))
    assert np.any((z_true > -NEAR + 0.01) & (z_true < 0))


def test_sphere_depth_and_visible_side() -> None:
    """The near hemisphere of a closed sphere is drawn (culling keeps the surface facing the
    camera) at the analytic depth."""
    radius, centre = 100.0, np.array([20.0, -10.0, -1000.0])
    vertices, faces = icosphere(radius, 6)
    _, depth = render(vertices, faces, ZERO, centre)
    z = depth_to_metric(depth).astype(np.float64)
    d = pixel_rays(500, 500, 1000.0)
    # |s d - C|^2 = r^2 with the point X = s d; nearest root.
    a, b, c = (d * d).sum(-1), d @ centre, centre @ centre - radius**2
    disc = b * b - a * c
    hit = disc > 0
    s = np.where(hit, (b - np.sqrt(np.clip(disc, 0, None))) / a, np.nan)
    z_true = -s
    # Away from the silhouette (surface within 60 deg of facing the ray): chord error < 0.05 mm.
    points = s[..., None] * d
    normals = (points - centre) / radius
    cosine = -(normals * d).sum(-1) / np.linalg.norm(d, axis=-1)
    inner = hit & (cosine > 0.5)
    assert inner.sum() > 5000
    assert np.all(depth[inner] < 1)
    np.testing.assert_allclose(z[inner], z_true[inner], atol=0.05)
    # The inscribed mesh lies inside the ball: nothing is drawn outside the sphere's outline.
    assert not np.any((depth < 1) & ~hit)


def test_nearest_surface_wins_in_both_orders() -> None:
    near_v, near_f = grid_plane(50.0, 2, z=100.0)  # at z_cam = -900
    far_v, far_f = grid_plane(100.0, 2, z=0.0)  # at z_cam = -1000
    red, blue = [255, 0, 0], [0, 0, 255]
    for first, second in (("near", "far"), ("far", "near")):
        parts = {"near": (near_v, near_f, red), "far": (far_v, far_f, blue)}
        v1, f1, c1 = parts[first]
        v2, f2, c2 = parts[second]
        vertices = np.concatenate([v1, v2])
        faces = np.concatenate([f1, f2 + len(v1)])
        colors = np.array([c1] * len(v1) + [c2] * len(v2), np.uint8)
        rgb, depth = render(vertices, faces, ZERO, [0.0, 0.0, -1000.0], colors=colors)
        z = depth_to_metric(depth)
        assert z[250, 250] == pytest.approx(-900.0, abs=0.05)
        assert list(rgb[250, 250]) == red
        assert list(rgb[250, 330]) == blue  # outside the small plane (+-55.6 px)
        assert z[250, 330] == pytest.approx(-1000.0, abs=0.05)
        ids = render_triangle_ids(vertices, faces, ZERO, [0.0, 0.0, -1000.0])
        near_ids = range(0, 2) if first == "near" else range(2, 4)
        assert ids[250, 250] in near_ids


def test_winding_culling_matches_original() -> None:
    """Front faces are culled under the flipped-y projection, as the original does: triangles
    counter-clockwise seen from the camera (x right, y up) are drawn, clockwise ones are not."""
    v = np.array([[0, 0, 0], [50, 0, 0], [0, 50, 0]], np.float32)
    ccw = np.array([[0, 1, 2]], np.int32)
    _, d_ccw = render(v, ccw, ZERO, [0, 0, -1000.0])
    _, d_cw = render(v, ccw[:, ::-1], ZERO, [0, 0, -1000.0])
    assert (d_ccw < 1).sum() > 1000
    assert (d_cw < 1).sum() == 0


# --- projection --------------------------------------------------------------------------------


def test_image_orientation() -> None:
    """+x is image right, +y is image up (row 0 = top row)."""
    v = np.array([[60, 40, 0], [80, 40, 0], [60, 60, 0]], np.float32)  # upper right quadrant
    ids = render_triangle_ids(v, np.array([[0, 1, 2]]), ZERO, [0, 0, -1000.0])
    rows, cols = np.nonzero(ids == 0)
    assert rows.max() < 250 and cols.min() >= 250
    uv = camera.project(v, ZERO, [0, 0, -1000.0])
    np.testing.assert_allclose(uv, [[310, 210], [330, 210], [310, 190]])


def _cross2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """z component of the cross product of 2-D vectors (..., 2)."""
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def _edge_distances(tri: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Signed distances (px) of points (N,2) to the three edges of 2-D triangles (N,3,2), positive
    inside whatever the orientation."""
    out = []
    area = _cross2(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    for k in range(3):
        a, b = tri[:, k], tri[:, (k + 1) % 3]
        e = b - a
        dist = _cross2(e, points - a) / np.linalg.norm(e, axis=1)
        out.append(dist * np.sign(area))
    return np.stack(out, 1)


@pytest.mark.parametrize(
    "rvec, tvec, cam",
    [
        ([0.0, 0.0, 0.0], [3.3, -7.1, -700.0], {}),
        ([0.3, -0.5, 0.2], [-20.0, 15.0, -1100.0], {}),
        ([-0.2, 0.4, 0.1], [5.0, 2.0, -800.0], {"focal": 650.0, "width": 333, "height": 251}),
    ],
)
def test_project_matches_rasteriser(rvec: list[float], tvec: list[float], cam: dict) -> None:
    """Every drawn pixel's centre lies inside the camera.project image of its triangle (to 0.02
    px), and every pixel centre well inside a projected triangle is drawn with that triangle."""
    rng = np.random.default_rng(1)
    vertices, faces = grid_plane(90.0, 14)
    vertices[:, 2] = 8.0 * np.sin(vertices[:, 0] / 17.0) * np.cos(vertices[:, 1] / 23.0)
    vertices[:, :2] += rng.uniform(-2, 2, (len(vertices), 2)).astype(np.float32)
    ids = render_triangle_ids(vertices, faces, rvec, tvec, **cam)
    uv = camera.project(vertices, rvec, tvec, **cam)
    rows, cols = np.nonzero(ids >= 0)
    assert len(rows) > 10000
    centres = np.stack([cols + 0.5, rows + 0.5], 1)
    dist = _edge_distances(uv[faces[ids[rows, cols]]], centres)
    assert dist.min() > -0.02
    # Conversely: sample pixel centres; those > 0.05 px inside a projected triangle are drawn.
    tri = uv[faces]
    for f in rng.choice(len(faces), 200, replace=False):
        lo = np.clip(np.floor(tri[f].min(0)).astype(int), 0, [ids.shape[1] - 1, ids.shape[0] - 1])
        hi = np.clip(np.ceil(tri[f].max(0)).astype(int), 0, [ids.shape[1] - 1, ids.shape[0] - 1])
        gx, gy = np.meshgrid(np.arange(lo[0], hi[0] + 1), np.arange(lo[1], hi[1] + 1))
        pts = np.stack([gx.ravel() + 0.5, gy.ravel() + 0.5], 1)
        inside = _edge_distances(np.repeat(tri[f][None], len(pts), 0), pts).min(1) > 0.05
        px = pts[inside] - 0.5
        hits = ids[px[:, 1].astype(int), px[:, 0].astype(int)]
        # An inside pixel shows this triangle unless another (nearer, overlapping) one covers it:
        # the height field seen at these poses has no overlap, so it must be this triangle.
        assert np.all(hits == f), f


def test_backproject_inverts_project() -> None:
    rng = np.random.default_rng(2)
    pts = rng.uniform(-100, 100, (50, 3))
    rvec, tvec = np.array([0.1, 0.2, -0.3]), np.array([5.0, 6.0, -900.0])
    uv = camera.project(pts, rvec, tvec)
    xc = camera.to_camera(pts, rvec, tvec)
    back = camera.backproject(uv[:, 0], uv[:, 1], xc[:, 2])
    np.testing.assert_allclose(back, xc, atol=1e-9)


def test_rotation_helpers() -> None:
    rvec = np.array([0.2, -0.4, 0.1])
    R = camera.rotation_matrix(rvec)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(camera.rvec_from_matrix(R), rvec, atol=1e-12)
    # Pure yaw of +30 deg about y turns the nose (+z) towards the image right.
    yaw, pitch, roll = camera.yaw_pitch_roll_deg(camera.rotation_matrix([0, np.radians(30), 0]))
    assert (yaw, pitch, roll) == pytest.approx((30.0, 0.0, 0.0))
    nose = camera.project([[0, 0, 100.0]], [0, np.radians(30), 0], [0, 0, -1000.0])
    assert nose[0, 0] > 250
    # Pitch > 0 turns the nose down (larger row), roll > 0 is counter-clockwise in the image.
    _, pitch, _ = camera.yaw_pitch_roll_deg(camera.rotation_matrix([np.radians(20), 0, 0]))
    assert pitch == pytest.approx(20.0)
    nose = camera.project([[0, 0, 100.0]], [np.radians(20), 0, 0], [0, 0, -1000.0])
    assert nose[0, 1] > 250


# --- shading, ids, threads ---------------------------------------------------------------------


def test_flat_colours_exact_and_lambert_darker_at_grazing() -> None:
    vertices, faces = icosphere(100.0, 4)
    colors = np.tile(np.array([[200, 120, 40]], np.uint8), (len(vertices), 1))
    rgb, depth = render(vertices, faces, ZERO, [0, 0, -1000.0], colors=colors)
    assert np.all(rgb[depth < 1] == [200, 120, 40])
    lit, _ = render(vertices, faces, ZERO, [0, 0, -1000.0], colors=colors, shading="lambert")
    centre = lit[250, 250].astype(int)
    rim = lit[250, 250 + 98].astype(int)  # near the silhouette (radius ~100 px)
    assert np.all(centre <= [200, 120, 40]) and centre[0] > 180
    assert rim[0] < centre[0] - 40


def test_triangle_ids_match_depth_coverage() -> None:
    vertices, faces = icosphere(80.0, 3)
    rvec, tvec = [0.4, 0.1, -0.2], [15.0, 5.0, -950.0]
    ids = render_triangle_ids(vertices, faces, rvec, tvec)
    _, depth = render(vertices, faces, rvec, tvec)
    np.testing.assert_array_equal(ids >= 0, depth < 1)
    assert ids.dtype == np.int32 and ids.min() == -1 and ids.max() < len(faces)
    # Many distinct ids: the 24-bit colour code survives exactly.
    assert len(np.unique(ids[ids >= 0])) > 0.4 * len(faces)
    # Each drawn id is a front-facing triangle (counter-clockwise seen from the camera).
    uv = camera.project(vertices, rvec, tvec)
    t = uv[faces[np.unique(ids[ids >= 0])]]
    area = _cross2(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])  # image y is down: ccw-up is negative
    assert np.all(area < 0)


def test_concurrent_renders_are_consistent() -> None:
    vertices, faces = icosphere(80.0, 3)
    pose = ([0.1, 0.2, 0.0], [0.0, 0.0, -900.0])
    ref_rgb, ref_depth = render(vertices, faces, *pose, width=128, height=96)
    results: list[tuple[np.ndarray, np.ndarray]] = []

    def worker() -> None:
        for _ in range(10):
            results.append(render(vertices, faces, *pose, width=128, height=96))
            render_triangle_ids(vertices, faces, ZERO, [0, 0, -700.0], width=64, height=200)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(results) == 40
    for rgb, depth in results:
        np.testing.assert_array_equal(rgb, ref_rgb)
        np.testing.assert_array_equal(depth, ref_depth)


def test_sizes_change_between_calls() -> None:
    vertices, faces = grid_plane(50.0, 2)
    for w, h in [(500, 500), (17, 31), (640, 480), (1, 1)]:
        rgb, depth = render(vertices, faces, ZERO, [0, 0, -1000.0], width=w, height=h, focal=300)
        assert rgb.shape == (h, w, 3) and depth.shape == (h, w)
        uv = camera.project(vertices, ZERO, [0, 0, -1000.0], focal=300, width=w, height=h)
        # The square projects onto +-15 px around the centre.
        cu, cv = w // 2, h // 2
        assert depth[cv, cu] < 1
        assert uv[:, 0].min() == pytest.approx(w / 2 - 15)


def test_no_memory_growth_over_1000_renders() -> None:
    if os.environ.get("EXTREME3D_SANITIZED_CORE"):
        pytest.skip("under AddressSanitizer freed memory is quarantined (RSS grows by design)")
    vertices, faces = icosphere(60.0, 2)
    for _ in range(50):  # warm-up: context, buffers, allocator pools
        render(vertices, faces, ZERO, [0, 0, -900.0], width=64, height=64)
        render_triangle_ids(vertices, faces, ZERO, [0, 0, -900.0], width=64, height=64)
    before = rss_kib()
    for i in range(1000):
        rgb, depth = render(vertices, faces, [0, 0.001 * i, 0], [0, 0, -900.0], width=64, height=64)
        ids = render_triangle_ids(vertices, faces, ZERO, [0, 0, -900.0], width=64, height=64)
        if i % 300 == 0:  # a size change reallocates the colour buffer
            render(vertices, faces, ZERO, [0, 0, -900.0], width=96, height=80)
    growth = rss_kib() - before
    assert depth.shape == (64, 64) and ids.shape == (64, 64)
    assert growth < 4096, f"RSS grew by {growth} KiB over 1000 renders"


# --- bad inputs --------------------------------------------------------------------------------

GOOD_V = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], np.float32)
GOOD_F = np.array([[0, 1, 2]], np.int32)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"vertices": np.zeros((3, 2))}, "vertices must have shape"),
        ({"vertices": np.zeros(9)}, "vertices must have shape"),
        ({"vertices": np.array([[0, 0, np.nan]] * 3)}, "NaN"),
        ({"faces": np.array([[0, 1, 3]])}, "face index out of range"),
        ({"faces": np.array([[0, -1, 2]])}, "face index out of range"),
        ({"faces": np.array([[0, 1]])}, "faces must have shape"),
        ({"faces": np.array([[0.0, 1.0, 2.0]])}, "integer"),
        ({"rvec": [0, 0]}, "rvec"),
        ({"tvec": [0, 0, np.inf]}, "tvec"),
        ({"colors": np.zeros((2, 3))}, "colors"),
        ({"focal": 0.0}, "focal"),
        ({"width": 0}, "width"),
        ({"height": 100000}, "height"),
        ({"shading": "phong"}, "shading"),
    ],
)
def test_bad_inputs_raise_value_error(kwargs: dict, message: str) -> None:
    args = {"vertices": GOOD_V, "faces": GOOD_F, "rvec": ZERO, "tvec": [0, 0, -10.0]}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        render(**args)
    if "colors" not in kwargs and "shading" not in kwargs:
        with pytest.raises(ValueError, match=message):
            render_triangle_ids(**args)


def test_core_checks_inputs_itself() -> None:
    """The compiled functions refuse bad input with ValueError (no crash) even without the
    Python wrappers."""
    t = np.array([0, 0, -10.0])
    with pytest.raises(ValueError, match="out of range"):
        _core.render(GOOD_V, np.array([[0, 1, 7]], np.int32), ZERO, t)
    with pytest.raises(ValueError, match="out of range"):
        _core.render_triangle_ids(GOOD_V, np.array([[0, -5, 1]], np.int32), ZERO, t)
    with pytest.raises(ValueError, match="shape"):
        _core.render(np.zeros((4, 4), np.float32), GOOD_F, ZERO, t)
    with pytest.raises(ValueError, match="colors"):
        _core.render(GOOD_V, GOOD_F, ZERO, t, colors=np.zeros((3, 3, 1), np.float32))
    with pytest.raises(ValueError, match="size"):
        _core.render(GOOD_V, GOOD_F, ZERO, t, width=-3)
    with pytest.raises(ValueError):
        _core.depth_to_metric(np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="near"):
        _core.depth_to_metric(np.zeros((2, 2), np.float32), near=10.0, far=5.0)


def test_empty_mesh_renders_background() -> None:
    rgb, depth = render(np.zeros((0, 3)), np.zeros((0, 3), np.int32), ZERO, ZERO, width=8, height=8)
    assert np.all(rgb == 0) and np.all(depth == 1)
    ids = render_triangle_ids(GOOD_V, np.zeros((0, 3), np.int32), ZERO, ZERO, width=8, height=8)
    assert np.all(ids == -1)


def test_render_in_forked_children() -> None:
    """A child forked after the parent rendered can render too (llvmpipe runs without worker
    threads unless LP_NUM_THREADS is set), instead of hanging."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork start method")
    expected = _covered_pixels(0)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        counts = pool.map_async(_covered_pixels, range(3)).get(timeout=60)
    assert counts == [expected] * 3
    assert _covered_pixels(0) == expected


def _covered_pixels(_: int) -> int:
    """Number of pixels a fixed triangle covers (used in forked workers)."""
    _, depth = render(GOOD_V * 50, GOOD_F, ZERO, [0, 0, -1000.0], width=100, height=100)
    return int((depth < 1).sum())


def test_surrey_model_renders_its_front(sfm_h5) -> None:
    """The converted Surrey mean face at a frontal pose: the front is drawn (not the inside), the
    nearest rendered depth is the nose tip's, and ids match coverage."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(sfm_h5, "r") as f:
        vertices = np.asarray(f["shapeMU"], np.float32).reshape(-1, 3)
        faces = np.asarray(f["faces"], np.int32) - 1  # 1-based in the file
        faces_fill = np.asarray(f["faces_fill"], np.int32) - 1
    tvec = np.array([0.0, 0.0, -1000.0])
    for tris in (faces, faces_fill):
        rgb, depth = render(vertices, tris, ZERO, tvec, shading="lambert")
        z = depth_to_metric(depth)
        tip = int(np.argmax(vertices[:, 2]))
        u, v = camera.project(vertices[tip : tip + 1], ZERO, tvec)[0]
        assert z[int(v), int(u)] == pytest.approx(vertices[tip, 2] - 1000.0, abs=0.1)
        assert z[z < 0].max() == pytest.approx(vertices[tip, 2] - 1000.0, abs=0.1)
        # Lambert head-light: a frontal face is mostly bright.
        assert np.median(rgb[depth < 1, 0]) > 150
        ids = render_triangle_ids(vertices, tris, ZERO, tvec)
        np.testing.assert_array_equal(ids >= 0, depth < 1)
    # faces_fill closes the mouth: it covers at least the pixels faces does.
    _, d_faces = render(vertices, faces, ZERO, tvec)
    _, d_fill = render(vertices, faces_fill, ZERO, tvec)
    assert np.all(d_fill[d_faces < 1] < 1) and (d_fill < 1).sum() > (d_faces < 1).sum()


def test_precull_gives_identical_images(monkeypatch: pytest.MonkeyPatch) -> None:
    """The renderer hands GL only faces that can produce fragments; the images, depths and ids
    equal those of drawing every face (EXTREME3D_RENDER_NO_PRECULL=1), near-plane cases included."""
    rng = np.random.default_rng(3)
    meshes = [grid_plane(90.0, 60), icosphere(80.0, 4)]
    meshes[0][0][:, 2] = 30 * np.cos(meshes[0][0][:, 0] / 40) * np.cos(meshes[0][0][:, 1] / 50)
    cases = []
    for k in range(12):
        vertices, faces = meshes[k % 2]
        rvec = rng.uniform(-1.5, 1.5, 3)
        tvec = np.array([*rng.uniform(-100, 100, 2), [-2500.0, -900.0, -120.0, -85.0][k % 4]])
        w, h = (int(n) for n in rng.integers(40, 300, 2))
        cases.append((vertices, faces, rvec, tvec, w, h))

    def run() -> list[np.ndarray]:
        out = []
        for vertices, faces, rvec, tvec, w, h in cases:
            out += render(vertices, faces, rvec, tvec, width=w, height=h)
            out.append(render_triangle_ids(vertices, faces, rvec, tvec, width=w, height=h))
        return out

    monkeypatch.delenv("EXTREME3D_RENDER_NO_PRECULL", raising=False)
    culled = run()
    monkeypatch.setenv("EXTREME3D_RENDER_NO_PRECULL", "1")
    full = run()
    assert sum(int((d < 1).sum()) for d in culled[1::3]) > 50000
    for a, b in zip(culled, full, strict=True):
        np.testing.assert_array_equal(a, b)


def test_two_sided_depth_equals_the_full_render_of_both_windings() -> None:
    """`render_two_sided_depth` (depth only, no colours) gives bit for bit `depth_to_metric` of
    `render`'s depth for the faces followed by their reversed copies (the colour module's
    reference), on open and closed meshes seen from both sides, crossing the near plane, and
    with an empty face list; a sphere seen from outside covers its disc either way."""
    from extreme3d.colors import render_depth_reference
    from extreme3d.render import render_two_sided_depth

    rng = np.random.default_rng(5)
    plane = grid_plane(90.0, 50)
    plane[0][:, 2] = 25 * np.sin(plane[0][:, 0] / 30)
    sphere = icosphere(80.0, 3)
    flipped = (sphere[0], sphere[1][:, [0, 2, 1]])  # inward winding: culled by render alone
    drawn = 0
    for k in range(9):
        vertices, faces = (plane, sphere, flipped)[k % 3]
        rvec = rng.uniform(-2.5, 2.5, 3)
        tvec = np.array([*rng.uniform(-60, 60, 2), [-1500.0, -400.0, -90.0][k % 3]])
        w, h = (int(n) for n in rng.integers(60, 260, 2))
        new = render_two_sided_depth(vertices, faces, rvec, tvec, width=w, height=h)
        ref = render_depth_reference(vertices, faces, rvec, tvec, width=w, height=h)
        assert new.dtype == np.float32 and new.shape == (h, w)
        np.testing.assert_array_equal(new, ref)
        drawn += int((new < 0).sum())
    assert drawn > 20000
    vertices, faces = flipped
    z = render_two_sided_depth(vertices, faces, ZERO, [0.0, 0.0, -800.0], width=200, height=200)
    assert (z < 0).sum() > 0.5 * np.pi * (1000 * 80 / 800) ** 2
    empty = render_two_sided_depth(vertices, faces[:0], ZERO, [0.0, 0.0, -800.0], width=20,
                                   height=10)
    assert empty.shape == (10, 20) and not empty.any()
