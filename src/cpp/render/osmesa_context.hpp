// The process-wide headless OpenGL context (OSMesa): created lazily on first use, reused by every
// render call, guarded by a mutex. Its RGBA colour buffer is resized to each call's image size.
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

    /// Locks the context and makes it current with a width x height buffer (pixels, >= 1).
    Binding bind(int width, int height) { return Binding(*this, width, height); }

    /// Largest image side length accepted (pixels; Mesa's viewport limit).
    static constexpr int kMaxSize = 16384;

private:
    OsmesaContext();
    void make_current(int width, int height);  // caller holds mutex_

    std::mutex mutex_;
    OSMesaContext ctx_ = nullptr;
    std::vector<std::uint8_t> color_;  // RGBA8 colour buffer bound to ctx_ (bottom row first)
};

}  // namespace extreme3d::render
