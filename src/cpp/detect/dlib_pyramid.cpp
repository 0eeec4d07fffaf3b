#include "detect/dlib_pyramid.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define EXTREME3D_DETECT_AVX2 1
#endif

#include "texture/parallel.hpp"

namespace extreme3d::detect {

namespace {

/// One resize step of the pyramid: sizes, and per output column / row where dlib's bilinear
/// resize samples its source. Columns [0, block_end) are dlib's 4-column float blocks, expanded
/// to one entry per channel (byte offset of the left neighbour; the right one is 3 bytes on);
/// later columns are its double tail.
struct Step {
    long in_rows = 0, in_cols = 0, out_rows = 0, out_cols = 0;
    double x_scale = 0, y_scale = 0;
    long block_end = 0;                       // first output column of the double tail
    std::vector<std::int32_t> left;           // per expanded entry: byte offset of the left sample
    std::vector<float> frac, inv_frac;        // per expanded entry: float x weights
    std::vector<long> top, bottom;            // per output row: source rows
    std::vector<double> tb;                   // per output row: y fraction (double)
};

/// The step resizing in_rows x in_cols to out_rows x out_cols, positions accumulated exactly as
/// dlib does (x in float lanes of 4 blocks of 4x_scale, y in double steps of y_scale).
Step make_step(long in_rows, long in_cols, long out_rows, long out_cols) {
    Step s;
    s.in_rows = in_rows;
    s.in_cols = in_cols;
    s.out_rows = out_rows;
    s.out_cols = out_cols;
    if (out_rows == 0 || out_cols == 0 || in_rows == 0 || in_cols == 0) return s;
    s.x_scale = double(in_cols - 1) / double(std::max<long>(out_cols - 1, 1));
    s.y_scale = double(in_rows - 1) / double(std::max<long>(out_rows - 1, 1));
    const double x = -4 * s.x_scale;
    float lane[4] = {float(x), float(x + s.x_scale), float(x + 2 * s.x_scale), float(x + 3 * s.x_scale)};
    const float step = float(4 * s.x_scale);
    long c = 0;
    for (;; c += 4) {
        std::int32_t l[4];
        float f[4];
        for (int j = 0; j < 4; ++j) {
            lane[j] += step;
            l[j] = std::int32_t(lane[j]);  // truncation, as _mm_cvttps_epi32
            f[j] = lane[j] - float(l[j]);
        }
        if (l[3] + 1 >= in_cols) break;
        for (int j = 0; j < 4 && c + j < out_cols; ++j)
            for (int k = 0; k < 3; ++k) {
                s.left.push_back(3 * l[j] + k);
                s.frac.push_back(f[j]);
                s.inv_frac.push_back(1.0f - f[j]);
            }
    }
    s.block_end = c;
    double y = -s.y_scale;
    for (long r = 0; r < out_rows; ++r) {
        y += s.y_scale;
        const long top = static_cast<long>(std::floor(y));
        s.top.push_back(top);
        s.bottom.push_back(std::min(top + 1, in_rows - 1));
        s.tb.push_back(y - top);
    }
    return s;
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

/// A source row gathered for a step: per expanded entry the 4 bytes at its left sample (byte 0:
/// the left sample, byte 3: the right neighbour's same channel).
void gather_row(const Step& s, const std::uint8_t* row, std::uint32_t* out) {
    const std::int32_t* __restrict left = s.left.data();
    const std::size_t n = s.left.size();
    for (std::size_t i = 0; i < n; ++i) std::memcpy(out + i, row + left[i], 4);
}

#ifdef EXTREME3D_DETECT_AVX2
/// Eight expanded entries from i of a row as 8 int16, from the gathered top and bottom rows.
__attribute__((target("avx2"))) inline __m128i blend_eight(const std::uint32_t* T, const std::uint32_t* B,
                                                           const Step& s, __m256 vinv_tb, __m256 vtb, long i) {
    const __m256i low = _mm256_set1_epi32(0xFF);
    const __m256i wt = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(T + i));
    const __m256i wb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(B + i));
    const __m256 tl = _mm256_cvtepi32_ps(_mm256_and_si256(wt, low));
    const __m256 tr = _mm256_cvtepi32_ps(_mm256_srli_epi32(wt, 24));
    const __m256 bl = _mm256_cvtepi32_ps(_mm256_and_si256(wb, low));
    const __m256 br = _mm256_cvtepi32_ps(_mm256_srli_epi32(wb, 24));
    const __m256 f = _mm256_loadu_ps(s.frac.data() + i), inv_f = _mm256_loadu_ps(s.inv_frac.data() + i);
    const __m256 tlf = _mm256_mul_ps(vinv_tb, inv_f), trf = _mm256_mul_ps(vinv_tb, f);
    const __m256 blf = _mm256_mul_ps(vtb, inv_f), brf = _mm256_mul_ps(vtb, f);
    __m256 v = _mm256_add_ps(_mm256_mul_ps(tlf, tl), _mm256_mul_ps(trf, tr));
    v = _mm256_add_ps(v, _mm256_mul_ps(blf, bl));
    v = _mm256_add_ps(v, _mm256_mul_ps(brf, br));
    const __m256i r = _mm256_cvttps_epi32(v);
    return _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}

/// Expanded entries [0, n) of an output row (AVX2, 16 at a time; returns how many were done).
__attribute__((target("avx2"))) long blend_row_avx2(const std::uint32_t* T, const std::uint32_t* B, const Step& s,
                                                    float inv_tb, float tb, std::uint8_t* out, long n) {
    const __m256 vinv_tb = _mm256_set1_ps(inv_tb), vtb = _mm256_set1_ps(tb);
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m128i a = blend_eight(T, B, s, vinv_tb, vtb, i);
        const __m128i b = blend_eight(T, B, s, vinv_tb, vtb, i + 8);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm_packus_epi16(a, b));
    }
    return i;
}

