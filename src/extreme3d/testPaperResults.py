"""`python -m extreme3d.testPaperResults`, `extreme3d paper`: steps 4-6 on the paper data.

As the original's testPaperResults.sh: for every crop `imgs/<name>.png` with `<name>.pts` in the
data folder, fit pose + expression, then the geometry stages (bump and mask from the bump folder,
soft symmetry on), and write `3D/<name>_<type>.ply`. Identity: `--alphas DIR` reads
`DIR/<name>.ply.alpha` (any model); with a BFM-sized model (99 shape coefficients) the paper's
`shape/<name>.ply.alpha` are used; otherwise the identity is fitted to the landmarks.
One image's failure is reported and the others continue. See docs/fitting.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from extreme3d import Extreme3DError
from extreme3d.cli import output_keys_type, run_module
from extreme3d.morphable import MorphableModel
from extreme3d.stages.face import SYMMETRY_OUTPUTS
from extreme3d.stages.models import default_model_path, load_morphable
from extreme3d.stages.outputs import ALL_OUTPUTS, DEFAULT_OUTPUTS

if TYPE_CHECKING:
    from extreme3d.fitting import FitResult
    from extreme3d.mesh import Mesh

BFM_NUM_SHAPE = 99


@dataclass
class PaperImage:
    """Outcome of one paper image: status, written files, per-stage seconds and the fit."""

    name: str
    ok: bool = False
    reason: str | None = None
    identity: str = ""  # alphas | paper | fitted
    outputs: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    geometry_ms: dict[str, float] = field(default_factory=dict)
    rmse_px: float = float("nan")
    fit: FitResult | None = None
    meshes: dict[str, Mesh] | None = None


def default_data_dir() -> Path:
    """The paper data folder: <shared>/data/paper."""
    from extreme3d.paths import shared_dir

    return shared_dir() / "data" / "paper"


def list_images(data: Path) -> list[str]:
    """Names of the crops in data/imgs that have a .pts file, sorted."""
    imgs = data / "imgs"
    if not imgs.is_dir():
        raise Extreme3DError(f"{imgs}: paper image folder not found (pass --data DIR)")
    return sorted(p.stem for p in imgs.glob("*.png") if p.with_suffix(".pts").is_file())


def _read_gray(path: Path) -> np.ndarray:
    """A grey 8-bit image; Extreme3DError naming the file when unreadable."""
    import cv2

    if not path.is_file():
        raise Extreme3DError(f"{path}: image not found")
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise Extreme3DError(f"{path}: cannot read the image")
    return img


def identity_for(
    model: MorphableModel, name: str, data: Path, alphas: Path | None, landmarks: np.ndarray
) -> tuple[np.ndarray, str]:
    """(alpha, source) for one image: --alphas file, the paper's BFM file, or a landmark fit."""
    from extreme3d.fitting import fit_identity
    from extreme3d.io.pts import read_coefficients

    if alphas is not None:
        return read_coefficients(alphas / f"{name}.ply.alpha", model.num_shape), "alphas"
    if model.num_shape == BFM_NUM_SHAPE:
        return read_coefficients(data / "shape" / f"{name}.ply.alpha", BFM_NUM_SHAPE), "paper"
    return fit_identity(model, landmarks).alpha, "fitted"


