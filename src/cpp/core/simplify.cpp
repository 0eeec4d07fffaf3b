// Error-bounded half-edge-collapse simplification (see simplify.hpp).
#include "core/simplify.hpp"

#include "core/common.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <utility>

namespace extreme3d::core {
namespace {

using Vec3 = Eigen::Vector3d;
using Quadric = Eigen::Matrix4d;

/// Squared distance (mm^2) from p to triangle (a, b, c) and the barycentric weights of the
/// nearest point (Ericson, Real-Time Collision Detection 5.1.5).
double closest_on_triangle(const Vec3& p, const Vec3& a, const Vec3& b, const Vec3& c, Vec3& bary) {
    const Vec3 ab = b - a, ac = c - a, ap = p - a;
    const double d1 = ab.dot(ap), d2 = ac.dot(ap);
    if (d1 <= 0 && d2 <= 0) {
        bary = Vec3(1, 0, 0);
    } else {
        const Vec3 bp = p - b;
        const double d3 = ab.dot(bp), d4 = ac.dot(bp);
        const Vec3 cp = p - c;
        const double d5 = ab.dot(cp), d6 = ac.dot(cp);
        const double vc = d1 * d4 - d3 * d2, vb = d5 * d2 - d1 * d6, va = d3 * d6 - d5 * d4;
        if (d3 >= 0 && d4 <= d3) {
            bary = Vec3(0, 1, 0);
        } else if (vc <= 0 && d1 >= 0 && d3 <= 0 && d1 - d3 > 0) {
            const double v = d1 / (d1 - d3);
            bary = Vec3(1 - v, v, 0);
        } else if (d6 >= 0 && d5 <= d6) {
            bary = Vec3(0, 0, 1);
        } else if (vb <= 0 && d2 >= 0 && d6 <= 0 && d2 - d6 > 0) {
            const double w = d2 / (d2 - d6);
            bary = Vec3(1 - w, 0, w);
        } else if (va <= 0 && d4 - d3 >= 0 && d5 - d6 >= 0 && (d4 - d3) + (d5 - d6) > 0) {
            const double w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
            bary = Vec3(0, 1 - w, w);
        } else if (va + vb + vc > 0) {
            const double v = vb / (va + vb + vc), w = vc / (va + vb + vc);
            bary = Vec3(1 - v - w, v, w);
        } else {  // degenerate triangle: its nearest corner
            const double da = ap.squaredNorm(), db = bp.squaredNorm(), dc = cp.squaredNorm();
            bary = da <= db && da <= dc ? Vec3(1, 0, 0) : (db <= dc ? Vec3(0, 1, 0) : Vec3(0, 0, 1));
        }
    }
    return (p - (bary[0] * a + bary[1] * b + bary[2] * c)).squaredNorm();
}

/// 4 sqrt(3) area / sum of squared edge lengths of a triangle (1 equilateral, 0 degenerate).
double triangle_quality(const Vec3& a, const Vec3& b, const Vec3& c) {
    const double s = (b - a).squaredNorm() + (c - b).squaredNorm() + (a - c).squaredNorm();
    return s > 0 ? 2.0 * std::sqrt(3.0) * (b - a).cross(c - a).norm() / s : 0.0;
}

/// Twice the signed uv area of a triangle.
double uv_area(const Eigen::Vector2d& a, const Eigen::Vector2d& b, const Eigen::Vector2d& c) {
    return (b.x() - a.x()) * (c.y() - a.y()) - (b.y() - a.y()) * (c.x() - a.x());
}

/// The collapse state: faces (deleted flags), vertex-face lists, quadrics and the removed
/// vertices held by each face (those whose nearest simplified face it is).
class Simplifier {
public:
    Simplifier(const MatrixX3d& v, const MatrixX3i& f, const MatrixX2d& uv, const SimplifyBounds& b)
        : V_(v), UV_(uv), B_(b), nv_(static_cast<int>(v.rows())) {
        const int nf = static_cast<int>(f.rows());
        F_.resize(nf);
        fdel_.assign(nf, 0);
        fpts_.resize(nf);
        vf_.resize(nv_);
        Q_.assign(nv_, Quadric::Zero());
        removed_.assign(nv_, 0);
        fixed_.assign(nv_, 0);
        for (int i = 0; i < nf; ++i) {
            F_[i] = {f(i, 0), f(i, 1), f(i, 2)};
            const Vec3 n = (pos(F_[i][1]) - pos(F_[i][0])).cross(pos(F_[i][2]) - pos(F_[i][0]));
            const double len = n.norm();
            if (F_[i][0] == F_[i][1] || F_[i][1] == F_[i][2] || F_[i][0] == F_[i][2]) {
                for (const int x : F_[i]) fixed_[x] = 1;  // a face with a repeated corner: left alone
            }
            Quadric k = Quadric::Zero();
            if (len > 0) {
                const Vec3 u = n / len;
                Eigen::Vector4d plane(u.x(), u.y(), u.z(), -u.dot(pos(F_[i][0])));
                k = 0.5 * len * plane * plane.transpose();
            }
            for (const int x : F_[i]) {
                vf_[x].push_back(i);
                Q_[x] += k;
            }
        }
        mark_borders();
        VN_.assign(nv_, Vec3::Zero());
        for (const auto& t : F_) {
            const Vec3 n = (pos(t[1]) - pos(t[0])).cross(pos(t[2]) - pos(t[0]));
            for (const int x : t) VN_[x] += n;
        }
        for (auto& n : VN_)
            if (n.norm() > 0) n.normalize();
    }

