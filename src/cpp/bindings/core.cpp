// Python bindings of the combineBump core: the whole driver plus the stages tests need.
// Numpy in, numpy out; the GIL is released while computing.
#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>

#include "bindings/bindings.hpp"
#include "core/bump_layer.hpp"
#include "core/combine_bump.hpp"
#include "core/dense_mesh.hpp"
#include "core/dense_registration.hpp"
#include "core/final_mesh.hpp"
#include "core/occlusion.hpp"
#include "core/symmetry_pose.hpp"
#include "model/face_model.hpp"

namespace py = pybind11;

namespace extreme3d::bindings {
namespace {

using U8Array = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>;
using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using IntArray = py::array_t<int, py::array::c_style | py::array::forcecast>;

/// Shape of an array as "(a, b)" for messages.
std::string shape_of(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

/// Copies a 2D array into a row-major Eigen matrix of the same scalar; ValueError naming `what`.
template <typename Matrix, typename Array>
Matrix image_of(const Array& a, const char* what, py::ssize_t cols = -1) {
    if (a.ndim() != 2 || (cols >= 0 && a.shape(1) != cols))
        throw py::value_error(std::string(what) + " must be a 2D array" +
                              (cols >= 0 ? " with " + std::to_string(cols) + " columns" : "") + ", got shape " +
                              shape_of(a));
    Matrix m(a.shape(0), a.shape(1));
    std::copy(a.data(), a.data() + a.size(), m.data());
    return m;
}

/// A 1D float vector of the expected length (or any length when n < 0).
Eigen::VectorXf vector_of(const FloatArray& a, const char* what, Eigen::Index n) {
    if (a.ndim() != 1 || (n >= 0 && a.shape(0) != n))
        throw py::value_error(std::string(what) + " must have shape (" + std::to_string(n) + ",), got " + shape_of(a));
    Eigen::VectorXf v = Eigen::Map<const Eigen::VectorXf>(a.data(), a.shape(0));
    if (!v.allFinite()) throw py::value_error(std::string(what) + " contains NaN or inf");
    return v;
}

/// Pose from rvec (rad) / tvec (mm) arrays of 3 values.
Pose pose_of(const DoubleArray& rvec, const DoubleArray& tvec) {
    if (rvec.size() != 3) throw py::value_error("rvec must have 3 values, got shape " + shape_of(rvec));
    if (tvec.size() != 3) throw py::value_error("tvec must have 3 values, got shape " + shape_of(tvec));
    Pose p;
    p.rvec = Eigen::Map<const Eigen::Vector3d>(rvec.data());
    p.tvec = Eigen::Map<const Eigen::Vector3d>(tvec.data());
    if (!p.rvec.allFinite() || !p.tvec.allFinite()) throw py::value_error("rvec and tvec must be finite");
    return p;
}

/// The original's camera (focal px, image size px).
Camera camera_of(double focal, int width, int height) {
    if (!(focal > 0) || width < 2 || height < 2) throw py::value_error("focal must be > 0 and the image at least 2x2");
    Camera c;
    c.focal = focal;
    c.width = width;
    c.height = height;
    return c;
}

/// Flags as a numpy bool array.
py::array_t<bool> bool_array(const core::Flags& f) {
    py::array_t<bool> out(static_cast<py::ssize_t>(f.size()));
    auto* p = out.mutable_data();
    for (size_t i = 0; i < f.size(); ++i) p[i] = f[i] != 0;
    return out;
}

/// A mesh as a (vertices, faces) tuple of numpy arrays.
py::tuple mesh_tuple(const Mesh& m) { return py::make_tuple(m.vertices, m.faces); }

}  // namespace

void bind_core(py::module_& m) {
    m.def(
        "combine_bump",
        [](const FaceModel& model, const FloatArray& alpha, const FloatArray& expr, const DoubleArray& rvec,
           const DoubleArray& tvec, const U8Array& bump, const U8Array& mask, double focal, int width, int height,
           bool symmetry, int margin, float max_gap) {
            const Eigen::VectorXf a = vector_of(alpha, "alpha", model.num_shape());
            const Eigen::VectorXf e = vector_of(expr, "expr", model.num_expr());
            const Pose pose = pose_of(rvec, tvec);
            core::CombineBumpOptions opt;
            opt.camera = camera_of(focal, width, height);
            opt.symmetry = symmetry;
            opt.margin = margin;
            opt.max_gap = max_gap;
            if (margin < 0) throw py::value_error("margin must be >= 0");
            for (const auto* img : {&bump, &mask})
                if (img->ndim() != 2 || img->shape(0) < height + margin || img->shape(1) < width + margin)
                    throw py::value_error(std::string(img == &bump ? "bump" : "mask") +
                                          " must be a 2D uint8 image of at least " + std::to_string(height + margin) +
                                          "x" + std::to_string(width + margin) + " (512x512 from the bump CNN), got " +
                                          shape_of(*img));
            const RowMatrixXu8 b = image_of<RowMatrixXu8>(bump, "bump");
            const RowMatrixXu8 k = image_of<RowMatrixXu8>(mask, "mask");
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
            out["visible"] = bool_array(r.visible);
            out["occlusion"] = r.occlusion;
            out["scores"] = r.completed ? py::object(py::cast(r.scores)) : py::none();
            out["bumped"] = r.completed ? py::object(bool_array(r.bumped)) : py::none();
            out["bad"] = r.completed ? py::object(bool_array(r.bad)) : py::none();
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
        py::arg("symmetry") = true, py::arg("margin") = 6, py::arg("max_gap") = 4.0f,
        "combineBump after the pose fit: meshes (vertices, faces) in mm, sparse visibility/occlusion scores, "
        "symmetry correction, per-stage timings (ms) and, with symmetry, the dense registration (tri, w, pixel).");

    m.def(
        "dense_mesh",
        [](const FloatArray& depth, const U8Array& mask, const U8Array& bump, double focal, int margin) {
            const RowMatrixXf d = image_of<RowMatrixXf>(depth, "depth");
            const RowMatrixXu8 k = image_of<RowMatrixXu8>(mask, "mask");
            const Camera cam = camera_of(focal, static_cast<int>(d.cols()), static_cast<int>(d.rows()));
            core::DenseMesh dm;
            MatrixX3f unbumped;
            {
                py::gil_scoped_release release;
                dm = core::build_dense_mesh(d, k, cam, margin);
                unbumped = dm.vertices;
            }
            if (bump.size() > 0) {
                const RowMatrixXu8 b = image_of<RowMatrixXu8>(bump, "bump");
                core::apply_bump(dm, b, margin);
            }
            py::dict out;
            out["vertices"] = unbumped;
            out["bumped"] = dm.vertices;
            out["faces"] = dm.faces;
            out["vindex"] = dm.vindex;
            out["min_depth"] = dm.min_depth;
            return out;
        },
        py::arg("depth"), py::arg("mask"), py::arg("bump") = U8Array(), py::arg("focal") = 1000.0,
        py::arg("margin") = 6,
        "Dense mesh of a raw depth buffer (H x W, row 0 = top): vertices (unbumped and bumped, camera mm), "
        "grid faces, the pixel->vertex index map and the min depth.");

    m.def(
        "grid_faces", [](const IntArray& vindex) { return core::grid_faces(image_of<RowMatrixXi>(vindex, "vindex")); },
        py::arg("vindex"), "Grid triangles of a vertex-index image (-1 = no vertex), as the original's computeFaces.");

    m.def("bump_to_mm", &core::bump_to_mm, py::arg("value"), "Depth offset (mm) of an 8-bit bump value.");

    m.def(
        "occlusion_map",
        [](const FloatArray& ref_depth, const FloatArray& posed_depth, const DoubleArray& rvec, const DoubleArray& tvec,
           double focal) {
            const RowMatrixXf a = image_of<RowMatrixXf>(ref_depth, "ref_depth");
            const RowMatrixXf b = image_of<RowMatrixXf>(posed_depth, "posed_depth");
            if (a.rows() != b.rows() || a.cols() != b.cols())
                throw py::value_error("ref_depth and posed_depth must have the same shape");
            const Pose pose = pose_of(rvec, tvec);
            const Camera cam = camera_of(focal, static_cast<int>(b.cols()), static_cast<int>(b.rows()));
            py::gil_scoped_release release;
            return core::occlusion_map(a, b, core::occlusion_reference_pose(pose), pose, cam);
        },
        py::arg("ref_depth"), py::arg("posed_depth"), py::arg("rvec"), py::arg("tvec"), py::arg("focal") = 1000.0,
        "Per-pixel self-occlusion score map (Hassner et al. 2015) from raw depth buffers of the reference "
        "(r = 1e-6, t = (1e-6, 1e-6, t_z)) and posed renders.");

    m.def(
        "occlusion_reference_pose",
        [](const DoubleArray& rvec, const DoubleArray& tvec) {
            const Pose p = core::occlusion_reference_pose(pose_of(rvec, tvec));
            return py::make_tuple(Eigen::Vector3d(p.rvec), Eigen::Vector3d(p.tvec));
        },
        py::arg("rvec"), py::arg("tvec"), "The (rvec, tvec) of the occlusion map's reference view.");

    m.def(
        "occlusion_scores",
        [](const FloatArray& vertices, const py::array_t<bool>& visible, const FloatArray& occ_map,
           const DoubleArray& rvec, const DoubleArray& tvec, double focal) {
            const MatrixX3f v = image_of<MatrixX3f>(vertices, "vertices", 3);
            if (visible.size() != v.rows()) throw py::value_error("visible must have one flag per vertex");
            core::Flags f(visible.data(), visible.data() + visible.size());
            const RowMatrixXf o = image_of<RowMatrixXf>(occ_map, "occ_map");
            const Camera cam = camera_of(focal, static_cast<int>(o.cols()), static_cast<int>(o.rows()));
            return core::occlusion_scores(v, f, o, pose_of(rvec, tvec), cam);
        },
        py::arg("vertices"), py::arg("visible"), py::arg("occ_map"), py::arg("rvec"), py::arg("tvec"),
        py::arg("focal") = 1000.0, "Per-vertex occlusion score: min of the map over an 11x11 window (0 if invisible).");

    m.def(
        "blur_counts",
        [](const U8Array& counts, int ksize) { return core::blur_counts(image_of<RowMatrixXu8>(counts, "counts"), ksize); },
        py::arg("counts"), py::arg("ksize") = 5, "OpenCV-equivalent 8-bit Gaussian blur (sigma 0, reflect-101).");

    m.def(
        "delaunay_triangles",
        [](const FloatArray& points) {
            const MatrixX2f p = image_of<MatrixX2f>(points, "points", 2);
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
        [](const FloatArray& p1, const FloatArray& p2) {
            const MatrixX3f a = image_of<MatrixX3f>(p1, "p1", 3), b = image_of<MatrixX3f>(p2, "p2", 3);
            if (a.rows() != b.rows() || a.rows() < 3) throw py::value_error("p1 and p2 must be N x 3 with N >= 3");
            Eigen::Matrix3f R;
            Eigen::Vector3f t;
            core::estimate_rigid_transform(a, b, R, t);
            return py::make_tuple(R, t);
        },
        py::arg("p1"), py::arg("p2"), "Rigid (R, t) with p2 ~ R p1 + t (Kabsch, as the original).");

    m.def(
        "point_in_triangle",
        [](const FloatArray& p, const FloatArray& a, const FloatArray& b, const FloatArray& c) {
            auto v = [](const FloatArray& x) {
                if (x.size() != 2) throw py::value_error("points must have 2 coordinates");
                return Eigen::Vector2f(x.data()[0], x.data()[1]);
            };
            return core::point_in_triangle(v(p), v(a), v(b), v(c));
        },
        py::arg("p"), py::arg("a"), py::arg("b"), py::arg("c"),
        "The original's inclusive point-in-triangle test in the image plane.");
}

}  // namespace extreme3d::bindings
