// Double-precision evaluation of the original refinement cost.
#include "fit/pose_cost.hpp"

#include <cmath>

#include "fit/epnp.hpp"
#include "fit/landmark_selection.hpp"

namespace extreme3d::fit {

Eigen::Vector3d LandmarkTerms::point(int pos, double yaw, const Eigen::VectorXd& expr) const {
    const int s = uses_inner_vertex(pos, yaw) ? 1 : 0;
    return base[s][pos] + basis[s][pos] * expr;
}

const Eigen::Matrix3Xd& LandmarkTerms::point_basis(int pos, double yaw) const {
    return basis[uses_inner_vertex(pos, yaw) ? 1 : 0][pos];
}

LandmarkTerms make_landmark_terms(const FaceModel& model, const Eigen::VectorXf& alpha,
                                  const MatrixX2f& landmarks, const std::vector<int>& numbers) {
    LandmarkTerms t;
    t.numbers = numbers;
    t.target.resize(static_cast<Eigen::Index>(numbers.size()), 2);
    const Eigen::VectorXd w = alpha.cast<double>().cwiseProduct(model.shape_ev.cast<double>());
    const Eigen::VectorXd ev = model.exp_ev.cast<double>();
    for (std::size_t k = 0; k < numbers.size(); ++k) {
        t.target.row(k) = landmarks.row(numbers[k]).cast<double>();
        for (int s = 0; s < 2; ++s) {
            const int v = s ? model.inner_landmarks(numbers[k]) : model.outer_landmarks(numbers[k]);
            Eigen::Vector3d b;
            Eigen::Matrix3Xd basis(3, model.num_expr());
            for (int j = 0; j < 3; ++j) {
                const int row = 3 * v + j;
                b(j) = double(model.shape_mu(row)) + model.shape_pc.row(row).cast<double>().dot(w) +
                       double(model.exp_mu(row));
                basis.row(j) = model.exp_pc.row(row).cast<double>().cwiseProduct(ev.transpose());
            }
            t.base[s].push_back(b);
            t.basis[s].push_back(basis);
        }
    }
    return t;
}

double landmark_rmse(const LandmarkTerms& terms, const Pose& pose, const Eigen::VectorXd& expr, const Camera& cam) {
    const Eigen::Matrix3d R = rodrigues_to_matrix(pose.rvec);
    const double yaw = -pose.rvec(1);
    double sum = 0.0;
    for (int k = 0; k < terms.size(); ++k) {
        const Eigen::Vector3d xc = R * terms.point(k, yaw, expr) + pose.tvec;
        sum += (project_camera_point(xc, cam) - terms.target.row(k).transpose()).squaredNorm();
    }
    return std::sqrt(sum / terms.size());
}

double cost_as_written(const LandmarkTerms& terms, const Pose& prior, const Pose& pose, const Eigen::VectorXd& expr,
                       const Camera& cam, const CostWeights& w) {
    return w.landmark * landmark_rmse(terms, pose, expr, cam) + expr.squaredNorm() / w.expr_div +
           (pose.rvec - prior.rvec).squaredNorm() / w.rot_var + (pose.tvec - prior.tvec).squaredNorm() / w.trans_var;
}

}  // namespace extreme3d::fit
