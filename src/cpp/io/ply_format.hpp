// ASCII PLY body text in the original's two layouts (see src/extreme3d/io/ply.py).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace extreme3d {

/// The two writers of the original program.
enum class PlyStyle {
    Cpp,     ///< TestBump (C++ ostream): "%g %g %g[ r g b]\n", faces "3 a b c \n" (trailing space)
    Python,  ///< the Python script: "%.4f %.4f %.4f[ r g b]\n", faces "3 a b c\n"
};

/// Vertex lines of a PLY body: `xyz` is (n, 3) row-major (mm; floats promoted to double print
/// exactly like the original), `rgb` (n, 3) row-major or null for no colour columns.
/// Numbers are printed as C printf would (%g: 6 significant digits, or %.4f); NaN as "nan".
std::string format_ply_vertices(const double* xyz, const std::uint8_t* rgb, std::size_t n, PlyStyle style);

/// Face lines "3 a b c" (0-based indices as given) of a PLY body; `faces` is (n, 3) row-major.
std::string format_ply_faces(const std::int64_t* faces, std::size_t n, PlyStyle style);

}  // namespace extreme3d
