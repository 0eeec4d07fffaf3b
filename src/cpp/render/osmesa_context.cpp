// OSMesa context management: one context per process, rebound to the caller's thread and image
// size on every call (OSMesaMakeCurrent is cheap when the buffer does not change).
//
// Fork safety: llvmpipe's rasteriser worker threads do not survive fork(), so a child process
// that renders with a context created by its parent would hang. Unless the user sets
// LP_NUM_THREADS, the context is created with LP_NUM_THREADS=0 (rasterisation in the calling
// thread), which works across fork (multiprocessing's default start method on Linux). If the user
// enabled worker threads, a forked child refuses to render with a clear error instead of hanging.
// Fork handlers also hold the context lock across fork() so a child never inherits it locked.
#ifndef GL_GLEXT_PROTOTYPES
#define GL_GLEXT_PROTOTYPES 1
#endif
#include "render/osmesa_context.hpp"

#include <GL/gl.h>
#include <GL/glext.h>
#include <pthread.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace extreme3d::render {
namespace {

std::mutex& creation_mutex() {
    static std::mutex m;
    return m;
}

std::unique_ptr<OsmesaContext>& context_slot() {
    static std::unique_ptr<OsmesaContext> slot;
    return slot;
}

bool g_worker_threads = false;  // LP_NUM_THREADS > 0 when the context was created
bool g_forked_child = false;    // set in a child forked after the context existed

}  // namespace

OsmesaContext::OsmesaContext() {
    const char* threads = std::getenv("LP_NUM_THREADS");
    if (threads == nullptr) {
        setenv("LP_NUM_THREADS", "0", 0);  // read by llvmpipe when its screen is created below
    } else {
        g_worker_threads = std::atoi(threads) > 0;
    }
    // RGBA colour, 24-bit depth, no stencil/accumulation: the original's FBO had DEPTH_COMPONENT24.
    ctx_ = OSMesaCreateContextExt(OSMESA_RGBA, 24, 0, 0, nullptr);
    if (ctx_ == nullptr) throw std::runtime_error("OSMesa: could not create an off-screen GL context");
}

OsmesaContext::~OsmesaContext() {
    if (ctx_ != nullptr && !g_forked_child) OSMesaDestroyContext(ctx_);
}

OsmesaContext& OsmesaContext::instance() {
    std::lock_guard<std::mutex> guard(creation_mutex());
    auto& slot = context_slot();
    if (g_forked_child && g_worker_threads) {
        throw std::runtime_error(
            "render: the OSMesa context was created with LP_NUM_THREADS > 0 before this process "
            "was forked; llvmpipe threads do not survive fork(). Use multiprocessing's 'spawn' "
            "start method or leave LP_NUM_THREADS unset");
    }
    if (!slot) {
        // Created on first use; a failed creation throws and is retried on the next call.
        slot.reset(new OsmesaContext());
        static const int registered = pthread_atfork(
            [] {  // prepare: no render may be in flight across fork()
                creation_mutex().lock();
                if (context_slot()) context_slot()->mutex_.lock();
            },
            [] {  // parent
                if (context_slot()) context_slot()->mutex_.unlock();
                creation_mutex().unlock();
            },
            [] {  // child
                if (context_slot()) {
                    context_slot()->mutex_.unlock();
                    g_forked_child = true;
                }
                creation_mutex().unlock();
            });
        (void)registered;
    }
    return *slot;
}

void OsmesaContext::make_current(int width, int height) {
    if (width < 1 || height < 1 || width > kMaxSize || height > kMaxSize) {
        throw std::invalid_argument("render: image size must be in 1.." + std::to_string(kMaxSize) +
                                    " pixels, got " + std::to_string(width) + "x" +
                                    std::to_string(height));
    }
    if (window_.empty()) window_.assign(std::size_t(kWindowSize) * kWindowSize * 4, 0);
    // Rebinding on every call: the calling thread may differ from the previous caller's.
    if (!OSMesaMakeCurrent(ctx_, window_.data(), GL_UNSIGNED_BYTE, kWindowSize, kWindowSize))
        throw std::runtime_error("OSMesa: could not make the context current");
    if (fbo_ == 0) {
        glGenFramebuffers(1, &fbo_);
        glGenRenderbuffers(1, &color_rb_);
        glGenRenderbuffers(1, &depth_rb_);
    }
    glBindFramebuffer(GL_FRAMEBUFFER, fbo_);
    if (width != fbo_width_ || height != fbo_height_) {
        // Same names, new storage: nothing accumulates when sizes change.
        glBindRenderbuffer(GL_RENDERBUFFER, color_rb_);
        glRenderbufferStorage(GL_RENDERBUFFER, GL_RGBA8, width, height);
        glBindRenderbuffer(GL_RENDERBUFFER, depth_rb_);
        glRenderbufferStorage(GL_RENDERBUFFER, GL_DEPTH_COMPONENT24, width, height);
        glBindRenderbuffer(GL_RENDERBUFFER, 0);
        glFramebufferRenderbuffer(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_RENDERBUFFER, color_rb_);
        glFramebufferRenderbuffer(GL_FRAMEBUFFER, GL_DEPTH_ATTACHMENT, GL_RENDERBUFFER, depth_rb_);
        fbo_width_ = fbo_height_ = 0;
        if (glCheckFramebufferStatus(GL_FRAMEBUFFER) != GL_FRAMEBUFFER_COMPLETE) {
            glBindFramebuffer(GL_FRAMEBUFFER, 0);
            throw std::runtime_error("OSMesa: could not create a " + std::to_string(width) + "x" +
                                     std::to_string(height) + " framebuffer");
        }
        fbo_width_ = width;
        fbo_height_ = height;
    }
    glViewport(0, 0, width, height);
}

OsmesaContext::Binding::Binding(OsmesaContext& owner, int width, int height) : lock_(owner.mutex_) {
    owner.make_current(width, height);
}

OsmesaContext::Binding::~Binding() { OSMesaMakeCurrent(nullptr, nullptr, 0, 0, 0); }

}  // namespace extreme3d::render
