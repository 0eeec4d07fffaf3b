// Image operations of texture baking on planar float images: push-pull hole filling, bilinear
// resizing (OpenCV's INTER_LINEAR geometry) and a Gaussian blur (OpenCV's kernel, reflect-101).
#pragma once
#include <vector>

namespace extreme3d::texture {

/// An H x W image of C interleaved float channels, row-major.
struct FloatImage {
    int height = 0, width = 0, channels = 0;
    std::vector<float> data;

    FloatImage() = default;
    FloatImage(int h, int w, int c, float value = 0.0f)
        : height(h), width(w), channels(c), data(std::size_t(h) * w * c, value) {}
    float* at(int r, int c) { return data.data() + (std::size_t(r) * width + c) * channels; }
    const float* at(int r, int c) const {
        return data.data() + (std::size_t(r) * width + c) * channels;
    }
};

/// Smooth fill of the pixels where `known` (H x W, 0/1 weights) is 0: a pyramid of 2x2 sums of
/// known values and weights (push), then from the coarsest level down each level's mean where it
/// has weight, blended with the bilinear upsampling of the coarser level elsewhere (pull). Known
/// pixels keep their values; with no known pixel every value is 127. Same float32 operations as
/// extreme3d.texture.push_pull_fill (the numpy reference).
FloatImage push_pull_fill(const FloatImage& image, const std::vector<float>& known);

/// Bilinear resize to (height, width) with OpenCV's INTER_LINEAR pixel geometry (centres at
/// i + 0.5, clamped at the borders).
FloatImage resize_linear(const FloatImage& image, int height, int width);

/// Gaussian blur with standard deviation sigma (px): OpenCV's kernel for float images (size
/// round(8 sigma + 1) | 1, float taps) and reflect-101 borders, rows then columns.
FloatImage gaussian_blur(const FloatImage& image, double sigma);

}  // namespace extreme3d::texture
