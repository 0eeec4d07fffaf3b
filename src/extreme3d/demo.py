"""`extreme3d demo` (what `make demo` runs): reconstruct a bundled photo with the open Surrey model.

Steps: get the Surrey Face Model files (from EXTREME3D_SFM_DIR when set, else downloaded) and
convert them into 3DMM_model/sfm_mod.h5 unless that file exists; write scikit-image's
`astronaut` photo to a temporary folder; run the batch with previews into ./demo_out.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

from extreme3d import Extreme3DError


def ensure_sfm_model(log: Callable[[str], None] = print) -> Path:
    """3DMM_model/sfm_mod.h5, fetched and converted first when missing."""
    from extreme3d.paths import model_dir
    from extreme3d.prepare.cli import SFM_MODEL_NAME
    from extreme3d.prepare.fetch import fetch_sfm
    from extreme3d.prepare.sfm import convert_sfm

    out = model_dir() / SFM_MODEL_NAME
    if out.is_file():
        log(f"model: {out} (already prepared)")
        return out
    log("model: fetching the Surrey Face Model (extreme3d fetch-models sfm)")
    src = fetch_sfm()
    log(f"model: converting {src} -> {out} (extreme3d prepare-model sfm)")
    return convert_sfm(src, out)


def write_demo_photo(folder: Path) -> Path:
    """Writes scikit-image's `astronaut` photo (public domain, NASA) as a JPEG into `folder`."""
    import cv2

    try:
        from skimage import data
    except ImportError as exc:
        msg = "the demo photo needs scikit-image (pip install scikit-image)"
        raise Extreme3DError(msg) from exc
    rgb = data.astronaut()
    path = folder / "astronaut.jpg"
    if not cv2.imwrite(str(path), rgb[:, :, ::-1]):
        raise Extreme3DError(f"{path}: cannot write the demo photo")
    return path


def run(args: argparse.Namespace) -> int:
    """Runs the demo and prints where the outputs and previews are."""
    from extreme3d.pipeline import BatchOptions, format_summary, run_batch

    model = args.model or ensure_sfm_model()
    out = Path(args.output_dir).absolute()
    with tempfile.TemporaryDirectory(prefix="extreme3d-demo-") as tmp:
        photos = [Path(p) for p in args.images] or [write_demo_photo(Path(tmp))]
        listing = Path(tmp) / "demo_list.txt"
        listing.write_text("".join(f"{p.absolute()}\n" for p in photos))
        summary = run_batch(BatchOptions(
            input_list=listing, output_dir=out, model_path=Path(model), cnn_dir=args.cnn_dir,
            device=args.device, preview=True, jobs=args.jobs, progress=not args.no_progress,
            formats=("ply", "obj"),
        ))
    print(format_summary(summary))
    for rec in summary.done:
        preview = out / "preview" / f"{rec.name}.png"
        print(f"{rec.name}: meshes in {out / '3D'} (textured OBJ: {rec.name}_final_frontal.obj), "
              f"preview {preview}, overlay {out / 'overlay' / (rec.name + '.png')}")
    return 0 if summary.done else 2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds `extreme3d demo`."""
    parser = subparsers.add_parser(
        "demo", help="reconstruct a bundled photo with the open Surrey model (make demo)",
        description=__doc__,
    )
    parser.add_argument("--output-dir", type=Path, default=Path("demo_out"),
                        help="output folder (default: ./demo_out)")
    parser.add_argument("--model", type=Path, default=None,
                        help="model .h5 to use instead of the Surrey model")
    parser.add_argument("--cnn-dir", type=Path, default=None, help="CNN folder (default ./CNN)")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="auto")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("images", nargs="*", help="photos to use instead of the bundled one")
    parser.set_defaults(func=run)
