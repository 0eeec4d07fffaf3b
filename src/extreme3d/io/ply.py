"""PLY meshes in the original's ASCII layouts (written atomically), and a reader for tests/tools.

Two writing styles reproduce the two writers of the original program:

- ``"cpp"`` (default; the C++ ``TestBump`` meshes): ``x y z`` printed like a C++ ``ostream``
  prints a float (``%g``: 6 significant digits), optional ``r g b`` as integers, and face lines
  ``3 a b c `` **with a trailing space** before the newline.
- ``"python"`` (the coloured foundation ``shape/<name>.ply`` of the Python script): ``x y z``
  with ``%0.4f``, ``r g b`` as integers truncated toward zero (not rounded), faces ``3 a b c``.

Both share the header: ``ply``, ``format ascii 1.0``, ``element vertex V``, ``property float
x|y|z``, [``property uchar red|green|blue``], [``element face F``, ``property list uchar int
vertex_indices``], ``end_header``. Faces are written as given (0-based, like the original).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np

from extreme3d import Extreme3DError
from extreme3d.io.atomic import atomic_write

PlyStyle = Literal["cpp", "python"]

#: Rows formatted per string operation (bounds the temporary tuple size).
_CHUNK = 65536


def ply_header(
    num_vertices: int, num_faces: int | None, with_colors: bool
) -> str:
    """The original's ASCII PLY header (no face element when `num_faces` is None)."""
    lines = [
        "ply",
        "format ascii 1.0",
        f"element vertex {num_vertices}",
        "property float x",
        "property float y",
        "property float z",
    ]
    if with_colors:
        lines += ["property uchar red", "property uchar green", "property uchar blue"]
    if num_faces is not None:
        lines += [f"element face {num_faces}", "property list uchar int vertex_indices"]
    lines.append("end_header")
    return "\n".join(lines) + "\n"


def _rows(fmt: str, table: list) -> str:
    """Formats `table` (list of row lists) with a per-row %-format, in chunks."""
    parts = []
    for start in range(0, len(table), _CHUNK):
        chunk = table[start : start + _CHUNK]
        flat = [value for row in chunk for value in row]
        parts.append((fmt * len(chunk)) % tuple(flat))
    return "".join(parts)


def _colors_as_int(colors: np.ndarray) -> np.ndarray:
    """Colours as int64: floats clipped to [0, 255] and truncated toward zero, as the original."""
    c = np.asarray(colors)
    if np.issubdtype(c.dtype, np.floating):
        c = np.trunc(np.clip(np.nan_to_num(c, nan=0.0), 0.0, 255.0))
    return np.clip(c, 0, 255).astype(np.int64)


def _prepared(
    vertices: np.ndarray, faces: np.ndarray | None, colors: np.ndarray | None, style: str
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Checked arrays for formatting: vertices (V,3) float, faces (F,3) int64, colours int64."""
    v = np.asarray(vertices)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"vertices must be (V, 3), got {v.shape}")
    if not np.issubdtype(v.dtype, np.floating):
        v = v.astype(np.float64)
    f = None if faces is None else np.asarray(faces).reshape(-1, 3).astype(np.int64)
    c = None
    if colors is not None:
        c = _colors_as_int(colors)
        if c.shape != v.shape:
            raise ValueError(f"colors must be (V, 3) like vertices {v.shape}, got {c.shape}")
    if style not in ("cpp", "python"):
        raise ValueError(f"unknown PLY style {style!r} (use 'cpp' or 'python')")
    return v, f, c


def format_ply_reference(
    vertices: np.ndarray,
    faces: np.ndarray | None,
    colors: np.ndarray | None = None,
    style: PlyStyle = "cpp",
) -> str:
    """The PLY text built with Python's % operator (slow; the reference the fast writer matches)."""
    v, f, c = _prepared(vertices, faces, colors, style)
    if style == "cpp":
        xyz, face_fmt = "%g %g %g", "3 %d %d %d \n"
    else:
        xyz, face_fmt = "%0.4f %0.4f %0.4f", "3 %d %d %d\n"
    # float32 -> Python float is exact, so %g matches C++ printing the float (promoted to double).
    vt = v.tolist()
    if c is not None:
        vt = [row + crow for row, crow in zip(vt, c.tolist(), strict=True)]
        vfmt = xyz + " %d %d %d\n"
    else:
        vfmt = xyz + "\n"
    body = _rows(vfmt, vt)
    if f is not None:
        body += _rows(face_fmt, f.tolist())
    header = ply_header(len(v), None if f is None else len(f), c is not None)
    return header + body


def format_ply_bytes(
    vertices: np.ndarray,
    faces: np.ndarray | None,
    colors: np.ndarray | None = None,
    style: PlyStyle = "cpp",
) -> bytes:
    """The whole ASCII PLY file as bytes (formatted in C++; same bytes as the reference)."""
    from extreme3d import _core

    v, f, c = _prepared(vertices, faces, colors, style)
    header = ply_header(len(v), None if f is None else len(f), c is not None).encode("ascii")
    body = _core.format_ply_body(
        v.astype(np.float64), None if c is None else c.astype(np.uint8), f, style
    )
    return header + body


def format_ply(
    vertices: np.ndarray,
    faces: np.ndarray | None,
    colors: np.ndarray | None = None,
    style: PlyStyle = "cpp",
) -> str:
    """The whole ASCII PLY text for a mesh in the given writer style (see module docstring)."""
    return format_ply_bytes(vertices, faces, colors, style).decode("ascii")


def write_ply(
    path: str | os.PathLike[str],
    vertices: np.ndarray,
    faces: np.ndarray | None,
    colors: np.ndarray | None = None,
    style: PlyStyle = "cpp",
) -> Path:
    """Writes an ASCII PLY in the original's layout (style "cpp" or "python"), atomically."""
    data = format_ply_bytes(vertices, faces, colors, style)
    out = Path(path)
    with atomic_write(out, "wb") as handle:
        handle.write(data)
    return out


# --------------------------------------------------------------------------- reading

_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}


