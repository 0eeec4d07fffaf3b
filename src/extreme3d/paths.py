"""Where things live: the model folders and the shared test data (overridable).

In a checkout the model folders are the repository's (3DMM_model/, CNN/, dlib_model/); installed
from a wheel they are in the per-user data folder (user_data_dir(): $XDG_DATA_HOME/extreme3d or
~/.local/share/extreme3d; %LOCALAPPDATA% on Windows, ~/Library/Application Support on macOS),
never the current directory (a folder's CNN files would be loaded, and pickles run code).
EXTREME3D_MODEL_DIR, EXTREME3D_CNN_DIR and EXTREME3D_DLIB_DIR override either."""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: Whether this is a checkout (src/extreme3d/../.. holds pyproject.toml), not a wheel install.
_PKG_DIR = Path(__file__).resolve().parent
_CHECKOUT = _PKG_DIR.parent.parent
IS_CHECKOUT = (_CHECKOUT / "pyproject.toml").exists() and (_CHECKOUT / "src" / "extreme3d").is_dir()


def user_data_dir() -> Path:
    """The per-user data folder of extreme3d (platformdirs' user_data_dir equivalent)."""
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_DATA_HOME")
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".local" / "share"
    return base / "extreme3d"


#: Base of the default model folders: the checkout, else the per-user data folder.
REPO_ROOT = _CHECKOUT if IS_CHECKOUT else user_data_dir()

#: Model file names in model_dir(): the original's Basel model and the open Surrey model.
BFM_MODEL_FILE = "BaselFaceModel_mod.h5"
SFM_MODEL_FILE = "sfm_mod.h5"


def model_dir() -> Path:
    """Folder holding BaselFaceModel_mod.h5 and friends (EXTREME3D_MODEL_DIR, else
    <checkout or user data folder>/3DMM_model)."""
    return Path(os.environ.get("EXTREME3D_MODEL_DIR", REPO_ROOT / "3DMM_model"))


def cnn_dir() -> Path:
    """Folder holding the user's trained CNN files (EXTREME3D_CNN_DIR, else
    <checkout or user data folder>/CNN)."""
    return Path(os.environ.get("EXTREME3D_CNN_DIR", REPO_ROOT / "CNN"))


def dlib_dir() -> Path:
    """Folder where a user may put shape_predictor_68_face_landmarks.dat (EXTREME3D_DLIB_DIR)."""
    return Path(os.environ.get("EXTREME3D_DLIB_DIR", REPO_ROOT / "dlib_model"))


def shared_dir() -> Path:
    """The shared data folder beside the checkout (EXTREME3D_SHARED, else ../shared)."""
    return Path(os.environ.get("EXTREME3D_SHARED", REPO_ROOT.parent / "shared"))
