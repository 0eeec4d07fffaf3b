// Incremental Delaunay triangulation (Bowyer-Watson) with a vertex at infinity: the hull edges carry
// "ghost" triangles (a, b, inf) so that points outside the current hull are inserted like any other.
#include "core/delaunay.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <utility>

namespace extreme3d::core {

namespace {

using Coord = std::int64_t;
#if defined(__SIZEOF_INT128__)
using Wide = __int128;  // incircle terms reach 2^116 (GCC/Clang on 64-bit targets)
#else
#error "delaunay.cpp needs a 128-bit integer type (__int128)"
#endif

/// Lattice points span at most 2^28 steps: orient products < 2^58, incircle terms < 2^116.
constexpr double kLatticeSteps = 268435456.0;

/// A lattice point, its coordinates also as (exact) doubles.
struct Point {
    Coord x = 0, y = 0;
    double fx = 0, fy = 0;
};

/// Twice the signed area of (a, b, c) on the lattice: > 0 when counter-clockwise (exact).
inline Coord orient(const Point& a, const Point& b, const Point& c) {
    return (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x);
}

/// Whether d lies strictly inside the circle through the counter-clockwise a, b, c: evaluated in
/// double (the coordinate differences, below 2^29, are exact) with a forward error bound, and exactly
/// in 64/128-bit integers when the bound is not met.
inline bool in_circle(const Point& a, const Point& b, const Point& c, const Point& d) {
    const double adx = a.fx - d.fx, ady = a.fy - d.fy, bdx = b.fx - d.fx, bdy = b.fy - d.fy;
    const double cdx = c.fx - d.fx, cdy = c.fy - d.fy;
    const double bc = bdx * cdy - cdx * bdy, ca = cdx * ady - adx * cdy, ab = adx * bdy - bdx * ady;
    const double al = adx * adx + ady * ady, bl = bdx * bdx + bdy * bdy, cl = cdx * cdx + cdy * cdy;
    const double det = al * bc + bl * ca + cl * ab;
    // a few roundings of relative size 2^-53 each in every term (Shewchuk's bound is 1.2e-15)
    const double bound = 1e-14 * (al * (std::fabs(bdx * cdy) + std::fabs(cdx * bdy)) +
                                  bl * (std::fabs(cdx * ady) + std::fabs(adx * cdy)) +
                                  cl * (std::fabs(adx * bdy) + std::fabs(bdx * ady)));
    if (det > bound) return true;
    if (det < -bound) return false;
    const Coord iax = a.x - d.x, iay = a.y - d.y, ibx = b.x - d.x, iby = b.y - d.y, icx = c.x - d.x, icy = c.y - d.y;
    const Coord ibc = ibx * icy - icx * iby, ica = icx * iay - iax * icy, iab = iax * iby - ibx * iay;
    const Coord ial = iax * iax + iay * iay, ibl = ibx * ibx + iby * iby, icl = icx * icx + icy * icy;
    return Wide(ial) * ibc + Wide(ibl) * ica + Wide(icl) * iab > 0;
}

/// Position of (x, y) in [0, 2^10)^2 along a Hilbert curve of order 10.
std::uint64_t hilbert_key(std::uint32_t x, std::uint32_t y) {
    constexpr std::uint32_t n = 1u << 10;
    std::uint64_t d = 0;
    for (std::uint32_t s = n / 2; s > 0; s /= 2) {
        const std::uint32_t rx = (x & s) ? 1u : 0u, ry = (y & s) ? 1u : 0u;
        d += static_cast<std::uint64_t>(s) * s * ((3u * rx) ^ ry);
        if (ry == 0) {  // rotate the quadrant so that the sub-curve is traversed in order
            if (rx == 1) {
                x = n - 1 - x;
                y = n - 1 - y;
            }
            std::swap(x, y);
        }
    }
    return d;
}

/// The triangulation under construction: triangle t has vertices v[3t..3t+2] (counter-clockwise; a
/// ghost keeps its infinite vertex last); its edge k runs v[3t+k] -> v[3t+(k+1)%3] and twin[3t+k] is
/// the same edge (3s+j: edge j of triangle s) in the triangle on the other side.
class Triangulation {
public:
    explicit Triangulation(std::vector<Point> pts) : p_(std::move(pts)), inf_(static_cast<int>(p_.size())) {
        start_.assign(p_.size() + 1, -1);
        const size_t tris = 2 * p_.size() + 8;  // a triangulation of n points has < 2n triangles
        v_.reserve(3 * tris);
        twin_.reserve(3 * tris);
        alive_.reserve(tris);
        mark_.reserve(tris);
    }

