// The original's pose + expression optimiser, reproduced in float arithmetic and operation order.
#include "fit/pose_fit_faithful.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "fit/epnp.hpp"
#include "fit/fit_summary.hpp"
#include "fit/landmark_selection.hpp"
#include "fit/pose_cost.hpp"
#include "fit/pose_init.hpp"

namespace extreme3d::fit {

namespace {

// The line search caps the step length at (2 M + EM + 21) / 5 with the original's fixed sizes:
// M = 99 identity coefficients (it rejects other alpha files), EM = 29 expressions (always
// allocated) and 21 render parameters: 248 / 5 = 49.6 whatever the model.
constexpr int kOriginalShapeCount = 99;
constexpr int kOriginalExprCount = 29;
constexpr int kStepCapTotal = 2 * kOriginalShapeCount + kOriginalExprCount + 21;

// The landmark error eF and the cost computeCost of the original, in float. The identity part of
// every candidate landmark vertex is precomputed with the original's summation order (alpha fixed).
class FloatCost {
public:
    FloatCost(const FaceModel& model, const Eigen::VectorXf& alpha, const MatrixX2f& landmarks,
              const std::vector<int>& numbers, const Camera& cam)
        : n_(static_cast<int>(numbers.size())), ev_(model.exp_ev), target_(n_, 2) {
        fx_ = double(float(-cam.focal));
        fy_ = double(float(cam.focal));
        cx_ = double(float(cam.width / 2.0f));
        cy_ = double(float(cam.height / 2.0f));
        const Eigen::VectorXf w = alpha.cwiseProduct(model.shape_ev);  // alpha2 = alpha .* EV (float)
        for (int s = 0; s < 2; ++s) {
            base_[s].resize(n_, 3);
            pc_[s].assign(n_, Eigen::Matrix<float, 3, Eigen::Dynamic, Eigen::RowMajor>(3, model.num_expr()));
        }
        for (int k = 0; k < n_; ++k) {
            target_.row(k) = landmarks.row(numbers[k]);
            for (int s = 0; s < 2; ++s) {
                const int v = s ? model.inner_landmarks(numbers[k]) : model.outer_landmarks(numbers[k]);
                for (int j = 0; j < 3; ++j) {
                    const int row = 3 * v + j;
                    float val = model.shape_mu(row) + model.exp_mu(row);
                    val = add_terms(val, w, model.shape_pc.row(row), kOriginalShapeCount);
                    base_[s](k, j) = val;
                    pc_[s][k].row(j) = model.exp_pc.row(row);
                }
            }
        }
    }

    // val += sum w_k p_k in groups of five (each group summed left to right), then one by one,
    // as getLMByAlpha. The original always holds `padded` coefficients (99 identity, 29
    // expression; a smaller model is zero-padded to that size), so the loop runs over the padded
    // length with zero terms beyond the model's own: a partial last group is still summed as a
    // group before it is added.
    template <class Row>
    static float add_terms(float val, const Eigen::VectorXf& w, const Row& p, int padded) {
        const int m = static_cast<int>(w.size());
        const int len = std::max(m, padded);
        auto term = [&](int k) { return k < m ? w(k) * p(k) : 0.0f; };
        int k = 0;
        for (; k <= len - 5; k += 5)
            val += term(k) + term(k + 1) + term(k + 2) + term(k + 3) + term(k + 4);
        for (; k < len; ++k) val += term(k);
        return val;
    }

    // eF: landmark RMSE (px) at render params rp (r, t) and expression (float, as the original).
    float ef(const float* rp, const Eigen::VectorXf& expr) const {
        const float yaw = -rp[1];
        const Eigen::VectorXf e2 = expr.cwiseProduct(ev_);
        const Eigen::Matrix3d R = rodrigues_to_matrix(Eigen::Vector3d(rp[0], rp[1], rp[2]));
        const double t0 = rp[3], t1 = rp[4], t2 = rp[5];
        float err = 0.0f;
        for (int k = 0; k < n_; ++k) {
            const int s = uses_inner_vertex(k, static_cast<double>(yaw)) ? 1 : 0;
            float p[3];
            for (int j = 0; j < 3; ++j) p[j] = add_terms(base_[s](k, j), e2, pc_[s][k].row(j), kOriginalExprCount);
            // cv::projectPoints: double arithmetic, x/z as x * (1/z), result rounded to float.
            const double X = p[0], Y = p[1], Z = p[2];
            double x = R(0, 0) * X + R(0, 1) * Y + R(0, 2) * Z + t0;
            double y = R(1, 0) * X + R(1, 1) * Y + R(1, 2) * Z + t1;
            double z = R(2, 0) * X + R(2, 1) * Y + R(2, 2) * Z + t2;
            z = z != 0.0 ? 1.0 / z : 1.0;
            x *= z;
            y *= z;
            const float u = static_cast<float>(x * fx_ + cx_);
            const float v = static_cast<float>(y * fy_ + cy_);
            float d = target_(k, 0) - u;
            err += d * d;
            d = target_(k, 1) - v;
            err += d * d;
        }
        return std::sqrt(err / static_cast<float>(n_));
    }

