// Python bindings of texture baking and the photo-colour helpers shared with vertex colours:
// numpy in, numpy out; inputs converted by checks::to_array (dtype kind, integer ranges, finiteness
// after the cast, the caller's strides) and shape-checked here (-> ValueError); the GIL is released
// while computing.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <stdexcept>
#include <string>

#include "bindings/bindings.hpp"
#include "bindings/checks.hpp"
#include "texture/bake_texture.hpp"
#include "texture/harmonic_fill.hpp"
#include "texture/image_fill.hpp"
#include "texture/mirror_index.hpp"
#include "texture/photo_view.hpp"
#include "texture/uv_raster.hpp"
#include "texture/vertex_footprint.hpp"
#include "texture/vertex_normals.hpp"

namespace py = pybind11;

namespace extreme3d::bindings {
namespace {

using U8Array = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>;
using BoolArray = py::array_t<bool, py::array::c_style | py::array::forcecast>;
using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using IntArray = py::array_t<int, py::array::c_style | py::array::forcecast>;
using checks::kMaxCoordinate;
using checks::to_array;

/// Most vertices / faces one harmonic fill accepts (its counts are 32-bit).
constexpr py::ssize_t kMaxFillRows = 10000000;

/// Shape of an array as "(a, b)" for messages.
std::string shape_of(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

/// ValueError unless `a` is (N, cols); returns N.
py::ssize_t rows_of(const py::array& a, py::ssize_t cols, const char* what) {
    if (a.ndim() != 2 || a.shape(1) != cols)
        throw py::value_error(std::string(what) + " must have shape (N, " + std::to_string(cols) +
                              "), got " + shape_of(a));
    return a.shape(0);
}

/// Copies an (N, C) array into a row-major Eigen matrix, checking shape and finiteness.
template <typename Matrix, typename Array>
Matrix matrix_of(const Array& a, const char* what, bool check_finite = true) {
    const py::ssize_t n = rows_of(a, Matrix::ColsAtCompileTime, what);
    Matrix m(n, Matrix::ColsAtCompileTime);
    std::copy(a.data(), a.data() + a.size(), m.data());
    if (check_finite && !m.allFinite()) throw py::value_error(std::string(what) + " contain NaN or inf");
    return m;
}

/// For each query set (N_i, 3), the index (int64, -1 = none) of the reference point (N, 3)
/// nearest to each query's mirror image (-x, y, z) within max_dist mm: one MirrorIndex for all
/// sets, warm-started searches in query order; inputs checked (ValueError), GIL released.
std::vector<py::array_t<std::int64_t>> mirror_nearest_of(const py::object& reference_in,
                                                         const std::vector<py::object>& query_sets,
                                                         double max_dist) {
    const auto reference = to_array<double>(reference_in, "reference points", true, kMaxCoordinate);
    const MatrixX3d P = matrix_of<MatrixX3d>(reference, "reference points");
    std::vector<MatrixX3d> sets;
    for (const py::object& q : query_sets)
        sets.push_back(matrix_of<MatrixX3d>(to_array<double>(q, "queries", true, kMaxCoordinate), "queries"));
    if (!(max_dist > 0) || !(max_dist <= kMaxCoordinate)) throw py::value_error("max_dist must be in (0, 1e7]");
    std::vector<std::vector<long>> found;
    {
        py::gil_scoped_release release;
        const texture::MirrorIndex index(P, max_dist);
        for (const MatrixX3d& Q : sets) found.push_back(index.mirror_nearest(Q));
    }
    std::vector<py::array_t<std::int64_t>> out;
    for (const auto& idx : found) {
        py::array_t<std::int64_t> a(py::ssize_t(idx.size()));
        std::copy(idx.begin(), idx.end(), a.mutable_data());
        out.push_back(std::move(a));
    }
    return out;
}

/// Faces (F, 3) int with every index in [0, num_vertices).
MatrixX3i faces_of(const IntArray& a, Eigen::Index num_vertices) {
    MatrixX3i f = matrix_of<MatrixX3i>(a, "faces", false);
    if (f.size() && (f.minCoeff() < 0 || f.maxCoeff() >= num_vertices))
        throw py::value_error("face index out of range [0, " + std::to_string(num_vertices) + ")");
    return f;
}

/// The photo view: crop (H, W, 3) uint8 BGR, zbuf (H, W) camera z, shown (H, W) bool, rotation
/// 3x3, tvec 3, camera and tolerances; checks shapes and finiteness. Pointers borrow the arrays.
texture::PhotoView view_of(const U8Array& image, const FloatArray& zbuf, const BoolArray& shown,
                           const DoubleArray& rotation, const DoubleArray& tvec, double focal,
                           double depth_tol, double min_cos) {
    if (image.ndim() != 3 || image.shape(2) != 3 || image.shape(0) < 2 || image.shape(1) < 2)
        throw py::value_error("image must be a BGR (H, W, 3) array of at least 2x2, got " + shape_of(image));
    const auto h = image.shape(0), w = image.shape(1);
    if (zbuf.ndim() != 2 || zbuf.shape(0) != h || zbuf.shape(1) != w)
        throw py::value_error("zbuf must have the image's shape (" + std::to_string(h) + ", " +
                              std::to_string(w) + "), got " + shape_of(zbuf));
    if (shown.ndim() != 2 || shown.shape(0) != h || shown.shape(1) != w)
        throw py::value_error("shown must have the image's shape, got " + shape_of(shown));
    if (rotation.ndim() != 2 || rotation.shape(0) != 3 || rotation.shape(1) != 3)
        throw py::value_error("rotation must be a 3x3 matrix, got " + shape_of(rotation));
    if (tvec.ndim() != 1 || tvec.size() != 3) throw py::value_error("tvec must have shape (3,), got " + shape_of(tvec));
    texture::PhotoView v;
    v.bgr = image.data();
    v.zbuf = zbuf.data();
    v.shown = reinterpret_cast<const std::uint8_t*>(shown.data());
    v.width = int(w);
    v.height = int(h);
    for (int i = 0; i < 3; ++i) {
        v.t(i) = tvec.data()[i];
        for (int j = 0; j < 3; ++j) v.R(i, j) = rotation.data()[3 * i + j];
    }
    if (!v.R.allFinite() || !v.t.allFinite()) throw py::value_error("rotation and tvec must be finite");
    if (!(focal > 0) || !std::isfinite(focal)) throw py::value_error("focal must be > 0");
    if (!(depth_tol >= 0)) throw py::value_error("depth_tol must be >= 0");
    v.focal = focal;
    v.depth_tol = depth_tol;
    v.min_cos = min_cos;
    return v;
}

}  // namespace

void bind_texture(py::module_& m) {
    m.def(
        "bake_texture",
        [](const py::object& vertices_in, const py::object& faces_in, const py::object& uv_in,
           const py::object& image_in, const py::object& zbuf_in, const py::object& shown_in,
           const py::object& rotation_in, const py::object& tvec_in, int size, double focal,
           double depth_tol, double min_cos, bool symmetry, double mirror_dist, bool seam_correction,
           double seam_sigma, double seam_max, int seam_factor) {
            const auto vertices = to_array<float>(vertices_in, "vertices", true, kMaxCoordinate);
            const auto faces = to_array<int>(faces_in, "faces");
            const auto uv = to_array<float>(uv_in, "uv", true, kMaxCoordinate);
            const auto image = to_array<std::uint8_t>(image_in, "image");
            const auto zbuf = to_array<float>(zbuf_in, "zbuf", true, kMaxCoordinate);
            const auto shown = to_array<bool>(shown_in, "shown");
            const auto rotation = to_array<double>(rotation_in, "rotation", true, kMaxCoordinate);
            const auto tvec = to_array<double>(tvec_in, "tvec", true, kMaxCoordinate);
            const MatrixX3f V = matrix_of<MatrixX3f>(vertices, "vertices");
            const MatrixX3i F = faces_of(faces, V.rows());
            const MatrixX2f UV = matrix_of<MatrixX2f>(uv, "uv");
            if (UV.rows() != V.rows()) throw py::value_error("uv must have one row per vertex");
            if (size < 1 || size > 16384) throw py::value_error("size must be in 1..16384");
            if (!(mirror_dist >= 0) || !(seam_sigma > 0) || !(seam_max >= 0) || seam_factor < 1 ||
                !std::isfinite(mirror_dist) || !std::isfinite(seam_sigma) || !std::isfinite(seam_max) ||
                seam_factor > 64)
                throw py::value_error("need finite mirror_dist >= 0, seam_sigma > 0, seam_max >= 0 and seam_factor in 1..64");
            const texture::PhotoView view =
                view_of(image, zbuf, shown, rotation, tvec, focal, depth_tol, min_cos);
            texture::BakeOptions opt;
            opt.size = size;
            opt.symmetry = symmetry;
            opt.mirror_dist = mirror_dist;
            opt.seam_correction = seam_correction;
            opt.seam_sigma = seam_sigma;
            opt.seam_max = seam_max;
            opt.seam_factor = seam_factor;
            texture::BakeResult r;
            {
                py::gil_scoped_release release;
                r = texture::bake_texture(V, F, UV, view, opt);
            }
            py::array_t<std::uint8_t> rgb({size, size, 3});
            std::copy(r.rgb.begin(), r.rgb.end(), rgb.mutable_data());
            py::array_t<std::int8_t> source({size, size});
            std::copy(r.source.begin(), r.source.end(), source.mutable_data());
            return py::make_tuple(rgb, source);
        },
        py::arg("vertices"), py::arg("faces"), py::arg("uv"), py::arg("image"), py::arg("zbuf"),
        py::arg("shown"), py::arg("rotation"), py::arg("tvec"), py::arg("size") = 1024,
        py::arg("focal") = 1000.0, py::arg("depth_tol") = 2.5, py::arg("min_cos") = 0.17,
        py::arg("symmetry") = true, py::arg("mirror_dist") = 3.0, py::arg("seam_correction") = true,
        py::arg("seam_sigma") = 12.0, py::arg("seam_max") = 255.0, py::arg("seam_factor") = 4,
        "Texture (size x size x 3 uint8 RGB, row 0 = v 1) and texel sources (int8: 0 photo,\n"
        "1 mirrored, 2 filled, -1 outside) of a mesh (frontal model mm, faces, per-vertex uv) from\n"
        "the BGR crop, its depth buffer zbuf (camera z mm, 0 = background) and the mask of pixels\n"
        "that may be sampled, at the pose (rotation, tvec).");
    m.def(
        "rasterize_uv",
        [](const py::object& uv_in, const py::object& faces_in, int size) {
            const auto uv = to_array<float>(uv_in, "uv", true, kMaxCoordinate);
            const auto faces = to_array<int>(faces_in, "faces");
            const MatrixX2f UV = matrix_of<MatrixX2f>(uv, "uv");
            const MatrixX3i F = faces_of(faces, UV.rows());
            if (size < 1 || size > 16384) throw py::value_error("size must be in 1..16384");
            texture::UvRaster r;
            {
                py::gil_scoped_release release;
                r = texture::rasterize_texels(texture::uv_to_texels(UV, size), F, size);
            }
            py::array_t<std::int32_t> ids({size, size});
            std::copy(r.ids.begin(), r.ids.end(), ids.mutable_data());
            py::array_t<float> bary({size, size, 3});
            std::copy(r.bary.begin(), r.bary.end(), bary.mutable_data());
            return py::make_tuple(ids, bary);
        },
        py::arg("uv"), py::arg("faces"), py::arg("size"),
        "Triangle of every texel centre (size x size int32, -1 = none) and its barycentrics\n"
        "(size x size x 3 float32) of the UV layout (v up).");
    m.def(
        "mirror_nearest",
        [](const py::object& reference_in, const py::object& queries_in, double max_dist) {
            return mirror_nearest_of(reference_in, {queries_in}, max_dist).front();
        },
        py::arg("reference"), py::arg("queries"), py::arg("max_dist"),
        "For each query (x, y, z), the index of the reference point nearest to (-x, y, z) at a\n"
        "distance < max_dist (mm), else -1.");
    m.def(
        "mirror_nearest_sets",
        [](const py::object& reference_in, const py::sequence& query_sets, double max_dist) {
            std::vector<py::object> sets;
            for (const py::handle q : query_sets) sets.push_back(py::reinterpret_borrow<py::object>(q));
            py::list out;
            for (auto& idx : mirror_nearest_of(reference_in, sets, max_dist)) out.append(std::move(idx));
            return out;
        },
        py::arg("reference"), py::arg("query_sets"), py::arg("max_dist"),
        "mirror_nearest of each query array in query_sets against one index of the reference\n"
        "points (the same answers as separate calls; the index is built once).");
    m.def(
        "push_pull_fill",
        [](const py::object& image_in, const py::object& known_in) {
            const auto image = to_array<float>(image_in, "image", true, 1e30);
            const auto known = to_array<bool>(known_in, "known");
            if (image.ndim() != 3 || known.ndim() != 2 || known.shape(0) != image.shape(0) ||
                known.shape(1) != image.shape(1))
                throw py::value_error("need image (H, W, C) and known (H, W), got " + shape_of(image) +
                                      " and " + shape_of(known));
            if (image.shape(0) > checks::kMaxSide || image.shape(1) > checks::kMaxSide || image.shape(2) > 64)
                throw py::value_error("image must be at most 16384 px per side and 64 channels, got " +
                                      shape_of(image));
            texture::FloatImage img(int(image.shape(0)), int(image.shape(1)), int(image.shape(2)));
            std::copy(image.data(), image.data() + image.size(), img.data.begin());
            std::vector<float> w(known.data(), known.data() + known.size());
            texture::FloatImage out;
            {
                py::gil_scoped_release release;
                out = texture::push_pull_fill(img, w);
            }
            py::array_t<float> res({image.shape(0), image.shape(1), image.shape(2)});
            std::copy(out.data.begin(), out.data.end(), res.mutable_data());
            return res;
        },
        py::arg("image"), py::arg("known"),
        "Push-pull fill of the pixels of an (H, W, C) float image where known (H, W) is False.");
    m.def(
        "vertex_normals",
        [](const py::object& vertices_in, const py::object& faces_in) {
            const auto vertices = to_array<float>(vertices_in, "vertices", true, kMaxCoordinate);
            const auto faces = to_array<int>(faces_in, "faces");
            const MatrixX3f V = matrix_of<MatrixX3f>(vertices, "vertices");
            const MatrixX3i F = faces_of(faces, V.rows());
            MatrixX3d n;
            {
                py::gil_scoped_release release;
                n = texture::vertex_normals(V, F);
            }
            py::array_t<double> out({py::ssize_t(n.rows()), py::ssize_t(3)});
            std::copy(n.data(), n.data() + n.size(), out.mutable_data());
            return out;
        },
        py::arg("vertices"), py::arg("faces"),
        "Area-weighted unit vertex normals (V, 3) float64 (zero for unused vertices).");
    m.def(
        "vertex_footprint",
        [](const py::object& uv_in, const py::object& faces_in) {
            const auto uv = to_array<double>(uv_in, "uv", true, kMaxCoordinate);
            const auto faces = to_array<int>(faces_in, "faces");
            const MatrixX2d UV = matrix_of<MatrixX2d>(uv, "uv");
            const MatrixX3i F = faces_of(faces, UV.rows());
            Eigen::VectorXd d;
            {
                py::gil_scoped_release release;
                d = texture::vertex_footprint(UV, F);
            }
            py::array_t<double> out(py::ssize_t(d.size()));
            std::copy(d.data(), d.data() + d.size(), out.mutable_data());
            return out;
        },
        py::arg("uv"), py::arg("faces"),
        "Per-vertex mean length (V,) float64 of the projected edges at each vertex (uv: (V, 2)\n"
        "projections, px; an edge counts once per triangle holding it; 0 for unused vertices).");
    m.def(
        "fill_reach",
        [](const py::object& faces_in, const py::object& known_in) {
            const auto known = to_array<bool>(known_in, "known");
            if (known.ndim() != 1) throw py::value_error("known must have shape (V,), got " + shape_of(known));
            const py::ssize_t V = known.shape(0);
            if (V > kMaxFillRows) throw py::value_error("known has more than 1e7 rows");
            const MatrixX3i F = checks::face_indices(faces_in, V, "faces");
            if (F.rows() > kMaxFillRows) throw py::value_error("faces has more than 1e7 rows");
            const std::vector<std::uint8_t> flags(known.data(), known.data() + known.size());
            std::vector<std::uint8_t> reach;
            {
                py::gil_scoped_release release;
                reach = texture::fill_reach(F, flags);
            }
            py::array_t<std::uint8_t> out(V);
            std::copy(reach.begin(), reach.end(), out.mutable_data());
            return out;
        },
        py::arg("faces"), py::arg("known"),
        "(V,) uint8 per vertex: 0 in no face, 1 its connected piece of the mesh holds a known\n"
        "vertex (harmonic_fill reaches it from known values), 2 it does not (filled with the mean).");
    m.def(
        "harmonic_fill",
        [](const py::object& faces_in, const py::object& values_in, const py::object& known_in,
           double regularisation) {
            const auto values = to_array<double>(values_in, "values", true, 1e30);
            const auto known = to_array<bool>(known_in, "known");
            if (values.ndim() != 2) throw py::value_error("values must have shape (V, C), got " + shape_of(values));
            const py::ssize_t V = values.shape(0), C = values.shape(1);
            if (known.ndim() != 1 || known.shape(0) != V)
                throw py::value_error("known must have shape (" + std::to_string(V) + ",), got " + shape_of(known));
            if (C > 64) throw py::value_error("values must have at most 64 columns, got " + std::to_string(C));
            // 32-bit counts inside (6 half-edges per face): at most 1e7 vertices and faces
            if (V > kMaxFillRows) throw py::value_error("values has more than 1e7 rows");
            if (!(regularisation >= 1e-12 && regularisation <= 1e6))
                throw py::value_error("regularisation must be in [1e-12, 1e6], got " + std::to_string(regularisation));
            const MatrixX3i F = checks::face_indices(faces_in, V, "faces");
            if (F.rows() > kMaxFillRows) throw py::value_error("faces has more than 1e7 rows");
            RowMatrixXd X(V, C);
            std::copy(values.data(), values.data() + values.size(), X.data());
            const std::vector<std::uint8_t> flags(known.data(), known.data() + known.size());
            RowMatrixXd out;
            {
                py::gil_scoped_release release;
                out = texture::harmonic_fill(F, X, flags, regularisation);
            }
            py::array_t<double> res({V, C});
            std::copy(out.data(), out.data() + out.size(), res.mutable_data());
            return res;
        },
        py::arg("faces"), py::arg("values"), py::arg("known"), py::arg("regularisation") = 1e-6,
        "Harmonic fill (V, C) float64 of the rows of values (V, C) where known (V,) is False over\n"
        "the faces' edge graph: (L_uu + r I) x_u = -L_uk x_k + r mean(known rows), one sparse\n"
        "Cholesky (LDLT) for all columns; without faces the unknown rows get that mean.");
    m.def(
        "photo_samples",
        [](const py::object& points_in, const py::object& normals_in, const py::object& image_in,
           const py::object& zbuf_in, const py::object& shown_in, const py::object& rotation_in,
           const py::object& tvec_in, double focal, double depth_tol, double min_cos) {
            const auto points = to_array<double>(points_in, "points", false);
            const auto normals = to_array<double>(normals_in, "normals", false);
            const auto image = to_array<std::uint8_t>(image_in, "image");
            const auto zbuf = to_array<float>(zbuf_in, "zbuf", true, kMaxCoordinate);
            const auto shown = to_array<bool>(shown_in, "shown");
            const auto rotation = to_array<double>(rotation_in, "rotation", true, kMaxCoordinate);
            const auto tvec = to_array<double>(tvec_in, "tvec", true, kMaxCoordinate);
            const MatrixX3d P = matrix_of<MatrixX3d>(points, "points", false);
            const MatrixX3d N = matrix_of<MatrixX3d>(normals, "normals", false);
            if (N.rows() != P.rows()) throw py::value_error("normals must have one row per point");
            const texture::PhotoView view =
                view_of(image, zbuf, shown, rotation, tvec, focal, depth_tol, min_cos);
            const auto n = P.rows();
            py::array_t<bool> visible(n);
            py::array_t<float> rgb({py::ssize_t(n), py::ssize_t(3)});
            bool* vis = visible.mutable_data();
            float* col = rgb.mutable_data();
            {
                py::gil_scoped_release release;
                for (Eigen::Index i = 0; i < n; ++i) {
                    double u, v;
                    vis[i] = texture::sees(view, P.row(i).transpose(), N.row(i).transpose(), u, v);
                    if (vis[i]) {
                        texture::sample_rgb(view, u, v, col + 3 * i);
                    } else {
                        col[3 * i] = col[3 * i + 1] = col[3 * i + 2] = 0.0f;
                    }
                }
            }
            return py::make_tuple(visible, rgb);
        },
        py::arg("points"), py::arg("normals"), py::arg("image"), py::arg("zbuf"), py::arg("shown"),
        py::arg("rotation"), py::arg("tvec"), py::arg("focal") = 1000.0, py::arg("depth_tol") = 2.5,
        py::arg("min_cos") = 0.17,
        "Which model points (unit normals) the crop shows (visible (N,) bool) and their bilinear\n"
        "RGB samples ((N, 3) float32, 0 where not visible), by the rule of extreme3d.colors.");
}

}  // namespace extreme3d::bindings
