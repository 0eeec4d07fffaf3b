// Point location in the clean final mesh's chart raster.
#include "core/chart_raster.hpp"

#include <algorithm>
#include <cmath>

namespace extreme3d::core {

Eigen::Vector3d chart_barycentric(const Eigen::Vector2d& p, const Eigen::Vector2d& a, const Eigen::Vector2d& b,
                                  const Eigen::Vector2d& c) {
    const double v0x = b.x() - a.x(), v0y = b.y() - a.y();
    const double v1x = c.x() - a.x(), v1y = c.y() - a.y();
    const double v2x = p.x() - a.x(), v2y = p.y() - a.y();
    double den = v0x * v1y - v1x * v0y;
    if (den == 0) den = 1e-30;
    const double s = (v2x * v1y - v1x * v2y) / den;
    const double t = (v0x * v2y - v2x * v0y) / den;
    return {1 - s - t, s, t};
}

namespace {

/// (row, col) of the cell holding (u, v), clipped to the raster.
inline void cell_of(const ChartRaster& chart, double u, double v, int& r, int& c) {
    const double fc = std::floor((u - chart.origin.x()) / chart.cell);
    const double fr = std::floor((v - chart.origin.y()) / chart.cell);
    const double h = static_cast<double>(chart.face_map.rows() - 1), w = static_cast<double>(chart.face_map.cols() - 1);
    r = static_cast<int>(std::clamp(fr, 0.0, h));
    c = static_cast<int>(std::clamp(fc, 0.0, w));
}

/// Whether p lies in face f's chart triangle (all weights >= -1e-9).
inline bool in_face(const ChartRaster& chart, const Eigen::Vector2d& p, int f) {
    const Eigen::Vector3d b = chart_barycentric(p, chart.uv.row(chart.faces(f, 0)).transpose(),
                                                chart.uv.row(chart.faces(f, 1)).transpose(),
                                                chart.uv.row(chart.faces(f, 2)).transpose());
    return b.minCoeff() >= -1e-9;
}

/// `inside_faces` of one point.
bool point_inside(const ChartRaster& chart, const Eigen::Vector2d& p) {
    int r, c;
    cell_of(chart, p.x(), p.y(), r, c);
    const std::uint8_t s = chart.state(r, c);
    if (s != 2) return s == 1;
    const RowMatrixXi& fm = chart.face_map;
    for (int dr = -1; dr <= 1; ++dr)
        for (int dc = -1; dc <= 1; ++dc) {
            const int rr = r + dr, cc = c + dc;
            if (rr < 0 || cc < 0 || rr >= fm.rows() || cc >= fm.cols()) continue;
            const int f = fm(rr, cc);
            if (f >= 0 && in_face(chart, p, f)) return true;
        }
    return false;
}

}  // namespace

void index_cells(ChartRaster& chart) {
    const RowMatrixXi& fm = chart.face_map;
    const Eigen::Index h = fm.rows(), w = fm.cols();
    chart.state.resize(h, w);
    for (Eigen::Index r = 0; r < h; ++r)
        for (Eigen::Index c = 0; c < w; ++c) {
            const bool here = fm(r, c) >= 0;
            bool exact = chart.edge_cells(r, c) != 0;
            for (Eigen::Index dr = -1; dr <= 1 && !exact; ++dr)
                for (Eigen::Index dc = -1; dc <= 1 && !exact; ++dc) {
                    const Eigen::Index rr = r + dr, cc = c + dc;
                    const bool there = rr >= 0 && cc >= 0 && rr < h && cc < w && fm(rr, cc) >= 0;
                    exact = there != here;
                }
            chart.state(r, c) = exact ? 2 : (here ? 1 : 0);
        }
}

int chart_cell(const ChartRaster& chart, double u, double v) {
    int r, c;
    cell_of(chart, u, v, r, c);
    return r * static_cast<int>(chart.face_map.cols()) + c;
}

SurfacePoints surface_at(const ChartRaster& chart, const MatrixX3d& vertices, const MatrixX2d& points) {
    const Eigen::Index n = points.rows();
    SurfacePoints out{MatrixX3d(n, 3), Eigen::VectorXi(n), Eigen::VectorXi(n)};
    for (Eigen::Index i = 0; i < n; ++i) {
        int r, c;
        cell_of(chart, points(i, 0), points(i, 1), r, c);
        const int f = chart.face_map(r, c);
        const int fs = f >= 0 ? f : 0;
        const Eigen::Vector3d b = chart_barycentric(points.row(i).transpose(), chart.uv.row(chart.faces(fs, 0)).transpose(),
                                                    chart.uv.row(chart.faces(fs, 1)).transpose(),
                                                    chart.uv.row(chart.faces(fs, 2)).transpose());
        for (int d = 0; d < 3; ++d)
            out.points(i, d) = b(0) * vertices(chart.faces(fs, 0), d) + b(1) * vertices(chart.faces(fs, 1), d) +
                               b(2) * vertices(chart.faces(fs, 2), d);
        out.face(i) = f >= 0 ? f : -1;
        out.cell(i) = r * static_cast<int>(chart.face_map.cols()) + c;
    }
    return out;
}

Flags inside_faces(const ChartRaster& chart, const MatrixX2d& points) {
    Flags out(static_cast<size_t>(points.rows()));
    for (Eigen::Index i = 0; i < points.rows(); ++i) out[static_cast<size_t>(i)] = point_inside(chart, points.row(i).transpose());
    return out;
}

Flags triangles_inside(const ChartRaster& chart, const MatrixX2d& uv, const MatrixX3i& triangles) {
    Flags out(static_cast<size_t>(triangles.rows()));
    for (Eigen::Index t = 0; t < triangles.rows(); ++t) {
        const Eigen::Vector2d sum = uv.row(triangles(t, 0)).transpose() + uv.row(triangles(t, 1)).transpose() +
                                    uv.row(triangles(t, 2)).transpose();
        out[static_cast<size_t>(t)] = point_inside(chart, sum / 3.0);
    }
    return out;
}

RowMatrixXd weighted_positions(const RowMatrixXd& points, const MatrixX3i& tri, const MatrixX3d& w) {
    RowMatrixXd out = RowMatrixXd::Zero(tri.rows(), points.cols());
    for (Eigen::Index i = 0; i < tri.rows(); ++i)
        for (Eigen::Index d = 0; d < points.cols(); ++d) {
            double s = 0.0;
            for (int k = 0; k < 3; ++k)
                if (tri(i, k) >= 0) s += w(i, k) * points(tri(i, k), d);
            out(i, d) = s;
        }
    return out;
}

}  // namespace extreme3d::core
