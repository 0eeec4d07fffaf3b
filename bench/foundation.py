"""The foundation (identity + expression + pose) from landmarks: port vs eos vs the mean face.

Synthetic part (known answers): random Surrey faces from the model's own distribution
(extreme3d.synthetic_faces.random_face: alpha ~ N(0, 1), expression half-normal 0.25, yaw
U(-70, 70), pitch U(-25, 25), roll N(0, 5) deg, camera distance log-uniform 0.5-3 m with the
focal length that keeps the face ~250 px wide in the 500x500 image, as in the paper crops).
Landmarks as a detector gives them (synthetic_faces.detector_landmarks): inner points =
projected landmark vertices, jaw points = their vertex when visible, else the nearest point
of the rendered face's outline; then noise of 3 px (jaw 6 px) per coordinate and 5% outliers
(20-80 px in a random direction). Fitted by

- port: extreme3d.fitting.fit_identity (pose, identity and expression); the batch uses its
  rotation and expression (fitting.pose_from_identity: translation for the crop camera);
- refit: the same identity then fit_pose_expression(mode='faithful'), the original's pose fit
  (what the batch did before; still what the paper command does);
- eos: eos.fitting.fit_shape_and_pose (Surrey shape + blendshapes, edge topology, contours);
- mean: the mean identity with fit_pose_expression(mode='best') (pose + expression).

Reported per method: median vertex error (mm) over the face region (the mean face's vertices
inside the landmarks' outline) after a rigid alignment onto the true shape; rotation error
(deg); depth-ratio bias (mean of fitted - true identity depth ratio, (max z - 5th pct z) /
(max x - min x)). The port is also fitted to the same faces without outliers: outlier_growth =
error with / error without - 1.

Real part: the paper crops (imgs/*.pts, given landmarks): the fitted identity's depth ratio
(the model's 95% range from 2000 random faces), |alpha|/sqrt(K), and the landmark RMSE (px) on
the 50 landmarks with a fixed Surrey vertex (bench/core.py's set) at the fit's pose, against
eos's on the same landmarks.

--floor: also fits each synthetic face with its true identity (and expression) known, the
same fit otherwise: the rotation error left by the landmark noise alone.

--sweep PW,PW,..: also fits the synthetic set with these prior weights and prints the errors
(how the default prior weight was chosen; docs/fitting.md).

Usage: python bench/foundation.py [--faces N] [--seed S] [--data DIR] [--model H5] [--sweep ..]
       [--floor]
Last line: SUMMARY synthetic_err_mm=.. mean_face_err_mm=.. eos_err_mm=.. rot_err_deg=..
depth_bias=.. outlier_growth=.. real_depth_ratio_median=.. real_outside_range=..
real_alpha_norm_max=.. real_rmse_px=.. eos_real_rmse_px=.. rot_refit_deg=.. real_refit_rmse_px=..
(real_rmse_px: at the batch's pose, pose_from_identity; *_refit_*: the faithful refit's)
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from _common import sfm_source
from core import FIXED_LANDMARKS, EosFitter, rmse, sfm_mapping

from extreme3d import synthetic_faces as sf
from extreme3d.fitting import fit_identity, fit_pose_expression, pose_from_identity
from extreme3d.morphable import MorphableModel, load_model
from extreme3d.paths import model_dir, shared_dir

#: Camera distances (mm) of the synthetic faces, log-uniform: from a selfie to a portrait lens;
#: the focal length follows so that the face is ~250 px wide in the 500x500 crop.
DISTANCE = (500.0, 3000.0)


def surrey_model(path: Path | None, sfm_dir: Path, tmp: Path) -> MorphableModel:
    """The Surrey model: --model, else 3DMM_model/sfm_mod.h5, else converted into tmp."""
    if path is None:
        path = model_dir() / "sfm_mod.h5"
        if not path.is_file():
            from extreme3d.prepare.sfm import convert_sfm

            path = tmp / "sfm_mod.h5"
            convert_sfm(sfm_dir, path)
    return load_model(path)


def eos_fit_full(eos_fit: EosFitter, lms: np.ndarray) -> dict:
    """eos's fit: vertices (V, 3), rotation (Rodrigues), identity coefficients (std units, as
    our alpha) and a pixel projection function of vertex ids."""
    marks = [eos_fit.eos.core.Landmark(str(i + 1), [float(x), float(y)])
             for i, (x, y) in enumerate(lms)]
    mesh, pose, alpha, _ = eos_fit.eos.fitting.fit_shape_and_pose(
        eos_fit.model, marks, eos_fit.mapper, 500, 500, eos_fit.edges, eos_fit.contour,
        eos_fit.model_contour)
    rot = np.asarray(pose.get_modelview())[:3, :3]
    u, _, vt = np.linalg.svd(rot)
    mvp = np.asarray(pose.get_projection()) @ np.asarray(pose.get_modelview())
    verts = np.asarray(mesh.vertices, np.float64)

    def project(ids: np.ndarray) -> np.ndarray:
        hom = np.c_[verts[ids], np.ones(len(ids))] @ mvp.T
        ndc = hom[:, :2] / hom[:, 3:4]
        return np.stack([(ndc[:, 0] + 1) * 250, 500 - (ndc[:, 1] + 1) * 250], axis=1)

    return {"verts": verts, "rvec": sf.rvec_of(u @ vt), "alpha": np.asarray(alpha, np.float32),
            "project": project}


def rotation_axes_deg(rvec_fit: np.ndarray, rvec_true: np.ndarray) -> np.ndarray:
    """Rotation vector (deg) of the error R_fit R_true^T in camera axes: x (pitch), y (yaw),
    z (roll) components (each the signed part of the error about that axis)."""
    rf = cv2.Rodrigues(np.asarray(rvec_fit, np.float64).reshape(3))[0]
    rt = cv2.Rodrigues(np.asarray(rvec_true, np.float64).reshape(3))[0]
    return np.degrees(cv2.Rodrigues(rf @ rt.T)[0].reshape(3))


def rotation_breakdown(syn: dict) -> None:
    """Prints the port's rotation error per |yaw| and pitch bin, split into the camera axes."""
    yaw, pitch = np.abs(syn["yaw"]), np.asarray(syn["pitch"])
    rot, axes = np.asarray(syn["rot_port"]), np.abs(np.asarray(syn["rot_axes"]).reshape(-1, 3))
    print("port rotation error by bin: median (deg); median |component| about camera x (pitch), "
          "y (yaw), z (roll)")
    bins = [("all", np.ones(yaw.size, bool))]
    bins += [(f"|yaw| {a}-{b}", (yaw >= a) & (yaw < b)) for a, b in ((0, 15), (15, 35), (35, 55),
                                                                       (55, 71))]
    bins += [(f"pitch {a}..{b}", (pitch >= a) & (pitch < b)) for a, b in ((-25, -10), (-10, 10),
                                                                           (10, 26))]
    for name, m in bins:
        if m.any():
            c = np.median(axes[m], axis=0)
            print(f"  {name:14s} n={m.sum():3d} {np.median(rot[m]):5.2f}  pitch {c[0]:4.2f} yaw "
                  f"{c[1]:4.2f} roll {c[2]:4.2f}")


