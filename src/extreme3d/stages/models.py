"""Sources and model loading: which source serves each stage, and the models loaded once per run.

Fallbacks (chosen once, printed, recorded per image):

- shape ``cnn``: the user's shape CNN (CNN/shape_model.*); ``landmarks``: no such files, the
  identity is fitted to the 68 landmarks (extreme3d.fitting.fit_identity).
- bump ``cnn``: the bump U-Net (CNN/ckpt_109_grad.pth.tar); ``photo``: a bump map estimated
  from the photo itself (extreme3d.bump_photo); ``flat``: no detail (all 127) with the mask of
  the rendered foundation.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extreme3d import Extreme3DError
from extreme3d.paths import BFM_MODEL_FILE, SFM_MODEL_FILE

SHAPE_SOURCES = ("cnn", "landmarks")
BUMP_SOURCES = ("cnn", "photo", "flat")


def default_model_path() -> Path:
    """3DMM_model/BaselFaceModel_mod.h5, else 3DMM_model/sfm_mod.h5 when only the Surrey model
    was prepared (EXTREME3D_MODEL_DIR overrides the folder)."""
    from extreme3d.paths import model_dir

    bfm = model_dir() / BFM_MODEL_FILE
    sfm = model_dir() / SFM_MODEL_FILE
    return sfm if (not bfm.is_file() and sfm.is_file()) else bfm


def check_model_path(path: Path) -> Path:
    """`path` if it exists, else the one-line error naming it and the command that makes it."""
    if not path.is_file():
        raise Extreme3DError(
            f"morphable model not found: {path} (create it with `extreme3d fetch-models sfm && "
            f"extreme3d prepare-model sfm`, or `extreme3d prepare-model bfm`, or pass --model)"
        )
    return path


def load_morphable(path: Path) -> Any:
    """The MorphableModel of `path` (errors name the file)."""
    from extreme3d.morphable import load_model

    return load_model(check_model_path(path))


def photo_bump_available() -> bool:
    """True when the 'photo' bump source (extreme3d.bump_photo) is installed."""
    return importlib.util.find_spec("extreme3d.bump_photo") is not None


def choose_shape_source(requested: str | None, cnn_dir: Path) -> str:
    """'cnn' or 'landmarks' (explicit choice checked; None = cnn when its files exist)."""
    from extreme3d.models.files import has_shape_cnn, shape_files

    if requested is None:
        return "cnn" if has_shape_cnn(cnn_dir) else "landmarks"
    if requested not in SHAPE_SOURCES:
        raise Extreme3DError(f"unknown shape source {requested!r} (use {', '.join(SHAPE_SOURCES)})")
    if requested == "cnn":
        for path in shape_files(cnn_dir):
            if not path.is_file():
                raise Extreme3DError(f"shape CNN file not found: {path}")
    return requested


def choose_bump_source(requested: str | None, cnn_dir: Path) -> str:
    """'cnn', 'photo' or 'flat' (None = cnn if the weights exist, else photo if available)."""
    from extreme3d.models.files import bump_weights

    weights = bump_weights(cnn_dir)
    if requested is None:
        if weights.is_file():
            return "cnn"
        return "photo" if photo_bump_available() else "flat"
    if requested not in BUMP_SOURCES:
        raise Extreme3DError(f"unknown bump source {requested!r} (use {', '.join(BUMP_SOURCES)})")
    if requested == "cnn" and not weights.is_file():
        raise Extreme3DError(f"bump CNN weights not found: {weights}")
    if requested == "photo" and not photo_bump_available():
        raise Extreme3DError("bump source 'photo' needs extreme3d.bump_photo, not installed")
    return requested


def describe_sources(shape: str, bump: str, cnn_dir: Path, occlusion: bool = False) -> list[str]:
    """One line per source decision (and why a fallback is used), printed at the start;
    occlusion: also the MediaPipe steps' line (extreme3d.occlusion.hands.status_line)."""
    from extreme3d.models.files import BUMP_WEIGHTS, bump_weights, has_shape_cnn, shape_files

    lines = []
    if shape == "cnn":
        lines.append(f"shape: cnn ({shape_files(cnn_dir)[0]})")
    else:
        why = "requested" if has_shape_cnn(cnn_dir) else f"no shape CNN in {cnn_dir}"
        lines.append(f"shape: landmarks ({why}: identity fitted to the 68 landmarks)")
    weights = bump_weights(cnn_dir)
    why = "requested" if weights.is_file() else f"no {BUMP_WEIGHTS} in {cnn_dir}"
    if bump == "cnn":
        lines.append(f"bump: cnn ({weights})")
    elif bump == "photo":
        lines.append(f"bump: photo ({why}: bump map estimated from the photo, "
                     f"extreme3d.bump_photo)")
    else:
        lines.append(f"bump: flat ({why}: no surface detail; mask of the rendered foundation)")
    if occlusion:
        from extreme3d.occlusion.hands import status_line

        lines.append(status_line())
    return lines


@dataclass
class Models:
    """Everything loaded once per run: the morphable model, the CNNs in use and the sources."""

    model: Any  # extreme3d.morphable.MorphableModel
    model_path: Path | None
    cnn_dir: Path
    shape_source: str
    bump_source: str
    shape_net: Any = None  # extreme3d.models.shape_cnn.ShapeCNN when shape_source == "cnn"
    bump_net: Any = None  # extreme3d.models.bump_cnn.BumpCNN when bump_source == "cnn"
    trust_pickles: bool = False  # the user trusts the CNN files' pickles (--trust-cnn-pickles)


def load_models(
    model: Any = None,
    cnn_dir: str | os.PathLike[str] | None = None,
    *,
    device: str = "auto",
    shape_source: str | None = None,
    bump_source: str | None = None,
    load_nets: bool = True,
    trust_pickles: bool = False,
) -> Models:
    """Chooses the sources and loads the model (a path, a loaded MorphableModel, or None for the
    default) and, with load_nets, the CNNs they need on `device`."""
    from extreme3d.paths import cnn_dir as default_cnn_dir

    folder = Path(cnn_dir) if cnn_dir else default_cnn_dir()
    if model is None or isinstance(model, str | os.PathLike):
        path: Path | None = check_model_path(Path(model or default_model_path()))
        loaded = load_morphable(path)
    else:
        path, loaded = None, model
    shape = choose_shape_source(shape_source, folder)
    bump = choose_bump_source(bump_source, folder)
    models = Models(loaded, path, folder, shape, bump, trust_pickles=trust_pickles)
    if load_nets:
        load_networks(models, device)
    return models


def load_networks(models: Models, device: str = "auto") -> None:
    """Loads the CNNs of the chosen sources into `models` (no-op for the fallbacks)."""
    if models.shape_source == "cnn" and models.shape_net is None:
        from extreme3d.models.shape_cnn import ShapeCNN

        models.shape_net = ShapeCNN.load(models.cnn_dir, device,
                                         trust_pickles=models.trust_pickles)
    if models.bump_source == "cnn" and models.bump_net is None:
        from extreme3d.models.bump_cnn import BumpCNN
        from extreme3d.models.files import bump_weights

        models.bump_net = BumpCNN.load(bump_weights(models.cnn_dir), device,
                                       trust_pickles=models.trust_pickles)
