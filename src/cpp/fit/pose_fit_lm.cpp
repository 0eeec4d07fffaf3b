// Levenberg-Marquardt minimisation of the original pose + expression cost.
#include "fit/pose_fit_lm.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "fit/epnp.hpp"
#include "fit/fit_summary.hpp"
#include "fit/pose_init.hpp"

namespace extreme3d::fit {

namespace {

// Cross-product matrix [a]_x (a x b = [a]_x b).
Eigen::Matrix3d skew(const Eigen::Vector3d& a) {
    Eigen::Matrix3d m;
    m << 0, -a.z(), a.y(), a.z(), 0, -a.x(), -a.y(), a.x(), 0;
    return m;
}

// The cost with the enabled terms.
double cost_with(const LandmarkTerms& terms, const Pose& prior, const Pose& pose, const Eigen::VectorXd& expr,
                 const Camera& cam, const LmOptions& o) {
    const CostWeights w;
    double c = w.landmark * landmark_rmse(terms, pose, expr, cam);
    if (o.expr_prior) c += expr.squaredNorm() / w.expr_div;
    if (o.pose_prior)
        c += (pose.rvec - prior.rvec).squaredNorm() / w.rot_var + (pose.tvec - prior.tvec).squaredNorm() / w.trans_var;
    return c;
}

}  // namespace

Eigen::Matrix3d rotated_point_jacobian(const Eigen::Vector3d& v, const Eigen::Matrix3d& R, const Eigen::Vector3d& p) {
    const double th2 = v.squaredNorm();
    if (th2 < 1e-16) return -skew(p);
    return -R * skew(p) * ((v * v.transpose() + (R.transpose() - Eigen::Matrix3d::Identity()) * skew(v)) / th2);
}

LmOutcome minimise_cost(const LandmarkTerms& terms, const Pose& prior, const Pose& start,
                        const Eigen::VectorXd& expr0, const Camera& cam, const LmOptions& o) {
    const CostWeights w;
    const int E = static_cast<int>(expr0.size());
    const int n = terms.size();
    const int np = 6 + E;
    LmOutcome out{start, expr0, cost_with(terms, prior, start, expr0, cam, o), 0};
    double lambda = 1e-3;
    const double f = cam.focal;

    for (; out.iterations < o.max_iterations; ++out.iterations) {
        // Residuals and Jacobian at the current point (vertex choice by the current yaw).
        const Eigen::Matrix3d R = rodrigues_to_matrix(out.pose.rvec);
        const double yaw = -out.pose.rvec(1);
        Eigen::VectorXd r(2 * n);
        Eigen::MatrixXd J = Eigen::MatrixXd::Zero(2 * n, np);
        for (int k = 0; k < n; ++k) {
            const Eigen::Vector3d p = terms.point(k, yaw, out.expr);
            const Eigen::Vector3d xc = R * p + out.pose.tvec;
            const double iz = 1.0 / xc.z();
            r(2 * k) = -f * xc.x() * iz + cam.cx() - terms.target(k, 0);
            r(2 * k + 1) = f * xc.y() * iz + cam.cy() - terms.target(k, 1);
            Eigen::Matrix<double, 2, 3> dproj;
            dproj << -f * iz, 0, f * xc.x() * iz * iz, 0, f * iz, -f * xc.y() * iz * iz;
            if (o.optimise_pose) {
                J.block<2, 3>(2 * k, 0) = dproj * rotated_point_jacobian(out.pose.rvec, R, p);
                J.block<2, 3>(2 * k, 3) = dproj;
            }
            if (o.optimise_expr && E > 0) J.block(2 * k, 6, 2, E) = dproj * R * terms.point_basis(k, yaw);
        }
        const double S = std::max(r.squaredNorm(), 1e-18);
        const double c = w.landmark / (n * std::sqrt(S / n));
        const Eigen::VectorXd jtr = J.transpose() * r;
        Eigen::VectorXd g = c * jtr;
        Eigen::MatrixXd H = c * (J.transpose() * J - jtr * jtr.transpose() / S);
        Eigen::VectorXd prior_curv = Eigen::VectorXd::Zero(np);
        if (o.pose_prior && o.optimise_pose) {
            g.head<3>() += 2 * (out.pose.rvec - prior.rvec) / w.rot_var;
            g.segment<3>(3) += 2 * (out.pose.tvec - prior.tvec) / w.trans_var;
            prior_curv.head<3>().setConstant(2 / w.rot_var);
            prior_curv.segment<3>(3).setConstant(2 / w.trans_var);
        }
        if (o.expr_prior && o.optimise_expr) {
            g.tail(E) += 2 * out.expr / w.expr_div;
            prior_curv.tail(E).setConstant(2 / w.expr_div);
        }
        H.diagonal() += prior_curv;
        // Fixed parameters: identity rows so the step is zero there.
        for (int i = 0; i < np; ++i) {
            const bool free = i < 6 ? o.optimise_pose : o.optimise_expr;
            if (!free) {
                H.row(i).setZero();
                H.col(i).setZero();
                H(i, i) = 1;
                g(i) = 0;
            }
        }

        bool accepted = false;
        double gain = 0;
        while (lambda < 1e10) {
            Eigen::MatrixXd A = H;
            A.diagonal() += lambda * H.diagonal().cwiseMax(1e-9);
            const Eigen::VectorXd delta = A.ldlt().solve(-g);
            Pose trial{out.pose.rvec + delta.head<3>(), out.pose.tvec + delta.segment<3>(3)};
            Eigen::VectorXd e = (out.expr + delta.tail(E)).cwiseMax(-3.0).cwiseMin(3.0);
            const double tc = cost_with(terms, prior, trial, e, cam, o);
            if (std::isfinite(tc) && tc < out.cost) {
                gain = out.cost - tc;
                out.pose = trial;
                out.expr = e;
                out.cost = tc;
                lambda = std::max(lambda / 3, 1e-12);
                accepted = true;
                break;
            }
            lambda *= 4;
        }
        if (!accepted || gain < 1e-12 * (1 + out.cost)) {
            ++out.iterations;
            break;
        }
    }
    return out;
}

PoseExprFit fit_pose_expression_lm(const FaceModel& model, const Eigen::VectorXf& alpha,
                                   const MatrixX2f& landmarks, const Camera& cam) {
    const PoseInit init = initial_pose(model, alpha, landmarks, cam);
    const LandmarkTerms terms = make_landmark_terms(model, alpha, landmarks, init.selected);
    PoseExprFit res;
    res.mode = "best";
    res.alpha = alpha;
    res.epnp_pose.rvec = init.rvec.cast<double>();
    res.epnp_pose.tvec = init.tvec.cast<double>();
    // Stage 1: the cost as written (pose prior centred on the EPnP pose).
    const LmOutcome lm = minimise_cost(terms, res.epnp_pose, res.epnp_pose,
                                       Eigen::VectorXd::Zero(model.num_expr()), cam, LmOptions{});
    // Stage 2: without the pose prior, which only anchors the pose to the EPnP estimate (it
    // biases the depth by the EPnP error); the expression prior stays.
    LmOptions free_pose;
    free_pose.pose_prior = false;
    const LmOutcome lm2 = minimise_cost(terms, res.epnp_pose, lm.pose, lm.expr, cam, free_pose);
    res.refined_pose = lm2.pose;
    res.expr = lm2.expr.cast<float>();
    res.iterations_pose = lm.iterations;
    res.iterations_expr = lm2.iterations;
    res.pose = res.refined_pose;
    summarise_fit(res, model, terms, cam);
    res.cost_minimised = lm.cost;
    return res;
}

}  // namespace extreme3d::fit
