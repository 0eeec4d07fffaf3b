// Multi-column solves with a sparse LDLT factor, one pass over L per triangular sweep (Eigen's
// solve makes one pass per column).
#pragma once
#include <Eigen/Core>
#include <Eigen/SparseCholesky>
#include <Eigen/SparseCore>

namespace extreme3d::core {

/// Solves N X = B (n x Cols, or any column count with Eigen::Dynamic) with the factor
/// P^T L D L^T P of `solver`, all columns in one pass over L per sweep; same units as B / N.
template <int Cols>
Eigen::MatrixXd solve_rows(const Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>>& solver,
                           const Eigen::MatrixXd& B) {
    using Rows = Eigen::Matrix<double, Eigen::Dynamic, Cols, Eigen::RowMajor>;
    using Row = Eigen::Matrix<double, 1, Cols>;
    const Eigen::SparseMatrix<double>& L = solver.matrixL().nestedExpression();
    const Eigen::Index n = L.cols();
    const auto& perm = solver.permutationP().indices();
    const int* outer = L.outerIndexPtr();
    const int* inner = L.innerIndexPtr();
    const double* value = L.valuePtr();
    Rows x(n, B.cols());
    for (Eigen::Index i = 0; i < n; ++i) x.row(perm[i]) = B.row(i);
    for (Eigen::Index j = 0; j < n; ++j) {  // L y = P b (unit lower; strictly lower entries stored)
        const Row xj = x.row(j);
        for (int p = outer[j]; p < outer[j + 1]; ++p)
            if (inner[p] > j) x.row(inner[p]) -= value[p] * xj;
    }
    x.array().colwise() /= solver.vectorD().array();
    for (Eigen::Index j = n - 1; j >= 0; --j) {  // L^T z = D^-1 y
        Row xj = x.row(j);
        for (int p = outer[j]; p < outer[j + 1]; ++p)
            if (inner[p] > j) xj -= value[p] * x.row(inner[p]);
        x.row(j) = xj;
    }
    Eigen::MatrixXd out(n, B.cols());
    for (Eigen::Index i = 0; i < n; ++i) out.row(i) = x.row(perm[i]);
    return out;
}

}  // namespace extreme3d::core
