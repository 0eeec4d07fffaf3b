#!/usr/bin/env python3
"""Build BaselFaceModel_mod.h5 (and BaselFaceModel_mod.mat) in this folder, as the original
project's script of the same name did: run it here after putting 01_MorphableModel.mat
(Basel Face Model 2009), Model_Expression.mat (3DDFA) and mod_struct_expr.mat in this folder.

It is a thin wrapper of `extreme3d prepare-model bfm` (see README.md here for the options).
"""

import sys
from pathlib import Path

from extreme3d import Extreme3DError
from extreme3d.prepare.bfm import convert_bfm


def main() -> int:
    """Converts the three .mat files of the script's folder; prints one line on errors."""
    here = Path(__file__).resolve().parent
    try:
        out = convert_bfm(
            here / "01_MorphableModel.mat",
            here / "Model_Expression.mat",
            here / "mod_struct_expr.mat",
            here / "BaselFaceModel_mod.h5",
        )
    except Extreme3DError as exc:
        print(f"trimBaselFace: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out} and {out.with_suffix('.mat')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
