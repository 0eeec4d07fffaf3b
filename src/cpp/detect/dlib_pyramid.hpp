// The image pyramid of dlib's HOG face detector rebuilt bit-exactly (issue 16): the 2x
// upsampling of `detector(img, 1)` and the 5/6 levels of pyramid_down<6>, both dlib's bilinear
// resize of 8-bit 3-channel images, so that the detector run on a coarse level scans exactly the
// coarse levels of the full-resolution pyramid.
#pragma once
#include <cstdint>
#include <vector>

namespace extreme3d::detect {

/// Size (rows, cols) of dlib's 2x upsampling (pyramid_up with pyramid_down<2>) of an image
/// (0 x 0 for an empty one).
void upsampled_size(long rows, long cols, long& out_rows, long& out_cols);

/// Size of the next 5/6 pyramid level (pyramid_down<6>): floor(5 n / 6) per side.
long level_down_size(long n);

/// Size (rows, cols) of level `level` of the detector's pyramid of a rows x cols image
/// upsampled `upsample` times.
void detector_level_size(long rows, long cols, int upsample, int level, long& out_rows, long& out_cols);

/// Level `level` of the detector's pyramid of the rows x cols image `image` (3 interleaved
/// 8-bit channels, row-major): upsampled 2x `upsample` times, then pyramid_down<6> applied
/// `level` times, each step dlib's bilinear resize with its float / double arithmetic. Written
/// to `out` (size from detector_level_size). The intermediate levels are streamed a few rows at
/// a time (never stored whole); rows of the result are split over threads. `vector`: AVX2 where
/// the CPU has it (same results), else portable code.
void detector_level(const std::uint8_t* image, long rows, long cols, int upsample, int level, std::uint8_t* out,
                    bool vector = true);

}  // namespace extreme3d::detect
