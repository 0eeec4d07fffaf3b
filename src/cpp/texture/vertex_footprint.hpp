// Per-vertex footprint of a mesh projected into an image: the mean length of its edges (px).
#pragma once
#include <Eigen/Core>

#include "model/types.hpp"

namespace extreme3d::texture {

/// Per-vertex mean length (px) of the projected edges at each vertex (V), uv the vertices'
/// projections (V x 2, px): every triangle adds its two edges at each of its corners, so an
/// edge counts once per triangle holding it; 0 for a vertex on no triangle.
Eigen::VectorXd vertex_footprint(const MatrixX2d& uv, const MatrixX3i& faces);

}  // namespace extreme3d::texture