/// Whether this CPU runs the AVX2 row blend.
bool has_avx2() {
    static const bool yes = __builtin_cpu_supports("avx2");
    return yes;
}
#endif

/// Output row r of step `s` from its source rows T (top) and B (bottom), plain and gathered
/// (gather_row), written to `out`.
void resize_row(const Step& s, long r, const std::uint8_t* T, const std::uint8_t* B, const std::uint32_t* gT,
                const std::uint32_t* gB, std::uint8_t* out, bool vector) {
    const double tb_frac = s.tb[r];
    const float tb = float(tb_frac), inv_tb = float(1 - tb_frac);
    const long n = long(s.left.size());
    long i = 0;
#ifdef EXTREME3D_DETECT_AVX2
    if (vector) i = blend_row_avx2(gT, gB, s, inv_tb, tb, out, n);
#endif
    for (; i < n; ++i)
        out[i] = blend(inv_tb, tb, s.inv_frac[i], s.frac[i], std::uint8_t(gT[i] & 0xFF), std::uint8_t(gT[i] >> 24),
                       std::uint8_t(gB[i] & 0xFF), std::uint8_t(gB[i] >> 24));
    double x = -s.x_scale + double(s.block_end) * s.x_scale;
    for (long c = s.block_end; c < s.out_cols; ++c) {
        x += s.x_scale;
        // (dlib does not clamp left: x never passes the last column by more than rounding)
        const long left = std::min(static_cast<long>(std::floor(x)), s.in_cols - 1);
        const long right = std::min(left + 1, s.in_cols - 1);
        const double lr = x - left;
        for (int k = 0; k < 3; ++k) {
            const double tl = T[3 * left + k], tr = T[3 * right + k];
            const double bl = B[3 * left + k], br = B[3 * right + k];
            const double v = (1 - tb_frac) * ((1 - lr) * tl + lr * tr) + tb_frac * ((1 - lr) * bl + lr * br);
            out[3 * c + k] = static_cast<std::uint8_t>(v);
        }
    }
}

/// A few recent rows of one kind (keyed by row index; the least index is replaced).
template <typename T>
struct RowSlots {
    static constexpr int kSlots = 3;
    std::vector<T> data;
    long width = 0;
    long row[kSlots] = {-1, -1, -1};

    /// Pointer to row r if held, else nullptr and `victim` set to the slot to fill.
    T* find(long r, int& victim) {
        victim = 0;
        for (int k = 0; k < kSlots; ++k) {
            if (row[k] == r) return data.data() + k * width;
            if (row[k] < row[victim]) victim = k;
        }
        return nullptr;
    }
};

/// One thread's rows of the intermediate levels: per step a few recent output rows and a few
/// recent input rows gathered for it, computed on demand (requests come in increasing row
/// order, so a row just fetched is never replaced before its neighbour below is fetched).
class RowStream {
public:
    RowStream(const std::vector<Step>& steps, const std::uint8_t* image, bool vector)
        : steps_(steps), image_(image), vector_(vector), out_(steps.size()), in_(steps.size()) {
        for (std::size_t j = 0; j < steps.size(); ++j) {
            out_[j].width = 3 * steps[j].out_cols;
            out_[j].data.resize(std::size_t(RowSlots<std::uint8_t>::kSlots * out_[j].width));
            in_[j].width = long(steps[j].left.size());
            in_[j].data.resize(std::size_t(RowSlots<std::uint32_t>::kSlots * in_[j].width));
        }
    }

    /// Row r of the input of step j (the image for j = 0).
    const std::uint8_t* input(long j, long r) {
        return j == 0 ? image_ + r * 3 * steps_[0].in_cols : output(j - 1, r);
    }

