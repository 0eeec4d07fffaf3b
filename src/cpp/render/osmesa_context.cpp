// OSMesa context management: one context per process, rebound to the caller's thread and image
// size on every call (OSMesaMakeCurrent is cheap when the buffer does not change).
#include "render/osmesa_context.hpp"

#include <GL/gl.h>

#include <stdexcept>
#include <string>

namespace extreme3d::render {

OsmesaContext::OsmesaContext() {
    // RGBA colour, 24-bit depth, no stencil/accumulation: the original's FBO had DEPTH_COMPONENT24.
    ctx_ = OSMesaCreateContextExt(OSMESA_RGBA, 24, 0, 0, nullptr);
    if (ctx_ == nullptr) throw std::runtime_error("OSMesa: could not create an off-screen GL context");
}

OsmesaContext::~OsmesaContext() {
    if (ctx_ != nullptr) OSMesaDestroyContext(ctx_);
}

OsmesaContext& OsmesaContext::instance() {
    // Created on first use; a failed creation throws and is retried on the next call.
    static std::mutex creation_mutex;
    static std::unique_ptr<OsmesaContext> context;
    std::lock_guard<std::mutex> guard(creation_mutex);
    if (!context) context.reset(new OsmesaContext());
    return *context;
}

void OsmesaContext::make_current(int width, int height) {
    if (width < 1 || height < 1 || width > kMaxSize || height > kMaxSize) {
        throw std::invalid_argument("render: image size must be in 1.." + std::to_string(kMaxSize) +
                                    " pixels, got " + std::to_string(width) + "x" +
                                    std::to_string(height));
    }
    const std::size_t bytes = std::size_t(width) * std::size_t(height) * 4;
    if (color_.size() != bytes) {
        color_.assign(bytes, 0);
        color_.shrink_to_fit();  // a smaller image gives its memory back
    }
    // Rebinding on every call: the calling thread may differ from the previous caller's.
    if (!OSMesaMakeCurrent(ctx_, color_.data(), GL_UNSIGNED_BYTE, width, height)) {
        throw std::runtime_error("OSMesa: could not bind a " + std::to_string(width) + "x" +
                                 std::to_string(height) + " buffer");
    }
    glViewport(0, 0, width, height);
}

OsmesaContext::Binding::Binding(OsmesaContext& owner, int width, int height) : lock_(owner.mutex_) {
    owner.make_current(width, height);
}

}  // namespace extreme3d::render
