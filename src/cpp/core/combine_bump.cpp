// combineBump after the pose fit: the stage driver with per-stage timings.
#include "core/combine_bump.hpp"

#include <chrono>
#include <stdexcept>

#include "core/bad_vertices.hpp"
#include "core/bump_layer.hpp"
#include "core/dense_mesh.hpp"
#include "core/dense_registration.hpp"
#include "core/final_mesh.hpp"
#include "core/foundation.hpp"
#include "core/hole_fill.hpp"
#include "core/mirrored_detail.hpp"
#include "core/occlusion.hpp"
#include "core/symmetry_pose.hpp"
#include "core/visibility.hpp"
#include "render/renderer.hpp"

namespace extreme3d::core {

namespace {

/// Wall-clock stopwatch that appends (stage, ms) to a list.
class StageTimer {
public:
    explicit StageTimer(std::vector<std::pair<std::string, double>>& out) : out_(out), t0_(Clock::now()) {}
    /// Records the time since the last mark under `name`.
    void mark(const char* name) {
        const auto t = Clock::now();
        out_.emplace_back(name, std::chrono::duration<double, std::milli>(t - t0_).count());
        t0_ = t;
    }

private:
    using Clock = std::chrono::steady_clock;
    std::vector<std::pair<std::string, double>>& out_;
    Clock::time_point t0_;
};

}  // namespace

CombineBumpResult combine_bump(const FaceModel& model, const Eigen::VectorXf& alpha, const Eigen::VectorXf& expr,
                               const Pose& pose, const RowMatrixXu8& bump, const RowMatrixXu8& mask,
                               const CombineBumpOptions& opt) {
    const Camera& cam = opt.camera;
    const int W = cam.width, H = cam.height, m = opt.margin;
    if (m < 0) throw std::invalid_argument("margin must be >= 0");
    for (const auto* img : {&bump, &mask})
        if (img->rows() < H + m || img->cols() < W + m)
            throw std::invalid_argument(std::string(img == &bump ? "bump" : "mask") + " map is " +
                                        std::to_string(img->rows()) + "x" + std::to_string(img->cols()) +
                                        ", needs at least " + std::to_string(H + m) + "x" + std::to_string(W + m));
    CombineBumpResult res;
    StageTimer timer(res.timings_ms);

    // foundation (identity + expression), frontal and posed
    const Foundation fd = make_foundation(model, alpha, expr, pose);
    res.foundation_frontal = {fd.frontal, model.faces};
    res.foundation_aligned = {fd.aligned, model.faces};
    timer.mark("foundation");

    // depth renders of the water-tight mesh: posed view and the occlusion reference view
    const render::RenderResult posed = render::render_mesh(fd.frontal, model.faces_fill, std::nullopt, pose, cam);
    const Pose ref_pose = occlusion_reference_pose(pose);
    const render::RenderResult refv = render::render_mesh(fd.frontal, model.faces_fill, std::nullopt, ref_pose, cam);
    timer.mark("render");

    // visibility and self-occlusion scores of the sparse vertices
    const RowMatrixXf occ_map = occlusion_map(refv.depth, posed.depth, ref_pose, pose, cam);
    const RowMatrixXu8 vis_mask = visible_pixel_mask(posed.depth, mask, m);
    SparseVisibility vis = project_check_visible(fd.frontal, pose, posed.depth, cam);
    apply_mask_visibility(vis, mask, W, H, m);
    res.projections = vis.proj;
    res.visible = vis.visible;
    res.occlusion = occlusion_scores(fd.frontal, vis.visible, occ_map, pose, cam);
    timer.mark("occlusion");

    // dense mesh from the depth buffer, then the bump layer
    DenseMesh dense = build_dense_mesh(posed.depth, mask, cam, m);
    if (dense.px.empty())
        throw std::invalid_argument(
            "the face covers no pixel of the render inside the mask: check the pose (rvec, tvec) and the mask");
    res.dense_vertices = static_cast<int>(dense.px.size());
    timer.mark("dense_mesh");
    apply_bump(dense, bump, m);
    res.with_bump_aligned = {dense.vertices, dense.faces};
    {
        // R^T v + (-R^T t), the original's order
        const Eigen::Vector3f off = -fd.R.transpose() * fd.t;
        MatrixX3f fr = dense.vertices * fd.R;
        fr.rowwise() += off.transpose();
        res.with_bump_frontal = {fr, dense.faces};
    }
    timer.mark("bump");
    if (!opt.symmetry) return res;

    // bump transfer to the sparse mesh, frontalisation, mirror and pose correction
    MatrixX3f sparse_cam = fd.aligned;
    Flags partner_bumped;
    res.bumped = transfer_bump_to_sparse(sparse_cam, vis.proj, vis.visible, model.pair, vis_mask, dense, partner_bumped);
    const SymmetryFrame sym = symmetry_pose(sparse_cam, fd.aligned, fd.R, fd.t, res.bumped, model.pair);
    res.symmetry_R = sym.align_R;
    res.symmetry_t = sym.align_t;
    res.symmetry_points = sym.num_align;
    timer.mark("symmetry_pose");

    // bad vertices and the passes on the scores
    res.bad = find_bad_vertices(sym.sparse, sym.foundation, model.faces);
    res.scores = res.occlusion;
    Eigen::VectorXf model_x = fd.frontal.col(0);
    occlusion_passes(res.scores, res.bad, model.faces, model_x, static_cast<float>(pose.rvec.y()));
    timer.mark("bad_vertices");

    // dense registration on the posed bumped sparse mesh
    const Registration reg = register_dense(dense, vis.proj, res.scores, sparse_cam, model.faces, opt.max_gap);
    res.registered = static_cast<int>(reg.tri.size());
    res.reg_tri.resize(res.registered, 3);
    res.reg_w.resize(res.registered, 3);
    res.reg_pixel.resize(res.registered, 2);
    for (int i = 0; i < res.registered; ++i) {
        res.reg_tri.row(i) = reg.tri[i].transpose();
        res.reg_w.row(i) = reg.w[i].transpose();
        res.reg_pixel(i, 0) = dense.px[reg.dense[i]];
        res.reg_pixel(i, 1) = dense.py[reg.dense[i]];
    }
    timer.mark("registration");

    // hole filling of the sparse mesh
    HoleFillStats hs;
    const MatrixX3f completed = fill_holes(
        {&sym.sparse, &sym.flipped, &sym.foundation, &model.faces, &model.pair, &res.bumped, &partner_bumped,
         &res.scores},
        &hs);
    res.unknowns = hs.unknowns;
    res.unanchored = hs.unanchored;
    res.sparse_full_frontal = {completed, model.faces};
    timer.mark("hole_fill");

    // dense detail, its mirror, and the final mesh
    const DenseDetail detail = mirrored_detail(reg, completed, fd.R, sym.align_R, model.pair, res.scores);
    timer.mark("mirrored_detail");
    res.final_frontal = assemble_final_mesh(completed, model.faces, model.pair, res.scores, vis.proj, dense, reg, detail);
    res.completed = true;
    timer.mark("final_mesh");
    return res;
}

}  // namespace extreme3d::core
