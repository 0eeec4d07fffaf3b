// Rasterisation of a mesh's UV layout into a square texture: for every texel centre, the triangle
// that covers it and its barycentric coordinates (the texel -> surface-point map of texture baking).
#pragma once
#include <cstdint>
#include <vector>

#include "model/types.hpp"

namespace extreme3d::texture {

/// Triangle of every texel (row-major S x S, -1 where none) and barycentrics (S x S x 3, float,
/// relative to the triangle's corners in their given order; zero where no triangle).
struct UvRaster {
    int size = 0;
    std::vector<int> ids;
    std::vector<float> bary;
};

/// Texel positions (N x 2: column, row; texel (c, r) has its centre at (c + 0.5, r + 0.5)) of
/// per-vertex uvs in [0, 1] (v up, OBJ convention): column = u S, row = (1 - v) S.
MatrixX2d uv_to_texels(const MatrixX2f& uv, int size);

/// Rasterises triangles given in texel positions (see uv_to_texels): a texel belongs to a triangle
/// when its centre lies inside (edges shared by two triangles go to one of them, top-left rule).
/// Where triangles overlap (a folded layout) the winner is the one the OpenGL renderer would draw
/// last when drawing both windings with front faces culled: the triangles clockwise in (column,
/// row) first, then the others, each group in index order. Barycentrics are clipped to >= 0 and
/// renormalised, computed in double and stored as float.
UvRaster rasterize_texels(const MatrixX2d& texels, const MatrixX3i& faces, int size);

}  // namespace extreme3d::texture
