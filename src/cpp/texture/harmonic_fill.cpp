// Harmonic fill of per-vertex values (see harmonic_fill.hpp).
#include "texture/harmonic_fill.hpp"

#include <Eigen/SparseCholesky>
#include <Eigen/SparseCore>
#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <utility>

#include "core/ldlt_solve.hpp"
#include "core/mesh_edges.hpp"

namespace extreme3d::texture {
namespace {

/// The distinct neighbours (vertex ids, ascending) of every unknown vertex over the faces' edges,
/// self-loops left out, as CSR rows indexed by the unknowns' slots: (start, neighbours).
std::pair<std::vector<int>, std::vector<int>> unknown_neighbours(const MatrixX3i& faces,
                                                                 const std::vector<int>& slot, int n) {
    std::vector<int> start(std::size_t(n) + 1, 0);
    auto each_half_edge = [&](auto&& visit) {
        for (Eigen::Index f = 0; f < faces.rows(); ++f)
            for (int e = 0; e < 3; ++e) {
                const int a = faces(f, e), b = faces(f, (e + 1) % 3);
                if (a == b) continue;
                if (slot[a] >= 0) visit(slot[a], b);
                if (slot[b] >= 0) visit(slot[b], a);
            }
    };
    each_half_edge([&](int i, int) { ++start[std::size_t(i) + 1]; });
    for (int i = 0; i < n; ++i) start[i + 1] += start[i];
    std::vector<int> next(start.begin(), start.end() - 1), nbr(std::size_t(start[n]));
    each_half_edge([&](int i, int w) { nbr[next[i]++] = w; });
    // sort and deduplicate each row in place, then compact the rows
    int out = 0;
    for (int i = 0; i < n; ++i) {
        const auto first = nbr.begin() + start[i], last = nbr.begin() + start[i + 1];
        std::sort(first, last);
        const auto end = std::unique(first, last);
        if (out < start[i]) std::copy(first, end, nbr.begin() + out);  // destination before the range
        start[i] = out;
        out += int(end - first);
    }
    start[n] = out;
    nbr.resize(std::size_t(out));
    return {std::move(start), std::move(nbr)};
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
    std::vector<int> slot(V, -1);  // unknown vertex -> its row in the system (in vertex order)
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

    // Lower triangle of L_uu + r I in compressed columns (diagonal first, then the unknown
    // neighbours of higher slot, ascending), and the right-hand sides -L_uk x_k + r m.
    const auto [start, nbr] = unknown_neighbours(faces, slot, n);
    Eigen::MatrixXd rhs = (regularisation * mean).replicate(n, 1);
    Eigen::SparseMatrix<double> A(n, n);
    A.resizeNonZeros(Eigen::Index(n) + Eigen::Index(nbr.size()));
    int* outer = A.outerIndexPtr();
    int* inner = A.innerIndexPtr();
    double* value = A.valuePtr();
    int nnz = 0;
    for (int i = 0; i < n; ++i) {
        outer[i] = nnz;
        inner[nnz] = i;
        value[nnz++] = regularisation + double(start[i + 1] - start[i]);
        for (int p = start[i]; p < start[i + 1]; ++p) {
            const int w = nbr[p];
            if (slot[w] > i) {
                inner[nnz] = slot[w];
                value[nnz++] = -1.0;
            } else if (slot[w] < 0) {
                rhs.row(i) += values.row(w);
            }
        }
    }
    outer[n] = nnz;
    A.resizeNonZeros(nnz);
    Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>, Eigen::Lower> solver(A);
    if (solver.info() != Eigen::Success) throw std::runtime_error("harmonic_fill: factorisation failed");
    const Eigen::MatrixXd x = core::solve_rows<Eigen::Dynamic>(solver, rhs);
    for (Eigen::Index v = 0; v < V; ++v)
        if (slot[v] >= 0) out.row(v) = x.row(slot[v]);
    return out;
}

std::vector<std::uint8_t> fill_reach(const MatrixX3i& faces, const std::vector<std::uint8_t>& known) {
    const Eigen::Index V = Eigen::Index(known.size());
    if (faces.size() && (faces.minCoeff() < 0 || faces.maxCoeff() >= V))
        throw std::invalid_argument("fill_reach: face index out of range");
    std::vector<int> parent(static_cast<std::size_t>(V));  // union-find over the faces' edges
    std::iota(parent.begin(), parent.end(), 0);
    auto root = [&](int a) { return core::find_root(parent, a); };
    std::vector<std::uint8_t> used(static_cast<std::size_t>(V), 0);
    for (Eigen::Index f = 0; f < faces.rows(); ++f)
        for (int e = 0; e < 3; ++e) {
            const int a = faces(f, e);
            used[a] = 1;
            const int ra = root(a), rb = root(faces(f, (e + 1) % 3));
            if (ra != rb) parent[std::max(ra, rb)] = std::min(ra, rb);
        }
    std::vector<std::uint8_t> piece_known(static_cast<std::size_t>(V), 0), out(static_cast<std::size_t>(V), 0);
    for (Eigen::Index v = 0; v < V; ++v)
        if (used[v] && known[v]) piece_known[root(int(v))] = 1;
    for (Eigen::Index v = 0; v < V; ++v)
        if (used[v]) out[v] = piece_known[root(int(v))] ? 1 : 2;
    return out;
}

}  // namespace extreme3d::texture
