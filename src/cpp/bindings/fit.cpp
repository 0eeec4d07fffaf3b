// Python bindings of the pose / expression / identity fitting (numpy in, dicts of numpy out).
#include <pybind11/eigen.h>
#include <pybind11/stl.h>

#include <cmath>
#include <string>

#include "bindings/bindings.hpp"
#include "bindings/checks.hpp"
#include "fit/epnp.hpp"
#include "fit/identity_fit.hpp"
#include "fit/pose_fit_faithful.hpp"
#include "fit/pose_fit_lm.hpp"
#include "model/face_model.hpp"

namespace py = pybind11;

namespace extreme3d::bindings {

namespace {

// Camera of the given intrinsics; ValueError on non-positive values.
Camera make_camera(double focal, std::int64_t width, std::int64_t height) {
    checks::check_camera(focal, width, height);
    Camera cam;
    cam.focal = focal;
    cam.width = static_cast<int>(width);
    cam.height = static_cast<int>(height);
    return cam;
}

// Checks a 68 x 2 landmark array: finite and not far outside the image (one image size margin).
void check_landmarks(const MatrixX2f& lm, const Camera& cam) {
    if (lm.rows() != 68) throw py::value_error("landmarks: expected 68 x 2 points, got " + std::to_string(lm.rows()));
    if (!lm.allFinite()) throw py::value_error("landmarks: non-finite coordinates");
    for (Eigen::Index i = 0; i < lm.rows(); ++i)
        if (lm(i, 0) < -cam.width || lm(i, 0) > 2.0 * cam.width || lm(i, 1) < -cam.height || lm(i, 1) > 2.0 * cam.height)
            throw py::value_error("landmarks: point " + std::to_string(i) + " lies far outside the " +
                                  std::to_string(cam.width) + "x" + std::to_string(cam.height) + " image");
    const Eigen::RowVector2f spread = lm.colwise().maxCoeff() - lm.colwise().minCoeff();
    if (spread.minCoeff() < 1.0f) throw py::value_error("landmarks: degenerate (the 68 points span less than 1 px)");
}

// Rejects a fit whose pose is not finite or puts the face behind the camera.
void check_pose(const Pose& p, const char* what) {
    if (!p.rvec.allFinite() || !p.tvec.allFinite() || !(p.tvec.z() < 0))
        throw py::value_error(std::string(what) + ": no valid pose (degenerate landmarks?)");
}

// Checks identity coefficients against the model.
void check_alpha(const Eigen::VectorXf& alpha, const FaceModel& model) {
    if (alpha.size() != model.num_shape())
        throw py::value_error("alpha: expected " + std::to_string(model.num_shape()) + " identity coefficients, got " +
                              std::to_string(alpha.size()));
    if (!alpha.allFinite()) throw py::value_error("alpha: non-finite coefficients");
}

// {'rvec', 'tvec'} of a pose (rad, mm).
py::dict pose_dict(const Pose& p) {
    py::dict d;
    d["rvec"] = Eigen::Vector3d(p.rvec);
    d["tvec"] = Eigen::Vector3d(p.tvec);
    return d;
}

// Every field of a pose + expression fit; rvec/tvec are the pose used downstream.
py::dict fit_to_dict(const fit::PoseExprFit& f) {
    py::dict d;
    d["rvec"] = Eigen::Vector3d(f.pose.rvec);
    d["tvec"] = Eigen::Vector3d(f.pose.tvec);
    d["epnp_rvec"] = Eigen::Vector3d(f.epnp_pose.rvec);
    d["epnp_tvec"] = Eigen::Vector3d(f.epnp_pose.tvec);
    d["refined_rvec"] = Eigen::Vector3d(f.refined_pose.rvec);
    d["refined_tvec"] = Eigen::Vector3d(f.refined_pose.tvec);
    d["expr"] = Eigen::VectorXf(f.expr);
    d["alpha"] = Eigen::VectorXf(f.alpha);
    d["rmse_px_epnp"] = f.rmse_px_epnp;
    d["rmse_px_refined"] = f.rmse_px_refined;
    d["cost_initial"] = f.cost_initial;
    d["cost_final"] = f.cost_final;
    d["cost_minimised"] = f.cost_minimised;
    d["landmarks_used"] = Eigen::Map<const Eigen::VectorXi>(f.landmarks_used.data(), f.landmarks_used.size()).eval();
    d["landmark_vertices"] =
        Eigen::Map<const Eigen::VectorXi>(f.landmark_vertices.data(), f.landmark_vertices.size()).eval();
    d["iterations_pose"] = f.iterations_pose;
    d["iterations_expr"] = f.iterations_expr;
    d["mode"] = f.mode;
    return d;
}

}  // namespace

void bind_fit(py::module_& m) {
    m.def(
        "epnp",
        [](const py::object& points3d, const py::object& points2d, double focal, std::int64_t width,
           std::int64_t height) {
            const Camera cam = make_camera(focal, width, height);
            const MatrixX3d p3 = checks::to_matrix<MatrixX3d>(points3d, "points3d", true, checks::kMaxCoordinate);
            const MatrixX2d p2 = checks::to_matrix<MatrixX2d>(points2d, "points2d", true, checks::kMaxCoordinate);
            if (p3.rows() > 100000) throw py::value_error("epnp: at most 100000 points");
            if (p3.rows() != p2.rows() || p3.rows() < 4)
                throw py::value_error("epnp: needs n >= 4 points, points3d (n, 3) and points2d (n, 2)");
            if (!p3.allFinite() || !p2.allFinite()) throw py::value_error("epnp: non-finite coordinates");
            fit::EpnpResult r;
            {
                py::gil_scoped_release release;
                r = fit::epnp(p3, p2, cam);
            }
            py::dict d = pose_dict(Pose{fit::rodrigues_from_matrix(r.R), r.t});
            d["R"] = Eigen::Matrix3d(r.R);
            d["reprojection_error"] = r.reprojection_error;
            return d;
        },
        py::arg("points3d"), py::arg("points2d"), py::arg("focal") = 1000.0, py::arg("width") = 500,
        py::arg("height") = 500,
        "EPnP pose (rvec rad, tvec mm, R, mean reprojection error px) of model points (n, 3) seen at "
        "pixels (n, 2) by the mirrored camera u = -f X/Z + cx, v = f Y/Z + cy.");

    m.def(
        "fit_pose_expression",
        [](const FaceModel& model, const py::object& landmarks_in, const py::object& alpha_in, double focal,
           std::int64_t width, std::int64_t height, const std::string& mode) {
            const Camera cam = make_camera(focal, width, height);
            const MatrixX2f landmarks = checks::to_matrix<MatrixX2f>(landmarks_in, "landmarks", true);
            const Eigen::VectorXf alpha = checks::to_vector<Eigen::VectorXf>(alpha_in, "alpha", -1, true, 1e4);
            check_landmarks(landmarks, cam);
            check_alpha(alpha, model);
            if (mode != "faithful" && mode != "best")
                throw py::value_error("mode: expected 'faithful' or 'best', got '" + mode + "'");
            fit::PoseExprFit f;
            {
                py::gil_scoped_release release;
                f = mode == "faithful" ? fit::fit_pose_expression_faithful(model, alpha, landmarks, cam)
                                       : fit::fit_pose_expression_lm(model, alpha, landmarks, cam);
            }
            check_pose(f.epnp_pose, "fit_pose_expression");
            check_pose(f.refined_pose, "fit_pose_expression");
            return fit_to_dict(f);
        },
        py::arg("model"), py::arg("landmarks"), py::arg("alpha"), py::arg("focal") = 1000.0, py::arg("width") = 500,
        py::arg("height") = 500, py::arg("mode") = "faithful",
        "Pose + expression from 68 landmarks (px) with identity alpha; mode 'faithful' (the original's "
        "optimiser, pose = second EPnP) or 'best' (Levenberg-Marquardt, pose = refined).");

    m.def(
        "fit_identity",
        [](const FaceModel& model, const py::object& landmarks_in, double focal, std::int64_t width,
           std::int64_t height, const Eigen::VectorXd& sigmas, double prior_weight, double expr_sigma,
           double expr_min, double huber, double tukey, std::int64_t iterations, bool contour,
           bool occlusion, double focal_sigma) {
            const Camera cam = make_camera(focal, width, height);
            const MatrixX2f landmarks = checks::to_matrix<MatrixX2f>(landmarks_in, "landmarks", true);
            check_landmarks(landmarks, cam);
            if (sigmas.size() != 0 && (sigmas.size() != 68 || !sigmas.allFinite() || !(sigmas.minCoeff() > 0)))
                throw py::value_error("fit_identity: sigmas must be 68 finite values > 0 (px)");
            for (double v : {prior_weight, expr_sigma})
                if (!(v > 0) || !std::isfinite(v))
                    throw py::value_error("fit_identity: prior_weight and expr_sigma must be finite and > 0");
            if (!(expr_min >= -3.0 && expr_min <= 0.0))
                throw py::value_error("fit_identity: expr_min must lie in [-3, 0]");
            if (!std::isfinite(huber) || !std::isfinite(tukey))
                throw py::value_error("fit_identity: huber and tukey must be finite");
            if (!(prior_weight < 1e12) || !(expr_sigma < 1e12))
                throw py::value_error("fit_identity: prior_weight and expr_sigma must be < 1e12");
            if (iterations < 1 || iterations > checks::kMaxIterations)
                throw py::value_error("fit_identity: iterations must be in [1, " +
                                      std::to_string(checks::kMaxIterations) + "], got " + std::to_string(iterations));
            fit::IdentityFitOptions o;
            o.sigmas = sigmas;
            o.prior_weight = prior_weight;
            o.expr_sigma = expr_sigma;
            o.expr_min = expr_min;
            o.huber = huber;
            o.tukey = tukey;
            o.iterations = static_cast<int>(iterations);
            o.contour = contour;
            o.occlusion = occlusion;
            if (!(focal_sigma >= 0) || !std::isfinite(focal_sigma) ||
                (focal_sigma > 0 && focal_sigma < 1e-6))
                throw py::value_error(
                    "fit_identity: focal_sigma must be 0 (focal fixed) or in [1e-6, inf)");
            o.focal_sigma = focal_sigma;
            fit::IdentityFit f;
            {
                py::gil_scoped_release release;
                f = fit::fit_identity(model, landmarks, cam, o);
            }
            check_pose(f.pose, "fit_identity");
            py::dict d = pose_dict(f.pose);
            d["alpha"] = Eigen::VectorXf(f.alpha);
            d["expr"] = Eigen::VectorXf(f.expr);
            d["rmse_px"] = f.rmse_px;
            d["landmarks_used"] =
                Eigen::Map<const Eigen::VectorXi>(f.landmarks_used.data(), f.landmarks_used.size()).eval();
            d["vertices"] = Eigen::Map<const Eigen::VectorXi>(f.vertices.data(), f.vertices.size()).eval();
            d["residuals"] = MatrixX2d(f.residuals);
            d["weights"] = Eigen::VectorXd(f.weights);
            d["sigmas"] = Eigen::VectorXd(f.sigmas);
            d["iterations"] = f.iterations;
            d["focal"] = f.focal;
            return d;
        },
        py::arg("model"), py::arg("landmarks"), py::arg("focal") = 1000.0, py::arg("width") = 500,
        py::arg("height") = 500, py::arg("sigmas") = Eigen::VectorXd(),
        py::arg("prior_weight") = 1.0, py::arg("expr_sigma") = 0.5, py::arg("expr_min") = -3.0,
        py::arg("huber") = 2.0,
        py::arg("tukey") = 0.0, py::arg("iterations") = 6, py::arg("contour") = true,
        py::arg("occlusion") = true, py::arg("focal_sigma") = 0.5,
        "Identity, expression and pose from 68 landmarks (px) with the model's prior: robust (Huber, "
        "then Tukey) MAP fit with per-landmark noise sigmas (68, px; empty: 6 jaw, 3 others), the jaw contour matched to the "
        "occluding contour.");
}

}  // namespace extreme3d::bindings
