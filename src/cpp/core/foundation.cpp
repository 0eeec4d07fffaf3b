// Foundation shape (identity + expression) in model and camera coordinates.
#include "core/foundation.hpp"

#include "core/common.hpp"

namespace extreme3d::core {

Foundation make_foundation(const FaceModel& model, const Eigen::VectorXf& alpha, const Eigen::VectorXf& expr,
                           const Pose& pose) {
    Foundation f;
    f.frontal = model.vertices(alpha, expr);
    f.R = rotation_f(pose);
    f.t = translation_f(pose);
    f.aligned = transform_rows(f.frontal, f.R, f.t);
    return f;
}

}  // namespace extreme3d::core
