"""Bump CNN: the module tree loads a state dict with the original's key names (strict) and the
network maps 500x500 RGB crops to 512x512 (mask, bump) with the original's 8-bit conversion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from extreme3d import Extreme3DError
from extreme3d.models import bump_cnn
from extreme3d.models.bump_cnn import BumpCNN, BumpNet


def _original_keys() -> list[str]:
    """Key names of the original Net (bumpMapRegressor.py) written out from its architecture."""
    keys: list[str] = []
    for i in range(1, 9):  # Discriminator: conv1..conv8 first, then bn1..bn7
        keys += [f"Dnet.conv{i}.weight", f"Dnet.conv{i}.bias"]
    for i in range(1, 8):
        keys += [f"Dnet.bn{i}.{p}" for p in
                 ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")]
    enc = ["conv_block1_16", "conv_block16_32", "conv_block32_64", "conv_block64_128",
           "conv_block128_256", "conv_block256_512", "conv_block512_1024"]
    for name in enc:
        for conv in ("conv_down", "conv", "conv2"):
            keys += [f"Gnet.{name}.{conv}.weight", f"Gnet.{name}.{conv}.bias"]
    dec = ["up_block1024_512", "up_block512_256", "up_block256_128", "up_block128_64",
           "up_block64_32", "up_block32_16", "up_block32_16_mask"]
    for name in dec:
        for conv in ("conv0", "conv", "conv2"):
            keys += [f"Gnet.{name}.{conv}.weight", f"Gnet.{name}.{conv}.bias"]
    for name in ("last_alt", "last_alt_mask"):
        keys += [f"Gnet.{name}.weight", f"Gnet.{name}.bias"]
    return keys


def test_state_dict_keys_and_shapes_match_original():
    state = BumpNet().state_dict()
    assert list(state) == _original_keys()
    assert state["Gnet.conv_block1_16.conv_down.weight"].shape == (3, 3, 3, 3)
    assert state["Gnet.conv_block1_16.conv.weight"].shape == (16, 3, 3, 3)
    assert state["Gnet.conv_block512_1024.conv_down.weight"].shape == (512, 512, 3, 3)
    assert state["Gnet.up_block1024_512.conv0.weight"].shape == (512, 1024, 3, 3)
    assert state["Gnet.up_block32_16_mask.conv.weight"].shape == (16, 32, 3, 3)
    assert state["Gnet.last_alt_mask.weight"].shape == (1, 16, 3, 3)
    assert state["Dnet.conv8.weight"].shape == (1024, 512, 4, 4)


@pytest.mark.slow
def test_save_load_strict_and_run(tmp_path):
    torch.manual_seed(0)
    src = BumpNet()
    path = tmp_path / "ckpt_109_grad.pth.tar"
    torch.save(src.state_dict(), path)
    cnn = BumpCNN.load(path, device="cpu")
    for k, v in src.Gnet.state_dict().items():
        assert torch.equal(cnn.net.state_dict()[k], v), k
    # A legacy (torch 0.3) state dict has no num_batches_tracked: still loads.
    legacy = {k: v for k, v in src.state_dict().items() if "num_batches_tracked" not in k}
    torch.save(legacy, tmp_path / "legacy.pth.tar")
    BumpCNN.load(tmp_path / "legacy.pth.tar", device="cpu")

    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (500, 500, 3), dtype=np.uint8),
              rng.integers(0, 256, (300, 400), dtype=np.uint8)]  # grey, other size
    outs = cnn.predict(images, batch_size=2)
    assert len(outs) == 2
    # Reference: the generator run directly, converted as the original does.
    x = torch.from_numpy(bump_cnn.preprocess(images[0]))[None]
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0
    with torch.no_grad():
        mask_t, bump_t = src.Gnet(x)
    assert mask_t.shape == (1, 1, 512, 512) and bump_t.shape == (1, 1, 512, 512)
    want_bump = np.clip(np.rint((bump_t[0, 0].numpy() + 1) * 255 / 2), 0, 255).astype(np.uint8)
    want_mask = np.clip(np.rint(mask_t[0, 0].numpy() * 255), 0, 255).astype(np.uint8)
    bump, mask = outs[0]
    assert bump.shape == (512, 512) and bump.dtype == np.uint8
    assert np.abs(bump.astype(int) - want_bump).max() <= 1
    assert np.abs(mask.astype(int) - want_mask).max() <= 1


def test_uint8_conversion_rounds_and_saturates():
    t = np.array([[-1.0, -0.5, 0.0, 0.002, 1.0]])
    bump, mask = bump_cnn.to_uint8_maps(t, t)
    assert bump.tolist() == [[0, 64, 128, 128, 255]]  # 63.75 -> 64, 127.5 -> 128 (half even)
    assert mask.tolist() == [[0, 0, 0, 1, 255]]  # 0.51 -> 1; negatives saturate to 0


def test_wrong_checkpoint_is_a_clear_error(tmp_path):
    bad = {"Gnet.conv_block1_16.conv.weight": torch.zeros(16, 3, 3, 3)}
    torch.save(bad, tmp_path / "bad.pth.tar")
    with pytest.raises(Extreme3DError, match="bad.pth.tar"):
        BumpCNN.load(tmp_path / "bad.pth.tar", device="cpu")
    (tmp_path / "junk.pth.tar").write_bytes(b"not a torch file")
    with pytest.raises(Extreme3DError, match="junk.pth.tar"):
        BumpCNN.load(tmp_path / "junk.pth.tar", device="cpu")
    with pytest.raises(Extreme3DError, match="not found"):
        BumpCNN.load(tmp_path / "missing.pth.tar", device="cpu")


def test_flat_maps():
    bump, mask = bump_cnn.flat_maps()
    assert bump.shape == mask.shape == (512, 512)
    assert (bump == 127).all() and (mask == 255).all()


def test_device_choice():
    from extreme3d.models.device import configure_threads, resolve_device

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(Extreme3DError, match="CUDA"):
            resolve_device("cuda")
    with pytest.raises(Extreme3DError, match="unknown device"):
        resolve_device("tpu")
    before = torch.get_num_threads()
    try:
        assert configure_threads(1) == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
