"""`python -m extreme3d.testBatchModel <inputList> <outputDir> [<landmarkDir>]`, `extreme3d batch`.

Same arguments and output tree as the original's demoCode/testBatchModel.py (imgs/, shape/,
bump/, 3D/, imList.txt), plus options; see docs/batch.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from extreme3d.cli import output_keys_type, run_module
from extreme3d.geometry import max_gap_type
from extreme3d.pipeline import (
    ALL_OUTPUTS,
    BUMP_SOURCES,
    DEFAULT_OUTPUTS,
    MESH_FORMATS,
    SHAPE_SOURCES,
    BatchOptions,
    format_summary,
    run_batch,
)

_outputs = output_keys_type(ALL_OUTPUTS, DEFAULT_OUTPUTS)


def _formats(text: str) -> tuple[str, ...]:
    """Parses --formats: comma-separated mesh formats among ply, obj, glb."""
    keys = tuple(k.strip().lower() for k in text.split(",") if k.strip())
    bad = [k for k in keys if k not in MESH_FORMATS]
    if bad or not keys:
        raise argparse.ArgumentTypeError(
            f"unknown mesh format {bad[0] if bad else text!r}; choose from "
            f"{', '.join(MESH_FORMATS)}"
        )
    return keys


def _decimate(text: str) -> float | str:
    """argparse type: "auto", "off" (-> 1.0) or a fraction in (0, 1] (decimate_setting)."""
    from extreme3d import Extreme3DError
    from extreme3d.decimate import decimate_setting

    try:
        value = decimate_setting(text)
    except Extreme3DError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    assert value is not None
    return value


def _ratio(text: str) -> float:
    """argparse type: a fraction in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {text}")
    return value


def _gpu_share(text: str) -> float:
    """A GPU share: a number > 0."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _positive(text: str) -> int:
    """A positive integer argument."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _texture_size(text: str) -> int:
    """--texture-size: an integer in 16..8192."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 16 <= value <= 8192:
        raise argparse.ArgumentTypeError(f"must be between 16 and 8192, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The batch command's arguments (shared by the module entry point and `extreme3d batch`)."""
    parser.add_argument("input_list", type=str,
                        help="text file (one image path per line), a folder of images or a "
                             "quoted glob pattern")
    parser.add_argument("output_dir", type=str,
                        help="output folder (created if missing); with --engine ray also any "
                             "fsspec URL (s3://bucket/out, memory://out)")
    parser.add_argument("landmark_dir", type=Path, nargs="?", default=None,
                        help="folder of <name>.pts files (68 points); default: dlib detection")
    parser.add_argument("--model", type=Path, default=None,
                        help="morphable model .h5 (default: 3DMM_model/BaselFaceModel_mod.h5)")
    parser.add_argument("--cnn-dir", type=Path, default=None,
                        help="folder with shape_model.{pth,py}, shape_mean.npz and "
                             "ckpt_109_grad.pth.tar (default: ./CNN)")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="auto",
                        help="torch device for the CNNs (default: auto)")
    parser.add_argument("--outputs", type=_outputs, default=DEFAULT_OUTPUTS,
                        help="comma-separated meshes to write in 3D/ ('all', 'default' = "
                             + ",".join(DEFAULT_OUTPUTS) + ")")
    parser.add_argument("--no-symmetry", dest="symmetry", action="store_false",
                        help="skip occlusion handling and soft symmetry (ends at withBump)")
    parser.add_argument("--occlusion", choices=("on", "off"), default="on",
                        help="find occluders (glasses, hands, ...), de-occlude the bump map and "
                             "mark them occluded for soft symmetry and colours (default on; "
                             "off: the original's behaviour)")
    parser.add_argument("--jobs", type=_positive, default=1,
                        help="worker processes for the fitting/geometry stage (default: 1)")
    parser.add_argument("--batch-size", type=_positive, default=4,
                        help="images per CNN batch (default: 4)")
    parser.add_argument("--shape-source", choices=SHAPE_SOURCES, default=None,
                        help="identity from the shape CNN or from the landmarks "
                             "(default: cnn when its files exist)")
    parser.add_argument("--bump-source", choices=BUMP_SOURCES, default=None,
                        help="bump map from the bump CNN, the photo or flat (default: cnn when "
                             "its weights exist, else photo if available, else flat)")
    parser.add_argument("--fit-mode", choices=("faithful", "best"), default="faithful",
                        help="pose fit as the original (faithful) or refined (best), with a "
                             "shape-CNN identity (shape source landmarks: the identity fit's pose)")
    parser.add_argument("--preview", action="store_true",
                        help="write preview/<name>.png: crop, shaded mesh frontal and posed")
    parser.add_argument("--threads", type=_positive, default=None,
                        help="torch CPU threads (default: the usable cores)")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bar")
    parser.add_argument("--colors", choices=("photo", "model", "none"), default=None,
                        help="per-vertex colours of the meshes: from the photo, the model's "
                             "texture, or none (default: model when it has a texture, else photo)")
    parser.add_argument("--formats", type=_formats, default=("ply",),
                        help="mesh formats in 3D/, comma-separated: ply (original layout), obj "
                             "(+ .mtl and .png texture from the photo), glb (default: ply)")
    parser.add_argument("--all-faces", action="store_true",
                        help="reconstruct every face of each photo, left to right, as "
                             "<name>_face<k> (default: the first face, as the original)")
    parser.add_argument("--no-overlay", dest="overlay", action="store_false",
                        help="do not write overlay/<name>.png (mesh and landmarks on the photo)")
    parser.add_argument("--no-params", dest="params", action="store_false",
                        help="do not write params/<name>.json (pose, camera, coefficients)")
    parser.add_argument("--texture-size", type=_texture_size, default=1024,
                        help="side of the OBJ/GLB textures in pixels, 16..8192 (default: 1024)")
    parser.add_argument("--trust-cnn-pickles", action="store_true",
                        help="allow loading pickled CNN files (the original's shape_model.pth is "
                        "a pickled module: loading it runs code from CNN/); only for files you "
                        "trust")
    parser.add_argument("--mesh", choices=("clean", "original"), default=None,
                        help="final mesh layout: clean (one connected, manifold, hole-free "
                             "surface) or original (sparse + dense + mirrored dense concatenated, "
                             "as the original wrote it); default: clean in OBJ/GLB files, "
                             "original in PLY files")
    parser.add_argument("--ply-binary", action="store_true",
                        help="write binary little-endian PLY files (default: the original's "
                             "ASCII layout)")
    parser.add_argument("--decimate", type=_decimate, default=None, metavar="off|auto|RATIO",
                        help="the clean final mesh files: default, the OBJ/GLB files simplified "
                             "within 0.03 mm (error-bounded: flat regions lose vertices, the "
                             "detail stays) and the PLY files full; auto: simplified in every "
                             "format; off: the full clean mesh everywhere; RATIO: keep this "
                             "fraction of the faces (quadric decimation, e.g. 0.25)")
    parser.add_argument("--max-gap", type=max_gap_type, default=None, metavar="MM",
                        help="registration depth-gap limit in mm (default: max(4, 3 median edge "
                             "lengths of the model), 10.35 for the Surrey model; 4 = the "
                             "original's)")
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local: this machine (--jobs worker processes); ray: a Ray "
                             "cluster (pip install 'extreme3d[ray]'; docs/scale.md)")
    parser.add_argument("--address", default=None,
                        help="with --engine ray: the cluster to join (e.g. auto, "
                             "ray://head:10001; default: start a local one)")
    parser.add_argument("--num-cpus", type=_positive, default=None,
                        help="with --engine ray: CPUs of the local cluster (default: all)")
    parser.add_argument("--cnn-gpus", type=_gpu_share, default=None,
                        help="with --engine ray: GPU share of each CNN actor, e.g. 0.5 "
                             "(default: the CNNs run on CPU)")


