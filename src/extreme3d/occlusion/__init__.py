"""Seeing through occlusions: occluder segmentation of a face crop and de-occlusion of its bump
map (the cues weight-free; hands over the face found by MediaPipe Hands when the optional
`mediapipe` package is installed; see docs/occlusion.md).

    from extreme3d.occlusion import deocclude
    res = deocclude(crop_bgr, landmarks68, bump512, mask512)
    res.bump, res.mask, res.occluders, res.occluded_fraction
"""

from extreme3d.occlusion.fill import (
    OcclusionConstants,
    OcclusionResult,
    default_constants,
    deocclude,
    find_occluders,
    is_flat,
)
from extreme3d.occlusion.fit import PaperItem, fit_constants

__all__ = [
    "OcclusionConstants",
    "OcclusionResult",
    "PaperItem",
    "deocclude",
    "default_constants",
    "find_occluders",
    "fit_constants",
    "is_flat",
]
