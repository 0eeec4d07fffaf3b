// Edge topology of triangle meshes: boundary half-edges and face components.
#include "core/mesh_edges.hpp"

#include <algorithm>
#include <cstdint>
#include <numeric>

namespace extreme3d::core {

MatrixX2i boundary_half_edges(const MatrixX3i& faces, int num_vertices) {
    const Eigen::Index nh = 3 * faces.rows();
    // bucket the half-edges by their smaller vertex (counting sort), then find runs of equal larger
    // vertices within each bucket: a run of one is a boundary edge
    std::vector<int> start(static_cast<size_t>(num_vertices) + 1, 0);
    for (Eigen::Index h = 0; h < nh; ++h) {
        const int a = faces(h / 3, h % 3), b = faces(h / 3, (h + 1) % 3);
        ++start[static_cast<size_t>(std::min(a, b)) + 1];
    }
    std::partial_sum(start.begin(), start.end(), start.begin());
    std::vector<int> fill(start.begin(), start.end() - 1);
    // bucket entries: (larger vertex << 32) | half-edge, so that plain integer sorting groups them
    std::vector<std::uint64_t> bucket(static_cast<size_t>(nh));
    for (Eigen::Index h = 0; h < nh; ++h) {
        const int a = faces(h / 3, h % 3), b = faces(h / 3, (h + 1) % 3);
        bucket[static_cast<size_t>(fill[static_cast<size_t>(std::min(a, b))]++)] =
            (static_cast<std::uint64_t>(std::max(a, b)) << 32) | static_cast<std::uint64_t>(h);
    }
    std::vector<std::uint8_t> once(static_cast<size_t>(nh), 0);
    for (int v = 0; v < num_vertices; ++v) {
        const auto lo = bucket.begin() + start[static_cast<size_t>(v)];
        const auto hi = bucket.begin() + start[static_cast<size_t>(v) + 1];
        std::sort(lo, hi);  // equal larger vertices become runs (sorting keeps large fans n log n)
        for (auto i = lo; i != hi;) {
            auto j = i + 1;
            while (j != hi && (*j >> 32) == (*i >> 32)) ++j;
            if (j - i == 1) once[static_cast<size_t>(*i & 0xffffffffu)] = 1;
            i = j;
        }
    }
    std::vector<std::int64_t> hs;
    for (Eigen::Index h = 0; h < nh; ++h)
        if (once[static_cast<size_t>(h)]) hs.push_back(h);
    MatrixX2i out(static_cast<Eigen::Index>(hs.size()), 2);
    for (size_t i = 0; i < hs.size(); ++i) {
        out(static_cast<Eigen::Index>(i), 0) = faces(hs[i] / 3, hs[i] % 3);
        out(static_cast<Eigen::Index>(i), 1) = faces(hs[i] / 3, (hs[i] + 1) % 3);
    }
    return out;
}

int find_root(std::vector<int>& parent, int x) {
    while (parent[static_cast<size_t>(x)] != x) {
        parent[static_cast<size_t>(x)] = parent[static_cast<size_t>(parent[static_cast<size_t>(x)])];
        x = parent[static_cast<size_t>(x)];
    }
    return x;
}

Eigen::VectorXi face_components(const MatrixX3i& faces, int num_vertices) {
    std::vector<int> parent(static_cast<size_t>(num_vertices));
    std::iota(parent.begin(), parent.end(), 0);
    for (Eigen::Index f = 0; f < faces.rows(); ++f) {
        const int r0 = find_root(parent, faces(f, 0));
        for (int k = 1; k < 3; ++k) {
            const int r = find_root(parent, faces(f, k));
            if (r != r0) parent[static_cast<size_t>(r)] = r0;
        }
    }
    std::vector<int> label(static_cast<size_t>(num_vertices), -1);
    Eigen::VectorXi out(faces.rows());
    int next = 0;
    for (Eigen::Index f = 0; f < faces.rows(); ++f) {
        const int r = find_root(parent, faces(f, 0));
        int& l = label[static_cast<size_t>(r)];
        if (l < 0) l = next++;
        out(f) = l;
    }
    return out;
}

}  // namespace extreme3d::core
