// Result of the pose + expression fit from 68 landmarks (shared by the faithful and best modes).
#pragma once
#include <Eigen/Core>
#include <string>
#include <vector>

#include "model/camera.hpp"

namespace extreme3d::fit {

/// Pose + expression fit of one image. Poses are model -> camera (Rodrigues rad, mm).
struct PoseExprFit {
    Pose pose;                      ///< pose used downstream (faithful: the second EPnP pose, as the original)
    Pose epnp_pose;                 ///< the second EPnP pose (pose prior centre of the refinement)
    Pose refined_pose;              ///< pose after the refinement
    Eigen::VectorXf expr;           ///< E expression coefficients (units of exp_ev), in [-3, 3]
    Eigen::VectorXf alpha;          ///< K identity coefficients used (units of shape_ev)
    double rmse_px_epnp = 0;        ///< landmark RMSE (px) at the EPnP pose with the final expression
    double rmse_px_refined = 0;     ///< landmark RMSE (px) at the refined pose with the final expression
    double cost_initial = 0;        ///< cost as written at the start (EPnP pose, zero expression)
    double cost_final = 0;          ///< cost as written at the refined pose and final expression
    double cost_minimised = 0;      ///< lowest cost as written reached by the optimiser (faithful: = cost_final)
    std::vector<int> landmarks_used;     ///< landmark numbers (0..67) in the cost, in list order
    std::vector<int> landmark_vertices;  ///< 68 vertices of the landmarks at the refined yaw (-1: unused)
    int iterations_pose = 0;        ///< faithful: steps of the pose + expression phase; best: LM iterations on the cost as written
    int iterations_expr = 0;        ///< faithful: steps of the expression-only phase; best: LM iterations without the pose prior
    std::string mode;               ///< "faithful" or "best"
};

}  // namespace extreme3d::fit