def run_image(
    model: MorphableModel, name: str, data: Path, out: Path | None, bump_dir: str = "bump_blended",
    symmetry: bool = True, alphas: Path | None = None, fit_mode: str = "faithful",
    outputs: tuple[str, ...] = DEFAULT_OUTPUTS, keep: bool = False,
) -> PaperImage:
    """Fit + geometry (+ writing when `out` is set) of one paper image; never raises."""
    from extreme3d.fitting import fit_pose_expression
    from extreme3d.geometry import run_geometry
    from extreme3d.io.pts import read_pts

    rec = PaperImage(name)
    try:
        t0 = time.perf_counter()
        landmarks = read_pts(data / "imgs" / f"{name}.pts").astype(np.float32)
        bump = _read_gray(data / bump_dir / f"{name}_bump.png")
        mask_path = data / bump_dir / f"{name}_mask.png"
        mask = _read_gray(mask_path) if mask_path.is_file() else np.full_like(bump, 255)
        rec.seconds["read"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        alpha, rec.identity = identity_for(model, name, data, alphas, landmarks)
        rec.seconds["identity"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        fit = fit_pose_expression(model, landmarks, alpha, mode=fit_mode)
        rec.seconds["fit"] = time.perf_counter() - t0
        rec.rmse_px = fit.rmse_px

        wanted = tuple(k for k in outputs if symmetry or k not in SYMMETRY_OUTPUTS)
        t0 = time.perf_counter()
        geo = run_geometry(model, alpha, fit.expr, fit.rvec, fit.tvec, bump, mask,
                           symmetry=symmetry, outputs=wanted)
        rec.seconds["geometry"] = time.perf_counter() - t0
        rec.geometry_ms = dict(geo.timings_ms)

        t0 = time.perf_counter()
        if out is not None:
            (out / "3D").mkdir(parents=True, exist_ok=True)
            for key in wanted:
                if key not in geo.meshes:
                    raise Extreme3DError(f"the geometry stage produced no {key} mesh")
                path = out / "3D" / f"{name}_{key}.ply"
                geo.meshes[key].save(path)
                rec.outputs.append(str(path))
        rec.seconds["write"] = time.perf_counter() - t0
        if keep:
            rec.fit, rec.meshes = fit, geo.meshes
        rec.ok = True
    except Exception as exc:  # noqa: BLE001 - one image's failure must not stop the others
        rec.reason = str(exc) if isinstance(exc, Extreme3DError) else f"{type(exc).__name__}: {exc}"
    return rec


#: Parses --outputs: comma-separated mesh keys, 'default' or 'all'.
_outputs = output_keys_type(ALL_OUTPUTS, DEFAULT_OUTPUTS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the paper command."""
    parser.add_argument("--data", type=Path, default=None,
                        help="paper data folder (default: <shared>/data/paper)")
    parser.add_argument("--model", type=Path, default=None,
                        help="morphable model .h5 (default: 3DMM_model/BaselFaceModel_mod.h5, "
                        "else sfm_mod.h5)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (3D/ inside)")
    parser.add_argument("--bump-dir", default="bump_blended",
                        choices=("bump_blended", "bump_original"),
                        help="bump and mask folder inside the data folder (default: bump_blended)")
    parser.add_argument("--no-symmetry", action="store_true", help="turn soft symmetry off")
    parser.add_argument("--alphas", type=Path, default=None,
                        help="folder of <name>.ply.alpha identity files for the model")
    parser.add_argument("--fit", default="faithful", choices=("faithful", "best"),
                        help="pose/expression fit mode (default: faithful)")
    parser.add_argument("--outputs", type=_outputs, default=DEFAULT_OUTPUTS,
                        help="comma-separated meshes, 'default' (the original's four) or 'all'")
    parser.add_argument("--names", nargs="*", default=None, help="only these image names")


def run(args: argparse.Namespace) -> int:
    """Runs every paper image; exit code 0 when all succeeded, 2 when some failed."""
    data = args.data or default_data_dir()
    names = list_images(data)
    if args.names:
        missing = sorted(set(args.names) - set(names))
        if missing:
            raise Extreme3DError(f"{data / 'imgs'}: no image named {missing[0]!r}")
        names = [n for n in names if n in set(args.names)]
    if args.alphas is not None and not args.alphas.is_dir():
        raise Extreme3DError(f"{args.alphas}: --alphas folder not found")
    model = load_morphable(args.model or default_model_path())
    (args.out / "3D").mkdir(parents=True, exist_ok=True)
    failed = 0
    for i, name in enumerate(names, 1):
        rec = run_image(model, name, data, args.out, args.bump_dir, not args.no_symmetry,
                        args.alphas, args.fit, args.outputs)
        if rec.ok:
            total = sum(rec.seconds.values())
            print(f"[{i}/{len(names)}] {name}: {len(rec.outputs)} meshes, identity {rec.identity}, "
                  f"landmark RMSE {rec.rmse_px:.2f} px, {total:.2f} s")
        else:
            failed += 1
            print(f"[{i}/{len(names)}] {name}: FAILED: {rec.reason}", file=sys.stderr)
    print(f"{len(names) - failed}/{len(names)} images done, meshes in {args.out / '3D'}")
    return 0 if failed == 0 else 2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds `extreme3d paper`."""
    parser = subparsers.add_parser(
        "paper", help="run the fit and geometry stages on the paper data (testPaperResults.sh)",
        description=__doc__,
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def main(argv: list[str] | None = None) -> int:
    """`python -m extreme3d.testPaperResults ...`: the same as `extreme3d paper ...`."""
    return run_module("python -m extreme3d.testPaperResults", __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
