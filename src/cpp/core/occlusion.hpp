// Self-occlusion scores after Hassner et al. 2015 ("Effective face frontalization"), as the
// original's computeOccMat / computeOccScores.
#pragma once
#include "core/common.hpp"

namespace extreme3d::core {

/// The reference (near frontal) pose of the occlusion map: r = 1e-6 on each axis,
/// t = (1e-6, 1e-6, t_z of the pose).
Pose occlusion_reference_pose(const Pose& pose);

/// 8-bit blur of the counts as OpenCV's GaussianBlur with a 5x5 kernel and sigma 0 (binomial
/// 1 4 6 4 1, fixed-point rounding, reflect-101 border); ksize 3 or 1 for small images.
RowMatrixXu8 blur_counts(const RowMatrixXu8& counts, int ksize);

/// Per-pixel occlusion score map (H x W, in (0, 1]): every surface point of the reference render
/// (ref_raw_depth) is moved to the posed view and counted on the posed pixel it lands on when the
/// posed depth (posed_raw_depth) agrees within 2.5 mm in its 3x3 neighbourhood; counts - 1 (clamped at
/// 0, 8-bit) are blurred and the score is exp(-0.2 count).
RowMatrixXf occlusion_map(const RowMatrixXf& ref_raw_depth, const RowMatrixXf& posed_raw_depth, const Pose& ref_pose,
                          const Pose& pose, const Camera& cam);

/// Per-vertex occlusion score: the minimum of the map over the 11x11 window around the vertex's
/// projection (truncated to int), for visible vertices; 0 for invisible ones.
Eigen::VectorXf occlusion_scores(const MatrixX3f& frontal, const Flags& visible, const RowMatrixXf& occ_map,
                                 const Pose& pose, const Camera& cam);

}  // namespace extreme3d::core
