// Small float helpers shared by the combineBump stages: the original works in single precision
// with OpenCV float matrices, so these reproduce its arithmetic order where it matters.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "model/camera.hpp"
#include "model/types.hpp"

namespace extreme3d::core {

/// Per-vertex flags (0/1); std::vector<bool> is avoided for speed and pointer access.
using Flags = std::vector<std::uint8_t>;

/// floor(v) as int, or a large negative sentinel for non-finite or out-of-range values (so that
/// every bounds test fails instead of undefined behaviour).
inline int safe_floor(float v) {
    if (!(std::fabs(v) < 1e8f)) return -(1 << 30);
    return static_cast<int>(std::floor(v));
}

/// Camera-space z (mm, negative) of a raw GL depth value in float, same operation order as the
/// original: -n f / (f - d (f - n)).
inline float raw_depth_to_z(float d, const Camera& cam) {
    const float zn = static_cast<float>(cam.near_plane);
    const float zf = static_cast<float>(cam.far_plane);
    return -zn * zf / (zf - d * (zf - zn));
}

/// The pose rotation as a float matrix, from the rotation vector rounded to float first
/// (the original keeps rvec in a CV_32F matrix and converts with cv::Rodrigues).
inline Eigen::Matrix3f rotation_f(const Pose& pose) {
    Pose p;
    p.rvec = pose.rvec.cast<float>().cast<double>();
    return p.rotation().cast<float>();
}

/// The translation as float (mm).
inline Eigen::Vector3f translation_f(const Pose& pose) { return pose.tvec.cast<float>(); }

/// Float pixel position of a camera-space point, as the original writes it:
/// x = -X / Z * f + cx, y = Y / Z * f + cy.
inline Eigen::Vector2f project_f(const Eigen::Vector3f& Xc, const Camera& cam) {
    const float f = static_cast<float>(cam.focal);
    const float cx = static_cast<float>(cam.cx()), cy = static_cast<float>(cam.cy());
    return {-Xc.x() / Xc.z() * f + cx, Xc.y() / Xc.z() * f + cy};
}

/// One posed point R x + t (mm) rounded as the original's OpenCV float GEMM `R * X.t() +
/// repeat(t)` rounds it: products summed in double, t added in double, one rounding to float.
/// (Eigen's float products differ by an ulp now and then, which flips later thresholds.)
inline Eigen::Vector3f transform_point(const Eigen::Matrix3f& R, const Eigen::Vector3f& t, float x, float y, float z) {
    Eigen::Vector3f out;
    for (int a = 0; a < 3; ++a) {
        const double s = double(R(a, 0)) * x + double(R(a, 1)) * y + double(R(a, 2)) * z;
        out(a) = static_cast<float>(s + double(t(a)));
    }
    return out;
}

/// Rigid transform of V x 3 float rows: R x + t (mm), rounded as transform_point.
inline MatrixX3f transform_rows(const MatrixX3f& X, const Eigen::Matrix3f& R, const Eigen::Vector3f& t) {
    MatrixX3f out(X.rows(), 3);
    for (Eigen::Index i = 0; i < X.rows(); ++i)
        out.row(i) = transform_point(R, t, X(i, 0), X(i, 1), X(i, 2)).transpose();
    return out;
}

/// Inverse rigid transform of V x 3 float rows: R^T (x - t) (mm), as the original's
/// `R.t() * (X.t() - repeat(t))`: the difference in float, the product summed in double and
/// rounded once.
inline MatrixX3f inverse_transform_rows(const MatrixX3f& X, const Eigen::Matrix3f& R, const Eigen::Vector3f& t) {
    MatrixX3f out(X.rows(), 3);
    for (Eigen::Index i = 0; i < X.rows(); ++i) {
        const float d0 = X(i, 0) - t(0), d1 = X(i, 1) - t(1), d2 = X(i, 2) - t(2);
        for (int a = 0; a < 3; ++a)
            out(i, a) = static_cast<float>(double(R(0, a)) * d0 + double(R(1, a)) * d1 + double(R(2, a)) * d2);
    }
    return out;
}

}  // namespace extreme3d::core
