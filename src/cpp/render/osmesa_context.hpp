// The process-wide headless OpenGL context (OSMesa): created lazily on first use, reused by every
// render call, guarded by a mutex. Like the original's FBRender it draws into a framebuffer object
// (RGBA8 colour + GL_DEPTH_COMPONENT24 depth renderbuffers) resized to each call's image size.
#pragma once
#include <GL/osmesa.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace extreme3d::render {

/// One OSMesa context (RGBA colour, 24-bit depth, like the original's FBO) for the whole process.
class OsmesaContext {
public:
    /// Holds the context lock; while it lives the context is current on the calling thread and
    /// has a width x height framebuffer with the viewport set to cover it.
    class Binding {
    public:
        explicit Binding(OsmesaContext& owner, int width, int height);
        /// Releases the context from the calling thread (a GL context is current on one thread
        /// at a time), then the lock.
        ~Binding();
        Binding(const Binding&) = delete;
        Binding& operator=(const Binding&) = delete;

    private:
        std::unique_lock<std::mutex> lock_;
    };

    OsmesaContext(const OsmesaContext&) = delete;
    OsmesaContext& operator=(const OsmesaContext&) = delete;
    ~OsmesaContext();

    /// The process-wide context; throws std::runtime_error when OSMesa cannot create one.
    static OsmesaContext& instance();

    /// Locks the context, makes it current and binds a width x height framebuffer object (pixels).
    Binding bind(int width, int height) { return Binding(*this, width, height); }

    /// Largest image side length accepted (pixels; Mesa's viewport limit).
    static constexpr int kMaxSize = 16384;
    /// Side of the window buffer OSMesa is bound to (pixels; the images go to the FBO).
    static constexpr int kWindowSize = 16;

private:
    OsmesaContext();
    void make_current(int width, int height);  // caller holds mutex_

    std::mutex mutex_;
    OSMesaContext ctx_ = nullptr;
    std::vector<std::uint8_t> window_;  // small RGBA8 buffer OSMesa binds (drawing goes to the FBO)
    unsigned int fbo_ = 0, color_rb_ = 0, depth_rb_ = 0;  // GL names, created on first bind
    int fbo_width_ = 0, fbo_height_ = 0;
};

}  // namespace extreme3d::render
