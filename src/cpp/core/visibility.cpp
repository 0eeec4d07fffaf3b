// Sparse vertex visibility from the depth buffer and the bump mask.
#include "core/visibility.hpp"

#include <cmath>

namespace extreme3d::core {

SparseVisibility project_check_visible(const MatrixX3f& frontal, const Pose& pose, const RowMatrixXf& raw_depth,
                                       const Camera& cam) {
    const Eigen::Matrix3f R = rotation_f(pose);
    const Eigen::Vector3f t = translation_f(pose);
    const int V = static_cast<int>(frontal.rows());
    const float W = static_cast<float>(raw_depth.cols()), H = static_cast<float>(raw_depth.rows());
    SparseVisibility out;
    out.proj.resize(V, 2);
    out.visible.assign(V, 0);
    for (int i = 0; i < V; ++i) {
        const Eigen::Vector3f Xc = transform_point(R, t, frontal(i, 0), frontal(i, 1), frontal(i, 2));
        const Eigen::Vector2f uv = project_f(Xc, cam);
        out.proj.row(i) = uv.transpose();
        const float x = uv.x(), y = uv.y(), Z = Xc.z();
        if (!(x > 0 && y > 0 && x < W - 1 && y < H - 1)) continue;
        for (int dx = -1; dx <= 1 && !out.visible[i]; ++dx) {
            for (int dy = -1; dy <= 1; ++dy) {
                // float -> int truncation of the shifted coordinate, as cv::Mat::at(float, float)
                const float dd = raw_depth(static_cast<int>(y + dy), static_cast<int>(x + dx));
                if (std::fabs(Z - raw_depth_to_z(dd, cam)) < 2.5f) {
                    out.visible[i] = 1;
                    break;
                }
            }
        }
    }
    return out;
}

void apply_mask_visibility(SparseVisibility& vis, const RowMatrixXu8& mask, int width, int height, int margin) {
    for (Eigen::Index i = 0; i < vis.proj.rows(); ++i) {
        if (!vis.visible[i]) continue;
        const int x = safe_floor(vis.proj(i, 0));
        const int y = safe_floor(vis.proj(i, 1));
        if (x < 0 || x > width - 2 || y < 0 || y > height - 2)
            vis.visible[i] = 0;
        else if (mask(y + margin, x + margin) < 127)
            vis.visible[i] = 0;
    }
}

RowMatrixXu8 visible_pixel_mask(const RowMatrixXf& raw_depth, const RowMatrixXu8& mask, int margin) {
    const Eigen::Index H = raw_depth.rows(), W = raw_depth.cols();
    RowMatrixXu8 out(H, W);
    for (Eigen::Index y = 0; y < H; ++y)
        for (Eigen::Index x = 0; x < W; ++x)
            out(y, x) = (raw_depth(y, x) < 0.9999f && mask(y + margin, x + margin) > 127) ? 1 : 0;
    return out;
}

}  // namespace extreme3d::core
