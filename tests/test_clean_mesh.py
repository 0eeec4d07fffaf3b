"""The clean final mesh and the topology counts, on synthetic surfaces with known answers and on
a geometry result of the Surrey model."""

from __future__ import annotations

import numpy as np
import pytest

from extreme3d.clean_mesh import (
    KIND_DENSE,
    KIND_SPARSE,
    build_clean_mesh,
    chart_of,
    fill_small_holes,
    model_chart,
)
from extreme3d.mesh_topology import boundary_half_edges, face_components, mesh_topology


def grid(nx: int, ny: int, x0: float, x1: float, y0: float, y1: float):
    """(xy (N,2), faces (F,3) facing +z, index (ny, nx)) of a regular grid, row-major."""
    x, y = np.meshgrid(np.linspace(x0, x1, nx), np.linspace(y0, y1, ny))
    idx = np.arange(nx * ny).reshape(ny, nx)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    c, d = idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    return np.column_stack([x.ravel(), y.ravel()]), faces, idx


def height(xy: np.ndarray) -> np.ndarray:
    """A gently curved face-like height field (mm)."""
    return -0.004 * xy[:, 0] ** 2 - 0.002 * xy[:, 1] ** 2


class Synthetic:
    """A sparse grid 'model' (4 mm spacing, mirror pairs, an open 'mouth') and a dense detail
    patch 1 mm above it on a 0.5 mm grid, laid out as final_frontal."""

    def __init__(self, step_mm: float = 1.0, dense_box=(-12.0, 24.0, -6.0, 30.0),
                 drop_dense=None, mirror=False):
        xy, faces, idx = grid(21, 26, -40, 40, -50, 50)
        self.nx = 21
        centre = xy[faces].mean(1)
        mouth = (np.abs(centre[:, 0]) < 9) & (np.abs(centre[:, 1] + 30) < 3)
        self.faces = faces[~mouth]
        self.sparse = np.column_stack([xy, height(xy)])
        self.pair = idx[:, ::-1].ravel()
        x0, x1, y0, y1 = dense_box
        dxy, dfaces, _ = grid(int((x1 - x0) / 0.5) + 1, int((y1 - y0) / 0.5) + 1, x0, x1, y0, y1)
        tri, w = self.locate(xy, dxy)
        base = (w[..., None] * self.sparse[tri]).sum(1)
        self.dense = base + np.array([0.0, 0.0, step_mm])
        self.base = base
        self.tri, self.w = tri, w
        V, S = len(xy), len(dxy)
        mirrored = (w[..., None] * self.sparse[self.pair[tri]]).sum(1) + [0.0, 0.0, step_mm]
        self.vertices = np.concatenate([self.sparse, self.dense, mirrored])
        inside = ((centre[:, 0] > x0) & (centre[:, 0] < x1) & (centre[:, 1] > y0)
                  & (centre[:, 1] < y1))
        keep = dfaces
        if drop_dense is not None:
            keep = dfaces[~np.isin(dfaces, drop_dense).any(1)]
        parts = [faces[~mouth & ~inside], keep + V]
        if mirror:
            parts.append(keep[:, [1, 0, 2]] + V + S)
        self.final_faces = np.concatenate(parts)
        self.num_sparse = V

    def locate(self, xy: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sparse triangle and barycentric weights of each point (the grid's own triangles)."""
        fx = np.clip(((pts[:, 0] + 40) / 4).astype(int), 0, 19)
        fy = np.clip(((pts[:, 1] + 50) / 4).astype(int), 0, 24)
        a = fy * 21 + fx
        b, c, d = a + 1, a + 22, a + 21
        tx = (pts[:, 0] - xy[a, 0]) / 4
        ty = (pts[:, 1] - xy[a, 1]) / 4
        upper = tx >= ty  # triangle (a, b, c): weights (1 - tx, tx - ty, ty)
        tri = np.where(upper[:, None], np.stack([a, b, c], 1), np.stack([a, c, d], 1))
        w = np.where(upper[:, None], np.stack([1 - tx, tx - ty, ty], 1),
                     np.stack([1 - ty, tx, ty - tx], 1))
        return tri.astype(np.int32), w.astype(np.float32)

    def build(self, **kw):
        """The clean mesh of this layout."""
        chart = chart_of(self.sparse, self.faces)
        return build_clean_mesh(chart, self.faces, self.pair, self.vertices, self.final_faces,
                                self.num_sparse, self.tri, self.w, **kw)


def test_topology_counts_known_meshes():
    tet = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.0]])
    closed = np.array([[0, 2, 1], [0, 1, 3], [1, 2, 3], [0, 3, 2]])
    t = mesh_topology(tet, closed)
    assert (t.components, t.boundary_loops, t.nonmanifold_edges, t.inconsistent_edges) == (
        1, 0, 0, 0)
    flipped = closed.copy()
    flipped[0] = flipped[0, [1, 0, 2]]
    assert mesh_topology(tet, flipped).inconsistent_edges == 3
    open_one = mesh_topology(np.vstack([tet, [[5, 5, 5]]]), closed[1:])
    assert (open_one.boundary_loops, open_one.unreferenced) == (1, 1)
    fin = np.vstack([closed, [[0, 1, 2]]])  # a third face on edges of the closed surface
    assert mesh_topology(tet, fin).nonmanifold_edges == 3
    bowtie_v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0.0]])
    bowtie = mesh_topology(bowtie_v, np.array([[0, 1, 2], [0, 3, 4]]))
    assert (bowtie.components, bowtie.nonmanifold_vertices) == (1, 1)
    two = mesh_topology(np.vstack([tet, tet + 5]), np.vstack([closed, closed + 4]))
    assert two.components == 2