class _Element:
    """One `element` of a PLY header with its properties."""

    def __init__(self, name: str, count: int) -> None:
        self.name = name
        self.count = count
        # (name, dtype) for scalars; (name, count dtype, item dtype) for lists
        self.props: list[tuple[str, str] | tuple[str, str, str]] = []

    @property
    def has_list(self) -> bool:
        return any(len(p) == 3 for p in self.props)


def _parse_header(raw: bytes, path: Path) -> tuple[str, list[_Element], int]:
    """Parses the header: (format, elements, byte offset of the body)."""
    if not raw.startswith(b"ply"):
        raise Extreme3DError(f"{path}: not a PLY file (no 'ply' magic)")
    match = re.search(rb"end_header[ \t]*\r?\n", raw)
    if match is None:
        raise Extreme3DError(f"{path}: PLY header has no end_header line")
    fmt = ""
    elements: list[_Element] = []
    for line in raw[: match.start()].decode("ascii", "replace").splitlines()[1:]:
        words = line.split()
        if not words or words[0] in ("comment", "obj_info"):
            continue
        try:
            if words[0] == "format":
                fmt = words[1]
            elif words[0] == "element":
                elements.append(_Element(words[1], int(words[2])))
            elif words[0] == "property":
                if not elements:
                    raise ValueError("property before element")
                if words[1] == "list":
                    elements[-1].props.append(
                        (words[4], _PLY_TYPES[words[2]], _PLY_TYPES[words[3]])
                    )
                else:
                    elements[-1].props.append((words[2], _PLY_TYPES[words[1]]))
            else:
                raise ValueError(f"unknown header keyword {words[0]!r}")
        except (IndexError, KeyError, ValueError) as exc:
            raise Extreme3DError(f"{path}: bad PLY header line {line!r} ({exc})") from None
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise Extreme3DError(f"{path}: unsupported PLY format {fmt!r}")
    return fmt, elements, match.end()


def _fan(polys: list[list[int]]) -> np.ndarray:
    """Triangulates polygons (vertex index lists) as fans."""
    tris = [[p[0], p[i], p[i + 1]] for p in polys for i in range(1, len(p) - 1)]
    return np.asarray(tris, dtype=np.int64).reshape(-1, 3)


def _read_ascii(lines: list[bytes], elements: list[_Element], path: Path) -> dict:
    """Reads ASCII element data: {element name: {property: array}}."""
    data: dict[str, dict[str, object]] = {}
    pos = 0
    for el in elements:
        block = lines[pos : pos + el.count]
        pos += el.count
        if len(block) < el.count:
            raise Extreme3DError(f"{path}: PLY body ends early in element '{el.name}'")
        if not el.has_list:
            arr = np.array(b" ".join(block).split(), dtype=np.float64)
            if arr.size != el.count * len(el.props):
                raise Extreme3DError(f"{path}: wrong number of values in element '{el.name}'")
            arr = arr.reshape(el.count, len(el.props))
            data[el.name] = {p[0]: arr[:, i] for i, p in enumerate(el.props)}
        elif len(el.props) == 1:
            rows = [[int(float(t)) for t in line.split()] for line in block]
            if rows and all(len(r) == 4 and r[0] == 3 for r in rows):
                data[el.name] = {el.props[0][0]: np.asarray(rows, np.int64)[:, 1:]}
            else:
                polys = [r[1 : 1 + r[0]] for r in rows]
                data[el.name] = {el.props[0][0]: _fan(polys)}
        else:
            data[el.name] = {}  # lists mixed with scalars: skipped (not needed here)
    return data


