// EPnP pose estimation with Gauss-Newton refinement of the betas (our implementation with Eigen).
#include "fit/epnp.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <stdexcept>

namespace extreme3d::fit {

namespace {

// The six control-point pairs, in the order of the L matrix rows and of rho.
constexpr std::array<std::array<int, 2>, 6> kPairs{{{0, 1}, {0, 2}, {0, 3}, {1, 2}, {1, 3}, {2, 3}}};

using Matrix6x10 = Eigen::Matrix<double, 6, 10>;
using Vector6 = Eigen::Matrix<double, 6, 1>;
using Controls = Eigen::Matrix<double, 4, 3>;  // one control point (mm) per row

// The shared state of one EPnP solve: the inputs, the control points and barycentric weights.
struct Problem {
    const MatrixX3d& pw;   // world points (mm)
    const MatrixX2d& uv;   // pixels
    double fu, fv, uc, vc; // intrinsics (fu = -f for the mirrored camera)
    Controls cw;           // world control points
    Eigen::MatrixX4d alphas;  // barycentric weights per point
};

// Left singular vectors (rows, by decreasing singular value) and singular values of a 3 x 3
// matrix by one-sided (Hestenes) Jacobi rotations on the rows of A^T, in the order OpenCV's
// cvSVD performs them (eps = 10 DBL_EPSILON, at most 30 sweeps). The signs of the vectors then
// match the original's, which matters: EPnP with noisy points is not invariant to the sign of a
// principal axis.
void jacobi_svd_rows(const Eigen::Matrix3d& a, Eigen::Matrix3d& u_rows, Eigen::Vector3d& sv) {
    Eigen::Matrix3d at = a.transpose();  // row i = column i of a
    Eigen::Vector3d w;
    for (int i = 0; i < 3; ++i) w(i) = at.row(i).squaredNorm();
    const double eps = DBL_EPSILON * 10;
    for (int iter = 0; iter < 30; ++iter) {
        bool changed = false;
        for (int i = 0; i < 2; ++i)
            for (int j = i + 1; j < 3; ++j) {
                double p = at.row(i).dot(at.row(j));
                const double wa = w(i), wb = w(j);
                if (std::abs(p) <= eps * std::sqrt(wa * wb)) continue;
                p *= 2;
                const double beta = wa - wb, gamma = std::hypot(p, beta);
                double c, sn;
                if (beta < 0) {
                    sn = std::sqrt((gamma - beta) * 0.5 / gamma);
                    c = p / (gamma * sn * 2);
                } else {
                    c = std::sqrt((gamma + beta) / (gamma * 2));
                    sn = p / (gamma * c * 2);
                }
                double na = 0, nb = 0;
                for (int k = 0; k < 3; ++k) {
                    const double t0 = c * at(i, k) + sn * at(j, k);
                    const double t1 = -sn * at(i, k) + c * at(j, k);
                    at(i, k) = t0;
                    at(j, k) = t1;
                    na += t0 * t0;
                    nb += t1 * t1;
                }
                w(i) = na;
                w(j) = nb;
                changed = true;
            }
        if (!changed) break;
    }
    for (int i = 0; i < 3; ++i) w(i) = at.row(i).norm();
    // Selection sort by decreasing singular value, swapping rows as OpenCV does.
    for (int i = 0; i < 2; ++i) {
        int j = i;
        for (int k = i + 1; k < 3; ++k)
            if (w(j) < w(k)) j = k;
        if (i != j) {
            std::swap(w(i), w(j));
            at.row(i).swap(at.row(j));
        }
    }
    for (int i = 0; i < 3; ++i) u_rows.row(i) = w(i) > DBL_MIN ? Eigen::RowVector3d(at.row(i) / w(i)) : Eigen::RowVector3d::Zero();
    sv = w;
}

// Control points: the centroid plus the three principal directions scaled by their spread.
void choose_control_points(Problem& p) {
    const Eigen::Index n = p.pw.rows();
    const Eigen::RowVector3d c0 = p.pw.colwise().mean();
    const Eigen::MatrixX3d centred = p.pw.rowwise() - c0;
    const Eigen::Matrix3d cov = centred.transpose() * centred;
    Eigen::Matrix3d axes;
    Eigen::Vector3d sv;
    jacobi_svd_rows(cov, axes, sv);
    p.cw.row(0) = c0;
    for (int i = 1; i < 4; ++i) {
        const double scale = std::sqrt(sv(i - 1) / static_cast<double>(n));
        p.cw.row(i) = c0 + scale * axes.row(i - 1);
    }
}

// Barycentric weights (a0..a3, summing to one) of each world point w.r.t. the control points.
void compute_barycentric(Problem& p) {
    Eigen::Matrix3d cc;
    for (int j = 0; j < 3; ++j) cc.col(j) = (p.cw.row(j + 1) - p.cw.row(0)).transpose();
    const Eigen::Matrix3d cc_inv = cc.jacobiSvd(Eigen::ComputeFullU | Eigen::ComputeFullV)
                                       .solve(Eigen::Matrix3d::Identity());
    p.alphas.resize(p.pw.rows(), 4);
    for (Eigen::Index i = 0; i < p.pw.rows(); ++i) {
        const Eigen::Vector3d a = cc_inv * (p.pw.row(i) - p.cw.row(0)).transpose();
        p.alphas(i, 0) = 1.0 - a.sum();
        p.alphas.block<1, 3>(i, 1) = a.transpose();
    }
}

// The 2n x 12 linear system whose null space holds the camera-space control points.
Eigen::MatrixXd build_m(const Problem& p) {
    const Eigen::Index n = p.pw.rows();
    Eigen::MatrixXd m = Eigen::MatrixXd::Zero(2 * n, 12);
    for (Eigen::Index i = 0; i < n; ++i) {
        for (int j = 0; j < 4; ++j) {
            const double a = p.alphas(i, j);
            m(2 * i, 3 * j) = a * p.fu;
            m(2 * i, 3 * j + 2) = a * (p.uc - p.uv(i, 0));
            m(2 * i + 1, 3 * j + 1) = a * p.fv;
            m(2 * i + 1, 3 * j + 2) = a * (p.vc - p.uv(i, 1));
        }
    }
    return m;
}

// Control point `c` (3-vector) of a 12-vector.
Eigen::Vector3d control(const Eigen::VectorXd& v, int c) { return v.segment<3>(3 * c); }

// L (6 x 10): squared control-point distances as a quadratic form in the betas, with the basis
// vectors v[0..3] (v[0] of the smallest eigenvalue). Columns: b11 b12 b22 b13 b23 b33 b14 b24 b34 b44.
Matrix6x10 compute_l(const std::array<Eigen::VectorXd, 4>& v) {
    Matrix6x10 l;
    for (int r = 0; r < 6; ++r) {
        std::array<Eigen::Vector3d, 4> d;
        for (int i = 0; i < 4; ++i) d[i] = control(v[i], kPairs[r][0]) - control(v[i], kPairs[r][1]);
        l(r, 0) = d[0].dot(d[0]);
        l(r, 1) = 2.0 * d[0].dot(d[1]);
        l(r, 2) = d[1].dot(d[1]);
        l(r, 3) = 2.0 * d[0].dot(d[2]);
        l(r, 4) = 2.0 * d[1].dot(d[2]);
        l(r, 5) = d[2].dot(d[2]);
        l(r, 6) = 2.0 * d[0].dot(d[3]);
        l(r, 7) = 2.0 * d[1].dot(d[3]);
        l(r, 8) = 2.0 * d[2].dot(d[3]);
        l(r, 9) = d[3].dot(d[3]);
    }
    return l;
}

// Least-squares solution (minimum norm) of a small dense system.
Eigen::VectorXd solve_ls(const Eigen::MatrixXd& a, const Vector6& b) {
    return a.jacobiSvd(Eigen::ComputeThinU | Eigen::ComputeThinV).solve(b);
}

// Betas from the linearised system, approximation 1: [b11 b12 b13 b14].
Eigen::Vector4d betas_approx_1(const Matrix6x10& l, const Vector6& rho) {
    Eigen::Matrix<double, 6, 4> a;
    a << l.col(0), l.col(1), l.col(3), l.col(6);
    const Eigen::VectorXd b = solve_ls(a, rho);
    Eigen::Vector4d betas;
    const double sign = b(0) < 0 ? -1.0 : 1.0;
    betas(0) = std::sqrt(sign * b(0));
    for (int i = 1; i < 4; ++i) betas(i) = sign * b(i) / betas(0);
    return betas;
}

// Betas 1 and 2 from the products [b11 b12 b22 ...] of approximations 2 and 3 (signs as EPnP).
Eigen::Vector4d betas_from_b11_b12_b22(const Eigen::VectorXd& b) {
    Eigen::Vector4d betas = Eigen::Vector4d::Zero();
    if (b(0) < 0) {
        betas(0) = std::sqrt(-b(0));
        betas(1) = b(2) < 0 ? std::sqrt(-b(2)) : 0.0;
    } else {
        betas(0) = std::sqrt(b(0));
        betas(1) = b(2) > 0 ? std::sqrt(b(2)) : 0.0;
    }
    if (b(1) < 0) betas(0) = -betas(0);
    return betas;
}

// Approximation 2: [b11 b12 b22].
Eigen::Vector4d betas_approx_2(const Matrix6x10& l, const Vector6& rho) {
    return betas_from_b11_b12_b22(solve_ls(l.leftCols<3>(), rho));
}

// Approximation 3: [b11 b12 b22 b13 b23].
Eigen::Vector4d betas_approx_3(const Matrix6x10& l, const Vector6& rho) {
    const Eigen::VectorXd b = solve_ls(l.leftCols<5>(), rho);
    Eigen::Vector4d betas = betas_from_b11_b12_b22(b);
    betas(2) = b(3) / betas(0);
    return betas;
}

// Five Gauss-Newton steps on the six distance constraints; stops early on a singular Jacobian.
void gauss_newton(const Matrix6x10& l, const Vector6& rho, Eigen::Vector4d& betas) {
    for (int it = 0; it < 5; ++it) {
        Eigen::Matrix<double, 6, 4> a;
        Vector6 residual;
        for (int r = 0; r < 6; ++r) {
            const auto& q = l.row(r);
            const double b0 = betas(0), b1 = betas(1), b2 = betas(2), b3 = betas(3);
            a(r, 0) = 2 * q(0) * b0 + q(1) * b1 + q(3) * b2 + q(6) * b3;
            a(r, 1) = q(1) * b0 + 2 * q(2) * b1 + q(4) * b2 + q(7) * b3;
            a(r, 2) = q(3) * b0 + q(4) * b1 + 2 * q(5) * b2 + q(8) * b3;
            a(r, 3) = q(6) * b0 + q(7) * b1 + q(8) * b2 + 2 * q(9) * b3;
            const double model = q(0) * b0 * b0 + q(1) * b0 * b1 + q(2) * b1 * b1 + q(3) * b0 * b2 +
                                 q(4) * b1 * b2 + q(5) * b2 * b2 + q(6) * b0 * b3 + q(7) * b1 * b3 +
                                 q(8) * b2 * b3 + q(9) * b3 * b3;
            residual(r) = rho(r) - model;
        }
        if ((a.colwise().norm().array() == 0.0).any()) return;  // singular: keep the betas
        const Eigen::Vector4d step = a.householderQr().solve(residual);
        if (!step.allFinite()) return;
        betas += step;
    }
}

// Pose of the camera-space control points given betas; returns the mean reprojection distance.
double pose_from_betas(const Problem& p, const std::array<Eigen::VectorXd, 4>& v,
                       const Eigen::Vector4d& betas, Eigen::Matrix3d& R, Eigen::Vector3d& t) {
    Controls cc = Controls::Zero();
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) cc.row(j) += betas(i) * control(v[i], j).transpose();
    Eigen::MatrixX3d pc = p.alphas * cc;
    // The mirrored camera looks down -z: the first point must have negative depth.
    if (pc(0, 2) > 0.0) pc = -pc;

