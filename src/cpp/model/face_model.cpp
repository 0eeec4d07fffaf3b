// Synthesis and validation of the morphable face model.
#include "model/face_model.hpp"

#include <stdexcept>
#include <string>

namespace extreme3d {

namespace {

// Throws when an index array holds a value outside [0, limit).
void check_indices(const Eigen::Ref<const Eigen::VectorXi>& idx, int limit, const char* name) {
    if (idx.size() == 0) return;
    if (idx.minCoeff() < 0 || idx.maxCoeff() >= limit)
        throw std::invalid_argument(std::string("model array '") + name + "' has an index outside [0, " +
                                    std::to_string(limit) + ")");
}

}  // namespace

void FaceModel::validate() const {
    const Eigen::Index n3 = shape_mu.size();
    if (n3 == 0 || n3 % 3 != 0) throw std::invalid_argument("model array 'shapeMU' must have 3V entries");
    const int v = num_vertices();
    if (shape_pc.rows() != n3 || shape_pc.cols() != shape_ev.size())
        throw std::invalid_argument("model array 'shapePC' must be 3V x K with K = len(shapeEV)");
    if (exp_mu.size() != n3) throw std::invalid_argument("model array 'expMU' must have 3V entries");
    if (exp_pc.rows() != n3 || exp_pc.cols() != exp_ev.size())
        throw std::invalid_argument("model array 'expPC' must be 3V x E with E = len(expEV)");
    if (pair.size() != v) throw std::invalid_argument("model array 'pair' must have V entries");
    if (inner_landmarks.size() != 68) throw std::invalid_argument("model array 'innerLandmarkIndex' must have 68 entries");
    if (outer_landmarks.size() != 68) throw std::invalid_argument("model array 'outerLandmarkIndex' must have 68 entries");
    check_indices(Eigen::Map<const Eigen::VectorXi>(faces.data(), faces.size()), v, "faces");
    check_indices(Eigen::Map<const Eigen::VectorXi>(faces_fill.data(), faces_fill.size()), v, "faces_fill");
    check_indices(pair, v, "pair");
    check_indices(inner_landmarks, v, "innerLandmarkIndex");
    check_indices(outer_landmarks, v, "outerLandmarkIndex");
}

Eigen::VectorXf FaceModel::identity(const Eigen::VectorXf& alpha) const {
    if (alpha.size() != shape_ev.size())
        throw std::invalid_argument("identity coefficients: expected " + std::to_string(shape_ev.size()) +
                                    " values, got " + std::to_string(alpha.size()));
    return shape_mu + shape_pc * alpha.cwiseProduct(shape_ev);
}

Eigen::VectorXf FaceModel::expression(const Eigen::VectorXf& expr) const {
    if (expr.size() != exp_ev.size())
        throw std::invalid_argument("expression coefficients: expected " + std::to_string(exp_ev.size()) +
                                    " values, got " + std::to_string(expr.size()));
    return exp_mu + exp_pc * expr.cwiseProduct(exp_ev);
}

MatrixX3f FaceModel::vertices(const Eigen::VectorXf& alpha, const Eigen::VectorXf& expr) const {
    return to_vertices(identity(alpha) + expression(expr));
}

MatrixX3f to_vertices(const Eigen::VectorXf& flat) {
    return Eigen::Map<const MatrixX3f>(flat.data(), flat.size() / 3, 3);
}

}  // namespace extreme3d
