"""Where things live: the repository's model folders and the shared test data (overridable)."""

from __future__ import annotations

import os
from pathlib import Path

#: Repository root when running from a checkout (src/extreme3d/../..), else the CWD.
_PKG_DIR = Path(__file__).resolve().parent
_CHECKOUT = _PKG_DIR.parent.parent
REPO_ROOT = _CHECKOUT if (_CHECKOUT / "pyproject.toml").exists() else Path.cwd()

#: Model file names in model_dir(): the original's Basel model and the open Surrey model.
BFM_MODEL_FILE = "BaselFaceModel_mod.h5"
SFM_MODEL_FILE = "sfm_mod.h5"


def model_dir() -> Path:
    """Folder holding BaselFaceModel_mod.h5 and friends (EXTREME3D_MODEL_DIR, else ./3DMM_model)."""
    return Path(os.environ.get("EXTREME3D_MODEL_DIR", REPO_ROOT / "3DMM_model"))


def cnn_dir() -> Path:
    """Folder holding the user's trained CNN files (EXTREME3D_CNN_DIR, else ./CNN)."""
    return Path(os.environ.get("EXTREME3D_CNN_DIR", REPO_ROOT / "CNN"))


def dlib_dir() -> Path:
    """Folder where a user may put shape_predictor_68_face_landmarks.dat (EXTREME3D_DLIB_DIR)."""
    return Path(os.environ.get("EXTREME3D_DLIB_DIR", REPO_ROOT / "dlib_model"))


def shared_dir() -> Path:
    """The shared data folder beside the checkout (EXTREME3D_SHARED, else ../shared)."""
    return Path(os.environ.get("EXTREME3D_SHARED", REPO_ROOT.parent / "shared"))
