// Texture baking: every texel of a mesh's UV atlas coloured from the photo where its surface
// point is seen, else from the visible texel nearest to its mirror point (soft symmetry, with a
// smooth seam correction), else by a push-pull fill (the rule of extreme3d.texture).
#pragma once
#include <cstdint>
#include <vector>

#include "model/types.hpp"
#include "texture/photo_view.hpp"

namespace extreme3d::texture {

/// Texel sources (as extreme3d.texture): photo, mirrored, filled, outside the atlas.
enum Source : std::int8_t { kPhoto = 0, kMirror = 1, kFill = 2, kNone = -1 };

/// Settings of a bake (defaults: extreme3d.texture's).
struct BakeOptions {
    int size = 1024;             ///< texture side (texels)
    bool symmetry = true;        ///< mirrored texels for the unseen side
    double mirror_dist = 3.0;    ///< mm within which a visible texel stands in for a mirror point
    bool seam_correction = true; ///< add the smooth left/right difference to mirrored texels
    double seam_sigma = 12.0;    ///< Gaussian sigma of the seam field (texels of a 1024 texture)
    double seam_max = 255.0;     ///< largest seam correction (grey levels)
    int seam_factor = 4;         ///< the seam field is blurred on a grid this many times coarser
};

/// A baked texture: RGB (size x size x 3, row 0 = top = v 1) and the source of every texel.
struct BakeResult {
    int size = 0;
    std::vector<std::uint8_t> rgb;
    std::vector<std::int8_t> source;
};

/// Bakes the texture of a mesh (vertices V x 3 mm in the frontal model frame, faces F x 3, uv
/// V x 2 in [0, 1]) from the photo view at the fitted pose. Throws std::invalid_argument for a
/// size outside 1..16384 or face indices out of range.
BakeResult bake_texture(const MatrixX3f& vertices, const MatrixX3i& faces, const MatrixX2f& uv,
                        const PhotoView& view, const BakeOptions& options);

}  // namespace extreme3d::texture
