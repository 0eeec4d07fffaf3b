// Nearest-neighbour search for the soft-symmetry colour transfer: for a query point, the
// reference point nearest to its mirror image (-x, y, z) within a distance bound.
#pragma once
#include <cstdint>
#include <vector>

#include "model/types.hpp"

namespace extreme3d::texture {

/// Exact bounded nearest-neighbour index of 3D points (mm) lying on a surface: points bucketed
/// into square (x, y) columns, each sorted by z and carrying the bounding box of its points. A
/// query visits the columns ring by ring around its own, skips a column whose box lies farther
/// than its current best distance, and in a column scans only the z band that can still hold a
/// closer point (the face's surface crosses few columns near the query, and only a few of its
/// points in each). A coarse occupancy grid dilated by the search radius rejects queries with no
/// point in reach at once.
class MirrorIndex {
public:
    /// Indexes `points` (N x 3, mm; copied) for searches within max_dist mm (> 0).
    MirrorIndex(const MatrixX3d& points, double max_dist);

    /// Index of the point nearest to (x, y, z) with squared distance < max_dist^2, else -1
    /// (distances summed over x, y, z in that order, as scipy's cKDTree does; ties to the lower
    /// index). hint: a point likely near the answer (e.g. the previous query's), or -1.
    long nearest(double x, double y, double z, long hint = -1) const;

    /// A sequence of searches warm-started from the previous answer (consecutive queries close
    /// to each other, e.g. neighbouring texels, start with a small bound). Not shareable between
    /// threads.
    class Search {
    public:
        explicit Search(const MirrorIndex& index) : index_(index) {}
        /// As MirrorIndex::nearest, warm-started from the previous query's answer.
        long nearest(double x, double y, double z);

    private:
        const MirrorIndex& index_;
        long last_ = -1;  ///< the previous answer (point index) or -1
    };

    /// For each query row (x, y, z), `nearest` of its mirror image (-x, y, z) (queries in a
    /// coherent order, e.g. neighbouring texels one after another, are fastest).
    std::vector<long> mirror_nearest(const MatrixX3d& queries) const;

    /// Number of indexed points.
    long size() const { return long(pts_.size()); }

private:
    /// A point in column order: its coordinates (mm) and its index in the input.
    struct Point {
        double x, y, z;
        long index;
    };
    /// A column's points (positions [begin, end) of pts_) and their bounding box (mm).
    struct Column {
        long begin = 0, end = 0;
        double x0 = 0, x1 = 0, y0 = 0, y1 = 0, z0 = 0, z1 = 0;
    };

    /// Whether some point may lie within max_dist of (x, y, z) (false: certainly none).
    bool reachable(double x, double y, double z) const;
    /// Scans column `col` (gxy: the squared x-y distance to its box) for points closer than (or
    /// as close as, with a lower index) the best.
    void scan(const Column& col, double gxy, double x, double y, double z, double& best,
              long& best_i) const;

    double max_dist_ = 1;
    std::vector<Point> pts_;       ///< the points, column by column, by increasing z within one
    std::vector<long> position_;   ///< position in pts_ of each input point
    double cx0_ = 0, cy0_ = 0;     ///< corner of the column grid (mm)
    double col_ = 1;               ///< column width (mm)
    long ncx_ = 0, ncy_ = 0;       ///< columns along x and y
    std::vector<Column> cols_;     ///< ncx_ * ncy_ columns, x-major
    Eigen::Vector3d grid0_ = Eigen::Vector3d::Zero();  ///< corner of the occupancy grid (mm)
    double cell_ = 1;                                   ///< its cell size (mm)
    long nx_ = 0, ny_ = 0, nz_ = 0;
    std::vector<std::uint8_t> reach_;  ///< 1: a point lies within 2 cells in every axis
};

}  // namespace extreme3d::texture
