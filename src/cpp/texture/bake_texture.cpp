// Texture baking in UV space (see bake_texture.hpp).
#include "texture/bake_texture.hpp"

#include <Eigen/Geometry>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "texture/image_fill.hpp"
#include "texture/mirror_index.hpp"
#include "texture/parallel.hpp"
#include "texture/uv_raster.hpp"

namespace extreme3d::texture {
namespace {

/// Unit normals (F x 3, double) of the triangles: cross(b - a, c - a) of the float corners.
MatrixX3d unit_face_normals(const MatrixX3f& v, const MatrixX3i& faces) {
    MatrixX3d n(faces.rows(), 3);
    for (Eigen::Index f = 0; f < faces.rows(); ++f) {
        const Eigen::Vector3d a = v.row(faces(f, 0)).cast<double>().transpose();
        const Eigen::Vector3d b = v.row(faces(f, 1)).cast<double>().transpose();
        const Eigen::Vector3d c = v.row(faces(f, 2)).cast<double>().transpose();
        const Eigen::Vector3d x = (b - a).cross(c - a);
        n.row(f) = (x / std::max(x.norm(), 1e-12)).transpose();
    }
    return n;
}

/// Means over factor x factor texel blocks (the last blocks partial when S is not a multiple) of
/// the seam measurements: three colour differences (grey levels) and the weight 1 at every
/// visible texel whose mirror is visible, 0 elsewhere. Summed straight into the block grid in
/// texel order (the sums of a full S x S image summed block by block, without that image);
/// `any` tells whether a pair was measured.
FloatImage seam_block_means(const std::vector<long>& texels, const std::vector<float>& colors,
                            const std::vector<long>& vis, const std::vector<long>& back, int S,
                            int factor, bool& any) {
    const int h = (S + factor - 1) / factor;
    FloatImage out(h, h, 4);
    any = false;
    for (std::size_t j = 0; j < vis.size(); ++j) {
        if (back[j] < 0) continue;
        const long t = vis[j], m = vis[std::size_t(back[j])];
        float* o = out.at(int(texels[t] / S) / factor, int(texels[t] % S) / factor);
        for (int k = 0; k < 3; ++k) o[k] += colors[3 * t + k] - colors[3 * m + k];
        o[3] += 1.0f;
        any = true;
    }
    if (!any) return out;
    for (int r = 0; r < h; ++r) {
        const float rows = float(std::min(S, (r + 1) * factor) - r * factor);
        for (int c = 0; c < h; ++c) {
            const float count = rows * float(std::min(S, (c + 1) * factor) - c * factor);
            for (int k = 0; k < 4; ++k) out.at(r, c)[k] /= count;
        }
    }
    return out;
}

/// The seam field: the photo's left/right colour difference measured on visible texels whose
/// mirror is visible, Gaussian-smoothed (normalised by the smoothed weights) and push-pull filled
/// where the smoothed weight is below 0.05. The sums are blurred on a grid opt.seam_factor times
/// coarser than the texture (block means; the blur is wide) and bilinearly resampled to the
/// texture's grid, where the fill is done (filled on a grid half as fine, the field differed from
/// the reference's by more than one grey level on 1.5% of a texture's texels, at the edges of
/// wide unmeasured regions); returns that grid (3 channels), empty when no texel pair was
/// measured.
FloatImage seam_field(const std::vector<long>& texels, const std::vector<float>& colors,
                      const std::vector<long>& vis, const std::vector<long>& back,
                      const BakeOptions& opt) {
    const int S = opt.size;
    const int factor = std::max(1, std::min(opt.seam_factor, S));
    bool any = false;
    const FloatImage means = seam_block_means(texels, colors, vis, back, S, factor, any);
    if (!any) return FloatImage(0, 0, 3);
    // Block means add the block's own variance, (f^2 - 1) / 12 texels^2, to the blur's.
    const double sigma_full = opt.seam_sigma * S / 1024.0;
    const double var = sigma_full * sigma_full - (double(factor) * factor - 1.0) / 12.0;
    const double sigma = std::sqrt(std::max(var, 0.25)) / factor;
    const FloatImage coarse = gaussian_blur(means, sigma);
    const FloatImage blurred = factor == 1 ? coarse : resize_linear(coarse, S, S);
    FloatImage smooth(blurred.height, blurred.width, 3);
    std::vector<float> has(std::size_t(blurred.height) * blurred.width, 0.0f);
    for (std::size_t p = 0; p < has.size(); ++p) {
        const float den = blurred.data[4 * p + 3];
        if (!(den > 0.05f)) continue;
        has[p] = 1.0f;
        for (int k = 0; k < 3; ++k) smooth.data[3 * p + k] = blurred.data[4 * p + k] / std::max(den, 1e-6f);
    }
    return push_pull_fill(smooth, has);
}

}  // namespace

BakeResult bake_texture(const MatrixX3f& vertices, const MatrixX3i& faces, const MatrixX2f& uv,
                        const PhotoView& view, const BakeOptions& opt) {
    const int S = opt.size;
    if (S < 1 || S > 16384) throw std::invalid_argument("bake_texture: size must be in 1..16384");
    if (uv.rows() != vertices.rows()) throw std::invalid_argument("bake_texture: one uv per vertex");
    if (faces.size() && (faces.minCoeff() < 0 || faces.maxCoeff() >= vertices.rows()))
        throw std::invalid_argument("bake_texture: face index out of range");
    const UvRaster raster = rasterize_texels(uv_to_texels(uv, S), faces, S);
    const MatrixX3d normals = unit_face_normals(vertices, faces);

    // Covered texels in row-major order, their surface points and the photo where seen.
    std::vector<long> texels;
    for (long t = 0; t < long(raster.ids.size()); ++t)
        if (raster.ids[t] >= 0) texels.push_back(t);
    const long N = long(texels.size());
    MatrixX3d pts(N, 3);
    std::vector<float> colors(3 * std::size_t(N), 0.0f);
    std::vector<std::int8_t> src(N, kFill);
    std::vector<long> vis, hidden;
    parallel_chunks(N, 50000, [&](long begin, long end) {
        for (long j = begin; j < end; ++j) {
            const long t = texels[j];
            const int f = raster.ids[t];
            const double b0 = raster.bary[3 * t], b1 = raster.bary[3 * t + 1], b2 = raster.bary[3 * t + 2];
            for (int d = 0; d < 3; ++d)
                pts(j, d) = (b0 * double(vertices(faces(f, 0), d)) + b1 * double(vertices(faces(f, 1), d))) +
                            b2 * double(vertices(faces(f, 2), d));
            double u, v;
            if (sees(view, pts.row(j).transpose(), normals.row(f).transpose(), u, v)) {
                sample_rgb(view, u, v, &colors[3 * j]);
                src[j] = kPhoto;
            }
        }
    });
    for (long j = 0; j < N; ++j) (src[j] == kPhoto ? vis : hidden).push_back(j);

    // Soft symmetry: hidden texels take the visible texel nearest to their mirror point.
    if (opt.symmetry && !vis.empty() && !hidden.empty()) {
        MatrixX3d seen(long(vis.size()), 3);
        for (std::size_t j = 0; j < vis.size(); ++j) seen.row(long(j)) = pts.row(vis[j]);
        const MirrorIndex index(seen, opt.mirror_dist);
        std::vector<long> hit(hidden.size());
        // Per chunk of texels (they come row by row: warm-started searches); hidden texels
        // only read the visible ones' colours.
        parallel_chunks(long(hidden.size()), 20000, [&](long begin, long end) {
            MirrorIndex::Search search(index);
            for (long j = begin; j < end; ++j) {
                const long q = hidden[j];
                hit[j] = search.nearest(-pts(q, 0), pts(q, 1), pts(q, 2));
                if (hit[j] < 0) continue;
                const long m = vis[std::size_t(hit[j])];
                for (int k = 0; k < 3; ++k) colors[3 * q + k] = colors[3 * m + k];
                src[q] = kMirror;
            }
        });
        const bool any = std::any_of(hit.begin(), hit.end(), [](long h) { return h >= 0; });
        if (opt.seam_correction && any) {
            std::vector<long> back(vis.size());
            parallel_chunks(long(vis.size()), 20000, [&](long begin, long end) {
                MirrorIndex::Search partners(index);
                for (long j = begin; j < end; ++j) {
                    const long q = vis[j];
                    back[j] = partners.nearest(-pts(q, 0), pts(q, 1), pts(q, 2));
                }
            });
            const FloatImage field = seam_field(texels, colors, vis, back, opt);
            if (field.height > 0) {
                const float lim = float(opt.seam_max);
                for (std::size_t j = 0; j < hidden.size(); ++j) {
                    if (hit[j] < 0) continue;
                    const long q = hidden[j];
                    const float* d = field.at(int(texels[q] / S), int(texels[q] % S));
                    for (int k = 0; k < 3; ++k) colors[3 * q + k] += std::clamp(d[k], -lim, lim);
                }
            }
        }
    }

    // The texture: known texels, push-pull fill of the rest (and of the texels outside).
    FloatImage tex(S, S, 3);
    std::vector<float> known(std::size_t(S) * S, 0.0f);
    BakeResult out;
    out.size = S;
    out.source.assign(std::size_t(S) * S, kNone);
    for (long j = 0; j < N; ++j) {
        const long t = texels[j];
        for (int k = 0; k < 3; ++k) tex.data[3 * t + k] = colors[3 * j + k];
        out.source[t] = src[j];
        known[t] = src[j] != kFill ? 1.0f : 0.0f;
    }
    const FloatImage filled = push_pull_fill(tex, known);
    out.rgb.resize(filled.data.size());
    for (std::size_t i = 0; i < filled.data.size(); ++i)
        out.rgb[i] = std::uint8_t(std::clamp(std::nearbyint(filled.data[i]), 0.0f, 255.0f));
    return out;
}

}  // namespace extreme3d::texture
