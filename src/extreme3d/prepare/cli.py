"""Subcommands `extreme3d fetch-models` and `extreme3d prepare-model` (registered in cli.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from extreme3d.paths import BFM_MODEL_FILE, SFM_MODEL_FILE, model_dir

#: Default outputs of `prepare-model sfm` and `prepare-model bfm` (in 3DMM_model/).
SFM_MODEL_NAME = SFM_MODEL_FILE
BFM_MODEL_NAME = BFM_MODEL_FILE


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the fetch-models and prepare-model subcommands."""
    fetch = subparsers.add_parser(
        "fetch-models",
        help="get the open Surrey model files (sfm) or the BFM trimming structure (bfm-struct)",
        description="Copy (--from) or download model files, checking each file's sha256.",
    )
    fetch.add_argument(
        "what", choices=["sfm", "bfm-struct"],
        help="sfm: Surrey Face Model from eos v1.5.0 (default dest 3DMM_model/sfm); "
        "bfm-struct: mod_struct_expr.mat from the original project (default dest 3DMM_model)",
    )
    fetch.add_argument("--dest", type=Path, help="destination folder")
    fetch.add_argument(
        "--from", dest="source", type=Path,
        help="copy from this local folder instead of downloading (sfm: also env "
        "EXTREME3D_SFM_DIR)",
    )
    fetch.set_defaults(func=run_fetch)

    prep = subparsers.add_parser(
        "prepare-model",
        help="convert a morphable model into the BaselFaceModel_mod.h5 layout",
        description="Convert the Surrey model (sfm) or the Basel Face Model 2009 with the 3DDFA "
        "expressions (bfm) into the h5 model the pipeline reads.",
    )
    kinds = prep.add_subparsers(dest="kind", metavar="KIND", required=True)
    sfm = kinds.add_parser("sfm", help="the open Surrey Face Model (see `fetch-models sfm`)")
    sfm.add_argument("--src", type=Path, help="folder with the Surrey files (3DMM_model/sfm)")
    sfm.add_argument("--out", type=Path, help=f"output h5 (3DMM_model/{SFM_MODEL_NAME})")
    sfm.set_defaults(func=run_prepare_sfm)

    bfm = kinds.add_parser("bfm", help="Basel Face Model 2009 + 3DDFA Model_Expression.mat")
    bfm.add_argument("--bfm", type=Path, help="01_MorphableModel.mat (3DMM_model/)")
    bfm.add_argument("--expression", type=Path, help="Model_Expression.mat (3DMM_model/)")
    bfm.add_argument(
        "--struct", type=Path,
        help="mod_struct_expr.mat (3DMM_model/; see `fetch-models bfm-struct`)",
    )
    bfm.add_argument("--out", type=Path, help=f"output h5 (3DMM_model/{BFM_MODEL_NAME})")
    bfm.add_argument("--no-mat", action="store_true", help="do not also write the .mat copy")
    bfm.set_defaults(func=run_prepare_bfm)


def run_fetch(args: argparse.Namespace) -> int:
    """fetch-models: copy or download and verify the requested files."""
    from extreme3d.prepare import fetch

    if args.what == "sfm":
        dest = fetch.fetch_sfm(args.dest, args.source)
    else:
        dest = fetch.fetch_struct(args.dest, args.source)
    print(f"model files ready in {dest}")
    return 0


def run_prepare_sfm(args: argparse.Namespace) -> int:
    """prepare-model sfm: convert the Surrey files."""
    from extreme3d.prepare.fetch import default_sfm_dir
    from extreme3d.prepare.sfm import convert_sfm

    src = args.src or default_sfm_dir()
    out = convert_sfm(src, args.out or model_dir() / SFM_MODEL_NAME)
    print(f"wrote {out}")
    return 0


def run_prepare_bfm(args: argparse.Namespace) -> int:
    """prepare-model bfm: trim the BFM and add the 3DDFA expressions."""
    from extreme3d.prepare.bfm import convert_bfm

    d = model_dir()
    out = convert_bfm(
        args.bfm or d / "01_MorphableModel.mat",
        args.expression or d / "Model_Expression.mat",
        args.struct or d / "mod_struct_expr.mat",
        args.out or d / BFM_MODEL_NAME,
        write_mat=not args.no_mat,
    )
    print(f"wrote {out}" + ("" if args.no_mat else f" and {out.with_suffix('.mat')}"))
    return 0
