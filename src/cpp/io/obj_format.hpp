// OBJ text rows (`v`, `vt`, `f` lines) formatted as Python's str.format prints them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace extreme3d {

/// Rows of an (n, cols) row-major float64 array as "x y z" cells printed like Python's
/// "{:.<digits>f}" (std::to_chars fixed: exact rounding; "nan", "inf", "-0.000000" as Python),
/// each row after the first preceded by `prefix`, rows joined by "\n" without a final newline
/// (extreme3d.io.obj._rows_text's text).
std::string format_obj_float_rows(const double* a, std::size_t n, std::size_t cols, int digits,
                                  const std::string& prefix);

/// The same for an (n, cols) int64 array printed as integers; `repeat` copies of each value
/// joined by "/" per cell ("a/a" for textured faces when repeat is 2).
std::string format_obj_int_rows(const std::int64_t* a, std::size_t n, std::size_t cols, int repeat,
                                const std::string& prefix);

}  // namespace extreme3d
