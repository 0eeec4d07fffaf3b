// Hassner-style self-occlusion map and per-vertex scores.
#include "core/occlusion.hpp"

#include <algorithm>
#include <cmath>

namespace extreme3d::core {

Pose occlusion_reference_pose(const Pose& pose) {
    Pose ref;
    ref.rvec = Eigen::Vector3d::Constant(static_cast<double>(1e-6f));
    ref.tvec = Eigen::Vector3d(static_cast<double>(1e-6f), static_cast<double>(1e-6f),
                               static_cast<double>(static_cast<float>(pose.tvec.z())));
    return ref;
}

RowMatrixXu8 blur_counts(const RowMatrixXu8& counts, int ksize) {
    const int H = static_cast<int>(counts.rows()), W = static_cast<int>(counts.cols());
    // OpenCV's fixed small kernels for sigma <= 0 (sizes 1, 3, 5), in units of 1/16 at most
    std::vector<int> k;
    int shift = 0;
    if (ksize >= 5) { k = {1, 4, 6, 4, 1}; shift = 8; }
    else if (ksize >= 3) { k = {1, 2, 1}; shift = 4; }
    else return counts;
    const int r = static_cast<int>(k.size() / 2);
    auto reflect = [](int i, int n) {  // BORDER_REFLECT_101
        if (n == 1) return 0;
        while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - 2 - i;
        return i;
    };
    Eigen::Matrix<int, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows(H, W);
    for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
            int s = 0;
            for (int j = -r; j <= r; ++j) s += k[j + r] * counts(y, reflect(x + j, W));
            rows(y, x) = s;
        }
    RowMatrixXu8 out(H, W);
    const int half = 1 << (shift - 1);
    for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
            int s = 0;
            for (int j = -r; j <= r; ++j) s += k[j + r] * rows(reflect(y + j, H), x);
            out(y, x) = static_cast<std::uint8_t>(std::min(255, (s + half) >> shift));
        }
    return out;
}

RowMatrixXf occlusion_map(const RowMatrixXf& ref_raw_depth, const RowMatrixXf& posed_raw_depth, const Pose& ref_pose,
                          const Pose& pose, const Camera& cam) {
    const int H = static_cast<int>(posed_raw_depth.rows()), W = static_cast<int>(posed_raw_depth.cols());
    const float K0 = -static_cast<float>(cam.focal), K4 = static_cast<float>(cam.focal);
    const float K2 = static_cast<float>(cam.cx()), K5 = static_cast<float>(cam.cy());
    const Eigen::Matrix3f R = rotation_f(pose), Rref = rotation_f(ref_pose);
    const Eigen::Vector3f t = translation_f(pose), tref = translation_f(ref_pose);
    const Eigen::Matrix3f M = R * Rref.transpose();
    const Eigen::Vector3f off = -M * tref + t;
    // the posed buffer in camera z once, instead of per lookup
    RowMatrixXf posed_z(H, W);
    for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) posed_z(y, x) = raw_depth_to_z(posed_raw_depth(y, x), cam);
    RowMatrixXu8 counts = RowMatrixXu8::Zero(H, W);
    for (int r = 0; r < ref_raw_depth.rows(); ++r) {
        for (int c = 0; c < ref_raw_depth.cols(); ++c) {
            const float d1r = ref_raw_depth(r, c);
            if (d1r >= 0.9999f) continue;
            const float d1 = raw_depth_to_z(d1r, cam);
            const Eigen::Vector3f P((static_cast<float>(c) - K2) * d1 / K0, (static_cast<float>(r) - K5) * d1 / K4, d1);
            const Eigen::Vector3f Q = M * P + off;
            const float Z = Q.z();
            const float x = -Q.x() / Z * K4 + K2, y = Q.y() / Z * K4 + K5;
            if (!(x > 0 && y > 0 && x < W - 1 && y < H - 1)) continue;
            bool vis = false;
            for (int dx = -1; dx <= 1 && !vis; ++dx)
                for (int dy = -1; dy <= 1; ++dy)
                    if (std::fabs(Z - posed_z(static_cast<int>(y + dy), static_cast<int>(x + dx))) < 2.5f) {
                        vis = true;
                        break;
                    }
            if (vis) ++counts(static_cast<int>(y), static_cast<int>(x));  // 8-bit, wraps as the original
        }
    }
    for (Eigen::Index i = 0; i < counts.size(); ++i) {
        std::uint8_t& v = counts.data()[i];
        v = v > 0 ? static_cast<std::uint8_t>(v - 1) : 0;  // saturating subtract
    }
    const int ksize = std::min(5, (W / 24) * 2 + 1);
    const RowMatrixXu8 blurred = blur_counts(counts, ksize);
    RowMatrixXf out(H, W);
    for (Eigen::Index i = 0; i < out.size(); ++i)
        out.data()[i] = std::exp(static_cast<float>(-0.2 * static_cast<double>(blurred.data()[i])));
    return out;
}

Eigen::VectorXf occlusion_scores(const MatrixX3f& frontal, const Flags& visible, const RowMatrixXf& occ_map,
                                 const Pose& pose, const Camera& cam) {
    const int V = static_cast<int>(frontal.rows());
    const int H = static_cast<int>(occ_map.rows()), W = static_cast<int>(occ_map.cols());
    // cv::projectPoints works in double
    Pose pf;
    pf.rvec = pose.rvec.cast<float>().cast<double>();
    pf.tvec = pose.tvec.cast<float>().cast<double>();
    const Eigen::Matrix3d R = pf.rotation();
    Eigen::VectorXf out = Eigen::VectorXf::Zero(V);
    for (int i = 0; i < V; ++i) {
        if (!visible[i]) continue;
        const Eigen::Vector3d Xc = R * frontal.row(i).transpose().cast<double>() + pf.tvec;
        const Eigen::Vector2d uv = project_camera_point(Xc, cam);
        const int x = static_cast<int>(static_cast<float>(uv.x())), y = static_cast<int>(static_cast<float>(uv.y()));
        float val = -1.f;
        for (int sx = -5; sx <= 5; ++sx) {
            if (sx + x < 0 || sx + x >= W) continue;
            for (int sy = -5; sy <= 5; ++sy) {
                if (sy + y < 0 || sy + y >= H) continue;
                const float m = occ_map(sy + y, sx + x);
                if (val < 0 || val > m) val = m;
            }
        }
        out(i) = val > 0 ? val : 0.f;
    }
    return out;
}

}  // namespace extreme3d::core