    /// Runs the collapses until none meets the bounds: passes over the vertices in index order
    /// (memory order: the cost order of a global queue visits them at random and was bound by
    /// cache misses, 1.65x slower) under a cost threshold growing 4x from pass to pass (and
    /// skipping thresholds under which nothing is left to try), each vertex merged into its
    /// cheapest neighbour within the threshold that meets the bounds, until every vertex has
    /// tried all its candidates since its neighbourhood last changed. A vertex is tried again
    /// only when a collapse changed its neighbourhood or the threshold reaches a candidate it
    /// has not tried.
    void run() {
        std::vector<std::pair<double, int>> cand;
        Flags dirty(nv_, 1);
        std::vector<double> tried(nv_, -INFINITY), next(nv_, 0.0);
        // the first pass (threshold 0) only records each vertex's cheapest candidate, from
        // which the threshold rule below starts at the cheapest of them all
        double t = 0;
        for (;;) {
            for (int a = 0; a < nv_; ++a) {
                if (removed_[a] || fixed_[a]) continue;
                if (!dirty[a] && (next[a] > t || tried[a] >= t)) continue;
                candidates(a, cand);
                const double old = dirty[a] ? -INFINITY : tried[a];
                double untried = INFINITY;
                bool merged = false;
                for (const auto& c : cand) {
                    if (c.first <= old) continue;
                    if (c.first > t) {
                        untried = c.first;
                        break;
                    }
                    if (try_collapse(a, c.second)) {
                        const int b = c.second;
                        neighbours(b, ring_);
                        dirty[b] = 1;
                        for (const int x : ring_) dirty[x] = 1;
                        merged = true;
                        break;
                    }
                }
                if (!merged) {
                    dirty[a] = 0;
                    tried[a] = t;
                    next[a] = untried;
                }
            }
            // done when every live vertex is clean with no untried candidate; otherwise the
            // next threshold: 4x (overflowing to infinity), at least the cheapest untried one
            // when no vertex waits for a retry
            bool waiting = false;
            double least = INFINITY;
            for (int a = 0; a < nv_; ++a) {
                if (removed_[a] || fixed_[a]) continue;
                if (dirty[a]) waiting = true;
                else least = std::min(least, next[a]);
            }
            if (!waiting && std::isinf(least)) break;
            double grown = 4 * t;
            if (!waiting) grown = std::max(grown, least);
            t = grown;
        }
    }

    /// The surviving vertices and the faces re-indexed into them.
    Simplified result() const {
        Simplified out;
        std::vector<int> index(nv_, -1);
        for (int i = 0; i < nv_; ++i)
            if (!removed_[i] && !vf_[i].empty()) {
                index[i] = static_cast<int>(out.kept.size());
                out.kept.push_back(i);
            }
        int live = 0;
        for (const auto d : fdel_) live += d ? 0 : 1;
        out.faces.resize(live, 3);
        int r = 0;
        for (size_t i = 0; i < F_.size(); ++i)
            if (!fdel_[i]) {
                for (int j = 0; j < 3; ++j) out.faces(r, j) = index[F_[i][j]];
                ++r;
            }
        return out;
    }

private:
    Vec3 pos(int i) const { return V_.row(i).transpose(); }
    Eigen::Vector2d tex(int i) const { return UV_.row(i).transpose(); }

