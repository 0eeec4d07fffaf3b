"""Atomic file writes: write to a temporary name in the same folder, then rename into place."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

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


def atomic_write_png(path: str | os.PathLike[str], image: Any) -> None:
    """Encodes an 8-bit image (BGR, BGRA or grey array) as PNG and writes it atomically."""
    import cv2

    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise Extreme3DError(f"{path}: PNG encoding failed")
    atomic_write_bytes(path, data.tobytes())
