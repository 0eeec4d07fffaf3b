"""The `_core` entry points of the clean final mesh (bindings/clean_mesh.cpp) on synthetic inputs
with known answers: the Delaunay triangulation, the chart raster's point location, the raster
morphology and distance transform, orientation by chart area and bow-tie removal."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from extreme3d import _core


def canonical(tris: np.ndarray) -> set[tuple[int, int, int]]:
    """Triangles as a set, each rotated to start at its smallest index (orientation kept)."""
    t = np.asarray(tris, np.int64).reshape(-1, 3)
    r = np.argmin(t, 1)
    t = np.stack([t[np.arange(len(t)), (r + k) % 3] for k in range(3)], 1)
    return set(map(tuple, t.tolist()))


def signed_areas(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Twice the signed area of each triangle."""
    a, b = p[t[:, 1]] - p[t[:, 0]], p[t[:, 2]] - p[t[:, 0]]
    return a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]


def test_delaunay_of_random_points_is_the_delaunay_triangulation() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 100, (300, 2))
    t = np.asarray(_core.delaunay_2d(p), np.int64)
    assert (signed_areas(p, t) > 0).all()  # counter-clockwise
    # empty circumcircles (brute force): no point strictly inside any triangle's circle
    a, b, c = p[t[:, 0]], p[t[:, 1]], p[t[:, 2]]
    ax, ay, bx, by, cx, cy = a[:, 0], a[:, 1], b[:, 0], b[:, 1], c[:, 0], c[:, 1]
    d = 2 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    la, lb, lc = (a ** 2).sum(1), (b ** 2).sum(1), (c ** 2).sum(1)
    ux = (la * (by - cy) + lb * (cy - ay) + lc * (ay - by)) / d
    uy = (la * (cx - bx) + lb * (ax - cx) + lc * (bx - ax)) / d
    r2 = (a[:, 0] - ux) ** 2 + (a[:, 1] - uy) ** 2
    dist2 = (p[None, :, 0] - ux[:, None]) ** 2 + (p[None, :, 1] - uy[:, None]) ** 2
    assert (dist2 >= r2[:, None] * (1 - 1e-9)).all()
    # triangles of n points with h on the hull: 2n - 2 - h; the same as the Boost.Polygon builder
    assert len(t) == len(canonical(t))
    boost = np.asarray(_core.delaunay_triangles(p.astype(np.float32)), np.int64)
    flip = signed_areas(p, boost) < 0
    boost[flip] = boost[flip][:, [0, 2, 1]]
    assert canonical(t) == canonical(boost)


def test_delaunay_of_a_grid_and_degenerate_inputs() -> None:
    g = np.stack(np.meshgrid(np.arange(30.0), np.arange(20.0)), -1).reshape(-1, 2)
    t = np.asarray(_core.delaunay_2d(g), np.int64)
    assert len(t) == 2 * 600 - 2 - 96  # 96 hull points, all cocircular quads split once
    np.testing.assert_allclose(signed_areas(g, t), 1.0)  # unit right triangles, counter-clockwise
    assert len(_core.delaunay_2d(np.column_stack([np.arange(10.0), np.zeros(10)]))) == 0
    assert len(_core.delaunay_2d(np.zeros((2, 2)))) == 0
    # extents near the smallest double: no triangle (the points snap together), no failure
    assert len(_core.delaunay_2d(np.array([[0.0, 0.0], [5e-324, 0.0], [0.0, 5e-324]]))) == 0
    tiny = _core.delaunay_2d(np.array([[0.0, 0.0], [1e-300, 0.0], [0.0, 1e-300]]))
    assert canonical(tiny) == {(0, 1, 2)}
    # a repeated point is left out (the first one kept)
    p = np.array([[0.0, 0], [4, 0], [0, 3], [4, 0], [4, 3]])
    got = canonical(_core.delaunay_2d(p))
    assert all(3 not in tri for tri in got) and len(got) == 2
    # collinear points first, then one off the line: a fan
    line = np.array([[0.0, 0], [1, 0], [2, 0], [3, 0], [1.5, 5]])
    assert len(_core.delaunay_2d(line)) == 3
    with pytest.raises(ValueError, match="points"):
        _core.delaunay_2d(np.array([[0.0, 0], [1, np.nan], [0, 1]]))
    with pytest.raises(ValueError, match="points"):
        _core.delaunay_2d(np.zeros((4, 3)))


