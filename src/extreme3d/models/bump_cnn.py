"""Bump CNN: the U-Net that regresses a 512x512 bump map and an occlusion mask from a 500x500 crop.

The module tree mirrors the original training container (a generator `Gnet` and a discriminator
`Dnet`, attribute names included) so the released `CNN/ckpt_109_grad.pth.tar` state dict loads
with `strict=True`. Only the generator runs at inference time (PIPELINE.md section 3).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from extreme3d import Extreme3DError
from extreme3d.models.device import resolve_device
from extreme3d.models.files import BUMP_WEIGHTS  # noqa: F401 - re-exported

#: Side of the network input (pixels) and of its outputs.
INPUT_SIZE = 500
OUTPUT_SIZE = 512


class EncoderBlock(nn.Module):
    """Optional stride-2 downsampling conv, then two 3x3 convs, every conv followed by ReLU.

    `conv_down` always exists (its weights are in the released state dict) even when the block
    does not downsample, as in the original's first block.
    """

    def __init__(self, c_in: int, c_out: int, padding: int = 1, downsample: bool = True) -> None:
        super().__init__()
        self.conv_down = nn.Conv2d(c_in, c_in, 3, stride=2, padding=1)
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=1, padding=padding)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map (N, c_out, H', W'); H' = H/2 when downsampling, H + 2*(padding-1) else."""
        # In-place ReLU on fresh conv outputs: same values, no extra 500x500 buffers.
        if self.downsample:
            x = torch.relu_(self.conv_down(x))
        return torch.relu_(self.conv2(torch.relu_(self.conv(x))))


class DecoderBlock(nn.Module):
    """Nearest x2 upsampling, a 3x3 conv (no activation), concatenation with the centre-cropped
    skip connection, then two 3x3 convs with ReLU."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv0 = nn.Conv2d(c_in, c_out, 3, stride=1, padding=1)
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=1, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Upsampled features (N, c_out, 2H, 2W) fused with `skip` (cropped to 2H x 2W)."""
        up = self.conv0(nn.functional.interpolate(x, scale_factor=2.0, mode="nearest"))
        size = up.shape[2]
        off = (skip.shape[2] - size) // 2
        skip = skip[:, :, off : off + size, off : off + size]
        out = torch.relu_(self.conv(torch.cat([up, skip], dim=1)))
        return torch.relu_(self.conv2(out))