def options_from_args(args: argparse.Namespace) -> BatchOptions:
    """BatchOptions from parsed arguments."""
    output = args.output_dir if "://" in args.output_dir else Path(args.output_dir)
    return BatchOptions(
        input_list=Path(args.input_list), output_dir=output, landmark_dir=args.landmark_dir,
        model_path=args.model, cnn_dir=args.cnn_dir, device=args.device,
        outputs=tuple(args.outputs), symmetry=args.symmetry, jobs=args.jobs,
        batch_size=args.batch_size, preview=args.preview, shape_source=args.shape_source,
        bump_source=args.bump_source, fit_mode=args.fit_mode, progress=args.progress,
        threads=args.threads, colors=args.colors, formats=tuple(args.formats),
        all_faces=args.all_faces, overlay=args.overlay, params=args.params,
        texture_size=args.texture_size, mesh=args.mesh, max_gap=args.max_gap,
        ply_binary=args.ply_binary, decimate=args.decimate,
        occlusion=args.occlusion == "on",
        trust_cnn_pickles=args.trust_cnn_pickles,
    )


def run(args: argparse.Namespace) -> int:
    """Runs the batch; exit code 0 when at least one image was done (or the list was empty)."""
    opts = options_from_args(args)
    if args.engine == "ray":
        from extreme3d.engines.ray_engine import RayOptions, run_ray_batch

        summary = run_ray_batch(opts, RayOptions(args.address, args.num_cpus, args.cnn_gpus))
    else:
        if isinstance(opts.output_dir, str):
            from extreme3d import Extreme3DError

            raise Extreme3DError(f"{opts.output_dir}: --engine local writes to a local folder; "
                                 "use --engine ray for a URL")
        summary = run_batch(opts)
    # undecodable (non-UTF-8) file names are shown escaped, never a UnicodeEncodeError
    print(format_summary(summary).encode("utf-8", "backslashreplace").decode("utf-8"))
    total = len(summary.images)
    return 0 if summary.done or total == 0 else 2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds `extreme3d batch`."""
    parser = subparsers.add_parser(
        "batch", help="reconstruct every image of a list (the original's testBatchModel.py)",
        description=__doc__,
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def main(argv: list[str] | None = None) -> int:
    """`python -m extreme3d.testBatchModel ...`: the same as `extreme3d batch ...`."""
    return run_module(
        "python -m extreme3d.testBatchModel", __doc__, add_arguments, run, argv,
        usage="%(prog)s <inputList> <outputDir> [<landmarkDir>] [options]",
    )


if __name__ == "__main__":
    sys.exit(main())
