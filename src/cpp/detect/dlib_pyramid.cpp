#include "detect/dlib_pyramid.hpp"

#include <algorithm>
#include <cmath>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "texture/parallel.hpp"

namespace extreme3d::detect {

namespace {

/// Per output column of a resize: source columns and float weights of dlib's 4-column blocks
/// (columns from `simd_end` on use the double tail).
struct ColumnTable {
    std::vector<std::int32_t> left, right;
    std::vector<float> frac, inv_frac;
    long simd_end = 0;
};

/// The column table of a resize from in_cols to out_cols (x in source pixels, float lanes
/// accumulated block by block exactly as dlib's simd4f loop).
ColumnTable column_table(long in_cols, long out_cols, double x_scale) {
    ColumnTable t;
    const double x = -4 * x_scale;
    float lane[4] = {float(x), float(x + x_scale), float(x + 2 * x_scale), float(x + 3 * x_scale)};
    const float step = float(4 * x_scale);
    long c = 0;
    for (;; c += 4) {
        std::int32_t l[4], r[4];
        float f[4], inv[4];
        for (int j = 0; j < 4; ++j) {
            lane[j] += step;
            l[j] = std::int32_t(lane[j]);  // truncation, as _mm_cvttps_epi32
            f[j] = lane[j] - float(l[j]);
            inv[j] = 1.0f - f[j];
            r[j] = l[j] + 1;
        }
        if (r[3] >= in_cols) break;
        for (int j = 0; j < 4; ++j) {
            t.left.push_back(l[j]);
            t.right.push_back(r[j]);
            t.frac.push_back(f[j]);
            t.inv_frac.push_back(inv[j]);
        }
    }
    t.simd_end = c;
    return t;
}

/// Source pixel offsets of the expanded columns (3 channels per output column): the left and
/// right neighbours of the block columns, in bytes from the row start.
struct ExpandedColumns {
    std::vector<std::int32_t> left, right;
    std::vector<float> frac, inv_frac;
};

/// The block columns of `t` expanded to one entry per channel.
ExpandedColumns expand(const ColumnTable& t, long out_cols) {
    ExpandedColumns e;
    const long n = std::min(t.simd_end, out_cols);
    for (long c = 0; c < n; ++c)
        for (int k = 0; k < 3; ++k) {
            e.left.push_back(3 * t.left[c] + k);
            e.right.push_back(3 * t.right[c] + k);
            e.frac.push_back(t.frac[c]);
            e.inv_frac.push_back(t.inv_frac[c]);
        }
    return e;
}

/// A source row gathered at the expanded columns: g_left[i] = row[left[i]], g_right likewise.
struct GatheredRow {
    long source = -1;
    std::vector<std::uint8_t> left, right;
};

/// Fills `g` with source row `r` of `in` gathered at the expanded columns (no-op if cached).
void gather(const Rgb8& in, const ExpandedColumns& e, long r, GatheredRow& g) {
    if (g.source == r) return;
    const std::uint8_t* row = in.data.data() + r * 3 * in.cols;
    const std::size_t n = e.left.size();
    g.left.resize(n);
    g.right.resize(n);
    const std::int32_t* __restrict li = e.left.data();
    const std::int32_t* __restrict ri = e.right.data();
    std::uint8_t* __restrict gl = g.left.data();
    std::uint8_t* __restrict gr = g.right.data();
    for (std::size_t i = 0; i < n; ++i) {
        gl[i] = row[li[i]];
        gr[i] = row[ri[i]];
    }
    g.source = r;
}

/// One output value of dlib's float block arithmetic (weights, then the 4-term sum, truncated).
inline std::uint8_t blend(float inv_tb, float tb, float inv_f, float f, std::uint8_t tl, std::uint8_t tr,
                          std::uint8_t bl, std::uint8_t br) {
    const float tlf = inv_tb * inv_f, trf = inv_tb * f, blf = tb * inv_f, brf = tb * f;
    float v = tlf * float(tl) + trf * float(tr);
    v = v + blf * float(bl);
    v = v + brf * float(br);
    return static_cast<std::uint8_t>(static_cast<std::int32_t>(v));
}

/// Expanded entries [0, n) of an output row from the gathered top and bottom rows.
void blend_row(const GatheredRow& T, const GatheredRow& B, const ExpandedColumns& e, float inv_tb, float tb,
               std::uint8_t* out, long n) {
    long i = 0;
#if defined(__SSE2__)
    const __m128 vinv_tb = _mm_set1_ps(inv_tb), vtb = _mm_set1_ps(tb);
    const __m128i zero = _mm_setzero_si128();
    for (; i + 16 <= n; i += 16) {
        const __m128i tl8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(T.left.data() + i));
        const __m128i tr8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(T.right.data() + i));
        const __m128i bl8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(B.left.data() + i));
        const __m128i br8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(B.right.data() + i));
        __m128i res[4];
        for (int q = 0; q < 4; ++q) {
            // bytes 4q..4q+3 of each vector as 4 floats
            auto widen = [&](__m128i v8) {
                const __m128i v16 = q < 2 ? _mm_unpacklo_epi8(v8, zero) : _mm_unpackhi_epi8(v8, zero);
                const __m128i v32 = (q % 2 == 0) ? _mm_unpacklo_epi16(v16, zero) : _mm_unpackhi_epi16(v16, zero);
                return _mm_cvtepi32_ps(v32);
            };
            const __m128 f = _mm_loadu_ps(e.frac.data() + i + 4 * q);
            const __m128 inv_f = _mm_loadu_ps(e.inv_frac.data() + i + 4 * q);
            const __m128 tlf = _mm_mul_ps(vinv_tb, inv_f), trf = _mm_mul_ps(vinv_tb, f);
            const __m128 blf = _mm_mul_ps(vtb, inv_f), brf = _mm_mul_ps(vtb, f);
            __m128 v = _mm_add_ps(_mm_mul_ps(tlf, widen(tl8)), _mm_mul_ps(trf, widen(tr8)));
            v = _mm_add_ps(v, _mm_mul_ps(blf, widen(bl8)));
            v = _mm_add_ps(v, _mm_mul_ps(brf, widen(br8)));
            res[q] = _mm_cvttps_epi32(v);
        }
        const __m128i lo = _mm_packs_epi32(res[0], res[1]), hi = _mm_packs_epi32(res[2], res[3]);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm_packus_epi16(lo, hi));
    }
