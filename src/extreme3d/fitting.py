"""Pose, expression and identity fitting from 68 iBUG landmarks (the original's step 4).

`fit_pose_expression` runs the C++ fit in one of two modes:

- ``"faithful"``: the original's estimatePoseExpr (two EPnP runs, a diagonal-Newton optimiser with
  finite differences in float, its constants and quirks); the pose used downstream is the second
  EPnP pose, as in the original (the refined pose is discarded there).
- ``"best"``: the same start and the same cost, minimised by Levenberg-Marquardt with analytic
  Jacobians; the pose used downstream is the refined one.

`fit_identity` fits identity + expression + pose with the model's prior, for models without
shape-CNN coefficients (e.g. the open Surrey model). See docs/fitting.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from extreme3d import _core
from extreme3d.camera import FOCAL, HEIGHT, WIDTH  # the fit's camera: focal 1000 px, 500x500 crops
from extreme3d.morphable import MorphableModel

Mode = Literal["faithful", "best"]
PoseChoice = Literal["epnp", "refined"]

#: Defaults of fit_identity, chosen on the synthetic set of bench/foundation.py (docs/fitting.md).
IDENTITY_DEFAULTS = {"prior_weight": 2.0, "expr_sigma": 0.5, "huber": 2.0, "tukey": 4.0,
                     "focal_sigma": 0.5}

#: Landmark noise (px per coordinate, 500x500 crop) by group (0-based iBUG numbers): the jaw
#: contour as the synthetic set's detector noise; the others from the residuals of the fit on
#: the paper crops and test photos (docs/fitting.md): eyes, brows, nose ridge and lips about
#: 3 px, the nostrils 4, the mouth corners and the inner lips (the Surrey model's mouth
#: vertices sit off dlib's points) 5.
LANDMARK_NOISE_PX = (
    ("jaw", range(0, 17), 6.0), ("brows", range(17, 27), 3.0), ("nose ridge", range(27, 31), 3.0),
    ("nostrils", range(31, 36), 4.0), ("eyes", range(36, 48), 3.0),
    ("outer lips", range(48, 60), 3.0), ("mouth corners", (48, 54), 5.0),
    ("inner lips", range(60, 68), 5.0),
)


def landmark_sigmas(jaw: float | None = None, inner: float | None = None) -> np.ndarray:
    """The 68 noise levels (px) of LANDMARK_NOISE_PX (later groups override earlier ones);
    `jaw` / `inner` replace the jaw's / every other landmark's level when given."""
    s = np.zeros(68)
    for _, ids, sigma in LANDMARK_NOISE_PX:
        s[list(ids)] = sigma
    if jaw is not None:
        s[:17] = jaw
    if inner is not None:
        s[17:] = inner
    return s

#: Focal length (px, 500x500 crop) of the identity fit's camera (docs/fitting.md: real crops are
#: seen from farther than the crop camera's 0.5 m; a close camera flattens the fitted faces).
IDENTITY_FOCAL = 2500.0

#: Robust weight below which a landmark counts as down-weighted: with the default Tukey cut-off
#: (4 sigmas) a residual above 3.4 sigmas (a 2D Gaussian point: 0.3% of the time).
DOWNWEIGHTED = 0.1


@dataclass(frozen=True)
class FitResult:
    """Pose (model -> camera: rvec Rodrigues rad, tvec mm) + expression of one image."""

    rvec: np.ndarray  # (3,) pose used downstream
    tvec: np.ndarray  # (3,)
    expr: np.ndarray  # (E,) float32, in [-3, 3]
    alpha: np.ndarray  # (K,) float32 identity used
    rmse_px: float  # landmark RMSE (px) at the downstream pose
    mode: str = "faithful"
    pose_choice: str = "epnp"
    epnp_rvec: np.ndarray = field(default_factory=lambda: np.zeros(3))
    epnp_tvec: np.ndarray = field(default_factory=lambda: np.zeros(3))
    refined_rvec: np.ndarray = field(default_factory=lambda: np.zeros(3))
    refined_tvec: np.ndarray = field(default_factory=lambda: np.zeros(3))
    rmse_px_epnp: float = 0.0
    rmse_px_refined: float = 0.0
    cost_initial: float = 0.0  # cost as written at the EPnP pose, zero expression
    cost_final: float = 0.0  # cost as written at the refined pose and final expression
    cost_minimised: float = 0.0  # lowest cost as written reached (best: before stage 2)
    landmarks_used: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    landmark_vertices: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    iterations_pose: int = 0
    iterations_expr: int = 0


@dataclass(frozen=True)
class IdentityResult:
    """Identity + expression + pose fitted from landmarks with the model's prior (robust MAP)."""

    alpha: np.ndarray  # (K,) float32
    expr: np.ndarray  # (E,) float32
    rvec: np.ndarray  # (3,)
    tvec: np.ndarray  # (3,)
    rmse_px: float  # over all 68 landmarks, outliers included
    landmarks_used: np.ndarray
    iterations: int
    vertices: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))  # (68,) at the end
    residuals: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # (68, 2) px
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (68,) robust weights
    sigmas: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (68,) noise model (px)
    focal: float = FOCAL  # camera (px) of rvec / tvec

    @property
    def downweighted(self) -> np.ndarray:
        """Landmark numbers (0-based) the robust loss down-weighted (weight < DOWNWEIGHTED)."""
        return np.flatnonzero(np.asarray(self.weights) < DOWNWEIGHTED).astype(np.int32)


