// The refinement cost of the original pose + expression fit, evaluated in double precision:
// cost = 8 * landmark RMSE (px) + sum e^2 / (0.5 * 29) + sum (r - r0)^2 / (pi/6)^2 + sum (t - t0)^2 / 900,
// with the landmark vertices re-selected (inner/outer) from the current yaw at every evaluation.
#pragma once
#include <Eigen/Core>
#include <vector>

#include "model/camera.hpp"
#include "model/face_model.hpp"

namespace extreme3d::fit {

/// Constants of the cost as written in the original.
struct CostWeights {
    double landmark = 8.0;                      ///< weight of the RMSE (px)
    double expr_div = 0.5 * 29;                 ///< expression prior divisor (29 even for other E)
    double rot_var = (M_PI / 6) * (M_PI / 6);   ///< rotation prior divisor (rad^2)
    double trans_var = 900.0;                   ///< translation prior divisor (mm^2)
};

/// The landmark part of the model for a selected list of landmarks: per list position the
/// identity (+ mean expression) position and the scaled expression basis (mm per unit of expr)
/// of both candidate vertices (inner and outer).
struct LandmarkTerms {
    std::vector<int> numbers;                       ///< landmark numbers in list order
    MatrixX2d target;                               ///< their image positions (px)
    std::vector<Eigen::Vector3d> base[2];           ///< [0] outer, [1] inner: identity + exp_mu (mm)
    std::vector<Eigen::Matrix3Xd> basis[2];         ///< exp_pc rows times exp_ev (3 x E)

    /// Number of landmarks in the list.
    int size() const { return static_cast<int>(numbers.size()); }
    /// Model-space landmark `pos` (mm) with expression expr at yaw (rad) (vertex choice by position).
    Eigen::Vector3d point(int pos, double yaw, const Eigen::VectorXd& expr) const;
    /// Expression basis (3 x E, mm) of landmark `pos` at yaw.
    const Eigen::Matrix3Xd& point_basis(int pos, double yaw) const;
};

/// Builds the landmark terms of identity alpha (K) for the landmark numbers (landmarks: 68 x 2 px).
LandmarkTerms make_landmark_terms(const FaceModel& model, const Eigen::VectorXf& alpha,
                                  const MatrixX2f& landmarks, const std::vector<int>& numbers);

/// Landmark RMSE (px) of the listed landmarks at a pose and expression (vertex choice by yaw = -r[1]).
double landmark_rmse(const LandmarkTerms& terms, const Pose& pose, const Eigen::VectorXd& expr, const Camera& cam);

/// The cost as written (see file comment), with pose prior centre `prior`.
double cost_as_written(const LandmarkTerms& terms, const Pose& prior, const Pose& pose, const Eigen::VectorXd& expr,
                       const Camera& cam, const CostWeights& w = {});

}  // namespace extreme3d::fit
