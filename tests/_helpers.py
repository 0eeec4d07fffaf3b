"""Helpers shared by several test files (import as `from _helpers import ...`)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import torch

#: A stand-in for the original's converted shape ResNet (3x224x224 -> 198), as shape_model.py.
STAND_IN = '''
import torch
from torch import nn


class KitModel(nn.Module):
    """Stand-in for the converted ResNet: 3x224x224 -> 198."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 7, stride=4)
        self.bn = nn.BatchNorm2d(8)
        self.fc_ftnew = nn.Linear(8, 198)

    def forward(self, x):
        assert x.shape[1:] == (3, 224, 224)
        y = torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3))
        return self.fc_ftnew(y)
'''


def pickle_shape_net(
    folder: Path,
    source: str = STAND_IN,
    seed: int | None = None,
    adjust: Callable[[torch.nn.Module], None] | None = None,
) -> None:
    """Writes folder/shape_model.py and pickles its KitModel (eval mode, class in module
    MainModel, as the original ships it) to shape_model.pth; `adjust(net)` runs under no_grad
    first. MainModel is unregistered afterwards: the loader must register it itself."""
    (folder / "shape_model.py").write_text(source)
    spec = importlib.util.spec_from_file_location("MainModel", folder / "shape_model.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["MainModel"] = module
    try:
        spec.loader.exec_module(module)
        if seed is not None:
            torch.manual_seed(seed)
        net = module.KitModel().eval()
        if adjust is not None:
            with torch.no_grad():
                adjust(net)
        torch.save(net, folder / "shape_model.pth")
    finally:
        del sys.modules["MainModel"]


def write_cnn_folder(folder: Path) -> Path:
    """CNN folder: the stand-in shape network (pickled as MainModel, small outputs), a mean of
    100 and a random full bump U-Net (mask head biased positive, bump near flat)."""
    import numpy as np

    from extreme3d.models.bump_cnn import BUMP_WEIGHTS, BumpNet

    folder.mkdir()
    pickle_shape_net(folder, seed=0, adjust=lambda net: net.fc_ftnew.weight.mul_(0.01))
    np.savez(folder / "shape_mean.npz", np.full((3, 224, 224), 100.0, np.float32))
    bump = BumpNet()  # random weights, drawn after the shape network's (seed 0)
    with torch.no_grad():
        bump.Gnet.last_alt_mask.bias.fill_(2.0)  # keep the dense surface
        bump.Gnet.last_alt.weight.mul_(0.01)
    torch.save(bump.state_dict(), folder / BUMP_WEIGHTS)
    return folder
