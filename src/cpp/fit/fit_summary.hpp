// Common bookkeeping of a finished pose + expression fit (RMSEs, costs, landmark vertices).
#pragma once
#include "fit/fit_result.hpp"
#include "fit/pose_cost.hpp"

namespace extreme3d::fit {

/// Fills the RMSEs (px) at the EPnP and refined poses with the final expression, the initial
/// and final costs as written (double precision), the landmark list and its 68 vertices at the
/// refined yaw (-1 for landmarks not in the list).
void summarise_fit(PoseExprFit& fit, const FaceModel& model, const LandmarkTerms& terms, const Camera& cam);

}  // namespace extreme3d::fit
