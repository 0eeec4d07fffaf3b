// Bad vertices and the erosion / dilation / far-side passes on the occlusion scores.
#include "core/bad_vertices.hpp"

#include <cmath>

namespace extreme3d::core {

Flags find_bad_vertices(const MatrixX3f& sparse, const MatrixX3f& foundation, const MatrixX3i& faces) {
    const Eigen::Index V = sparse.rows();
    Flags flipped(V, 0);
    Eigen::VectorXf stretch = Eigen::VectorXf::Zero(V);
    for (Eigen::Index f = 0; f < faces.rows(); ++f) {
        const int a = faces(f, 0), b = faces(f, 1), c = faces(f, 2);
        const Eigen::Vector3f na = (sparse.row(b) - sparse.row(a)).transpose().cross(
            (sparse.row(c) - sparse.row(a)).transpose());
        const Eigen::Vector3f nb = (foundation.row(b) - foundation.row(a)).transpose().cross(
            (foundation.row(c) - foundation.row(a)).transpose());
        const float dot = (na / na.norm()).dot(nb / nb.norm());
        if (dot < 0.2f) flipped[a] = flipped[b] = flipped[c] = 1;  // NaN (degenerate) does not flag
        const Eigen::RowVector3f cn = (sparse.row(a) + sparse.row(b) + sparse.row(c)) / 3.f;
        const Eigen::RowVector3f co = (foundation.row(a) + foundation.row(b) + foundation.row(c)) / 3.f;
        for (int k = 0; k < 3; ++k) {
            const int v = faces(f, k);
            const float d1 = (sparse.row(v) - cn).norm(), d2 = (foundation.row(v) - co).norm();
            const float val = d1 / d2 * 50;
            if (val > stretch(v)) stretch(v) = val;
        }
    }
    Flags bad(V, 0);
    for (Eigen::Index i = 0; i < V; ++i) bad[i] = (flipped[i] || stretch(i) > 80) ? 1 : 0;
    return bad;
}

void occlusion_passes(Eigen::VectorXf& w, const Flags& bad, const MatrixX3i& faces, const Eigen::VectorXf& model_x,
                      float ry) {
    for (Eigen::Index i = 0; i < w.size(); ++i)
        if (bad[i]) w(i) = 0;
    Eigen::VectorXf w2 = w;
    for (Eigen::Index f = 0; f < faces.rows(); ++f) {
        const int a = faces(f, 0), b = faces(f, 1), c = faces(f, 2);
        if (w(a) < 0.75f || w(b) < 0.75f || w(c) < 0.75f) w2(a) = w2(b) = w2(c) = 0;
    }
    w = w2;
    for (Eigen::Index f = 0; f < faces.rows(); ++f) {
        const int a = faces(f, 0), b = faces(f, 1), c = faces(f, 2);
        if (w(a) >= 0.75f || w(b) >= 0.75f || w(c) >= 0.75f) w2(a) = w2(b) = w2(c) = 1;
    }
    w = w2;
    float ddx = std::cos(5 * ry) * 100;
    if (ddx < 0) ddx = 0;
    for (Eigen::Index i = 0; i < w.size(); ++i)
        if ((ry > 0 && model_x(i) > ddx) || (ry < 0 && -model_x(i) > ddx)) w(i) = w(i) / 2;
}

}  // namespace extreme3d::core