def model_range(model: MorphableModel, rng: np.random.Generator, n: int = 2000) -> np.ndarray:
    """(2.5th, 97.5th) percentiles of the depth ratio of n random identities of the model."""
    z = rng.standard_normal((n, model.num_shape)).astype(np.float32)
    ratios = [sf.depth_ratio(model.identity(a).reshape(-1, 3)) for a in z]
    return np.percentile(ratios, [2.5, 97.5])


def known_identity_rotation(model: MorphableModel, face: sf.SyntheticFace, lms: np.ndarray
                            ) -> tuple[float, float]:
    """Rotation errors (deg) of fit_identity's machinery (contour, noise model, robust weights)
    when the identity is known (expression free), and when identity and expression are known:
    the model's mean moved to the truth and its coefficients pinned by a huge prior. The floor
    that the shape / pose ambiguity of the landmarks adds to."""
    ident = dataclasses.replace(model, shape_mu=model.identity(face.alpha).astype(np.float32))
    f1 = fit_identity(ident, lms, prior_weight=1e6, expr_sigma=0.5 * 1e3)
    both = dataclasses.replace(ident, exp_mu=model.expression(face.expr).astype(np.float32))
    f2 = fit_identity(both, lms, prior_weight=1e6, expr_sigma=0.5e-3)
    return (sf.rotation_error_deg(f1.rvec, face.rvec), sf.rotation_error_deg(f2.rvec, face.rvec))


