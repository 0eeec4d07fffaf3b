"""Stages 3-5 for one face: pose and expression fit, bump maps, geometry, and the FaceResult.

``reconstruct_face`` composes them (the API's per-face path); the batch's worker calls the same
functions one by one so that it can write the bump maps before the geometry runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from extreme3d import Extreme3DError
from extreme3d.geometry import MESH_NAMES
from extreme3d.stages.bump import BumpMaps, deoccluded, fitted_bump
from extreme3d.stages.prepare import PreparedFace
from extreme3d.stages.result import TWINS, FaceResult, assemble_result
from extreme3d.stages.shape import Identity

#: Meshes that need soft symmetry (not produced with symmetry off).
SYMMETRY_OUTPUTS = ("sparse_full_frontal", "final_frontal")


#: Final mesh layouts (--mesh): None = clean for OBJ/GLB and FaceResult.final, the original's
#: layout in PLY files; "clean" everywhere; "original" everywhere.
MESH_MODES = ("clean", "original")


@dataclass(frozen=True)
class FaceOptions:
    """Per-face settings: fit mode ('faithful': the original's optimiser and its second EPnP
    pose; 'best': Levenberg-Marquardt), soft symmetry, colour mode, texture side (px); the final
    mesh layout (`mesh`: None, 'clean' or 'original', see MESH_MODES), the registration gap
    (`max_gap` mm, None = geometry.default_max_gap), binary PLY files (`ply_binary`) and the
    simplification of the clean final mesh files (`decimate`: None = error-bounded for OBJ/GLB,
    full PLY; "auto", "off" or a fraction of faces kept, see extreme3d.decimate), the
    occlusion step (occluders found and de-occluded; False: the original's behaviour)."""

    fit_mode: str = "faithful"
    symmetry: bool = True
    colors: str = "photo"
    texture_size: int = 1024
    mesh: str | None = None
    max_gap: float | None = None
    ply_binary: bool = False
    decimate: float | str | None = None
    occlusion: bool = True

    def __post_init__(self) -> None:
        """Checks the mesh mode, the gap and the decimation ratio (Extreme3DError)."""
        check_mesh_options(self.mesh, self.max_gap, self.decimate)


def check_mesh_options(mesh: str | None, max_gap: float | None, decimate: float | str | None
                       ) -> None:
    """Extreme3DError for an unknown mesh mode, a gap <= 0 or a decimate setting other than
    None, "auto", "off" or a ratio in (0, 1]."""
    import math

    from extreme3d.decimate import decimate_setting

    if mesh is not None and mesh not in MESH_MODES:
        raise Extreme3DError(f"mesh must be one of {', '.join(MESH_MODES)}, got {mesh!r}")
    if max_gap is not None and not (math.isfinite(max_gap) and max_gap > 0):
        raise Extreme3DError(f"max_gap must be a positive number of mm, got {max_gap}")
    decimate_setting(decimate)


def meshes_to_compute(
    wanted: tuple[str, ...] | None, symmetry: bool, *, twins: bool = False, preview: bool = False
) -> tuple[str, ...]:
    """Geometry meshes to compute, in the original's order: `wanted` (default: all) without the
    symmetry ones when symmetry is off, plus the frontal twins of aligned meshes (their colours)
    and the preview's mesh when asked."""
    keys = {k for k in (wanted or MESH_NAMES) if symmetry or k not in SYMMETRY_OUTPUTS}
    if twins:
        keys |= {TWINS[k] for k in list(keys) if k in TWINS}
    if preview:
        keys.add("final_frontal" if symmetry else "withBump_frontal")
    return tuple(k for k in MESH_NAMES if k in keys)


def fit_face(model: Any, face: PreparedFace, identity: Identity, mode: str = "faithful") -> Any:
    """Pose and expression of the face (extreme3d.fitting.FitResult): with an identity fitted to
    the landmarks, that fit's own (robust, jaw on the silhouette; mode 'identity', whatever
    `mode`: the original's fit re-selects fixed contour vertices and doubles the rotation error,
    docs/fitting.md); otherwise fit_pose_expression in `mode` with the identity."""
    from extreme3d.fitting import fit_pose_expression, pose_from_identity

    if identity.fit is not None:
        return pose_from_identity(model, face.landmarks, identity.fit)
    return fit_pose_expression(model, face.landmarks, identity.alpha, mode=mode)


def face_bump(
    source: str, model: Any, face: PreparedFace, identity: Identity, fit: Any
) -> BumpMaps:
    """The bump maps of the sources made after the fit ('photo', 'flat')."""
    return fitted_bump(source, model, face.crop, face.landmarks, identity.alpha, fit)


def face_occlusion(maps: BumpMaps, face: PreparedFace, enabled: bool) -> BumpMaps:
    """The occlusion step on a face's maps (extreme3d.stages.bump.deoccluded)."""
    return deoccluded(maps, face.crop, face.landmarks, enabled)


def face_geometry(
    model: Any, identity: Identity, fit: Any, maps: BumpMaps, symmetry: bool,
    meshes: tuple[str, ...], max_gap: float | None = None,
) -> Any:
    """Foundation, dense and final meshes (extreme3d.geometry.GeometryResult) of `meshes`
    (max_gap: registration gap in mm, None = the model's default); Extreme3DError when a
    requested mesh was not produced."""
    from extreme3d.geometry import run_geometry

    mask = maps.mask if maps.geometry_mask is None else maps.geometry_mask
    geo = run_geometry(model, identity.alpha, fit.expr, fit.rvec, fit.tvec, maps.bump, mask,
                       symmetry=symmetry, outputs=meshes, max_gap=max_gap)
    for key in meshes:
        if key not in geo.meshes:
            raise Extreme3DError(f"the geometry stage produced no {key} mesh")
    return geo


def face_result(
    model: Any, face: PreparedFace, identity: Identity, fit: Any, maps: BumpMaps, geo: Any,
    options: FaceOptions, *, timings: dict[str, float] | None = None,
) -> FaceResult:
    """The FaceResult: coloured meshes, pose, 3D landmarks, sources and timings."""
    sources = {"landmarks": face.landmark_source, "shape": identity.source, "bump": maps.source}
    res = assemble_result(
        model, name=face.name, index=face.face_index, photo=face.photo,
        image_path=face.image_path, box=face.box, crop=face.crop,
        landmarks=face.original_landmarks, landmarks_crop=face.landmarks, alpha=identity.alpha,
        beta=identity.beta, fit=fit, bump=maps.bump, mask=maps.mask, meshes=geo.meshes,
        sources=sources, colors=options.colors, symmetry=options.symmetry,
        texture_size=options.texture_size, timings=timings, image_size=face.image_size,
        raw_alpha=identity.raw, mesh_mode=options.mesh,
        registration=getattr(geo, "registration", None),
        landmark_quality=None if identity.quality is None else identity.quality.to_dict(),
        background=maps.occluders is not None,  # the occlusion step ran: rim background too
    )
    res.occluders = maps.occluders
    res.geometry_mask = maps.geometry_mask
    res.occlusion = dict(maps.occlusion or {"enabled": False})
    if res.color_left_out:  # what the colours and textures do not sample, by reason
        res.occlusion["colors_left_out"] = dict(res.color_left_out)
    return res


def reconstruct_face(
    model: Any, face: PreparedFace, identity: Identity, options: FaceOptions, *,
    bump_source: str = "flat", maps: BumpMaps | None = None, meshes: tuple[str, ...] | None = None,
) -> FaceResult:
    """Fit, bump (when `maps` is None: made by `bump_source` after the fit), geometry and result
    of one prepared face; `meshes`: geometry meshes to compute (default: all)."""
    timings = {"shape": identity.seconds}
    t = time.perf_counter()
    fit = fit_face(model, face, identity, options.fit_mode)
    timings["fit"] = _lap(t)
    if maps is None:
        maps = face_bump(bump_source, model, face, identity, fit)
    maps = face_occlusion(maps, face, options.occlusion)
    timings["bump"] = maps.seconds
    t = time.perf_counter()
    geo = face_geometry(model, identity, fit, maps, options.symmetry,
                        meshes_to_compute(meshes, options.symmetry), options.max_gap)
    timings["geometry"] = _lap(t)
    return face_result(model, face, identity, fit, maps, geo, options, timings=timings)


def _lap(t0: float) -> float:
    """Seconds since t0."""
    return time.perf_counter() - t0
