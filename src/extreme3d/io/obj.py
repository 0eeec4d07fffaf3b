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


def _checked_texture(num_vertices: int, uv: np.ndarray | None, texture: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(uv (V,2) float64, texture (H,W,3) uint8 RGB) checked, else ValueError."""
    if uv is None:
        raise ValueError("a texture needs per-vertex uv coordinates")
    uvs = np.asarray(uv, np.float64)
    if uvs.shape != (num_vertices, 2):
        raise ValueError(f"uv must be (V, 2) = ({num_vertices}, 2), got {uvs.shape}")
    img = np.asarray(texture)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"texture must be an (H, W, 3) RGB image, got {img.shape}")
    return uvs, np.ascontiguousarray(img, np.uint8)


def _trimesh(
    vertices: np.ndarray, faces: np.ndarray | None, colors: np.ndarray | None,
    uv: np.ndarray | None, texture: np.ndarray | None, name: str,
):
    """A trimesh.Trimesh (unprocessed: vertex order kept) with texture or colour visuals; faces
    None: a point cloud without faces."""
    import trimesh

    v = np.asarray(vertices, np.float64)
    f = np.zeros((0, 3), np.int64) if faces is None else np.asarray(faces, np.int64).reshape(-1, 3)
    if texture is not None:
        from PIL import Image

        uvs, img = _checked_texture(len(v), uv, texture)
        material = trimesh.visual.material.SimpleMaterial(
            image=Image.fromarray(img),
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


#: Decimals of the OBJ files written: positions in mm (3: 1 um, rounding error <= 0.5 um, far
#: below the 0.01 mm the clean mesh is checked to) and texture coordinates (4: 1/10 texel of a
#: 1024 texture).
OBJ_DIGITS = 3
OBJ_UV_DIGITS = 4

#: First line of the OBJ and MTL files (as trimesh writes them: the files stay byte-identical
#: to trimesh's export_obj, see `obj_text_reference`).
OBJ_HEADER = "# https://github.com/mikedh/trimesh"


def _rows_text(array: np.ndarray, prefix: str, digits: int, cell: str = "{}") -> str:
    """Rows of a 2D array as `prefix v v v` lines without the first prefix and the last newline
    (trimesh.util.array_to_string's text); float64 and integer arrays formatted in C++
    (`_core.format_obj_rows`, the same text), others from Python numbers."""
    a = np.asarray(array)
    if a.ndim == 2 and (a.dtype == np.float64 or a.dtype.kind in "iu") and len(a):
        from extreme3d import _core

        repeat = cell.count("{")
        return _core.format_obj_rows(a, prefix, digits, repeat).decode()
    if a.dtype.kind == "f":
        cell = cell.replace("{}", "{:." + str(digits) + "f}")
    row = " ".join([cell] * (a.shape[1] if a.ndim == 2 else 1)) + "\n" + prefix
    repeats = cell.count("{")
    values = np.repeat(a.reshape(-1), repeats).tolist()
    return (row * len(a)).format(*values)[: -len("\n" + prefix)]


def obj_text(
    vertices: np.ndarray, faces: np.ndarray | None, colors: np.ndarray | None = None,
    uv: np.ndarray | None = None, name: str | None = None, digits: int = 6,
    uv_digits: int | None = None,
) -> tuple[str, bytes | None]:
    """(OBJ text, MTL bytes or None) of a mesh: `v x y z [r g b]` (colours 0-1), with uv the
    `vt` lines, faces `f a/a b/b c/c` and material `name` whose map_Kd is `<name>.png`; floats
    with `digits` decimals (`uv_digits` for the vt lines, default the same)."""
    v = np.asarray(vertices, np.float64).reshape(-1, 3)
    f = np.zeros((0, 3), np.int64) if faces is None else np.asarray(faces, np.int64).reshape(-1, 3)
    if uv is None and colors is not None:
        c = np.asarray(colors, np.uint8)[:, :3].astype(np.float64) / 255.0
        v = np.column_stack((v, c))
    body = ["v " + _rows_text(v, "v ", digits)]
    if uv is not None:
        body.insert(0, f"usemtl {name}")
        body.append("vt " + _rows_text(np.asarray(uv, np.float64), "vt ",
                                       digits if uv_digits is None else uv_digits))
    body.append("f " + _rows_text(f + 1, "f ", digits, "{}/{}" if uv is not None else "{}"))
    lines = [OBJ_HEADER] + ([f"mtllib {name}.mtl"] if uv is not None else [])
    text = "\n".join([*lines, "\n".join(body), "\n"])
    if uv is None:
        return text, None
    mtl = (f"{OBJ_HEADER}\n\nnewmtl {name}\nKa 1.00000000 1.00000000 1.00000000\n"
           f"Kd 1.00000000 1.00000000 1.00000000\nKs 0.00000000 0.00000000 0.00000000\n"
           f"Ns 1.00000000\nmap_Kd {name}.png")
    return text, mtl.encode()


def obj_text_reference(
    vertices: np.ndarray, faces: np.ndarray | None, colors: np.ndarray | None = None,
    uv: np.ndarray | None = None, texture: np.ndarray | None = None, name: str = "mesh",
    digits: int = 6,
) -> tuple[str, dict[str, bytes]]:
    """(OBJ text, {file name: bytes} of the MTL and PNG) from trimesh's export_obj: the
    reference `obj_text` matches (tests)."""
    from trimesh.exchange.obj import export_obj

    mesh = _trimesh(vertices, faces, colors, uv, texture, name)
    if texture is not None:
        return export_obj(mesh, include_normals=False, include_color=False, include_texture=True,
                          return_texture=True, mtl_name=f"{name}.mtl", digits=digits)
    text = export_obj(mesh, include_normals=False, include_color=colors is not None,
                      include_texture=False, digits=digits)
    return text, {}


def write_obj(
    path: str | os.PathLike[str],
    vertices: np.ndarray,
    faces: np.ndarray | None,
    colors: np.ndarray | None = None,
    *,
    uv: np.ndarray | None = None,
    texture: np.ndarray | None = None,
    digits: int = OBJ_DIGITS,
    uv_digits: int = OBJ_UV_DIGITS,
    **_ignored: object,
) -> Path:
    """Writes an OBJ (and, with a texture, its .mtl and .png beside it) atomically; returns the
    OBJ path. Positions (mm) with `digits` decimals (default 3: 1 um), uv with `uv_digits`
    (default 4: 1/10 texel of a 1024 texture). Options of the PLY writer (style=, binary=) are
    ignored."""
    out = Path(path)
    stem = out.stem
    if texture is not None:
        uv, img = _checked_texture(len(np.asarray(vertices).reshape(-1, 3)), uv, texture)
    text, mtl = obj_text(vertices, faces, colors, uv if texture is not None else None, stem,
                         digits, uv_digits)
    out.parent.mkdir(parents=True, exist_ok=True)
    if mtl is not None:
        atomic_write_bytes(out.parent / f"{stem}.mtl", mtl)
        # the textures of a face are shared by its mesh files: encoded once
        atomic_write_png(out.parent / f"{stem}.png", img[:, :, ::-1], remember=True)
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
