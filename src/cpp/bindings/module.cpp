// The extreme3d._core extension module: geometry and rendering of the Extreme 3D Faces pipeline.
#include "bindings/bindings.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "extreme3d geometry core: OSMesa renderer, pose/expression fit, bump layering, soft symmetry";
    extreme3d::bindings::bind_model(m);
    extreme3d::bindings::bind_render(m);
    extreme3d::bindings::bind_fit(m);
    extreme3d::bindings::bind_core(m);
    extreme3d::bindings::bind_io(m);
    extreme3d::bindings::bind_texture(m);
    extreme3d::bindings::bind_clean_mesh(m);
    extreme3d::bindings::bind_detect(m);
}
