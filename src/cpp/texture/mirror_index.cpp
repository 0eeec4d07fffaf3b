// Column-grid nearest-neighbour search (see mirror_index.hpp).
#include "texture/mirror_index.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace extreme3d::texture {

MirrorIndex::MirrorIndex(const MatrixX3d& points, double max_dist)
    : max_dist_(max_dist), col_(max_dist / 2.0), cell_(max_dist / 2.0) {
    if (!(max_dist > 0)) throw std::invalid_argument("MirrorIndex: max_dist must be > 0");
    const long n = long(points.rows());
    if (n == 0) return;
    const Eigen::Vector3d lo = points.colwise().minCoeff().transpose();
    const Eigen::Vector3d hi = points.colwise().maxCoeff().transpose();
    // Bounded tables whatever max_dist is (a tiny max_dist over a wide point set would ask for
    // enormous grids): cells and columns only ever grow, which keeps searches exact. At most
    // 2^24 occupancy bytes and 2^18 columns (64 bytes each: 16 MB); a face needs ~2.5 10^4.
    const Eigen::Vector3d ext = hi - lo;
    while (std::isfinite(cell_) &&
           (ext.x() / cell_ + 7) * (ext.y() / cell_ + 7) * (ext.z() / cell_ + 7) > double(1 << 24))
        cell_ *= 2;
    while (std::isfinite(col_) && (ext.x() / col_ + 1) * (ext.y() / col_ + 1) > double(1 << 18)) col_ *= 2;
    if (!std::isfinite(cell_) || !std::isfinite(col_) || !ext.allFinite())
        throw std::invalid_argument("MirrorIndex: points and max_dist must be finite");

    // Occupancy grid with a margin: occupied cells, then each one's 5x5x5 neighbourhood
    // (a point within max_dist = 2 cells of a query lies within 2 cells of it in every axis).
    // (A 3-cell margin: with 2, rounding of lo - 2 cells could put the lowest point in cell 1,
    // outside the dilation loop below.)
    grid0_ = lo - Eigen::Vector3d::Constant(3 * cell_);
    nx_ = long(std::floor((hi.x() - grid0_.x()) / cell_)) + 4;
    ny_ = long(std::floor((hi.y() - grid0_.y()) / cell_)) + 4;
    nz_ = long(std::floor((hi.z() - grid0_.z()) / cell_)) + 4;
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

    // Columns: counting sort of the points by column, each column sorted by (z, index).
    cx0_ = lo.x();
    cy0_ = lo.y();
    ncx_ = long(std::floor(ext.x() / col_)) + 1;
    ncy_ = long(std::floor(ext.y() / col_)) + 1;
    cols_.assign(std::size_t(ncx_ * ncy_), Column{});
    std::vector<long> col_of(n);
    std::vector<long> start(cols_.size() + 1, 0);
    for (long i = 0; i < n; ++i) {
        const long a = std::min(ncx_ - 1, long((points(i, 0) - cx0_) / col_));
        const long b = std::min(ncy_ - 1, long((points(i, 1) - cy0_) / col_));
        col_of[i] = a * ncy_ + b;
        ++start[std::size_t(col_of[i]) + 1];
    }
    std::partial_sum(start.begin(), start.end(), start.begin());
    std::vector<long> fill(start.begin(), start.end() - 1);
    pts_.resize(std::size_t(n));
    for (long i = 0; i < n; ++i)
        pts_[std::size_t(fill[std::size_t(col_of[i])]++)] = Point{points(i, 0), points(i, 1), points(i, 2), i};
    position_.resize(std::size_t(n));
    for (std::size_t k = 0; k < cols_.size(); ++k) {
        Column& col = cols_[k];
        col.begin = start[k];
        col.end = start[k + 1];
        if (col.begin == col.end) continue;
        const auto first = pts_.begin() + col.begin, last = pts_.begin() + col.end;
        std::sort(first, last, [](const Point& p, const Point& q) {
            return p.z < q.z || (p.z == q.z && p.index < q.index);
        });
        col.x0 = col.x1 = first->x;
        col.y0 = col.y1 = first->y;
        col.z0 = first->z;
        col.z1 = (last - 1)->z;
        for (auto p = first; p != last; ++p) {
            col.x0 = std::min(col.x0, p->x), col.x1 = std::max(col.x1, p->x);
            col.y0 = std::min(col.y0, p->y), col.y1 = std::max(col.y1, p->y);
            position_[std::size_t(p->index)] = long(p - pts_.begin());
        }
    }
}

