"""`extreme3d deocclude`: de-occlude a given bump map and mask (the Bump CNN route)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from extreme3d import Extreme3DError
from extreme3d.bump_photo import read_pts


def read_grey(path: Path, what: str) -> np.ndarray:
    """A 512x512 greyscale map from a PNG, or a one-line error naming the file."""
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise Extreme3DError(f"cannot read {what} {path}")
    if img.shape != (512, 512):
        raise Extreme3DError(f"{path}: {what} must be 512x512, got {img.shape[1]}x{img.shape[0]}")
    return img


def write_outputs(out: Path, name: str, bump: np.ndarray, mask: np.ndarray,
                  occluders: np.ndarray | None) -> None:
    """Writes <name>_bump.png, <name>_mask.png and (when given) <name>_occluders.png."""
    out.mkdir(parents=True, exist_ok=True)
    files = [("bump", bump), ("mask", mask)]
    if occluders is not None:
        files.append(("occluders", occluders))
    for suffix, img in files:
        path = out / f"{name}_{suffix}.png"
        if not cv2.imwrite(str(path), img):
            raise Extreme3DError(f"cannot write {path}")


def _cmd_deocclude(args: argparse.Namespace) -> int:
    """Reads the crop, landmarks, bump and mask; writes the de-occluded maps."""
    from extreme3d.naming import image_name
    from extreme3d.occlusion import deocclude

    crop = cv2.imread(str(args.crop), cv2.IMREAD_COLOR)
    if crop is None:
        raise Extreme3DError(f"cannot read image {args.crop}")
    if crop.shape[:2] != (500, 500):
        raise Extreme3DError(f"{args.crop}: the crop must be 500x500, got "
                             f"{crop.shape[1]}x{crop.shape[0]}")
    lm = read_pts(Path(args.pts))
    bump = read_grey(Path(args.bump), "bump map")
    mask = read_grey(Path(args.mask), "mask") if args.mask else np.full((512, 512), 255, np.uint8)
    res = deocclude(crop, lm, bump, mask)
    name = args.name or image_name(args.crop)
    write_outputs(Path(args.out), name, res.bump, res.mask, res.occluders_png)
    notes = res.found_notes() + ([res.message] if res.message else [])
    note = f" ({'; '.join(notes)})" if notes else ""
    print(f"{name}: occluded {100 * res.occluded_fraction:.1f}% of the face, "
          f"{100 * res.mirrored_fraction:.0f}% of it from the mirror side{note}, "
          f"{res.seconds:.2f} s -> {args.out}")
    return 0


def register(subparsers: Any) -> None:
    """Adds `extreme3d deocclude`."""
    p = subparsers.add_parser(
        "deocclude", help="find occluders in a crop and de-occlude its bump map",
        description="Writes <name>_bump.png (occluders refilled from the mirrored side or the "
        "mean face detail, blended seamlessly), <name>_mask.png (the face mask) and "
        "<name>_occluders.png (255 = occluder), 512x512 in the original's encoding.",
    )
    p.add_argument("crop", help="500x500 crop (PNG/JPG)")
    p.add_argument("pts", help="its 68 landmarks (.pts, crop pixels)")
    p.add_argument("--bump", required=True, help="512x512 bump map (e.g. the Bump CNN's)")
    p.add_argument("--mask", help="512x512 face mask (default: all 255)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--name", help="output base name (default: the crop's name)")
    p.set_defaults(func=_cmd_deocclude)
