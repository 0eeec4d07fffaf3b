"""No foreign code runs implicitly (issue 17): CNN pickles only with trust_pickles
(--trust-cnn-pickles), plain np.load for the mean, model folders never the current directory."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from _helpers import STAND_IN, pickle_shape_net

from extreme3d import Extreme3DError
from extreme3d.models.bump_cnn import BumpCNN
from extreme3d.models.shape_cnn import ShapeCNN


class Payload:
    """Unpickling this touches a marker file (stands for any code a pickle may run)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_bump_checkpoint_payload_needs_trust(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    ckpt = tmp_path / "ckpt_109_grad.pth.tar"
    torch.save({"x": Payload(marker)}, ckpt)
    with pytest.raises(Extreme3DError, match="--trust-cnn-pickles") as err:
        BumpCNN.load(ckpt, device="cpu")
    assert str(ckpt) in str(err.value) and "\n" not in str(err.value)
    assert not marker.exists()
    with pytest.warns(UserWarning, match="ckpt_109_grad"), pytest.raises(Extreme3DError):
        BumpCNN.load(ckpt, device="cpu", trust_pickles=True)
    assert marker.exists()  # trusted: the full unpickle ran (then the keys do not match)


def test_shape_cnn_needs_trust_and_mean_is_plain(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    pickle_shape_net(tmp_path, STAND_IN, seed=1)
    (tmp_path / "shape_model.py").write_text(
        STAND_IN + f"\nimport pathlib\npathlib.Path({str(marker)!r}).touch()\n")
    np.savez(tmp_path / "shape_mean.npz", np.full(3, 120.0, np.float32))
    with pytest.raises(Extreme3DError, match="--trust-cnn-pickles"):
        ShapeCNN.load(tmp_path, device="cpu")
    assert not marker.exists() and "MainModel" not in sys.modules
    with pytest.warns(UserWarning, match="shape_model.pth"):
        ShapeCNN.load(tmp_path, device="cpu", trust_pickles=True)
    assert marker.exists()
    sys.modules.pop("MainModel", None)
    # an object (pickled) mean array is refused even when trusted... only plain arrays load
    np.savez(tmp_path / "shape_mean.npz", np.array([Payload(marker)], dtype=object))
    marker.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Extreme3DError, match="shape_mean.npz"):
            from extreme3d.models.shape_cnn import _load_mean

            _load_mean(tmp_path / "shape_mean.npz")
    assert not marker.exists()
    # a wrong-shape mean: one line naming the file, not a broadcast error later
    np.savez(tmp_path / "shape_mean.npz", np.zeros((5, 7), np.float32))
    with pytest.raises(Extreme3DError, match=r"shape_mean.npz.*\(5, 7\)"):
        _load_mean(tmp_path / "shape_mean.npz")


def test_wheel_install_defaults_to_user_data_folder(tmp_path: Path) -> None:
    """A copy of the package outside a checkout (as a wheel installs it) looks for its model
    folders in the per-user data folder, not the current directory; the variables override."""
    import shutil

    import extreme3d

    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(Path(extreme3d.__file__).parent / "paths.py", site / "paths_copy.py")
    code = ("import paths_copy as p; print(p.IS_CHECKOUT); print(p.cnn_dir()); "
            "print(p.model_dir())")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXTREME3D_")}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    cwd = tmp_path / "untrusted"
    (cwd / "CNN").mkdir(parents=True)
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env | {"PYTHONPATH": str(site)},
                         capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "False"
    assert out[1] == str(tmp_path / "xdg" / "extreme3d" / "CNN")
    assert out[2] == str(tmp_path / "xdg" / "extreme3d" / "3DMM_model")
    env["EXTREME3D_CNN_DIR"] = str(cwd / "CNN")
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env | {"PYTHONPATH": str(site)},
                         capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[1] == str(cwd / "CNN")
