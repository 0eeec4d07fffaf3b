// Python bindings of the morphable FaceModel (numpy arrays in, 0-based indices).
#include <pybind11/eigen.h>
#include <pybind11/stl.h>

#include "bindings/bindings.hpp"
#include "model/face_model.hpp"

namespace py = pybind11;

namespace extreme3d::bindings {

void bind_model(py::module_& m) {
    py::class_<FaceModel>(m, "FaceModel", "Shape + expression morphable model (mm, 0-based indices).")
        .def(py::init([](Eigen::VectorXf shape_mu, Eigen::MatrixXf shape_pc, Eigen::VectorXf shape_ev,
                         Eigen::VectorXf exp_mu, Eigen::MatrixXf exp_pc, Eigen::VectorXf exp_ev, MatrixX3i faces,
                         MatrixX3i faces_fill, Eigen::VectorXi pair, Eigen::VectorXi inner_landmarks,
                         Eigen::VectorXi outer_landmarks) {
                 FaceModel model{std::move(shape_mu), std::move(shape_pc), std::move(shape_ev),
                                 std::move(exp_mu),   std::move(exp_pc),   std::move(exp_ev),
                                 std::move(faces),    std::move(faces_fill), std::move(pair),
                                 std::move(inner_landmarks), std::move(outer_landmarks)};
                 model.validate();
                 return model;
             }),
             py::arg("shape_mu"), py::arg("shape_pc"), py::arg("shape_ev"), py::arg("exp_mu"), py::arg("exp_pc"),
             py::arg("exp_ev"), py::arg("faces"), py::arg("faces_fill"), py::arg("pair"),
             py::arg("inner_landmarks"), py::arg("outer_landmarks"))
        .def_property_readonly("num_vertices", &FaceModel::num_vertices)
        .def_property_readonly("num_shape", &FaceModel::num_shape)
        .def_property_readonly("num_expr", &FaceModel::num_expr)
        .def_readonly("faces", &FaceModel::faces)
        .def_readonly("faces_fill", &FaceModel::faces_fill)
        .def_readonly("pair", &FaceModel::pair)
        .def_readonly("inner_landmarks", &FaceModel::inner_landmarks)
        .def_readonly("outer_landmarks", &FaceModel::outer_landmarks)
        .def("vertices", &FaceModel::vertices, py::arg("alpha"), py::arg("expr"),
             "V x 3 vertices (mm, model coordinates) of identity alpha and expression expr.");
}

}  // namespace extreme3d::bindings
