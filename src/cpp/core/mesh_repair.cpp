// Orientation by chart area and bow-tie removal for the clean final mesh.
#include "core/mesh_repair.hpp"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <vector>

#include "core/mesh_edges.hpp"

namespace extreme3d::core {

MatrixX3i orient_by_area(const MatrixX2d& uv, const MatrixX3i& triangles, double sign) {
    MatrixX3i out(triangles.rows(), 3);
    Eigen::Index n = 0;
    for (Eigen::Index t = 0; t < triangles.rows(); ++t) {
        const int a = triangles(t, 0), b = triangles(t, 1), c = triangles(t, 2);
        const double ax = uv(b, 0) - uv(a, 0), ay = uv(b, 1) - uv(a, 1);
        const double bx = uv(c, 0) - uv(a, 0), by = uv(c, 1) - uv(a, 1);
        const double area = (ax * by - ay * bx) * sign;
        if (area == 0) continue;
        out.row(n++) << a, (area < 0 ? c : b), (area < 0 ? b : c);
    }
    out.conservativeResize(n, 3);
    return out;
}

namespace {

/// Marks in `drop` the faces around vertex v (`around`: its faces in increasing order) outside its
/// largest fan. Faces are visited in order; a face is joined to the earlier face that first used
/// one of its two other vertices.
void mark_small_fans(const MatrixX3i& faces, int v, const std::vector<int>& around, std::vector<std::uint8_t>& drop) {
    const int m = static_cast<int>(around.size());
    std::vector<int> parent(static_cast<size_t>(m));
    for (int k = 0; k < m; ++k) parent[static_cast<size_t>(k)] = k;
    std::unordered_map<int, int> seen;
    for (int k = 0; k < m; ++k)
        for (int j = 0; j < 3; ++j) {
            const int u = faces(around[static_cast<size_t>(k)], j);
            if (u == v) continue;
            const auto it = seen.find(u);
            if (it != seen.end())
                parent[static_cast<size_t>(find_root(parent, k))] = find_root(parent, it->second);
            else
                seen.emplace(u, k);
        }
    std::map<int, int> size;  // root -> faces, roots in increasing order
    std::vector<int> label(static_cast<size_t>(m));
    for (int k = 0; k < m; ++k) ++size[label[static_cast<size_t>(k)] = find_root(parent, k)];
    int best = -1, best_size = -1;
    for (const auto& [root, count] : size)
        if (count > best_size) {
            best = root;
            best_size = count;
        }
    for (int k = 0; k < m; ++k)
        if (label[static_cast<size_t>(k)] != best) drop[static_cast<size_t>(around[static_cast<size_t>(k)])] = 1;
}

}  // namespace

namespace {

/// Faces around each vertex of `vertices` (in increasing face order), using `slot` (-1 or the
/// vertex's position in `vertices`) as scratch; `slot` is reset on return.
std::vector<std::vector<int>> faces_around(const MatrixX3i& f, const std::vector<int>& vertices, std::vector<int>& slot) {
    for (size_t i = 0; i < vertices.size(); ++i) slot[static_cast<size_t>(vertices[i])] = static_cast<int>(i);
    std::vector<std::vector<int>> around(vertices.size());
    for (Eigen::Index t = 0; t < f.rows(); ++t)
        for (int j = 0; j < 3; ++j) {
            const int s = slot[static_cast<size_t>(f(t, j))];
            if (s >= 0 && (around[static_cast<size_t>(s)].empty() || around[static_cast<size_t>(s)].back() != t))
                around[static_cast<size_t>(s)].push_back(static_cast<int>(t));
        }
    for (const int v : vertices) slot[static_cast<size_t>(v)] = -1;
    return around;
}

/// Outgoing boundary half-edges of vertex v (v -> x in a face, the edge {v, x} in no other face),
/// from the faces around it.
int boundary_out(const MatrixX3i& f, int v, const std::vector<int>& around) {
    int count = 0;
    for (const int t : around)
        for (int j = 0; j < 3; ++j) {
            if (f(t, j) != v) continue;
            const int x = f(t, (j + 1) % 3);
            int uses = 0;
            for (const int s : around)
                for (int k = 0; k < 3; ++k) uses += f(s, k) == v && (f(s, (k + 1) % 3) == x || f(s, (k + 2) % 3) == x);
            count += uses == 1;
        }
    return count;
}

}  // namespace

MatrixX3i drop_bowties(const MatrixX3i& faces, int num_vertices) {
    MatrixX3i f = faces;
    std::vector<int> bad;
    {
        const MatrixX2i he = boundary_half_edges(f, num_vertices);
        std::vector<int> out_count(static_cast<size_t>(num_vertices), 0);
        for (Eigen::Index i = 0; i < he.rows(); ++i) ++out_count[static_cast<size_t>(he(i, 0))];
        for (int v = 0; v < num_vertices; ++v)
            if (out_count[static_cast<size_t>(v)] > 1) bad.push_back(v);
    }
    std::vector<int> slot(static_cast<size_t>(num_vertices), -1);
    for (int round = 0; round < 10 && !bad.empty(); ++round) {
        const std::vector<std::vector<int>> around = faces_around(f, bad, slot);
        std::vector<std::uint8_t> drop(static_cast<size_t>(f.rows()), 0);
        for (size_t i = 0; i < bad.size(); ++i) mark_small_fans(f, bad[i], around[i], drop);
        // only the vertices of removed faces can change: they are checked again on what is left
        std::vector<int> touched;
        std::vector<std::uint8_t> seen(static_cast<size_t>(num_vertices), 0);
        MatrixX3i kept(f.rows(), 3);
        Eigen::Index n = 0;
        for (Eigen::Index t = 0; t < f.rows(); ++t) {
            if (!drop[static_cast<size_t>(t)]) {
                kept.row(n++) = f.row(t);
                continue;
            }
            for (int j = 0; j < 3; ++j) {
                const auto v = static_cast<size_t>(f(t, j));
                if (!seen[v]) touched.push_back(f(t, j));
                seen[v] = 1;
            }
        }
        kept.conservativeResize(n, 3);
        f = std::move(kept);
        std::sort(touched.begin(), touched.end());
        const std::vector<std::vector<int>> near = faces_around(f, touched, slot);
        bad.clear();
        for (size_t i = 0; i < touched.size(); ++i)
            if (boundary_out(f, touched[i], near[i]) > 1) bad.push_back(touched[i]);
    }
    return f;
}

}  // namespace extreme3d::core
