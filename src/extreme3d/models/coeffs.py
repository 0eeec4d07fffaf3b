"""Shape-CNN coefficients to outputs: the coloured foundation and the .ply.alpha text."""

from __future__ import annotations

from typing import Any

import numpy as np

from extreme3d.io.pts import format_coefficients

#: Number of shape (and of texture) coefficients the shape CNN predicts.
NUM_COEFFS = 99


def foundation_from_coeffs(
    model: Any, alpha: np.ndarray, beta: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Coloured foundation of PIPELINE.md section 2: vertices (V,3) float32 mm, colours or None.

    S = shapeMU + expMU + shapePC (alpha * shapeEV); T = clip(texMU + texPC (beta * texEV), 0,
    255) truncated to uint8 (mean colour when beta is None; None without a colour model).
    Coefficients beyond the model's basis size are ignored.
    """
    k = min(len(alpha), model.shape_ev.shape[0])
    a = np.asarray(alpha[:k], np.float64) * model.shape_ev[:k]
    s = model.shape_mu.astype(np.float64) + model.exp_mu + model.shape_pc[:, :k] @ a
    colors = None
    if getattr(model, "tex_mu", None) is not None:
        beta = np.zeros(0) if beta is None else beta  # no texture coefficients: mean colour
        kt = min(len(beta), model.tex_ev.shape[0])
        b = np.asarray(beta[:kt], np.float64) * model.tex_ev[:kt]
        t = model.tex_mu.astype(np.float64) + model.tex_pc[:, :kt] @ b
        colors = np.clip(t, 0, 255).astype(np.uint8).reshape(-1, 3)
    return s.reshape(-1, 3).astype(np.float32), colors


def format_alpha(alpha: np.ndarray, count: int = NUM_COEFFS) -> str:
    """The .ply.alpha text: `count` coefficients one per line (zero padded), as np.savetxt."""
    values = np.zeros(count, np.float64)
    n = min(count, len(alpha))
    values[:n] = np.asarray(alpha[:n], np.float64)
    return format_coefficients(values)
