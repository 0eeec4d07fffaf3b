// Python bindings of the combineBump core: the whole driver plus the stages tests need.
// Numpy in, numpy out; the GIL is released while computing.
#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <limits>
#include <stdexcept>
#include <string>

#include "bindings/bindings.hpp"
#include "bindings/checks.hpp"
#include "core/bump_layer.hpp"
#include "core/combine_bump.hpp"
#include "core/dense_mesh.hpp"
#include "core/dense_registration.hpp"
#include "core/final_mesh.hpp"
#include "core/mesh_edges.hpp"
#include "core/occlusion.hpp"
#include "core/symmetry_pose.hpp"
#include "model/face_model.hpp"

namespace py = pybind11;

namespace extreme3d::bindings {
namespace {

using checks::kMaxCoordinate;
using checks::to_array;
using checks::to_matrix;
using checks::to_vector;

/// A 2D uint8 image of at least min_rows x min_cols (64-bit sizes), values checked to fit 0..255.
RowMatrixXu8 u8_image(const py::handle& obj, const char* what, std::int64_t min_rows = 0, std::int64_t min_cols = 0) {
    const auto a = to_array<std::uint8_t>(obj, what);
    if (a.ndim() != 2 || a.shape(0) < min_rows || a.shape(1) < min_cols)
        checks::fail(what, "must be a 2D uint8 image of at least " + std::to_string(min_rows) + "x" +
                               std::to_string(min_cols) + ", got shape " + checks::shape_of(a));
    if (a.shape(0) > 4 * checks::kMaxSide || a.shape(1) > 4 * checks::kMaxSide)
        checks::fail(what, "is too large: " + checks::shape_of(a));
    RowMatrixXu8 m(a.shape(0), a.shape(1));
    std::copy(a.data(), a.data() + a.size(), m.data());
    return m;
}

/// A 2D float image (finite values), at most kMaxSide per side.
RowMatrixXf float_image(const py::handle& obj, const char* what) {
    RowMatrixXf m = to_matrix<RowMatrixXf>(obj, what, true, 1e30);
    if (m.rows() < 2 || m.cols() < 2 || m.rows() > checks::kMaxSide || m.cols() > checks::kMaxSide)
        checks::fail(what, "must be between 2x2 and " + std::to_string(checks::kMaxSide) + " px per side, got " +
                               std::to_string(m.rows()) + "x" + std::to_string(m.cols()));
    return m;
}

/// Pose from rvec (rad) / tvec (mm) arrays of 3 finite values (|rvec| <= 1e3, |tvec| <= 1e7).
Pose pose_of(const py::handle& rvec, const py::handle& tvec) {
    Pose p;
    p.rvec = to_vector<Eigen::Vector3d>(rvec, "rvec", 3, true, 1e3);
    p.tvec = to_vector<Eigen::Vector3d>(tvec, "tvec", 3, true, kMaxCoordinate);
    return p;
}

/// The original's camera (focal px, image size px, at least 2x2 and at most kMaxSide).
Camera camera_of(double focal, std::int64_t width, std::int64_t height) {
    checks::check_camera(focal, width, height, 2);
    Camera c;
    c.focal = focal;
    c.width = static_cast<int>(width);
    c.height = static_cast<int>(height);
    return c;
}

/// Checks the margin (px) of the bump map around the image: 0..4096.
void check_margin(std::int64_t margin) {
    if (margin < 0 || margin > 4096) checks::fail("margin", "must be in [0, 4096], got " + std::to_string(margin));
}

/// A mesh as a (vertices, faces) tuple of numpy arrays.
py::tuple mesh_tuple(const Mesh& m) { return py::make_tuple(m.vertices, m.faces); }

}  // namespace

void bind_core(py::module_& m) {
    m.def(
        "combine_bump",
        [](const FaceModel& model, const py::object& alpha, const py::object& expr, const py::object& rvec,
           const py::object& tvec, const py::object& bump, const py::object& mask, double focal, std::int64_t width,
           std::int64_t height, bool symmetry, std::int64_t margin, double max_gap) {
            const Eigen::VectorXf a = to_vector<Eigen::VectorXf>(alpha, "alpha", model.num_shape(), true, 1e4);
            const Eigen::VectorXf e = to_vector<Eigen::VectorXf>(expr, "expr", model.num_expr(), true, 1e4);
            const Pose pose = pose_of(rvec, tvec);
            core::CombineBumpOptions opt;
            opt.camera = camera_of(focal, width, height);
            check_margin(margin);
            if (!(max_gap >= 0) || !(max_gap <= 1e6)) checks::fail("max_gap", "must be in [0, 1e6]");
            opt.symmetry = symmetry;
            opt.margin = static_cast<int>(margin);
            opt.max_gap = static_cast<float>(max_gap);
            const RowMatrixXu8 b = u8_image(bump, "bump", height + margin, width + margin);
            const RowMatrixXu8 k = u8_image(mask, "mask", height + margin, width + margin);
            core::CombineBumpResult r;
            {
                py::gil_scoped_release release;
                r = core::combine_bump(model, a, e, pose, b, k, opt);
            }
            py::dict meshes;
            meshes["foundation_frontal"] = mesh_tuple(r.foundation_frontal);
            meshes["foundation_aligned"] = mesh_tuple(r.foundation_aligned);
            meshes["withBump_aligned"] = mesh_tuple(r.with_bump_aligned);
            meshes["withBump_frontal"] = mesh_tuple(r.with_bump_frontal);
            if (r.completed) {
                meshes["sparse_full_frontal"] = mesh_tuple(r.sparse_full_frontal);
                meshes["final_frontal"] = mesh_tuple(r.final_frontal);
            }
            py::dict timings;
            for (const auto& [name, ms] : r.timings_ms) timings[py::str(name)] = ms;
            py::dict out;
            out["meshes"] = meshes;
            out["projections"] = r.projections;
            out["visible"] = checks::flags_array(r.visible);
            out["occlusion"] = r.occlusion;
            out["scores"] = r.completed ? py::object(py::cast(r.scores)) : py::none();
            out["bumped"] = r.completed ? py::object(checks::flags_array(r.bumped)) : py::none();
            out["bad"] = r.completed ? py::object(checks::flags_array(r.bad)) : py::none();
            out["symmetry_R"] = r.symmetry_R;
            out["symmetry_t"] = r.symmetry_t;
            out["symmetry_points"] = r.symmetry_points;
            out["dense_vertices"] = r.dense_vertices;
            out["registered"] = r.registered;
            out["unknowns"] = r.unknowns;
            out["unanchored"] = r.unanchored;
            out["timings_ms"] = timings;
            if (r.completed) {
                py::dict reg;
                reg["tri"] = r.reg_tri;
                reg["w"] = r.reg_w;
                reg["pixel"] = r.reg_pixel;
                out["registration"] = reg;
            }
            return out;
        },
        py::arg("model"), py::arg("alpha"), py::arg("expr"), py::arg("rvec"), py::arg("tvec"), py::arg("bump"),
        py::arg("mask"), py::arg("focal") = 1000.0, py::arg("width") = 500, py::arg("height") = 500,
        py::arg("symmetry") = true, py::arg("margin") = 6, py::arg("max_gap") = 4.0,
        "combineBump after the pose fit: meshes (vertices, faces) in mm, sparse visibility/occlusion scores, "
        "symmetry correction, per-stage timings (ms) and, with symmetry, the dense registration (tri, w, pixel).");

    m.def(
        "dense_mesh",
        [](const py::object& depth, const py::object& mask, const py::object& bump, double focal,
           std::int64_t margin) {
            const RowMatrixXf d = float_image(depth, "depth");
            check_margin(margin);
            const RowMatrixXu8 k = u8_image(mask, "mask", d.rows() + margin, d.cols() + margin);
            const Camera cam = camera_of(focal, d.cols(), d.rows());
            const bool with_bump = !bump.is_none() && py::array::ensure(bump) && py::array::ensure(bump).size() > 0;
            const RowMatrixXu8 b = with_bump ? u8_image(bump, "bump", d.rows() + margin, d.cols() + margin)
                                             : RowMatrixXu8();
            core::DenseMesh dm;
            MatrixX3f unbumped;
            {
                py::gil_scoped_release release;
                dm = core::build_dense_mesh(d, k, cam, static_cast<int>(margin));
                unbumped = dm.vertices;
                if (with_bump) core::apply_bump(dm, b, static_cast<int>(margin));
            }
            py::dict out;
            out["vertices"] = unbumped;
            out["bumped"] = dm.vertices;
            out["faces"] = dm.faces;
            out["vindex"] = dm.vindex;
            out["min_depth"] = dm.min_depth;
            return out;
        },
        py::arg("depth"), py::arg("mask"), py::arg("bump") = py::none(), py::arg("focal") = 1000.0,
        py::arg("margin") = 6,
        "Dense mesh of a raw depth buffer (H x W, row 0 = top): vertices (unbumped and bumped, camera mm), "
        "grid faces, the pixel->vertex index map and the min depth.");

    m.def(
        "grid_faces",
        [](const py::object& vindex) {
            const RowMatrixXi v = to_matrix<RowMatrixXi>(vindex, "vindex");
            if (v.rows() > 4 * checks::kMaxSide || v.cols() > 4 * checks::kMaxSide)
                checks::fail("vindex", "is too large");
            return core::grid_faces(v);
        },
        py::arg("vindex"), "Grid triangles of a vertex-index image (-1 = no vertex), as the original's computeFaces.");

    m.def(
        "boundary_half_edges",
        [](const py::object& faces, std::int64_t num_vertices) {
            const MatrixX3i f = checks::face_indices(faces, num_vertices, "faces");
            py::gil_scoped_release release;
            return core::boundary_half_edges(f, checks::referenced_vertices(f, num_vertices));
        },
        py::arg("faces"), py::arg("num_vertices"),
        "(B, 2) directed half-edges whose edge has exactly one face, in half-edge order.");

    m.def(
        "face_components",
        [](const py::object& faces, std::int64_t num_vertices) {
            const MatrixX3i f = checks::face_indices(faces, num_vertices, "faces");
            py::gil_scoped_release release;
            return core::face_components(f, checks::referenced_vertices(f, num_vertices));
        },
        py::arg("faces"), py::arg("num_vertices"),
        "(F,) component label of each face (shared vertices connect), numbered by first face.");

    m.def("bump_to_mm", &core::bump_to_mm, py::arg("value"), "Depth offset (mm) of an 8-bit bump value.");

    m.def(
        "occlusion_map",
        [](const py::object& ref_depth, const py::object& posed_depth, const py::object& rvec,
           const py::object& tvec, double focal) {
            const RowMatrixXf a = float_image(ref_depth, "ref_depth");
            const RowMatrixXf b = float_image(posed_depth, "posed_depth");
            if (a.rows() != b.rows() || a.cols() != b.cols())
                throw py::value_error("ref_depth and posed_depth must have the same shape");
            const Pose pose = pose_of(rvec, tvec);
            const Camera cam = camera_of(focal, b.cols(), b.rows());
            py::gil_scoped_release release;
            return core::occlusion_map(a, b, core::occlusion_reference_pose(pose), pose, cam);
        },
        py::arg("ref_depth"), py::arg("posed_depth"), py::arg("rvec"), py::arg("tvec"), py::arg("focal") = 1000.0,
        "Per-pixel self-occlusion score map (Hassner et al. 2015) from raw depth buffers of the reference "
        "(r = 1e-6, t = (1e-6, 1e-6, t_z)) and posed renders.");

    m.def(
        "occlusion_reference_pose",
        [](const py::object& rvec, const py::object& tvec) {
            const Pose p = core::occlusion_reference_pose(pose_of(rvec, tvec));
            return py::make_tuple(Eigen::Vector3d(p.rvec), Eigen::Vector3d(p.tvec));
        },
        py::arg("rvec"), py::arg("tvec"), "The (rvec, tvec) of the occlusion map's reference view.");

    m.def(
        "occlusion_scores",
        [](const py::object& vertices, const py::object& visible, const py::object& occ_map, const py::object& rvec,
           const py::object& tvec, double focal) {
            const MatrixX3f v = to_matrix<MatrixX3f>(vertices, "vertices", true, kMaxCoordinate);
            const auto vis = to_array<bool>(visible, "visible");  // C-contiguous copy: strides honoured
            if (vis.ndim() != 1 || vis.size() != v.rows())
                throw py::value_error("visible must have one flag per vertex");
            core::Flags f(vis.data(), vis.data() + vis.size());
            const RowMatrixXf o = float_image(occ_map, "occ_map");
            const Camera cam = camera_of(focal, o.cols(), o.rows());
            return core::occlusion_scores(v, f, o, pose_of(rvec, tvec), cam);
        },
        py::arg("vertices"), py::arg("visible"), py::arg("occ_map"), py::arg("rvec"), py::arg("tvec"),
        py::arg("focal") = 1000.0, "Per-vertex occlusion score: min of the map over an 11x11 window (0 if invisible).");

    m.def(
        "blur_counts", [](const py::object& counts, int ksize) { return core::blur_counts(u8_image(counts, "counts"), ksize); },
        py::arg("counts"), py::arg("ksize") = 5, "OpenCV-equivalent 8-bit Gaussian blur (sigma 0, reflect-101).");

    m.def(
        "delaunay_triangles",
        [](const py::object& points) {
            const MatrixX2f p = to_matrix<MatrixX2f>(points, "points", true, kMaxCoordinate);
            if (p.rows() > 1000000) checks::fail("points", "has more than 1e6 rows");
            std::vector<Eigen::Vector3i> t;
            {
                py::gil_scoped_release release;
                t = core::delaunay_triangles(p);
            }
            MatrixX3i out(static_cast<Eigen::Index>(t.size()), 3);
            for (size_t i = 0; i < t.size(); ++i) out.row(static_cast<Eigen::Index>(i)) = t[i].transpose();
            return out;
        },
        py::arg("points"), "Delaunay triangles (indices) of 2D points (pixels).");

    m.def(
        "estimate_rigid_transform",
        [](const py::object& p1, const py::object& p2) {
            const MatrixX3f a = to_matrix<MatrixX3f>(p1, "p1", true, kMaxCoordinate);
            const MatrixX3f b = to_matrix<MatrixX3f>(p2, "p2", true, kMaxCoordinate);
            if (a.rows() != b.rows() || a.rows() < 3) throw py::value_error("p1 and p2 must be N x 3 with N >= 3");
            Eigen::Matrix3f R;
            Eigen::Vector3f t;
            core::estimate_rigid_transform(a, b, R, t);
            return py::make_tuple(R, t);
        },
        py::arg("p1"), py::arg("p2"), "Rigid (R, t) with p2 ~ R p1 + t (Kabsch, as the original).");

    m.def(
        "point_in_triangle",
        [](const py::object& p, const py::object& a, const py::object& b, const py::object& c) {
            auto v = [](const py::object& x, const char* what) {
                return to_vector<Eigen::Vector2f>(x, what, 2, true, kMaxCoordinate);
            };
            return core::point_in_triangle(v(p, "p"), v(a, "a"), v(b, "b"), v(c, "c"));
        },
        py::arg("p"), py::arg("a"), py::arg("b"), py::arg("c"),
        "The original's inclusive point-in-triangle test in the image plane.");
}

}  // namespace extreme3d::bindings