    int size() const { return n_; }

private:
    int n_;
    Eigen::VectorXf ev_;
    MatrixX2f target_;
    Eigen::Matrix<float, Eigen::Dynamic, 3, Eigen::RowMajor> base_[2];
    std::vector<Eigen::Matrix<float, 3, Eigen::Dynamic, Eigen::RowMajor>> pc_[2];
    double fx_ = 0, fy_ = 0, cx_ = 0, cy_ = 0;
};

// The optimiser state of one image (the original's FaceServices2 members + BFMParams, per image).
struct Optimiser {
    const FloatCost& cost;
    int num_expr;                        // EM
    float rp[6];                         // rotation (rad), translation (mm)
    float init[6];                       // pose prior centre
    float weight_reg[6];
    Eigen::VectorXf expr;
    Eigen::VectorXf hess;                // diagonal: E expression entries, then 6 pose entries
    Eigen::VectorXf grad;
    bool pose_on = true;                 // doOptimize[0..5]
    float cef = 0.0f;                    // cached eF at the current point
    int count_fail = 0;
    const float mstep = 0.0001f;
    const float weight_lm = 8.0f;
    const float weight_reg_expr = 1.0f;

    // computeCost: weighted landmark error + expression prior + pose prior (when optimised).
    float full_cost(float vef, const float* r, const Eigen::VectorXf& e) const {
        float val = weight_lm * vef;
        for (int i = 0; i < e.size(); ++i) val += weight_reg_expr * e(i) * e(i) / (0.5f * 29);
        if (pose_on)
            for (int i = 0; i < 6; ++i) val += (r[i] - init[i]) * (r[i] - init[i]) / weight_reg[i];
        return val;
    }

    // updateHessianMatrix: central second differences of eF plus the prior curvature.
    void update_hessian() {
        hess = Eigen::VectorXf::Zero(num_expr + 6);
        const float cur = cost.ef(rp, expr);
        cef = cur;
        float step = mstep * 5;
        for (int i = 0; i < num_expr; ++i) {
            Eigen::VectorXf e2 = expr;
            e2(i) += step;
            const float a = cost.ef(rp, e2);
            e2(i) -= 2 * step;
            const float b = cost.ef(rp, e2);
            hess(i) = weight_lm * (a - 2 * cur + b) / (step * step) + weight_reg_expr * 2 / (0.25f * 29);
        }
        if (!pose_on) return;
        for (int i = 0; i < 6; ++i) {
            step = i < 3 ? mstep * 2 : mstep * 10;
            float r2[6];
            std::copy(rp, rp + 6, r2);
            r2[i] += step;
            const float a = cost.ef(r2, expr);
            r2[i] -= 2 * step;
            const float b = cost.ef(r2, expr);
            hess(num_expr + i) = weight_lm * (a - 2 * cur + b) / (step * step) + 2.0f / weight_reg[i];
        }
    }

    // computeGradient: forward differences of eF plus the prior derivatives (expression prior
    // derivative 2e/(0.25*29), twice that of the cost's term, as the original).
    void compute_gradient() {
        grad = Eigen::VectorXf::Zero(num_expr + 6);
        const float cur = cost.ef(rp, expr);
        cef = cur;
        const float estep = mstep * 5;
        for (int i = 0; i < num_expr; ++i) {
            Eigen::VectorXf e2 = expr;
            e2(i) += estep;
            const float a = cost.ef(rp, e2);
            grad(i) = weight_lm * (a - cur) / estep + weight_reg_expr * 2 * expr(i) / (0.25f * 29);
        }
        if (!pose_on) return;
        for (int i = 0; i < 6; ++i) {
            const float step = i < 3 ? mstep * 2 : mstep * 10;
            float r2[6];
            std::copy(rp, rp + 6, r2);
            r2[i] += step;
            const float a = cost.ef(r2, expr);
            grad(num_expr + i) = weight_lm * (a - cur) / step + 2 * (rp[i] - init[i]) / weight_reg[i];
        }
    }

    // Expression trial value clamped to [-3, 3]; sets `free` when it is inside the bounds.
    static float clamp_trial(float tmp, bool& free) {
        if (tmp >= 3) return 3.0f;
        if (tmp <= -3) return -3.0f;
        free = true;
        return tmp;
    }

