// Yaw-dependent choice of the 68 iBUG landmarks and of their 3D vertices (inner vs outer contour),
// as the original's estimatePoseExpr / BaselFaceEstimator::getLM / getLMByAlpha do it.
#pragma once
#include <vector>

#include "model/face_model.hpp"

namespace extreme3d::fit {

/// Landmark numbers (0..59, no inner mouth) kept for the second EPnP and the refinement at a
/// given yaw (rad, yaw = -rvec[1]): the jaw contour (0..16) is partly dropped on the far side:
/// all kept when |yaw| <= pi/10, only i > 7 when yaw > pi/10, only i < 9 when yaw < -pi/10;
/// points 17..59 are always kept. `yaw` is a float as in the original.
std::vector<int> visible_landmarks(float yaw);

/// 3D vertex of the landmark at position `pos` of a selected list holding landmark `number`:
/// the model's inner index when 0 < yaw < pi/9 and pos < 8, or when -pi/9 < yaw < 0 and
/// 8 < pos < 17; else the outer index. The test is on the POSITION in the list, as the original
/// (for a full 68-point list position and number coincide).
int landmark_vertex(const FaceModel& model, int number, int pos, float yaw);

/// Whether position `pos` of a selected list takes the inner vertex at yaw (rad), see landmark_vertex.
bool uses_inner_vertex(int pos, double yaw);

/// Vertices of a selected list of landmark numbers at a yaw (rad), by landmark_vertex.
std::vector<int> landmark_vertices(const FaceModel& model, const std::vector<int>& numbers, float yaw);

}  // namespace extreme3d::fit
