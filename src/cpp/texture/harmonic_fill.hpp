// Harmonic fill of per-vertex values over a triangle mesh's edge graph (the smooth fill of the
// vertex colours and of their seam correction).
#pragma once
#include <cstdint>
#include <vector>

#include "model/types.hpp"

namespace extreme3d::texture {

/// Rows of `values` (V x C, any unit) where known[v] == 0 replaced by the regularised harmonic
/// interpolation of the known rows: (L_uu + r I) x_u = -L_uk x_k + r m, with L the graph Laplacian
/// (degree - adjacency; every undirected edge of the faces once, self-loops ignored), u / k the
/// unknown / known vertices, r = regularisation (> 0) and m the mean of the known rows (127.5 per
/// channel without any), so that vertices out of reach of any known one tend to m. Known rows are
/// returned unchanged; without faces the unknown rows are m. One sparse LDLT (AMD ordering) for
/// all channels. Throws std::runtime_error if the factorisation fails.
RowMatrixXd harmonic_fill(const MatrixX3i& faces, const RowMatrixXd& values,
                          const std::vector<std::uint8_t>& known, double regularisation);

/// Per vertex (known.size()): 0 when it lies in no face, 1 when its connected piece of the mesh
/// (over the faces' edges) holds a vertex with known[v] != 0, 2 when it does not (a piece that
/// harmonic_fill can only fill with the known mean).
std::vector<std::uint8_t> fill_reach(const MatrixX3i& faces, const std::vector<std::uint8_t>& known);

}  // namespace extreme3d::texture
