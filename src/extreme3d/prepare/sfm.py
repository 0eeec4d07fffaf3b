"""Convert the open Surrey Face Model (eos v1.5.0 files) into the BaselFaceModel_mod.h5 layout.

How each dataset is derived (also in docs/models.md):

- Orientation: the SFM, like the trimmed BFM, is in millimetres with y up, z towards the viewer
  (nose tip at z = +3.4, the face behind it) and x towards the subject's left (the subject's
  right eye and iBUG contour 1-8 have x < 0, as in the BFM). No axis is flipped. The SFM mean is
  centred near x = 0, the BFM's origin differs (its tx = 0.231 shift, a head-centred origin):
  offsets are irrelevant since every fit estimates a translation and all outputs are either in
  model coordinates (frontal) or posed by that fit.
- Shape: shapeMU = the PCA mean (mm), shapePC = the orthonormal PCA basis (3V x 63),
  shapeEV = sqrt(eigenvalues), i.e. standard deviations in mm, so that
  S = shapeMU + shapePC (alpha * shapeEV) is eos's `draw_sample(alpha)` (alpha in std units),
  exactly how the original evaluates the BFM.
- Expression: the 6 blendshapes (anger, disgust, fear, happiness, sadness, surprise) become the
  columns of expPC (their full displacement, mm), expEV = 1 and expMU = 0: coefficient 1.0 is
  the sculpted full expression (a strong, plausible expression; surprise moves vertices up to
  32 mm), within the original's clamp [-3, 3] and costing only 1/14.5 in its prior e^2/(0.5*29).
- Faces: the model's triangle list (counter-clockwise seen from the front, normals towards +z).
  faces_fill additionally closes every hole except the outer border (for the SFM: the mouth
  slit between the lips, 48 border vertices) by zipping the hole's two border chains (split at
  the extreme points along the hole's main axis), oriented like the surrounding surface.
- Texture: the SFM has no colour model, so texMU/texPC/texEV are omitted; the loader returns
  None for them and consumers use grey (the oracle pads texMU = 128, as documented there).
- Landmarks: see `derive_landmarks`; pair: see `derive_pairs`.
"""

from __future__ import annotations

import json
import struct
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from extreme3d import Extreme3DError
from extreme3d.prepare.layout import NUM_LANDMARKS, column, write_model_h5

SHAPE_FILE = "sfm_shape_3448.bin"
BLENDSHAPES_FILE = "expression_blendshapes_3448.bin"
MAPPING_FILE = "ibug_to_sfm.txt"
CONTOURS_FILE = "sfm_model_contours.json"
#: Files the converter reads from the Surrey model folder.
CONVERTER_FILES = (SHAPE_FILE, BLENDSHAPES_FILE, MAPPING_FILE, CONTOURS_FILE)

#: Yaw (rad) at which the far-side silhouette gives the 'inner' contour landmarks. The original
#: uses its inner list for 0 < |yaw| < pi/9 on the far side; pi/18 is the middle of that range
#: and fitted the paper's landmarks best (docs/models.md: 5, 10, 15, 20 degrees compared).
INNER_YAW = np.pi / 18
#: Half width (mm) of the band along the contour in which the rotated silhouette is searched.
SILHOUETTE_BAND = 4.0

