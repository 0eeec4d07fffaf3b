"""Image names and input lists (PIPELINE.md section 0).

`<name>` of an image: its base name without the last extension, and without a second
extension when that is an image extension too (``x.jpg.jpg`` -> ``x``, ``Mr.Smith.jpg`` ->
``Mr.Smith``). Two list entries with the same name are an error for the later one.
"""

from __future__ import annotations

import glob
import ntpath
import os
from dataclasses import dataclass, field
from pathlib import Path

from extreme3d import Extreme3DError

#: Extensions (lower case, with the dot) treated as image extensions for the second strip.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".dib", ".tif", ".tiff", ".webp",
        ".gif", ".ppm", ".pgm", ".pbm", ".pnm", ".jp2", ".j2k", ".exr", ".hdr", ".pic", ".sr",
        ".ras", ".avif", ".heic",
    }
)

#: Lines shorter than this (after stripping) are skipped, as the original does.
MIN_PATH_LENGTH = 5


def _split_ext(name: str) -> tuple[str, str]:
    """(stem, extension) of a base name; a leading dot alone is not an extension."""
    dot = name.rfind(".")
    if dot <= 0:
        return name, ""
    return name[:dot], name[dot:]


def image_name(path: str | os.PathLike[str]) -> str:
    """The `<name>` of an image path (last extension off, a second image extension off too)."""
    base = ntpath.basename(os.fspath(path))  # like the original: '/' and '\\' both separate
    stem, ext = _split_ext(base)
    if ext:
        stem2, ext2 = _split_ext(stem)
        if ext2.lower() in IMAGE_EXTENSIONS:
            stem = stem2
    if not stem:
        raise Extreme3DError(f"{path}: cannot derive an image name from this file name")
    return stem


@dataclass(frozen=True)
class ListEntry:
    """One usable line of an input list: the image path, its `<name>`, its 1-based line number."""

    path: Path
    name: str
    line: int


@dataclass(frozen=True)
class ListProblem:
    """A line of an input list that is not used, with the reason (one line)."""

    line: int
    text: str
    message: str


@dataclass
class InputList:
    """The parsed input list: usable entries in order, and skipped/rejected lines."""

    entries: list[ListEntry] = field(default_factory=list)
    problems: list[ListProblem] = field(default_factory=list)


def _resolve(text: str, base_dir: Path | None) -> Path:
    """The image path of a list line: as written (relative to the CWD, as the original); if
    that does not exist but exists relative to `base_dir` (the list's folder), that one."""
    path = Path(text).expanduser()
    if not path.is_absolute() and not path.exists() and base_dir is not None:
        alt = base_dir / path
        if alt.exists():
            return alt
    return path


def parse_input_lines(
    lines: list[str], source: str = "<list>", base_dir: Path | None = None
) -> InputList:
    """Parses input-list lines: strips line endings (CRLF too) and surrounding blanks, skips
    blank, '#' comment and too-short lines, names each image and rejects duplicate names."""
    result = InputList()
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines, 1):
        text = raw.rstrip("\r\n")
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if len(stripped) < MIN_PATH_LENGTH:
            result.problems.append(
                ListProblem(number, stripped, f"{source}: line {number}: file path too short, "
                            f"skipped: {stripped!r}")
            )
            continue
        # Keep the exact text if that file exists (a path may end in blanks), else the stripped.
        try:
            candidate = text if (text != stripped and Path(text).exists()) else stripped
            path = _resolve(candidate, base_dir)
            name = image_name(path)
        except Extreme3DError as exc:
            result.problems.append(ListProblem(number, stripped, f"{source}: line {number}: {exc}"))
            continue
        except (OSError, ValueError) as exc:  # e.g. a name too long for the file system
            why = getattr(exc, "strerror", None) or str(exc)
            result.problems.append(ListProblem(number, stripped[:80], f"{source}: line {number}: "
                                               f"unusable path ({why}): {stripped[:80]!r}"))
            continue
        if name in seen:
            result.problems.append(
                ListProblem(
                    number, stripped,
                    f"{path}: image name '{name}' already used by line {seen[name]} of {source}; "
                    f"rename one of them (outputs would overwrite each other)",
                )
            )
            continue
        seen[name] = number
        result.entries.append(ListEntry(path, name, number))
    return result


def read_input_list(path: str | os.PathLike[str]) -> InputList:
    """Reads an input list file (one image path per line; see `parse_input_lines`)."""
    from extreme3d.io.safe_read import limit, read_bytes

    p = Path(path)
    data = read_bytes(p, "input list", limit("EXTREME3D_MAX_TEXT_BYTES"))
    text = data.decode("utf-8-sig", errors="surrogateescape")
    lines = text.split("\n")  # not splitlines(): it also splits on rare Unicode separators
    return parse_input_lines(lines, str(p), p.resolve().parent)


def read_input(spec: str | os.PathLike[str]) -> InputList:
    """The batch's input: a list file (`read_input_list`), a folder (its image files, sorted by
    name, not recursive) or a glob pattern (matches sorted); a missing one is an error."""
    text = os.fspath(spec)
    path = Path(text).expanduser()
    if path.is_file():
        return read_input_list(path)
    if path.is_dir():
        files = [p for p in sorted(path.iterdir())
                 if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]
        return parse_input_lines([str(p) for p in files], str(path))
    if glob.has_magic(text):
        files = [Path(p) for p in sorted(glob.glob(os.path.expanduser(text)))]
        return parse_input_lines([str(p) for p in files if p.is_file()], text)
    raise Extreme3DError(f"{text}: input list not found (nor a folder or a glob)")
