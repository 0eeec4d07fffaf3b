// Python bindings of the clean final mesh's geometry: chart triangulation, chart point location,
// raster morphology and mesh repair. Numpy in, numpy out; inputs checked (ValueError naming the
// argument), the GIL released while computing.
#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "bindings/bindings.hpp"
#include "bindings/checks.hpp"
#include "core/chart_raster.hpp"
#include "core/delaunay.hpp"
#include "core/mesh_repair.hpp"
#include "core/raster_morphology.hpp"
#include "core/simplify.hpp"

namespace py = pybind11;

namespace extreme3d::bindings {
namespace {

using checks::kMaxCoordinate;
using checks::to_array;
using checks::to_matrix;

/// Most points / triangles one call accepts.
constexpr Eigen::Index kMaxRows = 10000000;

/// A row-count check for point and triangle arrays.
void check_rows(Eigen::Index rows, const char* what) {
    if (rows > kMaxRows) checks::fail(what, "has more than 1e7 rows");
}

/// N x 2 finite chart points (mm).
MatrixX2d chart_points(const py::handle& obj, const char* what) {
    MatrixX2d p = to_matrix<MatrixX2d>(obj, what, true, kMaxCoordinate);
    check_rows(p.rows(), what);
    return p;
}

/// T x 3 triangles with indices in [0, n).
MatrixX3i triangle_indices(const py::handle& obj, std::int64_t n, const char* what) {
    MatrixX3i t = checks::face_indices(obj, n, what);
    check_rows(t.rows(), what);
    return t;
}

/// A 2D bool raster (1..kMaxSide per side) as 0/1 bytes.
RowMatrixXu8 bool_raster(const py::handle& obj, const char* what) {
    const auto a = to_array<bool>(obj, what);
    if (a.ndim() != 2 || a.shape(0) < 1 || a.shape(1) < 1 || a.shape(0) > checks::kMaxSide ||
        a.shape(1) > checks::kMaxSide)
        checks::fail(what, "must be a 2D bool raster of 1 to " + std::to_string(checks::kMaxSide) +
                               " cells per side, got shape " + checks::shape_of(a));
    RowMatrixXu8 m(a.shape(0), a.shape(1));
    for (py::ssize_t i = 0; i < a.size(); ++i) m.data()[i] = a.data()[i] ? 1 : 0;
    return m;
}

/// 0/1 bytes as a numpy bool array of the same shape.
py::array_t<bool> bool_array(const RowMatrixXu8& m) {
    py::array_t<bool> out({m.rows(), m.cols()});
    auto* p = out.mutable_data();
    for (Eigen::Index i = 0; i < m.size(); ++i) p[i] = m.data()[i] != 0;
    return out;
}

/// An iteration count in [0, 1000].
int iteration_count(int iterations) {
    if (iterations < 0 || iterations > checks::kMaxIterations)
        checks::fail("iterations", "must be in [0, 1000], got " + std::to_string(iterations));
    return iterations;
}

/// The chart raster from numpy arrays, every index and size checked.
std::shared_ptr<core::ChartRaster> make_chart(const py::object& uv, const py::object& faces, const py::object& face_map,
                                              const py::object& edge_cells, const py::object& origin, double cell) {
    auto c = std::make_shared<core::ChartRaster>();
    c->uv = chart_points(uv, "uv");
    c->faces = triangle_indices(faces, c->uv.rows(), "faces");
    if (c->faces.rows() == 0) checks::fail("faces", "must hold at least one triangle");
    c->face_map = to_matrix<RowMatrixXi>(face_map, "face_map", false);
    if (c->face_map.rows() < 1 || c->face_map.cols() < 1 || c->face_map.rows() > checks::kMaxSide ||
        c->face_map.cols() > checks::kMaxSide)
        checks::fail("face_map", "must have 1 to " + std::to_string(checks::kMaxSide) + " cells per side");
    for (Eigen::Index i = 0; i < c->face_map.size(); ++i)
        if (c->face_map.data()[i] < -1 || c->face_map.data()[i] >= c->faces.rows())
            checks::fail("face_map", "holds face " + std::to_string(c->face_map.data()[i]) + ", out of range [-1, " +
                                         std::to_string(c->faces.rows()) + ")");
    c->edge_cells = bool_raster(edge_cells, "edge_cells");
    if (c->edge_cells.rows() != c->face_map.rows() || c->edge_cells.cols() != c->face_map.cols())
        checks::fail("edge_cells", "must have the shape of face_map");
    c->origin = checks::to_vector<Eigen::Vector2d>(origin, "origin", 2, true, kMaxCoordinate);
    if (!(cell > 0) || !std::isfinite(cell) || cell > 1e6)
        checks::fail("cell_mm", "must be a finite number in (0, 1e6], got " + std::to_string(cell));
    c->cell = cell;
    core::index_cells(*c);
    return c;
}

}  // namespace

void bind_clean_mesh(py::module_& m) {
    m.def(
        "delaunay_2d",
        [](const py::object& points) {
            const MatrixX2d p = chart_points(points, "points");
            py::gil_scoped_release release;
            return core::delaunay_2d(p);
        },
        py::arg("points"),
        "(T, 3) counter-clockwise Delaunay triangles (indices) of 2D points (exact predicates on a "
        "2^28 lattice of the bounding box; duplicates after snapping left out).");

    py::class_<core::ChartRaster, std::shared_ptr<core::ChartRaster>>(
        m, "ChartRaster", "A model's 2D chart (mm) with the raster of its faces, for point location.")
        .def(py::init(&make_chart), py::arg("uv"), py::arg("faces"), py::arg("face_map"), py::arg("edge_cells"),
             py::arg("origin"), py::arg("cell_mm"))
        .def_property_readonly("shape", [](const core::ChartRaster& c) {
            return py::make_tuple(c.face_map.rows(), c.face_map.cols());
        })
        .def(
            "surface",
            [](const core::ChartRaster& c, const py::object& vertices, const py::object& points) {
                const MatrixX3d v = to_matrix<MatrixX3d>(vertices, "vertices", false);
                if (v.rows() != c.uv.rows()) checks::fail("vertices", "must have one row per chart vertex");
                const MatrixX2d p = chart_points(points, "points");
                core::SurfacePoints s;
                {
                    py::gil_scoped_release release;
                    s = core::surface_at(c, v, p);
                }
                return py::make_tuple(s.points, s.face, s.cell);
            },
            py::arg("vertices"), py::arg("points"),
            "(points (N, 3), face (N,) or -1, flat cell (N,)): the surface with the model's topology at "
            "chart positions (barycentric in the face of each position's raster cell).")
        .def(
            "inside",
            [](const core::ChartRaster& c, const py::object& points) {
                const MatrixX2d p = chart_points(points, "points");
                core::Flags f;
                {
                    py::gil_scoped_release release;
                    f = core::inside_faces(c, p);
                }
                return checks::flags_array(f);
            },
            py::arg("points"), "(N,) bool: chart points inside the model's faces (exact near the border).")
        .def(
            "triangles_inside",
            [](const core::ChartRaster& c, const py::object& uv, const py::object& triangles) {
                const MatrixX2d p = chart_points(uv, "uv");
                const MatrixX3i t = triangle_indices(triangles, p.rows(), "triangles");
                core::Flags f;
                {
                    py::gil_scoped_release release;
                    f = core::triangles_inside(c, p, t);
                }
                return checks::flags_array(f);
            },
            py::arg("uv"), py::arg("triangles"), "(T,) bool: triangles whose chart centroid is inside the model's faces.");

    m.def(
        "weighted_positions",
        [](const py::object& points, const py::object& tri, const py::object& w) {
            const RowMatrixXd p = to_matrix<RowMatrixXd>(points, "points", true, kMaxCoordinate);
            if (p.rows() < 1) checks::fail("points", "must have at least one row");
            const MatrixX3i t = to_matrix<MatrixX3i>(tri, "tri", false);
            check_rows(t.rows(), "tri");
            for (Eigen::Index i = 0; i < t.size(); ++i)
                if (t.data()[i] < -1 || t.data()[i] >= p.rows())
                    checks::fail("tri", "holds index " + std::to_string(t.data()[i]) + ", out of range [-1, " +
                                            std::to_string(p.rows()) + ")");
            const MatrixX3d wm = to_matrix<MatrixX3d>(w, "w", true, kMaxCoordinate);
            if (wm.rows() != t.rows()) checks::fail("w", "must have one row per row of tri");
            py::gil_scoped_release release;
            return core::weighted_positions(p, t, wm);
        },
        py::arg("points"), py::arg("tri"), py::arg("w"),
        "(S, D) rows sum_k w[i, k] points[tri[i, k]]; corners with index -1 contribute nothing.");

    m.def(
        "binary_dilation",
        [](const py::object& mask, int iterations) {
            const RowMatrixXu8 m8 = bool_raster(mask, "mask");
            const int n = iteration_count(iterations);
            RowMatrixXu8 out;
            {
                py::gil_scoped_release release;
                out = core::dilate_cross(m8, n);
            }
            return bool_array(out);
        },
        py::arg("mask"), py::arg("iterations") = 1,
        "2D bool mask dilated by the 4-neighbour cross `iterations` times (scipy.ndimage.binary_dilation).");

    m.def(
        "binary_erosion",
        [](const py::object& mask, int iterations) {
            const RowMatrixXu8 m8 = bool_raster(mask, "mask");
            const int n = iteration_count(iterations);
            RowMatrixXu8 out;
            {
                py::gil_scoped_release release;
                out = core::erode_cross(m8, n);
            }
            return bool_array(out);
        },
        py::arg("mask"), py::arg("iterations") = 1,
        "2D bool mask eroded by the 4-neighbour cross `iterations` times, beyond the raster = 0 "
        "(scipy.ndimage.binary_erosion, border_value=0).");

    m.def(
        "distance_transform",
        [](const py::object& mask) {
            const RowMatrixXu8 m8 = bool_raster(mask, "mask");
            py::gil_scoped_release release;
            return core::distance_transform(m8);
        },
        py::arg("mask"),
        "(H, W) exact Euclidean distance (cells) of each True cell to the nearest False cell "
        "(scipy.ndimage.distance_transform_edt); inf when no cell is False.");

    m.def(
        "region_distance",
        [](const py::object& cells, const py::object& within, int closing) {
            const RowMatrixXu8 in = bool_raster(within, "within");
            const auto c = to_array<int>(cells, "cells");
            if (c.ndim() != 1) checks::fail("cells", "must be a 1D array of flat raster cells");
            std::vector<int> list(c.data(), c.data() + c.size());
            for (const int v : list)
                if (v < 0 || v >= in.size())
                    checks::fail("cells", "holds cell " + std::to_string(v) + ", out of range [0, " +
                                              std::to_string(in.size()) + ")");
            iteration_count(closing);
            core::Region r;
            {
                py::gil_scoped_release release;
                r = core::region_distance(in.rows(), in.cols(), list, closing, in);
            }
            return py::make_tuple(bool_array(r.mask), r.distance);
        },
        py::arg("cells"), py::arg("within"), py::arg("closing") = 0,
        "(mask (H, W) bool, distance (H, W) cells): the raster cells listed (flat indices), closed by "
        "`closing` cross dilations and erosions and kept within `within` (when closing > 0), and the "
        "exact Euclidean distance of each region cell to the nearest cell outside.");

    m.def(
        "orient_by_area",
        [](const py::object& uv, const py::object& triangles, double sign) {
            const MatrixX2d p = chart_points(uv, "uv");
            const MatrixX3i t = triangle_indices(triangles, p.rows(), "triangles");
            if (sign != 1.0 && sign != -1.0) checks::fail("sign", "must be 1 or -1, got " + std::to_string(sign));
            py::gil_scoped_release release;
            return core::orient_by_area(p, t, sign);
        },
        py::arg("uv"), py::arg("triangles"), py::arg("sign") = 1.0,
        "Triangles with a non-zero signed chart area (times sign), the negative ones turned over.");

    m.def(
        "drop_bowties",
        [](const py::object& faces, std::int64_t num_vertices) {
            const MatrixX3i f = triangle_indices(faces, num_vertices, "faces");
            py::gil_scoped_release release;
            return core::drop_bowties(f, checks::referenced_vertices(f, num_vertices));
        },
        py::arg("faces"), py::arg("num_vertices"),
        "Faces without bow-tie vertices: all but the largest fan of each removed (repeated, at most 10 rounds).");

    m.def(
        "simplify_bounded",
        [](const py::object& vertices, const py::object& faces, const py::object& uv, double distance,
           double uv_tolerance, double min_normal_dot, double min_quality, double min_point_normal_dot) {
            const MatrixX3d v = to_matrix<MatrixX3d>(vertices, "vertices", true, kMaxCoordinate);
            check_rows(v.rows(), "vertices");
            const MatrixX3i f = triangle_indices(faces, v.rows(), "faces");
            MatrixX2d t(0, 2);
            if (!uv.is_none()) {
                t = to_matrix<MatrixX2d>(uv, "uv", true, kMaxCoordinate);
                if (t.rows() != v.rows())
                    checks::fail("uv", "must have one row per vertex (" + std::to_string(v.rows()) + "), got " +
                                           std::to_string(t.rows()));
            }
            if (!(distance >= 0) || !std::isfinite(distance))
                checks::fail("distance", "must be a finite number >= 0 (mm), got " + std::to_string(distance));
            if (!std::isfinite(uv_tolerance))
                checks::fail("uv_tolerance", "must be finite, got " + std::to_string(uv_tolerance));
            if (!(min_normal_dot >= -1 && min_normal_dot <= 1))
                checks::fail("min_normal_dot", "must be in [-1, 1], got " + std::to_string(min_normal_dot));
            if (!(min_point_normal_dot >= -1 && min_point_normal_dot <= 1))
                checks::fail("min_point_normal_dot", "must be in [-1, 1], got " + std::to_string(min_point_normal_dot));
            if (!(min_quality >= 0 && min_quality <= 1))
                checks::fail("min_quality", "must be in [0, 1], got " + std::to_string(min_quality));
            core::Simplified r;
            {
                py::gil_scoped_release release;
                r = core::simplify_bounded(v, f, t, {distance, uv_tolerance, min_normal_dot, min_quality, min_point_normal_dot});
            }
            py::array_t<std::int64_t> kept(static_cast<py::ssize_t>(r.kept.size()));
            std::copy(r.kept.begin(), r.kept.end(), kept.mutable_data());
            return py::make_tuple(kept, r.faces);
        },
        py::arg("vertices"), py::arg("faces"), py::arg("uv") = py::none(), py::arg("distance") = 0.05,
        py::arg("uv_tolerance") = 0.0, py::arg("min_normal_dot") = 0.5, py::arg("min_quality") = 0.1,
        py::arg("min_point_normal_dot") = -1.0,
        "(kept (N,) int64 original vertex indices, faces (M, 3) int32 into them): error-bounded half-edge "
        "collapses (border vertices fixed) keeping every removed vertex within `distance` mm of the "
        "simplified surface and, with uv, its uv within `uv_tolerance` at that point, the face there "
        "within acos(min_point_normal_dot) of its normal.");
}

}  // namespace extreme3d::bindings