class UNet(nn.Module):
    """The generator: 7 encoder blocks (3->16->...->1024), 6 shared decoder blocks and one last
    decoder block + 3x3 conv + tanh per head (bump and mask). Returns (mask, bump)."""

    _ENC = ((3, 16), (16, 32), (32, 64), (64, 128), (128, 256), (256, 512), (512, 1024))

    def __init__(self) -> None:
        super().__init__()
        for i, (c_in, c_out) in enumerate(self._ENC):
            block = EncoderBlock(c_in, c_out, padding=7, downsample=False) if i == 0 else (
                EncoderBlock(c_in, c_out)
            )
            setattr(self, f"conv_block{1 if i == 0 else c_in}_{c_out}", block)
        for c_in in (1024, 512, 256, 128, 64, 32):
            setattr(self, f"up_block{c_in}_{c_in // 2}", DecoderBlock(c_in, c_in // 2))
        self.up_block32_16_mask = DecoderBlock(32, 16)
        self.last_alt = nn.Conv2d(16, 1, 3, 1, 1)
        self.last_alt_mask = nn.Conv2d(16, 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mask, bump), each (N, 1, H+12, W+12) in [-1, 1], from a normalised (N, 3, H, W)."""
        skips = [self.conv_block1_16(x)]
        for c_in, c_out in self._ENC[1:]:
            skips.append(getattr(self, f"conv_block{c_in}_{c_out}")(skips[-1]))
        up = skips[-1]
        for level, c_in in enumerate((1024, 512, 256, 128, 64)):
            up = getattr(self, f"up_block{c_in}_{c_in // 2}")(up, skips[-2 - level])
        bump = self.up_block32_16(up, skips[0])
        mask = self.up_block32_16_mask(up, skips[0])
        return torch.tanh(self.last_alt_mask(mask)), torch.tanh(self.last_alt(bump))


class Discriminator(nn.Module):
    """The training-time critic (kept so the released state dict loads strict; never run here)."""

    _CH = ((1, 32), (32, 64), (64, 128), (128, 256), (256, 256), (256, 512), (512, 512))

    def __init__(self) -> None:
        super().__init__()
        for i, (c_in, c_out) in enumerate(self._CH, start=1):
            setattr(self, f"conv{i}", nn.Conv2d(c_in, c_out, 3, stride=2, padding=1))
        self.conv8 = nn.Conv2d(512, 1024, kernel_size=4, stride=1, padding=0)
        for i, (_, c_out) in enumerate(self._CH, start=1):
            setattr(self, f"bn{i}", nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Probability that a (N, 1, 512, 512) bump map is real, (N, 1024, 1, 1)."""
        for i in range(1, 8):
            bn = getattr(self, f"bn{i}")
            x = nn.functional.leaky_relu(bn(getattr(self, f"conv{i}")(x)), 0.2)
        return torch.sigmoid(self.conv8(x))


class BumpNet(nn.Module):
    """The container whose state dict is the released checkpoint: `Dnet` then `Gnet`."""

    def __init__(self) -> None:
        super().__init__()
        self.Dnet = Discriminator()
        self.Gnet = UNet()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mask, bump) from the generator."""
        return self.Gnet(x)


def _load_checkpoint(path: Path, trust_pickles: bool = False) -> dict:
    """The state dict stored in `path`: torch.load(weights_only=True) (no code runs); a legacy
    torch 0.3 pickle only with trust_pickles (a full unpickle, with a warning naming the file)."""
    from extreme3d.io.safe_read import check_regular_file

    check_regular_file(path, "bump CNN weights")
    errors = []
    ways: list[dict] = [{"weights_only": True}]
    if trust_pickles:
        ways += [{"weights_only": False}, {"weights_only": False, "encoding": "latin1"}]
    for kwargs in ways:
        if not kwargs["weights_only"]:
            warnings.warn(f"unpickling bump CNN weights {path} in full (trusted by the user)",
                          stacklevel=2)
        try:
            obj = torch.load(path, map_location="cpu", **kwargs)
            break
        except Exception as exc:  # noqa: BLE001 - try the next, more permissive, way
            errors.append(f"{type(exc).__name__}: {exc}")
    else:
        hint = "" if trust_pickles else (
            " (a legacy pickled checkpoint is loaded only with --trust-cnn-pickles)")
        raise Extreme3DError(
            f"cannot read bump CNN weights {path}: {errors[-1].splitlines()[0]}{hint}")
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        kind = type(obj).__name__
        raise Extreme3DError(f"bump CNN weights {path} hold a {kind}, not a state dict")
    # Checkpoints saved from nn.DataParallel prefix every key with "module.".
    return {k.removeprefix("module."): v for k, v in obj.items()}


@dataclass
class BumpCNN:
    """The loaded generator on its device; `predict` maps RGB crops to 8-bit (bump, mask)."""

    net: UNet
    device: torch.device

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str = "auto", *,
             trust_pickles: bool = False) -> BumpCNN:
        """Loads the released checkpoint (strict key match) onto `device` (cpu|cuda|auto);
        trust_pickles allows a legacy full-pickle checkpoint (runs code from the file)."""
        path = Path(path)
        if not path.exists():
            raise Extreme3DError(f"bump CNN weights not found: {path}")
        state = _load_checkpoint(path, trust_pickles)
        full = BumpNet()
        keys = set(full.state_dict())
        if set(state) <= {k.removeprefix("Gnet.") for k in keys if k.startswith("Gnet.")}:
            state = {f"Gnet.{k}": v for k, v in state.items()}  # a bare generator state dict
            state.update({k: v for k, v in full.state_dict().items() if k.startswith("Dnet.")})
        try:
            full.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)
            msg = f"bump CNN weights {path} do not match the U-Net: {first}"
            raise Extreme3DError(msg) from exc
        return cls.from_module(full.Gnet, device)

    @classmethod
    def from_module(cls, net: UNet, device: str = "auto") -> BumpCNN:
        """Wraps an existing generator (e.g. random weights for benchmarks)."""
        dev = resolve_device(device)
        # NHWC convolutions are markedly faster with oneDNN on CPU (and fine on CUDA).
        return cls(net.to(dev).eval().to(memory_format=torch.channels_last), dev)

    def predict(
        self, images_rgb: Sequence[np.ndarray], batch_size: int = 1
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """(bump, mask) uint8 512x512 for each RGB (or grey) uint8 image, `batch_size` at a time."""
        results: list[tuple[np.ndarray, np.ndarray]] = []
        step = max(1, batch_size)
        for start in range(0, len(images_rgb), step):
            chunk = images_rgb[start : start + step]
            batch = torch.from_numpy(np.stack([preprocess(im) for im in chunk])).to(self.device)
            batch = batch.contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                mask, bump = self.net(batch)
            results.extend(
                to_uint8_maps(b, m)
                for b, m in zip(bump[:, 0].float().cpu().numpy(), mask[:, 0].float().cpu().numpy(),
                                strict=True)
            )
        return results


def preprocess(image: np.ndarray) -> np.ndarray:
    """(3, 500, 500) float32 network input: RGB resized to 500x500, scaled to [0,1], (x-0.5)/0.5."""
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    elif image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    elif image.shape[2] == 4:
        image = image[:, :, :3]
    if image.shape[:2] != (INPUT_SIZE, INPUT_SIZE):
        image = cv2.resize(image, (INPUT_SIZE, INPUT_SIZE))
    x = image.astype(np.float32).transpose(2, 0, 1) / 255.0
    return (x - 0.5) / 0.5


def to_uint8_maps(bump: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-bit maps from tanh outputs: bump (t+1)*255/2, mask t*255; rounded half to even and
    saturated (OpenCV's conversion); float32 arithmetic, as the original's numpy code."""

    def sat(x: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(x), 0, 255).astype(np.uint8)

    b = np.asarray(bump, np.float32)
    m = np.asarray(mask, np.float32)
    return sat((b + np.float32(1)) * np.float32(255) / np.float32(2)), sat(m * np.float32(255))


def flat_maps(mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 'flat' fallback: a bump map of 127 everywhere (no detail) and `mask` (default 255)."""
    bump = np.full((OUTPUT_SIZE, OUTPUT_SIZE), 127, np.uint8)
    if mask is None:
        mask = np.full((OUTPUT_SIZE, OUTPUT_SIZE), 255, np.uint8)
    return bump, mask


def expected_state_keys() -> Iterable[str]:
    """Every key of the released checkpoint, in the order our module tree produces them."""
    return BumpNet().state_dict().keys()
