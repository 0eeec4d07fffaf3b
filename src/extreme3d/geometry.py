"""Geometry stage (the original's combineBump after the pose fit): foundation, dense mesh with
bumps, occlusion scores and the soft-symmetry completion, computed by the C++ core."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from extreme3d import _core
from extreme3d.camera import FOCAL, HEIGHT, WIDTH
from extreme3d.mesh import Mesh

if TYPE_CHECKING:
    from extreme3d.morphable import MorphableModel

#: Mesh names in the order the original writes them.
MESH_NAMES: tuple[str, ...] = (
    "foundation_frontal",
    "foundation_aligned",
    "withBump_aligned",
    "withBump_frontal",
    "sparse_full_frontal",
    "final_frontal",
)


#: The original's limit (mm) on the depth gap across a Delaunay edge between non-neighbouring
#: sparse vertices, tuned for the BFM's ~1.2 mm vertex spacing.
ORIGINAL_MAX_GAP_MM = 4.0
#: The original's 4 mm is about 3.3 BFM edge lengths; coarser models get the same ratio.
_GAP_PER_EDGE = 3.0


@functools.lru_cache(maxsize=8)
def default_max_gap(model: MorphableModel) -> float:
    """Registration gap limit (mm) for a model: the original's 4 mm, or 3 median edge lengths of
    the mean shape when the mesh is coarser (the Surrey model's 3.4 mm edges give about 10 mm,
    where 4 mm would reject three quarters of the dense pixels). Cached per model object."""
    v = np.asarray(model.shape(), np.float64)
    f = np.asarray(model.faces)
    edges = np.concatenate([np.linalg.norm(v[f[:, i]] - v[f[:, (i + 1) % 3]], axis=1)
                            for i in range(3)])
    return max(ORIGINAL_MAX_GAP_MM, _GAP_PER_EDGE * float(np.median(edges)))


def max_gap_type(text: str) -> float:
    """argparse type of --max-gap: a finite number of mm > 0."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--max-gap must be a number of mm, got {text!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"--max-gap must be a positive number of mm, got {text}")
    return value


@dataclass
class GeometryResult:
    """Meshes (mm; frontal = model coordinates, aligned = camera) and per-vertex sparse data."""

    meshes: dict[str, Mesh]
    projections: np.ndarray  # (V, 2) float32 pixel positions of the posed sparse vertices
    visible: np.ndarray  # (V,) bool: depth test and bump mask
    occlusion: np.ndarray  # (V,) float32 raw self-occlusion scores (0 for invisible vertices)
    scores: np.ndarray | None  # (V,) float32 scores after bad vertices and passes: 0, 0.5, 1
    bumped: np.ndarray | None  # (V,) bool: sparse vertices that took the bumped depth
    bad: np.ndarray | None  # (V,) bool: normal flips / stretched triangles
    symmetry_R: np.ndarray  # (3, 3) symmetry correction rotation
    symmetry_t: np.ndarray  # (3,) symmetry correction translation (mm)
    symmetry_points: int  # central vertices used by the correction (needs > 100)
    counts: dict[str, int] = field(default_factory=dict)  # dense, registered, unknowns, unanchored
    timings_ms: dict[str, float] = field(default_factory=dict)  # per stage
    #: with symmetry: the dense registration of final_frontal's detail vertices, "tri" (S,3)
    #: int32 sparse vertices (-1 unused), "w" (S,3) float32 weights, "pixel" (S,2) int32 (x, y)
    registration: dict[str, np.ndarray] | None = None


def run_geometry(
    model: MorphableModel,
    alpha: np.ndarray,
    expr: np.ndarray,
    rvec: np.ndarray,
    tvec: np.ndarray,
    bump: np.ndarray,
    mask: np.ndarray,
    symmetry: bool = True,
    outputs: Iterable[str] | None = None,
    *,
    focal: float = FOCAL,
    width: int = WIDTH,
    height: int = HEIGHT,
    margin: int = 6,
    max_gap: float | None = None,
) -> GeometryResult:
    """Runs combineBump from a given pose/expression; bump and mask are (512, 512) uint8 images.

    max_gap: registration depth-gap limit in mm; None = default_max_gap(model) (the original's
    4 mm for BFM-density models; pass ORIGINAL_MAX_GAP_MM to reproduce the original exactly)."""
    if max_gap is None:
        max_gap = default_max_gap(model)
    elif not (np.isfinite(max_gap) and max_gap > 0):
        raise ValueError(f"max_gap must be a positive number of mm, got {max_gap}")
    wanted = set(MESH_NAMES if outputs is None else outputs)
    unknown = wanted - set(MESH_NAMES)
    if unknown:
        raise ValueError(
            f"unknown geometry outputs {sorted(unknown)}; choose from {list(MESH_NAMES)}"
        )
    bump = _gray_u8(bump, "bump")
    mask = _gray_u8(mask, "mask")
    res = _core.combine_bump(
        model.core,
        np.asarray(alpha, np.float32).reshape(-1),
        np.asarray(expr, np.float32).reshape(-1),
        np.asarray(rvec, np.float64).reshape(-1),
        np.asarray(tvec, np.float64).reshape(-1),
        bump,
        mask,
        focal=focal,
        width=width,
        height=height,
        symmetry=symmetry,
        margin=margin,
        max_gap=max_gap,
    )
    meshes = {
        name: Mesh(vertices=v, faces=f) for name, (v, f) in res["meshes"].items() if name in wanted
    }
    counts = {k: int(res[k]) for k in ("dense_vertices", "registered", "unknowns", "unanchored")}
    return GeometryResult(
        meshes=meshes,
        projections=np.asarray(res["projections"], np.float32),
        visible=np.asarray(res["visible"], bool),
        occlusion=np.asarray(res["occlusion"], np.float32),
        scores=None if res["scores"] is None else np.asarray(res["scores"], np.float32),
        bumped=None if res["bumped"] is None else np.asarray(res["bumped"], bool),
        bad=None if res["bad"] is None else np.asarray(res["bad"], bool),
        symmetry_R=np.asarray(res["symmetry_R"], np.float32),
        symmetry_t=np.asarray(res["symmetry_t"], np.float32).reshape(3),
        symmetry_points=int(res["symmetry_points"]),
        counts=counts,
        timings_ms={str(k): float(v) for k, v in res["timings_ms"].items()},
        registration=None if "registration" not in res else {
            "tri": np.asarray(res["registration"]["tri"], np.int32).reshape(-1, 3),
            "w": np.asarray(res["registration"]["w"], np.float32).reshape(-1, 3),
            "pixel": np.asarray(res["registration"]["pixel"], np.int32).reshape(-1, 2),
        },
    )


def _gray_u8(img: np.ndarray, what: str) -> np.ndarray:
    """A 2D uint8 image (a 3-channel image with equal channels is reduced to one)."""
    a = np.asarray(img)
    if a.ndim == 3 and a.shape[2] in (3, 4):
        a = a[..., 0]
    if a.ndim != 2:
        raise ValueError(f"{what} must be a 2D uint8 image (512x512), got shape {a.shape}")
    if a.dtype != np.uint8:
        if not np.issubdtype(a.dtype, np.number) or a.min() < 0 or a.max() > 255:
            raise ValueError(f"{what} must hold 8-bit values 0..255, got dtype {a.dtype}")
        a = a.astype(np.uint8)
    return np.ascontiguousarray(a)
