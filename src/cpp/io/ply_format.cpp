// ASCII PLY body text: numbers printed with std::to_chars (printf-exact, locale-free) into one buffer.
#include "io/ply_format.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

namespace extreme3d {
namespace {

/// Longest number: "%.4f" of the largest double has 309 integer digits, sign, point and 4 decimals.
constexpr std::size_t kNumberMax = 320;

/// Appends `value` as printf's "%g" (style Cpp) or "%.4f" (style Python); NaN prints "nan" (no sign,
/// as Python's % operator). Returns the new end pointer; `p` must have room for kNumberMax characters.
char* put_double(char* p, double value, PlyStyle style) {
    if (std::isnan(value)) {
        std::memcpy(p, "nan", 3);
        return p + 3;
    }
    const auto res = style == PlyStyle::Cpp ? std::to_chars(p, p + kNumberMax, value, std::chars_format::general, 6)
                                            : std::to_chars(p, p + kNumberMax, value, std::chars_format::fixed, 4);
    return res.ptr;
}

/// Appends an integer in decimal; `p` must have room for 21 characters.
template <typename Int>
char* put_int(char* p, Int value) {
    return std::to_chars(p, p + 21, value).ptr;
}

}  // namespace

std::string format_ply_vertices(const double* xyz, const std::uint8_t* rgb, std::size_t n, PlyStyle style) {
    constexpr std::size_t kRowMax = 3 * (kNumberMax + 1) + 3 * 4 + 1;
    std::string out;
    out.resize(n * 48 + kRowMax);
    std::size_t used = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (out.size() - used < kRowMax) out.resize(2 * out.size());  // only with huge values
        char* p = out.data() + used;
        for (int k = 0; k < 3; ++k) {
            p = put_double(p, xyz[3 * i + k], style);
            *p++ = ' ';
        }
        if (rgb != nullptr) {
            for (int c = 0; c < 3; ++c) {
                p = put_int(p, static_cast<unsigned>(rgb[3 * i + c]));
                *p++ = ' ';
            }
        }
        p[-1] = '\n';
        used = static_cast<std::size_t>(p - out.data());
    }
    out.resize(used);
    return out;
}

std::string format_ply_faces(const std::int64_t* faces, std::size_t n, PlyStyle style) {
    constexpr std::size_t kRowMax = 2 + 3 * 21 + 2;
    std::string out;
    out.resize(n * kRowMax);
    char* p = out.data();
    for (std::size_t i = 0; i < n; ++i) {
        *p++ = '3';
        for (int k = 0; k < 3; ++k) {
            *p++ = ' ';
            p = put_int(p, faces[3 * i + k]);
        }
        if (style == PlyStyle::Cpp) *p++ = ' ';
        *p++ = '\n';
    }
    out.resize(static_cast<std::size_t>(p - out.data()));
    return out;
}

}  // namespace extreme3d
