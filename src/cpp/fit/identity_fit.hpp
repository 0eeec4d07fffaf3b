// Identity + expression + pose from 68 landmarks with the model's Gaussian prior (used when no
// shape-CNN coefficients exist, e.g. with the open Surrey model).
#pragma once
#include <Eigen/Core>
#include <vector>

#include "model/camera.hpp"
#include "model/face_model.hpp"

namespace extreme3d::fit {

/// Settings of fit_identity. The regularisation weights are in px^2 per unit coefficient^2:
/// the fit minimises sum of squared (depth-normalised) landmark residuals (px^2)
/// + lambda_identity |alpha|^2 + lambda_expr |expr|^2 (coefficients in standard deviations),
/// i.e. a MAP estimate for landmark noise of sqrt(lambda) px per coordinate.
struct IdentityFitOptions {
    double lambda_identity = 4.0;  ///< identity prior weight (px^2): 2 px landmark noise
    double lambda_expr = 4.0;      ///< expression prior weight (px^2)
    int iterations = 8;            ///< pose / shape alternations
};

/// Result of fit_identity.
struct IdentityFit {
    Eigen::VectorXf alpha;          ///< K identity coefficients (units of shape_ev)
    Eigen::VectorXf expr;           ///< E expression coefficients, in [-3, 3]
    Pose pose;                      ///< final pose (model -> camera)
    double rmse_px = 0;             ///< landmark RMSE (px) over the used landmarks
    std::vector<int> landmarks_used;///< landmark numbers used at the final yaw
    int iterations = 0;             ///< alternations run
};

/// Alternates (1) the pose (EPnP start as the original, then Levenberg-Marquardt on the landmark
/// RMSE without priors) and (2) identity + expression given the pose by regularised linear least
/// squares on the perspective residual linearised as (u - cx) Z + f X = 0, (v - cy) Z - f Y = 0
/// and divided by the current depth (so the rows are in px). Landmark visibility and the
/// inner/outer vertex choice follow the yaw as in the original. landmarks: 68 x 2 px.
IdentityFit fit_identity(const FaceModel& model, const MatrixX2f& landmarks, const Camera& cam,
                         const IdentityFitOptions& options = {});

}  // namespace extreme3d::fit
