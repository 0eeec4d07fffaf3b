"""Shape CNN: the user's pickled ResNet-101 that regresses 99 shape + 99 texture coefficients.

The files (`CNN/shape_model.pth`, `CNN/shape_model.py`, `CNN/shape_mean.npz`) are the ones the
original distributes: the .pth is a whole pickled module whose class lives in shape_model.py,
imported under the module name `MainModel` (PIPELINE.md section 2).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from extreme3d import Extreme3DError
from extreme3d.models.coeffs import NUM_COEFFS, format_alpha, foundation_from_coeffs  # noqa: F401
from extreme3d.models.device import resolve_device
from extreme3d.models.files import SHAPE_FILES, has_shape_cnn, shape_files  # noqa: F401

#: Side of the network input (pixels).
INPUT_SIZE = 224


def register_main_model(module_file: str | os.PathLike[str]) -> Any:
    """Imports `module_file` as the module `MainModel` (the name the pickle refers to)."""
    spec = importlib.util.spec_from_file_location("MainModel", str(module_file))
    if spec is None or spec.loader is None:
        raise Extreme3DError(f"cannot import the shape network class file {module_file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["MainModel"] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules["MainModel"]
        raise Extreme3DError(f"cannot import {module_file}: {type(exc).__name__}: {exc}") from exc
    return module


def _upgrade_legacy(net: nn.Module) -> None:
    """Adds attributes that modules unpickled from torch 0.3 lack but torch 2 forward() reads."""
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            if not hasattr(module, "track_running_stats"):
                module.track_running_stats = True
            if not hasattr(module, "num_batches_tracked"):
                module.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        if isinstance(module, nn.modules.conv._ConvNd) and not hasattr(module, "padding_mode"):
            module.padding_mode = "zeros"
        if isinstance(module, nn.Upsample):
            for attr, default in (("align_corners", None), ("recompute_scale_factor", None)):
                if not hasattr(module, attr):
                    setattr(module, attr, default)
        if isinstance(module, nn.MaxPool2d | nn.AvgPool2d) and not hasattr(module, "ceil_mode"):
            module.ceil_mode = False


def _load_pickled_module(path: Path) -> nn.Module:
    """Unpickles the whole network (torch >= 0.4 files, then legacy Python 2 pickles); only
    called once the user has trusted the file (it runs code from it)."""
    from extreme3d.io.safe_read import check_regular_file

    check_regular_file(path, "shape CNN")
    last: Exception | None = None
    for extra in ({}, {"encoding": "latin1"}):
        try:
            net = torch.load(path, map_location="cpu", weights_only=False, **extra)
            break
        except Exception as exc:  # noqa: BLE001 - retry with the legacy encoding
            last = exc
    else:
        raise Extreme3DError(f"cannot read shape CNN {path}: {type(last).__name__}: {last}")
    if isinstance(net, dict):
        raise Extreme3DError(
            f"shape CNN {path} holds a state dict, not the pickled network the original ships"
        )
    if not isinstance(net, nn.Module):
        raise Extreme3DError(f"shape CNN {path} holds a {type(net).__name__}, not a torch module")
    _upgrade_legacy(net)
    return net


#: Shapes the mean image may have (it is broadcast over the (3, 224, 224) input).
MEAN_SHAPES = ((3,), (3, 1, 1), (3, 224, 224))


def _load_mean(path: Path, trust_pickles: bool = False) -> np.ndarray:
    """The mean image `arr_0` of the npz as float32 (3, 1, 1) or (3, 224, 224): a plain array
    (np.load without pickles); an object array only with trust_pickles."""
    from extreme3d.io.safe_read import check_regular_file

    check_regular_file(path, "shape CNN mean")
    mean = None
    for allow_pickle in (False, True) if trust_pickles else (False,):
        try:
            with np.load(path, encoding="latin1", allow_pickle=allow_pickle) as data:
                mean = np.asarray(data["arr_0"], dtype=np.float32)
            break
        except Exception as exc:  # noqa: BLE001 - any failure: one clear line naming the file
            if allow_pickle or not trust_pickles or not isinstance(exc, ValueError):
                msg = f"cannot read the mean array arr_0 of {path}: {type(exc).__name__}: {exc}"
                msg = msg.splitlines()[0]
                if isinstance(exc, ValueError) and "pickle" in str(exc):
                    msg += " (a pickled array is read only with --trust-cnn-pickles)"
                raise Extreme3DError(msg) from exc
    if mean.ndim == 1:
        mean = mean.reshape(-1, 1, 1)
    elif mean.ndim == 3 and mean.shape[2] == 3 and mean.shape[0] != 3:
        mean = mean.transpose(2, 0, 1)
    if mean.shape not in MEAN_SHAPES or not np.all(np.isfinite(mean)):
        raise Extreme3DError(f"{path}: the mean array arr_0 must be finite with shape (3,), "
                             f"(3, 224, 224) or (224, 224, 3), got {np.shape(mean)}")
    return mean


@dataclass
class ShapeCNN:
    """The loaded network and mean; `predict` maps BGR crops to (N, 198) coefficients."""

    net: nn.Module
    mean: np.ndarray
    device: torch.device

    @classmethod
    def load(cls, cnn_dir: str | os.PathLike[str], device: str = "auto", *,
             trust_pickles: bool = False) -> ShapeCNN:
        """Loads shape_model.{pth,py} and shape_mean.npz from `cnn_dir` onto `device`. The
        network is a pickled module with its Python source: loading it runs code from those
        files, so it needs trust_pickles=True (CLI: --trust-cnn-pickles), and warns."""
        pth, py, npz = shape_files(cnn_dir)
        for path in (pth, py, npz):
            if not path.is_file():
                raise Extreme3DError(f"shape CNN file not found: {path}")
        if not trust_pickles:
            raise Extreme3DError(
                f"{pth}: the shape CNN is a pickled network with Python code ({py.name}); "
                "loading it runs code from these files: pass --trust-cnn-pickles "
                "(API: trust_cnn_pickles=True) if you trust them, or --shape-source landmarks")
        warnings.warn(f"loading pickled shape CNN {pth} and running {py} (trusted by the user)",
                      stacklevel=2)
        register_main_model(py)
        net = _load_pickled_module(pth)
        return cls.from_module(net, _load_mean(npz, trust_pickles), device)

    @classmethod
    def from_module(cls, net: nn.Module, mean: np.ndarray, device: str = "auto") -> ShapeCNN:
        """Wraps an existing network and mean (e.g. random weights for benchmarks)."""
        dev = resolve_device(device)
        net = net.to(dev).eval().to(memory_format=torch.channels_last)  # faster convs on CPU
        return cls(net, np.asarray(mean, np.float32), dev)

    def preprocess(self, image_bgr: np.ndarray) -> np.ndarray:
        """(3, 224, 224) float32 input: the crop resized to 224x224, BGR, CHW, minus the mean."""
        if image_bgr.ndim == 2:
            image_bgr = cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2BGR)
        elif image_bgr.shape[2] == 4:
            image_bgr = image_bgr[:, :, :3]
        im = cv2.resize(image_bgr, (INPUT_SIZE, INPUT_SIZE)).astype(np.float64).transpose(2, 0, 1)
        return (im - self.mean).astype(np.float32)

    def predict(self, images_bgr: Sequence[np.ndarray], batch_size: int = 1) -> np.ndarray:
        """(N, 198) float32 coefficients (99 shape, then 99 texture) for uint8 BGR crops."""
        rows: list[np.ndarray] = []
        step = max(1, batch_size)
        for start in range(0, len(images_bgr), step):
            chunk = images_bgr[start : start + step]
            batch = torch.from_numpy(np.stack([self.preprocess(im) for im in chunk]))
            batch = batch.to(self.device).contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                out = self.net(batch)
            if isinstance(out, tuple | list):
                out = out[0]
            rows.append(out.reshape(len(chunk), -1).float().cpu().numpy())
        coeffs = np.concatenate(rows) if rows else np.zeros((0, 2 * NUM_COEFFS), np.float32)
        if coeffs.shape[1] < NUM_COEFFS:
            raise Extreme3DError(
                f"the shape CNN returns {coeffs.shape[1]} values, expected {2 * NUM_COEFFS}"
            )
        return coeffs
