// Slab-sorted nearest-neighbour search (see mirror_index.hpp).
#include "texture/mirror_index.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace extreme3d::texture {

MirrorIndex::MirrorIndex(const MatrixX3d& points, double max_dist)
    : pts_(points), max_dist_(max_dist), slab_(max_dist / 8.0), cell_(max_dist / 2.0) {
    if (!(max_dist > 0)) throw std::invalid_argument("MirrorIndex: max_dist must be > 0");
    const long n = long(points.rows());
    if (n == 0) {
        start_.assign(2, 0);
        return;
    }
    // Occupancy grid with a 2-cell margin: occupied cells, then each one's 5x5x5 neighbourhood
    // (a point within max_dist = 2 cells of a query lies within 2 cells of it in every axis).
    const Eigen::Vector3d lo = points.colwise().minCoeff().transpose();
    const Eigen::Vector3d hi = points.colwise().maxCoeff().transpose();
    // Bounded index whatever max_dist is (a tiny max_dist over a wide point set would ask for an
    // enormous grid and slab table): cells and slabs only ever grow, which keeps searches exact.
    const Eigen::Vector3d ext = hi - lo;
    while (std::isfinite(cell_) &&
           (ext.x() / cell_ + 5) * (ext.y() / cell_ + 5) * (ext.z() / cell_ + 5) > double(1 << 24))
        cell_ *= 2;
    while (std::isfinite(slab_) && ext.y() / slab_ > double(1 << 20)) slab_ *= 2;
    if (!std::isfinite(cell_) || !std::isfinite(slab_) || !ext.allFinite())
        throw std::invalid_argument("MirrorIndex: points and max_dist must be finite");
    grid0_ = lo - Eigen::Vector3d::Constant(2 * cell_);
    nx_ = long(std::floor((hi.x() - grid0_.x()) / cell_)) + 3;
    ny_ = long(std::floor((hi.y() - grid0_.y()) / cell_)) + 3;
    nz_ = long(std::floor((hi.z() - grid0_.z()) / cell_)) + 3;
    std::vector<std::uint8_t> occupied(std::size_t(nx_ * ny_ * nz_), 0);
    for (long i = 0; i < n; ++i) {
        const long a = long((points(i, 0) - grid0_.x()) / cell_);
        const long b = long((points(i, 1) - grid0_.y()) / cell_);
        const long c = long((points(i, 2) - grid0_.z()) / cell_);
        occupied[std::size_t((a * ny_ + b) * nz_ + c)] = 1;
    }
    reach_.assign(occupied.size(), 0);
    for (long a = 2; a < nx_ - 2; ++a)
        for (long b = 2; b < ny_ - 2; ++b)
            for (long c = 2; c < nz_ - 2; ++c) {
                if (!occupied[std::size_t((a * ny_ + b) * nz_ + c)]) continue;
                for (long da = -2; da <= 2; ++da)
                    for (long db = -2; db <= 2; ++db) {
                        std::uint8_t* row = &reach_[std::size_t(((a + da) * ny_ + b + db) * nz_ + c - 2)];
                        std::fill(row, row + 5, std::uint8_t(1));
                    }
            }
    y0_ = points.col(1).minCoeff();
    const double y1 = points.col(1).maxCoeff();
    const long slabs = long(std::floor((y1 - y0_) / slab_)) + 1;
    std::vector<long> slab_of(n);
    start_.assign(std::size_t(slabs) + 1, 0);
    for (long i = 0; i < n; ++i) {
        slab_of[i] = std::min(slabs - 1, long(std::floor((points(i, 1) - y0_) / slab_)));
        ++start_[slab_of[i] + 1];
    }
    std::partial_sum(start_.begin(), start_.end(), start_.begin());
    order_.resize(n);
    std::vector<long> fill(start_.begin(), start_.end() - 1);
    for (long i = 0; i < n; ++i) order_[fill[slab_of[i]]++] = i;
    for (long s = 0; s < slabs; ++s) {
        std::sort(order_.begin() + start_[s], order_.begin() + start_[s + 1],
                  [&](long a, long b) { return points(a, 0) < points(b, 0) || (points(a, 0) == points(b, 0) && a < b); });
    }
    xs_.resize(n);
    sorted_.resize(n);
    position_.resize(n);
    for (long k = 0; k < n; ++k) {
        xs_[k] = points(order_[k], 0);
        sorted_[k] = points.row(order_[k]).transpose();
        position_[order_[k]] = k;
    }
}

bool MirrorIndex::reachable(double x, double y, double z) const {
    const double fa = std::floor((x - grid0_.x()) / cell_), fb = std::floor((y - grid0_.y()) / cell_);
    const double fc = std::floor((z - grid0_.z()) / cell_);
    if (!(fa >= 0 && fa < nx_ && fb >= 0 && fb < ny_ && fc >= 0 && fc < nz_)) return false;
    return reach_[std::size_t((long(fa) * ny_ + long(fb)) * nz_ + long(fc))] != 0;
}

long MirrorIndex::nearest(double x, double y, double z, long hint) const {
    return search(x, y, z, hint, nullptr);
}

