"""Topology of triangle meshes: edges, boundary loops, components, manifoldness, unused vertices
(numpy and `_core`; used by the clean final mesh, its tests and bench/mesh.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from extreme3d import _core


def edge_keys(faces: np.ndarray, num_vertices: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unique undirected edge keys a*V+b with a<b, their face counts, per-half-edge key index)."""
    f = np.asarray(faces, np.int64).reshape(-1, 3)
    a = f[:, [0, 1, 2]].reshape(-1)
    b = f[:, [1, 2, 0]].reshape(-1)
    keys = np.minimum(a, b) * num_vertices + np.maximum(a, b)
    uniq, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return uniq, counts, inverse


def boundary_half_edges(faces: np.ndarray, num_vertices: int) -> np.ndarray:
    """(B, 2) directed half-edges (a -> b, as in their face) whose edge has exactly one face, in
    half-edge order (`_core.boundary_half_edges`)."""
    f = np.asarray(faces, np.int64).reshape(-1, 3)
    return np.asarray(_core.boundary_half_edges(f, int(num_vertices)), np.int64).reshape(-1, 2)


def boundary_loops(faces: np.ndarray, num_vertices: int) -> list[np.ndarray]:
    """Boundary loops as vertex-index arrays (following the half-edges; a vertex with several
    outgoing boundary half-edges splits loops arbitrarily: `nonmanifold_vertices` counts them)."""
    he = boundary_half_edges(faces, num_vertices)
    if len(he) == 0:
        return []
    nxt: dict[int, list[int]] = {}
    for k, a in enumerate(he[:, 0].tolist()):
        nxt.setdefault(a, []).append(k)
    used = np.zeros(len(he), bool)
    loops = []
    for start in range(len(he)):
        if used[start]:
            continue
        loop, k = [], start
        while not used[k]:
            used[k] = True
            loop.append(int(he[k, 0]))
            cands = [j for j in nxt.get(int(he[k, 1]), []) if not used[j]]
            if not cands:
                break
            k = cands[0]
        loops.append(np.asarray(loop, np.int64))
    return loops


def face_components(faces: np.ndarray, num_vertices: int) -> np.ndarray:
    """(F,) component label of each face (faces sharing a vertex are connected; labels numbered
    by each component's first face, `_core.face_components`)."""
    f = np.asarray(faces, np.int64).reshape(-1, 3)
    return np.asarray(_core.face_components(f, int(num_vertices)), np.int64)


def nonmanifold_vertices(faces: np.ndarray, num_vertices: int) -> np.ndarray:
    """Indices of vertices with more than one outgoing boundary half-edge (bow-ties)."""
    he = boundary_half_edges(faces, num_vertices)
    counts = np.bincount(he[:, 0], minlength=num_vertices) if len(he) else np.zeros(num_vertices)
    return np.flatnonzero(counts > 1)


def inconsistent_edges(faces: np.ndarray, num_vertices: int) -> int:
    """Number of interior edges whose two faces traverse it in the same direction."""
    f = np.asarray(faces, np.int64).reshape(-1, 3)
    a = f[:, [0, 1, 2]].reshape(-1)
    b = f[:, [1, 2, 0]].reshape(-1)
    directed = np.unique(a * num_vertices + b, return_counts=True)[1]
    return int((directed > 1).sum())


@dataclass
class MeshTopology:
    """Counts of a triangle mesh's defects (what bench/mesh.py reports)."""

    vertices: int
    faces: int
    components: int
    boundary_loops: int
    nonmanifold_edges: int
    nonmanifold_vertices: int
    inconsistent_edges: int
    unreferenced: int
    degenerate_faces: int


def mesh_topology(vertices: np.ndarray, faces: np.ndarray) -> MeshTopology:
    """Defect counts of a mesh (components of faces; unreferenced vertices not counted there)."""
    v = np.asarray(vertices)
    f = np.asarray(faces, np.int64).reshape(-1, 3)
    nv = len(v)
    _, counts, _ = edge_keys(f, nv)
    labels = face_components(f, nv)
    used = np.zeros(nv, bool)
    used[f.reshape(-1)] = True
    degenerate = (f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 0] == f[:, 2])
    return MeshTopology(
        vertices=nv,
        faces=len(f),
        components=int(len(np.unique(labels))),
        boundary_loops=len(boundary_loops(f, nv)),
        nonmanifold_edges=int((counts > 2).sum()),
        nonmanifold_vertices=len(nonmanifold_vertices(f, nv)),
        inconsistent_edges=inconsistent_edges(f, nv),
        unreferenced=int((~used).sum()),
        degenerate_faces=int(degenerate.sum()),
    )