def square_chart(cell: float = 1.0):
    """A 10 x 10 mm square of two faces, its raster (cell mm) and a linear height z = x + 2y."""
    uv = np.array([[0.0, 0], [10, 0], [10, 10], [0, 10]])
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    origin = np.array([-2.0, -2.0])
    n = int(14 / cell)
    centres = origin + (np.stack(np.meshgrid(np.arange(n), np.arange(n)), -1) + 0.5) * cell
    x, y = centres[..., 0], centres[..., 1]
    inside = (x >= 0) & (x <= 10) & (y >= 0) & (y <= 10)
    face_map = np.where(inside, np.where(y <= x, 0, 1), -1).astype(np.int32)
    edge = ((np.abs(x) < cell) | (np.abs(x - 10) < cell) | (np.abs(y) < cell)
            | (np.abs(y - 10) < cell))
    raster = _core.ChartRaster(uv, faces, face_map, edge & inside, origin, cell)
    vertices = np.column_stack([uv, uv[:, 0] + 2 * uv[:, 1]])
    return raster, vertices


def test_chart_raster_locates_points() -> None:
    raster, vertices = square_chart()
    assert raster.shape == (14, 14)
    pts = np.array([[2.3, 7.1], [8.0, 1.5], [9.999, 5.0], [10.001, 5.0], [-0.3, 4.0], [50.0, 50.0]])
    surf, face, cell = raster.surface(vertices, pts)
    np.testing.assert_allclose(surf[:3], np.column_stack([pts[:3], pts[:3, 0] + 2 * pts[:3, 1]]))
    np.testing.assert_array_equal(face, [1, 0, 0, -1, -1, -1])
    # flat cell row * W + col of floor((p - origin) / cell), clipped to the raster
    np.testing.assert_array_equal(cell[:2], [9 * 14 + 4, 3 * 14 + 10])
    assert cell[5] == 14 * 14 - 1
    np.testing.assert_array_equal(raster.inside(pts), [True, True, True, False, False, False])
    tris = np.array([[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(raster.triangles_inside(pts, tris), [True, False])
    with pytest.raises(ValueError, match="face_map"):
        _core.ChartRaster(vertices[:, :2], [[0, 1, 2]], np.full((4, 4), 3, np.int32),
                          np.zeros((4, 4), bool), [0.0, 0.0], 1.0)
    with pytest.raises(ValueError, match="edge_cells"):
        _core.ChartRaster(vertices[:, :2], [[0, 1, 2]], np.zeros((4, 4), np.int32),
                          np.zeros((4, 5), bool), [0.0, 0.0], 1.0)
    with pytest.raises(ValueError, match="cell_mm"):
        _core.ChartRaster(vertices[:, :2], [[0, 1, 2]], np.zeros((4, 4), np.int32),
                          np.zeros((4, 4), bool), [0.0, 0.0], 0.0)
    with pytest.raises(ValueError, match="vertices"):
        raster.surface(vertices[:3], pts)


def test_weighted_positions() -> None:
    pts = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 20.0]])
    tri = np.array([[0, 1, 2], [1, -1, 2]])
    w = np.array([[0.2, 0.3, 0.5], [0.5, 9.0, 0.5]])
    np.testing.assert_allclose(_core.weighted_positions(pts, tri, w), [[3.0, 10.0], [5.0, 10.0]])
    with pytest.raises(ValueError, match="tri"):
        _core.weighted_positions(pts, np.array([[0, 1, 3]]), w[:1])
    with pytest.raises(ValueError, match="w"):
        _core.weighted_positions(pts, tri, w[:1])


def test_morphology_and_distance_transform_match_scipy() -> None:
    rng = np.random.default_rng(1)
    for shape in ((1, 1), (7, 5), (40, 33)):
        mask = rng.uniform(size=shape) < 0.6
        for k in (0, 1, 3):
            grown = ndimage.binary_dilation(mask, iterations=k) if k else mask
            np.testing.assert_array_equal(_core.binary_dilation(mask, k), grown)
            np.testing.assert_array_equal(
                _core.binary_erosion(mask, k),
                ndimage.binary_erosion(mask, iterations=k, border_value=0) if k else mask)
        mask[0, 0] = False
        np.testing.assert_array_equal(_core.distance_transform(mask),
                                      ndimage.distance_transform_edt(mask))
    # one empty cell in the middle: the distance is the length of the offset
    mask = np.ones((9, 11), bool)
    mask[4, 6] = False
    r, c = np.mgrid[0:9, 0:11]
    np.testing.assert_array_equal(_core.distance_transform(mask), np.hypot(r - 4, c - 6))
    assert np.isinf(_core.distance_transform(np.ones((3, 3), bool))).all()
    with pytest.raises(ValueError, match="mask"):
        _core.distance_transform(np.ones((3, 3)) * 0.5)
    with pytest.raises(ValueError, match="iterations"):
        _core.binary_dilation(mask, -1)


