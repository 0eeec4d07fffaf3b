"""The robust identity fit on synthetic detector-like landmarks whose answer is known: pose and
shape recovered, outliers down-weighted and recorded, a landmark verdict that flags bad points."""

from __future__ import annotations

import numpy as np
import pytest

from extreme3d import _core, fitting
from extreme3d import synthetic_faces as sf
from extreme3d.landmark_quality import landmark_quality


@pytest.fixture(scope="module")
def region(sfm_model):
    """Face-region vertex ids of the Surrey model."""
    return sf.face_region(sfm_model)


def _face(model, seed: int, yaw: float, pitch: float):
    """A random model face at a fixed yaw / pitch (deg) and its noise-free detector landmarks."""
    rng = np.random.default_rng(seed)
    face = sf.random_face(model, rng, yaw=(yaw, yaw), pitch=(pitch, pitch), distance=(1500, 1500))
    return face, sf.detector_landmarks(model, face), rng


@pytest.mark.parametrize("yaw,pitch", [(0, 0), (-35, 10), (50, -15), (-65, 20)])
def test_known_face_recovered(sfm_model, region, yaw, pitch):
    """Noisy landmarks (3 px, jaw 6 px) of a known face: rotation within 5 deg, face-region
    vertex error below the mean face's, no landmark down-weighted by much."""
    face, lms, rng = _face(sfm_model, 100 + yaw, yaw, pitch)
    noisy, _ = sf.corrupt(lms, rng)
    fit = fitting.fit_identity(sfm_model, noisy)
    true = sfm_model.shape(face.alpha, face.expr)
    err = sf.rigid_error(sfm_model.shape(fit.alpha, fit.expr), true, region)
    err_mean = sf.rigid_error(sfm_model.shape(None, fit.expr), true, region)
    assert sf.rotation_error_deg(fit.rvec, face.rvec) < 5.0
    assert err < err_mean
    assert fit.rmse_px < 8.0
    assert fit.weights.shape == (68,) and fit.residuals.shape == (68, 2)
    assert landmark_quality(fit).ok


def test_jaw_follows_the_silhouette(sfm_model):
    """On a turned face the far-side jaw landmarks (on the outline) are matched to vertices other
    than their fixed ones, and the fit reproduces them better than with fixed vertices."""
    face, lms, _ = _face(sfm_model, 7, 55, 0)
    moving = fitting.fit_identity(sfm_model, lms, huber=0, tukey=0)
    fixed = fitting.fit_identity(sfm_model, lms, huber=0, tukey=0, contour=False)
    jaw = np.arange(17)
    assert np.any(moving.vertices[jaw] != sfm_model.outer_landmarks[jaw])
    np.testing.assert_array_equal(fixed.vertices, sfm_model.outer_landmarks)
    jaw_err = np.linalg.norm(moving.residuals[jaw], axis=1).mean()
    assert jaw_err < np.linalg.norm(fixed.residuals[jaw], axis=1).mean()
    assert jaw_err < 3.0


def test_outlier_down_weighted_and_recorded(sfm_model, region):
    """One eye corner moved 60 px: its weight drops below 0.1, it is listed, the others keep
    full weight, and the shape and pose stay close to the fit without the outlier (much closer
    than a least-squares fit's)."""
    face, lms, rng = _face(sfm_model, 11, 20, 5)
    noisy, _ = sf.corrupt(lms, rng)
    bad = noisy.copy()
    bad[36] += [60.0, -15.0]
    clean = fitting.fit_identity(sfm_model, noisy)
    fit = fitting.fit_identity(sfm_model, bad)
    assert 36 in fit.downweighted.tolist()
    assert fit.downweighted.size <= 2
    q = landmark_quality(fit)
    assert 36 in q.downweighted and q.ok
    true = sfm_model.shape(face.alpha, face.expr)
    e_clean = sf.rigid_error(sfm_model.shape(clean.alpha, clean.expr), true, region)
    e_bad = sf.rigid_error(sfm_model.shape(fit.alpha, fit.expr), true, region)
    assert e_bad < 1.2 * e_clean + 0.2
    # the outlier drags the least-squares fit away from the clean one, not the robust fit
    plain = fitting.fit_identity(sfm_model, bad, huber=0, tukey=0)
    ref = sfm_model.shape(clean.alpha, clean.expr)
    drag_robust = sf.rigid_error(sfm_model.shape(fit.alpha, fit.expr), ref, region)
    drag_plain = sf.rigid_error(sfm_model.shape(plain.alpha, plain.expr), ref, region)
    assert drag_robust < 0.5 * drag_plain
    rot_robust = sf.rotation_error_deg(fit.rvec, clean.rvec)
    assert rot_robust < 0.5 * sf.rotation_error_deg(plain.rvec, clean.rvec)


