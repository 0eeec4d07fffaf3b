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
    // cv2.remap (OpenCV 5, float maps, INTER_LINEAR) in float: the position less half a pixel,
    // its integer and fractional parts, then two fused linear interpolations along x and one
    // along y.
    const float px = float(u) - 0.5f, py = float(v) - 0.5f;
    const float flx = std::floor(px), fly = std::floor(py);
    const float ax = px - flx, ay = py - fly;
    const int w = view.width, h = view.height;
    const int x0 = std::clamp(int(flx), 0, w - 1), x1 = std::clamp(int(flx) + 1, 0, w - 1);
    const int y0 = std::clamp(int(fly), 0, h - 1), y1 = std::clamp(int(fly) + 1, 0, h - 1);
    const std::uint8_t* r0 = view.bgr + std::size_t(y0) * w * 3;
    const std::uint8_t* r1 = view.bgr + std::size_t(y1) * w * 3;
    for (int c = 0; c < 3; ++c) {
        const float a = r0[3 * x0 + c], b = r0[3 * x1 + c], d0 = r1[3 * x0 + c], d1 = r1[3 * x1 + c];
        const float top = std::fma(ax, b - a, a), bottom = std::fma(ax, d1 - d0, d0);
        rgb[2 - c] = std::fma(ay, bottom - top, top);  // BGR -> RGB
    }
}

}  // namespace extreme3d::texture