    /// Vertices on an edge of one face (or of more than two) are fixed.
    void mark_borders() {
        std::vector<std::uint64_t> keys;
        keys.reserve(F_.size() * 3);
        for (const auto& t : F_)
            for (int j = 0; j < 3; ++j) {
                const auto lo = static_cast<std::uint64_t>(std::min(t[j], t[(j + 1) % 3]));
                const auto hi = static_cast<std::uint64_t>(std::max(t[j], t[(j + 1) % 3]));
                keys.push_back(lo << 32 | hi);
            }
        std::sort(keys.begin(), keys.end());
        for (size_t i = 0; i < keys.size();) {
            size_t j = i;
            while (j < keys.size() && keys[j] == keys[i]) ++j;
            if (j - i != 2) {
                fixed_[keys[i] >> 32] = 1;
                fixed_[keys[i] & 0xffffffffu] = 1;
            }
            i = j;
        }
    }

    /// The live faces of vertex a (drops deleted ones from its list).
    const std::vector<int>& faces_of(int a) {
        auto& l = vf_[a];
        l.erase(std::remove_if(l.begin(), l.end(), [&](int f) { return fdel_[f] != 0; }), l.end());
        return l;
    }

    /// The corner of face f that is neither a nor b.
    int opposite(int f, int a, int b) const {
        for (const int x : F_[f])
            if (x != a && x != b) return x;
        return -1;
    }

    /// The distinct neighbours of vertex a, sorted.
    void neighbours(int a, std::vector<int>& out) {
        out.clear();
        for (const int f : faces_of(a))
            for (const int x : F_[f])
                if (x != a) out.push_back(x);
        std::sort(out.begin(), out.end());
        out.erase(std::unique(out.begin(), out.end()), out.end());
    }

    /// Quadric cost (area-weighted squared plane distances) of merging a into b, plus a small
    /// edge-length term that orders the collapses of flat regions shortest edge first.
    double cost(int a, int b) const {
        const Vec3 p = pos(b);
        const Eigen::Vector4d h(p.x(), p.y(), p.z(), 1.0);
        return h.dot((Q_[a] + Q_[b]) * h) + 1e-5 * (pos(a) - p).squaredNorm();
    }

    /// The neighbours of a as (cost, neighbour), cheapest first.
    void candidates(int a, std::vector<std::pair<double, int>>& out) {
        neighbours(a, nb_);
        out.clear();
        for (const int b : nb_) out.emplace_back(cost(a, b), b);
        std::sort(out.begin(), out.end());
    }

