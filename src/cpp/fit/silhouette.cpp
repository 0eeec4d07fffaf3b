// Occluding contour of a mesh: edge adjacency, triangle facing, silhouette vertices.
#include "fit/silhouette.hpp"

#include <Eigen/Geometry>
#include <algorithm>
#include <array>

namespace extreme3d::fit {

EdgeTopology edge_topology(const MatrixX3i& faces) {
    // Half-edges (min id, max id, triangle), sorted so that the two sides of an edge are adjacent.
    std::vector<std::array<int, 3>> half;
    half.reserve(static_cast<std::size_t>(faces.rows()) * 3);
    for (Eigen::Index f = 0; f < faces.rows(); ++f)
        for (int k = 0; k < 3; ++k) {
            const int a = faces(f, k), b = faces(f, (k + 1) % 3);
            half.push_back({std::min(a, b), std::max(a, b), static_cast<int>(f)});
        }
    std::sort(half.begin(), half.end());
    EdgeTopology out;
    for (std::size_t i = 0; i < half.size();) {
        std::size_t j = i + 1;
        while (j < half.size() && half[j][0] == half[i][0] && half[j][1] == half[i][1]) ++j;
        out.vertices.emplace_back(half[i][0], half[i][1]);
        out.triangles.emplace_back(half[i][2], j - i > 1 ? half[i + 1][2] : -1);
        i = j;
    }
    return out;
}

std::vector<char> front_facing(const MatrixX3d& vertices, const MatrixX3i& faces, const Pose& pose) {
    const Eigen::Matrix3d R = pose.rotation();
    std::vector<char> out(static_cast<std::size_t>(faces.rows()));
    for (Eigen::Index f = 0; f < faces.rows(); ++f) {
        const Eigen::Vector3d a = vertices.row(faces(f, 0)).transpose();
        const Eigen::Vector3d b = vertices.row(faces(f, 1)).transpose();
        const Eigen::Vector3d c = vertices.row(faces(f, 2)).transpose();
        const Eigen::Vector3d n = R * (b - a).cross(c - a);
        const Eigen::Vector3d centre = R * ((a + b + c) / 3.0) + pose.tvec;
        out[static_cast<std::size_t>(f)] = n.dot(-centre) > 0;
    }
    return out;
}

std::vector<int> silhouette_vertices(const EdgeTopology& edges, const std::vector<char>& facing) {
    std::vector<int> out;
    for (std::size_t e = 0; e < edges.vertices.size(); ++e) {
        const Eigen::Vector2i t = edges.triangles[e];
        const bool border = t(1) < 0;
        const bool contour = border ? facing[t(0)] != 0 : facing[t(0)] != facing[t(1)];
        if (!contour) continue;
        out.push_back(edges.vertices[e](0));
        out.push_back(edges.vertices[e](1));
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::vector<char> front_vertices(int num_vertices, const MatrixX3i& faces, const std::vector<char>& facing) {
    std::vector<char> out(static_cast<std::size_t>(num_vertices), 0);
    for (Eigen::Index f = 0; f < faces.rows(); ++f)
        if (facing[static_cast<std::size_t>(f)])
            for (int k = 0; k < 3; ++k) out[faces(f, k)] = 1;
    return out;
}

}  // namespace extreme3d::fit
