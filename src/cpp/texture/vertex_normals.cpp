// Area-weighted vertex normals (see vertex_normals.hpp).
#include "texture/vertex_normals.hpp"

#include <cmath>

namespace extreme3d::texture {

MatrixX3d vertex_normals(const MatrixX3f& vertices, const MatrixX3i& faces) {
    const Eigen::Index F = faces.rows();
    MatrixX3d face_n(F, 3);
    for (Eigen::Index f = 0; f < F; ++f) {
        double p[3][3];
        for (int k = 0; k < 3; ++k)
            for (int d = 0; d < 3; ++d) p[k][d] = double(vertices(faces(f, k), d));
        const double e1[3] = {p[1][0] - p[0][0], p[1][1] - p[0][1], p[1][2] - p[0][2]};
        const double e2[3] = {p[2][0] - p[0][0], p[2][1] - p[0][1], p[2][2] - p[0][2]};
        face_n(f, 0) = e1[1] * e2[2] - e1[2] * e2[1];
        face_n(f, 1) = e1[2] * e2[0] - e1[0] * e2[2];
        face_n(f, 2) = e1[0] * e2[1] - e1[1] * e2[0];
    }
    MatrixX3d n = MatrixX3d::Zero(vertices.rows(), 3);
    for (int k = 0; k < 3; ++k)
        for (Eigen::Index f = 0; f < F; ++f)
            for (int d = 0; d < 3; ++d) n(faces(f, k), d) += face_n(f, d);
    for (Eigen::Index i = 0; i < n.rows(); ++i) {
        const double len = std::sqrt(n(i, 0) * n(i, 0) + n(i, 1) * n(i, 1) + n(i, 2) * n(i, 2));
        if (len > 0) n.row(i) /= len;
    }
    return n;
}

}  // namespace extreme3d::texture
