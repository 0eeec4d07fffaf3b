// Joint identity / expression / pose fit from landmarks by alternation.
#include "fit/identity_fit.hpp"

#include <Eigen/Dense>
#include <algorithm>

#include "fit/epnp.hpp"
#include "fit/landmark_selection.hpp"
#include "fit/pose_cost.hpp"
#include "fit/pose_fit_lm.hpp"
#include "fit/pose_init.hpp"

namespace extreme3d::fit {

namespace {

// Landmark numbers used at a yaw: the visible 0..59 of the original plus the inner mouth.
std::vector<int> used_landmarks(double yaw) {
    std::vector<int> numbers = visible_landmarks(static_cast<float>(yaw));
    for (int i = 60; i < 68; ++i) numbers.push_back(i);
    return numbers;
}

// Identity + expression given the pose: regularised linear least squares (see header).
void solve_shape(const FaceModel& model, const MatrixX2f& landmarks, const std::vector<int>& numbers,
                 const Pose& pose, const Camera& cam, const IdentityFitOptions& o, Eigen::VectorXd& alpha,
                 Eigen::VectorXd& expr) {
    const int K = model.num_shape(), E = model.num_expr(), n = static_cast<int>(numbers.size());
    const Eigen::Matrix3d R = rodrigues_to_matrix(pose.rvec);
    const double yaw = -pose.rvec(1);
    const Eigen::VectorXd sev = model.shape_ev.cast<double>(), eev = model.exp_ev.cast<double>();
    Eigen::MatrixXd M(2 * n, K + E);
    Eigen::VectorXd b(2 * n);
    for (int k = 0; k < n; ++k) {
        const int num = numbers[k];
        const int v = uses_inner_vertex(k, yaw) ? model.inner_landmarks(num) : model.outer_landmarks(num);
        Eigen::Matrix3Xd A(3, K + E);
        Eigen::Vector3d m;
        for (int j = 0; j < 3; ++j) {
            const int row = 3 * v + j;
            A.row(j).head(K) = model.shape_pc.row(row).cast<double>().cwiseProduct(sev.transpose());
            A.row(j).tail(E) = model.exp_pc.row(row).cast<double>().cwiseProduct(eev.transpose());
            m(j) = double(model.shape_mu(row)) + double(model.exp_mu(row));
        }
        const Eigen::Vector3d xcur = R * (m + A.leftCols(K) * alpha + A.rightCols(E) * expr) + pose.tvec;
        const double depth = std::max(-xcur.z(), 1.0);
        const double du = landmarks(num, 0) - cam.cx(), dv = landmarks(num, 1) - cam.cy();
        const Eigen::RowVector3d qu = cam.focal * R.row(0) + du * R.row(2);
        const Eigen::RowVector3d qv = dv * R.row(2) - cam.focal * R.row(1);
        const double cu = cam.focal * pose.tvec.x() + du * pose.tvec.z();
        const double cv = dv * pose.tvec.z() - cam.focal * pose.tvec.y();
        M.row(2 * k) = qu * A / depth;
        b(2 * k) = -(qu.dot(m) + cu) / depth;
        M.row(2 * k + 1) = qv * A / depth;
        b(2 * k + 1) = -(qv.dot(m) + cv) / depth;
    }
    Eigen::MatrixXd N = M.transpose() * M;
    N.diagonal().head(K).array() += o.lambda_identity;
    N.diagonal().tail(E).array() += o.lambda_expr;
    const Eigen::VectorXd theta = N.ldlt().solve(M.transpose() * b);
    alpha = theta.head(K);
    expr = theta.tail(E).cwiseMax(-3.0).cwiseMin(3.0);
}

}  // namespace

IdentityFit fit_identity(const FaceModel& model, const MatrixX2f& landmarks, const Camera& cam,
                         const IdentityFitOptions& o) {
    const int K = model.num_shape(), E = model.num_expr();
    Eigen::VectorXd alpha = Eigen::VectorXd::Zero(K), expr = Eigen::VectorXd::Zero(E);
    const PoseInit init = initial_pose(model, Eigen::VectorXf::Zero(K), landmarks, cam);
    Pose pose{init.rvec.cast<double>(), init.tvec.cast<double>()};
    LmOptions pose_only;
    pose_only.optimise_expr = false;
    pose_only.pose_prior = false;
    pose_only.expr_prior = false;
    pose_only.max_iterations = 30;

    IdentityFit res;
    std::vector<int> numbers = used_landmarks(-pose.rvec(1));
    for (int it = 0; it < o.iterations; ++it) {
        solve_shape(model, landmarks, numbers, pose, cam, o, alpha, expr);
        const LandmarkTerms terms = make_landmark_terms(model, alpha.cast<float>(), landmarks, numbers);
        pose = minimise_cost(terms, pose, pose, expr, cam, pose_only).pose;
        numbers = used_landmarks(-pose.rvec(1));
        ++res.iterations;
    }
    res.alpha = alpha.cast<float>();
    res.expr = expr.cast<float>();
    res.pose = pose;
    res.landmarks_used = numbers;
    const LandmarkTerms terms = make_landmark_terms(model, res.alpha, landmarks, numbers);
    res.rmse_px = landmark_rmse(terms, pose, expr, cam);
    return res;
}

}  // namespace extreme3d::fit