    /// Starts from the counter-clockwise triangle (a, b, c) and its three ghosts.
    void init(int a, int b, int c) {
        const int t = make(a, b, c), g0 = make(b, a, inf_), g1 = make(c, b, inf_), g2 = make(a, c, inf_);
        link(3 * t, 3 * g0);
        link(3 * t + 1, 3 * g1);
        link(3 * t + 2, 3 * g2);
        link(3 * g0 + 1, 3 * g2 + 2);  // (a, inf) / (inf, a)
        link(3 * g0 + 2, 3 * g1 + 1);  // (inf, b) / (b, inf)
        link(3 * g1 + 2, 3 * g2 + 1);  // (inf, c) / (c, inf)
        last_ = t;
    }

    /// Inserts point q (an index into the points); a point equal to a vertex is skipped.
    void insert(int q) {
        const int t0 = locate(q);
        if (t0 < 0) return;
        ++stamp_;
        cavity_.clear();
        rim_.clear();
        mark_[static_cast<size_t>(t0)] = stamp_;
        cavity_.push_back(t0);
        for (size_t i = 0; i < cavity_.size(); ++i) {
            const int t = cavity_[i];
            for (int k = 0; k < 3; ++k) {
                const int e = twin_[idx(t, k)], o = e / 3;
                if (mark_[static_cast<size_t>(o)] == stamp_) continue;
                if (mark_[static_cast<size_t>(o)] != -stamp_ && conflicts(o, q)) {
                    mark_[static_cast<size_t>(o)] = stamp_;
                    cavity_.push_back(o);
                } else {
                    mark_[static_cast<size_t>(o)] = -stamp_;
                    rim_.push_back({v_[idx(t, k)], v_[idx(t, (k + 1) % 3)], e});
                }
            }
        }
        for (const int t : cavity_) free_.push_back(t);
        // one new triangle (u, w, q) per rim edge (rotated to keep inf last), linked to the outside;
        // its edge (q, u) is remembered under u, so that the edge (w, q) finds its twin under w
        made_.clear();
        for (const Rim& r : rim_) {
            int t, rim, wq, qu;  // the triangle and its edges (u, w), (w, q), (q, u)
            if (r.u == inf_) {
                t = make(r.w, q, inf_);
                rim = 2, wq = 0, qu = 1;
            } else if (r.w == inf_) {
                t = make(q, r.u, inf_);
                rim = 1, wq = 2, qu = 0;
            } else {
                t = make(r.u, r.w, q);
                rim = 0, wq = 1, qu = 2;
                last_ = t;
            }
            link(3 * t + rim, r.twin);
            start_[static_cast<size_t>(r.u)] = 3 * t + qu;
            made_.push_back(3 * t + wq);
        }
        for (size_t i = 0; i < rim_.size(); ++i) link(made_[i], start_[static_cast<size_t>(rim_[i].w)]);
    }

