// Mirrored pose refinement (as coded in the original).
#include "core/symmetry_pose.hpp"

#include <Eigen/SVD>
#include <cmath>

namespace extreme3d::core {

void estimate_rigid_transform(const MatrixX3f& p1, const MatrixX3f& p2, Eigen::Matrix3f& R, Eigen::Vector3f& t) {
    const Eigen::RowVector3f m1 = p1.colwise().mean(), m2 = p2.colwise().mean();
    const MatrixX3f c1 = p1.rowwise() - m1, c2 = p2.rowwise() - m2;
    const Eigen::Matrix3f H = c1.transpose() * c2;
    Eigen::JacobiSVD<Eigen::Matrix3f> svd(H, Eigen::ComputeFullU | Eigen::ComputeFullV);
    R = svd.matrixV() * svd.matrixU().transpose();
    if (R.determinant() < 0) R.col(2) *= -1.f;
    t = -R * m1.transpose() + m2.transpose();
}

SymmetryFrame symmetry_pose(const MatrixX3f& sparse_aligned, const MatrixX3f& foundation_aligned,
                            const Eigen::Matrix3f& R, const Eigen::Vector3f& t, const Flags& bumped,
                            const Eigen::VectorXi& pair, bool correct) {
    const int V = static_cast<int>(sparse_aligned.rows());
    SymmetryFrame s;
    s.flipped = foundation_aligned;  // the original clones the posed mesh before the bump transfer
    s.sparse = inverse_transform_rows(sparse_aligned, R, t);
    s.foundation = inverse_transform_rows(foundation_aligned, R, t);
    for (int i = 0; i < V; ++i) {
        if (!bumped[i]) continue;
        const int p = pair(i);
        s.flipped.row(p) << -s.sparse(i, 0), s.sparse(i, 1), s.sparse(i, 2);
    }
    std::vector<int> inds;
    for (int i = 0; i < V; ++i)
        if (bumped[i] && std::fabs(s.sparse(i, 0)) < 15 && bumped[pair(i)]) inds.push_back(i);
    s.num_align = static_cast<int>(inds.size());
    if (!correct || inds.size() <= 100) return s;
    MatrixX3f p1(inds.size(), 3), p2(inds.size(), 3);
    for (size_t k = 0; k < inds.size(); ++k) {
        const int i = inds[k], p = pair(i);
        p1.row(k) = s.sparse.row(i);
        p2.row(k) << -s.flipped(p, 0), s.flipped(p, 1), s.flipped(p, 2);
    }
    Eigen::Matrix3f Ra;
    Eigen::Vector3f ta;
    estimate_rigid_transform(p1, p2, Ra, ta);
    // halve the rotation (as a rotation vector) and the translation
    const Eigen::AngleAxisd aa(Ra.cast<double>());
    const Eigen::Vector3f half_rvec = (aa.angle() * aa.axis()).cast<float>() / 2.f;
    Pose half;
    half.rvec = half_rvec.cast<double>();
    s.align_R = half.rotation().cast<float>();
    s.align_t = ta / 2.f;
    s.sparse = transform_rows(s.sparse, s.align_R, s.align_t);
    s.foundation = transform_rows(s.foundation, s.align_R, s.align_t);
    s.flipped = inverse_transform_rows(s.flipped, s.align_R, s.align_t);
    return s;
}

}  // namespace extreme3d::core