def _landmarks(landmarks: npt.ArrayLike) -> np.ndarray:
    """Landmarks as a (68, 2) float32 array; ValueError otherwise."""
    lm = np.asarray(landmarks, dtype=np.float32)
    if lm.shape != (68, 2):
        raise ValueError(f"landmarks: expected shape (68, 2), got {lm.shape}")
    return np.ascontiguousarray(lm)


def fit_pose_expression(
    model: MorphableModel,
    landmarks: npt.ArrayLike,
    alpha: npt.ArrayLike | None = None,
    mode: Mode = "faithful",
    pose: PoseChoice | None = None,
) -> FitResult:
    """Fit pose + expression of identity alpha (None: mean face) to 68 landmarks (px, 500x500 crop).

    pose: which pose becomes rvec/tvec; default "epnp" for faithful (as the original) and
    "refined" for best.
    """
    if mode not in ("faithful", "best"):
        raise ValueError(f"mode: expected 'faithful' or 'best', got {mode!r}")
    if pose not in (None, "epnp", "refined"):
        raise ValueError(f"pose: expected 'epnp' or 'refined', got {pose!r}")
    a = np.zeros(model.num_shape, np.float32) if alpha is None else alpha
    a = np.asarray(a, dtype=np.float32).reshape(-1)
    if a.size != model.num_shape:
        raise ValueError(f"alpha: expected {model.num_shape} identity coefficients, got {a.size}")
    d = _core.fit_pose_expression(
        model.core, _landmarks(landmarks), a, FOCAL, WIDTH, HEIGHT, mode
    )
    choice = pose or ("epnp" if mode == "faithful" else "refined")
    r, t = (d["epnp_rvec"], d["epnp_tvec"]) if choice == "epnp" else (
        d["refined_rvec"], d["refined_tvec"])
    return FitResult(
        rvec=np.asarray(r), tvec=np.asarray(t), expr=np.asarray(d["expr"], np.float32),
        alpha=np.asarray(d["alpha"], np.float32),
        rmse_px=float(d["rmse_px_epnp"] if choice == "epnp" else d["rmse_px_refined"]),
        mode=mode, pose_choice=choice,
        epnp_rvec=np.asarray(d["epnp_rvec"]), epnp_tvec=np.asarray(d["epnp_tvec"]),
        refined_rvec=np.asarray(d["refined_rvec"]), refined_tvec=np.asarray(d["refined_tvec"]),
        rmse_px_epnp=float(d["rmse_px_epnp"]), rmse_px_refined=float(d["rmse_px_refined"]),
        cost_initial=float(d["cost_initial"]), cost_final=float(d["cost_final"]),
        cost_minimised=float(d["cost_minimised"]),
        landmarks_used=np.asarray(d["landmarks_used"], np.int32),
        landmark_vertices=np.asarray(d["landmark_vertices"], np.int32),
        iterations_pose=int(d["iterations_pose"]), iterations_expr=int(d["iterations_expr"]),
    )