    const Eigen::RowVector3d pc0 = pc.colwise().mean();
    const Eigen::RowVector3d pw0 = p.pw.colwise().mean();
    const Eigen::Matrix3d abt = (pc.rowwise() - pc0).transpose() * (p.pw.rowwise() - pw0);
    Eigen::JacobiSVD<Eigen::Matrix3d> svd(abt, Eigen::ComputeFullU | Eigen::ComputeFullV);
    R = svd.matrixU() * svd.matrixV().transpose();
    if (R.determinant() < 0) R.row(2) = -R.row(2);  // as the original: flip the last row
    t = pc0.transpose() - R * pw0.transpose();

    double sum = 0.0;
    for (Eigen::Index i = 0; i < p.pw.rows(); ++i) {
        const Eigen::Vector3d xc = R * p.pw.row(i).transpose() + t;
        const double u = p.uc + p.fu * xc.x() / xc.z();
        const double w = p.vc + p.fv * xc.y() / xc.z();
        sum += std::hypot(p.uv(i, 0) - u, p.uv(i, 1) - w);
    }
    return sum / static_cast<double>(p.pw.rows());
}

}  // namespace

EpnpResult epnp(const MatrixX3d& points3d, const MatrixX2d& points2d, const Camera& cam) {
    if (points3d.rows() < 4 || points3d.rows() != points2d.rows())
        throw std::invalid_argument("epnp: needs at least 4 matching 3D and 2D points");
    Problem p{points3d, points2d, -cam.focal, cam.focal, cam.cx(), cam.cy(), Controls::Zero(), {}};
    choose_control_points(p);
    compute_barycentric(p);

    const Eigen::MatrixXd m = build_m(p);
    const Eigen::MatrixXd mtm = m.transpose() * m;
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(mtm);
    std::array<Eigen::VectorXd, 4> v;
    for (int i = 0; i < 4; ++i) v[i] = eig.eigenvectors().col(i);  // ascending eigenvalues

    const Matrix6x10 l = compute_l(v);
    Vector6 rho;
    for (int r = 0; r < 6; ++r) rho(r) = (p.cw.row(kPairs[r][0]) - p.cw.row(kPairs[r][1])).squaredNorm();

    std::array<Eigen::Vector4d, 3> betas{betas_approx_1(l, rho), betas_approx_2(l, rho), betas_approx_3(l, rho)};
    EpnpResult best;
    best.reprojection_error = INFINITY;
    for (auto& b : betas) {
        gauss_newton(l, rho, b);
        EpnpResult cand;
        cand.reprojection_error = pose_from_betas(p, v, b, cand.R, cand.t);
        // Strict '<' keeps the earlier approximation on ties, as the original.
        if (cand.reprojection_error < best.reprojection_error || !std::isfinite(best.reprojection_error))
            best = cand;
    }
    return best;
}

