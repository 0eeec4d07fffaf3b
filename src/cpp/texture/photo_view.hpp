// The photo as seen by the fitted camera: which surface points it shows (depth buffer, mask,
// viewing angle) and their bilinear colour samples (the rule of extreme3d.colors).
#pragma once
#include <cstdint>

#include <Eigen/Core>

namespace extreme3d::texture {

/// A BGR crop with the mesh's depth buffer at the fitted pose (borrowed pointers, row-major).
struct PhotoView {
    const std::uint8_t* bgr = nullptr;  ///< H x W x 3 BGR
    const float* zbuf = nullptr;        ///< H x W camera z (mm), 0 = background
    const std::uint8_t* shown = nullptr;///< H x W: 1 where a pixel may be sampled (covered,
                                        ///< inside the silhouette margin and the image mask)
    int width = 0, height = 0;
    Eigen::Matrix3d R = Eigen::Matrix3d::Identity();  ///< model -> camera rotation
    Eigen::Vector3d t = Eigen::Vector3d::Zero();      ///< model -> camera translation (mm)
    double focal = 1000.0;   ///< px
    double depth_tol = 2.5;  ///< mm
    double min_cos = 0.17;   ///< minimum |cos| between normal and viewing ray
};

/// Whether the model-space point p with unit normal n is seen: it projects at least 1 px inside
/// the image, the four pixels of its bilinear sample are shown with a depth within depth_tol of
/// the point's, and |cos(normal, ray)| >= min_cos. On success (u, v) is its pixel position
/// (column, row; pixel centres at i + 0.5).
bool sees(const PhotoView& view, const Eigen::Vector3d& p, const Eigen::Vector3d& n, double& u,
          double& v);

/// Bilinear RGB sample (0..255 floats) of the BGR image at pixel position (u, v) with pixel
/// centres at i + 0.5 (replicated border), computed in float as OpenCV 5's cv2.remap computes
/// it (INTER_LINEAR with float maps), so that the values are extreme3d.colors.sample_bilinear's.
void sample_rgb(const PhotoView& view, double u, double v, float rgb[3]);

}  // namespace extreme3d::texture
