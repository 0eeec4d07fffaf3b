"""The two CNNs of the pipeline: the shape CNN (3DMM coefficients) and the bump CNN (U-Net)."""

from __future__ import annotations

from extreme3d.models.bump_cnn import BUMP_WEIGHTS, BumpCNN, flat_maps
from extreme3d.models.device import configure_threads, resolve_device
from extreme3d.models.shape_cnn import SHAPE_FILES, ShapeCNN, has_shape_cnn

__all__ = [
    "BUMP_WEIGHTS",
    "SHAPE_FILES",
    "BumpCNN",
    "ShapeCNN",
    "configure_threads",
    "flat_maps",
    "has_shape_cnn",
    "resolve_device",
]