    // line_search: halving trials from step 1 (capped step length); returns the accepted step or 0.
    float line_search(const Eigen::VectorXf& dir, int max_iters) {
        float step = 1.0f;
        const float min_step = 0.0001f;
        float ssize = 0;
        for (int i = 0; i < dir.size(); ++i) ssize += dir(i) * dir(i);
        ssize = std::sqrt(ssize);
        const int total = kStepCapTotal;
        if (ssize > total / 5.0f) {
            step = total / (5.0f * ssize);
            ssize = total / 5.0f;
        }
        if (ssize < min_step) return 0;
        const int tstep = static_cast<int>(std::floor(std::log(ssize / min_step)));
        if (tstep < max_iters) max_iters = tstep;

        const float cur_cost = full_cost(cef, rp, expr);
        bool has_no_bound = false;  // never reset between trials, as the original
        Eigen::VectorXf e2 = expr;
        float r2[6];
        std::copy(rp, rp + 6, r2);
        int iter = 0;
        for (; iter < max_iters; ++iter) {
            for (int i = 0; i < num_expr; ++i) e2(i) = clamp_trial(expr(i) + step * dir(i), has_no_bound);
            if (pose_on)
                for (int i = 0; i < 6; ++i) r2[i] = rp[i] + step * dir(num_expr + i);
            if (!has_no_bound) {
                iter = max_iters;
                break;
            }
            const float trial = full_cost(cost.ef(r2, e2), r2, e2);
            if (trial < cur_cost) break;
            step = step / 2.0f;
        }
        return iter >= max_iters ? 0.0f : step;
    }

    // sno_step: diagonal-Newton direction -0.05 g/|h|, line search, update with clamping.
    void step() {
        const float lambda = 0.05f;
        compute_gradient();
        Eigen::VectorXf dir = Eigen::VectorXf::Zero(num_expr + 6);
        for (int i = 0; i < num_expr; ++i)
            if (std::fabs(hess(i)) > 0.0000001) dir(i) = -lambda * grad(i) / std::fabs(hess(i));
        if (pose_on)
            for (int i = 0; i < 6; ++i)
                if (std::fabs(hess(num_expr + i)) > 0.0000001)
                    dir(num_expr + i) = -lambda * grad(num_expr + i) / std::fabs(hess(num_expr + i));
        const float pc = line_search(dir, 10);
        if (pc == 0) {
            ++count_fail;
            return;
        }
        for (int i = 0; i < num_expr; ++i) {
            expr(i) += pc * dir(i);
            expr(i) = std::clamp(expr(i), -3.0f, 3.0f);
        }
        if (pose_on)
            for (int i = 0; i < 6; ++i) rp[i] += pc * dir(num_expr + i);
    }
};

}  // namespace

PoseExprFit fit_pose_expression_faithful(const FaceModel& model, const Eigen::VectorXf& alpha,
                                         const MatrixX2f& landmarks, const Camera& cam) {
    const PoseInit init = initial_pose(model, alpha, landmarks, cam);
    const FloatCost cost(model, alpha, landmarks, init.selected, cam);

    Optimiser opt{cost, model.num_expr()};
    for (int i = 0; i < 3; ++i) {
        opt.rp[i] = opt.init[i] = init.rvec(i);
        opt.rp[3 + i] = opt.init[3 + i] = init.tvec(i);
        opt.weight_reg[i] = static_cast<float>((M_PI / 6) * (M_PI / 6));
        opt.weight_reg[3 + i] = 900.0f;
    }
    opt.expr = Eigen::VectorXf::Zero(model.num_expr());

    PoseExprFit res;
    res.mode = "faithful";
    // Phase 1: pose + expression, 60 steps, Hessian every 20.
    opt.pose_on = true;
    opt.count_fail = 0;  // per image (the original carries it over from the previous image)
    for (int iter = 0; iter < 60; ++iter) {
        if (iter % 20 == 0) {
            opt.update_hessian();
            if (opt.count_fail > 10) break;
        }
        opt.step();
        ++res.iterations_pose;
    }
    // Phase 2: expression only, up to 140 steps, Hessian every 60.
    opt.pose_on = false;
    opt.count_fail = 0;
    for (int iter = 60; iter < 200; ++iter) {
        if (iter % 60 == 0) {
            opt.update_hessian();
            if (opt.count_fail > 10) break;
        }
        opt.step();
        ++res.iterations_expr;
    }

    res.alpha = alpha;
    res.expr = opt.expr;
    res.epnp_pose.rvec = init.rvec.cast<double>();
    res.epnp_pose.tvec = init.tvec.cast<double>();
    res.refined_pose.rvec = Eigen::Vector3d(opt.rp[0], opt.rp[1], opt.rp[2]);
    res.refined_pose.tvec = Eigen::Vector3d(opt.rp[3], opt.rp[4], opt.rp[5]);
    res.pose = res.epnp_pose;
    summarise_fit(res, model, make_landmark_terms(model, alpha, landmarks, init.selected), cam);
    return res;
}

}  // namespace extreme3d::fit
