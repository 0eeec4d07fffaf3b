// The image pyramid of dlib's HOG face detector rebuilt bit-exactly (issue 16): the 2x
// upsampling of `detector(img, 1)` and the 5/6 levels of pyramid_down<6>, both dlib's bilinear
// resize of 8-bit 3-channel images, so that the detector run on a coarse level scans exactly the
// coarse levels of the full-resolution pyramid.
#pragma once
#include <cstdint>
#include <vector>

namespace extreme3d::detect {

/// An 8-bit image of rows x cols pixels, 3 interleaved channels (row-major).
struct Rgb8 {
    long rows = 0, cols = 0;
    std::vector<std::uint8_t> data;
};

/// Size (rows, cols) of dlib's 2x upsampling (pyramid_up with pyramid_down<2>) of an image.
void upsampled_size(long rows, long cols, long& out_rows, long& out_cols);

/// Size of the next 5/6 pyramid level (pyramid_down<6>): floor(5 n / 6) per side.
long level_down_size(long n);

/// dlib's bilinear resize of a 3-channel 8-bit image to out_rows x out_cols, with the same
/// float / double arithmetic (4-column float blocks, double tail), rows split over threads.
Rgb8 resize_bilinear(const Rgb8& in, long out_rows, long out_cols);

/// Level `level` of the detector's pyramid of `image`: upsampled 2x `upsample` times, then
/// pyramid_down<6> applied `level` times (each level an image of its own, as dlib builds it).
Rgb8 detector_level(const Rgb8& image, int upsample, int level);

}  // namespace extreme3d::detect
