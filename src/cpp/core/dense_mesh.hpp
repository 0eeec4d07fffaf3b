// Dense mesh of combineBump: every rendered pixel of the foundation inside the bump mask becomes a
// vertex back-projected from the depth buffer; the pixel grid gives the triangles.
#pragma once
#include <vector>

#include "model/camera.hpp"
#include "model/types.hpp"

namespace extreme3d::core {

/// Dense per-pixel mesh in camera coordinates (mm) plus the pixel bookkeeping later stages need.
struct DenseMesh {
    RowMatrixXi vindex;      ///< H x W dense vertex index of each pixel, -1 where there is none
    std::vector<int> px;     ///< column of each dense vertex (vertices are numbered column by column)
    std::vector<int> py;     ///< row of each dense vertex
    RowMatrixXf rel_depth;   ///< H x W camera z minus min_depth at dense pixels (bumped after the bump
                             ///< layer), 0 elsewhere; the original's refDepth after its shift
    float min_depth = 0.f;   ///< smallest (most negative) camera z over the dense pixels, or 0
    MatrixX3f vertices;      ///< N x 3 back-projected vertices (camera coordinates, mm)
    MatrixX3i faces;         ///< grid triangles over vindex (see grid_faces)
};

/// Builds the dense mesh from a raw GL depth buffer (H x W, row 0 = top, 1 = background) and the
/// 8-bit bump mask: pixel (x, y) is a vertex when its depth is < 0.9999 and mask(y + margin,
/// x + margin) >= 127. Vertices are numbered with x in the outer loop; x = z (u - cx) / (-f),
/// y = z (v - cy) / f at integer pixel coordinates. Throws std::invalid_argument when the mask is
/// too small for the image plus margin.
DenseMesh build_dense_mesh(const RowMatrixXf& raw_depth, const RowMatrixXu8& mask, const Camera& cam, int margin);

/// Triangles of a vertex-index grid as the original's computeFaces: per quad (r, c), with TR =
/// (r, c+1), TL = (r, c), BL = (r+1, c), BR = (r+1, c+1): when TR exists emit (TR, TL, BL) and
/// (TR, BL, BR) where complete, or (TR, TL, BR) when only BL is missing; a quad without TR gives
/// nothing. Rows outer, columns inner.
MatrixX3i grid_faces(const RowMatrixXi& vindex);

}  // namespace extreme3d::core
