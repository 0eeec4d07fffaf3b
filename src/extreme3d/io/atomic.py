"""Atomic file writes: write to a temporary name in the same folder, then rename into place."""

from __future__ import annotations

import collections
import contextlib
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from extreme3d import Extreme3DError


def _umask() -> int:
    """The process umask, read from /proc where possible: setting it to query it (the fallback)
    briefly changes it for every thread of the process."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    umask = os.umask(0)
    os.umask(umask)
    return umask


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: str = "w", encoding: str | None = None, **kwargs: Any
) -> Iterator[IO[Any]]:
    """Opens a temp file beside `path` for writing; on success it replaces `path` (os.replace).

    `mode` is "w" (text, newline "\\n" untranslated) or "wb" (binary). On an exception the temp
    file is removed and `path` is left as it was, so readers never see a half-written file.
    """
    if mode not in ("w", "wb", "wt"):
        raise ValueError(f"atomic_write supports modes 'w', 'wt' and 'wb', not {mode!r}")
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    # a short prefix keeps the temp name within NAME_MAX for long target names
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name[:64]}.", suffix=".tmp", dir=folder)
    try:
        if "b" in mode:
            handle: IO[Any] = os.fdopen(fd, "wb", **kwargs)
        else:
            kwargs.setdefault("newline", "\n")
            handle = os.fdopen(fd, "w", encoding=encoding or "utf-8", **kwargs)
        with handle:
            yield handle
        # mkstemp creates 0600 files: give the result the usual permissions (umask applied).
        os.chmod(tmp_name, 0o666 & ~_umask())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Writes `data` to `path` atomically."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Writes `text` (UTF-8, newlines untranslated) to `path` atomically."""
    with atomic_write(path, "w") as handle:
        handle.write(text)


#: Images at least this large (bytes) have their PNG encoding remembered by content
#: (`png_bytes`): a face's textures are written once per mesh file that uses them.
PNG_MEMO_MIN_BYTES = 1 << 20
#: How many encodings `png_bytes` remembers (most recent first).
PNG_MEMO_SIZE = 4
_png_memo: collections.OrderedDict[bytes, bytes] = collections.OrderedDict()
_png_memo_lock = threading.Lock()


def png_bytes(image: Any, path: str | os.PathLike[str] = "image") -> bytes:
    """The PNG encoding of an 8-bit image (BGR, BGRA or grey array); large images' encodings
    are remembered by a digest of their shape and pixels, so that the same texture written
    beside several meshes is compressed once (the bytes are those of a fresh encoding)."""
    import cv2

    img = np.asarray(image)
    key = None
    if img.nbytes >= PNG_MEMO_MIN_BYTES:
        digest = hashlib.blake2b(np.ascontiguousarray(img).data, digest_size=20)
        digest.update(repr((img.shape, img.dtype.str)).encode())
        key = digest.digest()
        with _png_memo_lock:
            if key in _png_memo:
                _png_memo.move_to_end(key)
                return _png_memo[key]
    ok, data = cv2.imencode(".png", img)
    if not ok:
        raise Extreme3DError(f"{path}: PNG encoding failed")
    out = data.tobytes()
    if key is not None:
        with _png_memo_lock:
            _png_memo[key] = out
            while len(_png_memo) > PNG_MEMO_SIZE:
                _png_memo.popitem(last=False)
    return out


def atomic_write_png(path: str | os.PathLike[str], image: Any) -> None:
    """Encodes an 8-bit image (BGR, BGRA or grey array) as PNG and writes it atomically."""
    atomic_write_bytes(path, png_bytes(image, path))