def _boundary_reference(faces: np.ndarray, n: int) -> np.ndarray:
    """Boundary half-edges by numpy (unique undirected keys counted), in half-edge order."""
    a = faces.reshape(-1)
    b = faces[:, [1, 2, 0]].reshape(-1)
    keys = np.minimum(a, b) * n + np.maximum(a, b)
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    once = counts[inverse] == 1
    return np.stack([a[once], b[once]], 1)


def test_core_edge_topology_matches_numpy():
    rng = np.random.default_rng(3)
    for n, nf in ((6, 8), (40, 120), (500, 900)):
        faces = rng.integers(0, n, (nf, 3))
        faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2])
                      & (faces[:, 0] != faces[:, 2])]
        np.testing.assert_array_equal(boundary_half_edges(faces, n), _boundary_reference(faces, n))
    _, gf, _ = grid(30, 20, 0, 1, 0, 1)
    he = boundary_half_edges(gf, 600)
    assert len(he) == 2 * (29 + 19)  # the grid's outer border
    labels = face_components(np.vstack([gf, gf + 600, gf]), 1200)
    assert set(labels[: len(gf)]) == {0} and set(labels[len(gf):2 * len(gf)]) == {1}
    assert set(labels[2 * len(gf):]) == {0}
    assert len(face_components(np.zeros((0, 3), np.int64), 5)) == 0
    with pytest.raises(ValueError, match="faces"):
        boundary_half_edges(np.array([[0, 1, 7]]), 5)


def test_overlapping_patches_become_one_manifold_mesh():
    syn = Synthetic()
    orig = mesh_topology(syn.vertices, syn.final_faces)
    assert orig.components == 2 and orig.unreferenced > 0  # the original's patchwork
    clean = syn.build()
    t = mesh_topology(clean.mesh.vertices, clean.mesh.faces)
    assert (t.components, t.nonmanifold_edges, t.nonmanifold_vertices, t.unreferenced) == (
        1, 0, 0, 0)
    assert t.boundary_loops == 2  # outer border and mouth
    assert t.inconsistent_edges == 0 and t.degenerate_faces == 0
    # oriented like the model's faces (+z)
    v = clean.mesh.vertices.astype(np.float64)
    f = clean.mesh.faces
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    assert (n[:, 2] > 0).all()


def test_detail_blends_into_sparse_surface_without_step():
    syn = Synthetic(step_mm=1.0)
    clean = syn.build(band_mm=3.0)
    dense = clean.kind == KIND_DENSE
    src = clean.source[dense] - syn.num_sparse
    z = clean.mesh.vertices[dense, 2].astype(np.float64)
    lift = z - syn.base[src, 2]
    deep = clean.blend[dense] >= 1.0
    assert deep.sum() > 1000
    # beyond the band: untouched (the original's positions)
    moved = np.abs(clean.mesh.vertices[dense][deep] - syn.dense[src[deep]]).max()
    assert moved <= 0.01
    # at the seam (dense vertices sharing an edge with a sparse one): on the sparse surface
    f = clean.mesh.faces
    kind = clean.kind[f]
    seam = np.unique(f[(kind == KIND_SPARSE).any(1) & (kind == KIND_DENSE).any(1)])
    seam = seam[clean.kind[seam] == KIND_DENSE]
    assert len(seam) > 20
    assert clean.offset[seam].max() < 0.05
    # monotone ramp: the lift grows with the blend weight
    assert np.corrcoef(clean.blend[dense], lift)[0, 1] > 0.99


