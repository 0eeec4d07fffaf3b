// Python bindings of the detector pyramid (issue 16): a level of dlib's HOG detector pyramid,
// built bit-exactly, for running dlib's detector on a coarse level only.
#include <pybind11/numpy.h>

#include <algorithm>
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
        [](const py::object& image_in, int upsample, int level) {
            if (image_in.is_none()) checks::fail("image", "is required (got None)");
            py::array raw = py::array::ensure(image_in);
            if (!raw || raw.dtype().kind() != 'u' || raw.itemsize() != 1)
                checks::fail("image", "must be a uint8 array");
            const auto a = py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>::ensure(raw);
            if (a.ndim() != 3 || a.shape(2) != 3)
                checks::fail("image", "must have shape (H, W, 3), got " + checks::shape_of(a));
            if (a.shape(0) > checks::kMaxSide || a.shape(1) > checks::kMaxSide)
                checks::fail("image", "must be at most 16384 px per side, got " + checks::shape_of(a));
            if (upsample < 0 || upsample > 2)
                checks::fail("upsample", "must be 0, 1 or 2, got " + std::to_string(upsample));
            if (level < 0 || level > 100) checks::fail("level", "must be in [0, 100], got " + std::to_string(level));
            detect::Rgb8 img;
            img.rows = a.shape(0);
            img.cols = a.shape(1);
            img.data.assign(a.data(), a.data() + a.size());
            detect::Rgb8 out;
            {
                py::gil_scoped_release release;
                out = detect::detector_level(img, upsample, level);
            }
            py::array_t<std::uint8_t> res({py::ssize_t(out.rows), py::ssize_t(out.cols), py::ssize_t(3)});
            std::copy(out.data.begin(), out.data.end(), res.mutable_data());
            return res;
        },
        py::arg("image"), py::arg("upsample"), py::arg("level"),
        "Level `level` of dlib's HOG detector pyramid of an (H, W, 3) uint8 image: dlib's 2x "
        "upsampling applied `upsample` times, then pyramid_down<6> `level` times, bit-exact with "
        "dlib (bilinear resize of 3-channel 8-bit images); (h, w, 3) uint8.");
}

}  // namespace extreme3d::bindings
