// The combineBump driver after the pose fit: from a GIVEN pose and expression, builds the
// foundation, the dense mesh with bumps, the occlusion scores and (with soft symmetry) the completed
// frontal mesh, as the original FaceServices2::combineBump.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "core/common.hpp"
#include "model/face_model.hpp"

namespace extreme3d::core {

/// Options of one run.
struct CombineBumpOptions {
    Camera camera;          ///< the render camera (focal 1000, 500 x 500)
    bool symmetry = true;   ///< soft symmetry; off ends after the bumped dense mesh
    int margin = 6;         ///< offset of the image inside the 512 x 512 bump map and mask (pixels)
    float max_gap = 4.f;    ///< registration: largest coordinate gap between triangle corners (mm)
};

/// Everything a run produces (meshes in mm; frontal = model coordinates, aligned = camera).
struct CombineBumpResult {
    Mesh foundation_frontal, foundation_aligned;   ///< identity + expression, faces = model faces
    Mesh with_bump_aligned, with_bump_frontal;     ///< dense grid mesh with bumps
    Mesh sparse_full_frontal, final_frontal;       ///< only with symmetry on
    bool completed = false;                        ///< whether the symmetry stages ran
    MatrixX2f projections;                         ///< V x 2 sparse projections (pixels)
    Flags visible;                                 ///< V sparse visibility (depth + mask)
    Eigen::VectorXf occlusion;                     ///< V raw occlusion scores (0 for invisible)
    Eigen::VectorXf scores;                        ///< V scores after bad vertices and passes (0, 0.5, 1)
    Flags bumped;                                  ///< V sparse vertices that took the bumped depth
    Flags bad;                                     ///< V bad vertices
    Eigen::Matrix3f symmetry_R = Eigen::Matrix3f::Identity();  ///< symmetry correction rotation
    Eigen::Vector3f symmetry_t = Eigen::Vector3f::Zero();      ///< symmetry correction translation (mm)
    int symmetry_points = 0;                       ///< central vertices used by the correction
    int dense_vertices = 0, registered = 0, unknowns = 0, unanchored = 0;  ///< counts
    MatrixX3i reg_tri;      ///< S x 3 sparse vertices of each registered dense vertex (-1 unused)
    MatrixX3f reg_w;        ///< S x 3 their barycentric weights (image plane)
    RowMatrixXi reg_pixel;  ///< S x 2 pixel (x, y) of each registered dense vertex
    std::vector<std::pair<std::string, double>> timings_ms;      ///< per stage, in order
};

/// Runs the stages. Throws std::invalid_argument on wrong coefficient lengths, bump/mask smaller
/// than the image plus margin, or a face that covers no pixel of the render.
CombineBumpResult combine_bump(const FaceModel& model, const Eigen::VectorXf& alpha, const Eigen::VectorXf& expr,
                               const Pose& pose, const RowMatrixXu8& bump, const RowMatrixXu8& mask,
                               const CombineBumpOptions& opt);

}  // namespace extreme3d::core
