// Python bindings of the OSMesa renderer: numpy in, numpy out; the GIL is released while drawing.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <optional>
#include <stdexcept>
#include <string>

#include "bindings/bindings.hpp"
#include "bindings/checks.hpp"
#include "render/renderer.hpp"

namespace py = pybind11;

namespace extreme3d::bindings {
namespace {

/// Vertices (V x 3, finite, |x| <= 1e7 mm) and faces (F x 3, indices in [0, V)) of a mesh to draw.
std::pair<MatrixX3f, MatrixX3i> mesh_of(const py::object& vertices, const py::object& faces) {
    MatrixX3f V = checks::to_matrix<MatrixX3f>(vertices, "vertices", true, checks::kMaxCoordinate);
    MatrixX3i F = checks::to_matrix<MatrixX3i>(faces, "faces");
    checks::check_indices(F, V.rows(), "faces");
    return {std::move(V), std::move(F)};
}

/// Pose of finite rvec (rad, |.| <= 1e3) and tvec (mm, |.| <= 1e7).
Pose pose_of(const py::object& rvec, const py::object& tvec) {
    return Pose{checks::to_vector<Eigen::Vector3d>(rvec, "rvec", 3, true, 1e3),
                checks::to_vector<Eigen::Vector3d>(tvec, "tvec", 3, true, checks::kMaxCoordinate)};
}

/// The original's camera with the given focal (px) and image size (px, 1..kMaxSide per side).
Camera make_camera(double focal, std::int64_t width, std::int64_t height) {
    checks::check_camera(focal, width, height);
    Camera cam;
    cam.focal = focal;
    cam.width = static_cast<int>(width);
    cam.height = static_cast<int>(height);
    return cam;
}

/// An H x W image of one value per pixel drawn by `draw(V, F, pose, camera)` (GIL released),
/// from the checked mesh, pose and camera, as a numpy array of T.
template <typename T, typename Draw>
py::array_t<T> image_of(const py::object& vertices, const py::object& faces, const py::object& rvec,
                        const py::object& tvec, double focal, std::int64_t width, std::int64_t height,
                        Draw draw) {
    const auto [V, F] = mesh_of(vertices, faces);
    const Pose pose = pose_of(rvec, tvec);
    const Camera cam = make_camera(focal, width, height);
    decltype(draw(V, F, pose, cam)) image;
    {
        py::gil_scoped_release release;
        image = draw(V, F, pose, cam);
    }
    py::array_t<T> out({static_cast<py::ssize_t>(height), static_cast<py::ssize_t>(width)});
    std::copy(image.data(), image.data() + image.size(), out.mutable_data());
    return out;
}

/// The shading named `name` ('flat' or 'lambert'); ValueError otherwise.
render::Shading parse_shading(const std::string& name) {
    if (name == "flat") return render::Shading::Flat;
    if (name == "lambert") return render::Shading::Lambert;
    throw py::value_error("shading must be 'flat' or 'lambert', got '" + name + "'");
}

}  // namespace

void bind_render(py::module_& m) {
    m.def(
        "render",
        [](const py::object& vertices, const py::object& faces, const py::object& rvec, const py::object& tvec,
           const py::object& colors, double focal, std::int64_t width, std::int64_t height,
           const std::string& shading) {
            const auto [V, F] = mesh_of(vertices, faces);
            std::optional<MatrixX3f> C;
            if (!colors.is_none()) {
                C = checks::to_matrix<MatrixX3f>(colors, "colors", true, 1e6);
                if (C->rows() != V.rows()) throw py::value_error("colors must have one row per vertex");
            }
            const Pose pose = pose_of(rvec, tvec);
            const Camera cam = make_camera(focal, width, height);
            const render::Shading mode = parse_shading(shading);
            render::RenderResult result;
            {
                py::gil_scoped_release release;
                result = render::render_mesh(V, F, C, pose, cam, mode);
            }
            py::array_t<std::uint8_t> rgb({static_cast<py::ssize_t>(height), static_cast<py::ssize_t>(width), py::ssize_t{3}});
            std::copy(result.rgb.data(), result.rgb.data() + result.rgb.size(), rgb.mutable_data());
            py::array_t<float> depth({static_cast<py::ssize_t>(height), static_cast<py::ssize_t>(width)});
            std::copy(result.depth.data(), result.depth.data() + result.depth.size(),
                      depth.mutable_data());
            return py::make_tuple(rgb, depth);
        },
        py::arg("vertices"), py::arg("faces"), py::arg("rvec"), py::arg("tvec"),
        py::arg("colors") = py::none(), py::arg("focal") = 1000.0, py::arg("width") = 500,
        py::arg("height") = 500, py::arg("shading") = "flat",
        "Renders a mesh (vertices V x 3 mm, faces F x 3 0-based, colors V x 3 in 0..255) at pose\n"
        "(rvec rad, tvec mm) with the original's camera. Returns (rgb H x W x 3 uint8, depth H x W\n"
        "float32 raw GL depth, 1 = background); row 0 is the top image row. shading: 'flat' or\n"
        "'lambert' (head-light).");
    m.def(
        "render_depth",
        [](const py::object& vertices, const py::object& faces, const py::object& rvec, const py::object& tvec,
           double focal, std::int64_t width, std::int64_t height) {
            return image_of<float>(vertices, faces, rvec, tvec, focal, width, height,
                                   render::render_two_sided_depth);
        },
        py::arg("vertices"), py::arg("faces"), py::arg("rvec"), py::arg("tvec"),
        py::arg("focal") = 1000.0, py::arg("width") = 500, py::arg("height") = 500,
        "Camera z (H x W float32 mm, 0 = background) of the mesh drawn with both windings of every\n"
        "face, same camera as render(): depth_to_metric of render()'s depth for the faces followed\n"
        "by the faces with corners 0 and 1 swapped, without colours.");
    m.def(
        "render_triangle_ids",
        [](const py::object& vertices, const py::object& faces, const py::object& rvec, const py::object& tvec,
           double focal, std::int64_t width, std::int64_t height) {
            return image_of<std::int32_t>(vertices, faces, rvec, tvec, focal, width, height,
                                          render::render_triangle_ids);
        },
        py::arg("vertices"), py::arg("faces"), py::arg("rvec"), py::arg("tvec"),
        py::arg("focal") = 1000.0, py::arg("width") = 500, py::arg("height") = 500,
        "Index of the visible triangle per pixel (H x W int32, -1 = background), same camera and\n"
        "culling as render().");
    m.def(
        "depth_to_metric",
        [](const py::object& depth_in, double near_plane, double far_plane) {
            const auto depth = checks::to_array<float>(depth_in, "depth");
            if (depth.ndim() != 2) throw py::value_error("depth must be a 2-D (H, W) array");
            if (!(near_plane > 0) || !(far_plane > near_plane) || !(far_plane < 1e12))
                throw py::value_error("depth_to_metric: needs 0 < near < far < 1e12");
            Camera cam;
            cam.near_plane = near_plane;
            cam.far_plane = far_plane;
            const auto h = depth.shape(0), w = depth.shape(1);
            RowMatrixXf raw(h, w);
            std::copy(depth.data(), depth.data() + depth.size(), raw.data());
            const RowMatrixXf z = render::depth_to_metric(raw, cam);
            py::array_t<float> out({h, w});
            std::copy(z.data(), z.data() + z.size(), out.mutable_data());
            return out;
        },
        py::arg("depth"), py::arg("near") = 50.0, py::arg("far") = 10000.0,
        "Camera-space z (mm, negative in front, 0 at background) of a raw GL depth buffer:\n"
        "z = -n f / (f - d (f - n)).");
}

}  // namespace extreme3d::bindings
