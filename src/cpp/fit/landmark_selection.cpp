// Yaw-dependent landmark selection of the original pose fit.
#include "fit/landmark_selection.hpp"

#include <cmath>

namespace extreme3d::fit {

std::vector<int> visible_landmarks(float yaw) {
    const double a = std::fabs(yaw), lim = M_PI / 10;
    std::vector<int> out;
    for (int i = 0; i < 60; ++i)
        if (i > 16 || a <= lim || (yaw > lim && i > 7) || (yaw < -lim && i < 9)) out.push_back(i);
    return out;
}

bool uses_inner_vertex(int pos, double yaw) {
    const double lim = M_PI / 9;
    return (yaw > 0 && yaw < lim && pos < 8) || (yaw < 0 && yaw > -lim && pos > 8 && pos < 17);
}

int landmark_vertex(const FaceModel& model, int number, int pos, float yaw) {
    return uses_inner_vertex(pos, static_cast<double>(yaw)) ? model.inner_landmarks(number)
                                                             : model.outer_landmarks(number);
}

std::vector<int> landmark_vertices(const FaceModel& model, const std::vector<int>& numbers, float yaw) {
    std::vector<int> out(numbers.size());
    for (std::size_t k = 0; k < numbers.size(); ++k)
        out[k] = landmark_vertex(model, numbers[k], static_cast<int>(k), yaw);
    return out;
}

}  // namespace extreme3d::fit
