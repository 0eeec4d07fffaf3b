"""`extreme3d estimate-bump`: the photo bump estimator (extreme3d.bump_photo) on one crop,
de-occluded by default (extreme3d.occlusion)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from extreme3d import Extreme3DError
from extreme3d.bump_photo import estimate_bump, read_pts


def _cmd_estimate(args: argparse.Namespace) -> int:
    """`extreme3d estimate-bump`: writes <name>_bump.png and <name>_mask.png."""
    from extreme3d.landmarks import read_image
    from extreme3d.output_guard import check_output_name

    if args.name is not None:
        check_output_name(args.name)
    crop = read_image(args.crop)  # regular files only, size limits
    lm = read_pts(Path(args.pts))
    model = fit = None
    if args.model:
        from extreme3d.fitting import fit_identity, fit_pose_expression
        from extreme3d.morphable import load_model

        model = load_model(Path(args.model))
        ident = fit_identity(model, lm)
        fit = fit_pose_expression(model, lm, ident.alpha)
    if model is None and (args.mask_source == "foundation" or args.detail != "image"):
        raise Extreme3DError("--mask-source foundation and --detail shading/both need --model")
    bump, mask, info = estimate_bump(crop, lm, fit=fit, model=model,
                                     mask_source=args.mask_source, detail=args.detail,
                                     greyscale=args.greyscale)
    out = Path(args.out)
    if args.name is None:
        from extreme3d.naming import image_name

        name = image_name(args.crop)
    else:
        name = args.name
    from extreme3d.occlusion.cli import write_outputs

    occluders = None
    notes = [info.message] if info.message else []
    if args.occlusion == "on" and info.source == "photo":
        from extreme3d.occlusion import deocclude

        res = deocclude(crop, lm, bump, mask)
        bump, occluders = res.bump, res.occluders_png
        notes.append(f"occluded {100 * res.occluded_fraction:.1f}% of the face")
        notes += res.found_notes()
    elif args.occlusion == "on":
        notes.append("no de-occlusion of a flat map")
    write_outputs(out, name, bump, mask, occluders)
    note = f" ({'; '.join(notes)})" if notes else ""
    print(f"{name}: bump source {info.source}{note}, {info.seconds:.2f} s -> {out}")
    return 0


def register(subparsers: Any) -> None:
    """Adds `extreme3d estimate-bump`."""
    p = subparsers.add_parser(
        "estimate-bump", help="estimate a bump map and face mask from a 500x500 crop (no CNN)",
        description="Writes <name>_bump.png and <name>_mask.png (512x512, the Bump CNN's "
        "encoding) estimated from the photo and de-occluded (with <name>_occluders.png; "
        "--occlusion off: as estimated); readable by testPaperResults --bump-dir.",
    )
    p.add_argument("crop", help="500x500 crop (PNG/JPG)")
    p.add_argument("pts", help="its 68 landmarks (.pts, crop pixels)")
    p.add_argument("--model", help="morphable model .h5 (fits the foundation to the landmarks; "
                   "needed by --mask-source foundation and --detail shading/both)")
    p.add_argument("--mask-source", choices=("landmarks", "foundation"), default="landmarks",
                   help="mask from the landmark outline (default) or the foundation's coverage")
    p.add_argument("--detail", choices=("image", "shading", "both"), default="image",
                   help="bump from the image model (default), the foundation's shading, or both")
    p.add_argument("--greyscale", choices=("flat", "estimate"), default="flat",
                   help="a greyscale crop gets the flat map (default) or a grey-only estimate")
    p.add_argument("--occlusion", choices=("on", "off"), default="on",
                   help="find occluders and de-occlude the map, writing <name>_occluders.png "
                   "(default on; off: the map as estimated)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--name", help="output base name (default: the crop's name without extension)")
    p.set_defaults(func=_cmd_estimate)
