// Occluding contour (silhouette) of a triangle mesh seen by the fit camera.
#pragma once
#include <Eigen/Core>
#include <vector>

#include "model/camera.hpp"
#include "model/types.hpp"

namespace extreme3d::fit {

/// Edges of a triangle mesh with their one or two triangles (tri1 = -1 on the mesh border).
struct EdgeTopology {
    std::vector<Eigen::Vector2i> vertices;  ///< the edge's two vertex ids
    std::vector<Eigen::Vector2i> triangles; ///< its triangles (second -1 on the border)
};

/// Edge topology of triangles `faces` (F x 3, 0-based vertex ids).
EdgeTopology edge_topology(const MatrixX3i& faces);

/// Which triangles face the camera at a pose: the camera-space normal (b - a) x (c - a) points
/// towards the camera centre (triangles counter-clockwise seen from their front).
/// vertices: V x 3 model coordinates (mm).
std::vector<char> front_facing(const MatrixX3d& vertices, const MatrixX3i& faces, const Pose& pose);

/// Vertices on the occluding contour at a pose: ends of edges between a front- and a back-facing
/// triangle, and of border edges whose triangle faces the camera. Sorted, unique ids.
std::vector<int> silhouette_vertices(const EdgeTopology& edges, const std::vector<char>& facing);

/// Whether a vertex is seen from its front: at least one triangle touching it faces the camera.
/// Returns a V-vector (1 = some adjacent triangle faces the camera).
std::vector<char> front_vertices(int num_vertices, const MatrixX3i& faces, const std::vector<char>& facing);

/// Whether each vertex of `ids` is seen at a pose: no triangle of `faces` that does not contain
/// it covers its projected pixel nearer to the camera than the vertex by more than `slack` mm
/// (camera z). vertices: V x 3 model coordinates (mm). Returns one flag per id (1 = visible).
std::vector<char> visible_vertices(const MatrixX3d& vertices, const MatrixX3i& faces, const Pose& pose,
                                   const Camera& cam, const std::vector<int>& ids, double slack = 1.0);

}  // namespace extreme3d::fit
