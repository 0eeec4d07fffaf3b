// Registration functions of the extreme3d._core module, one per concern (defined in bindings/*.cpp).
#pragma once
#include <pybind11/pybind11.h>

namespace extreme3d::bindings {

void bind_model(pybind11::module_& m);   ///< FaceModel (bindings/model.cpp)
void bind_render(pybind11::module_& m);  ///< OSMesa renderer (bindings/render.cpp)
void bind_fit(pybind11::module_& m);     ///< pose / expression / identity fitting (bindings/fit.cpp)
void bind_core(pybind11::module_& m);    ///< dense mesh, occlusion, soft symmetry (bindings/core.cpp)
void bind_io(pybind11::module_& m);      ///< file-format text (PLY bodies) (bindings/io.cpp)
void bind_texture(pybind11::module_& m); ///< texture baking, photo colours (bindings/texture.cpp)
void bind_clean_mesh(pybind11::module_& m);  ///< clean final mesh geometry (bindings/clean_mesh.cpp)
void bind_detect(pybind11::module_& m);  ///< detector pyramid levels (bindings/detect.cpp)

}  // namespace extreme3d::bindings
