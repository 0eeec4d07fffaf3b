"""A verdict on one image's 68 landmarks from the robust identity fit: are they a plausible face?

The robust fit (extreme3d.fitting.fit_identity) down-weights landmarks far from the face it
fits; many of them, inner points among them, or an identity far outside the model's population
mean the landmarks are not a plausible face (a detector that followed the background, a hand,
a wrong face), and the shape built from them should not be trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from extreme3d.fitting import DOWNWEIGHTED, IdentityResult

#: At most this many down-weighted jaw points (of 17) pass; more is a bad outline.
MAX_JAW_DOWNWEIGHTED = 2
#: At most this many down-weighted inner points (of 51) pass (a broad smile moves the mouth
#: corners and nostrils off the model: up to 4 on the test photos).
MAX_INNER_DOWNWEIGHTED = 4
#: |alpha| / sqrt(K) above this: the identity lies outside the model's population (a random
#: face from the model has about 1 +- 0.09 with the Surrey model's 63 coefficients).
MAX_ALPHA_NORM = 1.3

_GROUPS = (("jaw", 0, 17), ("brows", 17, 27), ("nose", 27, 36), ("eyes", 36, 48),
           ("mouth", 48, 68))


@dataclass(frozen=True)
class LandmarkQuality:
    """Verdict on one image's landmarks; `warning` is '' when ok."""

    ok: bool
    warning: str
    downweighted: tuple[int, ...]  # landmark numbers (0-based) the robust loss down-weighted
    rmse_px: float  # landmark RMSE of the fit, down-weighted points included
    inlier_rmse_px: float  # RMSE over the points that were not down-weighted
    alpha_norm: float  # |alpha| / sqrt(K)

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {"ok": self.ok, "warning": self.warning, "downweighted": list(self.downweighted),
                "rmse_px": round(self.rmse_px, 3), "inlier_rmse_px": round(self.inlier_rmse_px, 3),
                "alpha_norm": round(self.alpha_norm, 3)}


def _group_names(numbers: np.ndarray) -> str:
    """'jaw 0,1,2; mouth 50' for landmark numbers."""
    parts = []
    for name, lo, hi in _GROUPS:
        sel = [int(n) for n in numbers if lo <= n < hi]
        if sel:
            parts.append(f"{name} {','.join(map(str, sel))}")
    return "; ".join(parts)


def landmark_quality(fit: IdentityResult) -> LandmarkQuality:
    """The verdict on the landmarks behind a robust identity fit (see the module's thresholds)."""
    weights = np.asarray(fit.weights, np.float64)
    res = np.asarray(fit.residuals, np.float64).reshape(-1, 2)
    down = np.flatnonzero(weights < DOWNWEIGHTED)
    keep = np.setdiff1d(np.arange(len(res)), down)
    dist = np.linalg.norm(res, axis=1)
    inlier = float(np.sqrt(np.mean(dist[keep] ** 2))) if keep.size else float("nan")
    alpha = np.asarray(fit.alpha, np.float64)
    alpha_norm = float(np.linalg.norm(alpha) / np.sqrt(max(alpha.size, 1)))
    jaw, inner = down[down < 17], down[down >= 17]
    problems = []
    if jaw.size > MAX_JAW_DOWNWEIGHTED or inner.size > MAX_INNER_DOWNWEIGHTED:
        worst = float(dist[down].max())
        problems.append(f"{down.size} landmarks far from the fitted face (up to {worst:.0f} px: "
                        f"{_group_names(down)})")
    if alpha_norm > MAX_ALPHA_NORM:
        problems.append(f"implausible face shape (|alpha|/sqrt(K) = {alpha_norm:.2f})")
    warning = "landmarks look wrong: " + "; ".join(problems) if problems else ""
    return LandmarkQuality(
        ok=not problems, warning=warning, downweighted=tuple(int(n) for n in down),
        rmse_px=float(fit.rmse_px), inlier_rmse_px=inlier, alpha_norm=alpha_norm,
    )
