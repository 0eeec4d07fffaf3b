// Bookkeeping of a finished pose + expression fit.
#include "fit/fit_summary.hpp"

#include "fit/landmark_selection.hpp"

namespace extreme3d::fit {

void summarise_fit(PoseExprFit& fit, const FaceModel& model, const LandmarkTerms& terms, const Camera& cam) {
    const Eigen::VectorXd e = fit.expr.cast<double>();
    fit.rmse_px_epnp = landmark_rmse(terms, fit.epnp_pose, e, cam);
    fit.rmse_px_refined = landmark_rmse(terms, fit.refined_pose, e, cam);
    fit.cost_initial = cost_as_written(terms, fit.epnp_pose, fit.epnp_pose, Eigen::VectorXd::Zero(e.size()), cam);
    fit.cost_final = cost_as_written(terms, fit.epnp_pose, fit.refined_pose, e, cam);
    fit.cost_minimised = fit.cost_final;
    fit.landmarks_used = terms.numbers;
    fit.landmark_vertices.assign(68, -1);
    const double yaw = -fit.refined_pose.rvec(1);
    for (int k = 0; k < terms.size(); ++k) {
        const int number = terms.numbers[k];
        fit.landmark_vertices[number] =
            uses_inner_vertex(k, yaw) ? model.inner_landmarks(number) : model.outer_landmarks(number);
    }
}

}  // namespace extreme3d::fit