MirrorIndex::Search::Search(const MirrorIndex& index)
    : index_(index), cursor_(index.start_.size(), -1) {}

long MirrorIndex::Search::nearest(double x, double y, double z) {
    const long found = index_.search(x, y, z, last_, &cursor_);
    if (found >= 0) last_ = found;
    return found;
}

long MirrorIndex::search(double x, double y, double z, long hint, std::vector<long>* cursors) const {
    if (xs_.empty() || !reachable(x, y, z)) return -1;
    const double max_dist = max_dist_;
    double best = max_dist * max_dist;  // strict bound: a hit needs d2 < best
    long best_i = -1;
    if (hint >= 0 && hint < long(pts_.rows())) {
        const double a = pts_(hint, 0) - x, b = pts_(hint, 1) - y, c = pts_(hint, 2) - z;
        const double d2 = a * a + b * b + c * c;
        if (d2 < best) best = d2, best_i = hint;
    }
    const long slabs = long(start_.size()) - 1;
    const double fs = std::floor((y - y0_) / slab_);
    const long home = fs < 0 ? -1 : (fs >= double(slabs) ? slabs : long(fs));
    // First position k in [lo, hi) with xs_[k] >= x: galloping from the slab's cursor when
    // there is one (the previous query's position), else a binary search; updates the cursor.
    auto lower_bound_from = [&](long s, long lo, long hi) {
        long k;
        const long c = cursors ? (*cursors)[s] : -1;
        if (c >= lo && c <= hi) {
            long a, b;  // the answer lies in [a, b]
            if (c < hi && xs_[c] < x) {
                long step = 1;
                a = c + 1;
                while (c + step < hi && xs_[c + step] < x) a = c + step + 1, step *= 2;
                b = std::min(c + step, hi);
            } else {
                long step = 1;
                b = c;
                while (c - step >= lo && xs_[c - step] >= x) b = c - step, step *= 2;
                a = std::max(c - step + 1, lo);
                a = std::min(a, b);
            }
            k = long(std::lower_bound(xs_.begin() + a, xs_.begin() + b, x) - xs_.begin());
        } else {
            k = long(std::lower_bound(xs_.begin() + lo, xs_.begin() + hi, x) - xs_.begin());
        }
        if (cursors) (*cursors)[s] = k;
        return k;
    };
    // Scans one slab: points with (dx^2 + dy_min^2) < best, outwards from x.
    auto scan = [&](long s, double dy_min) {
        const long lo = start_[s], hi = start_[s + 1];
        const double dyy = dy_min * dy_min;
        if (lo == hi) return;
        const long mid = lower_bound_from(s, lo, hi);
        for (long k = mid; k < hi; ++k) {
            const double dx = xs_[k] - x;
            if (dx * dx + dyy >= best) break;
            const Eigen::Vector3d& p = sorted_[k];
            const double a = p.x() - x, b = p.y() - y, c = p.z() - z;
            const double d2 = a * a + b * b + c * c;
            const long i = order_[k];
            if (d2 < best || (d2 == best && best_i >= 0 && i < best_i)) best = d2, best_i = i;
        }
        for (long k = mid - 1; k >= lo; --k) {
            const double dx = x - xs_[k];
            if (dx * dx + dyy >= best) break;
            const Eigen::Vector3d& p = sorted_[k];
            const double a = p.x() - x, b = p.y() - y, c = p.z() - z;
            const double d2 = a * a + b * b + c * c;
            const long i = order_[k];
            if (d2 < best || (d2 == best && best_i >= 0 && i < best_i)) best = d2, best_i = i;
        }
    };
    // Slabs within max_dist of y, from the nearest outwards, while one can hold a closer point.
    const double lo_y = y - max_dist, hi_y = y + max_dist;
    if (hi_y < y0_ || lo_y > y0_ + double(slabs) * slab_) return -1;
    const long lo = std::clamp(long(std::floor((lo_y - y0_) / slab_)), 0L, slabs - 1);
    const long hi = std::clamp(long(std::floor((hi_y - y0_) / slab_)), 0L, slabs - 1);
    const long centre = std::clamp(home, lo, hi);
    auto gap = [&](long s) {  // distance in y from the query to slab s (0 inside)
        const double a = y0_ + double(s) * slab_, b = a + slab_;
        return std::max(0.0, std::max(a - y, y - b));
    };
    scan(centre, gap(centre));
    for (long step = 1; centre - step >= lo || centre + step <= hi; ++step) {
        bool open = false;
        for (const long s : {centre + step, centre - step}) {
            if (s < lo || s > hi) continue;
            const double dy = gap(s);
            if (dy * dy >= best) continue;
            open = true;
            scan(s, dy);
        }
        if (!open) break;
    }
    return best_i;
}

std::vector<long> MirrorIndex::mirror_nearest(const MatrixX3d& queries) const {
    std::vector<long> out(std::size_t(queries.rows()), -1);
    Search search(*this);
    for (Eigen::Index q = 0; q < queries.rows(); ++q)
        out[q] = search.nearest(-queries(q, 0), queries(q, 1), queries(q, 2));
    return out;
}

}  // namespace extreme3d::texture
