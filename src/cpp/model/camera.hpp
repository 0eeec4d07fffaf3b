// The original's pinhole camera: focal f, principal point at the image centre, x mirrored
// (K[0,0] = -f, K[1,1] = f); camera-space z is negative in front of the camera.
#pragma once
#include <Eigen/Geometry>

#include "model/types.hpp"

namespace extreme3d {

/// Intrinsics and clipping planes of the render/fit camera (pixels and mm).
struct Camera {
    double focal = 1000.0;   ///< focal length in pixels
    int width = 500;         ///< image width in pixels
    int height = 500;        ///< image height in pixels
    double near_plane = 50;  ///< GL near plane (mm)
    double far_plane = 10000;///< GL far plane (mm)

    /// Principal point x (pixels): the image centre.
    double cx() const { return width / 2.0; }
    /// Principal point y (pixels): the image centre.
    double cy() const { return height / 2.0; }
};

/// Rigid pose model -> camera: X_cam = R(rvec) X + tvec (rvec: Rodrigues vector in rad, tvec in mm).
struct Pose {
    Eigen::Vector3d rvec = Eigen::Vector3d::Zero();
    Eigen::Vector3d tvec = Eigen::Vector3d::Zero();

    /// Rotation matrix of the Rodrigues vector.
    Eigen::Matrix3d rotation() const {
        const double angle = rvec.norm();
        if (angle < 1e-12) return Eigen::Matrix3d::Identity();
        return Eigen::AngleAxisd(angle, rvec / angle).toRotationMatrix();
    }
};

/// Rodrigues vector (rad) of a rotation matrix.
inline Eigen::Vector3d rotation_to_rvec(const Eigen::Matrix3d& R) {
    const Eigen::AngleAxisd aa(R);
    return aa.angle() * aa.axis();
}

/// Pixel position (u right, v down) of a camera-space point (mm): u = -f X/Z + cx, v = f Y/Z + cy.
inline Eigen::Vector2d project_camera_point(const Eigen::Vector3d& Xc, const Camera& cam) {
    return {-cam.focal * Xc.x() / Xc.z() + cam.cx(), cam.focal * Xc.y() / Xc.z() + cam.cy()};
}

/// Camera-space point (mm) of pixel (u, v) (integer pixel coordinates, no +0.5) at camera depth z (< 0).
inline Eigen::Vector3d backproject_pixel(double u, double v, double z, const Camera& cam) {
    return {z * (u - cam.cx()) / (-cam.focal), z * (v - cam.cy()) / cam.focal, z};
}

/// Camera-space z (mm, negative) of a GL depth-buffer value d in [0, 1]: z = -n f / (f - d (f - n)).
inline double depth_to_camera_z(double d, const Camera& cam) {
    const double n = cam.near_plane, f = cam.far_plane;
    return -n * f / (f - d * (f - n));
}

/// Projects model-space vertices (mm) to pixels with a pose; returns N x 2 (u, v).
inline MatrixX2d project_points(const MatrixX3f& vertices, const Pose& pose, const Camera& cam) {
    const Eigen::Matrix3d R = pose.rotation();
    MatrixX2d uv(vertices.rows(), 2);
    for (Eigen::Index i = 0; i < vertices.rows(); ++i) {
        const Eigen::Vector3d Xc = R * vertices.row(i).transpose().cast<double>() + pose.tvec;
        uv.row(i) = project_camera_point(Xc, cam).transpose();
    }
    return uv;
}

}  // namespace extreme3d
