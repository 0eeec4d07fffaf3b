// Frontalisation of the bumped sparse mesh, its mirror through the symmetry pairs and the
// "refined" pose: half of the rigid transform between the mesh and its mirror (as coded in the
// original, which undoes the mirror before aligning, so this is close to the identity).
#pragma once
#include "core/common.hpp"

namespace extreme3d::core {

/// The sparse meshes in the (corrected) frontal frame, all V x 3 in mm.
struct SymmetryFrame {
    MatrixX3f sparse;         ///< bumped sparse mesh, frontalised then corrected (rotShape)
    MatrixX3f foundation;     ///< foundation, frontalised then corrected (rotShape0)
    MatrixX3f flipped;        ///< mirror: at pair[i] the mirrored frontal vertex i for bumped i, elsewhere
                              ///< the posed foundation as the original; then the inverse correction
    Eigen::Matrix3f align_R = Eigen::Matrix3f::Identity();  ///< symmetry correction rotation
    Eigen::Vector3f align_t = Eigen::Vector3f::Zero();      ///< symmetry correction translation (mm)
    int num_align = 0;        ///< number of central vertices used (the correction needs > 100)
};

/// Rigid transform (R, t) with p2 ~ R p1 + t (Kabsch, as the original's estimateRigidTranf: R = V U^T
/// from the SVD of the centred cross-covariance, last column negated when det < 0). p1, p2: N x 3.
void estimate_rigid_transform(const MatrixX3f& p1, const MatrixX3f& p2, Eigen::Matrix3f& R, Eigen::Vector3f& t);

/// Frontalises the posed sparse meshes (R^T (x - t)), builds the mirror and applies the halved
/// correction when enabled and more than 100 central (|x| < 15 mm) bumped vertices have bumped partners.
/// sparse_aligned: bumped posed sparse mesh; foundation_aligned: posed foundation.
SymmetryFrame symmetry_pose(const MatrixX3f& sparse_aligned, const MatrixX3f& foundation_aligned,
                            const Eigen::Matrix3f& R, const Eigen::Vector3f& t, const Flags& bumped,
                            const Eigen::VectorXi& pair, bool correct = true);

}  // namespace extreme3d::core
