// Jaw-contour landmark vertices matched to the current occluding contour.
#include "fit/contour_correspondence.hpp"

#include <cmath>
#include <limits>

namespace extreme3d::fit {

ContourModel make_contour_model(const FaceModel& model) {
    ContourModel c;
    const bool fill_covers = model.faces_fill.rows() > model.faces.rows();
    c.triangles = fill_covers ? model.faces_fill : model.faces;
    c.edges = edge_topology(c.triangles);
    const int V = model.num_vertices();
    double mid = 0;
    for (int k = 27; k <= 30; ++k) mid += model.shape_mu(3 * model.outer_landmarks(k)) / 4.0;
    const double right_sign = model.shape_mu(3 * model.outer_landmarks(0)) < mid ? -1.0 : 1.0;
    c.side.assign(static_cast<std::size_t>(V), 0);
    for (int v = 0; v < V; ++v) {
        const double dx = (model.shape_mu(3 * v) - mid) * right_sign;
        c.side[static_cast<std::size_t>(v)] = dx > 2.0 ? -1 : (dx < -2.0 ? 1 : 0);
    }
    return c;
}

std::vector<int> contour_vertices(const ContourModel& contour, const FaceModel& model, const MatrixX3d& vertices,
                                  const Pose& pose, const Camera& cam, const MatrixX2f& landmarks,
                                  bool occlusion) {
    const std::vector<char> facing = front_facing(vertices, contour.triangles, pose);
    const std::vector<int> sil = silhouette_vertices(contour.edges, facing);
    const std::vector<char> seen = front_vertices(model.num_vertices(), contour.triangles, facing);
    const Eigen::Matrix3d R = pose.rotation();
    auto project = [&](int v) {
        return project_camera_point(R * vertices.row(v).transpose() + pose.tvec, cam);
    };
    std::vector<Eigen::Vector2d> sil_uv(sil.size());
    for (std::size_t s = 0; s < sil.size(); ++s) sil_uv[s] = project(sil[s]);

    std::vector<int> out(17);
    std::vector<char> jaw_seen;
    if (occlusion) {
        std::vector<int> jaw(17);
        for (int j = 0; j < 17; ++j) jaw[static_cast<std::size_t>(j)] = model.outer_landmarks(j);
        jaw_seen = visible_vertices(vertices, contour.triangles, pose, cam, jaw);
    }
    for (int j = 0; j < 17; ++j) {
        if (occlusion && jaw_seen[static_cast<std::size_t>(j)] && seen[model.outer_landmarks(j)]) {
            out[static_cast<std::size_t>(j)] = model.outer_landmarks(j);
            continue;
        }
        const Eigen::Vector2d target = landmarks.row(j).cast<double>().transpose();
        const int want = j < 8 ? -1 : (j > 8 ? 1 : 0);
        const int fixed = model.outer_landmarks(j);
        int best = fixed;
        double best_d = (seen[fixed] && !occlusion) ? (project(fixed) - target).squaredNorm() : std::numeric_limits<double>::infinity();
        for (std::size_t s = 0; s < sil.size(); ++s) {
            const int side = contour.side[static_cast<std::size_t>(sil[s])];
            if (want != 0 && side != want) continue;
            const double d = (sil_uv[s] - target).squaredNorm();
            if (d < best_d) {
                best_d = d;
                best = sil[s];
            }
        }
        out[static_cast<std::size_t>(j)] = best;
    }
    return out;
}

}  // namespace extreme3d::fit
