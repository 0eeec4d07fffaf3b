// Python bindings of the detector pyramid (issue 16): a level of dlib's HOG detector pyramid,
// built bit-exactly, for running dlib's detector on a coarse level only.
#include <pybind11/numpy.h>

#include <cstdint>
#include <string>

#include "bindings/bindings.hpp"
#include "bindings/checks.hpp"
#include "detect/dlib_pyramid.hpp"

namespace py = pybind11;

namespace extreme3d::bindings {

void bind_detect(py::module_& m) {
    m.def(
        "detector_pyramid_level",
        [](const py::object& image_in, int upsample, int level, bool vector) {
            if (image_in.is_none()) checks::fail("image", "is required (got None)");
            py::array raw = py::array::ensure(image_in);
            if (!raw || raw.dtype().kind() != 'u' || raw.itemsize() != 1)
                checks::fail("image", "must be a uint8 array");
            const auto a = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>::ensure(raw);
            if (!a || a.ndim() != 3 || a.shape(2) != 3)
                checks::fail("image", "must have shape (H, W, 3), got " + checks::shape_of(raw));
            if (a.shape(0) > checks::kMaxSide || a.shape(1) > checks::kMaxSide)
                checks::fail("image", "must be at most 16384 px per side, got " + checks::shape_of(a));
            if (upsample < 0 || upsample > 2)
                checks::fail("upsample", "must be 0, 1 or 2, got " + std::to_string(upsample));
            if (level < 0 || level > 100) checks::fail("level", "must be in [0, 100], got " + std::to_string(level));
            long rows = 0, cols = 0;
            detect::detector_level_size(a.shape(0), a.shape(1), upsample, level, rows, cols);
            if (rows > checks::kMaxSide || cols > checks::kMaxSide)
                checks::fail("image", "upsampled " + std::to_string(upsample) + " times would exceed " +
                                          std::to_string(checks::kMaxSide) + " px per side at level " +
                                          std::to_string(level) + " (" + std::to_string(rows) + " x " +
                                          std::to_string(cols) + ")");
            py::array_t<std::uint8_t> res({py::ssize_t(rows), py::ssize_t(cols), py::ssize_t(3)});
            {
                py::gil_scoped_release release;
                detect::detector_level(a.data(), a.shape(0), a.shape(1), upsample, level, res.mutable_data(), vector);
            }
            return res;
        },
        py::arg("image"), py::arg("upsample"), py::arg("level"), py::arg("vector") = true,
        "Level `level` of dlib's HOG detector pyramid of an (H, W, 3) uint8 image: dlib's 2x "
        "upsampling applied `upsample` times, then pyramid_down<6> `level` times, bit-exact with "
        "dlib (bilinear resize of 3-channel 8-bit images); (h, w, 3) uint8. vector=False: the "
        "portable code instead of AVX2 (same results).");
}

}  // namespace extreme3d::bindings
