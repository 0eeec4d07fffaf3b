"""Reading user files safely: regular files only (no FIFOs, devices, folders), bounded byte sizes
and image pixel counts; every refusal is a one-line Extreme3DError naming the file.

Limits (overridable by environment variables, in bytes or pixels):
EXTREME3D_MAX_IMAGE_PIXELS (100 Mpx), EXTREME3D_MAX_IMAGE_BYTES (512 MiB),
EXTREME3D_MAX_TEXT_BYTES (.pts, lists, coefficient files: 64 MiB),
EXTREME3D_MAX_MODEL_BYTES (a model file's datasets together: 8 GiB).
"""

from __future__ import annotations

import io
import os
import re
import stat
from pathlib import Path

from extreme3d import Extreme3DError

#: Default limits, by environment variable.
DEFAULT_LIMITS = {
    "EXTREME3D_MAX_IMAGE_PIXELS": 100_000_000,
    "EXTREME3D_MAX_IMAGE_BYTES": 512 << 20,
    "EXTREME3D_MAX_TEXT_BYTES": 64 << 20,
    "EXTREME3D_MAX_MODEL_BYTES": 8 << 30,
}


def limit(name: str) -> int:
    """The limit `name` (an EXTREME3D_MAX_* variable): its environment value, else the default."""
    value = os.environ.get(name)
    if value:
        try:
            return max(1, int(float(value)))
        except ValueError:
            raise Extreme3DError(f"{name}={value!r} is not a number") from None
    return DEFAULT_LIMITS[name]


def _kind(mode: int) -> str:
    """A file type's name for messages."""
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def check_regular_file(path: str | os.PathLike[str], what: str,
                       max_bytes: int | None = None) -> os.stat_result:
    """stat() of `path`, which must be an existing regular file of at most max_bytes bytes."""
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise Extreme3DError(f"{p}: {what} not found") from None
    except OSError as exc:
        raise Extreme3DError(f"{p}: cannot read {what} ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise Extreme3DError(f"{p}: {what} is {_kind(st.st_mode)}, expected a regular file")
    if max_bytes is not None and st.st_size > max_bytes:
        raise Extreme3DError(f"{p}: {what} is too large ({st.st_size} bytes, limit {max_bytes})")
    return st


def read_bytes(path: str | os.PathLike[str], what: str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most max_bytes bytes (opened without blocking, checked
    again on the open descriptor)."""
    p = Path(path)
    check_regular_file(p, what, max_bytes)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(p, flags)
    except OSError as exc:
        raise Extreme3DError(f"{p}: cannot read {what} ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise Extreme3DError(f"{p}: {what} is {_kind(st.st_mode)}, expected a regular file")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise Extreme3DError(f"{p}: {what} is too large (more than {max_bytes} bytes)")
    return data


def read_text(path: str | os.PathLike[str], what: str) -> str:
    """A text file (.pts, coefficient file) decoded as UTF-8 with replacement, size-limited."""
    return read_bytes(path, what, limit("EXTREME3D_MAX_TEXT_BYTES")).decode("utf-8", "replace")


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from an image's header (Pillow parses only the header), or None."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        return None
    try:
        with Image.open(io.BytesIO(data)) as im:
            return int(im.size[0]), int(im.size[1])
    except Image.DecompressionBombError as exc:  # over Pillow's own limit: size in its message
        m = re.search(r"\((\d+) pixels\)", str(exc))
        return (int(m.group(1)), 1) if m else (1 << 40, 1)
    except Exception:  # noqa: BLE001 - unknown header: the decoder decides
        return None


def check_image_pixels(path: str | os.PathLike[str], data: bytes) -> None:
    """Refuses an image whose header declares more than EXTREME3D_MAX_IMAGE_PIXELS pixels."""
    size = image_size(data)
    most = limit("EXTREME3D_MAX_IMAGE_PIXELS")
    if size is not None and size[0] * size[1] > most:
        dims = f"{size[0]}x{size[1]} = " if size[1] > 1 else ""
        raise Extreme3DError(
            f"{path}: image too large ({dims}{size[0] * size[1]} pixels, limit "
            f"{most}; set EXTREME3D_MAX_IMAGE_PIXELS to allow more)")
