// Final mesh: inner region, dense and mirrored dense faces, concatenation.
#include "core/final_mesh.hpp"

#include <algorithm>
#include <cmath>

namespace extreme3d::core {

namespace {

/// Value of an index map, -1 outside it (the original reads outside the image there).
inline int at_or_none(const RowMatrixXi& m, int y, int x) {
    if (y < 0 || x < 0 || y >= m.rows() || x >= m.cols()) return -1;
    return m(y, x);
}

/// Marks inner (0) / ring (1, 2, 3) types: -1 elsewhere; one ring outside, two rings inside.
void grow_rings(std::vector<int>& type, const std::vector<std::vector<int>>& nb) {
    const int V = static_cast<int>(type.size());
    auto any_nb = [&](int i, int t) {
        for (int j : nb[i])
            if (type[j] == t) return true;
        return false;
    };
    for (int i = 0; i < V; ++i)
        if (type[i] == -1 && any_nb(i, 0)) type[i] = 1;
    for (int i = 0; i < V; ++i)
        if (type[i] == 0 && any_nb(i, 1)) type[i] = 2;
    for (int i = 0; i < V; ++i)
        if (type[i] == 0 && any_nb(i, 2)) type[i] = 3;
}

/// Calls fn(x, y) for the integer pixels in the bounding box of a projected triangle that pass the
/// original's point-in-triangle test.
template <class Fn>
void for_pixels_in(const Eigen::Vector2f& a, const Eigen::Vector2f& b, const Eigen::Vector2f& c, int W, int H,
                   Fn fn) {
    if (!a.allFinite() || !b.allFinite() || !c.allFinite()) return;
    float minX = 1e17f, minY = 1e17f, maxX = -1, maxY = -1;
    for (const auto* p : {&a, &b, &c}) {
        minX = std::min(minX, p->x());
        maxX = std::max(maxX, p->x());
        minY = std::min(minY, p->y());
        maxY = std::max(maxY, p->y());
    }
    // pixels outside the image hold no dense vertex: clamp the loops (same result, bounded work)
    const int y0 = static_cast<int>(std::ceil(std::max(minY, -1.f))), x0 = static_cast<int>(std::ceil(std::max(minX, -1.f)));
    const float y1 = std::min(maxY, static_cast<float>(H)), x1 = std::min(maxX, static_cast<float>(W));
    for (int y = y0; y <= y1; ++y)
        for (int x = x0; x <= x1; ++x)
            if (point_in_triangle(Eigen::Vector2f(x, y), a, b, c)) fn(x, y);
}

/// Keeps the ring of pixels around the kept ones (keep 0 -> 2 next to a 1) and removes the rest
/// of the unkept pixels from the index map.
void ring_and_prune(std::vector<int>& keep, RowMatrixXi& vindex, const Registration& reg, const DenseMesh& dense) {
    const int S = static_cast<int>(keep.size());
    for (int i = 0; i < S; ++i) {
        if (keep[i] != 0) continue;
        const int x = dense.px[reg.dense[i]], y = dense.py[reg.dense[i]];
        for (int sy = -1; sy <= 1 && keep[i] == 0; ++sy)
            for (int sx = -1; sx <= 1; ++sx) {
                if (sx == 0 && sy == 0) continue;
                const int v = at_or_none(vindex, y + sy, x + sx);
                if (v >= 0 && keep[v] == 1) {
                    keep[i] = 2;
                    break;
                }
            }
    }
    for (int i = 0; i < S; ++i)
        if (keep[i] == 0) vindex(dense.py[reg.dense[i]], dense.px[reg.dense[i]]) = -1;
}

}  // namespace

std::vector<std::vector<int>> vertex_neighbours(const MatrixX3i& faces, int V) {
    std::vector<std::vector<int>> nb(V);
    auto link = [&nb](int a, int b) {
        if (std::find(nb[a].begin(), nb[a].end(), b) == nb[a].end()) {
            nb[a].push_back(b);
            nb[b].push_back(a);
        }
    };
    for (Eigen::Index f = 0; f < faces.rows(); ++f) {
        link(faces(f, 0), faces(f, 1));
        link(faces(f, 0), faces(f, 2));
        link(faces(f, 1), faces(f, 2));
    }
    return nb;
}

bool point_in_triangle(const Eigen::Vector2f& p, const Eigen::Vector2f& a, const Eigen::Vector2f& b,
                       const Eigen::Vector2f& c) {
    auto same_side = [](const Eigen::Vector2f& p1, const Eigen::Vector2f& p2, const Eigen::Vector2f& s,
                        const Eigen::Vector2f& e) {
        const Eigen::Vector2f d = e - s, q1 = p1 - s, q2 = p2 - s;
        const float c1 = d.x() * q1.y() - d.y() * q1.x();
        const float c2 = d.x() * q2.y() - d.y() * q2.x();
        return c1 * c2 >= 0;
    };
    return same_side(p, a, b, c) && same_side(p, b, a, c) && same_side(p, c, a, b);
}

Mesh assemble_final_mesh(const MatrixX3f& sparse, const MatrixX3i& faces, const Eigen::VectorXi& pair,
                         const Eigen::VectorXf& scores, const MatrixX2f& proj, const DenseMesh& dense,
                         const Registration& reg, const DenseDetail& detail, FinalStats* stats) {
    const int V = static_cast<int>(sparse.rows());
    const int S = static_cast<int>(reg.tri.size());
    const int W = static_cast<int>(reg.vindex.cols()), H = static_cast<int>(reg.vindex.rows());
    const auto nb = vertex_neighbours(faces, V);
    RowMatrixXi vsub = reg.vindex;
    RowMatrixXi vflip = detail.mirror_vindex;
    std::vector<int> keep(S, 0), keep_flip(S);
    for (int i = 0; i < S; ++i) keep_flip[i] = detail.status[i] == 1 ? 0 : -1;

    // inner sparse vertices: reliable ones sitting on registered dense pixels (or mirrored ones)
    std::vector<int> type(V, -1), type_flip(V, -1);
    auto count_good = [](const RowMatrixXi& m, const Eigen::Vector2f& q) {
        const int x = safe_floor(q.x()), y = safe_floor(q.y());
        if (x < -1 || y < -1) return 0;
        return (at_or_none(m, y, x) >= 0) + (at_or_none(m, y + 1, x) >= 0) + (at_or_none(m, y, x + 1) >= 0) +
               (at_or_none(m, y + 1, x + 1) >= 0);
    };
    for (int i = 0; i < V; ++i) {
        if (scores(i) >= 0.75f) {
            if (count_good(vsub, proj.row(i).transpose()) >= 3) type[i] = 0;
        } else {
            const int p = pair(i);
            if (p >= 0 && scores(p) >= 0.75f && count_good(vflip, proj.row(p).transpose()) >= 3) type_flip[i] = 0;
        }
    }
    grow_rings(type, nb);
    grow_rings(type_flip, nb);
    std::vector<char> inner(V);
    for (int i = 0; i < V; ++i) inner[i] = (type[i] == 0 || type_flip[i] == 0);

    std::vector<int> kept_faces;
    for (Eigen::Index f = 0; f < faces.rows(); ++f) {
        const int a = faces(f, 0), b = faces(f, 1), c = faces(f, 2);
        if (!inner[a] && !inner[b] && !inner[c]) {
            kept_faces.push_back(static_cast<int>(f));
            continue;
        }
        for_pixels_in(proj.row(a).transpose(), proj.row(b).transpose(), proj.row(c).transpose(), W, H, [&](int x, int y) {
            const int v = at_or_none(vsub, y, x);
            if (v >= 0) keep[v] = 1;
        });
    }
    for (Eigen::Index f = 0; f < faces.rows(); ++f) {
        const int a = faces(f, 0), b = faces(f, 1), c = faces(f, 2);
        const int pa = pair(a), pb = pair(b), pc = pair(c);
        if (pa >= 0 && !inner[pa] && pb >= 0 && !inner[pb] && pc >= 0 && !inner[pc]) continue;
        for_pixels_in(proj.row(a).transpose(), proj.row(b).transpose(), proj.row(c).transpose(), W, H, [&](int x, int y) {
            const int v = at_or_none(vflip, y, x);
            if (v >= 0 && keep_flip[v] >= 0) keep_flip[v] = 1;
        });
    }
    ring_and_prune(keep, vsub, reg, dense);
    ring_and_prune(keep_flip, vflip, reg, dense);
    const MatrixX3i dense_faces = grid_faces(vsub);
    MatrixX3i flip_faces = grid_faces(vflip);
    flip_faces.col(0).swap(flip_faces.col(1));

    Mesh out;
    out.vertices.resize(V + 2 * S, 3);
    out.vertices.topRows(V) = sparse;
    out.vertices.middleRows(V, S) = detail.dense;
    out.vertices.bottomRows(S) = detail.mirrored;
    const Eigen::Index nf = static_cast<Eigen::Index>(kept_faces.size());
    out.faces.resize(nf + dense_faces.rows() + flip_faces.rows(), 3);
    for (Eigen::Index k = 0; k < nf; ++k) out.faces.row(k) = faces.row(kept_faces[k]);
    out.faces.middleRows(nf, dense_faces.rows()) = dense_faces.array() + V;
    out.faces.bottomRows(flip_faces.rows()) = flip_faces.array() + (V + S);
    if (stats) {
        stats->inner_sparse = static_cast<int>(std::count(inner.begin(), inner.end(), 1));
        stats->kept_sparse_faces = static_cast<int>(nf);
        stats->dense_faces = static_cast<int>(dense_faces.rows());
        stats->mirrored_faces = static_cast<int>(flip_faces.rows());
    }
    return out;
}

}  // namespace extreme3d::core
