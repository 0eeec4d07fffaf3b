// Edge topology of triangle meshes for the clean final mesh: boundary half-edges (edges with one
// face) and connected components of faces. Indices only; no geometry.
#pragma once
#include <vector>

#include "core/common.hpp"

namespace extreme3d::core {

/// B x 2 integer rows (half-edges).
using MatrixX2i = Eigen::Matrix<int, Eigen::Dynamic, 2, Eigen::RowMajor>;

/// Directed half-edges (a -> b as they run in their face) whose undirected edge is used by exactly
/// one face, as a B x 2 matrix in half-edge order (face by face, edges (0,1), (1,2), (2,0)); found
/// by bucketing the half-edges by their smaller vertex (linear time). Vertex indices must lie
/// in [0, num_vertices).
MatrixX2i boundary_half_edges(const MatrixX3i& faces, int num_vertices);

/// Component label of each face (faces sharing a vertex are connected), labels 0, 1, ... numbered
/// in the order of each component's first face (union-find over the vertices).
Eigen::VectorXi face_components(const MatrixX3i& faces, int num_vertices);

/// Root of element x in a union-find forest `parent` (parent[r] == r at a root), halving the
/// path on the way (used by face_components and drop_bowties).
int find_root(std::vector<int>& parent, int x);

}  // namespace extreme3d::core
