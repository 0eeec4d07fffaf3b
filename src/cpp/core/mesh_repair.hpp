// Repairs of the clean final mesh's chart triangulation: consistent orientation from the signed chart
// areas, and bow-tie vertices (several boundary fans) reduced to their largest fan.
#pragma once
#include "core/common.hpp"

namespace extreme3d::core {

/// The triangles with a non-zero signed chart area (twice the area: (b - a) x (c - a), times `sign`),
/// those with a negative one turned over ((a, b, c) -> (a, c, b)), in their order.
MatrixX3i orient_by_area(const MatrixX2d& uv, const MatrixX3i& triangles, double sign);

/// The faces without bow-ties: at every vertex with more than one outgoing boundary half-edge, the
/// faces of all but its largest fan (faces around it linked through shared edges; ties: the fan
/// whose union-find root comes first) are removed, all such vertices at once, repeated (at most 10
/// rounds) until none is left. Face order is kept.
MatrixX3i drop_bowties(const MatrixX3i& faces, int num_vertices);

}  // namespace extreme3d::core
