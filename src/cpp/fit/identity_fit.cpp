// Robust MAP fit of identity, expression and pose to landmarks, jaw on the occluding contour.
#include "fit/identity_fit.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "fit/contour_correspondence.hpp"
#include "fit/epnp.hpp"
#include "fit/pose_fit_lm.hpp"
#include "fit/pose_init.hpp"

namespace extreme3d::fit {

namespace {

// Per-landmark model terms for fixed vertices: position = base + basis * theta, theta = [alpha; expr].
struct PointTerms {
    std::vector<Eigen::Vector3d> base;        // shape_mu + exp_mu at the vertex (mm)
    std::vector<Eigen::Matrix3Xd> basis;      // [shape_pc .* shape_ev | exp_pc .* exp_ev] rows (3 x (K+E))
};

// Terms of the given vertices.
PointTerms point_terms(const FaceModel& model, const std::vector<int>& vertices) {
    const int K = model.num_shape(), E = model.num_expr();
    const Eigen::RowVectorXd sev = model.shape_ev.cast<double>().transpose();
    const Eigen::RowVectorXd eev = model.exp_ev.cast<double>().transpose();
    PointTerms t;
    for (int v : vertices) {
        Eigen::Vector3d b;
        Eigen::Matrix3Xd basis(3, K + E);
        for (int j = 0; j < 3; ++j) {
            const int row = 3 * v + j;
            b(j) = double(model.shape_mu(row)) + double(model.exp_mu(row));
            basis.row(j).head(K) = model.shape_pc.row(row).cast<double>().cwiseProduct(sev);
            basis.row(j).tail(E) = model.exp_pc.row(row).cast<double>().cwiseProduct(eev);
        }
        t.base.push_back(b);
        t.basis.push_back(basis);
    }
    return t;
}

// Full shape (V x 3, mm) of theta = [alpha; expr].
MatrixX3d shape_of(const FaceModel& model, const Eigen::VectorXd& theta) {
    const int K = model.num_shape(), E = model.num_expr();
    const Eigen::VectorXf a = theta.head(K).cast<float>(), e = theta.tail(E).cast<float>();
    const Eigen::VectorXf flat = model.identity(a) + model.expression(e);
    MatrixX3d out(model.num_vertices(), 3);
    for (int v = 0; v < model.num_vertices(); ++v)
        out.row(v) = flat.segment<3>(3 * v).cast<double>().transpose();
    return out;
}

// Reprojection residuals (68 x 2 px, fitted - given) of the terms at a pose and theta.
MatrixX2d residuals_of(const PointTerms& t, const MatrixX2f& landmarks, const Pose& pose,
                       const Eigen::VectorXd& theta, const Camera& cam) {
    const Eigen::Matrix3d R = rodrigues_to_matrix(pose.rvec);
    MatrixX2d r(static_cast<Eigen::Index>(t.base.size()), 2);
    for (std::size_t i = 0; i < t.base.size(); ++i) {
        const Eigen::Vector3d xc = R * (t.base[i] + t.basis[i] * theta) + pose.tvec;
        r.row(i) = (project_camera_point(xc, cam) - landmarks.row(i).cast<double>().transpose()).transpose();
    }
    return r;
}

// Weighted objective: sum c_i |r_i|^2 + theta' P theta (c_i = w_i / sigma_i^2, P diagonal).
double objective(const PointTerms& t, const MatrixX2f& landmarks, const Pose& pose, const Eigen::VectorXd& theta,
                 const Eigen::VectorXd& c, const Eigen::VectorXd& prior, const Camera& cam) {
    const MatrixX2d r = residuals_of(t, landmarks, pose, theta, cam);
    return (r.rowwise().squaredNorm().array() * c.array()).sum() + theta.cwiseProduct(prior).dot(theta);
}

// Camera of the log focal offset lf: focal0 * exp(lf).
Camera with_focal(const Camera& cam, double focal0, double lf) {
    Camera c = cam;
    c.focal = focal0 * std::exp(lf);
    return c;
}

// Levenberg-Marquardt on pose + theta (+ the log focal offset lf when focal_prior > 0) for the
// weighted objective with fixed vertices and weights, plus focal_prior * lf^2; the expression
// stays in [expr_min, 3]. cam's focal is focal0 * exp(lf).
void refine(const PointTerms& t, const MatrixX2f& landmarks, const Eigen::VectorXd& c, const Eigen::VectorXd& prior,
            const Camera& cam0, double focal0, double focal_prior, int max_iter, Pose& pose, Eigen::VectorXd& theta,
            double& lf, int num_expr, double expr_min) {
    const int P = static_cast<int>(theta.size()), n = static_cast<int>(t.base.size());
    const int nf = focal_prior > 0 ? 1 : 0, off = 6 + nf, np = off + P;
    auto total = [&](const Pose& ps, const Eigen::VectorXd& th, double l) {
        return objective(t, landmarks, ps, th, c, prior, with_focal(cam0, focal0, l)) + focal_prior * l * l;
    };
    double obj = total(pose, theta, lf);
    double lambda = 1e-3;
    for (int it = 0; it < max_iter; ++it) {
        const Camera cam = with_focal(cam0, focal0, lf);
        const double f = cam.focal;
        const Eigen::Matrix3d R = rodrigues_to_matrix(pose.rvec);
        Eigen::VectorXd r(2 * n);
        Eigen::MatrixXd J(2 * n, np);
        for (int k = 0; k < n; ++k) {
            const double s = std::sqrt(c(k));
            const Eigen::Vector3d p = t.base[k] + t.basis[k] * theta;
            const Eigen::Vector3d xc = R * p + pose.tvec;
            const double iz = 1.0 / xc.z();
            const Eigen::Vector2d uv = project_camera_point(xc, cam);
            r.segment<2>(2 * k) = s * (uv - landmarks.row(k).cast<double>().transpose());
            Eigen::Matrix<double, 2, 3> dproj;
            dproj << -f * iz, 0, f * xc.x() * iz * iz, 0, f * iz, -f * xc.y() * iz * iz;
            dproj *= s;
            J.block<2, 3>(2 * k, 0) = dproj * rotated_point_jacobian(pose.rvec, R, p);
            J.block<2, 3>(2 * k, 3) = dproj;
            if (nf) J.block<2, 1>(2 * k, 6) = s * (uv - Eigen::Vector2d(cam.cx(), cam.cy()));
            J.block(2 * k, off, 2, P) = dproj * R * t.basis[k];
        }
        Eigen::VectorXd g = J.transpose() * r;
        g.tail(P) += prior.cwiseProduct(theta);
        Eigen::MatrixXd H = J.transpose() * J;
        H.diagonal().tail(P) += prior;
        if (nf) {
            g(6) += focal_prior * lf;
            H(6, 6) += focal_prior;
        }
        bool accepted = false;
        double gain = 0;
        while (lambda < 1e10) {
            Eigen::MatrixXd A = H;
            A.diagonal() += lambda * H.diagonal().cwiseMax(1e-9);
            const Eigen::VectorXd d = A.ldlt().solve(-g);
            const Pose trial{pose.rvec + d.head<3>(), pose.tvec + d.segment<3>(3)};
            Eigen::VectorXd th = theta + d.tail(P);
            th.tail(num_expr) = th.tail(num_expr).cwiseMax(expr_min).cwiseMin(3.0);
            const double tl = nf ? std::clamp(lf + d(6), -3.0, 3.0) : lf;
            const double tobj = total(trial, th, tl);
            if (std::isfinite(tobj) && tobj < obj) {
                gain = obj - tobj;
                pose = trial;
                theta = th;
                lf = tl;
                obj = tobj;
                lambda = std::max(lambda / 3, 1e-12);
                accepted = true;
                break;
            }
            lambda *= 4;
        }
        if (!accepted || gain < 1e-9 * (1 + obj)) break;
    }
}

// Huber weight of a residual norm (px) for noise sigma and threshold k sigmas (k <= 0: 1).
double huber_weight(double norm, double sigma, double k) {
    if (k <= 0) return 1.0;
    const double s = norm / sigma;
    return s <= k ? 1.0 : k / s;
}

// Tukey biweight of a residual norm (px) for noise sigma and cut-off c sigmas.
double tukey_weight(double norm, double sigma, double c) {
    const double s = norm / (sigma * c);
    return s >= 1 ? 0.0 : (1 - s * s) * (1 - s * s);
}

// Robust weight of outer iteration `it` (Huber first, Tukey from the third when enabled).
double robust_weight(double norm, double sigma, const IdentityFitOptions& o, int it) {
    return (o.tukey > 0 && it >= 2) ? tukey_weight(norm, sigma, o.tukey) : huber_weight(norm, sigma, o.huber);
}

}  // namespace

IdentityFit fit_identity(const FaceModel& model, const MatrixX2f& landmarks, const Camera& cam0,
                         const IdentityFitOptions& o) {
    Camera cam = cam0;
    double lf = 0;  // log(focal / cam0.focal), fitted when o.focal_sigma > 0
    const double focal_prior = o.focal_sigma > 0 ? 1.0 / (o.focal_sigma * o.focal_sigma) : 0.0;
    const int K = model.num_shape(), E = model.num_expr(), n = 68;
    const PoseInit init = initial_pose(model, Eigen::VectorXf::Zero(K), landmarks, cam);
    Pose pose{init.rvec.cast<double>(), init.tvec.cast<double>()};
    Eigen::VectorXd theta = Eigen::VectorXd::Zero(K + E);
    Eigen::VectorXd prior(K + E);
    prior.head(K).setConstant(o.prior_weight);
    prior.tail(E).setConstant(o.prior_weight / (o.expr_sigma * o.expr_sigma));
    Eigen::VectorXd sigma(n);
    if (o.sigmas.size() == n)
        sigma = o.sigmas;
    else
        for (int i = 0; i < n; ++i) sigma(i) = i < 17 ? 6.0 : 3.0;

    const ContourModel contour = make_contour_model(model);
    std::vector<int> vertices(n);
    for (int i = 0; i < n; ++i) vertices[i] = model.outer_landmarks(i);
    Eigen::VectorXd weights = Eigen::VectorXd::Ones(n);
    IdentityFit res;
    for (int it = 0; it < o.iterations; ++it) {
        if (o.contour) {
            const std::vector<int> jaw = contour_vertices(contour, model, shape_of(model, theta), pose, cam, landmarks,
                                                             o.occlusion);
            std::copy(jaw.begin(), jaw.end(), vertices.begin());
        }
        const PointTerms terms = point_terms(model, vertices);
        if (it > 0) {  // robust weights from the residuals of the previous solution
            const MatrixX2d r = residuals_of(terms, landmarks, pose, theta, cam);
            for (int i = 0; i < n; ++i) weights(i) = robust_weight(r.row(i).norm(), sigma(i), o, it);
        }
        const Eigen::VectorXd c = weights.cwiseQuotient(sigma.cwiseAbs2());
        refine(terms, landmarks, c, prior, cam0, cam0.focal, focal_prior, it == 0 ? 100 : 30, pose, theta, lf, E,
               o.expr_min);
        cam = with_focal(cam0, cam0.focal, lf);
        ++res.iterations;
    }
    const PointTerms terms = point_terms(model, vertices);
    res.residuals = residuals_of(terms, landmarks, pose, theta, cam);
    res.alpha = theta.head(K).cast<float>();
    res.expr = theta.tail(E).cast<float>();
    res.pose = pose;
    res.vertices = vertices;
    res.weights = weights;
    res.sigmas = sigma;
    res.landmarks_used.resize(n);
    for (int i = 0; i < n; ++i) res.landmarks_used[i] = i;
    res.focal = cam.focal;
    res.rmse_px = std::sqrt(res.residuals.rowwise().squaredNorm().mean());
    return res;
}

}  // namespace extreme3d::fit