def _read_binary(body: bytes, elements: list[_Element], endian: str, path: Path) -> dict:
    """Reads binary element data: {element name: {property: array}}."""
    data: dict[str, dict[str, object]] = {}
    off = 0
    for el in elements:
        if not el.has_list:
            dt = np.dtype([(p[0], endian + p[1]) for p in el.props])
            n = dt.itemsize * el.count
            if off + n > len(body):
                raise Extreme3DError(f"{path}: PLY body ends early in element '{el.name}'")
            rec = np.frombuffer(body, dtype=dt, count=el.count, offset=off)
            off += n
            data[el.name] = {p[0]: rec[p[0]].astype(np.float64) for p in el.props}
            continue
        # Fast path: a single list property whose rows all have the same length.
        if len(el.props) == 1 and el.count > 0:
            name, cdt, idt = el.props[0]
            first = int(np.frombuffer(body, endian + cdt, 1, off)[0])
            dt = np.dtype([("n", endian + cdt), ("i", endian + idt, (first,))])
            if off + dt.itemsize * el.count <= len(body):
                rec = np.frombuffer(body, dtype=dt, count=el.count, offset=off)
                if np.all(rec["n"] == first):
                    off += dt.itemsize * el.count
                    idx = rec["i"].astype(np.int64)
                    data[el.name] = {name: idx if first == 3 else _fan(idx.tolist())}
                    continue
        # General (slow) path.
        values: dict[str, list] = {p[0]: [] for p in el.props}
        for _ in range(el.count):
            for p in el.props:
                if len(p) == 2:
                    item = np.dtype(endian + p[1])
                    values[p[0]].append(np.frombuffer(body, item, 1, off)[0])
                    off += item.itemsize
                else:
                    cnt_t, item = np.dtype(endian + p[1]), np.dtype(endian + p[2])
                    cnt = int(np.frombuffer(body, cnt_t, 1, off)[0])
                    off += cnt_t.itemsize
                    values[p[0]].append(np.frombuffer(body, item, cnt, off).tolist())
                    off += cnt * item.itemsize
        data[el.name] = {
            k: (_fan(v) if v and isinstance(v[0], list) else np.asarray(v))
            for k, v in values.items()
        }
    return data


class PlyMesh(NamedTuple):
    """A mesh read from a PLY file: vertices (V,3) float32, faces (F,3) int32 0-based, colours
    (V,3) uint8 or None (extreme3d.mesh.Mesh.load wraps it in a Mesh)."""

    vertices: np.ndarray
    faces: np.ndarray
    colors: np.ndarray | None


def read_ply(path: str | os.PathLike[str]) -> PlyMesh:
    """Reads a PLY mesh (ASCII or binary): vertices, triangle faces (fans for polygons), colours."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise Extreme3DError(f"{p}: cannot read PLY file ({exc.strerror or exc})") from None
    fmt, elements, start = _parse_header(raw, p)
    try:
        if fmt == "ascii":
            lines = [ln for ln in raw[start:].splitlines() if ln.strip()]
            data = _read_ascii(lines, elements, p)
        else:
            endian = "<" if fmt == "binary_little_endian" else ">"
            data = _read_binary(raw[start:], elements, endian, p)
    except (ValueError, IndexError) as exc:
        raise Extreme3DError(f"{p}: malformed PLY body ({exc})") from None
    vert = data.get("vertex")
    if vert is None or not all(k in vert for k in "xyz"):
        raise Extreme3DError(f"{p}: PLY file has no vertex element with x, y, z")
    vertices = np.stack([vert["x"], vert["y"], vert["z"]], axis=1)
    colors = None
    for names in (("red", "green", "blue"), ("r", "g", "b"),
                  ("diffuse_red", "diffuse_green", "diffuse_blue")):
        if all(n in vert for n in names):
            colors = np.stack([vert[n] for n in names], axis=1)
            break
    faces = np.zeros((0, 3), np.int64)
    face = data.get("face")
    if face:
        for key in ("vertex_indices", "vertex_index"):
            if key in face:
                faces = np.asarray(face[key], np.int64).reshape(-1, 3)
                break
    if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise Extreme3DError(f"{p}: PLY face index out of range 0..{len(vertices) - 1}")
    if colors is not None:
        if np.issubdtype(colors.dtype, np.floating):
            colors = np.trunc(np.clip(colors, 0.0, 255.0))
        colors = np.ascontiguousarray(np.clip(colors, 0, 255), dtype=np.uint8)
    return PlyMesh(np.ascontiguousarray(vertices, dtype=np.float32),
                   np.ascontiguousarray(faces, dtype=np.int32), colors)
