// Sparse least-squares hole filling of the sparse mesh.
#include "core/hole_fill.hpp"

#include <Eigen/SparseCholesky>
#include <Eigen/SparseCore>
#include <algorithm>

#include "core/ldlt_solve.hpp"

namespace extreme3d::core {

MatrixX3f fill_holes(const HoleFillInput& in, HoleFillStats* stats) {
    const MatrixX3f& X = *in.sparse;
    const MatrixX3f& Xf = *in.flipped;
    const MatrixX3f& F = *in.foundation;
    const MatrixX3i& faces = *in.faces;
    const Eigen::VectorXi& pair = *in.pair;
    const Flags& bumped = *in.bumped;
    const Flags& pbumped = *in.partner_bumped;
    const Eigen::VectorXf& w = *in.scores;
    const int V = static_cast<int>(X.rows());

    Flags in_face(V, 0);
    for (Eigen::Index i = 0; i < faces.size(); ++i) in_face[faces.data()[i]] = 1;
    std::vector<int> unk_index(V, -1), unknowns;
    for (int i = 0; i < V; ++i)
        if ((!bumped[i] || w(i) < 0.75f) && in_face[i]) {
            unk_index[i] = static_cast<int>(unknowns.size());
            unknowns.push_back(i);
        }
    const int n = static_cast<int>(unknowns.size());
    MatrixX3f out = X;
    if (stats) *stats = HoleFillStats{n, 0, 0};
    if (n == 0) return out;

    // unique neighbour lists per unknown, split into unknown and known neighbours, in the order
    // the original meets them (faces in order, then the other two corners)
    std::vector<std::vector<int>> unk_nb(n), known_nb(n);
    for (Eigen::Index f = 0; f < faces.rows(); ++f)
        for (int u = 0; u < 3; ++u) {
            const int v1 = faces(f, u), k1 = unk_index[v1];
            if (k1 < 0) continue;
            for (int v = 0; v < 3; ++v) {
                if (v == u) continue;
                const int v2 = faces(f, v);
                auto& list = unk_index[v2] >= 0 ? unk_nb[k1] : known_nb[k1];
                if (std::find(list.begin(), list.end(), v2) == list.end()) list.push_back(v2);
            }
        }
    auto flip_score = [&](int v) { return pbumped[v] ? w(pair(v)) : 0.f; };

    // rows: n Laplacian rows, then one anchor row per border unknown
    std::vector<Eigen::Triplet<double>> trip;
    std::vector<Eigen::RowVector3d> rhs(n, Eigen::RowVector3d::Zero());
    int rows = n;
    for (int k = 0; k < n; ++k) {
        const int v1 = unknowns[k];
        const float f1 = flip_score(v1);
        if (!unk_nb[k].empty()) trip.emplace_back(k, k, static_cast<double>(unk_nb[k].size()));
        for (int v2 : unk_nb[k]) {
            trip.emplace_back(k, unk_index[v2], -1.0);
            // (the original's first branch, both vertices visible, cannot hold for two unknowns)
            if (f1 >= 0.75f && flip_score(v2) >= 0.75f)
                rhs[k] += (Xf.row(v1) - Xf.row(v2)).cast<double>();
            else
                rhs[k] += (F.row(v1) - F.row(v2)).cast<double>();
        }
        if (!known_nb[k].empty()) {
            Eigen::RowVector3d b = Eigen::RowVector3d::Zero();
            for (int v2 : known_nb[k]) b += (F.row(v1) - F.row(v2) + X.row(v2)).cast<double>();
            trip.emplace_back(rows, k, static_cast<double>(known_nb[k].size()));
            rhs.push_back(b);
            ++rows;
        }
    }
    const int border = rows - n;

    // components of the unknown graph without any anchor are singular: keep them at the foundation
    std::vector<int> comp(n, -1);
    std::vector<char> anchored;
    int unanchored = 0;
    for (int s = 0; s < n; ++s) {
        if (comp[s] >= 0) continue;
        const int id = static_cast<int>(anchored.size());
        anchored.push_back(0);
        std::vector<int> stack{s};
        std::vector<int> members;
        comp[s] = id;
        while (!stack.empty()) {
            const int k = stack.back();
            stack.pop_back();
            members.push_back(k);
            if (!known_nb[k].empty()) anchored[id] = 1;
            for (int v2 : unk_nb[k]) {
                const int j = unk_index[v2];
                if (comp[j] < 0) {
                    comp[j] = id;
                    stack.push_back(j);
                }
            }
        }
        if (!anchored[id]) unanchored += static_cast<int>(members.size());
    }
    if (stats) {
        stats->border_rows = border;
        stats->unanchored = unanchored;
    }
    // pin unanchored unknowns with an identity row at the foundation (a deliberate difference)
    for (int k = 0; k < n; ++k)
        if (!anchored[comp[k]]) {
            trip.emplace_back(rows, k, 1.0);
            rhs.push_back(F.row(unknowns[k]).cast<double>());
            ++rows;
        }

    Eigen::SparseMatrix<double> A(rows, n);
    A.setFromTriplets(trip.begin(), trip.end());
    Eigen::MatrixXd B(rows, 3);
    for (int r = 0; r < rows; ++r) B.row(r) = rhs[r];
    const Eigen::SparseMatrix<double> At = A.transpose();
    const Eigen::SparseMatrix<double> N = At * A;
    Eigen::SimplicialLDLT<Eigen::SparseMatrix<double>> solver(N);
    Eigen::MatrixXd sol;
    if (solver.info() == Eigen::Success) sol = solve_rows<3>(solver, At * B);
    for (int k = 0; k < n; ++k) {
        const int v = unknowns[k];
        if (sol.size() && sol.row(k).allFinite())
            out.row(v) = sol.row(k).cast<float>();
        else
            out.row(v) = F.row(v);
    }
    return out;
}

}  // namespace extreme3d::core