def test_quality_flags_jaw_on_background(sfm_model):
    """The far-side jaw (0..5) pushed 60 px outwards onto the background, as dlib does on a
    turned face: the points are down-weighted and the verdict is a warning naming the jaw."""
    face, lms, rng = _face(sfm_model, 5, -35, 0)
    noisy, _ = sf.corrupt(lms, rng)
    centre = noisy[27:36].mean(axis=0)
    bad = noisy.copy()
    for j in range(6):
        d = bad[j] - centre
        bad[j] += 60.0 * d / np.linalg.norm(d)
    good_q = landmark_quality(fitting.fit_identity(sfm_model, noisy))
    fit = fitting.fit_identity(sfm_model, bad)
    q = landmark_quality(fit)
    assert good_q.ok and good_q.warning == ""
    assert not q.ok
    assert "jaw" in q.warning
    assert set(range(3)) <= set(q.downweighted)
    assert sf.rotation_error_deg(fit.rvec, face.rvec) < 5.0


def test_detector_landmarks_put_hidden_jaw_on_the_outline(sfm_model):
    """Inner points at their vertices; a jaw point at its vertex or on the rendered outline;
    turned 60 deg: several far jaw points moved onto the outline, away from their vertices."""
    face, lms, _ = _face(sfm_model, 3, 0, 0)
    uv, _ = sf.project(sfm_model.shape(face.alpha, face.expr), face.rvec, face.tvec, face.focal)
    np.testing.assert_allclose(lms[17:], uv[sfm_model.outer_landmarks[17:]])
    line = sf.outline(uv, sfm_model.faces_fill)
    for j in range(17):  # at its vertex, or (hidden behind the cheek) on the outline
        at_vertex = np.allclose(lms[j], uv[sfm_model.outer_landmarks[j]])
        assert at_vertex or np.min(np.linalg.norm(line - lms[j], axis=1)) < 1e-9
    face, lms, _ = _face(sfm_model, 3, 60, 0)
    verts = sfm_model.shape(face.alpha, face.expr)
    uv, _ = sf.project(verts, face.rvec, face.tvec, face.focal)
    moved = np.linalg.norm(lms[:17] - uv[sfm_model.outer_landmarks[:17]], axis=1) > 2.0
    assert moved.sum() >= 3
    faces = sfm_model.faces_fill
    line = sf.outline(uv, faces)
    for j in np.flatnonzero(moved):
        assert np.min(np.linalg.norm(line - lms[j], axis=1)) < 1e-9


def test_fit_identity_rejects_bad_options(sfm_model):
    """Non-positive or missing sigmas, or a negative prior weight, are a ValueError."""
    lms = sf.detector_landmarks(sfm_model, sf.random_face(sfm_model, np.random.default_rng(0)))
    sig = fitting.landmark_sigmas()
    assert sig[0] == 6.0 and sig[36] == 3.0 and sig[48] == 5.0 and sig[62] == 5.0
    with pytest.raises(ValueError, match="sigmas"):
        _core.fit_identity(sfm_model.core, lms.astype(np.float32), sigmas=np.zeros(68))
    with pytest.raises(ValueError, match="sigmas"):
        fitting.fit_identity(sfm_model, lms, sigmas=np.ones(60))
    with pytest.raises(ValueError, match="prior_weight"):
        fitting.fit_identity(sfm_model, lms, prior_weight=-1.0)


def test_batch_pose_from_the_identity_fit(sfm_model):
    """pose_from_identity: the identity fit's rotation and expression in the crop camera (focal
    1000) with the translation solved again: a face 600 mm from that camera is found at its
    distance (within 10%), the rotation within 5 deg, and its landmark vertices reproject onto
    the landmarks it used within the noise."""
    rng = np.random.default_rng(17)
    face = sf.random_face(sfm_model, rng, yaw=(30, 30), pitch=(-10, -10), distance=(600, 600))
    noisy, _ = sf.corrupt(sf.detector_landmarks(sfm_model, face), rng)
    ident = fitting.fit_identity(sfm_model, noisy)
    fit = fitting.pose_from_identity(sfm_model, noisy, ident)
    assert fit.mode == "identity"
    np.testing.assert_array_equal(fit.rvec, ident.rvec)
    np.testing.assert_array_equal(fit.expr, ident.expr)
    assert abs(fit.tvec[2] / face.tvec[2] - 1) < 0.1
    assert sf.rotation_error_deg(fit.rvec, face.rvec) < 5.0
    verts = sfm_model.shape(ident.alpha, ident.expr)[fit.landmark_vertices]
    uv, _ = sf.project(verts, fit.rvec, fit.tvec)
    err = np.linalg.norm(uv - noisy, axis=1)[fit.landmarks_used]
    assert np.sqrt(np.mean(err**2)) == pytest.approx(fit.rmse_px) and fit.rmse_px < 8.0


@pytest.mark.parametrize("sigma", [1e-200, -1.0, float("nan"), float("inf")])
def test_focal_prior_width_out_of_range_is_refused(sfm_model, sigma):
    """A focal prior so narrow that its weight overflows (or a negative / non-finite width)
    is a ValueError, not a fit that silently never leaves its start."""
    _, lms, _ = _face(sfm_model, 7, 0, 0)
    with pytest.raises(ValueError, match="focal_sigma"):
        fitting.fit_identity(sfm_model, lms, focal_sigma=sigma)
