// Nearest-neighbour search for the soft-symmetry colour transfer: for a query point, the
// reference point nearest to its mirror image (-x, y, z) within a distance bound.
#pragma once
#include <cstdint>
#include <vector>

#include "model/types.hpp"

namespace extreme3d::texture {

/// Exact bounded nearest-neighbour index of 3D points (mm) lying on a surface: points bucketed
/// into slabs of y, each sorted by x (a query visits the slabs within its current best distance
/// and, in each, the points whose x lies within it), plus a coarse occupancy grid dilated by the
/// search radius that rejects queries with no point in reach at once.
class MirrorIndex {
public:
    /// Indexes `points` (N x 3, mm; kept by reference) for searches within max_dist mm (> 0).
    MirrorIndex(const MatrixX3d& points, double max_dist);

    /// Index of the point nearest to (x, y, z) with squared distance < max_dist^2, else -1
    /// (distances summed over x, y, z in that order, as scipy's cKDTree does; ties to the lower
    /// index). hint: a point likely near the answer (e.g. the previous query's), or -1.
    long nearest(double x, double y, double z, long hint = -1) const;

    /// A sequence of searches that remembers, per slab, where the previous query's x fell and
    /// the previous answer: consecutive queries close to each other (neighbouring texels) start
    /// from there instead of binary searches. Not shareable between threads.
    class Search {
    public:
        explicit Search(const MirrorIndex& index);
        /// As MirrorIndex::nearest, warm-started from the previous query.
        long nearest(double x, double y, double z);

    private:
        const MirrorIndex& index_;
        std::vector<long> cursor_;  ///< per slab: position of the previous lower bound
        long last_ = -1;            ///< the previous answer (point index) or -1
    };

    /// For each query row (x, y, z), `nearest` of its mirror image (-x, y, z) (queries in a
    /// coherent order, e.g. neighbouring texels one after another, are fastest).
    std::vector<long> mirror_nearest(const MatrixX3d& queries) const;

    /// Number of indexed points.
    long size() const { return long(xs_.size()); }

private:
    /// Whether some point may lie within max_dist of (x, y, z) (false: certainly none).
    bool reachable(double x, double y, double z) const;
    /// The search itself; cursors: per-slab start positions (updated) or null.
    long search(double x, double y, double z, long hint, std::vector<long>* cursors) const;

    const MatrixX3d& pts_;
    double max_dist_ = 1, y0_ = 0, slab_ = 1;
    std::vector<long> start_;  ///< first position of each slab in order_ (size slabs + 1)
    std::vector<long> order_;  ///< point indices, slab by slab, by increasing x within a slab
    std::vector<double> xs_;   ///< x of order_'s points
    std::vector<Eigen::Vector3d> sorted_;  ///< order_'s points, contiguous
    std::vector<long> position_;           ///< position in order_ of each point
    Eigen::Vector3d grid0_ = Eigen::Vector3d::Zero();  ///< corner of the occupancy grid (mm)
    double cell_ = 1;                                   ///< its cell size (mm)
    long nx_ = 0, ny_ = 0, nz_ = 0;
    std::vector<std::uint8_t> reach_;  ///< 1: a point lies within 2 cells in every axis
};

}  // namespace extreme3d::texture
