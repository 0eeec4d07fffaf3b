"""The original's pinhole camera: rotations, projection and back-projection.

Conventions (shared with the C++ core, ``model/camera.hpp``):

* Model -> camera: ``X_c = R(rvec) X + tvec``; ``rvec`` is a Rodrigues vector (rad), ``tvec`` mm.
* Camera space: x to the image right, y to the image top, z towards the viewer; points in front of
  the camera have ``z < 0`` (OpenGL convention).
* Intrinsics: focal ``f`` (px), principal point at the image centre ``(W/2, H/2)``, x mirrored
  (``K[0,0] = -f``, ``K[1,1] = f``):  ``u = -f X/Z + W/2`` (column, right),
  ``v = f Y/Z + H/2`` (row, down). A point projecting to ``(u, v)`` lies in pixel
  ``(floor(u), floor(v))``; the renderer samples pixel centres ``(i + 0.5, j + 0.5)``.
* Back-projection of integer pixel ``(u, v)`` (no +0.5, as the original) at camera depth ``z``:
  ``X = z (u - W/2) / (-f)``, ``Y = z (v - H/2) / f``, ``Z = z``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

FOCAL = 1000.0
WIDTH = 500
HEIGHT = 500
NEAR = 50.0
FAR = 10000.0


def finite_vec3(x: npt.ArrayLike, name: str) -> np.ndarray:
    """A finite float64 3-vector (e.g. rvec, tvec), else ValueError naming it."""
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if a.shape != (3,) or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be 3 finite numbers, got shape {np.shape(x)}")
    return a


def rotation_matrix(rvec: npt.ArrayLike) -> np.ndarray:
    """3x3 rotation matrix (float64) of a Rodrigues vector (rad)."""
    return Rotation.from_rotvec(finite_vec3(rvec, "rvec")).as_matrix()


def rvec_from_matrix(R: npt.ArrayLike) -> np.ndarray:
    """Rodrigues vector (rad, float64) of a 3x3 rotation matrix (orthonormalised first)."""
    m = np.asarray(R, dtype=np.float64)
    if m.shape != (3, 3) or not np.all(np.isfinite(m)):
        raise ValueError(f"R must be a finite 3x3 matrix, got shape {m.shape}")
    return Rotation.from_matrix(m).as_rotvec()


def to_camera(vertices: npt.ArrayLike, rvec: npt.ArrayLike, tvec: npt.ArrayLike) -> np.ndarray:
    """Camera-space points (N,3 float64, mm): R(rvec) X + tvec."""
    v = np.asarray(vertices, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"vertices must have shape (N, 3), got {v.shape}")
    return v @ rotation_matrix(rvec).T + finite_vec3(tvec, "tvec")


def project(
    vertices: npt.ArrayLike,
    rvec: npt.ArrayLike,
    tvec: npt.ArrayLike,
    focal: float = FOCAL,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> np.ndarray:
    """Pixels (N,2 float64: u column, v row) of model points: u = -fX/Z + W/2, v = fY/Z + H/2."""
    xc = to_camera(vertices, rvec, tvec)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = -focal * xc[:, 0] / xc[:, 2] + width / 2.0
        v = focal * xc[:, 1] / xc[:, 2] + height / 2.0
    return np.stack([u, v], axis=1)


def backproject(
    u: npt.ArrayLike,
    v: npt.ArrayLike,
    z: npt.ArrayLike,
    focal: float = FOCAL,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> np.ndarray:
    """Camera points (N,3 float64, mm) of pixels (u column, v row; no +0.5) at depth z (< 0)."""
    u, v, z = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64).reshape(-1) for a in (u, v, z)))
    x = z * (u - width / 2.0) / (-focal)
    y = z * (v - height / 2.0) / focal
    return np.stack([x, y, z], axis=1)


def yaw_pitch_roll_deg(R: npt.ArrayLike) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees with R = Ry(yaw) @ Rx(pitch) @ Rz(roll) in camera axes.

    Camera axes: x image right, y image up, z towards the viewer. A face looking at the camera
    (R = I) has yaw = pitch = roll = 0. yaw > 0 turns the nose towards the image right (+x),
    pitch > 0 turns it down (-y), roll > 0 turns the face counter-clockwise in the image.
    The original's ``yaw = -rvec[1]`` (used to pick landmarks) is about ``-radians(yaw)`` for
    small rotations. Angles: yaw and roll in (-180, 180], pitch in [-90, 90].
    """
    m = np.asarray(R, dtype=np.float64)
    if m.shape != (3, 3):
        raise ValueError(f"R must be a 3x3 matrix, got shape {m.shape}")
    pitch = np.arcsin(np.clip(-m[1, 2], -1.0, 1.0))
    if abs(m[1, 2]) < 1.0 - 1e-9:
        yaw = np.arctan2(m[0, 2], m[2, 2])
        roll = np.arctan2(m[1, 0], m[1, 1])
    else:  # gimbal lock: pitch = +-90 deg, only yaw -+ roll is defined; put it all in yaw
        yaw = np.arctan2(-m[2, 0], m[0, 0])
        roll = 0.0
    return float(np.degrees(yaw)), float(np.degrees(pitch)), float(np.degrees(roll))
