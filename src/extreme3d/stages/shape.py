"""Stage 2, shape: identity coefficients of each face, from the shape CNN or the landmarks.

``cnn``: the user's shape CNN, batched over crops (99 identity and, when present, 99 texture
coefficients). ``landmarks``: no CNN; the identity is fitted to the 68 crop landmarks with the
model's prior (extreme3d.fitting.fit_identity), with a verdict on the landmarks
(extreme3d.landmark_quality).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from extreme3d import Extreme3DError
from extreme3d.stages.prepare import PreparedFace


@dataclass(frozen=True)
class Identity:
    """Identity coefficients of one face: `alpha` padded or cut to the model's basis, `raw` as
    the source gave them (what shape/<name>.ply.alpha holds), `beta` texture coefficients of the
    shape CNN or None, the seconds it took (per face) and, when fitted to the landmarks, the
    verdict on them (extreme3d.landmark_quality.LandmarkQuality) and the fit itself
    (extreme3d.fitting.IdentityResult: its pose and expression are the face's, see
    stages.face.fit_face); both None from the CNN."""

    alpha: np.ndarray
    raw: np.ndarray
    beta: np.ndarray | None
    source: str
    seconds: float = 0.0
    quality: Any = None
    fit: Any = None


def model_alpha(model: object, raw: np.ndarray) -> np.ndarray:
    """`raw` coefficients padded with zeros (or cut) to the model's identity basis size."""
    k = int(model.num_shape)  # type: ignore[attr-defined]
    alpha = np.zeros(k, np.float64)
    n = min(k, len(raw))
    alpha[:n] = np.asarray(raw[:n], np.float64)
    return alpha


def identity_from_cnn_row(model: object, row: np.ndarray, seconds: float = 0.0) -> Identity:
    """The Identity of one shape-CNN output row (99 identity [+ 99 texture] coefficients)."""
    from extreme3d.models.coeffs import NUM_COEFFS

    raw = np.asarray(row[:NUM_COEFFS], np.float64)
    beta = (np.asarray(row[NUM_COEFFS : 2 * NUM_COEFFS], np.float64)
            if len(row) >= 2 * NUM_COEFFS else None)
    return Identity(model_alpha(model, raw), raw, beta, "cnn", seconds)


def identity_from_landmarks(model: object, landmarks: np.ndarray) -> Identity:
    """The Identity fitted to 68 crop landmarks (no CNN), with the verdict on the landmarks."""
    from extreme3d.fitting import fit_identity
    from extreme3d.landmark_quality import landmark_quality

    t0 = time.perf_counter()
    res = fit_identity(model, landmarks)
    raw = np.asarray(res.alpha, np.float64).reshape(-1)
    return Identity(model_alpha(model, raw), raw, None, "landmarks", time.perf_counter() - t0,
                    landmark_quality(res), res)


def identities(
    model: object, shape_net: object | None, faces: Sequence[PreparedFace], batch_size: int = 1
) -> list[Identity | Exception]:
    """The Identity of each face, or the exception that stopped it (a CNN failure, e.g. out of
    memory, fails every face of the call). `shape_net` None: fitted to the landmarks."""
    if shape_net is None:
        out: list[Identity | Exception] = []
        for face in faces:
            try:
                out.append(identity_from_landmarks(model, face.landmarks))
            except Exception as exc:  # noqa: BLE001 - one face's failure stays its own
                out.append(exc)
        return out
    try:
        rows, per = cnn_rows(shape_net, [f.crop for f in faces], batch_size)
    except Exception as exc:  # noqa: BLE001
        return [exc for _ in faces]
    return [identity_or_error(model, face, row, per)
            for face, row in zip(faces, rows, strict=True)]


def cnn_rows(shape_net: Any, crops: Sequence[np.ndarray], batch_size: int = 1
             ) -> tuple[np.ndarray, float]:
    """The shape CNN's output rows for BGR crops, batched, and the seconds per face; raises
    when the network fails."""
    t0 = time.perf_counter()
    rows = shape_net.predict(crops, batch_size)
    return rows, (time.perf_counter() - t0) / max(1, len(crops))


def identity_or_error(model: object, face: PreparedFace, row: np.ndarray, seconds: float
                      ) -> Identity | Exception:
    """The Identity of a face's shape-CNN row, or the error naming the face when the row is not
    all finite."""
    if _finite_row(row):
        return identity_from_cnn_row(model, row, seconds)
    return Extreme3DError(f"{face.image_path or face.name}: the shape CNN returned NaN or "
                          "infinite coefficients")


def _finite_row(row: object) -> bool:
    """Whether a CNN output row is all finite."""
    import numpy as np

    return bool(np.all(np.isfinite(np.asarray(row, dtype=np.float64))))
