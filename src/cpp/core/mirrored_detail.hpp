// Dense vertices rebuilt from the completed sparse mesh, and their mirrored copy through the
// symmetry pairs (detail transferred to the occluded side).
#pragma once
#include "core/common.hpp"
#include "core/dense_registration.hpp"

namespace extreme3d::core {

/// The registered dense mesh and its mirror, S x 3 each (frontal, mm).
struct DenseDetail {
    MatrixX3f dense;           ///< sum_k w_k sparse[tri_k] + residual
    MatrixX3f mirrored;        ///< sum_k w_k sparse[pair[tri_k]] + mirrored residual
    MatrixX3f residual;        ///< residual (0, 0, dz) rotated by align_R R^T
    std::vector<int> status;   ///< the original's filterInd: 1 kept, 100 a partner is reliable, -1 no partner
    RowMatrixXi mirror_vindex; ///< registration index map with the mirror's rejected pixels removed
};

/// Rebuilds the registered dense vertices from the completed sparse mesh and builds the mirrored
/// copy: its residual has x negated, then x becomes +-0.5 wherever a component exceeds +-0.2 (checked
/// in x, y, z order, as coded); a mirrored vertex is kept only when no partner has score >= 0.75.
DenseDetail mirrored_detail(const Registration& reg, const MatrixX3f& sparse_completed, const Eigen::Matrix3f& R,
                            const Eigen::Matrix3f& align_R, const Eigen::VectorXi& pair,
                            const Eigen::VectorXf& scores);

}  // namespace extreme3d::core
