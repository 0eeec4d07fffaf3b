// Python bindings of the OSMesa renderer: numpy in, numpy out; the GIL is released while drawing.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <optional>
#include <stdexcept>
#include <string>

#include "bindings/bindings.hpp"
#include "render/renderer.hpp"

namespace py = pybind11;

namespace extreme3d::bindings {
namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using IntArray = py::array_t<int, py::array::c_style | py::array::forcecast>;

/// Copies an (N, 3) array into a row-major Eigen matrix; ValueError naming `what` otherwise.
template <typename Matrix, typename Array>
Matrix rows_of_three(const Array& a, const char* what) {
    if (a.ndim() != 2 || a.shape(1) != 3) {
        std::string shape = "(";
        for (py::ssize_t i = 0; i < a.ndim(); ++i) shape += (i ? ", " : "") + std::to_string(a.shape(i));
        throw py::value_error(std::string(what) + " must have shape (N, 3), got " + shape + ")");
    }
    Matrix m(a.shape(0), 3);
    std::copy(a.data(), a.data() + a.size(), m.data());
    return m;
}

/// A 3-vector (rvec in rad, tvec in mm); ValueError otherwise.
Eigen::Vector3d vector3(const DoubleArray& a, const char* what) {
    if (a.size() != 3) throw py::value_error(std::string(what) + " must have 3 elements");
    return {a.data()[0], a.data()[1], a.data()[2]};
}

/// The original's camera with the given focal (px) and image size (px).
Camera make_camera(double focal, int width, int height) {
    Camera cam;
    cam.focal = focal;
    cam.width = width;
    cam.height = height;
    return cam;
}

render::Shading parse_shading(const std::string& name) {
    if (name == "flat") return render::Shading::Flat;
    if (name == "lambert") return render::Shading::Lambert;
    throw py::value_error("shading must be 'flat' or 'lambert', got '" + name + "'");
}

}  // namespace

void bind_render(py::module_& m) {
    m.def(
        "render",
        [](const FloatArray& vertices, const IntArray& faces, const DoubleArray& rvec,
           const DoubleArray& tvec, const std::optional<FloatArray>& colors, double focal, int width,
           int height, const std::string& shading) {
            const MatrixX3f V = rows_of_three<MatrixX3f>(vertices, "vertices");
            const MatrixX3i F = rows_of_three<MatrixX3i>(faces, "faces");
            std::optional<MatrixX3f> C;
            if (colors) C = rows_of_three<MatrixX3f>(*colors, "colors");
            const Pose pose{vector3(rvec, "rvec"), vector3(tvec, "tvec")};
            const Camera cam = make_camera(focal, width, height);
            const render::Shading mode = parse_shading(shading);
            render::RenderResult result;
            {
                py::gil_scoped_release release;
                result = render::render_mesh(V, F, C, pose, cam, mode);
            }
            py::array_t<std::uint8_t> rgb({height, width, 3});
            std::copy(result.rgb.data(), result.rgb.data() + result.rgb.size(), rgb.mutable_data());
            py::array_t<float> depth({height, width});
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
        "render_triangle_ids",
        [](const FloatArray& vertices, const IntArray& faces, const DoubleArray& rvec,
           const DoubleArray& tvec, double focal, int width, int height) {
            const MatrixX3f V = rows_of_three<MatrixX3f>(vertices, "vertices");
            const MatrixX3i F = rows_of_three<MatrixX3i>(faces, "faces");
            const Pose pose{vector3(rvec, "rvec"), vector3(tvec, "tvec")};
            const Camera cam = make_camera(focal, width, height);
            RowMatrixXi ids;
            {
                py::gil_scoped_release release;
                ids = render::render_triangle_ids(V, F, pose, cam);
            }
            py::array_t<std::int32_t> out({height, width});
            std::copy(ids.data(), ids.data() + ids.size(), out.mutable_data());
            return out;
        },
        py::arg("vertices"), py::arg("faces"), py::arg("rvec"), py::arg("tvec"),
        py::arg("focal") = 1000.0, py::arg("width") = 500, py::arg("height") = 500,
        "Index of the visible triangle per pixel (H x W int32, -1 = background), same camera and\n"
        "culling as render().");
    m.def(
        "depth_to_metric",
        [](const FloatArray& depth, double near_plane, double far_plane) {
            if (depth.ndim() != 2) throw py::value_error("depth must be a 2-D (H, W) array");
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