def synthetic(model: MorphableModel, eos_fit: EosFitter, n: int, seed: int,
              sweep: list[float], floor: bool = False) -> dict:
    """Fits n synthetic faces; per-method error lists."""
    rng = np.random.default_rng(seed)
    region = sf.face_region(model)
    rows: dict[str, list] = {k: [] for k in (
        "port", "port_clean", "eos", "mean", "rot_port", "rot_refit", "rot_eos", "rot_mean",
        "depth_port", "depth_eos", "t_port", "t_eos", "yaw", "pitch", "rot_axes",
        "rot_known_id", "rot_known_both")}
    for pw in sweep:
        rows[f"sweep_{pw}"] = []
    for i in range(n):
        face = sf.random_face(model, rng, distance=DISTANCE)
        true = model.shape(face.alpha, face.expr)
        true_ratio = sf.depth_ratio(model.identity(face.alpha).reshape(-1, 3))
        clean = sf.detector_landmarks(model, face)
        noisy, _ = sf.corrupt(clean, rng, outlier_rate=0.0)
        outl = noisy.copy()
        hit = np.flatnonzero(rng.random(68) < 0.05)
        ang = rng.uniform(0, 2 * np.pi, hit.size)
        step = rng.uniform(20, 80, hit.size)[:, None]
        outl[hit] += np.stack([np.cos(ang), np.sin(ang)], 1) * step
        outl = np.clip(outl, -400, 900)

        t0 = time.perf_counter()
        fit = fit_identity(model, outl)
        rows["t_port"].append(time.perf_counter() - t0)
        rows["port"].append(sf.rigid_error(model.shape(fit.alpha, fit.expr), true, region))
        rows["rot_port"].append(sf.rotation_error_deg(fit.rvec, face.rvec))
        rows["rot_axes"].append(rotation_axes_deg(fit.rvec, face.rvec))
        rows["yaw"].append(face.yaw_deg)
        if floor:
            known = known_identity_rotation(model, face, outl)
            rows["rot_known_id"].append(known[0])
            rows["rot_known_both"].append(known[1])
        rows["pitch"].append(face.pitch_deg)
        rows["depth_port"].append(
            sf.depth_ratio(model.identity(fit.alpha).reshape(-1, 3)) - true_ratio)
        refit = fit_pose_expression(model, outl, fit.alpha, mode="faithful")
        rows["rot_refit"].append(sf.rotation_error_deg(refit.rvec, face.rvec))
        fit_c = fit_identity(model, noisy)
        rows["port_clean"].append(
            sf.rigid_error(model.shape(fit_c.alpha, fit_c.expr), true, region))
        for pw in sweep:
            f = fit_identity(model, outl, prior_weight=pw)
            rows[f"sweep_{pw}"].append(sf.rigid_error(model.shape(f.alpha, f.expr), true, region))

        mean = fit_pose_expression(model, outl, None, mode="best")
        rows["mean"].append(sf.rigid_error(model.shape(None, mean.expr), true, region))
        rows["rot_mean"].append(sf.rotation_error_deg(mean.rvec, face.rvec))

        t0 = time.perf_counter()
        ef = eos_fit_full(eos_fit, outl)
        rows["t_eos"].append(time.perf_counter() - t0)
        rows["eos"].append(sf.rigid_error(ef["verts"], true, region))
        rows["rot_eos"].append(sf.rotation_error_deg(ef["rvec"], face.rvec))
        rows["depth_eos"].append(
            sf.depth_ratio(model.identity(ef["alpha"]).reshape(-1, 3)) - true_ratio)
        print(f"face {i:3d} yaw {face.yaw_deg:6.1f} pitch {face.pitch_deg:6.1f} outliers "
              f"{hit.size} | err port {rows['port'][-1]:5.2f} (clean {rows['port_clean'][-1]:5.2f})"
              f" eos {rows['eos'][-1]:5.2f} mean {rows['mean'][-1]:5.2f} mm | rot port "
              f"{rows['rot_port'][-1]:5.2f} refit {rows['rot_refit'][-1]:5.2f} eos "
              f"{rows['rot_eos'][-1]:5.2f} deg", flush=True)
    return rows


