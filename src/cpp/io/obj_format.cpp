// OBJ text rows with std::to_chars (exact, locale-free) into one buffer (see obj_format.hpp).
#include "io/obj_format.hpp"

#include <charconv>
#include <cmath>

namespace extreme3d {
namespace {

/// Appends `value` as Python's "{:.<digits>f}" does.
void append_fixed(std::string& out, double value, int digits) {
    if (std::isnan(value)) {
        out += "nan";
        return;
    }
    if (std::isinf(value)) {
        out += value < 0 ? "-inf" : "inf";
        return;
    }
    char buf[400];
    const auto res = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::fixed, digits);
    out.append(buf, res.ptr);
}

/// Appends an integer.
void append_int(std::string& out, std::int64_t value) {
    char buf[24];
    const auto res = std::to_chars(buf, buf + sizeof(buf), value);
    out.append(buf, res.ptr);
}

}  // namespace

std::string format_obj_float_rows(const double* a, std::size_t n, std::size_t cols, int digits,
                                  const std::string& prefix) {
    std::string out;
    out.reserve(n * cols * (digits + 6));
    for (std::size_t i = 0; i < n; ++i) {
        if (i) {
            out += '\n';
            out += prefix;
        }
        for (std::size_t c = 0; c < cols; ++c) {
            if (c) out += ' ';
            append_fixed(out, a[i * cols + c], digits);
        }
    }
    return out;
}

std::string format_obj_int_rows(const std::int64_t* a, std::size_t n, std::size_t cols, int repeat,
                                const std::string& prefix) {
    std::string out;
    out.reserve(n * cols * 8 * repeat);
    for (std::size_t i = 0; i < n; ++i) {
        if (i) {
            out += '\n';
            out += prefix;
        }
        for (std::size_t c = 0; c < cols; ++c) {
            if (c) out += ' ';
            for (int r = 0; r < repeat; ++r) {
                if (r) out += '/';
                append_int(out, a[i * cols + c]);
            }
        }
    }
    return out;
}

}  // namespace extreme3d
