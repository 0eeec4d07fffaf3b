// Error-bounded mesh simplification for light files: half-edge collapses (a vertex merged into a
// neighbour, so the surviving vertices are original ones with their own uv/colours), ordered by
// quadric error, each accepted only while every removed original vertex stays within a distance
// bound of the simplified surface (and, with uv, its texture coordinate within a uv bound).
#pragma once
#include <vector>

#include "model/types.hpp"

namespace extreme3d::core {

/// Bounds of `simplify_bounded`.
struct SimplifyBounds {
    double distance = 0.05;     // mm: largest distance of a removed vertex to the simplified surface
    double uv = 0.0;            // uv units: largest uv shift at that nearest point (<= 0: not checked)
    double min_normal_dot = 0.5;  // cosine: smallest normal change of a face kept by a collapse
    double min_quality = 0.1;   // 4 sqrt(3) area / sum of squared edges of a new face (1: equilateral)
    double min_point_normal_dot = -1;  // cosine: smallest agreement of the face holding a removed
                                       // vertex with that vertex's own normal (-1: not checked)
};

/// A simplified mesh: the surviving original vertices (increasing indices) and the faces
/// re-indexed into them (in the order of the faces they come from).
struct Simplified {
    std::vector<int> kept;
    MatrixX3i faces;
};

/// Simplifies a triangle mesh (positions in mm) by half-edge collapses roughly in the order of
/// their quadric error (area-weighted face planes: passes over the vertices under a threshold
/// growing 4x per pass, each vertex merged into its cheapest allowed neighbour), border
/// vertices (on an edge of one face) fixed, a collapse taken only when it keeps the surface
/// manifold (link condition), turns no face's normal by more than acos(min_normal_dot) nor
/// folds its uv triangle, leaves no new face below
/// min_quality, and every original vertex removed so far lies within `distance` mm of one of the
/// faces around the surviving vertex (exact point-triangle distance; checked for the removed
/// vertices whose nearest face the collapse replaces), with uv (V x 2, or 0 rows) interpolated at
/// that point within `uv` of the vertex's own. Runs until no collapse meets the bounds.
Simplified simplify_bounded(const MatrixX3d& vertices, const MatrixX3i& faces, const MatrixX2d& uv,
                            const SimplifyBounds& bounds);

}  // namespace extreme3d::core
