"""Synthetic faces with known answers: random model faces and poses, and their 68 landmarks as a
detector would place them (inner points on their vertices, the jaw on the visible outline).

Used by bench/foundation.py and the tests of the identity fit. Camera: the fit camera of
extreme3d.camera (focal 1000 px, 500x500 crop, x mirrored).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from extreme3d.camera import FOCAL, HEIGHT, WIDTH
from extreme3d.morphable import MorphableModel

#: Jaw contour landmarks (0-based iBUG numbers).
JAW = np.arange(17)


@dataclass(frozen=True)
class SyntheticFace:
    """A model face (identity alpha, expression expr) seen at a pose (model -> camera)."""

    alpha: np.ndarray  # (K,) standard deviations
    expr: np.ndarray  # (E,)
    rvec: np.ndarray  # (3,) Rodrigues, rad
    tvec: np.ndarray  # (3,) mm
    yaw_deg: float
    pitch_deg: float
    focal: float = FOCAL  # px of the camera that sees it (500x500 image)


def rotation(yaw_deg: float, pitch_deg: float, roll_deg: float = 0.0) -> np.ndarray:
    """Rotation matrix (model -> camera) turning the face by yaw (about y), pitch (x), roll (z)."""
    y, p, r = np.radians([yaw_deg, pitch_deg, roll_deg])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def rvec_of(rot: np.ndarray) -> np.ndarray:
    """Rodrigues vector (rad) of a rotation matrix."""
    return cv2.Rodrigues(np.asarray(rot, np.float64))[0].reshape(3)


def random_face(
    model: MorphableModel, rng: np.random.Generator, yaw: tuple[float, float] = (-70, 70),
    pitch: tuple[float, float] = (-25, 25), distance: tuple[float, float] = (600.0, 600.0),
    expr_scale: float = 0.25,
) -> SyntheticFace:
    """A face from the model's distribution: alpha ~ N(0, 1), expression coefficients from a
    half-normal of scale expr_scale (the blendshapes are one-sided), yaw and pitch uniform (deg),
    roll N(0, 5 deg), seen from a distance log-uniform in `distance` (mm) by a camera whose focal
    length (FOCAL * distance / 600) keeps the face about 250 px wide in the 500x500 image, as in
    a crop (a far camera: weak perspective)."""
    alpha = rng.standard_normal(model.num_shape)
    expr = np.abs(rng.normal(0.0, expr_scale, model.num_expr))
    yd, pd = rng.uniform(*yaw), rng.uniform(*pitch)
    rot = rotation(yd, pd, rng.normal(0.0, 5.0))
    centre = model.shape(alpha, expr).mean(axis=0).astype(np.float64)
    dist = float(np.exp(rng.uniform(*np.log(distance))))
    scale = dist / 600.0
    tvec = np.array([rng.normal(0, 8) * scale, rng.normal(0, 8) * scale,
                     -dist * rng.uniform(0.9, 1.1)])
    tvec = tvec - rot @ centre
    return SyntheticFace(alpha.astype(np.float32), expr.astype(np.float32), rvec_of(rot), tvec,
                         float(yd), float(pd), FOCAL * scale)


def project(vertices: np.ndarray, rvec: np.ndarray, tvec: np.ndarray, focal: float = FOCAL
            ) -> tuple[np.ndarray, np.ndarray]:
    """(pixels (N, 2), camera z (N,)) of model points with the fit camera of focal `focal`."""
    rot = cv2.Rodrigues(np.asarray(rvec, np.float64).reshape(3))[0]
    cam = np.asarray(vertices, np.float64) @ rot.T + np.asarray(tvec, np.float64)
    u = -focal * cam[:, 0] / cam[:, 2] + WIDTH / 2
    v = focal * cam[:, 1] / cam[:, 2] + HEIGHT / 2
    return np.stack([u, v], axis=1), cam[:, 2]


def _visible(uv: np.ndarray, z: np.ndarray, faces: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Whether each vertex in `points` is the nearest surface along its pixel ray (1 mm slack)."""
    tri = uv[faces]  # (F, 3, 2)
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    den = (b[:, 1] - c[:, 1]) * (a[:, 0] - c[:, 0]) + (c[:, 0] - b[:, 0]) * (a[:, 1] - c[:, 1])
    ok = np.abs(den) > 1e-9
    out = np.ones(len(points), bool)
    for k, v in enumerate(points):
        p = uv[v]
        w0 = ((b[:, 1] - c[:, 1]) * (p[0] - c[:, 0]) + (c[:, 0] - b[:, 0]) * (p[1] - c[:, 1]))
        w1 = ((c[:, 1] - a[:, 1]) * (p[0] - c[:, 0]) + (a[:, 0] - c[:, 0]) * (p[1] - c[:, 1]))
        with np.errstate(divide="ignore", invalid="ignore"):
            w0, w1 = w0 / den, w1 / den
        w2 = 1 - w0 - w1
        inside = ok & (w0 >= 0) & (w1 >= 0) & (w2 >= 0)
        inside &= ~np.any(faces == v, axis=1)
        if not inside.any():
            continue
        zt = (w0 * z[faces[:, 0]] + w1 * z[faces[:, 1]] + w2 * z[faces[:, 2]])[inside]
        out[k] = not np.any(zt > z[v] + 1.0)  # camera z < 0: larger is nearer
    return out


