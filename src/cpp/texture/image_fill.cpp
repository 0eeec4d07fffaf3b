// Push-pull fill, bilinear resize, Gaussian blur and block means (see image_fill.hpp).
#include "texture/image_fill.hpp"

#include <algorithm>
#include <cmath>

namespace extreme3d::texture {
namespace {

/// Horizontal source index and weight of each destination column (OpenCV INTER_LINEAR).
void linear_taps(int src, int dst, std::vector<int>& index, std::vector<float>& weight) {
    index.resize(dst);
    weight.resize(dst);
    const double scale = double(src) / double(dst);
    for (int d = 0; d < dst; ++d) {
        float f = float((d + 0.5) * scale - 0.5);
        int s = int(std::floor(f));
        f -= float(s);
        if (s < 0) f = 0, s = 0;
        if (s >= src - 1) f = 0, s = src - 1;
        index[d] = s;
        weight[d] = f;
    }
}

/// Reflect-101 index of i in [0, n).
inline int reflect101(int i, int n) {
    if (n == 1) return 0;
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - 2 - i;
    return i;
}

/// OpenCV's Gaussian kernel for float images (getGaussianKernel in double, stored as float).
std::vector<float> gaussian_kernel(double sigma) {
    const int n = int(std::lround(sigma * 4 * 2 + 1)) | 1;
    std::vector<double> k(n);
    const double scale = -0.5 / (sigma * sigma);
    double sum = 0;
    for (int i = 0; i < n; ++i) {
        const double x = i - (n - 1) * 0.5;
        k[i] = std::exp(scale * x * x);
        sum += k[i];
    }
    std::vector<float> out(n);
    for (int i = 0; i < n; ++i) out[i] = float(k[i] / sum);
    return out;
}

}  // namespace

FloatImage resize_linear(const FloatImage& image, int height, int width) {
    const int C = image.channels;
    FloatImage out(height, width, C);
    std::vector<int> xi, yi;
    std::vector<float> xw, yw;
    linear_taps(image.width, width, xi, xw);
    linear_taps(image.height, height, yi, yw);
    const std::size_t n = std::size_t(width) * C;
    // Horizontally resized source rows, cached: consecutive output rows share their sources.
    std::vector<float> rows[2] = {std::vector<float>(n), std::vector<float>(n)};
    int cached[2] = {-1, -1};
    auto hresized = [&](int r) -> const std::vector<float>& {
        for (int k = 0; k < 2; ++k)
            if (cached[k] == r) return rows[k];
        const int k = (cached[0] == r - 1) ? 1 : 0;  // keep the row just above
        cached[k] = r;
        const float* src = image.at(r, 0);
        std::vector<float>& dst = rows[k];
        for (int d = 0; d < width; ++d) {
            const int s0 = xi[d], s1 = std::min(s0 + 1, image.width - 1);
            const float a1 = xw[d], a0 = 1.f - a1;
            for (int c = 0; c < C; ++c)
                dst[std::size_t(d) * C + c] = src[s0 * C + c] * a0 + src[s1 * C + c] * a1;
        }
        return dst;
    };
    for (int r = 0; r < height; ++r) {
        const int s0 = yi[r], s1 = std::min(s0 + 1, image.height - 1);
        const std::vector<float>& row0 = hresized(s0);
        const std::vector<float>& row1 = hresized(s1);
        const float b1 = yw[r], b0 = 1.f - b1;
        float* dst = out.at(r, 0);
        for (std::size_t k = 0; k < n; ++k) dst[k] = row0[k] * b0 + row1[k] * b1;
    }
    return out;
}

FloatImage push_pull_fill(const FloatImage& image, const std::vector<float>& known) {
    const int C = image.channels;
    bool any = false;
    for (const float k : known) any = any || k != 0;
    if (!any) return FloatImage(image.height, image.width, C, 127.0f);
    // Push: level 0 holds image * known and known; each next level the 2x2 sums (zero padded).
    std::vector<FloatImage> sums, weights;
    sums.emplace_back(image.height, image.width, C);
    weights.emplace_back(image.height, image.width, 1);
    for (std::size_t p = 0; p < known.size(); ++p) {
        weights[0].data[p] = known[p];
        for (int c = 0; c < C; ++c) sums[0].data[p * C + c] = image.data[p * C + c] * known[p];
    }
    while (std::max(sums.back().height, sums.back().width) > 1) {
        const FloatImage& s = sums.back();
        const FloatImage& w = weights.back();
        const int nh = (s.height + 1) / 2, nw = (s.width + 1) / 2;
        FloatImage s2(nh, nw, C), w2(nh, nw, 1);
        // 2x2 block sums, zero padded at an odd last row/column, added in numpy's order.
        for (int r = 0; r < nh; ++r) {
            const int ra = 2 * r, rb = std::min(2 * r + 1, s.height - 1);
            const bool has_b = 2 * r + 1 < s.height;
            for (int c = 0; c < nw; ++c) {
                const int ca = 2 * c, cb = std::min(2 * c + 1, s.width - 1);
                const bool has_cb = 2 * c + 1 < s.width;
                const float* p00 = s.at(ra, ca);
                const float* p01 = s.at(ra, cb);
                const float* p10 = s.at(rb, ca);
                const float* p11 = s.at(rb, cb);
                float* q = s2.at(r, c);
                for (int k = 0; k < C; ++k) {
                    const float v01 = has_cb ? p01[k] : 0.0f, v10 = has_b ? p10[k] : 0.0f;
                    const float v11 = (has_b && has_cb) ? p11[k] : 0.0f;
                    q[k] = ((p00[k] + v01) + v10) + v11;
                }
                const float w01 = has_cb ? w.at(ra, cb)[0] : 0.0f, w10 = has_b ? w.at(rb, ca)[0] : 0.0f;
                const float w11 = (has_b && has_cb) ? w.at(rb, cb)[0] : 0.0f;
                w2.at(r, c)[0] = ((w.at(ra, ca)[0] + w01) + w10) + w11;
            }
        }
        sums.push_back(std::move(s2));
        weights.push_back(std::move(w2));
    }
    // Pull: the coarsest mean, then per level a * mean + (1 - a) * upsampled, a = clip(w, 0, 1).
    FloatImage cur(1, 1, C);
    {
        const float w = std::max(weights.back().data[0], 1e-12f);
        for (int k = 0; k < C; ++k) cur.data[k] = sums.back().data[k] / w;
    }
    for (int level = int(sums.size()) - 2; level >= 0; --level) {
        const FloatImage& s = sums[level];
        const FloatImage& w = weights[level];
        FloatImage up = resize_linear(cur, s.height, s.width);
        for (std::size_t p = 0; p < w.data.size(); ++p) {
            const float a = std::clamp(w.data[p], 0.0f, 1.0f);
            const float den = std::max(w.data[p], 1e-12f);
            for (int k = 0; k < C; ++k) {
                const std::size_t i = p * C + k;
                float m = s.data[i] / den;
                m *= a;
                up.data[i] *= 1.0f - a;
                up.data[i] = m + up.data[i];
            }
        }
        cur = std::move(up);
    }
    for (std::size_t p = 0; p < known.size(); ++p)
        if (known[p] != 0)
            for (int k = 0; k < C; ++k) cur.data[p * C + k] = image.data[p * C + k];
    return cur;
}

FloatImage gaussian_blur(const FloatImage& image, double sigma) {
    const std::vector<float> kernel = gaussian_kernel(sigma);
    const int n = int(kernel.size()), half = n / 2;
    const int H = image.height, W = image.width, C = image.channels;
    // Rows: along x into tmp; then columns: along y into out (row-wise accumulation).
    FloatImage tmp(H, W, C), out(H, W, C);
    std::vector<int> xs(std::size_t(W) + n);
    for (int i = 0; i < W + n - 1; ++i) xs[i] = reflect101(i - half, W);
    for (int r = 0; r < H; ++r) {
        const float* src = image.at(r, 0);
        float* dst = tmp.at(r, 0);
        for (int x = 0; x < W; ++x) {
            for (int c = 0; c < C; ++c) {
                float s = 0;
                for (int k = 0; k < n; ++k) s += kernel[k] * src[xs[x + k] * C + c];
                dst[x * C + c] = s;
            }
        }
    }
    const std::size_t row = std::size_t(W) * C;
    for (int r = 0; r < H; ++r) {
        float* dst = out.at(r, 0);
        for (int k = 0; k < n; ++k) {
            const float* src = tmp.at(reflect101(r + k - half, H), 0);
            const float wk = kernel[k];
            for (std::size_t i = 0; i < row; ++i) dst[i] += wk * src[i];
        }
    }
    return out;
}

}  // namespace extreme3d::texture
