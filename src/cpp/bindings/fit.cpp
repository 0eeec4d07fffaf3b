// Python bindings: fit (filled in by its stage).
#include "bindings/bindings.hpp"

namespace extreme3d::bindings {

void bind_fit(pybind11::module_& m) {}

}  // namespace extreme3d::bindings
