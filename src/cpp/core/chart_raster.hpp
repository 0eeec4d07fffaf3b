// Point location in a 2D chart of a model's mesh (the clean final mesh's chart, mm): a raster holds
// the model face under each cell centre; points are located by their cell, exactly (barycentric
// test against the faces of the neighbouring cells) where the raster is not decisive.
#pragma once
#include "core/common.hpp"

namespace extreme3d::core {

/// A model's chart and the raster of its faces.
struct ChartRaster {
    MatrixX2d uv;             ///< chart position (mm) of each model vertex
    MatrixX3i faces;          ///< the model's triangles
    Eigen::Vector2d origin;   ///< chart position of cell (0, 0)'s corner (mm)
    double cell = 0.5;        ///< cell side (mm)
    RowMatrixXi face_map;     ///< face whose chart triangle holds the cell centre, -1 none
    RowMatrixXu8 edge_cells;  ///< 1 where a boundary edge of the model passes through the cell
    RowMatrixXu8 state;       ///< per cell: 0 outside, 1 inside, 2 needs the exact test (`index_cells`)
};

/// Fills chart.state from face_map and edge_cells: a cell decides `inside_faces` for the points in it
/// (0 / 1) unless it is an edge cell or one of its 8 neighbours (beyond the raster: no face) differs
/// from it in having a face (2).
void index_cells(ChartRaster& chart);

/// Barycentric coordinates (w0, w1, w2) of p in the chart triangle (a, b, c), with a zero
/// determinant replaced by 1e-30 (evaluated in the same order as the numpy code it replaces).
Eigen::Vector3d chart_barycentric(const Eigen::Vector2d& p, const Eigen::Vector2d& a, const Eigen::Vector2d& b,
                                  const Eigen::Vector2d& c);

/// Flat raster index row * W + col of the cell holding chart point (u, v), clipped to the raster.
int chart_cell(const ChartRaster& chart, double u, double v);

/// Result of `surface_at`.
struct SurfacePoints {
    MatrixX3d points;      ///< the surface point (mm) at each chart position
    Eigen::VectorXi face;  ///< the model face it lies in, -1 outside every face (points: face 0's weights)
    Eigen::VectorXi cell;  ///< the flat raster cell of each chart position (`chart_cell`)
};

/// Points of a surface with the model's topology (vertices V x 3, mm) at chart positions: the
/// barycentric weights of each position in the face its raster cell holds, applied to that face's
/// vertices.
SurfacePoints surface_at(const ChartRaster& chart, const MatrixX3d& vertices, const MatrixX2d& points);

/// Per chart point: inside the model's faces (the raster, and near a change of the raster or on a
/// border cell an exact test against the faces of the 3 x 3 neighbouring cells, tolerance 1e-9 on
/// the barycentric weights).
Flags inside_faces(const ChartRaster& chart, const MatrixX2d& points);

/// Per triangle (indices into uv): whether its centroid ((a + b + c) / 3) is `inside_faces`.
Flags triangles_inside(const ChartRaster& chart, const MatrixX2d& uv, const MatrixX3i& triangles);

/// Rows sum_k w(i, k) * points(tri(i, k)) of registered points (D columns); corners with a negative
/// index contribute nothing.
RowMatrixXd weighted_positions(const RowMatrixXd& points, const MatrixX3i& tri, const MatrixX3d& w);

}  // namespace extreme3d::core
