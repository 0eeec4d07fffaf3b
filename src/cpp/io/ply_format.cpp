// ASCII PLY body text: numbers printed with std::to_chars (printf-exact, locale-free) into one buffer.
#include "io/ply_format.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

namespace extreme3d {
namespace {

/// Longest number: "%.4f" of the largest double has 309 integer digits, sign, point and 4 decimals.
constexpr std::size_t kNumberMax = 320;

/// Powers of ten 10^0 .. 10^9 (exact doubles).
constexpr double kTens[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

/// Appends `value` as printf's "%g" (6 significant digits) when its magnitude is in [1e-4, 1e6)
/// and its rounding is not within 1e-6 of a tie (the digits from one scaling by an exact power
/// of ten, whose relative error of 2^-53 cannot move such a rounding); returns nullptr, writing
/// nothing, otherwise (zero, huge or tiny values, near-ties: to_chars prints those). 6-11 times
/// faster than to_chars, with the same characters (tests/test_ply.py compares millions).
char* put_g6_fast(char* p, double value) {
    const double a = std::fabs(value);
    if (!(a >= 1e-4 && a < 1e6)) return nullptr;
    int x = 5;  // decimal exponent: 10^x <= a < 10^(x+1), from the doubles nearest the powers
    while (x > -4 && a < (x >= 0 ? kTens[x] : 1.0 / kTens[-x])) --x;
    const double scaled = a * kTens[5 - x];  // 6 digits before the point
    if (scaled < 1e5) return nullptr;        // the exponent misjudged next to a power of ten
    const double whole = std::floor(scaled);
    if (std::fabs(scaled - whole - 0.5) < 1e-6) return nullptr;  // a tie, or too near one
    long m = static_cast<long>(whole) + (scaled - whole > 0.5 ? 1 : 0);
    if (m >= 1000000) {  // rounded up to the next power of ten
        if (++x > 5) return nullptr;  // %g switches to an exponent at 1e6
        m /= 10;
    }
    char digits[6];
    for (int i = 5; i >= 0; --i, m /= 10) digits[i] = char('0' + m % 10);
    int last = 5;  // trailing zeros of the fraction are dropped
    const int integer_digits = x >= 0 ? x + 1 : 0;
    while (last >= integer_digits && digits[last] == '0') --last;
    if (value < 0) *p++ = '-';
    if (x >= 0) {
        for (int i = 0; i < integer_digits; ++i) *p++ = digits[i];
        if (last >= integer_digits) {
            *p++ = '.';
            for (int i = integer_digits; i <= last; ++i) *p++ = digits[i];
        }
    } else {
        *p++ = '0';
        *p++ = '.';
        for (int i = 0; i < -x - 1; ++i) *p++ = '0';
        for (int i = 0; i <= last; ++i) *p++ = digits[i];
    }
    return p;
}

/// Appends `value` as printf's "%g" (style Cpp) or "%.4f" (style Python); NaN prints "nan" (no sign,
/// as Python's % operator). Returns the new end pointer; `p` must have room for kNumberMax characters.
char* put_double(char* p, double value, PlyStyle style) {
    if (std::isnan(value)) {
        std::memcpy(p, "nan", 3);
        return p + 3;
    }
    if (style == PlyStyle::Cpp) {
        if (char* end = put_g6_fast(p, value)) return end;
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