#: Mean frontal iBUG-68 shape in image coordinates (x right, y down), origin at the middle of the
#: two eye centres, unit = distance between the eye centres. Derived once by us from the 23 most
#: frontal of the 46 landmark files of the paper data (similarity-normalised on the eyes,
#: averaged, symmetrised with its mirror image); used only to place landmarks the SFM mapping
#: does not define (contour 1-17, inner mouth corners 61 and 65).
IBUG_TEMPLATE = np.array(
    [
        [-1.1264, 0.0216], [-1.1153, 0.3251], [-1.0807, 0.6212], [-1.0196, 0.9183],
        [-0.9125, 1.1991], [-0.7450, 1.4475], [-0.5268, 1.6508], [-0.2802, 1.8087],
        [0.0000, 1.8537], [0.2802, 1.8087], [0.5268, 1.6508], [0.7450, 1.4475],
        [0.9125, 1.1991], [1.0196, 0.9183], [1.0807, 0.6212], [1.1153, 0.3251],
        [1.1264, 0.0216], [-0.9286, -0.1634], [-0.7893, -0.3065], [-0.5798, -0.3535],
        [-0.3618, -0.3243], [-0.1603, -0.2466], [0.1603, -0.2466], [0.3618, -0.3243],
        [0.5798, -0.3535], [0.7893, -0.3065], [0.9286, -0.1634], [0.0000, -0.0431],
        [0.0000, 0.1540], [0.0000, 0.3484], [0.0000, 0.5509], [-0.2376, 0.6797],
        [-0.1249, 0.7239], [0.0000, 0.7608], [0.1249, 0.7239], [0.2376, 0.6797],
        [-0.6891, 0.0030], [-0.5691, -0.0612], [-0.4306, -0.0612], [-0.3002, 0.0225],
        [-0.4353, 0.0478], [-0.5757, 0.0491], [0.3002, 0.0225], [0.4306, -0.0612],
        [0.5691, -0.0612], [0.6891, 0.0030], [0.5757, 0.0491], [0.4353, 0.0478],
        [-0.4525, 1.0518], [-0.2828, 0.9910], [-0.1185, 0.9613], [0.0000, 0.9887],
        [0.1185, 0.9613], [0.2828, 0.9910], [0.4525, 1.0518], [0.2884, 1.1994],
        [0.1250, 1.2700], [0.0000, 1.2826], [-0.1250, 1.2700], [-0.2884, 1.1994],
        [-0.3857, 1.0585], [-0.1188, 1.0456], [0.0000, 1.0595], [0.1188, 1.0456],
        [0.3857, 1.0585], [0.1216, 1.1339], [0.0000, 1.1503], [-0.1216, 1.1339],
    ]
)
#: 0-based iBUG indices of the contour of the subject's right (1-8) and left (10-17) side.
RIGHT_CONTOUR_IDS = tuple(range(0, 8))
LEFT_CONTOUR_IDS = tuple(range(9, 17))
CHIN_ID = 8
INNER_LIP_IDS = tuple(range(60, 68))


@dataclass(frozen=True)
class SurreyModel:
    """The Surrey model as read from the eos files (0-based indices, mm)."""

    mean: np.ndarray  # (V, 3)
    basis: np.ndarray  # (3V, K) orthonormal
    eigenvalues: np.ndarray  # (K,) variances (mm^2)
    blendshapes: np.ndarray  # (3V, E) full displacement of each expression (mm)
    blendshape_names: tuple[str, ...]
    triangles: np.ndarray  # (F, 3) 0-based
    mapping: dict[int, int]  # 0-based iBUG index -> 0-based vertex
    right_contour: tuple[int, ...]  # vertices of the jaw line, subject's right side (x < 0)
    left_contour: tuple[int, ...]


def _require(src: Path, name: str) -> Path:
    """The path of a Surrey model file, or a one-line error saying how to get it."""
    path = src / name
    if not path.is_file():
        raise Extreme3DError(
            f"{path}: Surrey model file not found (get the files with `extreme3d fetch-models sfm`)"
        )
    return path


def read_mapping(path: Path) -> dict[int, int]:
    """The iBUG-68 -> SFM vertex mapping of ibug_to_sfm.txt (TOML), both 0-based."""
    try:
        table = tomllib.loads(path.read_text())["landmark_mappings"]
        mapping = {int(k) - 1: int(v) for k, v in table.items()}
    except (tomllib.TOMLDecodeError, KeyError, ValueError) as exc:
        raise Extreme3DError(f"{path}: cannot read the landmark mapping ({exc})") from exc
    if any(not 0 <= k < NUM_LANDMARKS for k in mapping):
        raise Extreme3DError(f"{path}: landmark numbers must be 1..{NUM_LANDMARKS}")
    return mapping


