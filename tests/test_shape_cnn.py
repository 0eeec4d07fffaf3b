"""Shape CNN: a stand-in network pickled as the original ships it (class in shape_model.py,
module MainModel) loads, runs on the preprocessed crop and yields the foundation files."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from _helpers import STAND_IN, pickle_shape_net

from extreme3d import Extreme3DError
from extreme3d.models import shape_cnn
from extreme3d.models.shape_cnn import ShapeCNN


@pytest.fixture()
def cnn_dir(tmp_path):
    """A CNN folder with shape_model.{py,pth} and shape_mean.npz as the original distributes."""
    folder = tmp_path / "CNN dir"
    folder.mkdir()

    def spread_batch_norm(net):
        net.bn.running_mean.uniform_(-5, 5)
        net.bn.running_var.uniform_(1, 4)

    pickle_shape_net(folder, STAND_IN, seed=3, adjust=spread_batch_norm)
    mean = np.random.default_rng(0).uniform(90, 130, (3, 224, 224)).astype(np.float32)
    np.savez(folder / "shape_mean.npz", mean)
    return folder


def test_load_and_predict_matches_direct_forward(cnn_dir):
    assert shape_cnn.has_shape_cnn(cnn_dir)
    cnn = ShapeCNN.load(cnn_dir, device="cpu", trust_pickles=True)
    assert "MainModel" in sys.modules
    rng = np.random.default_rng(2)
    crops = [rng.integers(0, 256, (500, 500, 3), dtype=np.uint8) for _ in range(3)]
    coeffs = cnn.predict(crops, batch_size=2)
    assert coeffs.shape == (3, 198)
    mean = np.load(cnn_dir / "shape_mean.npz")["arr_0"]
    x = cv2.resize(crops[1], (224, 224)).astype(float).transpose(2, 0, 1) - mean
    with torch.no_grad():
        want = cnn.net(torch.from_numpy(x).unsqueeze(0).float()).numpy()[0]
    np.testing.assert_allclose(coeffs[1], want, rtol=1e-5, atol=1e-5)
    # Batched and one-by-one agree.
    np.testing.assert_allclose(cnn.predict(crops[1:2])[0], coeffs[1], rtol=1e-5, atol=1e-5)


def test_missing_or_bad_files_are_clear_errors(cnn_dir, tmp_path):
    (cnn_dir / "shape_mean.npz").unlink()
    assert not shape_cnn.has_shape_cnn(cnn_dir)
    with pytest.raises(Extreme3DError, match="shape_mean.npz"):
        ShapeCNN.load(cnn_dir, device="cpu", trust_pickles=True)
    (cnn_dir / "shape_mean.npz").write_bytes(b"not an npz file")
    with pytest.raises(Extreme3DError, match="shape_mean.npz"):
        ShapeCNN.load(cnn_dir, device="cpu", trust_pickles=True)
    np.savez(cnn_dir / "shape_mean.npz", np.zeros(3))
    (cnn_dir / "shape_model.pth").write_bytes(b"garbage")
    with pytest.raises(Extreme3DError, match="shape_model.pth"):
        ShapeCNN.load(cnn_dir, device="cpu", trust_pickles=True)


def _tiny_model():
    rng = np.random.default_rng(5)
    v, k = 4, 3
    return SimpleNamespace(
        shape_mu=rng.normal(0, 50, 3 * v).astype(np.float32),
        shape_pc=rng.normal(0, 1, (3 * v, k)).astype(np.float32),
        shape_ev=np.array([3.0, 2.0, 1.0], np.float32),
        exp_mu=rng.normal(0, 1, 3 * v).astype(np.float32),
        tex_mu=np.array([10, 250, 128] * v, np.float32),
        tex_pc=rng.normal(0, 1, (3 * v, k)).astype(np.float32),
        tex_ev=np.array([30.0, 20.0, 10.0], np.float32),
    )


def test_foundation_formula():
    m = _tiny_model()
    alpha = np.array([0.5, -1.0, 2.0] + [9.0] * 96)  # extra coefficients beyond K are ignored
    beta = np.array([1.0, 0.5, -0.25] + [9.0] * 96)
    verts, colors = shape_cnn.foundation_from_coeffs(m, alpha, beta)
    s = m.shape_mu + m.exp_mu + m.shape_pc @ (alpha[:3] * m.shape_ev)
    np.testing.assert_allclose(verts, s.reshape(-1, 3), rtol=1e-5, atol=1e-4)
    t = m.tex_mu + m.tex_pc @ (beta[:3] * m.tex_ev)
    np.testing.assert_array_equal(colors, np.floor(np.clip(t, 0, 255)).reshape(-1, 3))
    assert colors.dtype == np.uint8
    _, mean_colors = shape_cnn.foundation_from_coeffs(m, alpha, None)
    np.testing.assert_array_equal(mean_colors, m.tex_mu.reshape(-1, 3).astype(np.uint8))
    m.tex_mu = None
    assert shape_cnn.foundation_from_coeffs(m, alpha, beta)[1] is None


def test_alpha_text():
    text = shape_cnn.format_alpha(np.arange(5) * 0.5)
    lines = text.splitlines()
    assert len(lines) == 99
    np.testing.assert_allclose([float(x) for x in lines[:5]], [0, 0.5, 1, 1.5, 2])
    assert all(float(x) == 0 for x in lines[5:])


def test_old_torch_module_attributes_are_filled_in(cnn_dir):
    """A pickle from torch 0.3 lacks BatchNorm.track_running_stats and num_batches_tracked."""
    def strip_new_attributes(net):
        del net.bn.track_running_stats
        del net.bn._buffers["num_batches_tracked"]

    pickle_shape_net(cnn_dir, STAND_IN, adjust=strip_new_attributes)
    cnn = ShapeCNN.load(cnn_dir, device="cpu", trust_pickles=True)
    assert cnn.net.bn.track_running_stats is True
    out = cnn.predict([np.zeros((500, 500, 3), np.uint8)])
    assert out.shape == (1, 198) and np.isfinite(out).all()
