"""Profile views of the foundation fitted from landmarks, port vs eos, on the test photos.

For every photo of <shared>/data/test (dlib landmarks of the first face, the 500x500 crop):
the crop, the port's fitted shape (fit_identity: identity + expression) seen from the side
(the subject's right, 90 deg), and eos's fit_shape_and_pose shape from the same side. Tiles of
160 px, four photos per row, written to one PNG. Judge the depth of the nose, the chin, the
forehead: a plausible face, or a flat / hooked one.

--before: adds a column (after the crop) with the port's shape fitted with the settings before
the jaw visibility test and the fitted focal length (occlusion=False, focal_sigma=0: the fit of
main at d8b9e62), and prints the rotation between the two fits.

Usage: python bench/profiles.py [--out profiles.png] [--photos DIR] [--model H5] [--before]
Last line: SUMMARY photos=.. port_depth_median=.. eos_depth_median=.. [before_depth_median=..
before_rot_diff_deg_median=..]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np
from _common import sfm_source
from foundation import eos_fit_full, surrey_model

from extreme3d import synthetic_faces as sf
from extreme3d.camera import FOCAL
from extreme3d.crop import crop_face
from extreme3d.fitting import fit_identity
from extreme3d.landmarks import detect_faces
from extreme3d.paths import shared_dir
from extreme3d.render import render

TILE = 160


def side_view(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """BGR 500x500 Lambert rendering of a mesh (model coordinates) seen from its right side."""
    rvec = np.array([0.0, -np.pi / 2, 0.0])
    rot = cv2.Rodrigues(rvec)[0]
    v = np.asarray(vertices, np.float64) @ rot.T
    lo, hi = v.min(axis=0), v.max(axis=0)
    centre = (lo + hi) / 2
    extent = max(float(hi[0] - lo[0]), float(hi[1] - lo[1]))
    distance = FOCAL * extent / (0.8 * 500)
    tvec = np.array([-centre[0], -centre[1], -(hi[2] + distance)])
    rgb, _ = render(np.asarray(vertices, np.float32), faces, rvec, tvec, shading="lambert")
    return np.ascontiguousarray(rgb[:, :, ::-1])


def main() -> None:
    """Renders the sheet and prints the SUMMARY line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("profiles.png"))
    ap.add_argument("--photos", type=Path, default=shared_dir() / "data" / "test")
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--before", action="store_true",
                    help="also the fit with the earlier settings (occlusion=False, focal_sigma=0)")
    args = ap.parse_args()
    from core import EosFitter

    with tempfile.TemporaryDirectory() as tmp:
        model = surrey_model(args.model, sfm_source(), Path(tmp))
    eos_fit = EosFitter(sfm_source())
    tiles, port_d, eos_d, old_d, rot_d = [], [], [], [], []
    for path in sorted(args.photos.iterdir()):
        img = cv2.imread(str(path))
        faces = detect_faces(img) if img is not None else []
        if not faces:
            print(f"{path.name}: no face")
            continue
        crop = crop_face(img, faces[0].landmarks.astype(np.float64))
        lms = np.asarray(crop.landmarks, np.float64)
        fit = fit_identity(model, lms)
        ef = eos_fit_full(eos_fit, lms)
        port_d.append(sf.depth_ratio(model.identity(fit.alpha).reshape(-1, 3)))
        eos_d.append(sf.depth_ratio(model.identity(ef["alpha"]).reshape(-1, 3)))
        row = [cv2.resize(crop.image, (TILE, TILE)),
               cv2.resize(side_view(model.shape(fit.alpha, fit.expr), model.faces), (TILE, TILE)),
               cv2.resize(side_view(ef["verts"], model.faces), (TILE, TILE))]
        if args.before:
            old = fit_identity(model, lms, occlusion=False, focal_sigma=0.0)
            old_d.append(sf.depth_ratio(model.identity(old.alpha).reshape(-1, 3)))
            rot_d.append(sf.rotation_error_deg(old.rvec, fit.rvec))
            row.insert(1, cv2.resize(side_view(model.shape(old.alpha, old.expr), model.faces),
                                     (TILE, TILE)))
            cv2.putText(row[1], f"before {old_d[-1]:.3f}", (4, TILE - 6),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 160, 0))
        tile = np.concatenate(row, axis=1)
        at = TILE * (2 if args.before else 1)
        cv2.putText(tile, path.stem[:22], (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 255))
        cv2.putText(tile, f"port {port_d[-1]:.3f}", (at + 4, TILE - 6),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 255))
        cv2.putText(tile, f"eos {eos_d[-1]:.3f}", (at + TILE + 4, TILE - 6),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 0, 0))
        tiles.append(tile)
        extra = (f" | before {old_d[-1]:.3f}, rotation change {rot_d[-1]:.2f} deg"
                 if args.before else "")
        print(f"{path.name[:40]:40s} depth ratio port {port_d[-1]:.3f} eos {eos_d[-1]:.3f} "
              f"quality down {fit.downweighted.tolist()} focal {fit.focal:.0f}{extra}", flush=True)
    per_row = 4
    blank = np.zeros_like(tiles[0])
    rows = [np.concatenate((tiles[i:i + per_row] + [blank] * per_row)[:per_row], axis=1)
            for i in range(0, len(tiles), per_row)]
    cv2.imwrite(str(args.out), np.concatenate(rows, axis=0))
    print(f"wrote {args.out}")
    extra = (f" before_depth_median={np.median(old_d):.3f} "
             f"before_rot_diff_deg_median={np.median(rot_d):.2f}" if args.before else "")
    print(f"SUMMARY photos={len(tiles)} port_depth_median={np.median(port_d):.3f} "
          f"eos_depth_median={np.median(eos_d):.3f}{extra}")


if __name__ == "__main__":
    main()
