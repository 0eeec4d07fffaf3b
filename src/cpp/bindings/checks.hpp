// Input checks shared by the bindings: numpy arrays converted without silent loss (dtype kind,
// integer range, float32 overflow, finiteness), C-contiguous copies that honour the caller's
// strides, shape checks, bounded sizes. Every failure is a ValueError naming the argument.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

#include "core/common.hpp"

namespace extreme3d::bindings::checks {

namespace py = pybind11;

/// Largest image side (px) any entry point accepts (render targets, depth maps, bump maps).
constexpr std::int64_t kMaxSide = 16384;
/// Largest absolute coordinate (mm or px) accepted for points and vertices.
constexpr double kMaxCoordinate = 1e7;
/// Largest absolute value accepted in a morphable model's arrays.
constexpr double kMaxModelValue = 1e9;
/// Most iterations an iterative fit may be asked for.
constexpr int kMaxIterations = 1000;

/// Shape of an array as "(a, b)" for messages.
inline std::string shape_of(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

/// ValueError "<what> <message>".
[[noreturn]] inline void fail(const std::string& what, const std::string& message) {
    throw py::value_error(what + " " + message);
}

/// Checks that the integer array `a` (any integer or bool dtype) holds values in [lo, hi].
inline void check_integer_range(const py::array& a, const std::string& what, std::int64_t lo, std::int64_t hi) {
    if (a.size() == 0 || a.dtype().kind() == 'b') return;
    if (a.dtype().kind() == 'u' && a.itemsize() == 8) {
        const auto u = py::array_t<std::uint64_t, py::array::c_style | py::array::forcecast>::ensure(a);
        for (py::ssize_t i = 0; i < u.size(); ++i)
            if (u.data()[i] > static_cast<std::uint64_t>(hi))
                fail(what, "holds " + std::to_string(u.data()[i]) + ", out of range [" + std::to_string(lo) + ", " +
                               std::to_string(hi) + "]");
        return;
    }
    const auto w = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
    for (py::ssize_t i = 0; i < w.size(); ++i)
        if (w.data()[i] < lo || w.data()[i] > hi)
            fail(what, "holds " + std::to_string(w.data()[i]) + ", out of range [" + std::to_string(lo) + ", " +
                           std::to_string(hi) + "]");
}

/// `obj` as a C-contiguous array of T (a copy when the dtype or strides differ), converted without
/// silent loss: integer targets take integer/bool dtypes whose values fit T; float targets take
/// bool/integer/float dtypes and (when `finite`) every value must be finite after the cast with
/// magnitude at most `max_abs`.
template <typename T>
py::array_t<T, py::array::c_style | py::array::forcecast> to_array(const py::handle& obj, const std::string& what, bool finite = true,
                                            double max_abs = std::numeric_limits<double>::infinity()) {
    if (obj.is_none()) fail(what, "is required (got None)");
    py::array a = py::array::ensure(obj);
    if (!a) fail(what, "must be a numeric array");
    const char kind = a.dtype().kind();
    if constexpr (std::is_same_v<T, bool>) {
        if (kind != 'b') {
            if (kind != 'i' && kind != 'u') fail(what, "must be a bool array");
            check_integer_range(a, what, 0, 1);
        }
    } else if constexpr (std::is_integral_v<T>) {
        if (kind != 'i' && kind != 'u' && kind != 'b')
            fail(what, std::string("must hold integers, got dtype kind '") + kind + "'");
        // every value of a dtype no wider than T fits (signed into signed, unsigned into wider)
        const auto size = static_cast<size_t>(a.itemsize());
        const bool fits = kind == 'b' || (kind == 'i' && std::is_signed_v<T> && size <= sizeof(T)) ||
                          (kind == 'u' && (size < sizeof(T) || (!std::is_signed_v<T> && size == sizeof(T))));
        if (!fits)
            check_integer_range(a, what, static_cast<std::int64_t>(std::numeric_limits<T>::min()),
                                static_cast<std::int64_t>(std::numeric_limits<T>::max()));
    } else {
        if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b')
            fail(what, std::string("must hold real numbers, got dtype kind '") + kind + "'");
    }
    auto out = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
    if (!out) fail(what, "cannot be converted");
    if constexpr (std::is_floating_point_v<T>) {
        if (finite) {
            const T* p = out.data();
            for (py::ssize_t i = 0; i < out.size(); ++i)
                if (!std::isfinite(p[i]) || std::abs(static_cast<double>(p[i])) > max_abs)
                    fail(what, std::isfinite(p[i]) ? "has a value beyond " + std::to_string(max_abs) + " in magnitude"
                                                   : std::string("contains non-finite values (NaN or inf after conversion to ") +
                                                         (sizeof(T) == 4 ? "float32)" : "float64)"));
        }
    }
    return out;
}

/// Checks the number of dimensions and the sizes (-1: any) of `a`.
inline void expect_shape(const py::array& a, const std::string& what, std::initializer_list<py::ssize_t> dims) {
    bool ok = a.ndim() == static_cast<py::ssize_t>(dims.size());
    py::ssize_t i = 0;
    std::string want = "(";
    for (const auto d : dims) {
        if (ok && d >= 0 && a.shape(i) != d) ok = false;
        want += (i ? ", " : "") + (d >= 0 ? std::to_string(d) : std::string(i == 0 ? "N" : "M"));
        ++i;
    }
    want += dims.size() == 1 ? ",)" : ")";
    if (!ok) fail(what, "must have shape " + want + ", got " + shape_of(a));
}

/// Row-major Eigen matrix (fixed or dynamic columns) of a 2D array, after `to_array` checks.
template <typename Matrix>
Matrix to_matrix(const py::handle& obj, const std::string& what, bool finite = true,
                 double max_abs = std::numeric_limits<double>::infinity()) {
    using T = typename Matrix::Scalar;
    const auto a = to_array<T>(obj, what, finite, max_abs);
    expect_shape(a, what, {-1, Matrix::ColsAtCompileTime == Eigen::Dynamic ? -1 : Matrix::ColsAtCompileTime});
    Matrix m(a.shape(0), a.shape(1));
    std::copy(a.data(), a.data() + a.size(), m.data());
    return m;
}

/// Eigen column vector of a 1D array of length n (any length when n < 0), after `to_array` checks.
template <typename Vector>
Vector to_vector(const py::handle& obj, const std::string& what, py::ssize_t n = -1, bool finite = true,
                 double max_abs = std::numeric_limits<double>::infinity()) {
    using T = typename Vector::Scalar;
    const auto a = to_array<T>(obj, what, finite, max_abs);
    expect_shape(a, what, {n});
    Vector v(a.shape(0));
    std::copy(a.data(), a.data() + a.size(), v.data());
    return v;
}

/// Checks a finite positive focal (px) and an image size in [lo, kMaxSide] px per side.
inline void check_camera(double focal, std::int64_t width, std::int64_t height, std::int64_t lo = 1) {
    if (!(focal > 0) || !std::isfinite(focal) || focal > 1e9)
        fail("focal", "must be a finite number in (0, 1e9], got " + std::to_string(focal));
    if (width < lo || height < lo || width > kMaxSide || height > kMaxSide)
        fail("image size", "must be between " + std::to_string(lo) + " and " + std::to_string(kMaxSide) +
                               " px per side, got " + std::to_string(width) + "x" + std::to_string(height));
}

/// Checks that every index of the integer matrix lies in [0, n).
template <typename Matrix>
void check_indices(const Matrix& m, std::int64_t n, const std::string& what) {
    for (Eigen::Index i = 0; i < m.size(); ++i)
        if (m.data()[i] < 0 || m.data()[i] >= n)
            fail(what, "holds index " + std::to_string(m.data()[i]) + ", out of range [0, " + std::to_string(n) + ")");
}

/// F x 3 face indices checked to lie in [0, num_vertices) (num_vertices in [0, 2^31)).
inline MatrixX3i face_indices(const pybind11::handle& faces, std::int64_t num_vertices, const char* what) {
    if (num_vertices < 0 || num_vertices > std::numeric_limits<int>::max())
        fail("num_vertices", "must be in [0, 2^31), got " + std::to_string(num_vertices));
    MatrixX3i f = to_matrix<MatrixX3i>(faces, what, false);
    check_indices(f, num_vertices, what);
    return f;
}

/// Per-element flags as a 1D numpy bool array.
inline pybind11::array_t<bool> flags_array(const core::Flags& f) {
    pybind11::array_t<bool> out(static_cast<pybind11::ssize_t>(f.size()));
    auto* p = out.mutable_data();
    for (size_t i = 0; i < f.size(); ++i) p[i] = f[i] != 0;
    return out;
}

/// Vertex count a face-indexed algorithm needs: `declared` capped at the largest index + 1 (0
/// without faces), so that a huge declared count with few faces sizes no per-vertex buffer.
template <typename Matrix>
int referenced_vertices(const Matrix& faces, std::int64_t declared) {
    const std::int64_t used = faces.size() ? std::int64_t(faces.maxCoeff()) + 1 : 0;
    return static_cast<int>(std::min(declared, used));
}

}  // namespace extreme3d::bindings::checks
