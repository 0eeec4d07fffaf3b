// Hole filling on the sparse mesh: vertices without a bumped depth or with a low occlusion score are
// recomputed by sparse least squares keeping the edge differences of the mirrored surface (where
// available) or of the foundation, anchored to the known neighbours on the border.
#pragma once
#include "core/common.hpp"

namespace extreme3d::core {

/// Inputs of the hole filling (all V x 3 meshes frontal and corrected, mm).
struct HoleFillInput {
    const MatrixX3f* sparse;      ///< bumped sparse mesh (known values)
    const MatrixX3f* flipped;     ///< its mirror (SymmetryFrame::flipped)
    const MatrixX3f* foundation;  ///< foundation
    const MatrixX3i* faces;       ///< the model's `faces`
    const Eigen::VectorXi* pair;  ///< symmetry partners
    const Flags* bumped;          ///< bumped sparse vertices (filterInd >= 0)
    const Flags* partner_bumped;  ///< bumped partners (filterIndFlip >= 0)
    const Eigen::VectorXf* scores;///< occlusion scores after the passes
};

/// Statistics of one solve.
struct HoleFillStats {
    int unknowns = 0;        ///< vertices solved for
    int border_rows = 0;     ///< anchor rows (unknowns with known neighbours)
    int unanchored = 0;      ///< unknowns in components without any known neighbour (kept at the foundation)
};

/// Returns the completed sparse mesh: unknown vertices (in some face, and not bumped or score < 0.75)
/// solved from rows  deg_i x_i - sum_j x_j = sum_j d_ij  over unknown neighbours j, where d_ij is the
/// mirrored edge difference when both partners are bumped with scores >= 0.75, else the foundation's,
/// plus one row per border unknown  m_i x_i = sum_k (f_i - f_k + x_k)  over its m known neighbours k.
/// Solved as least squares through the normal equations (sparse Cholesky), one solve per coordinate.
MatrixX3f fill_holes(const HoleFillInput& in, HoleFillStats* stats = nullptr);

}  // namespace extreme3d::core
