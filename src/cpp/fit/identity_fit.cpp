// Joint identity / expression / pose fit from landmarks by alternation.
#include "fit/identity_fit.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

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

// Landmark terms whose 'expression' basis is [identity basis | expression basis] (3 x (K + E)),
// so that LandmarkTerms::point(k, yaw, theta) with theta = [alpha; expr] gives the full shape.
LandmarkTerms joint_terms(const FaceModel& model, const MatrixX2f& landmarks, const std::vector<int>& numbers) {
    const int K = model.num_shape(), E = model.num_expr();
    LandmarkTerms t;
    t.numbers = numbers;
    t.target.resize(static_cast<Eigen::Index>(numbers.size()), 2);
    const Eigen::RowVectorXd sev = model.shape_ev.cast<double>().transpose();
    const Eigen::RowVectorXd eev = model.exp_ev.cast<double>().transpose();
    for (std::size_t k = 0; k < numbers.size(); ++k) {
        t.target.row(k) = landmarks.row(numbers[k]).cast<double>();
        for (int s = 0; s < 2; ++s) {
            const int v = s ? model.inner_landmarks(numbers[k]) : model.outer_landmarks(numbers[k]);
            Eigen::Vector3d b;
            Eigen::Matrix3Xd basis(3, K + E);
            for (int j = 0; j < 3; ++j) {
                const int row = 3 * v + j;
                b(j) = double(model.shape_mu(row)) + double(model.exp_mu(row));
                basis.row(j).head(K) = model.shape_pc.row(row).cast<double>().cwiseProduct(sev);
                basis.row(j).tail(E) = model.exp_pc.row(row).cast<double>().cwiseProduct(eev);
            }
            t.base[s].push_back(b);
            t.basis[s].push_back(basis);
        }
    }
    return t;
}

// Objective of the joint refinement: squared landmark residuals (px^2) + the Gaussian prior.
double joint_objective(const LandmarkTerms& t, const Pose& pose, const Eigen::VectorXd& theta,
                       const Eigen::VectorXd& prior, const Camera& cam) {
    const double rmse = landmark_rmse(t, pose, theta, cam);
    return rmse * rmse * t.size() + theta.cwiseProduct(prior).dot(theta);
}

// Levenberg-Marquardt on pose + [alpha; expr] jointly for the regularised least-squares
// objective (the alternation alone converges slowly along the size / distance ambiguity).
void joint_refine(const FaceModel& model, const MatrixX2f& landmarks, const std::vector<int>& numbers,
                  const Camera& cam, const IdentityFitOptions& o, Pose& pose, Eigen::VectorXd& theta, int max_iter) {
    const int K = model.num_shape(), E = model.num_expr(), np = 6 + K + E;
    const LandmarkTerms t = joint_terms(model, landmarks, numbers);
    Eigen::VectorXd prior(K + E);
    prior.head(K).setConstant(o.lambda_identity);
    prior.tail(E).setConstant(o.lambda_expr);
    const double f = cam.focal;
    double obj = joint_objective(t, pose, theta, prior, cam);
    double lambda = 1e-3;
    for (int it = 0; it < max_iter; ++it) {
        const Eigen::Matrix3d R = rodrigues_to_matrix(pose.rvec);
        const double yaw = -pose.rvec(1);
        const int n = t.size();
        Eigen::VectorXd r(2 * n);
        Eigen::MatrixXd J(2 * n, np);
        for (int k = 0; k < n; ++k) {
            const Eigen::Vector3d p = t.point(k, yaw, theta);
            const Eigen::Vector3d xc = R * p + pose.tvec;
            const double iz = 1.0 / xc.z();
            r(2 * k) = -f * xc.x() * iz + cam.cx() - t.target(k, 0);
            r(2 * k + 1) = f * xc.y() * iz + cam.cy() - t.target(k, 1);
            Eigen::Matrix<double, 2, 3> dproj;
            dproj << -f * iz, 0, f * xc.x() * iz * iz, 0, f * iz, -f * xc.y() * iz * iz;
            J.block<2, 3>(2 * k, 0) = dproj * rotated_point_jacobian(pose.rvec, R, p);
            J.block<2, 3>(2 * k, 3) = dproj;
            J.block(2 * k, 6, 2, K + E) = dproj * R * t.point_basis(k, yaw);
        }
        Eigen::VectorXd g = J.transpose() * r;
        g.tail(K + E) += prior.cwiseProduct(theta);
        Eigen::MatrixXd H = J.transpose() * J;
        H.diagonal().tail(K + E) += prior;
        bool accepted = false;
        double gain = 0;
        while (lambda < 1e10) {
            Eigen::MatrixXd A = H;
            A.diagonal() += lambda * H.diagonal().cwiseMax(1e-9);
            const Eigen::VectorXd d = A.ldlt().solve(-g);
            const Pose trial{pose.rvec + d.head<3>(), pose.tvec + d.segment<3>(3)};
            Eigen::VectorXd th = theta + d.tail(K + E);
            th.tail(E) = th.tail(E).cwiseMax(-3.0).cwiseMin(3.0);
            const double tobj = joint_objective(t, trial, th, prior, cam);
            if (std::isfinite(tobj) && tobj < obj) {
                gain = obj - tobj;
                pose = trial;
                theta = th;
                obj = tobj;
                lambda = std::max(lambda / 3, 1e-12);
                accepted = true;
                break;
            }
            lambda *= 4;
        }
        if (!accepted || gain < 1e-10 * (1 + obj)) break;
    }
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
    // Joint refinement of everything, twice (the landmark list follows the yaw in between).
    for (int pass = 0; pass < 2; ++pass) {
        Eigen::VectorXd theta(K + E);
        theta << alpha, expr;
        joint_refine(model, landmarks, numbers, cam, o, pose, theta, 50);
        alpha = theta.head(K);
        expr = theta.tail(E);
        numbers = used_landmarks(-pose.rvec(1));
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
