// Per-vertex projected edge lengths (see vertex_footprint.hpp).
#include "texture/vertex_footprint.hpp"

#include <cmath>

namespace extreme3d::texture {

Eigen::VectorXd vertex_footprint(const MatrixX2d& uv, const MatrixX3i& faces) {
    Eigen::VectorXd total = Eigen::VectorXd::Zero(uv.rows());
    Eigen::VectorXi count = Eigen::VectorXi::Zero(uv.rows());
    for (Eigen::Index f = 0; f < faces.rows(); ++f) {
        double edge[3];  // edge k runs from corner k to corner k + 1
        for (int k = 0; k < 3; ++k)
            edge[k] = (uv.row(faces(f, (k + 1) % 3)) - uv.row(faces(f, k))).norm();
        for (int k = 0; k < 3; ++k) {  // corner k: edges k and k - 1
            total[faces(f, k)] += edge[k] + edge[(k + 2) % 3];
            count[faces(f, k)] += 2;
        }
    }
    for (Eigen::Index i = 0; i < total.size(); ++i)
        if (count[i] > 0) total[i] /= count[i];
    return total;
}

}  // namespace extreme3d::texture