    /// The finite triangles as point indices, each starting at its smallest index, sorted by their
    /// first two indices (a canonical order: neighbouring triangles end up close in memory).
    std::vector<Eigen::Vector3i> triangles() const {
        std::vector<Eigen::Vector3i> out;
        for (size_t t = 0; t < alive_.size(); ++t) {
            if (!alive_[t]) continue;
            const int a = v_[3 * t], b = v_[3 * t + 1], c = v_[3 * t + 2];
            if (a == inf_ || b == inf_ || c == inf_) continue;
            if (a < b && a < c) out.emplace_back(a, b, c);
            else if (b < c) out.emplace_back(b, c, a);
            else out.emplace_back(c, a, b);
        }
        // counting sort by the first index, then each run by the second
        std::vector<int> start(p_.size() + 1, 0);
        for (const auto& t : out) ++start[static_cast<size_t>(t(0)) + 1];
        for (size_t i = 1; i < start.size(); ++i) start[i] += start[i - 1];
        std::vector<Eigen::Vector3i> sorted(out.size());
        for (const auto& t : out) sorted[static_cast<size_t>(start[static_cast<size_t>(t(0))]++)] = t;
        for (size_t i = 0, j = 0; i < sorted.size(); i = j) {
            j = i + 1;
            while (j < sorted.size() && sorted[j](0) == sorted[i](0)) ++j;
            std::sort(sorted.begin() + static_cast<std::ptrdiff_t>(i), sorted.begin() + static_cast<std::ptrdiff_t>(j),
                      [](const Eigen::Vector3i& x, const Eigen::Vector3i& y) { return x(1) < y(1); });
        }
        return sorted;
    }

private:
    struct Rim {
        int u, w;  ///< the cavity's boundary edge (u -> w as in its cavity triangle)
        int twin;  ///< the same edge in the triangle outside the cavity (3s + j)
    };

    static size_t idx(int t, int k) { return 3 * static_cast<size_t>(t) + static_cast<size_t>(k); }

    /// A new triangle (a recycled slot when one is free); twins unset.
    int make(int a, int b, int c) {
        int t;
        if (!free_.empty()) {
            t = free_.back();
            free_.pop_back();
        } else {
            t = static_cast<int>(alive_.size());
            v_.resize(v_.size() + 3);
            twin_.resize(twin_.size() + 3, -1);
            alive_.push_back(0);
            mark_.push_back(0);
        }
        v_[idx(t, 0)] = a;
        v_[idx(t, 1)] = b;
        v_[idx(t, 2)] = c;
        alive_[static_cast<size_t>(t)] = 1;
        mark_[static_cast<size_t>(t)] = 0;
        return t;
    }

    /// Makes the edges e and f (3t + k) twins.
    void link(int e, int f) {
        twin_[static_cast<size_t>(e)] = f;
        twin_[static_cast<size_t>(f)] = e;
    }

    bool ghost(int t) const { return v_[idx(t, 2)] == inf_; }

    /// Whether q lies in the open circumdisk of t; for a ghost (a, b, inf): strictly outside the hull
    /// edge a -> b, or on the open segment (a, b).
    bool conflicts(int t, int q) const {
        const Point& a = p_[static_cast<size_t>(v_[idx(t, 0)])];
        const Point& b = p_[static_cast<size_t>(v_[idx(t, 1)])];
        const Point& d = p_[static_cast<size_t>(q)];
        if (!ghost(t)) return in_circle(a, b, p_[static_cast<size_t>(v_[idx(t, 2)])], d);
        const Coord o = orient(a, b, d);
        if (o != 0) return o > 0;
        const Coord da = (d.x - a.x) * (b.x - a.x) + (d.y - a.y) * (b.y - a.y);
        const Coord db = (d.x - b.x) * (a.x - b.x) + (d.y - b.y) * (a.y - b.y);
        return da > 0 && db > 0;
    }

    /// A triangle in conflict with q, found by a visibility walk from the last new triangle
    /// (terminates on Delaunay triangulations); -1 when q equals a vertex.
    int locate(int q) const {
        int t = last_;
        const Point& d = p_[static_cast<size_t>(q)];
        for (;;) {
            int next = -1;
            for (int k = 0; k < 3 && next < 0; ++k) {
                const Point& a = p_[static_cast<size_t>(v_[idx(t, k)])];
                const Point& b = p_[static_cast<size_t>(v_[idx(t, (k + 1) % 3)])];
                if (orient(a, b, d) < 0) next = twin_[idx(t, k)] / 3;
            }
            if (next < 0) break;
            t = next;
            if (ghost(t)) return t;  // q is strictly outside this hull edge
        }
        for (int k = 0; k < 3; ++k) {
            const Point& a = p_[static_cast<size_t>(v_[idx(t, k)])];
            if (a.x == d.x && a.y == d.y) return -1;
        }
        return t;
    }

