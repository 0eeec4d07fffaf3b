"""Wavefront OBJ (+ MTL + PNG texture) and binary glTF (.glb) mesh files, written with trimesh.

``write_obj(path, vertices, faces, colors, uv=..., texture=...)`` is the writer `Mesh.save`
calls for ``.obj``: with ``uv`` (V,2, OBJ convention v = 0 at the bottom) and ``texture``
(S,S,3 uint8 RGB) it writes ``<stem>.obj`` with ``mtllib <stem>.mtl``, ``<stem>.mtl`` whose
``map_Kd`` is ``<stem>.png``, and ``<stem>.png``, side by side (what Blender, MeshLab and
trimesh open); without a texture, per-vertex colours go on the ``v x y z r g b`` lines (the
common extension MeshLab and Blender read). Faces stay 0-based in memory and 1-based in the
file; vertex order is kept (no merging), so indices match the PLY outputs.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from extreme3d import Extreme3DError
from extreme3d.io.atomic import atomic_write_bytes, atomic_write_png, atomic_write_text


def _trimesh(
    vertices: np.ndarray, faces: np.ndarray | None, colors: np.ndarray | None,
    uv: np.ndarray | None, texture: np.ndarray | None, name: str, embed_image: bool = True,
):
    """A trimesh.Trimesh (unprocessed: vertex order kept) with texture or colour visuals; faces
    None: a point cloud without faces; embed_image False: the material carries no image (the
    caller writes it: trimesh would encode it again with PIL, ~10x slower than OpenCV)."""
    import trimesh

    v = np.asarray(vertices, np.float64)
    f = np.zeros((0, 3), np.int64) if faces is None else np.asarray(faces, np.int64).reshape(-1, 3)
    if texture is not None:
        from PIL import Image

        if uv is None:
            raise ValueError("a texture needs per-vertex uv coordinates")
        uvs = np.asarray(uv, np.float64)
        if uvs.shape != (len(v), 2):
            raise ValueError(f"uv must be (V, 2) = ({len(v)}, 2), got {uvs.shape}")
        img = np.asarray(texture)
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"texture must be an (H, W, 3) RGB image, got {img.shape}")
        material = trimesh.visual.material.SimpleMaterial(
            image=Image.fromarray(np.ascontiguousarray(img, np.uint8)) if embed_image else None,
            diffuse=[255, 255, 255, 255], ambient=[255, 255, 255, 255],
            specular=[0, 0, 0, 255], name=name,
        )
        visual = trimesh.visual.TextureVisuals(uv=uvs, material=material)
    elif colors is not None:
        c = np.asarray(colors, np.uint8)
        rgba = np.concatenate([c, np.full((len(c), 1), 255, np.uint8)], axis=1)
        visual = trimesh.visual.ColorVisuals(vertex_colors=rgba)
    else:
        visual = None
    return trimesh.Trimesh(v, f, visual=visual, process=False, validate=False)


def write_obj(
    path: str | os.PathLike[str],
    vertices: np.ndarray,
    faces: np.ndarray | None,
    colors: np.ndarray | None = None,
    *,
    uv: np.ndarray | None = None,
    texture: np.ndarray | None = None,
    digits: int = 6,
    **_ignored: object,
) -> Path:
    """Writes an OBJ (and, with a texture, its .mtl and .png beside it) atomically; returns the
    OBJ path. Options other PLY-style writers take (e.g. style=) are ignored."""
    from trimesh.exchange.obj import export_obj

    out = Path(path)
    stem = out.stem
    mesh = _trimesh(vertices, faces, colors, uv, texture, stem, embed_image=False)
    try:
        if texture is not None:
            text, files = export_obj(mesh, include_normals=False, include_color=False,
                                     include_texture=True, return_texture=True,
                                     mtl_name=f"{stem}.mtl", digits=digits)
            # the image line trimesh writes for an embedded image; the PNG itself via OpenCV
            files[f"{stem}.mtl"] += f"\nmap_Kd {stem}.png".encode()
        else:
            text = export_obj(mesh, include_normals=False, include_color=colors is not None,
                              include_texture=False, digits=digits)
            files = {}
    except Exception as exc:  # noqa: BLE001 - report the file, not trimesh's internals
        raise Extreme3DError(f"{out}: OBJ export failed: {exc}") from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        atomic_write_bytes(out.parent / name, data)
    if texture is not None:
        atomic_write_png(out.parent / f"{stem}.png", np.asarray(texture, np.uint8)[:, :, ::-1])
    atomic_write_text(out, text)
    return out


def write_glb(
    path: str | os.PathLike[str],
    vertices: np.ndarray,
    faces: np.ndarray | None,
    colors: np.ndarray | None = None,
    *,
    uv: np.ndarray | None = None,
    texture: np.ndarray | None = None,
    **_ignored: object,
) -> Path:
    """Writes a binary glTF 2.0 file (texture embedded, or vertex colours) atomically."""
    out = Path(path)
    mesh = _trimesh(vertices, faces, colors, uv, texture, out.stem)
    try:
        data = mesh.export(file_type="glb")
    except Exception as exc:  # noqa: BLE001
        raise Extreme3DError(f"{out}: glTF export failed: {exc}") from exc
    atomic_write_bytes(out, bytes(data) if not isinstance(data, bytes) else data)
    return out


def read_obj_texture(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                           np.ndarray | None]:
    """(vertices, faces, uv or empty, texture RGB or None) of an OBJ written here (trimesh)."""
    import trimesh

    mesh = trimesh.load(Path(path), process=False, force="mesh")
    uv = getattr(mesh.visual, "uv", None)
    tex = None
    mat = getattr(mesh.visual, "material", None)
    img = getattr(mat, "image", None) if mat is not None else None
    if img is None and mat is not None:
        img = getattr(mat, "baseColorTexture", None)
    if img is not None:
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        from PIL import Image

        tex = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return (np.asarray(mesh.vertices), np.asarray(mesh.faces),
            np.zeros((0, 2)) if uv is None else np.asarray(uv), tex)
