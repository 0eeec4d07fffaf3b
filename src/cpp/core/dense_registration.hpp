// Dense registration: every dense pixel is located in a Delaunay triangulation of the projected
// reliable sparse vertices and stores barycentric weights plus a depth residual, so that it can be
// rebuilt from the completed sparse mesh (the original's cvSubdiv2D step).
#pragma once
#include <vector>

#include "core/common.hpp"
#include "core/dense_mesh.hpp"

namespace extreme3d::core {

/// Delaunay triangles (indices into pts) of 2D points, from the dual of Boost.Polygon's Voronoi
/// diagram. Coordinates (pixels) are scaled by 2^21 and rounded to integers first; points equal after
/// rounding keep the first occurrence. Cocircular groups are fan-triangulated.
std::vector<Eigen::Vector3i> delaunay_triangles(const MatrixX2f& pts);

/// One registered dense vertex: up to three sparse vertices (-1 when unused) and their weights.
struct Registration {
    std::vector<Eigen::Vector3i> tri;  ///< sparse vertex indices (inside: 3, on an edge: 2, at a vertex: 1)
    std::vector<Eigen::Vector3f> w;    ///< barycentric weights
    std::vector<float> dz;             ///< bumped dense z minus the interpolated posed sparse z (mm)
    std::vector<int> dense;            ///< index of the dense vertex it comes from
    RowMatrixXi vindex;                ///< H x W registration index per pixel, -1 where none
};

/// Registers the dense vertices on the sparse mesh. Reference vertices are those with score >= 0.75
/// projected inside [0, W-1) x [0, H-1); a dense pixel (x, y) in that range is located in their
/// Delaunay triangulation: inside a triangle it is kept unless two corners differ by more than
/// max_gap mm in x, y or z of the posed sparse mesh; on an edge unless the two ends are not
/// neighbours in `faces` and differ by more than max_gap in z; at a vertex always.
/// sparse_camera: posed bumped sparse mesh (camera coordinates, mm); proj: its projections.
Registration register_dense(const DenseMesh& dense, const MatrixX2f& proj, const Eigen::VectorXf& scores,
                            const MatrixX3f& sparse_camera, const MatrixX3i& faces, float max_gap = 4.f);

}  // namespace extreme3d::core
