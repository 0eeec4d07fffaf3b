// Visibility test and bilinear sampling of the photo (see photo_view.hpp).
#include "texture/photo_view.hpp"

#include <algorithm>
#include <cmath>

namespace extreme3d::texture {

bool sees(const PhotoView& view, const Eigen::Vector3d& p, const Eigen::Vector3d& n, double& u,
          double& v) {
    const Eigen::Matrix3d& R = view.R;
    const double x = R(0, 0) * p.x() + R(0, 1) * p.y() + R(0, 2) * p.z() + view.t.x();
    const double y = R(1, 0) * p.x() + R(1, 1) * p.y() + R(1, 2) * p.z() + view.t.y();
    const double z = R(2, 0) * p.x() + R(2, 1) * p.y() + R(2, 2) * p.z() + view.t.z();
    if (!(z < 0)) return false;
    const int w = view.width, h = view.height;
    u = -view.focal * x / z + w / 2.0;
    v = view.focal * y / z + h / 2.0;
    if (!std::isfinite(u) || !std::isfinite(v)) return false;
    if (!(u >= 1.0 && u < w - 1.0 && v >= 1.0 && v < h - 1.0)) return false;
    const long x0 = long(std::floor(u - 0.5)), y0 = long(std::floor(v - 0.5));
    const long base = y0 * w + x0;
    for (const long off : {0L, 1L, long(w), long(w) + 1}) {
        if (!view.shown[base + off]) return false;
        if (!(std::abs(double(view.zbuf[base + off]) - z) <= view.depth_tol)) return false;
    }
    const Eigen::Vector3d nc = R * n;
    const double len = std::max(std::sqrt(x * x + y * y + z * z), 1e-12);
    const double cosine = (nc.x() * x + nc.y() * y + nc.z() * z) / len;
    return std::abs(cosine) >= view.min_cos;
}

void sample_rgb(const PhotoView& view, double u, double v, float rgb[3]) {
    constexpr int kBits = 5, kTab = 1 << kBits;  // OpenCV's INTER_BITS / INTER_TAB_SIZE
    const float fx = float(float(u) - 0.5f), fy = float(float(v) - 0.5f);
    const int sx = int(std::nearbyint(fx * float(kTab))), sy = int(std::nearbyint(fy * float(kTab)));
    const int ix = sx >> kBits, iy = sy >> kBits;
    const float ax = float(sx & (kTab - 1)) * (1.f / kTab), ay = float(sy & (kTab - 1)) * (1.f / kTab);
    const float w00 = (1.f - ay) * (1.f - ax), w01 = (1.f - ay) * ax;
    const float w10 = ay * (1.f - ax), w11 = ay * ax;
    const int w = view.width, h = view.height;
    const int x0 = std::clamp(ix, 0, w - 1), x1 = std::clamp(ix + 1, 0, w - 1);
    const int y0 = std::clamp(iy, 0, h - 1), y1 = std::clamp(iy + 1, 0, h - 1);
    const std::uint8_t* r0 = view.bgr + std::size_t(y0) * w * 3;
    const std::uint8_t* r1 = view.bgr + std::size_t(y1) * w * 3;
    for (int c = 0; c < 3; ++c) {
        const float s = float(r0[3 * x0 + c]) * w00 + float(r0[3 * x1 + c]) * w01 +
                        float(r1[3 * x0 + c]) * w10 + float(r1[3 * x1 + c]) * w11;
        rgb[2 - c] = s;  // BGR -> RGB
    }
}

}  // namespace extreme3d::texture
