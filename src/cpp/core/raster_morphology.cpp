// Binary morphology (4-neighbour cross) and exact Euclidean distance transform.
#include "core/raster_morphology.hpp"

#include <cmath>
#include <cstdint>
#include <limits>

namespace extreme3d::core {

namespace {

/// One cross dilation (grow = true) or erosion (grow = false) step; beyond the raster is 0.
RowMatrixXu8 cross_step(const RowMatrixXu8& m, bool grow) {
    const Eigen::Index h = m.rows(), w = m.cols();
    RowMatrixXu8 out(h, w);
    for (Eigen::Index r = 0; r < h; ++r)
        for (Eigen::Index c = 0; c < w; ++c) {
            const bool up = r > 0 && m(r - 1, c), down = r + 1 < h && m(r + 1, c);
            const bool left = c > 0 && m(r, c - 1), right = c + 1 < w && m(r, c + 1);
            const bool self = m(r, c) != 0;
            out(r, c) = grow ? (self || up || down || left || right) : (self && up && down && left && right);
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
    const Eigen::Index h = mask.rows(), w = mask.cols();
    RowMatrixXd d(h, w);
    for (Eigen::Index i = 0; i < mask.size(); ++i)
        d.data()[i] = mask.data()[i] ? std::numeric_limits<double>::infinity() : 0.0;
    std::vector<double> g, bound;
    std::vector<Eigen::Index> site;
    for (Eigen::Index c = 0; c < w; ++c) squared_distance_1d(d.data() + c, h, w, g, site, bound);
    for (Eigen::Index r = 0; r < h; ++r) squared_distance_1d(d.data() + r * w, w, 1, g, site, bound);
    return d.cwiseSqrt();
}

}  // namespace extreme3d::core
