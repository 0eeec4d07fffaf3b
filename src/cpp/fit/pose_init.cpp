// Two-stage EPnP initialisation of the pose fit.
#include "fit/pose_init.hpp"

#include "fit/epnp.hpp"
#include "fit/landmark_selection.hpp"

namespace extreme3d::fit {

Eigen::Vector3f neutral_vertex(const FaceModel& model, const Eigen::VectorXf& alpha, int vertex) {
    // As the original's getShape with OpenCV's float gemm on reference BLAS: the sum starts at
    // shapeMU (gemm with beta = 1) and adds pc_k * (alpha_k * EV_k) one k at a time in float;
    // then + expMU in float.
    const Eigen::VectorXf w = alpha.cwiseProduct(model.shape_ev);
    Eigen::Vector3f out;
    for (int j = 0; j < 3; ++j) {
        const int row = 3 * vertex + j;
        float id = model.shape_mu(row);
        for (Eigen::Index k = 0; k < w.size(); ++k) id += model.shape_pc(row, k) * w(k);
        out(j) = id + model.exp_mu(row);
    }
    return out;
}

namespace {

// EPnP of the listed landmarks with the given vertices; pose rounded to float as the original.
void run_epnp(const FaceModel& model, const Eigen::VectorXf& alpha, const MatrixX2f& landmarks,
              const std::vector<int>& numbers, const std::vector<int>& vertices, const Camera& cam,
              Eigen::Vector3f& rvec, Eigen::Vector3f& tvec) {
    const Eigen::Index n = static_cast<Eigen::Index>(numbers.size());
    MatrixX3d p3(n, 3);
    MatrixX2d p2(n, 2);
    for (Eigen::Index k = 0; k < n; ++k) {
        p3.row(k) = neutral_vertex(model, alpha, vertices[k]).cast<double>().transpose();
        p2.row(k) = landmarks.row(numbers[k]).cast<double>();
    }
    const EpnpResult res = epnp(p3, p2, cam);
    rvec = rodrigues_from_matrix(res.R).cast<float>();
    tvec = res.t.cast<float>();
}

}  // namespace

PoseInit initial_pose(const FaceModel& model, const Eigen::VectorXf& alpha, const MatrixX2f& landmarks,
                      const Camera& cam) {
    PoseInit init;
    std::vector<int> first(60);
    for (int i = 0; i < 60; ++i) first[i] = i;
    // yaw unknown: getLM(shape, 0) picks the outer vertex for every point.
    run_epnp(model, alpha, landmarks, first, landmark_vertices(model, first, 0.0f), cam, init.rvec1, init.tvec1);

    const float yaw = -init.rvec1(1);
    // getLM numbers all 68 points, so position = landmark number for the vertex choice.
    std::vector<int> all(68);
    for (int i = 0; i < 68; ++i) all[i] = i;
    const std::vector<int> by_number = landmark_vertices(model, all, yaw);
    init.selected = visible_landmarks(yaw);
    std::vector<int> verts;
    for (int i : init.selected) verts.push_back(by_number[i]);
    run_epnp(model, alpha, landmarks, init.selected, verts, cam, init.rvec, init.tvec);
    for (int i = 60; i < 68; ++i) init.selected.push_back(i);
    return init;
}

}  // namespace extreme3d::fit
