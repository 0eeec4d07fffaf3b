// Visibility of the sparse (model) vertices in the posed render, as the original's
// projectCheckVis2 plus the mask test of combineBump.
#pragma once
#include "core/common.hpp"

namespace extreme3d::core {

/// Projections (pixels, float) and visibility flags of the sparse vertices.
struct SparseVisibility {
    MatrixX2f proj;  ///< V x 2 pixel positions (u, v) of the posed vertices
    Flags visible;   ///< V flags
};

/// Projects the model-space vertices with the pose and marks a vertex visible when it projects into
/// (0, W-1) x (0, H-1) and some pixel of its 3x3 neighbourhood has camera depth within 2.5 mm of
/// the vertex's z (raw_depth: H x W GL depth, row 0 = top).
SparseVisibility project_check_visible(const MatrixX3f& frontal, const Pose& pose, const RowMatrixXf& raw_depth,
                                       const Camera& cam);

/// Applies the image bounds and the bump mask to the flags in place: a visible vertex stays
/// visible only when floor(u) in [0, W-2], floor(v) in [0, H-2] and mask(v + margin, u + margin) >= 127.
void apply_mask_visibility(SparseVisibility& vis, const RowMatrixXu8& mask, int width, int height, int margin);

/// The 'visible' image mask (H x W, 1/0): rendered (depth < 0.9999) and mask(y + margin, x + margin) > 127.
RowMatrixXu8 visible_pixel_mask(const RowMatrixXf& raw_depth, const RowMatrixXu8& mask, int margin);

}  // namespace extreme3d::core
