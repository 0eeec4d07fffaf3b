// Delaunay triangulation of 2D points (incremental Bowyer-Watson with a vertex at infinity and exact
// integer predicates), for the clean final mesh's chart triangulation.
#pragma once
#include "core/common.hpp"

namespace extreme3d::core {

/// Delaunay triangles of 2D points (any unit), as T x 3 point indices, counter-clockwise (x right,
/// y up), each starting at its smallest index, sorted by their first two indices. The points are snapped to an integer lattice of at least 2^28 steps across the larger
/// side of their bounding box (predicates exact in 64/128-bit integers); points that snap onto an
/// earlier point are left out (the first one is kept). Cocircular points get one of their valid
/// triangulations; collinear or fewer than three distinct points give no triangle. Points must be
/// finite.
MatrixX3i delaunay_2d(const MatrixX2d& points);

}  // namespace extreme3d::core