def real(model: MorphableModel, eos_fit: EosFitter, data: Path, sfm_dir: Path) -> dict:
    """Depth ratio, |alpha|/sqrt(K) and fixed-landmark RMSE of the port and eos on the crops."""
    from extreme3d.io.pts import read_pts

    mapping = sfm_mapping(sfm_dir)
    vids = np.array([mapping[i] for i in FIXED_LANDMARKS])
    out: dict[str, list] = {k: [] for k in ("name", "ratio", "alpha", "rmse", "eos_rmse",
                                            "eos_ratio", "eos_alpha", "refit_rmse", "down")}
    for pts in sorted((data / "imgs").glob("*.pts")):
        lms = read_pts(pts)
        fit = fit_identity(model, lms)
        verts = model.shape(fit.alpha, fit.expr).astype(np.float64)
        batch = pose_from_identity(model, lms, fit)
        uv, _ = sf.project(verts[vids], batch.rvec, batch.tvec)
        refit = fit_pose_expression(model, lms, fit.alpha, mode="faithful")
        pverts = model.shape(fit.alpha, refit.expr).astype(np.float64)
        puv, _ = sf.project(pverts[vids], refit.rvec, refit.tvec)
        ef = eos_fit_full(eos_fit, lms)
        out["name"].append(pts.stem)
        out["ratio"].append(sf.depth_ratio(model.identity(fit.alpha).reshape(-1, 3)))
        out["alpha"].append(float(np.linalg.norm(fit.alpha) / np.sqrt(fit.alpha.size)))
        out["rmse"].append(rmse(uv, lms[FIXED_LANDMARKS]))
        out["refit_rmse"].append(rmse(puv, lms[FIXED_LANDMARKS]))
        out["eos_rmse"].append(rmse(ef["project"](vids), lms[FIXED_LANDMARKS]))
        out["eos_ratio"].append(sf.depth_ratio(model.identity(ef["alpha"]).reshape(-1, 3)))
        out["eos_alpha"].append(float(np.linalg.norm(ef["alpha"]) / np.sqrt(ef["alpha"].size)))
        out["down"].append(fit.downweighted.tolist())
        print(f"{pts.stem[:40]:40s} depth {out['ratio'][-1]:.3f} |a| {out['alpha'][-1]:.2f} "
              f"rmse {out['rmse'][-1]:5.2f} | eos depth {out['eos_ratio'][-1]:.3f} |a| "
              f"{out['eos_alpha'][-1]:.2f} rmse {out['eos_rmse'][-1]:5.2f} px | down "
              f"{out['down'][-1]}", flush=True)
    return out


