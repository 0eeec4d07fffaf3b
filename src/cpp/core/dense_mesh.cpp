// Dense mesh: back-projection of covered pixels and the grid triangulation.
#include "core/dense_mesh.hpp"

#include <stdexcept>
#include <string>

#include "core/common.hpp"

namespace extreme3d::core {

DenseMesh build_dense_mesh(const RowMatrixXf& raw_depth, const RowMatrixXu8& mask, const Camera& cam, int margin) {
    const int H = static_cast<int>(raw_depth.rows()), W = static_cast<int>(raw_depth.cols());
    if (margin < 0 || mask.rows() < H + margin || mask.cols() < W + margin)
        throw std::invalid_argument("mask of " + std::to_string(mask.rows()) + "x" + std::to_string(mask.cols()) +
                                    " is too small for a " + std::to_string(H) + "x" + std::to_string(W) +
                                    " image with margin " + std::to_string(margin));
    DenseMesh d;
    d.vindex = RowMatrixXi::Constant(H, W, -1);
    d.rel_depth = RowMatrixXf::Zero(H, W);
    d.px.reserve(static_cast<size_t>(H) * W / 2);
    d.py.reserve(static_cast<size_t>(H) * W / 2);
    RowMatrixXf z = RowMatrixXf::Zero(H, W);
    float min_depth = 0.f;
    for (int x = 0; x < W; ++x) {
        for (int y = 0; y < H; ++y) {
            if (mask(y + margin, x + margin) < 127) continue;
            const float dd = raw_depth(y, x);
            if (!(dd < 0.9999f)) continue;
            d.vindex(y, x) = static_cast<int>(d.px.size());
            d.px.push_back(x);
            d.py.push_back(y);
            z(y, x) = raw_depth_to_z(dd, cam);
            if (min_depth > z(y, x)) min_depth = z(y, x);
        }
    }
    d.min_depth = min_depth;
    const float K0 = -static_cast<float>(cam.focal), K4 = static_cast<float>(cam.focal);
    const float K2 = static_cast<float>(cam.cx()), K5 = static_cast<float>(cam.cy());
    const int n = static_cast<int>(d.px.size());
    d.vertices.resize(n, 3);
    for (int i = 0; i < n; ++i) {
        const int x = d.px[i], y = d.py[i];
        // the original shifts the buffer by min_depth and adds it back: keep that float rounding
        const float rel = z(y, x) - min_depth;
        d.rel_depth(y, x) = rel;
        const float vz = rel + min_depth;
        d.vertices(i, 2) = vz;
        d.vertices(i, 0) = vz * (static_cast<float>(x) - K2) / K0;
        d.vertices(i, 1) = vz * (static_cast<float>(y) - K5) / K4;
    }
    d.faces = grid_faces(d.vindex);
    return d;
}

MatrixX3i grid_faces(const RowMatrixXi& g) {
    std::vector<int> out;
    out.reserve(static_cast<size_t>(g.size()) * 2 * 3 / 2);
    auto emit = [&out](int a, int b, int c) {
        out.push_back(a);
        out.push_back(b);
        out.push_back(c);
    };
    for (Eigen::Index r = 0; r + 1 < g.rows(); ++r) {
        for (Eigen::Index c = 0; c + 1 < g.cols(); ++c) {
            const int tr = g(r, c + 1);
            if (tr < 0) continue;  // as coded: a quad without its top-right corner gives nothing
            const int tl = g(r, c), bl = g(r + 1, c), br = g(r + 1, c + 1);
            if (tl >= 0 && bl >= 0) emit(tr, tl, bl);
            if (bl >= 0 && br >= 0) emit(tr, bl, br);
            if (bl < 0 && tl >= 0 && br >= 0) emit(tr, tl, br);
        }
    }
    return Eigen::Map<const MatrixX3i>(out.data(), static_cast<Eigen::Index>(out.size() / 3), 3);
}

}  // namespace extreme3d::core