    /// Merges a into b when the collapse meets every condition; returns whether it did.
    bool try_collapse(int a, int b) {
        fa_ = faces_of(a);
        shared_.clear();
        moved_.clear();
        for (const int f : fa_) (std::find(F_[f].begin(), F_[f].end(), b) != F_[f].end() ? shared_ : moved_).push_back(f);
        if (shared_.size() != 2) return false;
        const Vec3 pb = pos(b);
        for (const int f : moved_) {
            std::array<Vec3, 3> o{pos(F_[f][0]), pos(F_[f][1]), pos(F_[f][2])};
            std::array<Vec3, 3> n = o;
            for (int j = 0; j < 3; ++j)
                if (F_[f][j] == a) n[j] = pb;
            const Vec3 no = (o[1] - o[0]).cross(o[2] - o[0]);
            const Vec3 nn = (n[1] - n[0]).cross(n[2] - n[0]);
            if (nn.norm() <= 0 || no.norm() <= 0 || no.dot(nn) < B_.min_normal_dot * no.norm() * nn.norm()) return false;
            const double qn = triangle_quality(n[0], n[1], n[2]);
            if (qn < B_.min_quality && qn < triangle_quality(o[0], o[1], o[2])) return false;
            if (UV_.rows() > 0) {
                std::array<Eigen::Vector2d, 3> t{tex(F_[f][0]), tex(F_[f][1]), tex(F_[f][2])};
                const double ao = uv_area(t[0], t[1], t[2]);
                for (int j = 0; j < 3; ++j)
                    if (F_[f][j] == a) t[j] = tex(b);
                const double an = uv_area(t[0], t[1], t[2]);
                if (an == 0 || (an > 0) != (ao > 0)) return false;
            }
        }
        // distance bound: a and the removed vertices held by its faces, against the faces
        // around b after the collapse
        pts_.assign(1, a);
        for (const int f : fa_) pts_.insert(pts_.end(), fpts_[f].begin(), fpts_[f].end());
        cand_faces_ = moved_;
        for (const int f : faces_of(b))
            if (std::find(F_[f].begin(), F_[f].end(), a) == F_[f].end()) cand_faces_.push_back(f);
        const double tol2 = B_.distance * B_.distance;
        const double uv2 = B_.uv * B_.uv;
        owner_.resize(pts_.size());
        for (size_t k = 0; k < pts_.size(); ++k) {
            // the first face (moved ones first) within the bounds holds the point
            const Vec3 p = pos(pts_[k]);
            int who = -1;
            for (const int f : cand_faces_) {
                std::array<int, 3> c = F_[f];
                for (auto& x : c)
                    if (x == a) x = b;
                Vec3 w;
                if (closest_on_triangle(p, pos(c[0]), pos(c[1]), pos(c[2]), w) > tol2) continue;
                if (B_.min_point_normal_dot > -1) {
                    const Vec3 n = (pos(c[1]) - pos(c[0])).cross(pos(c[2]) - pos(c[0]));
                    if (n.dot(VN_[pts_[k]]) < B_.min_point_normal_dot * n.norm()) continue;
                }
                if (UV_.rows() > 0 && B_.uv > 0) {
                    const Eigen::Vector2d t = w[0] * tex(c[0]) + w[1] * tex(c[1]) + w[2] * tex(c[2]);
                    if ((t - tex(pts_[k])).squaredNorm() > uv2) continue;
                }
                who = f;
                break;
            }
            if (who < 0) return false;
            owner_[k] = who;
        }
        // link condition (checked last: it rarely fails): the common neighbours of a and b are
        // the two opposite corners
        neighbours(a, na_);
        neighbours(b, nbb_);
        int common = 0;
        for (size_t i = 0, j = 0; i < na_.size() && j < nbb_.size();) {
            if (na_[i] < nbb_[j]) ++i;
            else if (na_[i] > nbb_[j]) ++j;
            else { ++common; ++i; ++j; }
        }
        if (common != 2) return false;
        // faces (a, c, d) and (b, c, d) on the two opposite corners (a closed tetrahedron): the
        // moved one would become a second face on the same three vertices
        const int c = opposite(shared_[0], a, b), d = opposite(shared_[1], a, b);
        auto on_cd = [&](int f) {
            return std::find(F_[f].begin(), F_[f].end(), c) != F_[f].end() &&
                   std::find(F_[f].begin(), F_[f].end(), d) != F_[f].end();
        };
        if (std::any_of(moved_.begin(), moved_.end(), on_cd) &&
            std::any_of(faces_of(b).begin(), faces_of(b).end(), on_cd))
            return false;
        // commit
        for (const int f : shared_) {
            fdel_[f] = 1;
            fpts_[f].clear();
        }
        for (const int f : moved_) {
            for (auto& x : F_[f])
                if (x == a) x = b;
            fpts_[f].clear();
            vf_[b].push_back(f);
        }
        for (size_t k = 0; k < pts_.size(); ++k) fpts_[owner_[k]].push_back(pts_[k]);
        removed_[a] = 1;
        vf_[a].clear();
        Q_[b] += Q_[a];
        return true;
    }

    const MatrixX3d& V_;
    const MatrixX2d& UV_;
    SimplifyBounds B_;
    int nv_;
    std::vector<std::array<int, 3>> F_;
    Flags fdel_, removed_, fixed_;
    std::vector<std::vector<int>> vf_, fpts_;
    std::vector<Quadric> Q_;
    std::vector<Vec3> VN_;  // area-weighted unit normals of the original vertices
    std::vector<int> fa_, ring_, nb_, na_, nbb_, shared_, moved_, pts_, cand_faces_, owner_;
};

}  // namespace

Simplified simplify_bounded(const MatrixX3d& vertices, const MatrixX3i& faces, const MatrixX2d& uv,
                            const SimplifyBounds& bounds) {
    Simplifier s(vertices, faces, uv, bounds);
    s.run();
    return s.result();
}

}  // namespace extreme3d::core
