// Bump layering of combineBump: the Bump CNN's 8-bit map moves dense vertices along camera z, and
// visible sparse vertices take the bumped depth of the dense surface.
#pragma once
#include <vector>

#include "core/common.hpp"
#include "core/dense_mesh.hpp"

namespace extreme3d::core {

/// Bump map value (0..255) to a depth offset in mm: (b - 127) / 12 * 1.25.
float bump_to_mm(std::uint8_t b);

/// Adds the bump to the dense mesh in place: z += bump_to_mm(bump(y + margin, x + margin));
/// x and y keep their unbumped values; rel_depth follows z (the result is withBump_aligned).
void apply_bump(DenseMesh& dense, const RowMatrixXu8& bump, int margin);

/// Bilinear value of a float image at (x, y) (pixels) as the original's avSubMatValue32F:
/// 0 outside [0, W-1) x [0, H-1).
double bilinear(const RowMatrixXf& img, double x, double y);

/// Transfers the bumped dense depth to the sparse mesh (camera coordinates, modified in place):
/// a visible vertex with a mutual partner whose four bilinear pixels are all in vis_mask gets
/// z = bilinear(rel_depth) + min_depth. Returns the per-vertex flag 'bumped' (the original's
/// filterInd >= 0); partner_bumped[pair[i]] is set for each bumped i (filterIndFlip).
Flags transfer_bump_to_sparse(MatrixX3f& aligned, const MatrixX2f& proj, const Flags& visible,
                              const Eigen::VectorXi& pair, const RowMatrixXu8& vis_mask, const DenseMesh& dense,
                              Flags& partner_bumped);

}  // namespace extreme3d::core