#endif
    for (; i < n; ++i)
        out[i] = blend(inv_tb, tb, e.inv_frac[i], e.frac[i], T.left[i], T.right[i], B.left[i], B.right[i]);
}

/// Output rows [r0, r1) of the resize (y accumulated from row 0 as dlib does).
void resize_rows(const Rgb8& in, Rgb8& out, const ColumnTable& t, const ExpandedColumns& e, double x_scale,
                 double y_scale, long r0, long r1) {
    double y = -y_scale;
    for (long r = 0; r < r0; ++r) y += y_scale;
    const long nc = in.cols, stride = 3 * in.cols;
    const long n_block = long(e.left.size());
    GatheredRow g[2];
    for (long r = r0; r < r1; ++r) {
        y += y_scale;
        const long top = static_cast<long>(std::floor(y));
        const long bottom = std::min(top + 1, in.rows - 1);
        const double tb_frac = y - top;
        // reuse a gathered row of the previous output row when it is this row's top or bottom
        GatheredRow* gt = g[0].source == top ? &g[0] : g[1].source == top ? &g[1] : nullptr;
        if (!gt) {
            gt = g[0].source == bottom ? &g[1] : &g[0];
            gather(in, e, top, *gt);
        }
        GatheredRow* gb = g[0].source == bottom ? &g[0] : g[1].source == bottom ? &g[1] : nullptr;
        if (!gb) {
            gb = gt == &g[0] ? &g[1] : &g[0];
            gather(in, e, bottom, *gb);
        }
        std::uint8_t* o = out.data.data() + r * 3 * out.cols;
        blend_row(*gt, *gb, e, float(1 - tb_frac), float(tb_frac), o, n_block);
        const std::uint8_t* T = in.data.data() + top * stride;
        const std::uint8_t* B = in.data.data() + bottom * stride;
        double x = -x_scale + double(t.simd_end) * x_scale;
        for (long c = t.simd_end; c < out.cols; ++c) {
            x += x_scale;
            const long left = static_cast<long>(std::floor(x));
            const long right = std::min(left + 1, nc - 1);
            const double lr = x - left;
            for (int k = 0; k < 3; ++k) {
                const double tl = T[3 * left + k], tr = T[3 * right + k];
                const double bl = B[3 * left + k], br = B[3 * right + k];
                const double v = (1 - tb_frac) * ((1 - lr) * tl + lr * tr) + tb_frac * ((1 - lr) * bl + lr * br);
                o[3 * c + k] = static_cast<std::uint8_t>(v);
            }
        }
    }
}

}  // namespace

void upsampled_size(long rows, long cols, long& out_rows, long& out_cols) {
    // pyramid_down<2>::rect_up of the image rectangle (0, 0, cols-1, rows-1), rounded by lround;
    // the output spans 0..right x 0..bottom.
    const double right = (double(cols - 1) + 1.25) * 2, bottom = (double(rows - 1) + 0.75) * 2;
    const double left = (0 + 1.25) * 2, top = (0 + 0.75) * 2;
    const long r = std::lround(right), b = std::lround(bottom);
    if (std::lround(left) > r || std::lround(top) > b) {
        out_rows = out_cols = 0;
        return;
    }
    out_rows = b + 1;
    out_cols = r + 1;
}

long level_down_size(long n) { return (5 * n) / 6; }

Rgb8 resize_bilinear(const Rgb8& in, long out_rows, long out_cols) {
    Rgb8 out;
    out.rows = out_rows;
    out.cols = out_cols;
    out.data.assign(std::size_t(3 * out_rows * out_cols), 0);
    if (out_rows == 0 || out_cols == 0 || in.rows == 0 || in.cols == 0) return out;
    const double x_scale = double(in.cols - 1) / double(std::max<long>(out_cols - 1, 1));
    const double y_scale = double(in.rows - 1) / double(std::max<long>(out_rows - 1, 1));
    const ColumnTable t = column_table(in.cols, out_cols, x_scale);
    const ExpandedColumns e = expand(t, out_cols);
    texture::parallel_chunks(out_rows, 64,
                             [&](long r0, long r1) { resize_rows(in, out, t, e, x_scale, y_scale, r0, r1); });
    return out;
}

Rgb8 detector_level(const Rgb8& image, int upsample, int level) {
    Rgb8 cur = image;
    for (int u = 0; u < upsample; ++u) {
        long rows = 0, cols = 0;
        upsampled_size(cur.rows, cur.cols, rows, cols);
        cur = resize_bilinear(cur, rows, cols);
    }
    for (int k = 0; k < level; ++k) cur = resize_bilinear(cur, level_down_size(cur.rows), level_down_size(cur.cols));
    return cur;
}

}  // namespace extreme3d::detect
