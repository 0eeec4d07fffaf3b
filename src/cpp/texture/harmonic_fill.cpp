// Harmonic fill of per-vertex values (see harmonic_fill.hpp).
#include "texture/harmonic_fill.hpp"

#include <Eigen/SparseCholesky>
#include <Eigen/SparseCore>
#include <algorithm>
#include <stdexcept>
#include <utility>

#include "core/ldlt_solve.hpp"

namespace extreme3d::texture {
namespace {

/// The distinct undirected edges (a < b) of the faces, sorted; self-loops left out.
std::vector<std::pair<int, int>> unique_edges(const MatrixX3i& faces) {
    std::vector<std::pair<int, int>> edges;
    edges.reserve(std::size_t(faces.rows()) * 3);
    for (Eigen::Index f = 0; f < faces.rows(); ++f)
        for (int e = 0; e < 3; ++e) {
            const int a = faces(f, e), b = faces(f, (e + 1) % 3);
            if (a != b) edges.emplace_back(std::min(a, b), std::max(a, b));
        }
    std::sort(edges.begin(), edges.end());
    edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
    return edges;
}

}  // namespace

RowMatrixXd harmonic_fill(const MatrixX3i& faces, const RowMatrixXd& values,
                          const std::vector<std::uint8_t>& known, double regularisation) {
    const Eigen::Index V = values.rows(), C = values.cols();
    if (Eigen::Index(known.size()) != V) throw std::invalid_argument("harmonic_fill: one known flag per row");
    if (!(regularisation > 0)) throw std::invalid_argument("harmonic_fill: regularisation must be > 0");
    if (faces.size() && (faces.minCoeff() < 0 || faces.maxCoeff() >= V))
        throw std::invalid_argument("harmonic_fill: face index out of range");
    RowMatrixXd out = values;
    std::vector<int> slot(V, -1);  // unknown vertex -> its row in the system
    int n = 0;
    Eigen::RowVectorXd mean = Eigen::RowVectorXd::Zero(C);
    for (Eigen::Index v = 0; v < V; ++v) {
        if (known[v])
            mean += values.row(v);
        else
            slot[v] = n++;
    }
    if (n == 0) return out;
    const Eigen::Index num_known = V - n;
    if (num_known > 0)
        mean /= double(num_known);
    else
        mean.setConstant(127.5);
    if (faces.rows() == 0) {
        for (Eigen::Index v = 0; v < V; ++v)
            if (!known[v]) out.row(v) = mean;
        return out;
    }

    // Lower triangle of L_uu + r I, and the right-hand sides -L_uk x_k + r m.
    Eigen::VectorXd diag = Eigen::VectorXd::Constant(n, regularisation);
    Eigen::MatrixXd rhs = (regularisation * mean).replicate(n, 1);
    std::vector<Eigen::Triplet<double>> lower;
    for (const auto& [a, b] : unique_edges(faces)) {
        const int sa = slot[a], sb = slot[b];
        if (sa >= 0) diag(sa) += 1.0;
        if (sb >= 0) diag(sb) += 1.0;
        if (sa >= 0 && sb >= 0)
            lower.emplace_back(std::max(sa, sb), std::min(sa, sb), -1.0);
        else if (sa >= 0)
            rhs.row(sa) += values.row(b);
        else if (sb >= 0)
            rhs.row(sb) += values.row(a);
    }
    for (int i = 0; i < n; ++i) lower.emplace_back(i, i, diag(i));
    Eigen::SparseMatrix<double> A(n, n);
    A.setFromTriplets(lower.begin(), lower.end());
    Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>, Eigen::Lower> solver(A);
    if (solver.info() != Eigen::Success) throw std::runtime_error("harmonic_fill: factorisation failed");
    const Eigen::MatrixXd x = core::solve_rows<Eigen::Dynamic>(solver, rhs);
    for (Eigen::Index v = 0; v < V; ++v)
        if (slot[v] >= 0) out.row(v) = x.row(slot[v]);
    return out;
}

}  // namespace extreme3d::texture