def outline(uv: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Pixels (M, 2) of the outer outline of the rendered face (its silhouette), 4x supersampled."""
    s = 4
    mask = np.zeros((HEIGHT * s, WIDTH * s), np.uint8)
    pts = np.round(uv[faces] * s).astype(np.int32)
    cv2.fillPoly(mask, list(pts), 255)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return np.zeros((0, 2))
    return max(contours, key=len).reshape(-1, 2).astype(np.float64) / s


def detector_landmarks(model: MorphableModel, face: SyntheticFace) -> np.ndarray:
    """Noise-free 68 landmarks (px) of a face: the inner points 17..67 at their projected
    vertices; a jaw point at its vertex when that is visible, else at the nearest point of the
    rendered face's outline (where a detector puts it on a turned face)."""
    verts = model.shape(face.alpha, face.expr)
    uv, z = project(verts, face.rvec, face.tvec, face.focal)
    lms = uv[model.outer_landmarks].copy()
    faces = model.faces_fill if len(model.faces_fill) > len(model.faces) else model.faces
    jaw_v = model.outer_landmarks[JAW]
    seen = _visible(uv, z, faces, jaw_v)
    if not seen.all():
        line = outline(uv, faces)
        for j in np.flatnonzero(~seen):
            d = np.sum((line - uv[jaw_v[j]]) ** 2, axis=1)
            lms[JAW[j]] = line[int(np.argmin(d))]
    return lms


def corrupt(lms: np.ndarray, rng: np.random.Generator, sigma_inner: float = 3.0,
            sigma_contour: float = 6.0, outlier_rate: float = 0.0,
            outlier_px: tuple[float, float] = (20.0, 80.0)) -> tuple[np.ndarray, np.ndarray]:
    """(noisy landmarks, outlier numbers): Gaussian noise per coordinate (contour 0..16 and
    inner points separately), then each point with probability outlier_rate moved by a random
    vector of length uniform in outlier_px."""
    sig = np.where(np.arange(len(lms)) < 17, sigma_contour, sigma_inner)[:, None]
    noisy = lms + rng.standard_normal(lms.shape) * sig
    hit = np.flatnonzero(rng.random(len(lms)) < outlier_rate)
    ang = rng.uniform(0, 2 * np.pi, hit.size)
    length = rng.uniform(*outlier_px, hit.size)
    noisy[hit] += np.stack([np.cos(ang), np.sin(ang)], axis=1) * length[:, None]
    return noisy, hit


def depth_ratio(vertices: np.ndarray) -> float:
    """(max z - 5th-percentile z) / (max x - min x) of a shape (V, 3) in model coordinates."""
    v = np.asarray(vertices, np.float64)
    return float((v[:, 2].max() - np.percentile(v[:, 2], 5)) / (v[:, 0].max() - v[:, 0].min()))


def face_region(model: MorphableModel) -> np.ndarray:
    """Vertex ids inside the landmarks' outline (jaw 0..16 and brows 26..17) of the frontal
    mean face: the region the 68 landmarks constrain."""
    mean = model.shape()
    ring = np.r_[np.arange(17), np.arange(26, 16, -1)]
    poly = mean[model.outer_landmarks[ring], :2].astype(np.float32)
    inside = [cv2.pointPolygonTest(poly, (float(x), float(y)), False) >= 0 for x, y in mean[:, :2]]
    return np.flatnonzero(inside)


def rigid_alignment(fitted: np.ndarray, true: np.ndarray, region: np.ndarray
                    ) -> tuple[float, np.ndarray]:
    """(median vertex distance (mm) over `region`, rotation Q) of the rigid alignment (rotation
    + translation) of fitted onto true minimising the squared distances there (true ~ Q fitted)."""
    a = np.asarray(fitted, np.float64)[region]
    b = np.asarray(true, np.float64)[region]
    ca, cb = a.mean(axis=0), b.mean(axis=0)
    u, _, vt = np.linalg.svd((a - ca).T @ (b - cb))
    d = np.sign(np.linalg.det(u @ vt))
    rot = (u @ np.diag([1, 1, d]) @ vt).T
    aligned = (a - ca) @ rot.T + cb
    return float(np.median(np.linalg.norm(aligned - b, axis=1))), rot


def rigid_error(fitted: np.ndarray, true: np.ndarray, region: np.ndarray) -> float:
    """Median vertex distance (mm) over `region` after the rigid alignment of fitted onto true."""
    return rigid_alignment(fitted, true, region)[0]


def aligned_rotation_error_deg(rvec_fit: np.ndarray, rvec_true: np.ndarray, align: np.ndarray
                               ) -> float:
    """Angle (deg) between the fitted and the true face orientation in the camera: the fitted
    pose R_fit against R_true Q, Q the rigid alignment of the fitted shape onto the true one
    (a fitted shape slightly tilted in model coordinates, compensated by its pose, is no error)."""
    rt = cv2.Rodrigues(np.asarray(rvec_true, np.float64).reshape(3))[0] @ align
    return rotation_error_deg(rvec_fit, rvec_of(rt))


def rotation_error_deg(rvec_a: np.ndarray, rvec_b: np.ndarray) -> float:
    """Angle (deg) of the rotation between two Rodrigues vectors."""
    ra = cv2.Rodrigues(np.asarray(rvec_a, np.float64).reshape(3))[0]
    rb = cv2.Rodrigues(np.asarray(rvec_b, np.float64).reshape(3))[0]
    c = (np.trace(ra.T @ rb) - 1) / 2
    return float(np.degrees(np.arccos(np.clip(c, -1, 1))))
