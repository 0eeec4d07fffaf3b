// Bump layering on the dense mesh and bump transfer to the sparse mesh.
#include "core/bump_layer.hpp"

#include <cmath>
#include <stdexcept>

namespace extreme3d::core {

float bump_to_mm(std::uint8_t b) {
    const float change = (static_cast<float>(b) - 127) / 12;  // float division as the original
    return static_cast<float>(change * 1.25);                  // then a double product
}

void apply_bump(DenseMesh& dense, const RowMatrixXu8& bump, int margin) {
    const Eigen::Index H = dense.vindex.rows(), W = dense.vindex.cols();
    if (bump.rows() < H + margin || bump.cols() < W + margin)
        throw std::invalid_argument("bump map is too small for the image plus margin");
    for (size_t j = 0; j < dense.px.size(); ++j) {
        const int x = dense.px[j], y = dense.py[j];
        float& z = dense.vertices(static_cast<Eigen::Index>(j), 2);
        z += bump_to_mm(bump(y + margin, x + margin));
        dense.rel_depth(y, x) = z - dense.min_depth;
    }
}

double bilinear(const RowMatrixXf& img, double x, double y) {
    const int fx = static_cast<int>(std::floor(x)), fy = static_cast<int>(std::floor(y));
    if (fx < 0 || fx >= img.cols() - 1 || fy < 0 || fy >= img.rows() - 1) return 0.0;
    const double px = x - fx, py = y - fy;
    const double tl = img(fy, fx), tr = img(fy, fx + 1), bl = img(fy + 1, fx), br = img(fy + 1, fx + 1);
    return tl * (1 - px) * (1 - py) + tr * px * (1 - py) + bl * (1 - px) * py + br * px * py;
}

Flags transfer_bump_to_sparse(MatrixX3f& aligned, const MatrixX2f& proj, const Flags& visible,
                              const Eigen::VectorXi& pair, const RowMatrixXu8& vis_mask, const DenseMesh& dense,
                              Flags& partner_bumped) {
    const int V = static_cast<int>(aligned.rows());
    const int W = static_cast<int>(vis_mask.cols()), H = static_cast<int>(vis_mask.rows());
    Flags bumped(V, 0);
    partner_bumped.assign(V, 0);
    for (int i = 0; i < V; ++i) {
        const int p = pair(i);
        if (p < 0 || p >= V || pair(p) != i || !visible[i]) continue;
        const int x = safe_floor(proj(i, 0)), y = safe_floor(proj(i, 1));
        if (x < 0 || y < 0 || x >= W - 1 || y >= H - 1) continue;
        if (!(vis_mask(y, x) && vis_mask(y, x + 1) && vis_mask(y + 1, x) && vis_mask(y + 1, x + 1))) continue;
        const float dd = static_cast<float>(bilinear(dense.rel_depth, proj(i, 0), proj(i, 1)));
        const float change = dd + dense.min_depth - aligned(i, 2);
        aligned(i, 2) += change;
        bumped[i] = 1;
        partner_bumped[p] = 1;
    }
    return bumped;
}

}  // namespace extreme3d::core
