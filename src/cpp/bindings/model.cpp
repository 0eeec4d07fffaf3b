// Python bindings of the morphable FaceModel (numpy arrays in, 0-based indices).
#include <pybind11/eigen.h>
#include <pybind11/stl.h>

#include "bindings/bindings.hpp"
#include "bindings/checks.hpp"
#include "model/face_model.hpp"

namespace py = pybind11;

namespace extreme3d::bindings {

void bind_model(py::module_& m) {
    py::class_<FaceModel>(m, "FaceModel", "Shape + expression morphable model (mm, 0-based indices).")
        .def(py::init([](const py::object& shape_mu, const py::object& shape_pc, const py::object& shape_ev,
                         const py::object& exp_mu, const py::object& exp_pc, const py::object& exp_ev,
                         const py::object& faces, const py::object& faces_fill, const py::object& pair,
                         const py::object& inner_landmarks, const py::object& outer_landmarks) {
                 using checks::kMaxModelValue;
                 auto vec = [](const py::object& o, const char* what) {
                     return checks::to_vector<Eigen::VectorXf>(o, std::string("model array '") + what + "'", -1, true,
                                                               kMaxModelValue);
                 };
                 auto mat = [](const py::object& o, const char* what) {
                     const auto a = checks::to_array<float>(o, std::string("model array '") + what + "'", true,
                                                            kMaxModelValue);
                     checks::expect_shape(a, std::string("model array '") + what + "'", {-1, -1});
                     // row-major numpy data into a column-major Eigen matrix
                     Eigen::MatrixXf m = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic,
                                                                        Eigen::RowMajor>>(a.data(), a.shape(0), a.shape(1));
                     return m;
                 };
                 auto idx = [](const py::object& o, const char* what) {
                     return checks::to_vector<Eigen::VectorXi>(o, std::string("model array '") + what + "'");
                 };
                 auto tri = [](const py::object& o, const char* what) {
                     return checks::to_matrix<MatrixX3i>(o, std::string("model array '") + what + "'");
                 };
                 FaceModel model{vec(shape_mu, "shapeMU"), mat(shape_pc, "shapePC"), vec(shape_ev, "shapeEV"),
                                 vec(exp_mu, "expMU"), mat(exp_pc, "expPC"), vec(exp_ev, "expEV"),
                                 tri(faces, "faces"), tri(faces_fill, "faces_fill"), idx(pair, "pair"),
                                 idx(inner_landmarks, "innerLandmarkIndex"), idx(outer_landmarks, "outerLandmarkIndex")};
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
        .def(
            "vertices",
            [](const FaceModel& model, const py::object& alpha, const py::object& expr) {
                return model.vertices(checks::to_vector<Eigen::VectorXf>(alpha, "alpha", model.num_shape(), true, 1e4),
                                      checks::to_vector<Eigen::VectorXf>(expr, "expr", model.num_expr(), true, 1e4));
            },
            py::arg("alpha"), py::arg("expr"),
             "V x 3 vertices (mm, model coordinates) of identity alpha and expression expr.");
}

}  // namespace extreme3d::bindings
