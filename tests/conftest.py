"""Shared fixtures: the ../shared data folder and the Surrey model converted to the h5 layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from extreme3d.paths import shared_dir


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared data folder (EXTREME3D_SHARED or ../shared); skips when absent."""
    path = shared_dir()
    if not path.is_dir():
        pytest.skip(f"shared data folder not found: {path}")
    return path


@pytest.fixture(scope="session")
def sfm_dir(shared: Path) -> Path:
    """The open Surrey Face Model files (shared/models/sfm)."""
    path = shared / "models" / "sfm"
    if not (path / "sfm_shape_3448.bin").is_file():
        pytest.skip(f"Surrey model not found in {path}")
    return path


@pytest.fixture(scope="session")
def sfm_h5(sfm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Surrey model converted once per session to BaselFaceModel_mod.h5 layout."""
    from extreme3d.prepare.sfm import convert_sfm

    out = tmp_path_factory.mktemp("sfm_model") / "sfm_mod.h5"
    convert_sfm(sfm_dir, out)
    return out


@pytest.fixture(scope="session")
def sfm_model(sfm_h5: Path):
    """The converted Surrey model loaded as a MorphableModel."""
    from extreme3d.morphable import load_model

    return load_model(sfm_h5)
