// EPnP (Lepetit, Moreno-Noguer, Fua 2009): camera pose from n >= 4 3D-2D correspondences, for the
// original's mirrored pinhole camera (u = -f X/Z + cx, v = f Y/Z + cy, Z < 0 in front).
#pragma once
#include <Eigen/Core>

#include "model/camera.hpp"
#include "model/types.hpp"

namespace extreme3d::fit {

/// Result of EPnP: rotation matrix, translation (mm) and the mean reprojection distance (px).
struct EpnpResult {
    Eigen::Matrix3d R = Eigen::Matrix3d::Identity();
    Eigen::Vector3d t = Eigen::Vector3d::Zero();
    double reprojection_error = 0.0;  ///< mean Euclidean reprojection distance over the points (px)
};

/// Solves the pose (X_cam = R X + t) of n model points (mm, n x 3) seen at pixels (n x 2) by EPnP
/// with four PCA control points, three beta approximations each refined by five Gauss-Newton
/// steps, and the solution with the lowest mean reprojection distance kept (as the original's
/// epnp.cpp). Throws std::invalid_argument for fewer than 4 points.
EpnpResult epnp(const MatrixX3d& points3d, const MatrixX2d& points2d, const Camera& cam);

/// Rodrigues vector (rad) of a rotation matrix, computed as OpenCV's cv::Rodrigues does
/// (angle from acos of the trace, axis from the skew part; special cases near 0 and pi).
Eigen::Vector3d rodrigues_from_matrix(const Eigen::Matrix3d& R);

/// Rotation matrix of a Rodrigues vector (rad), evaluated in the order of OpenCV's cv::Rodrigues.
Eigen::Matrix3d rodrigues_to_matrix(const Eigen::Vector3d& rvec);

}  // namespace extreme3d::fit
