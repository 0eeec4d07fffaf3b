"""Stage 4, bump: the 512x512 bump map and face mask of each face.

``cnn``: the bump U-Net on the RGB crops, batched (before the fit). ``photo``: estimated from
the photo after the fit (extreme3d.bump_photo); when the estimator fails or declines, ``flat``
with a note. ``flat``: no detail (all 127) with the mask of the rendered foundation.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

#: Side of the bump maps and the margin between them and the 500x500 crop (PIPELINE.md s. 5).
BUMP_SIZE = 512
BUMP_MARGIN = 6
#: Bump value meaning "no displacement" (the 'flat' source; workers need no torch for it).
FLAT_BUMP = 127
#: Occluder pixels without a clean mirrored partner (both eyes behind sunglasses) keep the
#: de-occluded map's detail in the geometry: the mask that soft symmetry reads has them visible,
#: eroded by this many px (the occluder's edge, where the fill meets the photo's map, still
#: takes the completed surface; see `geometry_mask`).
UNPAIRED_ERODE_PX = 10
# the occlusion step is not applied when its occluders cover more than this share of the face
# mask: no real face is that hidden (0.24 at most on the test photos), and with nearly all of
# the face an occluder the geometry has nothing left to complete it from
MAX_OCCLUDED = 0.6


@dataclass(frozen=True)
class BumpMaps:
    """Bump map and mask (512x512 uint8, the original's encoding), the source that made them
    ('cnn', 'photo' or 'flat'), why a fallback was taken (or None), and the seconds per face.
    After the occlusion step (`deoccluded`): the bump de-occluded, the mask 0 on occluders,
    ``occluders`` the 512x512 uint8 occluder mask (255) and ``occlusion`` what was found."""

    bump: np.ndarray
    mask: np.ndarray
    source: str
    note: str | None = None
    seconds: float = 0.0
    occluders: np.ndarray | None = None
    occlusion: dict[str, Any] | None = None
    geometry_mask: np.ndarray | None = None  # the mask soft symmetry reads (None: `mask`)


def _field(obj: Any, name: str) -> Any:
    """Attribute or dict item `name` of a fit result."""
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


def foundation_mask(model: Any, alpha: np.ndarray, fit: Any) -> np.ndarray:
    """512x512 mask (255 where the posed foundation covers the crop, shifted by the margin)."""
    from extreme3d.render import render

    verts = model.shape(alpha=alpha, expr=_field(fit, "expr"))
    _, depth = render(verts, model.faces_fill, _field(fit, "rvec"), _field(fit, "tvec"))
    mask = np.zeros((BUMP_SIZE, BUMP_SIZE), np.uint8)
    h, w = depth.shape
    mask[BUMP_MARGIN : BUMP_MARGIN + h, BUMP_MARGIN : BUMP_MARGIN + w][depth < 1.0] = 255
    return mask


def flat_bump(model: Any, alpha: np.ndarray, fit: Any, note: str | None = None) -> BumpMaps:
    """The 'flat' maps: all 127, mask of the rendered foundation."""
    bump = np.full((BUMP_SIZE, BUMP_SIZE), FLAT_BUMP, np.uint8)
    return BumpMaps(bump, foundation_mask(model, alpha, fit), "flat", note)


def photo_bump_info(
    crop: np.ndarray, landmarks: np.ndarray, model: Any, fit: Any
) -> tuple[np.ndarray | None, np.ndarray | None, str, str | None]:
    """(bump, mask, source, message) from extreme3d.bump_photo: source is 'photo', or 'flat'
    when the estimator fell back to a flat map (message says why)."""
    from extreme3d import bump_photo

    out = bump_photo.estimate_bump(crop, landmarks, fit=fit, model=model)
    bump, mask = out[0], out[1]
    info = out[2] if len(out) > 2 else None
    source = getattr(info, "source", "photo") or "photo"
    message = getattr(info, "message", None) or None
    if bump is None:
        return None, None, source, message
    return np.asarray(bump, np.uint8), np.asarray(mask, np.uint8), source, message


def fitted_bump(
    source: str, model: Any, crop: np.ndarray, landmarks: np.ndarray, alpha: np.ndarray, fit: Any
) -> BumpMaps:
    """The maps of the sources made after the fit ('photo', 'flat'); a failing photo estimator
    gives the flat maps with a note."""
    t0 = time.perf_counter()
    maps, note, used = None, None, source
    if source == "photo":
        try:
            bump, mask, used, note = photo_bump_info(crop, landmarks, model, fit)
            if bump is not None:
                maps = BumpMaps(bump, mask, used, note)
        except Exception as exc:  # noqa: BLE001 - the estimator failing: go flat
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
            note = f"photo bump estimator failed ({reason}): flat used"
    if maps is None:
        maps = flat_bump(model, alpha, fit, note)
    return BumpMaps(maps.bump, maps.mask, maps.source, maps.note, time.perf_counter() - t0)


def deoccluded(maps: BumpMaps, crop: np.ndarray, landmarks: np.ndarray,
               enabled: bool = True) -> BumpMaps:
    """The occlusion step (extreme3d.occlusion) on a face's maps: occluders found in the crop,
    the bump de-occluded, and the mask set to 0 on the occluders (the mask that soft symmetry,
    colours and textures read, so they treat occluders as occluded). `occlusion` records
    whether it ran, the occluded fraction of the face mask, the share filled from the mirror
    side, the glasses rims, arms of dark lenses, hands (or why the hand step did not run) and
    hair over the face found, and the seconds; a flat map keeps its values (only rims and
    hands found over it are masked, `_masks_only`), and a failure, or occluders over
    MAX_OCCLUDED of the face, keeps the maps with a note."""
    if not enabled:
        return replace(maps, occlusion={"enabled": False})
    info: dict[str, Any] = {"enabled": True, "occluded_fraction": 0.0, "mirrored_fraction": 0.0,
                            "detail_fraction": 0.0, "source": maps.source}
    maps = replace(maps, geometry_mask=None)  # a mask of an earlier step does not carry over
    if maps.source not in ("cnn", "photo"):
        return _masks_only(maps, crop, landmarks, info | {"note": "flat map: nothing to "
                                                                  "de-occlude"})
    from extreme3d.occlusion import deocclude

    try:
        res = deocclude(crop, landmarks, maps.bump, maps.mask)
    except Exception as exc:  # noqa: BLE001 - the maps as they were, with the reason
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return replace(maps, occlusion=info | {"note": f"occlusion step failed ({reason})"})
    info |= {"occluded_fraction": round(res.occluded_fraction, 4),
             "mirrored_fraction": round(res.mirrored_fraction, 4)}  # its time: in the bump's
    info |= res.extras  # the rims', arms', frames', hands' and hair's records
    if res.message:
        info["note"] = res.message
    if res.occluded_fraction > MAX_OCCLUDED:
        return replace(maps, seconds=maps.seconds + res.seconds,
                       occlusion=info | _not_applied(res.occluded_fraction))
    visible = np.where(res.occluders, 0, res.mask).astype(np.uint8)
    nose_tip = float(np.asarray(landmarks, np.float64)[33, 1]) + BUMP_MARGIN  # 512-map row
    geo_mask, kept = geometry_mask(res.mask, res.occluders, res.unpaired, above=nose_tip)
    info["detail_fraction"] = round(kept, 4)
    return replace(maps, bump=res.bump, mask=visible, seconds=maps.seconds + res.seconds,
                   occluders=res.occluders_png, occlusion=info, geometry_mask=geo_mask)


def geometry_mask(mask: np.ndarray, occluders: np.ndarray, unpaired: np.ndarray | None,
                  erode: int = UNPAIRED_ERODE_PX, above: float | None = None
                  ) -> tuple[np.ndarray, float]:
    """(the 512x512 uint8 mask soft symmetry reads, the share of the occluder pixels it keeps
    visible): the face mask `mask` with the occluders set to 0, except the `unpaired` ones
    (no clean mirrored partner: soft symmetry would take the coarse completed surface there)
    eroded by `erode` px and above map row `above` (None: everywhere; the pipeline gives the
    nose tip's row), where the de-occluded map's detail is kept (the paper's own results kept
    the whole de-occluded map: its masks are the Bump CNN's). Below the nose the fill
    template's mouth and chin do not fit an open mouth (an object held in it left spikes at
    the lips), so occluders there keep the completed surface."""
    occ = np.asarray(occluders, bool)
    keep = np.zeros_like(occ)
    if unpaired is not None and erode >= 0 and np.any(unpaired):
        import cv2

        keep = np.asarray(unpaired, bool) & occ
        if above is not None:
            keep[max(int(np.floor(above)), 0) :] = False
        if erode > 0:
            keep = cv2.erode(keep.astype(np.uint8), np.ones((2 * erode + 1,) * 2, np.uint8),
                             borderValue=0).astype(bool)
    n_occ = int(occ.sum())
    out = np.where(occ & ~keep, 0, mask).astype(np.uint8)
    return out, (float(keep.sum()) / n_occ if n_occ else 0.0)


def _not_applied(fraction: float) -> dict[str, Any]:
    """The occlusion record's fields when occluders over MAX_OCCLUDED of the face are not
    applied: nothing was filled, and a note says why."""
    return {"mirrored_fraction": 0.0,
            "note": f"occluders over {100 * fraction:.0f}% of the face (more than "
                    f"{100 * MAX_OCCLUDED:.0f}%): not applied, the maps are kept as they were"}


def _masks_only(maps: BumpMaps, crop: np.ndarray, landmarks: np.ndarray,
                info: dict[str, Any]) -> BumpMaps:
    """A flat map's occlusion step: no cue to segment and no detail to restore, but glasses
    rims (extreme3d.occlusion.glasses) and hands over the face (extreme3d.occlusion.hands) still
    become occluders in the mask (so soft symmetry, colours and textures do not take them); the
    map itself is unchanged."""
    from extreme3d import bump_photo as bp
    from extreme3d.occlusion import glasses as gl
    from extreme3d.occlusion import hands as hd
    from extreme3d.occlusion import segment as sg

    lm = np.asarray(landmarks, np.float64)
    if lm.shape != (68, 2) or not np.isfinite(lm).all():
        return replace(maps, occlusion=info)
    face = sg.crop_of(maps.mask) >= 127
    try:
        rims = gl.find_rims(bp._to_bgr(crop), lm, face)
        found = hd.find_hands(crop, lm, face)
    except Exception as exc:  # noqa: BLE001 - the maps as they were, with the reason
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return replace(maps, occlusion=info | {"note": f"rim and hand step failed ({reason})"})
    info = info | {"rims": rims.record(face), "hands": found.record(face)}
    core = rims.mask | found.mask
    if not core.any():
        return replace(maps, occlusion=info)
    occ = sg.grown(core, face)
    occ512 = np.zeros((bp.MAP_SIZE, bp.MAP_SIZE), np.uint8)
    sg.crop_of(occ512)[occ] = 255
    info["occluded_fraction"] = sg.face_share(occ, face)
    if info["occluded_fraction"] > MAX_OCCLUDED:
        return replace(maps, occlusion=info | _not_applied(info["occluded_fraction"]))
    visible = np.where(occ512 > 0, 0, maps.mask).astype(np.uint8)
    return replace(maps, mask=visible, occluders=occ512, occlusion=info)


def cnn_bumps(net: Any, crops: Sequence[np.ndarray], batch_size: int = 1) -> list[BumpMaps]:
    """The bump U-Net's maps of BGR crops (run on RGB, batched); raises when the network fails
    (e.g. out of memory: every face of the call fails)."""
    t0 = time.perf_counter()
    maps = net.predict([c[:, :, ::-1] for c in crops], batch_size)
    per = (time.perf_counter() - t0) / max(1, len(crops))
    return [BumpMaps(np.asarray(b, np.uint8), np.asarray(m, np.uint8), "cnn", None, per)
            for b, m in maps]