Eigen::Vector3d rodrigues_from_matrix(const Eigen::Matrix3d& R) {
    Eigen::Vector3d r(R(2, 1) - R(1, 2), R(0, 2) - R(2, 0), R(1, 0) - R(0, 1));
    const double s = std::sqrt(r.squaredNorm() * 0.25);
    const double c = std::clamp((R.trace() - 1.0) * 0.5, -1.0, 1.0);
    double theta = std::acos(c);
    if (s >= 1e-5) return r * (theta / (2.0 * s));
    if (c > 0) return Eigen::Vector3d::Zero();
    // Rotation by pi: the axis from the diagonal, signs from the off-diagonal terms.
    double rx = std::sqrt(std::max((R(0, 0) + 1.0) * 0.5, 0.0));
    double ry = std::sqrt(std::max((R(1, 1) + 1.0) * 0.5, 0.0)) * (R(0, 1) < 0 ? -1.0 : 1.0);
    double rz = std::sqrt(std::max((R(2, 2) + 1.0) * 0.5, 0.0)) * (R(0, 2) < 0 ? -1.0 : 1.0);
    if (std::fabs(rx) < std::fabs(ry) && std::fabs(rx) < std::fabs(rz) && ((R(1, 2) > 0) != (ry * rz > 0)))
        rz = -rz;
    r = Eigen::Vector3d(rx, ry, rz);
    return r * (theta / r.norm());
}

Eigen::Matrix3d rodrigues_to_matrix(const Eigen::Vector3d& rvec) {
    const double theta = std::sqrt(rvec.x() * rvec.x() + rvec.y() * rvec.y() + rvec.z() * rvec.z());
    if (theta < DBL_EPSILON) return Eigen::Matrix3d::Identity();
    const double c = std::cos(theta), s = std::sin(theta), c1 = 1.0 - c, inv = 1.0 / theta;
    const double x = rvec.x() * inv, y = rvec.y() * inv, z = rvec.z() * inv;
    const Eigen::Matrix3d I = Eigen::Matrix3d::Identity();
    Eigen::Matrix3d rrt, skew;
    rrt << x * x, x * y, x * z, x * y, y * y, y * z, x * z, y * z, z * z;
    skew << 0, -z, y, z, 0, -x, -y, x, 0;
    Eigen::Matrix3d R;
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) R(i, j) = c * I(i, j) + c1 * rrt(i, j) + s * skew(i, j);
    return R;
}

}  // namespace extreme3d::fit
