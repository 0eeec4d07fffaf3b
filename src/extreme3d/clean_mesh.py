"""The clean final mesh: the dense detail and the completed sparse surface joined into one
connected, manifold, consistently oriented triangle mesh without unused vertices.

Everything is laid out in a fixed 2D chart of the model (`FaceChart`: a cylindrical map of the
mean shape, in mm, relaxed where it folds). A dense vertex sits in the chart where its
registration weights put it (the weights of its sparse triangle applied to the chart), a
mirrored one at the same weights on the partners. The detail vertices the original's final mesh
uses, and the sparse vertices outside the detail regions, are triangulated together (Delaunay
in the chart), triangles outside the model's faces (the outer border, the open mouth) are
dropped, bow-ties and islands removed and small holes closed. The detail is blended into the
sparse surface over a band: a detail vertex at chart distance d from its region's edge keeps
``base + s(d) (p - base)`` with ``base`` the completed sparse surface at its chart position and
``s`` a smoothstep from 0 at the edge to 1 at ``band_mm`` inside (so no step remains at the
seam, and vertices deeper than the band keep their position exactly).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.linalg import spsolve

from extreme3d import _core
from extreme3d.mesh import Mesh
from extreme3d.mesh_topology import boundary_half_edges, boundary_loops, face_components

if TYPE_CHECKING:
    from extreme3d.geometry import GeometryResult
    from extreme3d.morphable import MorphableModel

#: Chart raster cell (mm): point location and the detail regions' distance maps.
CELL_MM = 0.5
#: Detail points closer than this many raster cells to the model's border are left out.
BORDER_CELLS = 3
#: Detail vertices farther than this (mm) from the sparse surface are outliers and left out.
MAX_OFFSET_MM = 6.0
#: Width (mm) over which the detail is blended into the sparse surface.
BAND_MM = 3.0
#: Opening (mm) of the model's inner boundary loops (the mouth, a slit in the mean shape).
SLIT_MM = 2.0
#: Boundary loops up to this many edges that are not the model's own border are filled.
MAX_HOLE_EDGES = 64

KIND_SPARSE, KIND_DENSE, KIND_MIRRORED = 0, 1, 2


@dataclass(frozen=True, eq=False)
class FaceChart:
    """A 2D chart of a model's mesh (mm) and a raster of its faces for point location."""

    uv: np.ndarray  # (V, 2) float64 chart positions of the model vertices
    origin: np.ndarray  # (2,) chart position of raster cell (0, 0)'s corner
    face_map: np.ndarray  # (H, W) int32 face whose chart triangle holds the cell centre, -1 none
    border: np.ndarray  # (V,) bool: vertex on a boundary edge of the model's faces
    sign: float  # +1 / -1: orientation of the model's faces in the chart
    edge_cells: np.ndarray  # (H, W) bool: cells a boundary edge of the model passes through

    def cells(self, uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) raster cells of chart points, clipped to the raster."""
        c = np.floor((uv - self.origin) / CELL_MM).astype(np.int64)
        h, w = self.face_map.shape
        return np.clip(c[:, 1], 0, h - 1), np.clip(c[:, 0], 0, w - 1)


def _signed_areas(uv: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Twice the signed chart area of each face."""
    a = uv[faces[:, 1]] - uv[faces[:, 0]]
    b = uv[faces[:, 2]] - uv[faces[:, 0]]
    return a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]


def _relax_folds(uv: np.ndarray, faces: np.ndarray, sign: float, fixed_border: np.ndarray,
                 rounds: int = 8) -> np.ndarray:
    """Chart positions with the folded faces' neighbourhoods replaced by harmonic (uniform)
    interpolation of the surrounding positions, growing the region until no face folds; the
    border vertices (fixed_border) keep their positions."""
    n = len(uv)
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    adj = sparse.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    adj = ((adj + adj.T) > 0).astype(np.float64)
    out = uv.copy()
    free = np.zeros(n, bool)
    for _ in range(rounds):
        bad = sign * _signed_areas(out, faces) <= 0
        if not bad.any():
            break
        free[faces[bad].reshape(-1)] = True
        free |= np.asarray(adj[free].sum(0)).reshape(-1) > 0  # one ring more each round
        free &= ~fixed_border
        idx = np.flatnonzero(free)
        fixed = np.flatnonzero(~free)
        deg = np.asarray(adj.sum(1)).reshape(-1)
        lap = sparse.diags(deg[idx]) - adj[idx][:, idx]
        rhs = adj[idx][:, fixed] @ out[fixed]
        out[idx] = np.column_stack([spsolve(lap.tocsc(), rhs[:, k]) for k in range(2)])
    return out


