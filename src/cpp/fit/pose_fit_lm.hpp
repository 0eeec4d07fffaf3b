// 'best' pose + expression fit: Levenberg-Marquardt with analytic Jacobians on the same cost as
// the original (8 * RMSE + expression prior + pose prior, landmark vertices re-selected by yaw).
#pragma once
#include <Eigen/Core>

#include "fit/fit_result.hpp"
#include "fit/pose_cost.hpp"

namespace extreme3d::fit {

/// Which terms the minimiser optimises and includes.
struct LmOptions {
    bool optimise_pose = true;   ///< rotation and translation free
    bool optimise_expr = true;   ///< expression free (clamped to [-3, 3])
    bool pose_prior = true;      ///< include (r - r0)^2/(pi/6)^2 + (t - t0)^2/900
    bool expr_prior = true;      ///< include sum e^2 / (0.5 * 29)
    int max_iterations = 100;    ///< accepted-or-rejected LM iterations
};

/// Outcome of minimise_cost.
struct LmOutcome {
    Pose pose;
    Eigen::VectorXd expr;
    double cost = 0;      ///< final cost (with the enabled terms)
    int iterations = 0;   ///< LM iterations run
};

/// Minimises 8 * RMSE(px) (+ enabled priors, centred on `prior`) over pose and/or expression by
/// Levenberg-Marquardt. The Hessian of 8 sqrt(S/n) is taken exactly up to the residuals' second
/// derivatives: c (J^T J - J^T r r^T J / S), c = 8 / (n RMSE), which is positive semi-definite.
/// A step is kept only when it lowers the cost as written (with vertex re-selection).
LmOutcome minimise_cost(const LandmarkTerms& terms, const Pose& prior, const Pose& start,
                        const Eigen::VectorXd& expr0, const Camera& cam, const LmOptions& options);

/// Best-mode fit: the same two-EPnP start as the original, then minimise_cost on the full cost;
/// the result's `pose` is the refined pose.
PoseExprFit fit_pose_expression_lm(const FaceModel& model, const Eigen::VectorXf& alpha,
                                   const MatrixX2f& landmarks, const Camera& cam);

/// d(R(v) p)/dv (3 x 3) for a Rodrigues vector v (Gallego & Yezzi 2015).
Eigen::Matrix3d rotated_point_jacobian(const Eigen::Vector3d& v, const Eigen::Matrix3d& R, const Eigen::Vector3d& p);

}  // namespace extreme3d::fit