def main() -> None:
    """Runs both parts and prints the tables and the SUMMARY line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=shared_dir() / "data" / "paper")
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--sweep", default="", help="prior weights to compare, e.g. 0.5,1,2")
    ap.add_argument("--floor", action="store_true",
                    help="also the rotation error with the true identity (and expression) known")
    args = ap.parse_args()
    sfm_dir = sfm_source()
    with tempfile.TemporaryDirectory() as tmp:
        model = surrey_model(args.model, sfm_dir, Path(tmp))
    eos_fit = EosFitter(sfm_dir)
    sweep = [float(s) for s in args.sweep.split(",") if s]
    lo, hi = model_range(model, np.random.default_rng(12345))

    syn = synthetic(model, eos_fit, args.faces, args.seed, sweep, args.floor)
    rea = real(model, eos_fit, args.data, sfm_dir)

    def med(v) -> float:
        return float(np.nanmedian(v)) if len(v) else float("nan")

    print(f"\nsynthetic: {args.faces} faces, seed {args.seed}")
    print(f"{'method':8s} {'err mm':>8s} {'rot deg':>8s} {'ms':>7s}")
    print(f"{'port':8s} {med(syn['port']):8.3f} {med(syn['rot_port']):8.2f} "
          f"{1e3 * med(syn['t_port']):7.1f}")
    print(f"{'refit':8s} {'':8s} {med(syn['rot_refit']):8.2f}")
    print(f"{'eos':8s} {med(syn['eos']):8.3f} {med(syn['rot_eos']):8.2f} "
          f"{1e3 * med(syn['t_eos']):7.1f}")
    print(f"depth-ratio bias: port {np.mean(syn['depth_port']):+.4f} eos "
          f"{np.mean(syn['depth_eos']):+.4f}")
    print(f"{'mean':8s} {med(syn['mean']):8.3f} {med(syn['rot_mean']):8.2f}")
    rotation_breakdown(syn)
    if args.floor:
        print(f"port rotation error with the true identity known {med(syn['rot_known_id']):.2f} "
              f"deg, identity and expression known {med(syn['rot_known_both']):.2f} deg")
    print(f"port without outliers {med(syn['port_clean']):.3f} mm")
    for pw in sweep:
        print(f"prior_weight {pw:5.2f}: median error {med(syn[f'sweep_{pw}']):.3f} mm")
    ratio = np.array(rea["ratio"])
    outside = float(np.mean((ratio < lo) | (ratio > hi))) if ratio.size else float("nan")
    print(f"\nreal: {ratio.size} crops; model 95% depth range {lo:.3f}-{hi:.3f}; depth ratio "
          f"median {med(ratio):.3f} (min {ratio.min():.3f}, max {ratio.max():.3f}); outside "
          f"{outside:.1%}; |alpha|/sqrt(K) median {med(rea['alpha']):.2f} max "
          f"{max(rea['alpha']):.2f}; RMSE {med(rea['rmse']):.2f} px (refit "
          f"{med(rea['refit_rmse']):.2f}, eos {med(rea['eos_rmse']):.2f})")
    er = np.array(rea["eos_ratio"])
    eos_out = np.mean((er < lo) | (er > hi))
    print(f"eos: depth ratio median {med(er):.3f}, outside {eos_out:.1%}, "
          f"|alpha|/sqrt(K) median {med(rea['eos_alpha']):.2f} max {max(rea['eos_alpha']):.2f}")
    growth = med(syn["port"]) / med(syn["port_clean"]) - 1
    print(
        f"SUMMARY synthetic_err_mm={med(syn['port']):.3f} mean_face_err_mm={med(syn['mean']):.3f} "
        f"eos_err_mm={med(syn['eos']):.3f} rot_err_deg={med(syn['rot_port']):.2f} "
        f"depth_bias={np.mean(syn['depth_port']):+.4f} outlier_growth={growth:.3f} "
        f"real_depth_ratio_median={med(ratio):.3f} real_outside_range={outside:.3f} "
        f"real_alpha_norm_max={max(rea['alpha']):.2f} real_rmse_px={med(rea['rmse']):.2f} "
        f"eos_real_rmse_px={med(rea['eos_rmse']):.2f} rot_refit_deg={med(syn['rot_refit']):.2f} "
        f"real_refit_rmse_px={med(rea['refit_rmse']):.2f}"
    )


if __name__ == "__main__":
    main()
