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


#: How many encodings `png_bytes(..., remember=True)` keeps (most recent first).
PNG_MEMO_SIZE = 4
_png_memo: collections.OrderedDict[bytes, bytes] = collections.OrderedDict()
_png_memo_lock = threading.Lock()


def png_bytes(image: Any, path: str | os.PathLike[str] = "image", *,
              remember: bool = False) -> bytes:
    """The PNG encoding of an 8-bit image (BGR, BGRA or grey array). With remember, the
    encoding is kept under a digest of the image's shape, type and pixels (the last
    PNG_MEMO_SIZE), so that the same texture written beside several mesh files is compressed
    once; the bytes are always those of a fresh encoding of these pixels."""
    import cv2

    img = np.asarray(image)
    key = None
    if remember:
        img = np.array(img, order="C", copy=True)  # the pixels hashed are the pixels encoded
        digest = hashlib.blake2b(img.data, digest_size=20)
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


def atomic_write_png(path: str | os.PathLike[str], image: Any, *, remember: bool = False) -> None:
    """Encodes an 8-bit image (BGR, BGRA or grey array) as PNG and writes it atomically
    (remember: see `png_bytes`; for images written more than once, e.g. shared textures)."""
    atomic_write_bytes(path, png_bytes(image, path, remember=remember))
