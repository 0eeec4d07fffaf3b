// Python bindings of the file-format helpers: ASCII PLY body text (numpy in, bytes out).
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <string>

#include "bindings/bindings.hpp"
#include "io/obj_format.hpp"
#include "bindings/checks.hpp"
#include "io/ply_format.hpp"

namespace py = pybind11;

namespace extreme3d::bindings {
namespace {

using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using U8Array = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>;
using I64Array = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

/// Checks that `a` is (rows, 3) (rows = -1: any); ValueError naming `what` otherwise.
void check_rows3(const py::array& a, const char* what, py::ssize_t rows) {
    if (a.ndim() != 2 || a.shape(1) != 3 || (rows >= 0 && a.shape(0) != rows))
        throw py::value_error(std::string(what) + " must be an (N, 3) array" +
                              (rows >= 0 ? " with N = " + std::to_string(rows) : std::string()));
}

/// PLY body (vertex lines then face lines) as bytes, in the style "cpp" or "python".
py::bytes format_ply_body(const py::object& vertices_in, const py::object& colors_in,
                          const py::object& faces_in, const std::string& style) {
    PlyStyle s;
    if (style == "cpp")
        s = PlyStyle::Cpp;
    else if (style == "python")
        s = PlyStyle::Python;
    else
        throw py::value_error("unknown PLY style '" + style + "' (use 'cpp' or 'python')");
    const auto vertices = checks::to_array<double>(vertices_in, "vertices", false);
    std::optional<U8Array> colors;
    std::optional<I64Array> faces;
    if (!colors_in.is_none()) colors = checks::to_array<std::uint8_t>(colors_in, "colors");
    if (!faces_in.is_none()) faces = checks::to_array<std::int64_t>(faces_in, "faces");
    check_rows3(vertices, "vertices", -1);
    const auto n = static_cast<std::size_t>(vertices.shape(0));
    if (colors) check_rows3(*colors, "colors", vertices.shape(0));
    if (faces) check_rows3(*faces, "faces", -1);  // any int64 index is printed as is
    const std::uint8_t* rgb = colors ? colors->data() : nullptr;
    const std::int64_t* tri = faces ? faces->data() : nullptr;
    const auto nf = faces ? static_cast<std::size_t>(faces->shape(0)) : 0;
    std::string text;
    {
        py::gil_scoped_release release;
        text = format_ply_vertices(vertices.data(), rgb, n, s);
        if (tri != nullptr) text += format_ply_faces(tri, nf, s);
    }
    return py::bytes(text);
}

}  // namespace

void bind_io(py::module_& m) {
    m.def(
        "format_obj_rows",
        [](const py::array& array, const std::string& prefix, int digits, int repeat) {
            if (array.ndim() != 2) throw py::value_error("array must be 2-D (N, C)");
            if (digits < 0 || digits > 30) throw py::value_error("digits must be in 0..30");
            if (repeat < 1 || repeat > 3) throw py::value_error("repeat must be in 1..3");
            const auto n = std::size_t(array.shape(0)), cols = std::size_t(array.shape(1));
            std::string text;
            if (py::isinstance<py::array_t<double>>(array)) {
                const DoubleArray a = DoubleArray::ensure(array);
                py::gil_scoped_release release;
                text = format_obj_float_rows(a.data(), n, cols, digits, prefix);
            } else if (array.dtype().kind() == 'i' || array.dtype().kind() == 'u') {
                checks::check_integer_range(array, "array", std::numeric_limits<std::int64_t>::min(),
                                            std::numeric_limits<std::int64_t>::max());
                const I64Array a = I64Array::ensure(array);
                py::gil_scoped_release release;
                text = format_obj_int_rows(a.data(), n, cols, repeat, prefix);
            } else {
                throw py::value_error("array must be float64 or integer");
            }
            return py::bytes(text);
        },
        py::arg("array"), py::arg("prefix"), py::arg("digits") = 6, py::arg("repeat") = 1,
        "OBJ rows of an (N, C) float64 array ('{:.<digits>f}' cells) or integer array (cells of\n"
        "`repeat` values joined by '/'), rows after the first preceded by `prefix`, joined by\n"
        "newlines without a final one (as bytes).");
    m.def("format_ply_body", &format_ply_body, py::arg("vertices"), py::arg("colors") = py::none(),
          py::arg("faces") = py::none(), py::arg("style") = "cpp",
          "ASCII PLY body (vertex then face lines) as bytes in the original's layout: style 'cpp' prints\n"
          "x y z as C printf %g (6 significant digits) and faces '3 a b c ' (trailing space); 'python'\n"
          "prints %.4f and '3 a b c'. vertices (V,3) float64, colors (V,3) uint8 or None,\n"
          "faces (F,3) int64 or None. NaN prints 'nan'.");
}

}  // namespace extreme3d::bindings
