"""Landmark files (.pts) and coefficient files (.ply.alpha): strict readers, atomic writers.

`read_pts` accepts the iBUG layout (``version: 1`` / ``n_points: 68`` / ``{`` ... ``}``) and the
plain one-``x y``-per-line files that the original loads with ``np.loadtxt``; ``#`` starts a
comment. Errors are one `Extreme3DError` line naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from extreme3d import Extreme3DError
from extreme3d.io.atomic import atomic_write_text

#: Number of iBUG landmarks the pipeline works with.
NUM_LANDMARKS = 68
#: Largest landmark coordinate (px) a .pts file may hold.
MAX_COORDINATE = 1e7


def _read_text(path: Path, what: str) -> str:
    """The file's text, or an Extreme3DError naming it."""
    from extreme3d.io.safe_read import read_text

    return read_text(path, f"{what} file")


def parse_pts(text: str, source: str | os.PathLike[str] = "<text>",
              num_points: int | None = NUM_LANDMARKS) -> np.ndarray:
    """Parses .pts text (iBUG header or plain `x y` lines) into an (N, 2) float64 array."""
    header_n: int | None = None
    rows: list[tuple[float, float]] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        low = line.lower()
        if low.startswith("version"):
            continue
        if low.startswith("n_points"):
            try:
                header_n = int(line.split(":", 1)[1])
            except (IndexError, ValueError):
                msg = f"{source}: line {lineno}: bad n_points line {raw.strip()!r}"
                raise Extreme3DError(msg) from None
            continue
        if line in ("{", "}"):
            continue
        words = line.replace(",", " ").split()
        try:
            values = [float(w) for w in words]
        except ValueError:
            raise Extreme3DError(f"{source}: line {lineno}: not a number pair: {raw.strip()!r}") \
                from None
        if len(values) != 2 or not all(np.isfinite(values)):
            raise Extreme3DError(
                f"{source}: line {lineno}: expected two finite numbers 'x y', got {raw.strip()!r}"
            )
        if max(abs(values[0]), abs(values[1])) > MAX_COORDINATE:
            raise Extreme3DError(f"{source}: line {lineno}: coordinate beyond {MAX_COORDINATE:g} "
                                 f"px: {raw.strip()[:60]!r}")
        rows.append((values[0], values[1]))
    points = np.asarray(rows, dtype=np.float64).reshape(-1, 2)
    if header_n is not None and header_n != len(points):
        raise Extreme3DError(
            f"{source}: header says n_points: {header_n} but the file holds {len(points)} points"
        )
    if num_points is not None and len(points) != num_points:
        raise Extreme3DError(
            f"{source}: expected {num_points} landmarks, found {len(points)}"
        )
    return points


def read_pts(path: str | os.PathLike[str], num_points: int | None = NUM_LANDMARKS) -> np.ndarray:
    """Reads a landmark file into (N, 2) float64 (x, y) pixels; N must equal `num_points`."""
    p = Path(path)
    return parse_pts(_read_text(p, "landmark"), p, num_points)


def write_pts(path: str | os.PathLike[str], points: np.ndarray, ibug_header: bool = False) -> Path:
    """Writes landmarks as `%f %f` lines (as the original's imgs/<name>.pts), or iBUG-framed."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    body = "".join(f"{x:f} {y:f}\n" for x, y in pts.tolist())
    if ibug_header:
        body = f"version: 1\nn_points: {len(pts)}\n{{\n{body}}}\n"
    out = Path(path)
    atomic_write_text(out, body)
    return out


def read_coefficients(path: str | os.PathLike[str], count: int | None = None) -> np.ndarray:
    """Reads a coefficient file (.ply.alpha: one value per line) as float64; checks `count`."""
    p = Path(path)
    values: list[float] = []
    for lineno, raw in enumerate(_read_text(p, "coefficient").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            values.extend(float(w) for w in line.replace(",", " ").split())
        except ValueError:
            raise Extreme3DError(f"{p}: line {lineno}: not a number: {raw.strip()!r}") from None
    arr = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise Extreme3DError(f"{p}: holds a non-finite coefficient")
    if count is not None and arr.size != count:
        raise Extreme3DError(f"{p}: expected {count} coefficients, found {arr.size}")
    return arr


def format_coefficients(values: Iterable[float]) -> str:
    """One value per line as numpy.savetxt writes them by default (`%.18e`)."""
    arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values,
                     dtype=np.float64).ravel()
    return "".join(f"{v:.18e}\n" for v in arr.tolist())


def write_coefficients(path: str | os.PathLike[str], values: Iterable[float]) -> Path:
    """Writes one value per line as numpy.savetxt does by default (`%.18e`), atomically."""
    out = Path(path)
    atomic_write_text(out, format_coefficients(values))
    return out
