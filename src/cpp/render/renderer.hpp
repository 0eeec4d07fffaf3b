// Headless OSMesa rendering of a triangle mesh with the original's camera (see model/camera.hpp).
// One GL context per process, created on first use and reused; calls are serialised by a mutex
// (render/osmesa_context.hpp). GL draws a point X (model coords) exactly at the camera formula's
// pixel position u = -f Xc/Zc + cx, v = f Yc/Zc + cy, Xc = R X + t; pixel (i, j) samples the centre
// (i + 0.5, j + 0.5). Depth test LEQUAL; front faces culled as in the original, which (the image
// y axis being flipped in the projection) keeps the triangles that are counter-clockwise when seen
// from the camera in a y-up view, i.e. the outside of a closed mesh with outward CCW winding.
#pragma once
#include <optional>

#include "model/camera.hpp"
#include "model/types.hpp"

namespace extreme3d::render {

/// How fragments are coloured.
enum class Shading {
    Flat,     ///< per-vertex colours (or white) interpolated, no lighting
    Lambert,  ///< per-vertex colours (or grey) times a head-light Lambert term from vertex normals
};

/// Result of one render; all images are row-major with row 0 the top image row (as OpenCV).
struct RenderResult {
    RowMatrixXu8 rgb;   ///< H x (3W) interleaved RGB, 0..255; background black
    RowMatrixXf depth;  ///< H x W raw GL depth-buffer values in [0, 1]; 1 where nothing is drawn
};

/// Renders vertices (V x 3, mm, model coords) and faces (F x 3, 0-based) at pose/camera.
/// colors: optional V x 3 in 0..255. Culls front faces as the original does (its winding).
/// Throws std::invalid_argument for face indices out of range, non-finite vertices, colours not
/// V x 3, or a bad camera (focal <= 0, size outside 1..16384, not 0 < near < far).
RenderResult render_mesh(const MatrixX3f& vertices, const MatrixX3i& faces,
                         const std::optional<MatrixX3f>& colors, const Pose& pose, const Camera& cam,
                         Shading shading = Shading::Flat);

/// Camera-space z (H x W, mm, negative in front, 0 where nothing is drawn) of the mesh drawn with
/// both windings of every face (so that it does not depend on the triangles' orientation): the
/// depth buffer render_mesh gives for the faces followed by the faces with corners 0 and 1
/// swapped, through depth_to_metric, without drawing or reading colours.
RowMatrixXf render_two_sided_depth(const MatrixX3f& vertices, const MatrixX3i& faces, const Pose& pose,
                                   const Camera& cam);

/// Renders the index of the visible triangle at each pixel (H x W, -1 where nothing is drawn),
/// same camera/culling as render_mesh; used for per-pixel triangle and barycentric look-ups.
RowMatrixXi render_triangle_ids(const MatrixX3f& vertices, const MatrixX3i& faces, const Pose& pose,
                                const Camera& cam);

/// Camera-space z (mm, negative; 0 where the buffer is 1 = background) of a raw depth buffer:
/// z = -n f / (f - d (f - n)) with n, f the camera's near/far planes.
RowMatrixXf depth_to_metric(const RowMatrixXf& depth, const Camera& cam);

}  // namespace extreme3d::render