bool MirrorIndex::reachable(double x, double y, double z) const {
    const double fa = std::floor((x - grid0_.x()) / cell_), fb = std::floor((y - grid0_.y()) / cell_);
    const double fc = std::floor((z - grid0_.z()) / cell_);
    if (!(fa >= 0 && fa < nx_ && fb >= 0 && fb < ny_ && fc >= 0 && fc < nz_)) return false;
    return reach_[std::size_t((long(fa) * ny_ + long(fb)) * nz_ + long(fc))] != 0;
}

void MirrorIndex::scan(const Column& col, double gxy, double x, double y, double z, double& best,
                       long& best_i) const {
    // Points by increasing z: skip those below the band, stop past it. The band's margin keeps
    // every point whose rounded distance could still equal `best` (a tie won by a lower index):
    // a skipped point has c^2 > (best - gxy) + (1e-7)^2 best, beyond the sum's rounding.
    long k = col.begin;
    if (col.end - col.begin > 8) {
        const double low = z - (std::sqrt(best - gxy) * (1 + 1e-9) + 1e-7 * std::sqrt(best) + 1e-9);
        k = long(std::partition_point(pts_.begin() + col.begin, pts_.begin() + col.end,
                                      [low](const Point& p) { return p.z < low; }) -
                 pts_.begin());
    }
    for (; k < col.end; ++k) {
        const Point& p = pts_[std::size_t(k)];
        const double c = p.z - z;
        if (c > 0 && gxy + c * c > best) break;
        const double a = p.x - x, b = p.y - y;
        const double d2 = a * a + b * b + c * c;
        if (d2 < best || (d2 == best && best_i >= 0 && p.index < best_i)) best = d2, best_i = p.index;
    }
}

long MirrorIndex::nearest(double x, double y, double z, long hint) const {
    if (pts_.empty() || !reachable(x, y, z)) return -1;
    double best = max_dist_ * max_dist_;  // strict bound: a hit needs d2 < best
    long best_i = -1;
    if (hint >= 0 && hint < long(pts_.size())) {
        const Point& p = pts_[std::size_t(position_[std::size_t(hint)])];
        const double a = p.x - x, b = p.y - y, c = p.z - z;
        const double d2 = a * a + b * b + c * c;
        if (d2 < best) best = d2, best_i = hint;
    }
    // Columns ring by ring around the query's own (Chebyshev rings of column indices); a column
    // of ring k lies at least (k - 1) widths away in x or y.
    const double fa = std::floor((x - cx0_) / col_), fb = std::floor((y - cy0_) / col_);
    const double reach = max_dist_ / col_ + 2;
    if (fa < -reach || fb < -reach || fa > double(ncx_) + reach || fb > double(ncy_) + reach) return -1;
    const long ha = long(fa), hb = long(fb);
    const long kmax = long(std::ceil(reach));
    // A column is scanned unless its box lies beyond the best distance: lower bounds of the
    // squared distance to any of its points, in x and y, then in z (rounding is monotone, so a
    // bound above `best` never hides a closer or tying point).
    auto visit = [&](long a, long b) {
        if (a < 0 || b < 0 || a >= ncx_ || b >= ncy_) return;
        const Column& col = cols_[std::size_t(a * ncy_ + b)];
        if (col.begin == col.end) return;
        const double gx = std::max(0.0, std::max(col.x0 - x, x - col.x1));
        const double gy = std::max(0.0, std::max(col.y0 - y, y - col.y1));
        const double gxy = gx * gx + gy * gy;
        if (gxy > best) return;
        const double gz = std::max(0.0, std::max(col.z0 - z, z - col.z1));
        if (gxy + gz * gz > best) return;
        scan(col, gxy, x, y, z, best, best_i);
    };
    visit(ha, hb);
    for (long k = 1; k <= kmax; ++k) {
        const double gap = double(k - 1) * col_ * (1 - 1e-9);
        if (gap * gap > best) break;
        for (long d = -k; d <= k; ++d) {  // the ring's top and bottom rows, then its sides
            visit(ha + d, hb - k);
            visit(ha + d, hb + k);
        }
        for (long d = -k + 1; d <= k - 1; ++d) {
            visit(ha - k, hb + d);
            visit(ha + k, hb + d);
        }
    }
    return best_i;
}

long MirrorIndex::Search::nearest(double x, double y, double z) {
    const long found = index_.nearest(x, y, z, last_);
    if (found >= 0) last_ = found;
    return found;
}

std::vector<long> MirrorIndex::mirror_nearest(const MatrixX3d& queries) const {
    std::vector<long> out(std::size_t(queries.rows()), -1);
    Search search(*this);
    for (Eigen::Index q = 0; q < queries.rows(); ++q)
        out[q] = search.nearest(-queries(q, 0), queries(q, 1), queries(q, 2));
    return out;
}

}  // namespace extreme3d::texture
