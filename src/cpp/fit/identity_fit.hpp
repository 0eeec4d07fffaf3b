// Identity + expression + pose from 68 landmarks with the model's prior (used when no
// shape-CNN coefficients exist, e.g. with the open Surrey model): silhouette correspondences
// for the jaw contour, a per-group landmark noise model and a robust (Huber) loss.
#pragma once
#include <Eigen/Core>
#include <vector>

#include "model/camera.hpp"
#include "model/face_model.hpp"

namespace extreme3d::fit {

/// Settings of fit_identity. The fit minimises the MAP objective
///   sum_i w_i |r_i|^2 / sigma_i^2 + prior_weight (|alpha|^2 + |expr / expr_sigma|^2)
/// over pose, alpha (identity, in standard deviations) and expr, where r_i is landmark i's
/// reprojection residual (px), sigma_i its noise (per landmark, e.g. by group: the jaw contour
/// is noisier than the eye corners) and w_i its robust weight (Huber: 1 while |r_i| <= huber * sigma, huber sigma / |r_i|
/// beyond; or, from the third outer iteration on when tukey > 0, Tukey's biweight
/// (1 - (|r_i| / (tukey sigma))^2)^2, 0 beyond), recomputed with the jaw correspondences at
/// every outer iteration.
struct IdentityFitOptions {
    Eigen::VectorXd sigmas;      ///< 68 landmark noise levels (px per coordinate); empty: 6 jaw, 3 others
    double prior_weight = 1.0;   ///< multiplies the Gaussian prior (1: the exact MAP weight)
    double expr_sigma = 0.5;     ///< prior standard deviation of the expression coefficients
    double expr_min = -3.0;      ///< lower bound of the expression (0: one-sided blendshapes), upper 3
    double huber = 2.0;          ///< Huber threshold in sigmas (<= 0: plain least squares)
    double tukey = 0.0;          ///< > 0: Tukey biweight cut-off (sigmas) after two Huber rounds
    int iterations = 6;          ///< outer iterations (correspondences + robust weights)
    bool contour = true;         ///< jaw landmarks follow the occluding contour (false: fixed vertices)
    double focal_sigma = 0.5;    ///< > 0: the focal length is fitted too, prior N(0, focal_sigma^2) on log(focal / cam.focal)
    bool occlusion = true;       ///< with contour: a jaw landmark keeps its fixed vertex while that is visible
};

/// Result of fit_identity.
struct IdentityFit {
    Eigen::VectorXf alpha;          ///< K identity coefficients (units of shape_ev)
    Eigen::VectorXf expr;           ///< E expression coefficients, in [expr_min, 3]
    Pose pose;                      ///< final pose (model -> camera)
    double rmse_px = 0;             ///< landmark RMSE (px) over all 68 landmarks
    std::vector<int> landmarks_used;///< landmark numbers used (0..67)
    std::vector<int> vertices;      ///< model vertex of each landmark at the end (68)
    MatrixX2d residuals;            ///< 68 x 2 reprojection residuals (px, fitted - given)
    Eigen::VectorXd weights;        ///< 68 robust weights in (0, 1] of the last iteration
    Eigen::VectorXd sigmas;         ///< 68 noise levels used (px)
    int iterations = 0;             ///< outer iterations run
    double focal = 0;               ///< focal length (px) of the camera of `pose` (cam.focal unless fitted)
};

/// Fits pose, identity and expression to 68 landmarks (px): the original's two-EPnP start with
/// the mean face, then `iterations` rounds of (a) jaw correspondences on the current occluding
/// contour (contour_vertices), (b) robust weights from the current residuals, (c) Levenberg-
/// Marquardt on pose + [alpha; expr] (+ log focal when focal_sigma > 0, prior N(0, focal_sigma^2) on
/// log(focal / cam.focal); the result's `focal` is the camera of its pose) for the weighted objective
/// (see IdentityFitOptions).
IdentityFit fit_identity(const FaceModel& model, const MatrixX2f& landmarks, const Camera& cam,
                         const IdentityFitOptions& options = {});

}  // namespace extreme3d::fit