def test_gaps_in_the_detail_are_closed():
    syn = Synthetic(drop_dense=np.arange(3000, 3006))  # a few missing dense pixels
    clean = syn.build()
    t = mesh_topology(clean.mesh.vertices, clean.mesh.faces)
    assert (t.components, t.boundary_loops, t.nonmanifold_edges) == (1, 2, 0)


def test_mirrored_detail_overlap_keeps_dense_first():
    syn = Synthetic(dense_box=(-12.0, 12.0, -6.0, 30.0), mirror=True)  # mirror lands on dense
    clean = syn.build()
    t = mesh_topology(clean.mesh.vertices, clean.mesh.faces)
    assert (t.components, t.boundary_loops, t.nonmanifold_edges, t.unreferenced) == (1, 2, 0, 0)
    assert (clean.kind == KIND_DENSE).sum() > 2000


def test_small_hole_is_filled():
    xy, faces, _ = grid(6, 6, 0, 5, 0, 5)
    holed = faces[np.arange(len(faces)) != 12]
    v = np.column_stack([xy, np.zeros(len(xy))])
    assert mesh_topology(v, holed).boundary_loops == 2
    outer = np.zeros(len(xy), bool)
    outer[boundary_half_edges(faces, len(xy)).reshape(-1)] = True
    filled = fill_small_holes(holed, xy, outer, sign=1.0)
    t = mesh_topology(v, filled)
    assert (t.boundary_loops, t.nonmanifold_edges, t.inconsistent_edges) == (1, 0, 0)
    assert len(filled) == len(faces)


def test_wrong_layout_is_refused():
    syn = Synthetic()
    chart = chart_of(syn.sparse, syn.faces)
    with pytest.raises(ValueError, match="expected"):
        build_clean_mesh(chart, syn.faces, syn.pair, syn.vertices[:-1], syn.final_faces,
                         syn.num_sparse, syn.tri, syn.w)


def test_clean_mesh_of_a_surrey_result(sfm_model):
    from test_geometry import bump_pattern

    from extreme3d.geometry import run_geometry

    rng = np.random.default_rng(3)
    alpha = (rng.standard_normal(sfm_model.num_shape) * 0.6).astype(np.float32)
    expr = np.zeros(sfm_model.num_expr, np.float32)
    mask = np.full((512, 512), 255, np.uint8)
    mask[300:380, 300:420] = 0  # an occluder on one cheek
    res = run_geometry(sfm_model, alpha, expr, np.array([0.05, -0.3, 0.02]),
                       np.array([0.0, -3.0, -1100.0]), bump_pattern(), mask)
    final = res.meshes["final_frontal"]
    chart = model_chart(sfm_model)
    assert (chart.sign * np.sign(_areas(chart.uv, sfm_model.faces)) > 0).all()
    clean = build_clean_mesh(chart, sfm_model.faces, sfm_model.pair, final.vertices, final.faces,
                             sfm_model.num_vertices, res.registration["tri"],
                             res.registration["w"])
    t = mesh_topology(clean.mesh.vertices, clean.mesh.faces)
    assert t.components == 1 and t.boundary_loops <= 2
    assert (t.nonmanifold_edges, t.nonmanifold_vertices, t.unreferenced) == (0, 0, 0)
    assert t.inconsistent_edges == 0
    deep = (clean.kind != KIND_SPARSE) & (clean.blend >= 1)
    assert deep.sum() > 0.3 * len(clean.kind)
    moved = np.linalg.norm(clean.mesh.vertices[deep] - final.vertices[clean.source[deep]], axis=1)
    assert moved.max() <= 0.01
    # colours / uv of the original layout carry over through `source`
    assert clean.source.max() < final.num_vertices


def _areas(uv: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Twice the signed chart areas."""
    a = uv[faces[:, 1]] - uv[faces[:, 0]]
    b = uv[faces[:, 2]] - uv[faces[:, 0]]
    return a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