def test_region_distance_is_closing_then_distance() -> None:
    rng = np.random.default_rng(2)
    within = rng.uniform(size=(30, 40)) < 0.9
    cells = rng.choice(1200, 300, replace=False)
    mask = np.zeros(1200, bool)
    mask[cells] = True
    mask = mask.reshape(30, 40)
    closed = ndimage.binary_closing(mask, iterations=2, border_value=0) & within
    got, dist = _core.region_distance(cells, within, 2)
    np.testing.assert_array_equal(got, closed)
    np.testing.assert_array_equal(dist, ndimage.distance_transform_edt(closed))
    got, dist = _core.region_distance(cells.astype(np.int32), within, 0)  # no closing: as listed
    np.testing.assert_array_equal(got, mask)
    got, dist = _core.region_distance(np.zeros(0, np.int64), within, 2)
    assert not got.any() and not dist.any()
    with pytest.raises(ValueError, match="cells"):
        _core.region_distance(np.array([1200]), within, 2)


def test_orient_by_area() -> None:
    uv = np.array([[0.0, 0], [1, 0], [0, 1], [2, 0]])
    tris = np.array([[0, 1, 2], [0, 2, 1], [0, 1, 3], [1, 3, 2]])
    np.testing.assert_array_equal(_core.orient_by_area(uv, tris, 1.0),
                                  [[0, 1, 2], [0, 1, 2], [1, 3, 2]])
    np.testing.assert_array_equal(_core.orient_by_area(uv, tris, -1.0),
                                  [[0, 2, 1], [0, 2, 1], [1, 2, 3]])
    with pytest.raises(ValueError, match="sign"):
        _core.orient_by_area(uv, tris, 0.5)
    with pytest.raises(ValueError, match="triangles"):
        _core.orient_by_area(uv, [[0, 1, 4]], 1.0)


def _root(parent: list[int], i: int) -> int:
    """Root of i in a union-find forest."""
    while parent[i] != i:
        i = parent[i]
    return i


def _bowties_reference(faces: np.ndarray, n: int) -> np.ndarray:
    """The definition in numpy: per round, every vertex with several outgoing boundary half-edges
    keeps only its largest fan (faces joined through shared edges at it; ties: first root)."""
    from extreme3d.mesh_topology import nonmanifold_vertices

    f = np.asarray(faces, np.int64)
    for _ in range(10):
        bad = nonmanifold_vertices(f, n)
        if len(bad) == 0:
            break
        drop = np.zeros(len(f), bool)
        for v in bad.tolist():
            inc = np.flatnonzero((f == v).any(1))
            parent = list(range(len(inc)))
            seen: dict[int, int] = {}
            for k, row in enumerate(f[inc].tolist()):
                for u in (x for x in row if x != v):
                    if u in seen:
                        parent[_root(parent, k)] = _root(parent, seen[u])
                    else:
                        seen[u] = k
            labels = np.array([_root(parent, k) for k in range(len(inc))])
            values, sizes = np.unique(labels, return_counts=True)
            drop[inc[labels != values[np.argmax(sizes)]]] = True
        f = f[~drop]
    return f


def test_drop_bowties_matches_its_definition_on_holed_grids() -> None:
    rng = np.random.default_rng(4)
    nx, ny = 25, 20
    idx = np.arange(nx * ny).reshape(ny, nx)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    c, d = idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
    grid = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    for frac in (0.1, 0.3, 0.5):
        holed = grid[rng.uniform(size=len(grid)) > frac]
        want = _bowties_reference(holed, nx * ny)
        np.testing.assert_array_equal(_core.drop_bowties(holed, nx * ny), want)


def test_drop_bowties() -> None:
    # two fans at vertex 0: one of two faces, one of a single face -> the single one goes
    faces = np.array([[0, 3, 4], [0, 1, 2], [0, 2, 5]])
    np.testing.assert_array_equal(_core.drop_bowties(faces, 6), [[0, 1, 2], [0, 2, 5]])
    # equal fans: the first one (in face order) stays
    np.testing.assert_array_equal(_core.drop_bowties([[0, 1, 2], [0, 3, 4]], 5), [[0, 1, 2]])
    # a closed fan (no bow-tie) is kept whole
    fan = np.array([[0, k, k % 6 + 1] for k in range(1, 7)])
    np.testing.assert_array_equal(_core.drop_bowties(fan, 7), fan)
    assert _core.drop_bowties(np.zeros((0, 3), np.int64), 3).shape == (0, 3)
    with pytest.raises(ValueError, match="faces"):
        _core.drop_bowties([[0, 1, 9]], 5)


def test_a_huge_declared_vertex_count_sizes_nothing():
    """num_vertices only bounds the indices: 2^31 - 1 declared with one face gives the same
    answer as 3 (per-vertex buffers are sized by the indices used, not the declared count;
    found by bench/fuzz.py: 30 s and gigabytes per call before)."""
    import resource

    faces = np.array([[0, 1, 2]], np.int32)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for fn in (_core.boundary_half_edges, _core.face_components, _core.drop_bowties):
        assert np.array_equal(fn(faces, 2**31 - 1), fn(faces, 3))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 100