class _CerealReader:
    """Minimal reader of cereal's little-endian binary archives as eos writes them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data = path.read_bytes()
        self.pos = 0

    def _take(self, n: int) -> bytes:
        """The next n bytes; an error when the file ends first."""
        if n < 0 or self.pos + n > len(self.data):
            raise Extreme3DError(f"{self.path}: truncated or not an eos model file")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def scalar(self, fmt: str) -> int:
        """One little-endian integer (struct format letter: I, i or Q)."""
        size = struct.calcsize("<" + fmt)
        return struct.unpack("<" + fmt, self._take(size))[0]

    def matrix(self) -> np.ndarray:
        """An Eigen float matrix: int32 rows, int32 cols, column-major float32 data."""
        rows, cols = self.scalar("i"), self.scalar("i")
        if rows < 0 or cols < 0:
            raise Extreme3DError(f"{self.path}: not an eos model file (matrix {rows} x {cols})")
        flat = np.frombuffer(self._take(4 * rows * cols), dtype="<f4")
        return flat.reshape(cols, rows).T.astype(np.float64)

    def string(self) -> str:
        """A std::string: uint64 size, then the bytes."""
        return self._take(self.scalar("Q")).decode("utf-8", errors="replace")


def read_shape_model(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(mean (3V,), orthonormal basis (3V, K), eigenvalues (K,), triangles (F, 3)) of an eos
    MorphableModel archive (sfm_shape_3448.bin): a uint32 class version (1-4), then the shape
    PcaModel (mean, basis, eigenvalues as Eigen matrices, triangle list as a uint64 count of
    int32 triples). The rest (colour model, texture coordinates) is not needed."""
    reader = _CerealReader(path)
    version = reader.scalar("I")
    if not 1 <= version <= 4:
        raise Extreme3DError(f"{path}: not an eos model file (version {version})")
    mean = reader.matrix().reshape(-1)
    basis = reader.matrix()
    eigenvalues = reader.matrix().reshape(-1)
    count = reader.scalar("Q")
    if count > len(reader.data) // 12:
        raise Extreme3DError(f"{path}: not an eos model file ({count} triangles)")
    triangles = np.frombuffer(reader._take(12 * count), dtype="<i4").reshape(-1, 3)
    n3 = mean.size
    if n3 == 0 or n3 % 3 or basis.shape != (n3, eigenvalues.size):
        raise Extreme3DError(
            f"{path}: inconsistent shape model (mean {n3}, basis {basis.shape}, "
            f"{eigenvalues.size} eigenvalues)"
        )
    if triangles.size and (triangles.min() < 0 or triangles.max() >= n3 // 3):
        raise Extreme3DError(f"{path}: triangle index out of range")
    return mean, basis, eigenvalues, triangles.astype(np.int64)


def read_blendshapes(path: Path) -> tuple[tuple[str, ...], np.ndarray]:
    """(names, deformations (3V, E)) of an eos blendshapes archive: a uint64 count, then per
    blendshape its name (std::string) and deformation (Eigen float vector)."""
    reader = _CerealReader(path)
    count = reader.scalar("Q")
    if count > 1000:
        raise Extreme3DError(f"{path}: not an eos blendshapes file ({count} blendshapes)")
    names, columns = [], []
    for _ in range(count):
        names.append(reader.string())
        columns.append(reader.matrix().reshape(-1))
    if not columns or len({c.size for c in columns}) != 1:
        raise Extreme3DError(f"{path}: blendshapes missing or of different sizes")
    return tuple(names), np.stack(columns, axis=1)


def read_sfm(src_dir: str | Path) -> SurreyModel:
    """Reads the Surrey model files of src_dir (the eos .bin archives are parsed directly, so
    the eos package is not needed)."""
    src = Path(src_dir)
    paths = {name: _require(src, name) for name in CONVERTER_FILES}
    mean, basis, eigenvalues, triangles = read_shape_model(paths[SHAPE_FILE])
    names, blendshapes = read_blendshapes(paths[BLENDSHAPES_FILE])
    if blendshapes.shape[0] != mean.size:
        raise Extreme3DError(
            f"{paths[BLENDSHAPES_FILE]}: blendshapes have {blendshapes.shape[0]} rows, "
            f"the model has {mean.size}"
        )
    try:
        contours = json.loads(paths[CONTOURS_FILE].read_text())["model_contour"]
        right = tuple(int(v) for v in contours["right_contour"])
        left = tuple(int(v) for v in contours["left_contour"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise Extreme3DError(f"{paths[CONTOURS_FILE]}: cannot read the contours ({exc})") from exc
    nv = mean.size // 3
    mapping = read_mapping(paths[MAPPING_FILE])
    if any(not 0 <= v < nv for v in (*right, *left, *mapping.values())):
        raise Extreme3DError(f"{src}: landmark or contour vertex out of range 0..{nv - 1}")
    return SurreyModel(
        mean=mean.reshape(-1, 3),
        basis=basis,
        eigenvalues=eigenvalues,
        blendshapes=blendshapes,
        blendshape_names=names,
        triangles=triangles,
        mapping=mapping,
        right_contour=right,
        left_contour=left,
    )


# --- mesh borders and hole filling -------------------------------------------------------------


def border_loops(triangles: np.ndarray) -> list[np.ndarray]:
    """Closed loops of border edges (edges used by one triangle), each as ordered vertex ids."""
    edges = np.sort(np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]],
                                    triangles[:, [2, 0]]]), axis=1)
    uniq, counts = np.unique(edges, axis=0, return_counts=True)
    border = uniq[counts == 1]
    nbrs: dict[int, list[int]] = {}
    for a, b in border:
        nbrs.setdefault(int(a), []).append(int(b))
        nbrs.setdefault(int(b), []).append(int(a))
    loops, seen = [], set()
    for start in sorted(nbrs):
        if start in seen:
            continue
        loop, prev, cur = [start], -1, start
        seen.add(start)
        while True:
            nxt = [w for w in nbrs[cur] if w != prev and w not in seen]
            if not nxt:
                break
            prev, cur = cur, nxt[0]
            seen.add(cur)
            loop.append(cur)
        loops.append(np.array(loop))
    return loops


