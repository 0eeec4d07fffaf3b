"""The output stage: every file of the batch tree, and nothing else in the pipeline writes.

``<out>/imgs/<name>.png|.pts|_detect.png`` (prepare), ``shape/<name>.ply(.alpha)`` (identity),
``bump/<name>_bump.png|_mask.png``, ``3D/<name>_<mesh>.<fmt>``, ``params/<name>.json``,
``overlay/<name>.png``, ``preview/<name>.png`` and ``imList.txt``. Every file is written under a
temporary name and renamed into place (extreme3d.io.atomic).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from extreme3d import Extreme3DError
from extreme3d.geometry import MESH_NAMES
from extreme3d.io.atomic import atomic_write_bytes, atomic_write_png, atomic_write_text
from extreme3d.mesh import Mesh
from extreme3d.output_guard import check_inside, check_output_name
from extreme3d.stages.bump import BUMP_MARGIN, BumpMaps
from extreme3d.stages.prepare import PreparedFace
from extreme3d.stages.shape import Identity

#: Mesh file formats of the 3D/ outputs (--formats).
MESH_FORMATS = ("ply", "obj", "glb")
#: The original's default set of meshes written to 3D/.
DEFAULT_OUTPUTS = ("foundation_frontal", "foundation_aligned", "withBump_aligned", "final_frontal")
IMAGE_LIST = "imList.txt"


def _grouped_by_model(names: Sequence[str]) -> tuple[str, ...]:
    """Mesh keys grouped by model in their first-seen order, frontal before aligned."""
    models = list(dict.fromkeys(k.rsplit("_", 1)[0] for k in names))
    return tuple(sorted(names, key=lambda k: (models.index(k.rsplit("_", 1)[0]),
                                              k.endswith("_aligned"))))


#: Every mesh the core stage can write, `3D/<name>_<key>.ply` (geometry.MESH_NAMES in the
#: order of docs/batch.md and --help).
ALL_OUTPUTS = _grouped_by_model(MESH_NAMES)

#: What follows a face's name in its file names (before the extension): two faces whose names
#: differ by these collide (x's imgs/x_detect.png is the crop of a face named x_detect).
NAME_SUFFIXES = ("_detect", "_bump", "_mask", *(f"_{k}" for k in ALL_OUTPUTS))


def write_prepared(out_dir: Path, face: PreparedFace, photo: np.ndarray | None = None
                   ) -> list[str]:
    """imgs/<name>_detect.png (the photo with its landmarks; needs `photo` or face.photo),
    imgs/<name>.pts (crop landmarks) and imgs/<name>.png (the crop); relative paths written."""
    from extreme3d.io.pts import write_pts
    from extreme3d.overlay import draw_detection

    check_output_name(face.name)
    imgs = Path(out_dir) / "imgs"
    imgs.mkdir(parents=True, exist_ok=True)
    image = photo if photo is not None else face.photo
    written = []
    if image is not None:
        atomic_write_png(imgs / f"{face.name}_detect.png",
                         draw_detection(image, face.original_landmarks))
        written.append(f"imgs/{face.name}_detect.png")
    write_pts(imgs / f"{face.name}.pts", face.landmarks)
    atomic_write_png(imgs / f"{face.name}.png", face.crop)
    return [f"imgs/{face.name}.png", f"imgs/{face.name}.pts"] + written


def write_image_list(out_dir: Path, crops: Sequence[str]) -> Path:
    """imList.txt: the prepared crops, one path a line."""
    path = Path(out_dir) / IMAGE_LIST
    # undecodable (non-UTF-8) names are written back as their original bytes
    atomic_write_bytes(path, "".join(f"{p}\n" for p in crops).encode("utf-8", "surrogateescape"))
    return path


def write_identity(out_dir: Path, name: str, model: Any, identity: Identity) -> list[str]:
    """shape/<name>.ply.alpha (the source's coefficients, 99 lines) and shape/<name>.ply (the
    coloured foundation without expression, the original's python PLY layout)."""
    from extreme3d.models.coeffs import format_alpha, foundation_from_coeffs

    check_output_name(name)
    shape = Path(out_dir) / "shape"
    shape.mkdir(parents=True, exist_ok=True)
    verts, colors = foundation_from_coeffs(model, identity.raw, identity.beta)
    atomic_write_text(shape / f"{name}.ply.alpha", format_alpha(identity.raw))
    Mesh(verts, model.faces, colors).save(shape / f"{name}.ply", style="python")
    return [f"shape/{name}.ply.alpha", f"shape/{name}.ply"]


def write_bump(out_dir: Path, name: str, maps: BumpMaps) -> list[str]:
    """bump/<name>_bump.png and bump/<name>_mask.png, and bump/<name>_occluders.png when the
    occlusion step ran."""
    check_output_name(name)
    bump = Path(out_dir) / "bump"
    bump.mkdir(parents=True, exist_ok=True)
    atomic_write_png(bump / f"{name}_bump.png", maps.bump)
    atomic_write_png(bump / f"{name}_mask.png", maps.mask)
    written = [f"bump/{name}_bump.png", f"bump/{name}_mask.png"]
    if maps.occluders is not None:
        atomic_write_png(bump / f"{name}_occluders.png", maps.occluders)
        written.append(f"bump/{name}_occluders.png")
    return written


def write_preview(out_dir: Path, name: str, result: Any) -> str:
    """preview/<name>.png: crop, frontal and posed renders of the final mesh as `result.final`
    gives it (the clean mesh unless the layout is 'original'; vertex colours, no texture), else
    the with-bump mesh. A clean mesh that cannot be built leaves the original layout in the
    picture (the preview never fails an image the other outputs did not)."""
    from extreme3d.preview import write_preview as render_preview

    mesh = None
    if result.has_clean_final and result.mesh_mode != "original":
        try:  # the clean build is cached on the result (the OBJ/GLB files reuse it)
            mesh = result.clean_final(textured=False)
        except Exception:  # noqa: BLE001 - a picture: the original layout instead
            mesh = None
    if mesh is None:
        mesh = result.meshes.get("final_frontal") or result.meshes.get("withBump_frontal")
    path = Path(out_dir) / "preview" / f"{check_output_name(name)}.png"
    crop = result.crop
    occ = getattr(result, "occluders", None)
    if occ is not None:  # the occluders tinted magenta over the crop
        m = np.asarray(occ)[BUMP_MARGIN : BUMP_MARGIN + crop.shape[0],
                            BUMP_MARGIN : BUMP_MARGIN + crop.shape[1]] > 127
        crop = crop.copy()
        crop[m] = (0.5 * crop[m] + np.array([127, 0, 127])).astype(np.uint8)
    render_preview(path, crop, mesh, result.pose.rvec, result.pose.tvec)
    return f"preview/{name}.png"


def save_face(
    result: Any,
    out_dir: str | os.PathLike[str],
    name: str | None = None,
    *,
    formats: tuple[str, ...] = ("ply",),
    outputs: tuple[str, ...] | None = None,
    image: np.ndarray | None = None,
    overlay: bool = True,
    params: bool = True,
    maps: bool = True,
    ply_binary: bool = False,
    decimate: float | str | None = None,
) -> list[str]:
    """Writes a FaceResult's files into out_dir: with maps, imgs/, shape/ and bump/; the meshes
    `outputs` (default: the original's default set among those computed) in every format of
    `formats` to 3D/ (OBJ/GLB textured); overlay/<name>.png (photo: `image`, the result's, or
    read from its image_path) and params/<name>.json. The final mesh files hold the clean mesh
    where result.uses_clean says so: by default (decimate None) the OBJ/GLB files the
    error-bounded simplification of the clean mesh and the PLY files the full one; decimate
    "auto" the simplification, "off" (or 1) the full mesh, a ratio that fraction of the faces,
    in every clean file. PLY files are binary with ply_binary. Returns the relative paths
    written."""
    from extreme3d.decimate import file_decimation
    from extreme3d.params import write_params

    bad = [f for f in formats if f not in MESH_FORMATS]
    if bad:
        raise Extreme3DError(f"unknown mesh format {bad[0]!r} (use {', '.join(MESH_FORMATS)})")
    out = Path(out_dir)
    name = check_output_name(name or result.name)
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("imgs", "shape", "bump", "3D", "overlay", "params"):
        if (out / sub).exists():
            check_inside(out, out / sub)  # a subfolder symlinked elsewhere is refused
    keys = tuple(k for k in (outputs or DEFAULT_OUTPUTS) if k in result.meshes)
    written: list[str] = []
    t0 = time.perf_counter()

    def rel(p: Path) -> str:
        written.append(str(p.relative_to(out)))
        return written[-1]

    if maps:
        face = PreparedFace(name, result.crop, result.landmarks_crop, result.box,
                            result.landmarks, result.image_size,
                            result.sources.get("landmarks", "given"), 1)
        written += write_prepared(out, face, _photo(result, image))
        raw = result.alpha if result.raw_alpha is None else result.raw_alpha
        identity = Identity(result.alpha, raw, result.beta, result.sources.get("shape", ""))
        written += write_identity(out, name, result.model, identity)
        written += write_bump(out, name, BumpMaps(result.bump, result.mask,
                                                  result.sources.get("bump", ""),
                                                  occluders=getattr(result, "occluders", None)))
    (out / "3D").mkdir(parents=True, exist_ok=True)
    for key in keys:
        for fmt in formats:
            path = out / "3D" / f"{name}_{key}.{fmt}"
            if result.uses_clean(key, fmt):
                mesh = result.clean_final(textured=fmt != "ply",
                                          decimate=file_decimation(decimate, fmt))
            else:
                mesh = result.textured(key) if fmt != "ply" else result.meshes[key]
            mesh.save(path, **({"binary": True} if fmt == "ply" and ply_binary else {}))
            rel(path)
            if fmt == "obj" and mesh.texture is not None:
                rel(path.with_suffix(".mtl"))
                rel(path.with_suffix(".png"))
    if overlay:
        img = _photo(result, image)
        if img is not None:
            from extreme3d.overlay import write_overlay

            rel(write_overlay(out / "overlay" / f"{name}.png", result.overlay(img)))
    result.timings["write"] = result.timings.get("write", 0.0) + time.perf_counter() - t0
    if params:
        path = out / "params" / f"{name}.json"
        write_params(path, result, outputs=written + [f"params/{name}.json"])
        rel(path)
    return written


def _photo(result: Any, image: np.ndarray | None) -> np.ndarray | None:
    """The photo of a result: `image`, else the result's, else read from its image_path."""
    if image is not None:
        return image
    if result.photo is not None:
        return result.photo
    if result.image_path is not None:
        from extreme3d.stages.prepare import read_photo

        return read_photo(result.image_path)
    return None