    /// Row r of the input of step j, gathered for step j.
    const std::uint32_t* gathered(long j, long r) {
        RowSlots<std::uint32_t>& sl = in_[std::size_t(j)];
        int victim = 0;
        if (const std::uint32_t* hit = sl.find(r, victim)) return hit;
        std::uint32_t* out = sl.data.data() + victim * sl.width;
        gather_row(steps_[std::size_t(j)], input(j, r), out);
        sl.row[victim] = r;
        return out;
    }

    /// Row r of the output of step j, written to `dest` when given (else kept in the stream).
    const std::uint8_t* output(long j, long r, std::uint8_t* dest = nullptr) {
        RowSlots<std::uint8_t>& sl = out_[std::size_t(j)];
        int victim = 0;
        if (!dest)
            if (const std::uint8_t* hit = sl.find(r, victim)) return hit;
        const Step& s = steps_[std::size_t(j)];
        const long top = s.top[std::size_t(r)], bottom = s.bottom[std::size_t(r)];
        const std::uint32_t* gT = gathered(j, top);
        const std::uint32_t* gB = gathered(j, bottom);
        const std::uint8_t* T = input(j, top);
        const std::uint8_t* B = input(j, bottom);
        std::uint8_t* out = dest ? dest : sl.data.data() + victim * sl.width;
        resize_row(s, r, T, B, gT, gB, out, vector_);
        if (!dest) sl.row[victim] = r;
        return out;
    }

private:
    const std::vector<Step>& steps_;
    const std::uint8_t* image_;
    bool vector_;
    std::vector<RowSlots<std::uint8_t>> out_;
    std::vector<RowSlots<std::uint32_t>> in_;
};

/// The resize steps from a rows x cols image to level `level` after `upsample` upsamplings.
std::vector<Step> steps_of(long rows, long cols, int upsample, int level) {
    std::vector<Step> steps;
    for (int u = 0; u < upsample; ++u) {
        long r2 = 0, c2 = 0;
        upsampled_size(rows, cols, r2, c2);
        steps.push_back(make_step(rows, cols, r2, c2));
        rows = r2;
        cols = c2;
    }
    for (int k = 0; k < level; ++k) {
        steps.push_back(make_step(rows, cols, level_down_size(rows), level_down_size(cols)));
        rows = steps.back().out_rows;
        cols = steps.back().out_cols;
    }
    return steps;
}

}  // namespace

void upsampled_size(long rows, long cols, long& out_rows, long& out_cols) {
    // pyramid_down<2>::rect_up of the image rectangle (0, 0, cols-1, rows-1), each corner
    // (p + (1.25, 0.75)) * 2 rounded by lround; the output spans 0..right x 0..bottom.
    if (rows <= 0 || cols <= 0) {
        out_rows = out_cols = 0;
        return;
    }
    out_cols = std::lround((double(cols - 1) + 1.25) * 2) + 1;
    out_rows = std::lround((double(rows - 1) + 0.75) * 2) + 1;
}

long level_down_size(long n) { return (5 * n) / 6; }

void detector_level_size(long rows, long cols, int upsample, int level, long& out_rows, long& out_cols) {
    for (int u = 0; u < upsample; ++u) upsampled_size(rows, cols, rows, cols);
    for (int k = 0; k < level; ++k) {
        const bool empty = rows <= 0 || cols <= 0;  // an empty image reaches dlib as 0 x 0
        rows = empty ? 0 : level_down_size(rows);
        cols = empty ? 0 : level_down_size(cols);
    }
    out_rows = rows;
    out_cols = cols;
}

void detector_level(const std::uint8_t* image, long rows, long cols, int upsample, int level, std::uint8_t* out,
                    bool vector) {
#ifdef EXTREME3D_DETECT_AVX2
    vector = vector && has_avx2();
#endif
    const std::vector<Step> steps = steps_of(rows, cols, upsample, level);
    if (steps.empty()) {
        std::copy(image, image + 3 * rows * cols, out);
        return;
    }
    const Step& last = steps.back();
    if (last.out_rows == 0 || last.out_cols == 0) return;
    for (const Step& s : steps)
        if (s.in_rows == 0 || s.in_cols == 0 || s.out_rows == 0 || s.out_cols == 0) {
            std::fill(out, out + 3 * last.out_rows * last.out_cols, std::uint8_t(0));
            return;
        }
    const long j = long(steps.size()) - 1;
    texture::parallel_chunks(last.out_rows, 32, [&](long r0, long r1) {
        RowStream stream(steps, image, vector);
        for (long r = r0; r < r1; ++r) stream.output(j, r, out + r * 3 * last.out_cols);
    });
}

}  // namespace extreme3d::detect
