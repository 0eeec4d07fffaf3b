"""Mesh comparison tools: rigid alignment, expression/pose recovery, vertex distances (mm)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

if TYPE_CHECKING:
    from extreme3d.morphable import MorphableModel


def rigid_transform(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation R (3,3) and translation t (3,) minimising |R src + t - dst| (Kabsch, no scale)."""
    a = np.asarray(src, np.float64).reshape(-1, 3)
    b = np.asarray(dst, np.float64).reshape(-1, 3)
    if a.shape != b.shape or len(a) < 3:
        raise ValueError(f"rigid_transform needs two (N>=3, 3) arrays, got {a.shape} and {b.shape}")
    ca, cb = a.mean(axis=0), b.mean(axis=0)
    h = (a - ca).T @ (b - cb)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0
    r = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return r, cb - r @ ca


def rotation_to_rvec(r: np.ndarray) -> np.ndarray:
    """Rodrigues vector (rad) of a rotation matrix."""
    return Rotation.from_matrix(np.asarray(r, np.float64)).as_rotvec()


def rvec_to_rotation(rvec: np.ndarray) -> np.ndarray:
    """Rotation matrix of a Rodrigues vector (rad)."""
    return Rotation.from_rotvec(np.asarray(rvec, np.float64).ravel()).as_matrix()


def recover_pose(frontal: np.ndarray, aligned: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Pose (rvec rad, tvec mm) taking frontal to aligned vertices, and the RMS residual (mm)."""
    a = np.asarray(frontal, np.float64)
    b = np.asarray(aligned, np.float64)
    ok = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    r, t = rigid_transform(a[ok], b[ok])
    res = float(np.sqrt(np.mean(np.sum((a[ok] @ r.T + t - b[ok]) ** 2, axis=1))))
    return rotation_to_rvec(r), t, res


def recover_expression(
    model: MorphableModel, alpha: np.ndarray | None, frontal: np.ndarray
) -> tuple[np.ndarray, float]:
    """Expression coefficients e (E,) with model.shape(alpha, e) closest to frontal, and RMS (mm).

    Least squares on the expression components: frontal - (shapeMU + shapePC (alpha*shapeEV)
    + expMU) = expPC (e * expEV).
    """
    f64 = np.float64
    k = np.asarray(model.shape_ev).size
    a = np.zeros(k) if alpha is None else np.asarray(alpha, f64).ravel()[:k]
    a = np.pad(a, (0, k - a.size))
    base = (np.asarray(model.shape_mu, f64).ravel() + np.asarray(model.exp_mu, f64).ravel()
            + np.asarray(model.shape_pc, f64) @ (a * np.asarray(model.shape_ev, f64).ravel()))
    d = np.asarray(frontal, f64).ravel() - base
    pc = np.asarray(model.exp_pc, f64)
    w, *_ = np.linalg.lstsq(pc, d, rcond=None)
    res = (d - pc @ w).reshape(-1, 3)
    e = w / np.asarray(model.exp_ev, f64).ravel()
    return e, float(np.sqrt(np.mean(np.sum(res**2, axis=1))))


def vertex_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-vertex Euclidean distances between two (V,3) arrays in the same vertex order."""
    a = np.asarray(a, np.float64).reshape(-1, 3)
    b = np.asarray(b, np.float64).reshape(-1, 3)
    if a.shape != b.shape:
        raise ValueError(f"vertex_distances needs equal shapes, got {a.shape} and {b.shape}")
    return np.linalg.norm(a - b, axis=1)


def nearest_vertex_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Symmetric nearest-vertex distances: a->b then b->a (non-finite vertices ignored)."""
    a = np.asarray(a, np.float64).reshape(-1, 3)
    b = np.asarray(b, np.float64).reshape(-1, 3)
    a = a[np.isfinite(a).all(axis=1)]
    b = b[np.isfinite(b).all(axis=1)]
    if len(a) == 0 or len(b) == 0:
        return np.array([np.inf])
    dab, _ = cKDTree(b).query(a)
    dba, _ = cKDTree(a).query(b)
    return np.concatenate([dab, dba])
