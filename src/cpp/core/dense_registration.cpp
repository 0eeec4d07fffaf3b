// Delaunay registration of the dense mesh on the sparse mesh.
#include "core/dense_registration.hpp"

#include <algorithm>
#include <boost/polygon/voronoi.hpp>
#include <cmath>
#include <unordered_map>

namespace extreme3d::core {

namespace {

constexpr double kScale = 2097152.0;  // 2^21: 500 px * 2^21 fits in int32

/// Twice the signed area of (a, b, p), in double.
inline double orient(const Eigen::Vector2d& a, const Eigen::Vector2d& b, const Eigen::Vector2d& p) {
    return (b.x() - a.x()) * (p.y() - a.y()) - (b.y() - a.y()) * (p.x() - a.x());
}

/// Where a pixel lies in the triangulation.
struct Location {
    int kind = 0;  ///< 0 none, 1 inside (a, b, c), 2 on edge (a, b), 3 at vertex a
    int a = -1, b = -1, c = -1;
};

}  // namespace

std::vector<Eigen::Vector3i> delaunay_triangles(const MatrixX2f& pts) {
    using boost::polygon::point_data;
    std::vector<point_data<int>> ipts;
    std::vector<int> ids;
    ipts.reserve(pts.rows());
    std::unordered_map<long long, int> seen;
    for (Eigen::Index i = 0; i < pts.rows(); ++i) {
        const long long x = std::llround(static_cast<double>(pts(i, 0)) * kScale);
        const long long y = std::llround(static_cast<double>(pts(i, 1)) * kScale);
        const long long key = (x << 32) ^ (y & 0xffffffffLL);
        if (!seen.emplace(key, static_cast<int>(i)).second) continue;
        ipts.emplace_back(static_cast<int>(x), static_cast<int>(y));
        ids.push_back(static_cast<int>(i));
    }
    std::vector<Eigen::Vector3i> tris;
    if (ipts.size() < 3) return tris;
    boost::polygon::voronoi_diagram<double> vd;
    boost::polygon::construct_voronoi(ipts.begin(), ipts.end(), &vd);
    std::vector<int> ring;
    for (const auto& vtx : vd.vertices()) {
        ring.clear();
        const auto* e = vtx.incident_edge();
        do {
            ring.push_back(ids[e->cell()->source_index()]);
            e = e->rot_next();
        } while (e != vtx.incident_edge());
        for (size_t k = 1; k + 1 < ring.size(); ++k) tris.emplace_back(ring[0], ring[k], ring[k + 1]);
    }
    return tris;
}

Registration register_dense(const DenseMesh& dense, const MatrixX2f& proj, const Eigen::VectorXf& scores,
                            const MatrixX3f& sparse_camera, const MatrixX3i& faces, float max_gap) {
    const int H = static_cast<int>(dense.vindex.rows()), W = static_cast<int>(dense.vindex.cols());
    const int V = static_cast<int>(proj.rows());
    // reference vertices (the original's subdivision points)
    std::vector<int> ref;
    for (int i = 0; i < V; ++i) {
        if (!(scores(i) >= 0.75f)) continue;
        const float x = proj(i, 0), y = proj(i, 1);
        if (x < 0 || y < 0 || x >= W - 1 || y >= H - 1) continue;  // outside the subdivision rectangle
        ref.push_back(i);
    }
    MatrixX2f rp(ref.size(), 2);
    for (size_t k = 0; k < ref.size(); ++k) rp.row(k) = proj.row(ref[k]);
    const std::vector<Eigen::Vector3i> tris = delaunay_triangles(rp);

    // neighbours in the sparse mesh, for the edge test
    std::vector<std::vector<int>> nb(V);
    for (Eigen::Index f = 0; f < faces.rows(); ++f)
        for (int u = 0; u < 3; ++u)
            for (int v = 0; v < 3; ++v)
                if (u != v) nb[faces(f, u)].push_back(faces(f, v));
    auto neighbours = [&nb](int a, int b) { return std::find(nb[a].begin(), nb[a].end(), b) != nb[a].end(); };

    // locate every pixel of the subdivision rectangle by rasterising the triangles
    std::vector<Location> loc(static_cast<size_t>(H) * W);
    for (const auto& t : tris) {
        int v[3] = {ref[t(0)], ref[t(1)], ref[t(2)]};
        Eigen::Vector2d p[3];
        for (int k = 0; k < 3; ++k) p[k] = proj.row(v[k]).transpose().cast<double>();
        double area = orient(p[0], p[1], p[2]);
        if (area == 0) continue;
        if (area < 0) {
            std::swap(v[1], v[2]);
            std::swap(p[1], p[2]);
        }
        const double minx = std::min({p[0].x(), p[1].x(), p[2].x()}), maxx = std::max({p[0].x(), p[1].x(), p[2].x()});
        const double miny = std::min({p[0].y(), p[1].y(), p[2].y()}), maxy = std::max({p[0].y(), p[1].y(), p[2].y()});
        const int x0 = std::max(0, static_cast<int>(std::ceil(minx))), x1 = std::min(W - 2, static_cast<int>(std::floor(maxx)));
        const int y0 = std::max(0, static_cast<int>(std::ceil(miny))), y1 = std::min(H - 2, static_cast<int>(std::floor(maxy)));
        for (int y = y0; y <= y1; ++y)
            for (int x = x0; x <= x1; ++x) {
                Location& L = loc[static_cast<size_t>(y) * W + x];
                if (L.kind != 0 || dense.vindex(y, x) < 0) continue;
                const Eigen::Vector2d q(x, y);
                const double o0 = orient(p[1], p[2], q), o1 = orient(p[2], p[0], q), o2 = orient(p[0], p[1], q);
                if (o0 < 0 || o1 < 0 || o2 < 0) continue;
                const int zeros = (o0 == 0) + (o1 == 0) + (o2 == 0);
                if (zeros == 0) L = {1, v[0], v[1], v[2]};
                else if (zeros == 1) {
                    if (o0 == 0) L = {2, v[1], v[2], -1};
                    else if (o1 == 0) L = {2, v[2], v[0], -1};
                    else L = {2, v[0], v[1], -1};
                } else {
                    L = {3, o0 != 0 ? v[0] : (o1 != 0 ? v[1] : v[2]), -1, -1};
                }
            }
    }

    Registration reg;
    reg.vindex = RowMatrixXi::Constant(H, W, -1);
    const auto& S = sparse_camera;
    for (size_t i = 0; i < dense.px.size(); ++i) {
        const int x = dense.px[i], y = dense.py[i];
        if (x >= W - 1 || y >= H - 1) continue;
        const Location& L = loc[static_cast<size_t>(y) * W + x];
        if (L.kind == 0) continue;
        const float depth = dense.rel_depth(y, x) + dense.min_depth;
        Eigen::Vector3i tri(-1, -1, -1);
        Eigen::Vector3f w(0, 0, 0);
        float base = 0;
        if (L.kind == 1) {
            bool skew = false;
            const int v[3] = {L.a, L.b, L.c};
            for (int c = 0; c < 3 && !skew; ++c)
                for (int m = 0; m < 3; ++m)
                    for (int n = m + 1; n < 3; ++n)
                        if (std::fabs(S(v[m], c) - S(v[n], c)) > max_gap) skew = true;
            if (skew) continue;
            const Eigen::Vector2d p0 = proj.row(L.a).transpose().cast<double>();
            const Eigen::Vector2d p1 = proj.row(L.b).transpose().cast<double>();
            const Eigen::Vector2d p2 = proj.row(L.c).transpose().cast<double>();
            const Eigen::Vector2d q(x, y);
            const double area = orient(p0, p1, p2);
            const float t = static_cast<float>(orient(p2, p0, q) / area);  // weight of p1
            const float u = static_cast<float>(orient(p0, p1, q) / area);  // weight of p2
            tri << L.a, L.b, L.c;
            w << 1 - t - u, t, u;
            base = (1 - t - u) * S(L.a, 2) + t * S(L.b, 2) + u * S(L.c, 2);
        } else if (L.kind == 2) {
            if (!neighbours(L.a, L.b) && std::fabs(S(L.a, 2) - S(L.b, 2)) > max_gap) continue;
            const Eigen::Vector2d p0 = proj.row(L.a).transpose().cast<double>();
            const Eigen::Vector2d p1 = proj.row(L.b).transpose().cast<double>();
            const Eigen::Vector2d d = p1 - p0;
            const float t = static_cast<float>(d.dot(Eigen::Vector2d(x, y) - p0) / d.squaredNorm());
            tri << L.a, L.b, -1;
            w << 1 - t, t, 0;
            base = (1 - t) * S(L.a, 2) + t * S(L.b, 2);
        } else {
            tri << L.a, -1, -1;
            w << 1, 0, 0;
            base = S(L.a, 2);
        }
        reg.vindex(y, x) = static_cast<int>(reg.tri.size());
        reg.tri.push_back(tri);
        reg.w.push_back(w);
        reg.dz.push_back(depth - base);
        reg.dense.push_back(static_cast<int>(i));
    }
    return reg;
}

}  // namespace extreme3d::core
