// Binary morphology and the exact Euclidean distance transform of 2D rasters (the clean final mesh's
// detail regions in the chart raster). The structuring element is the 4-neighbour cross; cells beyond
// the raster count as 0 (scipy.ndimage's binary_dilation / binary_erosion with border_value=0).
#pragma once
#include "core/common.hpp"

namespace extreme3d::core {

/// The mask dilated `iterations` times by the 4-neighbour cross (a cell becomes 1 when it or one of
/// its 4 neighbours is 1).
RowMatrixXu8 dilate_cross(const RowMatrixXu8& mask, int iterations);

/// The mask eroded `iterations` times by the 4-neighbour cross (a cell stays 1 when it and its 4
/// neighbours are 1; cells beyond the raster are 0).
RowMatrixXu8 erode_cross(const RowMatrixXu8& mask, int iterations);

/// Per cell: the Euclidean distance (in cells) from its centre to the centre of the nearest 0 cell
/// (0 on 0 cells; +inf everywhere when the raster has no 0 cell). Exact (separable lower envelope
/// of parabolas, Felzenszwalb & Huttenlocher).
RowMatrixXd distance_transform(const RowMatrixXu8& mask);

/// A region of an h x w raster and its distance map: the cells listed (flat indices row * w + col),
/// closed by `closing` cross dilations then as many erosions, kept where `within` is 1; the distance
/// map is `distance_transform` of the region (in cells).
struct Region {
    RowMatrixXu8 mask;
    RowMatrixXd distance;
};
Region region_distance(Eigen::Index h, Eigen::Index w, const std::vector<int>& cells, int closing,
                       const RowMatrixXu8& within);

}  // namespace extreme3d::core
