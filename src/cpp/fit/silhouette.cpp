// Occluding contour of a mesh: edge adjacency, triangle facing, silhouette vertices.
#include "fit/silhouette.hpp"

#include <Eigen/Geometry>
#include <algorithm>
#include <array>
#include <cmath>

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

std::vector<char> visible_vertices(const MatrixX3d& vertices, const MatrixX3i& faces, const Pose& pose,
                                   const Camera& cam, const std::vector<int>& ids, double slack) {
    const Eigen::Matrix3d R = pose.rotation();
    const Eigen::Index V = vertices.rows();
    MatrixX2d uv(V, 2);
    Eigen::VectorXd z(V);
    for (Eigen::Index v = 0; v < V; ++v) {
        const Eigen::Vector3d xc = R * vertices.row(v).transpose() + pose.tvec;
        uv.row(v) = project_camera_point(xc, cam).transpose();
        z(v) = xc.z();
    }
    std::vector<char> out(ids.size(), 1);
    for (std::size_t k = 0; k < ids.size(); ++k) {
        const int id = ids[k];
        const Eigen::Vector2d p = uv.row(id).transpose();
        for (Eigen::Index f = 0; f < faces.rows() && out[k]; ++f) {
            const int a = faces(f, 0), b = faces(f, 1), c = faces(f, 2);
            if (a == id || b == id || c == id) continue;
            const double den = (uv(b, 1) - uv(c, 1)) * (uv(a, 0) - uv(c, 0)) + (uv(c, 0) - uv(b, 0)) * (uv(a, 1) - uv(c, 1));
            if (std::abs(den) <= 1e-9) continue;
            const double w0 = ((uv(b, 1) - uv(c, 1)) * (p.x() - uv(c, 0)) + (uv(c, 0) - uv(b, 0)) * (p.y() - uv(c, 1))) / den;
            const double w1 = ((uv(c, 1) - uv(a, 1)) * (p.x() - uv(c, 0)) + (uv(a, 0) - uv(c, 0)) * (p.y() - uv(c, 1))) / den;
            const double w2 = 1 - w0 - w1;
            if (w0 < 0 || w1 < 0 || w2 < 0) continue;
            // camera z < 0 in front: a larger z is nearer to the camera
            if (w0 * z(a) + w1 * z(b) + w2 * z(c) > z(id) + slack) out[k] = 0;
        }
    }
    return out;
}

}  // namespace extreme3d::fit