def _rasterise_faces(uv: np.ndarray, faces: np.ndarray, origin: np.ndarray, shape: tuple[int, int]
                     ) -> np.ndarray:
    """(H, W) int32 raster: index of the chart triangle holding each cell centre, -1 none."""
    out = np.full(shape, -1, np.int32)
    tri = uv[faces]  # (F, 3, 2)
    lo = np.floor((tri.min(1) - origin) / CELL_MM).astype(np.int64)
    hi = np.floor((tri.max(1) - origin) / CELL_MM).astype(np.int64)
    nx, ny = hi[:, 0] - lo[:, 0] + 1, hi[:, 1] - lo[:, 1] + 1
    count = nx * ny
    fid = np.repeat(np.arange(len(faces)), count)
    off = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    cx = lo[fid, 0] + off % nx[fid]
    cy = lo[fid, 1] + off // nx[fid]
    centre = origin + (np.column_stack([cx, cy]) + 0.5) * CELL_MM
    bary = _barycentric(centre, tri[fid])
    inside = (bary >= -1e-9).all(1)
    out[cy[inside], cx[inside]] = fid[inside]
    return out


def _barycentric(p: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """(N, 3) barycentric coordinates of points p (N, 2) in triangles tri (N, 3, 2)."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    v0, v1, v2 = b - a, c - a, p - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    den = np.where(den == 0, 1e-30, den)
    s = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
    t = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
    return np.column_stack([1 - s - t, s, t])


def _open_slits(uv: np.ndarray, faces: np.ndarray, width: float = SLIT_MM) -> np.ndarray:
    """Chart positions with every inner boundary loop (the mouth) opened: its two chains between
    the leftmost and rightmost vertex move apart by up to `width` / 2 each (a sine profile, 0 at
    the corners), the upper chain (the side its faces lie on) up, the lower one down."""
    out = uv.copy()
    loops = boundary_loops(faces, len(uv))
    if len(loops) < 2:
        return out
    centre = uv[faces].mean(1)
    for loop in sorted(loops, key=len)[:-1]:  # all but the outer border
        lo, hi = int(np.argmin(uv[loop, 0])), int(np.argmax(uv[loop, 0]))
        a, b = sorted((lo, hi))
        chains = [loop[a:b + 1], np.concatenate([loop[b:], loop[:a + 1]])]
        side = []
        for chain in chains:
            touching = np.isin(faces, chain[1:-1]).any(1)
            side.append(centre[touching, 1].mean() if touching.any() else 0.0)
        for chain, up in zip(chains, (side[0] > side[1], side[1] >= side[0]), strict=True):
            t = np.linspace(0.0, 1.0, len(chain))
            out[chain, 1] += (1 if up else -1) * 0.5 * width * np.sin(np.pi * t)
    return out


def chart_of(vertices: np.ndarray, faces: np.ndarray) -> FaceChart:
    """The chart of a face mesh in model coordinates (x right, y up, z towards the viewer):
    (R atan2(x, z - z_c), y) around a vertical axis half the face width behind the front."""
    v = np.asarray(vertices, np.float64).reshape(-1, 3)
    f = np.asarray(faces, np.int64).reshape(-1, 3)
    radius = 0.5 * float(np.ptp(v[:, 0]))
    zc = float(v[:, 2].max()) - radius
    uv = np.column_stack([radius * np.arctan2(v[:, 0], v[:, 2] - zc), v[:, 1]])
    areas = _signed_areas(uv, f)
    sign = 1.0 if (areas > 0).sum() >= (areas < 0).sum() else -1.0
    border = np.zeros(len(v), bool)
    border[boundary_half_edges(f, len(v)).reshape(-1)] = True
    uv = _relax_folds(_open_slits(uv, f), f, sign, border)
    origin = uv.min(0) - 2 * CELL_MM
    size = np.ceil((uv.max(0) + 2 * CELL_MM - origin) / CELL_MM).astype(int)
    face_map = _rasterise_faces(uv, f, origin, (int(size[1]), int(size[0])))
    edges = boundary_half_edges(f, len(v))
    t = np.linspace(0.0, 1.0, 2 + int(np.ceil(
        np.linalg.norm(uv[edges[:, 1]] - uv[edges[:, 0]], axis=1).max() / (0.25 * CELL_MM))))
    pts = (uv[edges[:, 0], None] * (1 - t)[None, :, None]
           + uv[edges[:, 1], None] * t[None, :, None]).reshape(-1, 2)
    c = np.floor((pts - origin) / CELL_MM).astype(np.int64)
    edge_cells = np.zeros(face_map.shape, bool)
    edge_cells[c[:, 1], c[:, 0]] = True
    return FaceChart(uv=uv, origin=origin, face_map=face_map, border=border, sign=sign,
                     edge_cells=edge_cells)


@functools.lru_cache(maxsize=4)
def model_chart(model: MorphableModel) -> FaceChart:
    """The chart of a model's mean shape (cached per model object)."""
    return chart_of(np.asarray(model.shape(), np.float64), np.asarray(model.faces))


@functools.lru_cache(maxsize=4)
def _chart_raster(chart: FaceChart, faces_key: bytes) -> _core.ChartRaster:
    """The `_core.ChartRaster` of a chart and the model faces (int64 bytes); cached."""
    faces = np.frombuffer(faces_key, np.int64).reshape(-1, 3)
    return _core.ChartRaster(chart.uv, faces, chart.face_map, chart.edge_cells, chart.origin,
                             CELL_MM)


def chart_raster(chart: FaceChart, faces: np.ndarray) -> _core.ChartRaster:
    """The chart's point-location raster in `_core` (cached per chart and faces)."""
    return _chart_raster(chart, np.ascontiguousarray(faces, np.int64).reshape(-1, 3).tobytes())


def inside_faces(chart: FaceChart, faces: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """(N,) bool: chart points inside the model's faces (the raster, and near its edge an
    exact test against the faces of the 3x3 neighbouring cells; `_core.ChartRaster.inside`)."""
    return chart_raster(chart, faces).inside(np.asarray(uv, np.float64).reshape(-1, 2))


@dataclass
class CleanMesh:
    """The clean mesh and where each of its vertices comes from."""

    mesh: Mesh
    source: np.ndarray  # (N,) int64 index of the vertex in final_frontal's layout
    kind: np.ndarray  # (N,) int8: 0 sparse, 1 dense, 2 mirrored dense
    blend: np.ndarray  # (N,) float32: detail weight s (1 = untouched, 0 = on the sparse surface)
    offset: np.ndarray  # (N,) float32: distance (mm) of the final vertex from the sparse surface


def smoothstep(x: np.ndarray) -> np.ndarray:
    """3x^2 - 2x^3 on [0, 1] (clipped)."""
    t = np.clip(x, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def detail_chart_positions(chart: FaceChart, tri: np.ndarray, w: np.ndarray, pair: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray]:
    """(dense (S,2), mirrored (S,2)) chart positions of registered dense vertices: their weights on
    the chart positions of their sparse triangle, and of the partners of its corners."""
    t = np.asarray(tri, np.int64).reshape(-1, 3)
    ww = np.where(t >= 0, np.asarray(w, np.float64).reshape(-1, 3), 0.0)  # unused corners: any w
    dense = _core.weighted_positions(chart.uv, t, ww)
    mirrored = _core.weighted_positions(chart.uv[np.asarray(pair, np.int64)], t, ww)
    return dense, mirrored


def surface_at(chart: FaceChart, faces: np.ndarray, sparse_vertices: np.ndarray, uv: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """(points (N,3), face (N,) or -1) of the sparse surface at chart positions: the barycentric
    interpolation in the model face whose chart triangle holds the point's raster cell."""
    pts, face, _ = chart_raster(chart, faces).surface(
        np.asarray(sparse_vertices, np.float64).reshape(-1, 3), np.asarray(uv, np.float64))
    return pts, face.astype(np.int64)


def _region_distance(cells: np.ndarray, closing: int, inside: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(mask, distance map mm) of the raster region covered by the flat raster cells (closed over
    `closing` cells, kept within the `inside` cells): the distance of each cell to the nearest
    cell outside the region (`_core.region_distance`)."""
    mask, dist = _core.region_distance(cells, inside, closing)
    return mask, dist * CELL_MM


def _fill_loop(loop: np.ndarray, uv: np.ndarray, sign: float) -> list[tuple[int, int, int]]:
    """Ear-clipping triangulation (in the chart) of a hole bounded by a boundary loop; the
    triangles are oriented like the chart's faces (sign)."""
    idx = list(loop[::-1])  # the hole runs opposite to the surface around it
    out = []
    guard = 0
    while len(idx) > 3 and guard < 10 * len(loop):
        guard += 1
        n = len(idx)
        best = None
        for k in range(n):
            a, b, c = idx[k - 1], idx[k], idx[(k + 1) % n]
            area = sign * _signed_areas(uv, np.array([[a, b, c]]))[0]
            if area <= 0:
                continue
            tri = uv[[a, b, c]]
            others = [j for j in idx if j not in (a, b, c)]
            if others:
                bary = _barycentric(uv[others], np.repeat(tri[None], len(others), 0))
                if (bary > 0).all(1).any():
                    continue
            best = k
            break
        if best is None:
            best = 0  # degenerate polygon: clip anyway
        n = len(idx)
        out.append((idx[best - 1], idx[best], idx[(best + 1) % n]))
        del idx[best]
    if len(idx) == 3:
        out.append((idx[0], idx[1], idx[2]))
    return out


def fill_small_holes(faces: np.ndarray, uv: np.ndarray, border: np.ndarray, sign: float,
                     max_edges: int = MAX_HOLE_EDGES) -> np.ndarray:
    """Faces plus triangles closing each boundary loop of at most max_edges edges that is not
    mostly made of `border` vertices (the model's own outer border and mouth), triangulated in
    the chart uv and oriented by sign; bow-ties the closing might create are removed."""
    f = np.asarray(faces, np.int64).reshape(-1, 3)
    added = []
    for loop in boundary_loops(f, len(uv)):
        if border[loop].mean() >= 0.5 or len(loop) > max_edges:
            continue
        added.extend(_fill_loop(loop, uv, sign))
    if not added:
        return f
    return _drop_bowties(np.concatenate([f, np.asarray(added, np.int64)]), len(uv))


def _drop_bowties(faces: np.ndarray, n: int) -> np.ndarray:
    """Faces without bow-ties: at a vertex with several boundary fans, the faces of all but the
    largest fan are removed (repeated until none is left; `_core.drop_bowties`)."""
    return np.asarray(_core.drop_bowties(np.asarray(faces, np.int64).reshape(-1, 3), n), np.int64)


@functools.lru_cache(maxsize=4)
def _inner_cells(chart: FaceChart) -> np.ndarray:
    """(H, W) bool raster cells inside the model's faces at least BORDER_CELLS cells from its
    border (outer border and mouth); cached per chart."""
    inner = ndimage.binary_erosion((chart.face_map >= 0) & ~chart.edge_cells,
                                   iterations=BORDER_CELLS, border_value=0)
    inner.flags.writeable = False
    return inner


def build_clean_mesh(
    chart: FaceChart,
    faces: np.ndarray,
    pair: np.ndarray,
    final_vertices: np.ndarray,
    final_faces: np.ndarray,
    num_sparse: int,
    reg_tri: np.ndarray,
    reg_w: np.ndarray,
    *,
    band_mm: float = BAND_MM,
) -> CleanMesh:
    """The clean mesh of a final_frontal ([V sparse, S dense, S mirrored] vertices) from the
    model faces and pairs, the chart and the dense registration (tri (S,3), w (S,3))."""
    f_model = np.asarray(faces, np.int64).reshape(-1, 3)
    verts = np.asarray(final_vertices, np.float64).reshape(-1, 3)
    nv = int(num_sparse)
    ns = len(reg_tri)
    if len(verts) != nv + 2 * ns:
        raise ValueError(f"final mesh has {len(verts)} vertices, expected {nv} + 2 x {ns}")
    xs = verts[:nv]
    raster = chart_raster(chart, f_model)
    shape = chart.face_map.shape
    used = np.zeros(len(verts), bool)
    used[np.asarray(final_faces).reshape(-1)] = True
    uv_d, uv_m = detail_chart_positions(chart, reg_tri, reg_w, pair)
    base_d, face_d, cell_d = raster.surface(xs, uv_d)
    base_m, face_m, cell_m = raster.surface(xs, uv_m)
    # detail points stay clear of the model's border (outer border, mouth): it is kept as is
    inner = _inner_cells(chart)
    inner_flat = inner.reshape(-1)
    # and within MAX_OFFSET_MM of the sparse surface (silhouette pixels that saw another part)
    def usable(cell, p, base, face, used_p):
        near = np.linalg.norm(p - base, axis=1) <= MAX_OFFSET_MM  # False for non-finite p
        return used_p & (face >= 0) & inner_flat[cell] & near

    keep_d = usable(cell_d, verts[nv:nv + ns], base_d, face_d, used[nv:nv + ns])
    keep_m = usable(cell_m, verts[nv + ns:], base_m, face_m, used[nv + ns:])

    # detail regions in the chart: dense first, mirrored where no dense point is near
    mask_d, dist_d = _region_distance(cell_d[keep_d], 2, inner)
    near_d = _core.binary_dilation(mask_d, 1).reshape(-1)
    keep_m &= ~near_d[cell_m]
    mask_m, dist_m = _region_distance(cell_m[keep_m], 2, inner)
    covered = _core.binary_dilation(mask_d | mask_m, 2).reshape(-1)
    r, c = chart.cells(chart.uv[:nv])
    keep_s = ~covered[r * shape[1] + c] | chart.border

    def blended(cell, p, base, dist):
        s = smoothstep((dist.reshape(-1)[cell] - CELL_MM) / band_mm)
        return base + s[:, None] * (p - base), s

    pd, sd = blended(cell_d[keep_d], verts[nv:nv + ns][keep_d], base_d[keep_d], dist_d)
    pm, sm = blended(cell_m[keep_m], verts[nv + ns:][keep_m], base_m[keep_m], dist_m)
    idx_s = np.flatnonzero(keep_s)
    idx_d = np.flatnonzero(keep_d)
    idx_m = np.flatnonzero(keep_m)
    pos = np.concatenate([xs[idx_s], pd, pm])
    uv = np.concatenate([chart.uv[idx_s], uv_d[idx_d], uv_m[idx_m]])
    source = np.concatenate([idx_s, nv + idx_d, nv + ns + idx_m])
    kind = np.concatenate([np.full(len(idx_s), KIND_SPARSE), np.full(len(idx_d), KIND_DENSE),
                           np.full(len(idx_m), KIND_MIRRORED)]).astype(np.int8)
    blend = np.concatenate([np.zeros(len(idx_s)), sd, sm]).astype(np.float32)
    offset = np.concatenate([np.zeros(len(idx_s)),
                             np.linalg.norm(pd - base_d[keep_d], axis=1),
                             np.linalg.norm(pm - base_m[keep_m], axis=1)]).astype(np.float32)
    border = np.concatenate([chart.border[idx_s], np.zeros(len(idx_d) + len(idx_m), bool)])
    n = len(pos)

    # Delaunay triangulation in the chart (positions rounded to float32, so that points closer
    # than ~1e-5 mm merge), oriented like the model's faces, trimmed to the model's faces
    snapped = (uv - chart.origin).astype(np.float32).astype(np.float64)
    tris = _core.orient_by_area(uv, _core.delaunay_2d(snapped), chart.sign)
    tris = _core.drop_bowties(tris[raster.triangles_inside(uv, tris)], n)

    # one component
    labels = face_components(tris, n)
    if len(labels):
        tris = tris[labels == np.argmax(np.bincount(labels))]

    # close holes that are not the model's own border (outer border, open mouth)
    tris = fill_small_holes(tris, uv, border, chart.sign)

    # compact: only referenced vertices
    ref = np.zeros(n, bool)
    ref[tris.reshape(-1)] = True
    remap = np.cumsum(ref) - 1
    mesh = Mesh(vertices=pos[ref], faces=remap[tris])
    return CleanMesh(mesh=mesh, source=source[ref], kind=kind[ref], blend=blend[ref],
                     offset=offset[ref])


def clean_final_mesh(model: MorphableModel, geometry: GeometryResult, *,
                     band_mm: float = BAND_MM) -> CleanMesh:
    """The clean mesh of a geometry result with soft symmetry (final_frontal + registration)."""
    if geometry.registration is None or "final_frontal" not in geometry.meshes:
        raise ValueError("the clean mesh needs final_frontal and the dense registration "
                         "(soft symmetry on)")
    final = geometry.meshes["final_frontal"]
    return build_clean_mesh(model_chart(model), model.faces, model.pair, final.vertices,
                            final.faces, model.num_vertices, geometry.registration["tri"],
                            geometry.registration["w"], band_mm=band_mm)


def carry_over(mesh: Mesh, vertices: np.ndarray, faces: np.ndarray, source: np.ndarray) -> Mesh:
    """A copy of `mesh` (same class: a TexturedMesh keeps its texture image) with new vertices
    and faces, its per-vertex colours and uv taken from the vertices `source` of the old one."""
    changes: dict = {"vertices": vertices, "faces": faces}
    if mesh.colors is not None:
        changes["colors"] = mesh.colors[source]
    uv = getattr(mesh, "uv", None)
    if uv is not None:
        changes["uv"] = np.asarray(uv)[source]
    return dataclasses.replace(mesh, **changes)
