// 'faithful' pose + expression fit: the original's estimatePoseExpr (two EPnP runs, then a
// diagonal-Newton optimiser with finite differences, in float, with its constants and quirks).
#pragma once
#include "fit/fit_result.hpp"
#include "model/camera.hpp"
#include "model/face_model.hpp"

namespace extreme3d::fit {

/// Fits pose and expression of identity alpha (K) to 68 landmarks (68 x 2 px) like the original:
/// cost 8 * RMSE + e^2/(0.5*29) + pose prior; 60 pose+expression steps (Hessian diagonal every 20),
/// then up to 140 expression-only steps (Hessian every 60); a phase stops at a Hessian refresh
/// after more than 10 failed line searches (counter reset per image, unlike the original).
/// The result's `pose` is the second EPnP pose, as the original uses downstream.
PoseExprFit fit_pose_expression_faithful(const FaceModel& model, const Eigen::VectorXf& alpha,
                                         const MatrixX2f& landmarks, const Camera& cam);

}  // namespace extreme3d::fit
