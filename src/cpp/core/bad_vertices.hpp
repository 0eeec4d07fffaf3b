// Bad-vertex tests of the completed sparse mesh (normal flips, stretched triangles) and the
// morphological passes on the per-vertex occlusion scores.
#pragma once
#include "core/common.hpp"

namespace extreme3d::core {

/// Flags vertices of triangles whose normal turned (dot of unit normals < 0.2) or that stretched
/// (distance to the triangle centroid over the foundation's, times 50, > 80) between the
/// foundation and the bumped sparse mesh (both frontal, V x 3, mm). Uses `faces`.
Flags find_bad_vertices(const MatrixX3f& sparse, const MatrixX3f& foundation, const MatrixX3i& faces);

/// Applies the original's passes to the scores in place: bad vertices -> 0, one erosion over
/// triangles (any vertex < 0.75 zeroes all three), one dilation (any vertex >= 0.75 sets all three to
/// 1), then halving on the far side: model x > ddx when ry > 0, -x > ddx when ry < 0, with
/// ddx = max(0, cos(5 ry) 100) (ry: the pose's rotation vector y, model_x: foundation frontal x).
void occlusion_passes(Eigen::VectorXf& scores, const Flags& bad, const MatrixX3i& faces,
                      const Eigen::VectorXf& model_x, float ry);

}  // namespace extreme3d::core
