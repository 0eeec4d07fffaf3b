// Final mesh assembly of combineBump: the completed sparse mesh with its reliable ("inner") region
// cut out, the registered dense mesh inside the removed triangles (plus a one-pixel ring), and the
// mirrored dense copy likewise; a plain concatenation without stitching.
#pragma once
#include "core/common.hpp"
#include "core/dense_mesh.hpp"
#include "core/dense_registration.hpp"
#include "core/mirrored_detail.hpp"

namespace extreme3d::core {

/// Per-vertex neighbour lists of a triangle mesh (unique, in order of first appearance).
std::vector<std::vector<int>> vertex_neighbours(const MatrixX3i& faces, int num_vertices);

/// Point-in-triangle test of the original (float cross products in the image plane, edges inclusive;
/// a degenerate triangle contains every point).
bool point_in_triangle(const Eigen::Vector2f& p, const Eigen::Vector2f& a, const Eigen::Vector2f& b,
                       const Eigen::Vector2f& c);

/// Statistics of the assembly.
struct FinalStats {
    int inner_sparse = 0;     ///< sparse vertices replaced by dense detail (inner region)
    int kept_sparse_faces = 0;
    int dense_faces = 0;
    int mirrored_faces = 0;
};

/// Assembles final_frontal from the completed sparse mesh (V x 3), the model faces and pairs, the
/// scores after the passes, the sparse projections, the dense pixels, the registration and the
/// dense detail. Vertices: [sparse (V), dense (S), mirrored (S)]; faces: kept sparse faces, dense grid
/// faces (+V), mirrored grid faces with the first two indices swapped (+V+S).
Mesh assemble_final_mesh(const MatrixX3f& sparse, const MatrixX3i& faces, const Eigen::VectorXi& pair,
                         const Eigen::VectorXf& scores, const MatrixX2f& proj, const DenseMesh& dense,
                         const Registration& reg, const DenseDetail& detail, FinalStats* stats = nullptr);

}  // namespace extreme3d::core
