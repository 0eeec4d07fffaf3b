"""The side file params/<name>.json: everything about one reconstructed face that is not an
array file (pose, camera, coefficients, landmarks, quality, timings, sources). Every field is
documented in docs/api.md; ``read_params`` gives the document back as a dict (round trip), and
``camera_from_params`` / ``project_with_params`` reuse the stored camera.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from extreme3d import Extreme3DError, __version__

#: Version of the params JSON layout (bumped when a field changes meaning).
PARAMS_VERSION = 1


def _list(a: Any, digits: int | None = None) -> Any:
    """A JSON-ready nested list of an array (floats rounded to `digits` when given)."""
    arr = np.asarray(a)
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64).tolist()
    arr = arr.astype(np.float64)
    if digits is not None:
        arr = np.round(arr, digits)
    return arr.tolist()


def face_params(result: Any, outputs: list[str] | None = None) -> dict[str, Any]:
    """The params document of a FaceResult (extreme3d.api)."""
    pose = result.pose
    lm_used = np.asarray(result.landmarks_used, np.int64)
    projected = result.projected_landmarks()
    err = np.linalg.norm(projected - result.landmarks, axis=1)
    rmse_all = float(np.sqrt(np.mean(err**2)))
    rmse_used = float(np.sqrt(np.mean(err[lm_used] ** 2))) if lm_used.size else rmse_all
    box = result.box
    return {
        "format": "extreme3d-params",
        "version": PARAMS_VERSION,
        "extreme3d_version": __version__,
        "name": result.name,
        "face_index": int(result.index),
        "image": {
            "path": result.image_path,
            "width": int(result.image_size[0]),
            "height": int(result.image_size[1]),
        },
        "crop": {
            "box": [int(box.left), int(box.top), int(box.right), int(box.bottom)],
            "size": 500,
            "scale": float(result.scale),
        },
        "pose": {
            "rvec": _list(pose.rvec),
            "rotation_matrix": _list(pose.matrix),
            "tvec_mm": _list(pose.tvec),
            "yaw_deg": float(pose.yaw),
            "pitch_deg": float(pose.pitch),
            "roll_deg": float(pose.roll),
            "convention": "X_cam = R X_model + t; R = Ry(yaw) Rx(pitch) Rz(roll) about camera "
                          "axes (x image right, y image up, z towards the viewer)",
        },
        "camera": {
            "projection": "u = -f X/Z + cx, v = f Y/Z + cy (camera z < 0 in front)",
            "crop": {"focal_px": float(pose.focal), "cx": float(pose.principal_point[0]),
                     "cy": float(pose.principal_point[1]), "width": 500, "height": 500},
            "image": {"focal_px": float(pose.focal_image),
                      "cx": float(pose.principal_point_image[0]),
                      "cy": float(pose.principal_point_image[1]),
                      "width": int(result.image_size[0]), "height": int(result.image_size[1])},
        },
        "coefficients": {
            "identity": _list(result.alpha),
            "expression": _list(result.expr),
            "texture": None if result.beta is None else _list(result.beta),
        },
        "landmarks": {
            "image_px": _list(result.landmarks, 4),
            "crop_px": _list(result.landmarks_crop, 4),
            "model_mm": _list(result.landmarks_3d, 5),
            "vertex_indices": _list(result.landmark_vertices),
            "used_in_fit": _list(lm_used),
            "projected_image_px": _list(projected, 4),
            "quality": getattr(result, "landmark_quality", None),
        },
        "quality": {
            "fit_rmse_px_crop": float(result.rmse_px),
            "fit_rmse_px_image": float(result.rmse_px_image),
            "landmark_rmse_px_image_used": rmse_used,
            "landmark_rmse_px_image_all": rmse_all,
        },
        "sources": dict(result.sources),
        "occlusion": dict(getattr(result, "occlusion", None) or {"enabled": False}),
        "options": {"fit_mode": result.fit_mode, "symmetry": bool(result.symmetry),
                    "texture_size": int(result.texture_size)},
        "colors": {k: dict(v) for k, v in result.color_counts.items()},
        "meshes": {k: {"vertices": int(m.num_vertices), "faces": int(m.num_faces)}
                   for k, m in result.meshes.items()},
        "timings_s": {k: round(float(v), 4) for k, v in result.timings.items()},
        "outputs": list(outputs or []),
    }


def write_params(path: str | os.PathLike[str], result: Any,
                 outputs: list[str] | None = None) -> Path:
    """Writes params JSON of a FaceResult atomically."""
    from extreme3d.io.atomic import atomic_write_text

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(face_params(result, outputs), indent=1) + "\n")
    return out


def read_params(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The params document of a file (errors name the file)."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text())
    except FileNotFoundError:
        raise Extreme3DError(f"{p}: params file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Extreme3DError(f"{p}: not a params JSON file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != "extreme3d-params":
        raise Extreme3DError(f"{p}: not an extreme3d params file (no format field)")
    return doc


def project_with_params(doc: dict[str, Any], points_model: Any, frame: str = "image"
                        ) -> np.ndarray:
    """Pixels (N,2) of model points (mm) with a params document's pose and camera ("image" =
    original photo pixels, "crop" = 500x500 crop pixels)."""
    r = np.asarray(doc["pose"]["rotation_matrix"], np.float64)
    t = np.asarray(doc["pose"]["tvec_mm"], np.float64)
    cam = doc["camera"][frame]
    xc = np.asarray(points_model, np.float64) @ r.T + t
    u = -cam["focal_px"] * xc[:, 0] / xc[:, 2] + cam["cx"]
    v = cam["focal_px"] * xc[:, 1] / xc[:, 2] + cam["cy"]
    return np.stack([u, v], axis=1)
