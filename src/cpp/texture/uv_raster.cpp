// UV-space rasterisation with edge functions over each triangle's bounding box of texel centres.
#include "texture/uv_raster.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace extreme3d::texture {
namespace {

/// Twice the signed area of (a, b, p) in (column, row) coordinates.
inline double edge(double ax, double ay, double bx, double by, double px, double py) {
    return (bx - ax) * (py - ay) - (by - ay) * (px - ax);
}

/// Whether the edge a -> b of a triangle with positive orientation (edge() > 0 inside) is a
/// "top" or "left" edge, whose texel centres lying exactly on it belong to the triangle.
inline bool top_left(double ax, double ay, double bx, double by) {
    const double dx = bx - ax, dy = by - ay;
    return (dy == 0 && dx < 0) || dy > 0;
}

/// Writes `id` into every texel whose centre the triangle (p0, p1, p2) covers.
void fill_triangle(const std::array<double, 6>& p, int id, int size, std::vector<int>& ids) {
    double x0 = p[0], y0 = p[1], x1 = p[2], y1 = p[3], x2 = p[4], y2 = p[5];
    double area = edge(x0, y0, x1, y1, x2, y2);
    if (area == 0 || !std::isfinite(area)) return;
    if (area < 0) {  // orient so that inside is edge() > 0
        std::swap(x1, x2);
        std::swap(y1, y2);
    }
    const int c0 = std::max(0, int(std::ceil(std::min({x0, x1, x2}) - 0.5)));
    const int c1 = std::min(size - 1, int(std::floor(std::max({x0, x1, x2}) - 0.5)));
    const int r0 = std::max(0, int(std::ceil(std::min({y0, y1, y2}) - 0.5)));
    const int r1 = std::min(size - 1, int(std::floor(std::max({y0, y1, y2}) - 0.5)));
    const bool tl0 = top_left(x1, y1, x2, y2), tl1 = top_left(x2, y2, x0, y0),
               tl2 = top_left(x0, y0, x1, y1);
    for (int r = r0; r <= r1; ++r) {
        const double py = r + 0.5;
        for (int c = c0; c <= c1; ++c) {
            const double px = c + 0.5;
            const double w0 = edge(x1, y1, x2, y2, px, py);
            const double w1 = edge(x2, y2, x0, y0, px, py);
            const double w2 = edge(x0, y0, x1, y1, px, py);
            if ((w0 > 0 || (w0 == 0 && tl0)) && (w1 > 0 || (w1 == 0 && tl1)) &&
                (w2 > 0 || (w2 == 0 && tl2)))
                ids[std::size_t(r) * size + c] = id;
        }
    }
}

}  // namespace

MatrixX2d uv_to_texels(const MatrixX2f& uv, int size) {
    MatrixX2d px(uv.rows(), 2);
    for (Eigen::Index i = 0; i < uv.rows(); ++i) {
        px(i, 0) = double(uv(i, 0)) * size;
        px(i, 1) = (1.0 - double(uv(i, 1))) * size;
    }
    return px;
}

UvRaster rasterize_texels(const MatrixX2d& texels, const MatrixX3i& faces, int size) {
    UvRaster out;
    out.size = size;
    const std::size_t n = std::size_t(size) * size;
    out.ids.assign(n, -1);
    out.bary.assign(3 * n, 0.0f);
    const Eigen::Index F = faces.rows();
    auto corners = [&](Eigen::Index f) {
        std::array<double, 6> p;
        for (int k = 0; k < 3; ++k) {
            p[2 * k] = texels(faces(f, k), 0);
            p[2 * k + 1] = texels(faces(f, k), 1);
        }
        return p;
    };
    // Draw order of the renderer: clockwise (kept first-winding copies) then counter-clockwise.
    for (int pass = 0; pass < 2; ++pass) {
        for (Eigen::Index f = 0; f < F; ++f) {
            const auto p = corners(f);
            const double area = edge(p[0], p[1], p[2], p[3], p[4], p[5]);
            if ((pass == 0) != (area < 0)) continue;
            fill_triangle(p, int(f), size, out.ids);
        }
    }
    // Barycentrics of each texel centre in its triangle (the reference's formula).
    for (std::size_t t = 0; t < n; ++t) {
        const int f = out.ids[t];
        if (f < 0) continue;
        const auto p = corners(f);
        const double px = double(t % size) + 0.5, py = double(t / size) + 0.5;
        const double e0x = p[2] - p[0], e0y = p[3] - p[1];
        const double e1x = p[4] - p[0], e1y = p[5] - p[1];
        const double e2x = px - p[0], e2y = py - p[1];
        const double d00 = e0x * e0x + e0y * e0y, d01 = e0x * e1x + e0y * e1y;
        const double d11 = e1x * e1x + e1y * e1y;
        const double d20 = e2x * e0x + e2y * e0y, d21 = e2x * e1x + e2y * e1y;
        double den = d00 * d11 - d01 * d01;
        if (std::abs(den) < 1e-18) den = 1e-18;
        const double w1 = (d11 * d20 - d01 * d21) / den;
        const double w2 = (d00 * d21 - d01 * d20) / den;
        double b[3] = {std::max(1.0 - w1 - w2, 0.0), std::max(w1, 0.0), std::max(w2, 0.0)};
        const double s = std::max(b[0] + b[1] + b[2], 1e-12);
        for (int k = 0; k < 3; ++k) out.bary[3 * t + k] = float(b[k] / s);
    }
    return out;
}

}  // namespace extreme3d::texture