def fit_identity(
    model: MorphableModel,
    landmarks: npt.ArrayLike,
    *,
    sigmas: npt.ArrayLike | None = None,
    prior_weight: float = IDENTITY_DEFAULTS["prior_weight"],
    expr_sigma: float = IDENTITY_DEFAULTS["expr_sigma"],
    expr_min: float = -3.0,
    huber: float = IDENTITY_DEFAULTS["huber"],
    tukey: float = IDENTITY_DEFAULTS["tukey"],
    iterations: int = 6,
    contour: bool = True,
    occlusion: bool = True,
    focal: float = IDENTITY_FOCAL,
    focal_sigma: float = IDENTITY_DEFAULTS["focal_sigma"],
) -> IdentityResult:
    """Fit identity + expression + pose to 68 landmarks (px): robust MAP (see docs/fitting.md).

    sigmas: the 68 landmark noise levels (px; default landmark_sigmas()); prior_weight:
    multiplies the Gaussian prior (1 = exact MAP); expr_sigma: prior standard deviation of the
    expression coefficients; expr_min: their lower bound (upper: 3); huber: robust threshold in
    sigmas (0 = least squares); tukey: > 0 switches to Tukey's biweight with this cut-off
    (sigmas) after two Huber rounds;
    contour: jaw landmarks matched to the occluding contour (False: fixed vertices);
    occlusion: with contour, a jaw landmark keeps its fixed vertex while that vertex is visible
    (not hidden by the surface), else takes the nearest silhouette vertex (False: the fixed
    vertex only competes by distance when a triangle at it faces the camera);
    focal: the camera (px, 500x500 crop) the identity is fitted with; focal_sigma > 0 fits the
    focal length too (prior N(0, focal_sigma^2) on log(fitted / focal)); the returned pose is
    in the camera of IdentityResult.focal.
    """
    sig = landmark_sigmas() if sigmas is None else np.asarray(sigmas, np.float64).reshape(-1)
    d = _core.fit_identity(
        model.core, _landmarks(landmarks), focal, WIDTH, HEIGHT, sig, prior_weight, expr_sigma,
        expr_min, huber, tukey, iterations, contour, occlusion, focal_sigma,
    )
    return IdentityResult(
        alpha=np.asarray(d["alpha"], np.float32), expr=np.asarray(d["expr"], np.float32),
        rvec=np.asarray(d["rvec"]), tvec=np.asarray(d["tvec"]), rmse_px=float(d["rmse_px"]),
        landmarks_used=np.asarray(d["landmarks_used"], np.int32),
        iterations=int(d["iterations"]), vertices=np.asarray(d["vertices"], np.int32),
        residuals=np.asarray(d["residuals"]), weights=np.asarray(d["weights"]),
        sigmas=np.asarray(d["sigmas"]), focal=float(d["focal"]),
    )


def pose_from_identity(model: MorphableModel, landmarks: npt.ArrayLike, ident: IdentityResult
                       ) -> FitResult:
    """The identity fit's rotation and expression as a FitResult of the crop camera (FOCAL).

    The identity fit runs with its own camera (IDENTITY_FOCAL); its rotation, expression and
    landmark vertices (jaw on the silhouette) are kept and the translation is solved again for
    the crop camera by weighted least squares on the landmarks it did not down-weight (the
    perspective residual linearised as (u - cx) Z + f X = 0, (v - cy) Z - f Y = 0, rows divided
    by the depth, two passes). mode 'identity'; rmse_px over those landmarks.
    """
    lm = _landmarks(landmarks).astype(np.float64)
    rvec = np.asarray(ident.rvec, np.float64)
    expr = np.asarray(ident.expr, np.float32)
    verts = model.shape(ident.alpha, expr).astype(np.float64)[np.asarray(ident.vertices)]
    rot = cv2.Rodrigues(rvec)[0]
    rx = verts @ rot.T
    used = np.flatnonzero(np.asarray(ident.weights) >= DOWNWEIGHTED)
    w = np.sqrt(np.asarray(ident.weights)[used]) / np.asarray(ident.sigmas)[used]
    du, dv = lm[used, 0] - WIDTH / 2, lm[used, 1] - HEIGHT / 2
    p = rx[used]
    tvec = np.asarray(ident.tvec, np.float64) * (FOCAL / ident.focal)
    for _ in range(2):
        depth = np.maximum(-(p[:, 2] + tvec[2]), 1.0)
        s = w / depth
        zeros = np.zeros_like(du)
        a = np.concatenate([np.stack([np.full_like(du, FOCAL), zeros, du], 1),
                            np.stack([zeros, np.full_like(dv, -FOCAL), dv], 1)])
        b = np.concatenate([-(du * p[:, 2] + FOCAL * p[:, 0]), -(dv * p[:, 2] - FOCAL * p[:, 1])])
        ss = np.concatenate([s, s])
        tvec = np.linalg.lstsq(a * ss[:, None], b * ss, rcond=None)[0]
    cam = rx + tvec
    uv = np.stack([-FOCAL * cam[:, 0] / cam[:, 2] + WIDTH / 2,
                   FOCAL * cam[:, 1] / cam[:, 2] + HEIGHT / 2], axis=1)
    rmse = float(np.sqrt(np.mean(np.sum((uv[used] - lm[used]) ** 2, axis=1))))
    return FitResult(
        rvec=rvec, tvec=tvec, expr=expr, alpha=np.asarray(ident.alpha, np.float32),
        rmse_px=rmse, mode="identity", pose_choice="identity", epnp_rvec=rvec, epnp_tvec=tvec,
        refined_rvec=rvec, refined_tvec=tvec, rmse_px_epnp=rmse, rmse_px_refined=rmse,
        landmarks_used=used.astype(np.int32),
        landmark_vertices=np.asarray(ident.vertices, np.int32),
        iterations_pose=int(ident.iterations),
    )
