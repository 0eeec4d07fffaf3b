// Dense detail from the completed sparse mesh and its mirrored copy.
#include "core/mirrored_detail.hpp"

namespace extreme3d::core {

DenseDetail mirrored_detail(const Registration& reg, const MatrixX3f& X, const Eigen::Matrix3f& R,
                            const Eigen::Matrix3f& align_R, const Eigen::VectorXi& pair,
                            const Eigen::VectorXf& scores) {
    const int S = static_cast<int>(reg.tri.size());
    const int V = static_cast<int>(X.rows());
    DenseDetail d;
    d.dense.resize(S, 3);
    d.mirrored.resize(S, 3);
    d.residual.resize(S, 3);
    d.status.assign(S, 1);
    d.mirror_vindex = reg.vindex;
    const Eigen::Matrix3f M = align_R * R.transpose();
    for (int i = 0; i < S; ++i) {
        const Eigen::Vector3f res = M * Eigen::Vector3f(0, 0, reg.dz[i]);
        d.residual.row(i) = res.transpose();
        Eigen::Vector3f acc = Eigen::Vector3f::Zero(), acc_m = Eigen::Vector3f::Zero();
        for (int k = 0; k < 3; ++k) {
            const int v = reg.tri[i](k);
            if (v >= 0) acc += reg.w[i](k) * X.row(v).transpose();
        }
        d.dense.row(i) = (acc + res).transpose();
        for (int k = 0; k < 3; ++k) {
            const int v = reg.tri[i](k);
            if (v < 0) continue;
            const int p = pair(v);
            if (p < 0 || p >= V) {
                d.status[i] = -1;
                break;
            }
            if (scores(p) >= 0.75f) d.status[i] = 100;
            acc_m += reg.w[i](k) * X.row(p).transpose();
        }
        // mirrored residual: x negated, then +-0.5 where a component leaves [-0.2, 0.2]
        Eigen::Vector3f rm = res;
        rm.x() = -rm.x();
        for (int k = 0; k < 3; ++k) {
            if (rm(k) > 0.2f) rm.x() = 0.5f;
            if (rm(k) < -0.2f) rm.x() = -0.5f;
        }
        d.mirrored.row(i) = (acc_m + rm).transpose();
    }
    // pixels whose mirrored vertex is rejected leave the mirror's index map
    for (Eigen::Index y = 0; y < reg.vindex.rows(); ++y)
        for (Eigen::Index x = 0; x < reg.vindex.cols(); ++x) {
            const int s = reg.vindex(y, x);
            if (s >= 0 && d.status[s] != 1) d.mirror_vindex(y, x) = -1;
        }
    return d;
}

}  // namespace extreme3d::core
