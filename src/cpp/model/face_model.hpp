// The morphable face model (BaselFaceModel_mod.h5 layout, converted to 0-based indices by Python).
#pragma once
#include "model/types.hpp"

namespace extreme3d {

/// Shape + expression morphable model in millimetres. Vectors of length 3V interleave x, y, z
/// per vertex (vertex i at rows 3i..3i+2). All index arrays are 0-based.
struct FaceModel {
    Eigen::VectorXf shape_mu;         ///< 3V mean identity (mm)
    Eigen::MatrixXf shape_pc;         ///< 3V x K identity components (unit-variance basis, scaled by shape_ev)
    Eigen::VectorXf shape_ev;         ///< K identity standard deviations
    Eigen::VectorXf exp_mu;           ///< 3V mean expression offset (mm)
    Eigen::MatrixXf exp_pc;           ///< 3V x E expression components
    Eigen::VectorXf exp_ev;           ///< E expression standard deviations
    MatrixX3i faces;                  ///< F x 3 triangles of the face surface
    MatrixX3i faces_fill;             ///< F2 x 3 water-tight triangles (depth renders only)
    Eigen::VectorXi pair;             ///< V symmetric partner of each vertex
    Eigen::VectorXi inner_landmarks;  ///< 68 landmark vertices for the near (visible) contour
    Eigen::VectorXi outer_landmarks;  ///< 68 landmark vertices for the far (silhouette) contour

    /// Number of vertices V.
    int num_vertices() const { return static_cast<int>(shape_mu.size() / 3); }
    /// Number of identity coefficients K.
    int num_shape() const { return static_cast<int>(shape_ev.size()); }
    /// Number of expression coefficients E.
    int num_expr() const { return static_cast<int>(exp_ev.size()); }

    /// Checks sizes and index ranges; throws std::invalid_argument naming the offending array.
    void validate() const;

    /// Identity shape as a 3V vector: shape_mu + shape_pc * (alpha .* shape_ev), mm, model coords.
    Eigen::VectorXf identity(const Eigen::VectorXf& alpha) const;

    /// Expression offset as a 3V vector: exp_mu + exp_pc * (expr .* exp_ev), mm.
    Eigen::VectorXf expression(const Eigen::VectorXf& expr) const;

    /// Full shape (identity + expression) as V x 3 vertices, mm, model coords.
    MatrixX3f vertices(const Eigen::VectorXf& alpha, const Eigen::VectorXf& expr) const;
};

/// Reshapes a 3V interleaved vector into V x 3 rows.
MatrixX3f to_vertices(const Eigen::VectorXf& flat);

}  // namespace extreme3d
