// ASan/UBSan driver for core::simplify_bounded without the Python module (bumpy grids, 20,000 random
// meshes with repeated, duplicate and non-manifold faces). Build and run from the repository root:
//   g++ -std=c++17 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined
//       -I src/cpp -I /usr/include/eigen3 bench/sanitize/simplify_driver.cpp
//       src/cpp/core/simplify.cpp -o /tmp/sd && /tmp/sd   (prints "ok kept_total=...")
#include <cmath>
#include <cstdio>
#include <random>

#include "core/simplify.hpp"

using namespace extreme3d;

int main() {
    std::mt19937 rng(1);
    long kept_total = 0;
    for (int n : {2, 3, 10, 40}) {
        MatrixX3d v(n * n, 3);
        MatrixX2d uv(n * n, 2);
        for (int i = 0; i < n; ++i)
            for (int j = 0; j < n; ++j) {
                const double z = j > n / 2 ? 0.3 * std::sin(i * 0.5) * std::sin(j * 0.5) : 0.0;
                v.row(i * n + j) << 0.5 * j, 0.5 * i, z;
                uv.row(i * n + j) << double(j) / n, double(i) / n;
            }
        MatrixX3i f(2 * (n - 1) * (n - 1), 3);
        int r = 0;
        for (int i = 0; i + 1 < n; ++i)
            for (int j = 0; j + 1 < n; ++j) {
                const int a = i * n + j, b = a + 1, c = a + n + 1, d = a + n;
                f.row(r++) << a, b, c;
                f.row(r++) << a, c, d;
            }
        for (double tol : {0.0, 0.05, 10.0}) {
            auto s = core::simplify_bounded(v, f, uv, {tol, 1e-3, 0.5, 0.1, 0.99});
            auto t = core::simplify_bounded(v, f, MatrixX2d(0, 2), {tol, 0, -1, 0, -1});
            kept_total += s.kept.size() + t.kept.size();
        }
    }
    std::uniform_int_distribution<int> nv(1, 60), nf(0, 120);
    std::uniform_real_distribution<double> x(-5, 5);
    for (int it = 0; it < 20000; ++it) {
        const int V = nv(rng), F = nf(rng);
        MatrixX3d v(V, 3);
        MatrixX2d uv(V, 2);
        for (int i = 0; i < V; ++i) {
            v.row(i) << x(rng), x(rng), (it % 3 ? 0.0 : x(rng));
            uv.row(i) << x(rng), x(rng);
        }
        std::uniform_int_distribution<int> idx(0, V - 1);
        MatrixX3i f(F, 3);
        for (int i = 0; i < F; ++i) f.row(i) << idx(rng), idx(rng), idx(rng);
        auto s = core::simplify_bounded(v, f, it % 2 ? uv : MatrixX2d(0, 2), {x(rng) + 5, 0.5, -1, 0, -1});
        for (int i = 0; i < s.faces.rows(); ++i)
            for (int j = 0; j < 3; ++j)
                if (s.faces(i, j) < 0 || s.faces(i, j) >= int(s.kept.size())) { std::printf("bad index\n"); return 1; }
        kept_total += s.kept.size();
    }
    std::printf("ok kept_total=%ld\n", kept_total);
    return 0;
}
