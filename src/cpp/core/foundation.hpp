// Foundation shape of combineBump: identity + fitted expression, frontal (model coordinates)
// and aligned (camera coordinates) with the fitted pose.
#pragma once
#include "model/camera.hpp"
#include "model/face_model.hpp"

namespace extreme3d::core {

/// The foundation mesh in both frames (vertices in mm, V x 3, float as the original).
struct Foundation {
    MatrixX3f frontal;  ///< model coordinates: shape(alpha) + expression(expr)
    MatrixX3f aligned;  ///< camera coordinates: R frontal + t
    Eigen::Matrix3f R;  ///< pose rotation (float)
    Eigen::Vector3f t;  ///< pose translation (mm, float)
};

/// Builds the foundation of identity alpha and expression expr at pose (throws std::invalid_argument
/// on wrong coefficient lengths).
Foundation make_foundation(const FaceModel& model, const Eigen::VectorXf& alpha, const Eigen::VectorXf& expr,
                           const Pose& pose);

}  // namespace extreme3d::core
