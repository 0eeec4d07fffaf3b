// Area-weighted vertex normals of a triangle mesh, in double (the photo-colour visibility test).
#pragma once
#include "model/types.hpp"

namespace extreme3d::texture {

/// Unit vertex normals (V x 3): the sum of cross(b - a, c - a) over the triangles using each
/// vertex (float corners taken in double), added corner slot by corner slot in face order (as
/// extreme3d.colors.vertex_normals adds them), then normalised; zero for unused vertices.
MatrixX3d vertex_normals(const MatrixX3f& vertices, const MatrixX3i& faces);

}  // namespace extreme3d::texture