    std::vector<Point> p_;
    int inf_;
    std::vector<int> v_, twin_, free_, cavity_, made_, start_;
    std::vector<std::uint8_t> alive_;
    std::vector<int> mark_;
    std::vector<Rim> rim_;
    int stamp_ = 0;
    int last_ = 0;
};

}  // namespace

MatrixX3i delaunay_2d(const MatrixX2d& points) {
    const Eigen::Index n = points.rows();
    if (n < 3) return MatrixX3i(0, 3);
    const Eigen::Vector2d lo = points.colwise().minCoeff().transpose();
    const double extent = (points.colwise().maxCoeff().transpose() - lo).maxCoeff();
    if (!(extent > 0)) return MatrixX3i(0, 3);
    // a power of two (exact scaling); the exponent is bounded for extents near the smallest double
    const double exponent = std::min(std::floor(std::log2(kLatticeSteps / extent)), 1000.0);
    const double scale = std::ldexp(1.0, static_cast<int>(exponent));
    std::vector<Point> pts(static_cast<size_t>(n));
    std::vector<std::uint64_t> key(static_cast<size_t>(n));
    for (Eigen::Index i = 0; i < n; ++i) {
        Point& q = pts[static_cast<size_t>(i)];
        q.x = std::llround((points(i, 0) - lo.x()) * scale);
        q.y = std::llround((points(i, 1) - lo.y()) * scale);
        q.fx = static_cast<double>(q.x);
        q.fy = static_cast<double>(q.y);
        key[static_cast<size_t>(i)] = hilbert_key(static_cast<std::uint32_t>(std::min<Coord>(q.x >> 18, 1023)),
                                                   static_cast<std::uint32_t>(std::min<Coord>(q.y >> 18, 1023)));
    }
    // insertion order: along a Hilbert curve over 1024 x 1024 cells; equal lattice points become
    // neighbours (the first one kept)
    std::vector<int> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) {
        const Point &pa = pts[static_cast<size_t>(a)], &pb = pts[static_cast<size_t>(b)];
        const auto ka = key[static_cast<size_t>(a)], kb = key[static_cast<size_t>(b)];
        if (ka != kb) return ka < kb;
        if (pa.x != pb.x) return pa.x < pb.x;
        if (pa.y != pb.y) return pa.y < pb.y;
        return a < b;
    });
    order.erase(std::unique(order.begin(), order.end(),
                            [&](int a, int b) {
                                return pts[static_cast<size_t>(a)].x == pts[static_cast<size_t>(b)].x &&
                                       pts[static_cast<size_t>(a)].y == pts[static_cast<size_t>(b)].y;
                            }),
                order.end());
    if (order.size() < 3) return MatrixX3i(0, 3);
    // the first triangle: the first two points and the first point off their line
    const int a = order[0], b = order[1];
    size_t third = 2;
    while (third < order.size() &&
           orient(pts[static_cast<size_t>(a)], pts[static_cast<size_t>(b)], pts[static_cast<size_t>(order[third])]) == 0)
        ++third;
    if (third == order.size()) return MatrixX3i(0, 3);
    const int c = order[third];
    const bool ccw = orient(pts[static_cast<size_t>(a)], pts[static_cast<size_t>(b)], pts[static_cast<size_t>(c)]) > 0;
    Triangulation tri(std::move(pts));
    if (ccw)
        tri.init(a, b, c);
    else
        tri.init(a, c, b);
    for (size_t i = 2; i < order.size(); ++i)
        if (i != third) tri.insert(order[i]);
    const std::vector<Eigen::Vector3i> t = tri.triangles();
    MatrixX3i out(static_cast<Eigen::Index>(t.size()), 3);
    for (size_t i = 0; i < t.size(); ++i) out.row(static_cast<Eigen::Index>(i)) = t[i].transpose();
    return out;
}

}  // namespace extreme3d::core
