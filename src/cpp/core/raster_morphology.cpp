// Binary morphology (4-neighbour cross) and exact Euclidean distance transform.
#include "core/raster_morphology.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace extreme3d::core {

namespace {

/// One cross dilation (grow = true) or erosion (grow = false) step; beyond the raster is 0. Row by
/// row with the rows above and below (a zero row beyond the raster); the inner columns branch-free.
RowMatrixXu8 cross_step(const RowMatrixXu8& m, bool grow) {
    const Eigen::Index h = m.rows(), w = m.cols();
    RowMatrixXu8 out(h, w);
    const std::vector<std::uint8_t> zero(static_cast<size_t>(w), 0);
    for (Eigen::Index r = 0; r < h; ++r) {
        const std::uint8_t* cur = m.data() + r * w;
        const std::uint8_t* up = r > 0 ? cur - w : zero.data();
        const std::uint8_t* down = r + 1 < h ? cur + w : zero.data();
        std::uint8_t* o = out.data() + r * w;
        auto at = [&](Eigen::Index c) {  // one cell, with the columns beyond the raster as 0
            const std::uint8_t left = c > 0 ? cur[c - 1] : 0, right = c + 1 < w ? cur[c + 1] : 0;
            return grow ? static_cast<std::uint8_t>(cur[c] | up[c] | down[c] | left | right)
                        : static_cast<std::uint8_t>(cur[c] & up[c] & down[c] & left & right);
        };
        o[0] = at(0);
        if (grow)
            for (Eigen::Index c = 1; c + 1 < w; ++c)
                o[c] = static_cast<std::uint8_t>(cur[c] | up[c] | down[c] | cur[c - 1] | cur[c + 1]);
        else
            for (Eigen::Index c = 1; c + 1 < w; ++c)
                o[c] = static_cast<std::uint8_t>(cur[c] & up[c] & down[c] & cur[c - 1] & cur[c + 1]);
        if (w > 1) o[w - 1] = at(w - 1);
    }
    return out;
}

/// Squared 1D distance transform of f (n samples, stride `step`, +inf = no site) in place: f(x) =
/// min_q (x - q)^2 + f(q), by the lower envelope of the parabolas of the finite sites.
void squared_distance_1d(double* f, Eigen::Index n, Eigen::Index step, std::vector<double>& g,
                         std::vector<Eigen::Index>& site, std::vector<double>& bound) {
    constexpr double inf = std::numeric_limits<double>::infinity();
    g.resize(static_cast<size_t>(n));
    site.resize(static_cast<size_t>(n));
    bound.resize(static_cast<size_t>(n) + 1);
    for (Eigen::Index i = 0; i < n; ++i) g[static_cast<size_t>(i)] = f[i * step];
    Eigen::Index k = -1;  // last parabola of the envelope
    for (Eigen::Index q = 0; q < n; ++q) {
        const double fq = g[static_cast<size_t>(q)];
        if (fq == inf) continue;
        double s = -inf;
        while (k >= 0) {
            const Eigen::Index v = site[static_cast<size_t>(k)];
            s = ((fq + double(q) * double(q)) - (g[static_cast<size_t>(v)] + double(v) * double(v))) / (2.0 * double(q - v));
            if (s > bound[static_cast<size_t>(k)]) break;
            --k;  // parabola v is hidden by q
        }
        ++k;
        site[static_cast<size_t>(k)] = q;
        bound[static_cast<size_t>(k)] = k == 0 ? -inf : s;
        bound[static_cast<size_t>(k) + 1] = inf;
    }
    if (k < 0) return;  // no site: f stays +inf
    Eigen::Index j = 0;
    for (Eigen::Index x = 0; x < n; ++x) {
        while (bound[static_cast<size_t>(j) + 1] < double(x)) ++j;
        const Eigen::Index v = site[static_cast<size_t>(j)];
        f[x * step] = double(x - v) * double(x - v) + g[static_cast<size_t>(v)];
    }
}

}  // namespace

RowMatrixXu8 dilate_cross(const RowMatrixXu8& mask, int iterations) {
    RowMatrixXu8 m = mask;
    for (int i = 0; i < iterations; ++i) m = cross_step(m, true);
    return m;
}

RowMatrixXu8 erode_cross(const RowMatrixXu8& mask, int iterations) {
    RowMatrixXu8 m = mask;
    for (int i = 0; i < iterations; ++i) m = cross_step(m, false);
    return m;
}

RowMatrixXd distance_transform(const RowMatrixXu8& mask) {
    constexpr double inf = std::numeric_limits<double>::infinity();
    const Eigen::Index h = mask.rows(), w = mask.cols();
    // only the bounding box of the 1 cells grown by one cell (a ring of 0 cells where the raster
    // goes on) needs the transform: a 0 cell beyond the ring is never nearer than its clamp onto
    // the ring (clamping to a box does not move a point farther)
    Eigen::Index r0 = h, r1 = -1, c0 = w, c1 = -1;
    for (Eigen::Index r = 0; r < h; ++r)
        for (Eigen::Index c = 0; c < w; ++c)
            if (mask(r, c)) {
                r0 = std::min(r0, r), r1 = std::max(r1, r);
                c0 = std::min(c0, c), c1 = std::max(c1, c);
            }
    RowMatrixXd d = RowMatrixXd::Zero(h, w);
    if (r1 < 0) return d;
    r0 = std::max<Eigen::Index>(r0 - 1, 0), c0 = std::max<Eigen::Index>(c0 - 1, 0);
    r1 = std::min(r1 + 1, h - 1), c1 = std::min(c1 + 1, w - 1);
    const Eigen::Index bh = r1 - r0 + 1, bw = c1 - c0 + 1;
    RowMatrixXd b(bh, bw);
    for (Eigen::Index r = 0; r < bh; ++r)
        for (Eigen::Index c = 0; c < bw; ++c) b(r, c) = mask(r0 + r, c0 + c) ? inf : 0.0;
    std::vector<double> g, bound;
    std::vector<Eigen::Index> site;
    for (Eigen::Index c = 0; c < bw; ++c) squared_distance_1d(b.data() + c, bh, bw, g, site, bound);
    for (Eigen::Index r = 0; r < bh; ++r) squared_distance_1d(b.data() + r * bw, bw, 1, g, site, bound);
    d.block(r0, c0, bh, bw) = b.cwiseSqrt();
    return d;
}

Region region_distance(Eigen::Index h, Eigen::Index w, const std::vector<int>& cells, int closing,
                       const RowMatrixXu8& within) {
    Region out;
    out.mask = RowMatrixXu8::Zero(h, w);
    for (const int c : cells) out.mask.data()[c] = 1;
    if (closing > 0) {
        out.mask = erode_cross(dilate_cross(out.mask, closing), closing);
        for (Eigen::Index i = 0; i < out.mask.size(); ++i) out.mask.data()[i] &= within.data()[i];
    }
    out.distance = distance_transform(out.mask);
    return out;
}

}  // namespace extreme3d::core
