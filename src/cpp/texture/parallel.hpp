// Splitting a loop over contiguous chunks run by a few threads (texture baking's per-texel loops).
#pragma once
#include <algorithm>
#include <thread>
#include <vector>

namespace extreme3d::texture {

/// Runs body(begin, end) on contiguous chunks covering [0, n): one chunk per thread, at most
/// 4 threads and no more than the machine's cores, each chunk at least min_chunk items (fewer
/// threads for small n); the calling thread runs the first chunk. body must only write state of
/// its own items (or per-chunk state).
template <typename Body>
void parallel_chunks(long n, long min_chunk, Body body) {
    const long cores = std::max(1L, long(std::thread::hardware_concurrency()));
    const long threads = std::clamp(n / std::max(min_chunk, 1L), 1L, std::min(cores, 4L));
    if (threads <= 1) {
        body(0L, n);
        return;
    }
    std::vector<std::thread> pool;
    const long step = (n + threads - 1) / threads;
    for (long k = 1; k < threads; ++k) {
        const long b = std::min(n, k * step), e = std::min(n, (k + 1) * step);
        pool.emplace_back([&body, b, e] { body(b, e); });
    }
    body(0L, std::min(n, step));
    for (auto& t : pool) t.join();
}

}  // namespace extreme3d::texture
