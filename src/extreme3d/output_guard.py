"""Keeping every write inside the output folder and owned by one image: output names checked
(no separators, bounded length), paths checked to stay inside the folder, name collisions
through the files' suffixes, inputs inside the output tree refused, one run per folder (lock)."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from extreme3d import Extreme3DError

#: Longest output name in bytes (file names are name + a suffix of up to ~40 bytes; 255 max).
MAX_NAME_BYTES = 200

#: Lock file of a batch run in its output folder.
LOCK_FILE = ".extreme3d.lock"


def check_output_name(name: str) -> str:
    """`name` when it is a plain file-name stem (no path separator, not '.'/'..', no NUL, at most
    MAX_NAME_BYTES bytes); else an Extreme3DError."""
    if not isinstance(name, str) or not name or name in (".", ".."):
        raise Extreme3DError(f"invalid output name {name!r}")
    if "/" in name or "\\" in name or "\0" in name or (os.altsep and os.altsep in name):
        raise Extreme3DError(f"invalid output name {name!r}: it must not contain a path separator")
    size = len(os.fsencode(name))
    if size > MAX_NAME_BYTES:
        raise Extreme3DError(f"output name too long ({size} bytes, limit {MAX_NAME_BYTES}): "
                             f"{name[:40]!r}...")
    return name


def check_inside(folder: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """`path` when it resolves (symlinks followed) inside `folder`; else an Extreme3DError."""
    root = Path(folder).resolve()
    full = Path(path).resolve()
    if full != root and root not in full.parents:
        raise Extreme3DError(f"{path}: refusing to write outside the output folder {root}")
    return Path(path)


def output_file(folder: str | os.PathLike[str], sub: str, name: str, suffix: str) -> Path:
    """folder/sub/<name><suffix>, with the name checked and the path inside folder."""
    path = Path(folder) / sub / f"{check_output_name(name)}{suffix}"
    return check_inside(folder, path)


def input_inside_output(path: str | os.PathLike[str], out: str | os.PathLike[str]) -> bool:
    """Whether an input file lies inside the output tree (it could be overwritten)."""
    root = Path(out).resolve()
    try:
        full = Path(path).resolve()
    except (OSError, RuntimeError):
        return False
    return root == full or root in full.parents


def _suffix_pattern(suffixes: Iterable[str]) -> re.Pattern[str]:
    """A regex matching one of the suffixes at the end of a name."""
    alts = sorted((re.escape(s) for s in suffixes), key=len, reverse=True)
    return re.compile("(?:" + "|".join(alts) + r")$")


class NameRegistry:
    """Names given out in one output folder: a name equal to another, or to another plus some of
    the files' suffixes (x and x_detect both write imgs/x_detect.png), is a collision."""

    def __init__(self, suffixes: Iterable[str]) -> None:
        self.pattern = _suffix_pattern(suffixes)
        self.names: dict[str, str] = {}  # name -> its input (for messages)
        self.stems: dict[str, str] = {}  # every shorter stem of a claimed name -> that name

    def _stems(self, name: str) -> list[str]:
        """The name with one, two, ... trailing suffixes removed (never empty)."""
        out = []
        while (m := self.pattern.search(name)) and m.start() > 0:
            name = name[: m.start()]
            out.append(name)
        return out

    def clash(self, name: str) -> str | None:
        """The earlier name `name` collides with, or None."""
        if name in self.names:
            return name
        if name in self.stems:
            return self.stems[name]
        return next((s for s in self._stems(name) if s in self.names), None)

    def claim(self, name: str, source: str) -> None:
        """Registers `name` (from `source`); Extreme3DError when it collides with an earlier one."""
        other = self.clash(name)
        if other is not None:
            raise Extreme3DError(
                f"output name {name!r} collides with {other!r} of {self.names[other]} "
                "(their files would overwrite each other); rename one of the inputs")
        self.names[name] = source
        for stem in self._stems(name):
            self.stems.setdefault(stem, name)


@contextlib.contextmanager
def folder_lock(out: str | os.PathLike[str]) -> Iterator[Path]:
    """Holds an exclusive lock on <out>/.extreme3d.lock for the run; a second run into the same
    folder fails at once with a clear message (no-op where fcntl is missing)."""
    path = Path(out) / LOCK_FILE
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield path
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise Extreme3DError(
                f"{Path(out)}: another extreme3d run is writing to this output folder (lock "
                f"{path}); wait for it to finish or choose another folder") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        os.close(fd)


def remove_stale_temps(out: str | os.PathLike[str], subs: Iterable[str]) -> int:
    """Removes the temp files (.<name>.<random>.tmp, extreme3d.io.atomic) a killed run left in
    out and its subfolders `subs`; only call while holding folder_lock. Returns how many."""
    n = 0
    for folder in [Path(out), *(Path(out) / s for s in subs)]:
        if not folder.is_dir() or folder.is_symlink():
            continue
        for p in folder.glob(".*.tmp"):
            if p.is_file() and not p.is_symlink():
                with contextlib.suppress(OSError):
                    p.unlink()
                    n += 1
    return n
