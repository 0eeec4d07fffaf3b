// OSMesa rendering with the original's camera (FBRender / FImRenderer): a perspective projection
// from the intrinsics with the image y axis flipped, near 50 / far 10000, depth test LEQUAL, front
// faces culled, drawn into a framebuffer object with a 24-bit depth renderbuffer. The GL matrices
// are set up with the same calls and float roundings as the original (glScaled(1,-1,1) times the
// gluPerspective matrix of a float fovy/aspect; glTranslatef then glRotatef of the float pose), so
// the depth buffer matches the original's bit for bit; model-space vertices are drawn from client
// arrays.
#include "render/renderer.hpp"

#include <GL/gl.h>

#include <algorithm>
#include <cstdlib>
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "render/osmesa_context.hpp"

namespace extreme3d::render {
namespace {

/// Throws std::invalid_argument unless the mesh arrays can be drawn safely.
void check_mesh(const MatrixX3f& vertices, const MatrixX3i& faces) {
    if (!vertices.allFinite()) throw std::invalid_argument("render: vertices contain NaN or inf");
    if (faces.size() == 0) return;
    const int lo = faces.minCoeff(), hi = faces.maxCoeff();
    if (lo < 0 || hi >= vertices.rows()) {
        throw std::invalid_argument("render: face index out of range [0, " +
                                    std::to_string(vertices.rows()) + "): min " + std::to_string(lo) +
                                    ", max " + std::to_string(hi));
    }
}

/// Throws std::invalid_argument unless the camera can be used for GL rendering.
void check_camera(const Camera& cam) {
    if (!(cam.focal > 0) || !std::isfinite(cam.focal))
        throw std::invalid_argument("render: focal must be a positive finite number of pixels");
    if (!(cam.near_plane > 0) || !(cam.far_plane > cam.near_plane) || !std::isfinite(cam.far_plane))
        throw std::invalid_argument("render: need 0 < near < far (mm)");
    if (cam.width < 1 || cam.height < 1 || cam.width > OsmesaContext::kMaxSize ||
        cam.height > OsmesaContext::kMaxSize) {
        throw std::invalid_argument("render: image size must be in 1.." +
                                    std::to_string(OsmesaContext::kMaxSize) + " pixels, got " +
                                    std::to_string(cam.width) + "x" + std::to_string(cam.height));
    }
}

/// Loads the original's projection (FBRender::loadIntrinGL with K = diag(f, f, 1), centre W/2,
/// H/2): glScaled(1, -1, 1) times the gluPerspective matrix of fovy = float(2 atan(H / 2f) in
/// degrees, with pi as 3.141592f) and aspect = float(W / H). Window x = -f X/Z + W/2 and window
/// y (= image row: rows are read bottom-first) = f Y/Z + H/2; depth near -> 0, far -> 1.
void load_projection(const Camera& cam) {
    const float fovy = float(2.0 * std::atan(float(cam.height) / (2.0 * cam.focal)) * 180.0f /
                             3.141592f);
    const float aspect = float(float(cam.width) / float(cam.height) * cam.focal / cam.focal);
    // The gluPerspective matrix (column-major), computed in double as GLU does.
    const double n = cam.near_plane, f = cam.far_plane;
    const double radians = double(fovy) / 2 * 3.14159265358979323846 / 180;
    const double cotangent = std::cos(radians) / std::sin(radians);
    std::array<double, 16> P{};  // P[col * 4 + row]
    P[0] = cotangent / double(aspect);
    P[5] = cotangent;
    P[10] = -(f + n) / (f - n);
    P[11] = -1.0;
    P[14] = -2.0 * n * f / (f - n);
    glMatrixMode(GL_PROJECTION);
    glLoadIdentity();
    glScaled(1.0, -1.0, 1.0);
    glMultMatrixd(P.data());
}

/// Loads the original's model-view (FImRenderer::mapRendering): glTranslatef(t) then glRotatef of
/// the float Rodrigues vector (angle in degrees with pi as 3.14159f). A zero rotation is skipped
/// (the original would divide by zero; it renders its reference view with r = 1e-6 instead).
void load_modelview(const Pose& pose) {
    glMatrixMode(GL_MODELVIEW);
    glLoadIdentity();
    glTranslatef(float(pose.tvec.x()), float(pose.tvec.y()), float(pose.tvec.z()));
    const float r[3] = {float(pose.rvec.x()), float(pose.rvec.y()), float(pose.rvec.z())};
    const float angle = std::sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
    if (angle > 0.0f) glRotatef(angle / 3.14159f * 180.f, r[0] / angle, r[1] / angle, r[2] / angle);
}

/// Camera-space vertices (mm, float for GL): X_c = R X + t.
MatrixX3f to_camera(const MatrixX3f& vertices, const Pose& pose) {
    const Eigen::Matrix3f R = pose.rotation().cast<float>();
    const Eigen::RowVector3d t = pose.tvec.transpose();
    // Rotate in float (exact enough: < 1e-4 mm at 1 m), add the translation in double.
    return ((vertices * R.transpose()).cast<double>().rowwise() + t).cast<float>();
}

/// Area-weighted unit vertex normals (cross((v1 - v0), (v2 - v0)) summed per vertex).
MatrixX3f vertex_normals(const MatrixX3f& v, const MatrixX3i& faces) {
    MatrixX3f normals = MatrixX3f::Zero(v.rows(), 3);
    for (Eigen::Index i = 0; i < faces.rows(); ++i) {
        const Eigen::RowVector3f a = v.row(faces(i, 1)) - v.row(faces(i, 0));
        const Eigen::RowVector3f b = v.row(faces(i, 2)) - v.row(faces(i, 0));
        const Eigen::RowVector3f n = a.cross(b);
        for (int k = 0; k < 3; ++k) normals.row(faces(i, k)) += n;
    }
    for (Eigen::Index i = 0; i < normals.rows(); ++i) {
        const float len = normals.row(i).norm();
        if (len > 0) normals.row(i) /= len;
    }
    return normals;
}

/// Per-vertex RGB in [0, 1]: the colours (0..255; white, or grey for Lambert, when absent), times a
/// two-sided head-light term 0.25 + 0.75 |n . l| (l: unit direction from the vertex to the camera)
/// for Lambert shading.
MatrixX3f vertex_colors(const MatrixX3f& cam_vertices, const MatrixX3i& faces,
                        const std::optional<MatrixX3f>& colors, Shading shading) {
    const Eigen::Index V = cam_vertices.rows();
    MatrixX3f rgb(V, 3);
    if (colors) {
        rgb = (colors->array() / 255.0f).cwiseMax(0.0f).cwiseMin(1.0f).matrix();
    } else {
        rgb.setConstant(shading == Shading::Lambert ? 0.8f : 1.0f);
    }
    if (shading == Shading::Lambert) {
        const MatrixX3f normals = vertex_normals(cam_vertices, faces);
        for (Eigen::Index i = 0; i < V; ++i) {
            const float dist = cam_vertices.row(i).norm();
            const float cosine =
                dist > 0 ? std::abs(normals.row(i).dot(-cam_vertices.row(i)) / dist) : 1.0f;
            rgb.row(i) *= 0.25f + 0.75f * cosine;
        }
    }
    return rgb;
}

/// Whether a pixel centre (i + 0.5, j + 0.5), i in [i0, i1], j in [j0, j1], lies inside the
/// clockwise-in-(u, v) triangle p0 p1 p2 widened by `margin` pixels on every edge.
bool covers_a_centre(const Eigen::Vector2d& p0, const Eigen::Vector2d& p1, const Eigen::Vector2d& p2,
                     double i0, double i1, double j0, double j1, double margin) {
    const std::array<Eigen::Vector2d, 3> p{p0, p1, p2};
    std::array<Eigen::Vector2d, 3> edge;
    std::array<double, 3> slack;
    for (int k = 0; k < 3; ++k) {
        edge[k] = p[(k + 1) % 3] - p[k];
        slack[k] = margin * edge[k].norm();
    }
    for (double j = j0; j <= j1; ++j) {
        for (double i = i0; i <= i1; ++i) {
            const Eigen::Vector2d q(i + 0.5, j + 0.5);
            bool inside = true;
            for (int k = 0; k < 3 && inside; ++k) {
                const Eigen::Vector2d d = q - p[k];
                // Clockwise in (u, v): the inside is where the cross product is <= 0.
                inside = edge[k].x() * d.y() - edge[k].y() * d.x() <= slack[k];
            }
            if (inside) return true;
        }
    }
    return false;
}

/// Indices of the faces that can produce fragments: GL would cull the others (front-facing under
/// the flipped projection) or they cover no pixel centre of the image. Conservative (margins of
/// 0.01 px and 1e-3 px^2 against GL's fixed-point snapping; faces reaching the near plane are
/// always kept), so drawing only these gives the same image, and it spares llvmpipe the setup of
/// the many sub-pixel triangles of a dense mesh. EXTREME3D_RENDER_NO_PRECULL=1 keeps every face.
std::vector<unsigned int> drawable_faces(const MatrixX3f& cam_vertices, const MatrixX3i& faces,
                                         const Camera& cam) {
    const Eigen::Index V = cam_vertices.rows();
    const double limit_z = -cam.near_plane * (1.0 - 1e-6);
    std::vector<double> u(V), v(V);
    std::vector<char> in_front(V);
    for (Eigen::Index i = 0; i < V; ++i) {
        const double z = cam_vertices(i, 2);
        in_front[i] = z < limit_z;
        if (in_front[i]) {
            u[i] = -cam.focal * cam_vertices(i, 0) / z + cam.cx();
            v[i] = cam.focal * cam_vertices(i, 1) / z + cam.cy();
        }
    }
    constexpr double margin = 0.01, area_eps = 1e-3;
    // Debug switch: EXTREME3D_RENDER_NO_PRECULL=1 hands every face to GL (tests compare both).
    const char* no_precull = std::getenv("EXTREME3D_RENDER_NO_PRECULL");
    const bool nofilter = no_precull != nullptr && no_precull[0] != '\0' && no_precull[0] != '0';
    std::vector<unsigned int> kept;
    kept.reserve(std::size_t(faces.rows()));
    for (Eigen::Index f = 0; f < faces.rows(); ++f) {
        const int a = faces(f, 0), b = faces(f, 1), c = faces(f, 2);
        if (!nofilter && in_front[a] && in_front[b] && in_front[c]) {
            // Twice the signed area in window coordinates (u right, v = GL window y): GL's front
            // faces (counter-clockwise, area > 0) are culled.
            const double area = (u[b] - u[a]) * (v[c] - v[a]) - (u[c] - u[a]) * (v[b] - v[a]);
            if (area > area_eps) continue;
            const double lo_u = std::min({u[a], u[b], u[c]}) - margin;
            const double hi_u = std::max({u[a], u[b], u[c]}) + margin;
            const double lo_v = std::min({v[a], v[b], v[c]}) - margin;
            const double hi_v = std::max({v[a], v[b], v[c]}) + margin;
            // Pixel i samples i + 0.5: is some centre of the image inside the bounding box?
            const double first_i = std::max(0.0, std::ceil(lo_u - 0.5));
            const double last_i = std::min(double(cam.width - 1), std::floor(hi_u - 0.5));
            const double first_j = std::max(0.0, std::ceil(lo_v - 0.5));
            const double last_j = std::min(double(cam.height - 1), std::floor(hi_v - 0.5));
            if (first_i > last_i || first_j > last_j) continue;
            // Small boxes (the sub-pixel triangles of dense meshes): test the few centres
            // against the edges, each widened by `margin` px.
            if ((last_i - first_i + 1) * (last_j - first_j + 1) <= 4 &&
                !covers_a_centre({u[a], v[a]}, {u[b], v[b]}, {u[c], v[c]}, first_i, last_i, first_j,
                                 last_j, margin)) {
                continue;
            }
        }
        kept.push_back(static_cast<unsigned int>(f));
    }
    return kept;
}

/// Sets the original's GL state (projection, pose, depth test LEQUAL, front-face culling, no
/// lighting) and clears colour to black and depth to 1. The context must be bound.
void begin_frame(const Camera& cam, const Pose& pose, bool flat_colours) {
    load_projection(cam);
    load_modelview(pose);
    glDisable(GL_LIGHTING);
    glDisable(GL_TEXTURE_2D);
    glDisable(GL_DITHER);
    glDisable(GL_BLEND);
    glEnable(GL_DEPTH_TEST);
    glDepthFunc(GL_LEQUAL);
    glDepthMask(GL_TRUE);
    glEnable(GL_CULL_FACE);
    glFrontFace(GL_CCW);
    glCullFace(GL_FRONT);  // the original's choice; with the flipped y it keeps the faces seen
                           // counter-clockwise from the camera in a y-up view
    glShadeModel(flat_colours ? GL_FLAT : GL_SMOOTH);
    glHint(GL_PERSPECTIVE_CORRECTION_HINT, GL_NICEST);
    glClearColor(0.0f, 0.0f, 0.0f, 1.0f);
    glClearDepth(1.0);
    glClear(GL_COLOR_BUFFER_BIT | GL_DEPTH_BUFFER_BIT);
    glPixelStorei(GL_PACK_ALIGNMENT, 1);
}

/// Draws triangles from client arrays: positions (N x 3 floats), colours (N x ncomp of GL type
/// colour_type; null: no colour array, for depth-only drawing), and indices (3F unsigned ints)
/// or, when indices is null, consecutive vertices.
void draw(const float* positions, const void* colours, GLint ncomp, GLenum colour_type,
          const unsigned int* indices, GLsizei count) {
    if (count == 0) return;
    glEnableClientState(GL_VERTEX_ARRAY);
    glVertexPointer(3, GL_FLOAT, 0, positions);
    if (colours != nullptr) {
        glEnableClientState(GL_COLOR_ARRAY);
        glColorPointer(ncomp, colour_type, 0, colours);
    }
    if (indices != nullptr) {
        glDrawElements(GL_TRIANGLES, count, GL_UNSIGNED_INT, indices);
    } else {
        glDrawArrays(GL_TRIANGLES, 0, count);
    }
    if (colours != nullptr) glDisableClientState(GL_COLOR_ARRAY);
    glDisableClientState(GL_VERTEX_ARRAY);
}

/// The corner indices (3 per face, in face order) of the faces `drawable_faces` keeps.
std::vector<unsigned int> drawable_indices(const MatrixX3f& cam_vertices, const MatrixX3i& faces,
                                           const Camera& cam) {
    std::vector<unsigned int> indices;
    for (const unsigned int f : drawable_faces(cam_vertices, faces, cam)) {
        for (int k = 0; k < 3; ++k) indices.push_back(static_cast<unsigned int>(faces(f, k)));
    }
    return indices;
}

/// Throws std::runtime_error when GL reported an error.
void check_gl(const char* what) {
    const GLenum err = glGetError();
    if (err != GL_NO_ERROR)
        throw std::runtime_error(std::string("render: OpenGL error ") + std::to_string(err) + " in " + what);
}

}  // namespace

RenderResult render_mesh(const MatrixX3f& vertices, const MatrixX3i& faces,
                         const std::optional<MatrixX3f>& colors, const Pose& pose, const Camera& cam,
                         Shading shading) {
    check_mesh(vertices, faces);
    check_camera(cam);
    if (colors && colors->rows() != vertices.rows())
        throw std::invalid_argument("render: colors must have one row per vertex");
    const MatrixX3f cam_vertices = to_camera(vertices, pose);
    const MatrixX3f rgb_vertices = vertex_colors(cam_vertices, faces, colors, shading);
    const std::vector<unsigned int> indices = drawable_indices(cam_vertices, faces, cam);

    RenderResult result;
    result.rgb.resize(cam.height, 3 * cam.width);
    result.depth.resize(cam.height, cam.width);
    {
        auto binding = OsmesaContext::instance().bind(cam.width, cam.height);
        glGetError();  // clear any stale error flag
        begin_frame(cam, pose, false);
        draw(vertices.data(), rgb_vertices.data(), 3, GL_FLOAT, indices.data(),
             GLsizei(indices.size()));
        // GL row 0 (bottom of the window) is image row 0 because the projection flips y.
        glReadPixels(0, 0, cam.width, cam.height, GL_RGB, GL_UNSIGNED_BYTE, result.rgb.data());
        glReadPixels(0, 0, cam.width, cam.height, GL_DEPTH_COMPONENT, GL_FLOAT, result.depth.data());
        check_gl("render_mesh");
    }
    return result;
}

RowMatrixXf render_two_sided_depth(const MatrixX3f& vertices, const MatrixX3i& faces, const Pose& pose,
                                   const Camera& cam) {
    check_mesh(vertices, faces);
    check_camera(cam);
    // The faces, then the same faces with their first two corners swapped: render_mesh's input
    // when given both windings. Only the drawable ones go to GL, and no colour is drawn or read:
    // the depth test keeps the nearest fragment whatever its colour, so the depth buffer is the
    // one render_mesh gives for that input.
    const Eigen::Index F = faces.rows();
    MatrixX3i both(2 * F, 3);
    both.topRows(F) = faces;
    both.bottomRows(F).col(0) = faces.col(1);
    both.bottomRows(F).col(1) = faces.col(0);
    both.bottomRows(F).col(2) = faces.col(2);
    const MatrixX3f cam_vertices = to_camera(vertices, pose);
    const std::vector<unsigned int> indices = drawable_indices(cam_vertices, both, cam);
    RowMatrixXf depth(cam.height, cam.width);
    {
        auto binding = OsmesaContext::instance().bind(cam.width, cam.height);
        glGetError();
        begin_frame(cam, pose, false);
        glColorMask(GL_FALSE, GL_FALSE, GL_FALSE, GL_FALSE);
        draw(vertices.data(), nullptr, 0, GL_FLOAT, indices.data(), GLsizei(indices.size()));
        glColorMask(GL_TRUE, GL_TRUE, GL_TRUE, GL_TRUE);
        glReadPixels(0, 0, cam.width, cam.height, GL_DEPTH_COMPONENT, GL_FLOAT, depth.data());
        check_gl("render_two_sided_depth");
    }
    return depth_to_metric(depth, cam);
}

RowMatrixXi render_triangle_ids(const MatrixX3f& vertices, const MatrixX3i& faces, const Pose& pose,
                                const Camera& cam) {
    check_mesh(vertices, faces);
    check_camera(cam);
    if (faces.rows() >= (Eigen::Index(1) << 24) - 1)
        throw std::invalid_argument("render_triangle_ids: at most 2^24 - 2 faces");
    const MatrixX3f cam_vertices = to_camera(vertices, pose);

    // Unshared corners, each triangle in one colour: id + 1 as 24-bit RGB (0 = background).
    const std::vector<unsigned int> drawn = drawable_faces(cam_vertices, faces, cam);
    const std::size_t F = drawn.size();
    std::vector<float> positions(9 * F);
    std::vector<std::uint8_t> colours(12 * F);
    for (std::size_t n = 0; n < F; ++n) {
        const Eigen::Index i = drawn[n];
        const std::uint32_t code = std::uint32_t(i + 1);
        for (int k = 0; k < 3; ++k) {
            const std::size_t c = 3 * n + k;
            for (int d = 0; d < 3; ++d) positions[3 * c + d] = vertices(faces(i, k), d);
            colours[4 * c + 0] = std::uint8_t(code & 0xff);
            colours[4 * c + 1] = std::uint8_t((code >> 8) & 0xff);
            colours[4 * c + 2] = std::uint8_t((code >> 16) & 0xff);
            colours[4 * c + 3] = 255;
        }
    }

    RowMatrixXi ids(cam.height, cam.width);
    {
        auto binding = OsmesaContext::instance().bind(cam.width, cam.height);
        glGetError();
        begin_frame(cam, pose, true);
        draw(positions.data(), colours.data(), 4, GL_UNSIGNED_BYTE, nullptr, GLsizei(3 * F));
        // Read RGBA into the int buffer: byte order r, g, b, a per pixel.
        glReadPixels(0, 0, cam.width, cam.height, GL_RGBA, GL_UNSIGNED_BYTE, ids.data());
        check_gl("render_triangle_ids");
    }
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(ids.data());
    for (Eigen::Index p = 0; p < ids.size(); ++p) {
        const std::uint8_t* px = bytes + 4 * p;
        ids.data()[p] = int(px[0] | (px[1] << 8) | (px[2] << 16)) - 1;
    }
    return ids;
}

RowMatrixXf depth_to_metric(const RowMatrixXf& depth, const Camera& cam) {
    if (!(cam.near_plane > 0) || !(cam.far_plane > cam.near_plane) || !std::isfinite(cam.far_plane))
        throw std::invalid_argument("depth_to_metric: need 0 < near < far (mm)");
    const double n = cam.near_plane, f = cam.far_plane;
    return depth.unaryExpr([n, f](float d) {
        return d >= 1.0f ? 0.0f : float(-n * f / (f - double(d) * (f - n)));
    });
}

}  // namespace extreme3d::render
