// Initial pose of the original fit: EPnP on 60 landmarks, landmark re-selection by yaw, EPnP again.
#pragma once
#include <Eigen/Core>
#include <vector>

#include "model/camera.hpp"
#include "model/face_model.hpp"

namespace extreme3d::fit {

/// Outcome of the two EPnP runs of the original's estimatePoseExpr.
struct PoseInit {
    Eigen::Vector3f rvec1, tvec1;    ///< first EPnP (60 points, outer vertices), float as the original
    Eigen::Vector3f rvec, tvec;      ///< second EPnP on the yaw-selected points (float)
    std::vector<int> selected;       ///< landmark numbers used by the refinement: visible 0..59, then 60..67
};

/// Landmark vertex position (mm, model coords) of identity alpha with the mean expression, in
/// float as the original's getShape: (shape_mu + shape_pc (alpha .* shape_ev)) + exp_mu.
Eigen::Vector3f neutral_vertex(const FaceModel& model, const Eigen::VectorXf& alpha, int vertex);

/// Runs the original's initialisation: EPnP with the outer vertices of landmarks 0..59, yaw =
/// -r[1], landmark selection and inner/outer vertices at that yaw, EPnP again; adds 60..67.
/// landmarks: 68 x 2 pixels (float).
PoseInit initial_pose(const FaceModel& model, const Eigen::VectorXf& alpha, const MatrixX2f& landmarks,
                      const Camera& cam);

}  // namespace extreme3d::fit
