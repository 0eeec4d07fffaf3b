// Per-iteration vertices of the jaw-contour landmarks (iBUG 0..16): the model vertex on the
// occluding contour nearest to the landmark's image position (the idea of eos' contour fitting).
#pragma once
#include <Eigen/Core>
#include <vector>

#include "fit/silhouette.hpp"
#include "model/camera.hpp"
#include "model/face_model.hpp"

namespace extreme3d::fit {

/// What a contour correspondence needs of the model, computed once per fit.
struct ContourModel {
    EdgeTopology edges;      ///< edges of the closed-mouth surface (faces_fill when it covers faces)
    MatrixX3i triangles;     ///< the triangles of `edges`
    std::vector<int> side;   ///< per vertex: -1 on the side of landmarks 0..7, +1 on 9..16, 0 midline
};

/// The contour model of a face model: surface triangles (the mouth closed when faces_fill holds
/// the whole surface), edge topology and each vertex's side of the mean face's midline (the x of
/// the nose-bridge landmarks 27..30; a band of +-2 mm counts as the midline).
ContourModel make_contour_model(const FaceModel& model);

/// Vertex of every jaw landmark 0..16 at the current shape and pose: among the silhouette
/// vertices on the landmark's side (both sides for the chin, 8) and the landmark's own fixed
/// vertex (model.outer_landmarks) when a triangle at it faces the camera, the one whose
/// projection is nearest to the landmark (px). vertices: V x 3 current shape (mm, model coords);
/// landmarks: 68 x 2 px. Returns 17 vertex ids.
/// occlusion: instead, a landmark whose fixed vertex is visible (visible_vertices: not hidden by
/// the rest of the surface, e.g. the cheek of a turned face) takes that vertex, and only a hidden
/// one takes the nearest silhouette vertex on its side (where a detector puts a jaw point: on the
/// vertex while it is seen, on the outline once it is not).
std::vector<int> contour_vertices(const ContourModel& contour, const FaceModel& model, const MatrixX3d& vertices,
                                  const Pose& pose, const Camera& cam, const MatrixX2f& landmarks,
                                  bool occlusion = false);

}  // namespace extreme3d::fit