def _zip_hole(loop: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Triangles closing one hole: its border split at the two extreme points along the hole's
    main axis into two chains, zipped together in the order of that axis; normals towards +z."""
    pts = vertices[loop]
    centred = pts - pts.mean(axis=0)
    axis = np.linalg.svd(centred, full_matrices=False)[2][0]
    t = centred @ axis
    a, b = int(np.argmin(t)), int(np.argmax(t))
    n = len(loop)
    chain1 = [loop[(a + i) % n] for i in range((b - a) % n + 1)]
    chain2 = [loop[(a - i) % n] for i in range((a - b) % n + 1)]
    proj = dict(zip(loop.tolist(), t.tolist(), strict=True))
    tris, i, j = [], 0, 0
    while i < len(chain1) - 1 or j < len(chain2) - 1:
        adv1 = j >= len(chain2) - 1 or (
            i < len(chain1) - 1 and proj[chain1[i + 1]] <= proj[chain2[j + 1]]
        )
        if adv1:
            tri = (chain1[i], chain1[i + 1], chain2[j])
            i += 1
        else:
            tri = (chain1[i], chain2[j + 1], chain2[j])
            j += 1
        if len(set(tri)) == 3:
            tris.append(tri)
    out = np.array(tris, dtype=np.int64).reshape(-1, 3)
    p = vertices[out]
    normal_z = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])[:, 2]
    flip = normal_z < 0
    out[flip] = out[flip][:, ::-1]
    return out


def fill_holes(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """faces_fill: the triangles plus fills of every border loop except the longest (outer)."""
    loops = border_loops(triangles)
    if len(loops) <= 1:
        return triangles.copy()
    outer = max(range(len(loops)), key=lambda k: len(loops[k]))
    fills = [_zip_hole(loop, vertices) for k, loop in enumerate(loops) if k != outer]
    return np.concatenate([triangles, *fills], axis=0)


# --- symmetry pairs ----------------------------------------------------------------------------


def mirror_neighbours(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plain mirror nearest neighbours: for each vertex the vertex nearest its mirror image
    (x -> -x), and that distance (mm)."""
    from scipy.spatial import cKDTree

    mirrored = vertices * np.array([-1.0, 1.0, 1.0])
    dist, idx = cKDTree(vertices).query(mirrored, k=1)
    return idx.astype(np.int64), dist


def derive_pairs(vertices: np.ndarray, k: int = 16, max_dist: float | None = None) -> np.ndarray:
    """Symmetric partner of every vertex, 0-based, mutual wherever a partner is close enough.

    Candidate pairs (i, j) are the k nearest vertices j of i's mirror image (x -> -x), and i
    itself (a midline vertex); their cost |mirror(v_i) - v_j| is symmetric in i and j.
    Candidates no longer than max_dist (default: twice the longest plain mirror-nearest-neighbour
    distance) are taken greedily, cheapest first, when both ends are still free, so mutual mirror
    nearest neighbours keep their partner and most of the rest get the nearest free one
    (pair[pair[i]] == i). A vertex left without a free partner keeps its plain mirror nearest
    neighbour (not mutual, as some BFM pairs; code must check pair[pair[i]] == i).
    """
    from scipy.spatial import cKDTree

    n = len(vertices)
    mirrored = vertices * np.array([-1.0, 1.0, 1.0])
    dist, idx = cKDTree(vertices).query(mirrored, k=min(k, n))
    if max_dist is None:
        max_dist = 2.0 * float(dist[:, 0].max())
    rows = np.repeat(np.arange(n), idx.shape[1])
    cand_i = np.concatenate([rows, np.arange(n)])
    cand_j = np.concatenate([idx.ravel(), np.arange(n)])
    cand_d = np.concatenate([dist.ravel(), 2.0 * np.abs(vertices[:, 0])])
    keep = cand_d <= max_dist
    cand_i, cand_j, cand_d = cand_i[keep], cand_j[keep], cand_d[keep]
    order = np.lexsort((cand_j, cand_i, cand_d))
    pair = np.full(n, -1, dtype=np.int64)
    for o in order:
        i, j = int(cand_i[o]), int(cand_j[o])
        if pair[i] < 0 and pair[j] < 0:
            pair[i], pair[j] = j, i
    free = pair < 0
    pair[free] = idx[free, 0]
    return pair


# --- landmarks ---------------------------------------------------------------------------------


def _fit_template(vertices: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    """IBUG_TEMPLATE mapped into the model's frontal x-y plane (mm, y up) by the least-squares
    scale + translation that best matches the mapped (non-contour) landmark vertices."""
    ids = sorted(i for i in mapping if i >= 17)
    tpl = IBUG_TEMPLATE[ids]
    target = vertices[[mapping[i] for i in ids], :2]
    # X = s * tx + a, Y = -s * ty + b (image y points down, the model's y up)
    m = len(ids)
    design = np.zeros((2 * m, 3))
    design[:m, 0], design[:m, 1] = tpl[:, 0], 1.0
    design[m:, 0], design[m:, 2] = -tpl[:, 1], 1.0
    rhs = np.concatenate([target[:, 0], target[:, 1]])
    s, a, b = np.linalg.lstsq(design, rhs, rcond=None)[0]
    return np.column_stack([s * IBUG_TEMPLATE[:, 0] + a, -s * IBUG_TEMPLATE[:, 1] + b])


def _yaw_rotation(angle: float) -> np.ndarray:
    """Rotation about the y axis by angle (rad): positive turns the x < 0 side away (z down)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])


def _silhouette_vertex(
    vertices: np.ndarray, outer: int, tangent: np.ndarray, normal: np.ndarray, yaw: float
) -> int:
    """The vertex on the silhouette near `outer` once the mean is turned by yaw: the vertex
    farthest along the 2D outward normal among those within SILHOUETTE_BAND of outer along
    the contour tangent (orthographic frontal projection of the rotated mean)."""
    rotated = vertices @ _yaw_rotation(yaw).T
    rel = rotated[:, :2] - rotated[outer, :2]
    near = np.abs(rel @ tangent) <= SILHOUETTE_BAND
    near[outer] = True
    cand = np.flatnonzero(near)
    return int(cand[np.argmax(rel[cand] @ normal)])


def derive_landmarks(sfm: SurreyModel) -> tuple[np.ndarray, np.ndarray]:
    """(inner, outer) 68 vertex ids, 0-based, for the original's yaw-dependent landmark lists.

    - Points the SFM mapping defines (18-60, 62-64, 66-68 and the chin 9) use that vertex in
      both lists, as the BFM lists do for every non-contour point.
    - Outer contour (iBUG 1-8, 10-17: the jaw line of a frontal face): IBUG_TEMPLATE is fitted
      (scale + translation) to the mapped landmarks in the frontal x-y plane and each contour
      point takes the nearest vertex (2D) of the SFM's own jaw-line list for its side
      (sfm_model_contours.json).
    - Inner contour (used by the original on the side turning away, 0 < |yaw| < pi/9): the
      mean is turned by INNER_YAW so that side turns away, and each point takes the silhouette
      vertex near its outer vertex (the farthest out along the contour's 2D outward normal);
      this lies on the cheek, nearer the face centre than the jaw line.
    - Landmarks the mapping lacks (61 and 65, inner mouth corners): the template point, taking
      the nearest (2D) vertex of the mouth opening's border, where the other inner-lip points
      lie; any other unmapped point takes the front-most vertex within 3 mm (2D) of its
      template point.
    """
    verts = sfm.mean
    tpl = _fit_template(verts, sfm.mapping)
    outer = np.full(NUM_LANDMARKS, -1, dtype=np.int64)
    for i, v in sfm.mapping.items():
        outer[i] = v
    for ids, cand in ((RIGHT_CONTOUR_IDS, sfm.right_contour), (LEFT_CONTOUR_IDS, sfm.left_contour)):
        cand = np.asarray(cand)
        for i in ids:
            if i in sfm.mapping:
                continue
            d = np.linalg.norm(verts[cand, :2] - tpl[i], axis=1)
            outer[i] = cand[np.argmin(d)]
    loops = border_loops(sfm.triangles)
    holes = sorted(loops, key=len)[:-1]
    lip_border = np.concatenate(holes) if holes else np.arange(len(verts))
    for i in range(NUM_LANDMARKS):
        if outer[i] >= 0:
            continue
        if i in INNER_LIP_IDS:
            d = np.linalg.norm(verts[lip_border, :2] - tpl[i], axis=1)
            outer[i] = lip_border[np.argmin(d)]
        elif i == CHIN_ID:
            outer[i] = int(np.argmin(np.linalg.norm(verts[:, :2] - tpl[i], axis=1)))
        else:
            d = np.linalg.norm(verts[:, :2] - tpl[i], axis=1)
            near = np.flatnonzero(d <= 3.0)
            outer[i] = near[np.argmax(verts[near, 2])] if near.size else int(np.argmin(d))
    inner = outer.copy()
    centre = tpl[17:].mean(axis=0)
    for ids, yaw in ((RIGHT_CONTOUR_IDS, INNER_YAW), (LEFT_CONTOUR_IDS, -INNER_YAW)):
        for i in ids:
            prev_pt, next_pt = tpl[max(i - 1, 0)], tpl[min(i + 1, 16)]
            tangent = (next_pt - prev_pt) / np.linalg.norm(next_pt - prev_pt)
            normal = np.array([-tangent[1], tangent[0]])
            if normal @ (tpl[i] - centre) < 0:
                normal = -normal
            inner[i] = _silhouette_vertex(verts, int(outer[i]), tangent, normal, yaw)
    return inner, outer


# --- conversion --------------------------------------------------------------------------------


def sfm_arrays(sfm: SurreyModel) -> dict[str, np.ndarray]:
    """The h5 datasets (file layout: 1-based indices, column vectors) of the Surrey model."""
    n3 = sfm.mean.size
    inner, outer = derive_landmarks(sfm)
    faces_fill = fill_holes(sfm.mean, sfm.triangles)
    pair = derive_pairs(sfm.mean)
    return {
        "faces": (sfm.triangles + 1).astype(np.int32),
        "faces_fill": (faces_fill + 1).astype(np.int32),
        "shapeMU": column(sfm.mean.reshape(-1)),
        "shapePC": sfm.basis.astype(np.float64),
        "shapeEV": column(np.sqrt(np.clip(sfm.eigenvalues, 0.0, None))),
        "expMU": column(np.zeros(n3)),
        "expPC": sfm.blendshapes.astype(np.float64),
        "expEV": column(np.ones(sfm.blendshapes.shape[1])),
        "pair": (pair + 1).astype(np.int32),
        "innerLandmarkIndex": column(inner + 1, np.int32),
        "outerLandmarkIndex": column(outer + 1, np.int32),
    }


def convert_sfm(src_dir: str | Path, out_h5: str | Path) -> Path:
    """Converts the Surrey model files in src_dir into out_h5 (BaselFaceModel_mod.h5 layout)."""
    sfm = read_sfm(src_dir)
    return write_model_h5(out_h5, sfm_arrays(sfm))
