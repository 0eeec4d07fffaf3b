"""The Python mesh type shared by every stage: vertices, 0-based triangles, optional colours."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from extreme3d import Extreme3DError

#: Writers by file extension: "module:function" called as function(path, vertices, faces,
#: colors, **options). To add a format (e.g. .obj) implement that function and add it here.
MESH_WRITERS: dict[str, str] = {
    ".ply": "extreme3d.io.ply:write_ply",
    ".obj": "extreme3d.io.obj:write_obj",
    ".glb": "extreme3d.io.obj:write_glb",
}


@dataclass(eq=False)
class Mesh:
    """Triangle mesh: vertices (V,3) float32, faces (F,3) int32 0-based, colors (V,3) uint8|None."""

    vertices: np.ndarray
    faces: np.ndarray
    colors: np.ndarray | None = None

    def __post_init__(self) -> None:
        """Converts the arrays to the contract dtypes and checks their shapes."""
        v = np.ascontiguousarray(self.vertices, dtype=np.float32)
        if v.ndim != 2 or v.shape[1] != 3:
            raise ValueError(f"Mesh vertices must be (V, 3), got {v.shape}")
        f = np.asarray(self.faces if self.faces is not None else np.zeros((0, 3)))
        f = np.ascontiguousarray(f.reshape(-1, 3), dtype=np.int32)
        if f.size and (f.min() < 0 or f.max() >= len(v)):
            raise ValueError(f"Mesh face index out of range 0..{len(v) - 1}")
        c = None
        if self.colors is not None:
            c = np.asarray(self.colors)
            if c.shape != v.shape:
                raise ValueError(f"Mesh colors must be (V, 3) like vertices, got {c.shape}")
            if np.issubdtype(c.dtype, np.floating):
                c = np.trunc(np.clip(c, 0.0, 255.0))  # truncation, as the original
            c = np.ascontiguousarray(np.clip(c, 0, 255), dtype=np.uint8)
        self.vertices, self.faces, self.colors = v, f, c

    @property
    def num_vertices(self) -> int:
        """Number of vertices V."""
        return int(self.vertices.shape[0])

    @property
    def num_faces(self) -> int:
        """Number of triangles F."""
        return int(self.faces.shape[0])

    def save(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Writes the mesh, format by extension (.ply: original ASCII layout; option style=)."""
        out = Path(path)
        ext = out.suffix.lower()
        target = MESH_WRITERS.get(ext)
        if target is None:
            known = ", ".join(sorted(MESH_WRITERS))
            raise Extreme3DError(f"{out}: unsupported mesh format '{ext}' (use {known})")
        module_name, func_name = target.split(":")
        try:
            writer = getattr(importlib.import_module(module_name), func_name)
        except (ImportError, AttributeError):
            raise Extreme3DError(f"{out}: writing '{ext}' meshes is not available yet") from None
        writer(out, self.vertices, self.faces, self.colors, **options)
        return out

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Mesh:
        """Reads a mesh (.ply, ASCII or binary)."""
        p = Path(path)
        if p.suffix.lower() != ".ply":
            raise Extreme3DError(f"{p}: only .ply meshes can be read")
        from extreme3d.io.ply import read_ply

        return cls(*read_ply(p))
