"""Batch orchestration of the five stages (PIPELINE.md section 0), reusable from Python.

Stages per image: ``prepare`` (read, landmarks, 500x500 crop), ``shape_cnn`` (identity
coefficients and the coloured foundation), ``bump_cnn`` (bump map and mask), ``core`` (pose and
expression fit, dense mesh, occlusion handling and soft symmetry) and ``write`` (every file
written). Images go through prepare and the two CNNs in batches in this process; the core stage
runs here (``jobs=1``) or in worker processes that each load the morphable model once.

Fallbacks (chosen once per run, printed, and recorded per image in summary.json):

- shape ``cnn``: the user's shape CNN (CNN/shape_model.*); ``landmarks``: no such files, the
  identity is fitted to the 68 landmarks (extreme3d.fitting.fit_identity).
- bump ``cnn``: the bump U-Net (CNN/ckpt_109_grad.pth.tar); ``photo``: a bump map estimated
  from the photo itself (extreme3d.bump_photo, when installed); ``flat``: no detail (all 127)
  with the mask of the rendered foundation.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from extreme3d import Extreme3DError, __version__
from extreme3d.geometry import MESH_NAMES
from extreme3d.io.atomic import atomic_write_png, atomic_write_text
from extreme3d.paths import BFM_MODEL_FILE, SFM_MODEL_FILE


def _grouped_by_model(names: Sequence[str]) -> tuple[str, ...]:
    """Mesh keys grouped by model in their first-seen order, frontal before aligned."""
    models = list(dict.fromkeys(k.rsplit("_", 1)[0] for k in names))
    return tuple(sorted(names, key=lambda k: (models.index(k.rsplit("_", 1)[0]),
                                              k.endswith("_aligned"))))


#: Every mesh the core stage can write, `3D/<name>_<key>.ply` (geometry.MESH_NAMES in the
#: order of docs/batch.md and --help).
ALL_OUTPUTS = _grouped_by_model(MESH_NAMES)
#: The original's default set.
DEFAULT_OUTPUTS = ("foundation_frontal", "foundation_aligned", "withBump_aligned", "final_frontal")
#: Meshes that need soft symmetry (not produced with symmetry off).
SYMMETRY_OUTPUTS = ("sparse_full_frontal", "final_frontal")
STAGES = ("prepare", "shape_cnn", "bump_cnn", "core", "write")
SHAPE_SOURCES = ("cnn", "landmarks")
#: Mesh file formats of the 3D/ outputs (--formats).
MESH_FORMATS = ("ply", "obj", "glb")
BUMP_SOURCES = ("cnn", "photo", "flat")
#: Side of the bump maps and the margin between them and the 500x500 crop (PIPELINE.md s. 5).
BUMP_SIZE = 512
BUMP_MARGIN = 6
#: Bump value meaning "no displacement" (the 'flat' source; workers need no torch for it).
FLAT_BUMP = 127


# --------------------------------------------------------------------------- options, records


@dataclass
class BatchOptions:
    """Everything a batch run needs; defaults reproduce the original's testBatchModel.py."""

    input_list: Path
    output_dir: Path
    landmark_dir: Path | None = None
    model_path: Path | None = None  # default: paths.model_dir() / BaselFaceModel_mod.h5
    cnn_dir: Path | None = None  # default: paths.cnn_dir()
    device: str = "auto"
    outputs: tuple[str, ...] = DEFAULT_OUTPUTS
    symmetry: bool = True
    jobs: int = 1
    batch_size: int = 4
    preview: bool = False
    shape_source: str | None = None  # None: cnn when its files exist, else landmarks
    bump_source: str | None = None  # None: cnn if weights, else photo if available, else flat
    fit_mode: str = "faithful"
    progress: bool = True
    threads: int | None = None
    colors: str | None = None  # photo | model | none (None: model if it has a texture, else photo)
    formats: tuple[str, ...] = ("ply",)  # mesh formats in 3D/: ply, obj (+ .mtl/.png), glb
    all_faces: bool = False  # every face of a photo (<name>_face<k>, left to right)
    overlay: bool = True  # overlay/<name>.png: the final mesh over the photo, with landmarks
    params: bool = True  # params/<name>.json: pose, camera, coefficients, landmarks, timings
    texture_size: int = 1024  # side of the baked OBJ/GLB textures (px)


@dataclass
class ImageRecord:
    """What happened to one list entry (one element of summary.json's "images")."""

    name: str
    path: str
    line: int
    status: str = "pending"  # done | failed
    stage: str | None = None  # stage that failed
    reason: str | None = None
    shape_source: str | None = None
    bump_source: str | None = None
    num_faces: int | None = None
    note: str | None = None
    outputs: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    def fail(self, stage: str, reason: str) -> None:
        """Marks the image failed at `stage` with a one-line reason."""
        self.status, self.stage, self.reason = "failed", stage, reason.splitlines()[0]


@dataclass
class BatchSummary:
    """Result of a run; `to_json` is what summary.json holds."""

    options: dict[str, Any]
    shape_source: str
    bump_source: str
    images: list[ImageRecord]
    list_problems: list[dict[str, Any]]
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def done(self) -> list[ImageRecord]:
        """Images with every requested output written."""
        return [r for r in self.images if r.status == "done"]

    @property
    def failed(self) -> list[ImageRecord]:
        """Images that stopped at some stage."""
        return [r for r in self.images if r.status != "done"]

    def seconds_per_image(self) -> dict[str, float]:
        """Mean seconds per finished image for each stage, and `total` (wall / images)."""
        done = self.done
        out = {s: (sum(r.seconds[s] for r in done) / len(done) if done else 0.0) for s in STAGES}
        out["total"] = self.wall_s / len(done) if done else 0.0
        return out

    def to_json(self) -> dict[str, Any]:
        """The summary.json document."""
        return {
            "extreme3d_version": __version__,
            "options": self.options,
            "shape_source": self.shape_source,
            "bump_source": self.bump_source,
            "images_total": len(self.images) + len(self.list_problems),
            "images_done": len(self.done),
            "images_failed": len(self.failed) + len(self.list_problems),
            "wall_s": round(self.wall_s, 3),
            "seconds_per_image": {k: round(v, 4) for k, v in self.seconds_per_image().items()},
            "failed": [
                {"name": r.name, "path": r.path, "line": r.line, "stage": r.stage,
                 "reason": r.reason}
                for r in self.failed
            ] + self.list_problems,
            "notes": self.notes,
            "images": [asdict(r) for r in self.images],
        }


# --------------------------------------------------------------------------- small helpers


def _now() -> float:
    return time.perf_counter()


def default_model_path() -> Path:
    """3DMM_model/BaselFaceModel_mod.h5, else 3DMM_model/sfm_mod.h5 when only the Surrey model
    was prepared (EXTREME3D_MODEL_DIR overrides the folder)."""
    from extreme3d.paths import model_dir

    bfm = model_dir() / BFM_MODEL_FILE
    sfm = model_dir() / SFM_MODEL_FILE
    return sfm if (not bfm.is_file() and sfm.is_file()) else bfm


def check_model_path(path: Path) -> Path:
    """`path` if it exists, else the one-line error naming it and the command that makes it."""
    if not path.is_file():
        raise Extreme3DError(
            f"morphable model not found: {path} (create it with `extreme3d fetch-models sfm && "
            f"extreme3d prepare-model sfm`, or `extreme3d prepare-model bfm`, or pass --model)"
        )
    return path


def load_morphable(path: Path) -> Any:
    """The MorphableModel of `path` (errors name the file)."""
    from extreme3d.morphable import load_model

    return load_model(check_model_path(path))


def photo_bump_available() -> bool:
    """True when the 'photo' bump source (extreme3d.bump_photo) is installed."""
    import importlib.util

    return importlib.util.find_spec("extreme3d.bump_photo") is not None


def choose_shape_source(requested: str | None, cnn_dir: Path) -> str:
    """'cnn' or 'landmarks' (explicit choice checked; None = cnn when its files exist)."""
    from extreme3d.models.files import has_shape_cnn, shape_files

    if requested is None:
        return "cnn" if has_shape_cnn(cnn_dir) else "landmarks"
    if requested not in SHAPE_SOURCES:
        raise Extreme3DError(f"unknown shape source {requested!r} (use {', '.join(SHAPE_SOURCES)})")
    if requested == "cnn":
        for path in shape_files(cnn_dir):
            if not path.is_file():
                raise Extreme3DError(f"shape CNN file not found: {path}")
    return requested


def choose_bump_source(requested: str | None, cnn_dir: Path) -> str:
    """'cnn', 'photo' or 'flat' (None = cnn if the weights exist, else photo if available)."""
    from extreme3d.models.files import bump_weights

    weights = bump_weights(cnn_dir)
    if requested is None:
        if weights.is_file():
            return "cnn"
        return "photo" if photo_bump_available() else "flat"
    if requested not in BUMP_SOURCES:
        raise Extreme3DError(f"unknown bump source {requested!r} (use {', '.join(BUMP_SOURCES)})")
    if requested == "cnn" and not weights.is_file():
        raise Extreme3DError(f"bump CNN weights not found: {weights}")
    if requested == "photo" and not photo_bump_available():
        raise Extreme3DError("bump source 'photo' needs extreme3d.bump_photo, not installed")
    return requested


def describe_sources(shape: str, bump: str, cnn_dir: Path) -> list[str]:
    """One line per source decision (and why a fallback is used), printed at the start."""
    from extreme3d.models.files import BUMP_WEIGHTS, bump_weights, has_shape_cnn, shape_files

    lines = []
    if shape == "cnn":
        lines.append(f"shape: cnn ({shape_files(cnn_dir)[0]})")
    else:
        why = "requested" if has_shape_cnn(cnn_dir) else f"no shape CNN in {cnn_dir}"
        lines.append(f"shape: landmarks ({why}: identity fitted to the 68 landmarks)")
    weights = bump_weights(cnn_dir)
    has_bump = weights.is_file()
    why = "requested" if has_bump else f"no {BUMP_WEIGHTS} in {cnn_dir}"
    if bump == "cnn":
        lines.append(f"bump: cnn ({weights})")
    elif bump == "photo":
        lines.append(f"bump: photo ({why}: bump map estimated from the photo, "
                     f"extreme3d.bump_photo)")
    else:
        lines.append(f"bump: flat ({why}: no surface detail; mask of the rendered foundation)")
    return lines


# --------------------------------------------------------------------------- prepare stage


@dataclass
class Prepared:
    """A prepared image: 500x500 BGR crop and its 68 landmarks (crop pixels)."""

    crop: np.ndarray
    landmarks: np.ndarray
    num_faces: int | None
    original_landmarks: np.ndarray | None = None  # photo pixels (crop box, overlay)
    beta: np.ndarray | None = None  # texture coefficients of the shape CNN ('model' colours)
    face_index: int = 0  # k of <name>_face<k> with --all-faces


def prepare_image(
    image_path: Path, name: str, landmark_dir: Path | None, out_dir: Path, rec: ImageRecord
) -> Prepared:
    """Stage 1 via extreme3d.prepare_images: crop + landmarks, writes imgs/<name>.png, .pts and
    _detect.png; the time spent writing is counted as 'write'."""
    from extreme3d import prepare_images

    t0 = _now()
    res = prepare_images.prepare_image(image_path, out_dir, landmark_dir, name=name)
    elapsed = _now() - t0
    rec.seconds["prepare"] += elapsed
    rec.outputs += [f"imgs/{name}.png", f"imgs/{name}.pts", f"imgs/{name}_detect.png"]
    return Prepared(np.ascontiguousarray(res.crop), np.asarray(res.landmarks, np.float64),
                    res.num_faces, np.asarray(res.original_landmarks, np.float64))


def prepare_faces(
    image_path: Path, name: str, landmark_dir: Path | None, out_dir: Path, rec: ImageRecord
) -> list[tuple[str, Prepared]]:
    """Stage 1 with --all-faces: every face (left to right) as (<name>_face<k>, Prepared), via
    extreme3d.api.prepare_all_faces; writes imgs/<name>_face<k>.png, .pts, _detect.png."""
    from extreme3d.api import prepare_all_faces

    t0 = _now()
    faces = prepare_all_faces(image_path, out_dir, landmark_dir, name=name)
    rec.seconds["prepare"] += _now() - t0
    return [(f.name, Prepared(np.ascontiguousarray(f.crop), np.asarray(f.landmarks, np.float64),
                              f.num_faces, np.asarray(f.original_landmarks, np.float64),
                              face_index=k))
            for k, f in enumerate(faces)]


# --------------------------------------------------------------------------- core stage


@dataclass
class CoreTask:
    """Input of the core stage for one image (pickled to a worker process)."""

    index: int
    name: str
    out_dir: str
    landmarks: np.ndarray
    alpha: np.ndarray
    bump: np.ndarray | None  # None: make it in the core stage (photo / flat source)
    mask: np.ndarray | None
    bump_source: str
    outputs: tuple[str, ...]
    symmetry: bool
    fit_mode: str
    crop: np.ndarray | None  # for the photo bump source, colours, textures and the preview
    preview: bool
    image_path: str | None = None  # the photo (overlay)
    original_landmarks: np.ndarray | None = None  # photo pixels (crop box)
    beta: np.ndarray | None = None  # texture coefficients ('model' colours)
    colors: str = "none"
    formats: tuple[str, ...] = ("ply",)
    overlay: bool = False
    params: bool = False
    texture_size: int = 1024
    shape_source: str | None = None
    landmark_source: str = "dlib"
    face_index: int = 0


@dataclass
class CoreResult:
    """What the core stage reports back for one image."""

    index: int
    ok: bool
    reason: str | None
    outputs: list[str]
    seconds: dict[str, float]
    bump_source: str | None = None  # the source actually used, when decided here
    note: str | None = None  # e.g. why the photo source fell back to flat


_WORKER_MODEL: Any = None


def _init_worker(model_path: str) -> None:
    """Process-pool initializer: loads the morphable model once per worker."""
    global _WORKER_MODEL
    _WORKER_MODEL = load_morphable(Path(model_path))


def _worker_run(task: CoreTask) -> CoreResult:
    """Runs the core stage in a worker with its preloaded model."""
    return run_core(_WORKER_MODEL, task)


def _field(obj: Any, name: str) -> Any:
    """Attribute or dict item `name` of a result object."""
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


def foundation_mask(model: Any, alpha: np.ndarray, fit: Any) -> np.ndarray:
    """512x512 mask (255 where the posed foundation covers the crop, shifted by the margin)."""
    from extreme3d.render import render

    verts = model.shape(alpha=alpha, expr=_field(fit, "expr"))
    _, depth = render(verts, model.faces_fill, _field(fit, "rvec"), _field(fit, "tvec"))
    mask = np.zeros((BUMP_SIZE, BUMP_SIZE), np.uint8)
    h, w = depth.shape
    mask[BUMP_MARGIN : BUMP_MARGIN + h, BUMP_MARGIN : BUMP_MARGIN + w][depth < 1.0] = 255
    return mask


def photo_bump_info(
    crop: np.ndarray, landmarks: np.ndarray, model: Any, fit: Any
) -> tuple[np.ndarray, np.ndarray, str, str | None]:
    """(bump, mask, source, message) from extreme3d.bump_photo: source is 'photo', or 'flat'
    when the estimator fell back to a flat map (message says why)."""
    from extreme3d import bump_photo

    out = bump_photo.estimate_bump(crop, landmarks, fit=fit, model=model)
    bump, mask = out[0], out[1]
    info = out[2] if len(out) > 2 else None
    source = getattr(info, "source", "photo") or "photo"
    message = getattr(info, "message", None) or None
    return np.asarray(bump, np.uint8), np.asarray(mask, np.uint8), source, message


def photo_bump(crop: np.ndarray, landmarks: np.ndarray, model: Any, fit: Any) -> tuple:
    """(bump, mask) 512x512 uint8 from extreme3d.bump_photo (the 'photo' source)."""
    bump, mask, _, _ = photo_bump_info(crop, landmarks, model, fit)
    return bump, mask


def run_core(model: Any, task: CoreTask) -> CoreResult:
    """Fit, geometry and mesh writing for one image; never raises (failures are reported)."""
    secs = {"bump_cnn": 0.0, "core": 0.0, "write": 0.0}
    written: list[str] = []
    out = Path(task.out_dir)
    used, note = task.bump_source, None
    try:
        from extreme3d.api import TWINS
        from extreme3d.fitting import fit_pose_expression
        from extreme3d.geometry import run_geometry

        t0 = _now()
        fit = fit_pose_expression(model, task.landmarks, task.alpha, mode=task.fit_mode)
        secs["core"] += _now() - t0
        bump, mask = task.bump, task.mask
        used, note = task.bump_source, None
        if bump is None:
            t0 = _now()
            if task.bump_source == "photo":
                try:
                    bump, mask, used, note = photo_bump_info(
                        task.crop, task.landmarks, model, fit
                    )
                except Exception as exc:  # noqa: BLE001 - the estimator failing: go flat
                    used, note = "flat", f"photo bump estimator failed ({_reason(exc)}): flat used"
            if bump is None:
                bump = np.full((BUMP_SIZE, BUMP_SIZE), FLAT_BUMP, np.uint8)
                mask = foundation_mask(model, task.alpha, fit)
            secs["bump_cnn"] += _now() - t0
            t0 = _now()
            atomic_write_png(out / "bump" / f"{task.name}_bump.png", bump)
            atomic_write_png(out / "bump" / f"{task.name}_mask.png", mask)
            written += [f"bump/{task.name}_bump.png", f"bump/{task.name}_mask.png"]
            secs["write"] += _now() - t0
        wanted = tuple(k for k in task.outputs if task.symmetry or k not in SYMMETRY_OUTPUTS)
        need = set(wanted)
        need |= {TWINS[k] for k in wanted if k in TWINS and task.crop is not None}
        if task.preview:
            need.add("final_frontal" if task.symmetry else "withBump_frontal")
        t0 = _now()
        geo = run_geometry(
            model, task.alpha, _field(fit, "expr"), _field(fit, "rvec"), _field(fit, "tvec"),
            bump, mask, symmetry=task.symmetry, outputs=tuple(k for k in ALL_OUTPUTS if k in need),
        )
        secs["core"] += _now() - t0
        meshes = _field(geo, "meshes")
        t0 = _now()
        for key in wanted:
            if key not in meshes:
                raise Extreme3DError(f"the geometry stage produced no {key} mesh")
        if task.crop is not None:
            from extreme3d.api import write_face_outputs

            result, files = write_face_outputs(
                model, out, task.name, crop=task.crop, landmarks_crop=task.landmarks,
                alpha=task.alpha, fit=fit, bump=bump, mask=mask, meshes=meshes, outputs=wanted,
                landmarks=task.original_landmarks, image_path=task.image_path, beta=task.beta,
                sources={"landmarks": task.landmark_source, "shape": task.shape_source or "",
                         "bump": used},
                colors=task.colors, formats=task.formats, symmetry=task.symmetry,
                overlay=task.overlay, params=task.params, texture_size=task.texture_size,
                timings={"core": secs["core"], "bump": secs["bump_cnn"]},
                index=task.face_index,
            )
            meshes = dict(result.meshes)
            written += files
        else:
            for key in wanted:
                path = out / "3D" / f"{task.name}_{key}.ply"
                meshes[key].save(path)
                written.append(str(path.relative_to(out)))
        if task.preview:
            from extreme3d.preview import write_preview

            mesh = meshes.get("final_frontal") or meshes.get("withBump_frontal")
            ppath = out / "preview" / f"{task.name}.png"
            write_preview(ppath, task.crop, mesh, _field(fit, "rvec"), _field(fit, "tvec"))
            written.append(str(ppath.relative_to(out)))
        secs["write"] += _now() - t0
        return CoreResult(task.index, True, None, written, secs, used, note)
    except Exception as exc:  # noqa: BLE001 - one image's failure must not stop the batch
        reason = str(exc) if isinstance(exc, Extreme3DError) else f"{type(exc).__name__}: {exc}"
        if os.environ.get("EXTREME3D_DEBUG"):
            traceback.print_exc()
        return CoreResult(task.index, False, reason, written, secs, used, note)


# --------------------------------------------------------------------------- the batch


class _Progress:
    """tqdm progress bar on stderr (only when it is a terminal), with message printing that
    keeps the bar intact."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="img", file=sys.stderr, dynamic_ncols=True)

    def write(self, message: str) -> None:
        if self.bar is not None:
            self.bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr)

    def update(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def grow(self, n: int = 1) -> None:
        """More items than planned (several faces in one photo)."""
        if self.bar is not None:
            self.bar.total += n
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), max(1, size))]


def _pool(jobs: int, model_path: Path) -> cf.ProcessPoolExecutor:
    """Process pool for the core stage; each worker loads the model once."""
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    return cf.ProcessPoolExecutor(
        max_workers=jobs, mp_context=ctx, initializer=_init_worker, initargs=(str(model_path),)
    )


#: Reason recorded for an image whose core stage killed its worker process.
CRASH_REASON = "the core stage crashed its worker process (native crash); image skipped"


class _CorePool:
    """Worker processes running the core stage; survives a worker killed by a native crash
    (the tasks in flight are re-run one at a time to find the one that crashes)."""

    def __init__(
        self, jobs: int, model_path: Path, finish: Callable[[CoreResult], None],
        worker: Callable[[CoreTask], CoreResult] = _worker_run,
    ) -> None:
        self.jobs, self.model_path, self.finish, self.worker = jobs, model_path, finish, worker
        self.pool = _pool(jobs, model_path)
        self.pending: dict[cf.Future, CoreTask] = {}

    def submit(self, task: CoreTask) -> None:
        """Queues a task; blocks while more than 2 x jobs tasks are in flight."""
        self.pending[self.pool.submit(self.worker, task)] = task
        self.collect(block=False, limit=2 * self.jobs)

    def collect(self, block: bool, limit: int = 0) -> None:
        """Reports finished tasks; waits until at most `limit` remain (all when `block`)."""
        while self.pending:
            if block or len(self.pending) > limit:
                done, _ = cf.wait(list(self.pending), return_when=cf.FIRST_COMPLETED)
            else:
                done = {f for f in self.pending if f.done()}
                if not done:
                    return
            lost: list[CoreTask] = []
            for fut in done:
                task = self.pending.pop(fut)
                try:
                    self.finish(fut.result())
                except BrokenProcessPool:
                    lost.append(task)
                except Exception as exc:  # noqa: BLE001 - e.g. a task that cannot be pickled
                    self.finish(CoreResult(task.index, False, _reason(exc), [], {}))
            if lost:
                lost += list(self.pending.values())  # a broken pool loses every task
                self.pending.clear()
                self._isolate(sorted(lost, key=lambda t: t.index))

    def _restart(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = _pool(self.jobs, self.model_path)

    def _isolate(self, tasks: list[CoreTask]) -> None:
        """Re-runs `tasks` one at a time in a fresh pool; one that crashes again fails."""
        self._restart()
        for task in tasks:
            try:
                self.finish(self.pool.submit(self.worker, task).result())
            except BrokenProcessPool:
                self.finish(CoreResult(task.index, False, CRASH_REASON, [], {}))
                self._restart()

    def close(self) -> None:
        """Stops the workers (after `collect(block=True)` nothing is pending)."""
        self.pool.shutdown(wait=True, cancel_futures=True)


def run_batch(
    opts: BatchOptions, log: Callable[[str], None] | None = None
) -> BatchSummary:
    """Runs the whole batch and writes summary.json; per-image failures are recorded, not raised.

    Raises Extreme3DError only for problems that stop every image (no model, bad options).
    """
    from extreme3d.naming import read_input_list
    from extreme3d.paths import cnn_dir as default_cnn_dir

    start = _now()
    cnn_dir = Path(opts.cnn_dir) if opts.cnn_dir else default_cnn_dir()
    model_path = check_model_path(Path(opts.model_path or default_model_path()))
    bad_formats = [f for f in opts.formats if f not in MESH_FORMATS]
    if bad_formats:
        raise Extreme3DError(
            f"unknown mesh format {bad_formats[0]!r} (use {', '.join(MESH_FORMATS)})"
        )
    bad = [k for k in opts.outputs if k not in ALL_OUTPUTS]
    if bad:
        raise Extreme3DError(f"unknown output {bad[0]!r} (choose from {', '.join(ALL_OUTPUTS)})")
    if opts.landmark_dir is not None and not Path(opts.landmark_dir).is_dir():
        raise Extreme3DError(f"landmark folder not found: {opts.landmark_dir}")
    shape_src = choose_shape_source(opts.shape_source, cnn_dir)
    bump_src = choose_bump_source(opts.bump_source, cnn_dir)
    listing = read_input_list(opts.input_list)
    out = Path(opts.output_dir).absolute()
    for sub in ("imgs", "shape", "bump", "3D") + (("preview",) if opts.preview else ()):
        (out / sub).mkdir(parents=True, exist_ok=True)
    threads = None
    if "cnn" in (shape_src, bump_src):
        from extreme3d.models.device import configure_threads

        threads = configure_threads(opts.threads)

    records = [ImageRecord(e.name, str(e.path), e.line) for e in listing.entries]
    problems = [{"name": None, "path": p.text, "line": p.line, "stage": "list",
                 "reason": p.message} for p in listing.problems]
    summary = BatchSummary(
        options={
            "input_list": str(Path(opts.input_list).absolute()), "output_dir": str(out),
            "landmark_dir": str(opts.landmark_dir) if opts.landmark_dir else None,
            "model": str(model_path.absolute()), "cnn_dir": str(cnn_dir.absolute()),
            "device": opts.device,
            "outputs": list(opts.outputs), "symmetry": opts.symmetry, "jobs": opts.jobs,
            "batch_size": opts.batch_size, "preview": opts.preview, "fit_mode": opts.fit_mode,
            "colors": opts.colors, "formats": list(opts.formats), "all_faces": opts.all_faces,
            "overlay": opts.overlay, "params": opts.params, "texture_size": opts.texture_size,
            "torch_threads": threads,
        },
        shape_source=shape_src, bump_source=bump_src, images=records, list_problems=problems,
    )
    if not opts.symmetry and any(k in SYMMETRY_OUTPUTS for k in opts.outputs):
        summary.notes.append("soft symmetry off: sparse_full_frontal/final_frontal not written")
    progress = _Progress(len(records), opts.progress)
    say = log or progress.write
    for line in describe_sources(shape_src, bump_src, cnn_dir):
        say(line)
    for p in listing.problems:
        say(f"skipped: {p.message}")

    model = load_morphable(model_path)
    from extreme3d.colors import resolve_color_mode

    colors_mode = resolve_color_mode(opts.colors, model)
    summary.options["colors"] = colors_mode
    shape_net = bump_net = None
    if shape_src == "cnn":
        from extreme3d.models.shape_cnn import ShapeCNN

        shape_net = ShapeCNN.load(cnn_dir, opts.device)
    if bump_src == "cnn":
        from extreme3d.models.bump_cnn import BumpCNN
        from extreme3d.models.files import bump_weights

        bump_net = BumpCNN.load(bump_weights(cnn_dir), opts.device)

    im_list: list[str] = []

    def finish(res: CoreResult) -> None:
        rec = records[res.index]
        for k, v in res.seconds.items():
            rec.seconds[k] += v
        rec.outputs += res.outputs
        if res.bump_source:
            rec.bump_source = res.bump_source
        if res.note:
            rec.note = res.note
            say(f"note: {rec.name}: {res.note}")
        if res.ok:
            rec.status = "done"
        else:
            rec.fail("core", res.reason or "unknown error")
            say(_message("failed", rec))
        progress.update()

    pool = _CorePool(opts.jobs, model_path, finish) if opts.jobs > 1 else None
    try:
        for chunk in _chunks(list(range(len(records))), opts.batch_size):
            prepared: dict[int, Prepared] = {}
            for i in chunk:
                rec, entry = records[i], listing.entries[i]
                rec.shape_source, rec.bump_source = shape_src, bump_src
                try:
                    lm_dir = Path(opts.landmark_dir) if opts.landmark_dir else None
                    if opts.all_faces:
                        faces = prepare_faces(entry.path, entry.name, lm_dir, out, rec)
                        for k, (face_name, prep) in enumerate(faces):
                            j = i if k == 0 else len(records)
                            if k == 0:
                                rec.name = face_name
                            else:
                                records.append(ImageRecord(face_name, str(entry.path),
                                                           entry.line, shape_source=shape_src,
                                                           bump_source=bump_src))
                                progress.grow()
                            records[j].num_faces = prep.num_faces
                            records[j].outputs += [f"imgs/{face_name}{x}" for x in
                                                   (".png", ".pts", "_detect.png")]
                            prepared[j] = prep
                            im_list.append(str(out / "imgs" / f"{face_name}.png"))
                        continue
                    prepared[i] = prepare_image(entry.path, entry.name, lm_dir, out, rec)
                    rec.num_faces = prepared[i].num_faces
                    im_list.append(str(out / "imgs" / f"{entry.name}.png"))
                except Exception as exc:  # noqa: BLE001
                    rec.fail("prepare", _reason(exc))
                    say(_message("skipped", rec))
                    progress.update()
            atomic_write_text(out / "imList.txt", "".join(f"{p}\n" for p in im_list))
            ids = list(prepared)
            if not ids:
                continue
            alphas = _shape_stage(ids, prepared, records, model, shape_net, out, opts, say)
            ids = [i for i in ids if i in alphas]
            bumps = _bump_stage(ids, prepared, records, bump_net, out, opts, say)
            progress.update(sum(1 for i in prepared if i not in bumps))  # failed in a CNN stage
            for i in ids:
                if i not in bumps:
                    continue
                bump, mask = bumps[i]
                task = CoreTask(
                    i, records[i].name, str(out), prepared[i].landmarks, alphas[i], bump, mask,
                    bump_src, tuple(opts.outputs), opts.symmetry, opts.fit_mode,
                    prepared[i].crop, opts.preview,
                    image_path=records[i].path, original_landmarks=prepared[i].original_landmarks,
                    beta=prepared[i].beta, colors=colors_mode, formats=tuple(opts.formats),
                    overlay=opts.overlay, params=opts.params, texture_size=opts.texture_size,
                    shape_source=shape_src, landmark_source="file" if opts.landmark_dir else "dlib",
                    face_index=prepared[i].face_index,
                )
                if pool is None:
                    finish(run_core(model, task))
                else:
                    pool.submit(task)
        if pool is not None:
            pool.collect(block=True)
    finally:
        if pool is not None:
            pool.close()
        progress.close()
    summary.wall_s = _now() - start
    atomic_write_text(out / "summary.json", json.dumps(summary.to_json(), indent=2) + "\n")
    return summary


def _message(kind: str, rec: ImageRecord) -> str:
    """'failed: <path>: <reason>' (the path once, even when the reason names it)."""
    reason = rec.reason or ""
    return f"{kind}: {reason}" if rec.path in reason else f"{kind}: {rec.path}: {reason}"


def _reason(exc: BaseException) -> str:
    """One-line reason of a per-image failure."""
    if isinstance(exc, Extreme3DError | FileNotFoundError):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def _shape_stage(
    ids: list[int], prepared: dict[int, Prepared], records: list[ImageRecord], model: Any,
    shape_net: Any, out: Path, opts: BatchOptions, say: Callable[[str], None],
) -> dict[int, np.ndarray]:
    """Identity coefficients for each prepared image; writes shape/<name>.ply(.alpha)."""
    from extreme3d.mesh import Mesh
    from extreme3d.models.coeffs import NUM_COEFFS, format_alpha, foundation_from_coeffs

    alphas: dict[int, np.ndarray] = {}
    betas: dict[int, np.ndarray | None] = {}
    if shape_net is not None:
        t0 = _now()
        coeffs = shape_net.predict([prepared[i].crop for i in ids], opts.batch_size)
        per = (_now() - t0) / len(ids)
        for i, row in zip(ids, coeffs, strict=True):
            records[i].seconds["shape_cnn"] += per
            alphas[i] = row[:NUM_COEFFS].astype(np.float64)
            betas[i] = row[NUM_COEFFS : 2 * NUM_COEFFS] if len(row) >= 2 * NUM_COEFFS else None
    else:
        from extreme3d.fitting import fit_identity

        for i in ids:
            t0 = _now()
            try:
                res = fit_identity(model, prepared[i].landmarks)
                alpha = res if isinstance(res, np.ndarray) else _field(res, "alpha")
                alphas[i] = np.asarray(alpha, np.float64).reshape(-1)
                betas[i] = None
            except Exception as exc:  # noqa: BLE001
                records[i].fail("shape_cnn", _reason(exc))
                say(_message("failed", records[i]))
            records[i].seconds["shape_cnn"] += _now() - t0
    for i in list(alphas):
        rec = records[i]
        t0 = _now()
        try:
            k = model.num_shape
            alpha = alphas[i]
            verts, colors = foundation_from_coeffs(model, alpha, betas[i])
            atomic_write_text(out / "shape" / f"{rec.name}.ply.alpha", format_alpha(alpha))
            Mesh(verts, model.faces, colors).save(out / "shape" / f"{rec.name}.ply", style="python")
            rec.outputs += [f"shape/{rec.name}.ply.alpha", f"shape/{rec.name}.ply"]
            full = np.zeros(k, np.float64)
            full[: min(k, len(alpha))] = alpha[:k]
            alphas[i] = full
            prepared[i].beta = betas.get(i)
        except Exception as exc:  # noqa: BLE001
            rec.fail("shape_cnn", _reason(exc))
            say(_message("failed", rec))
            del alphas[i]
        rec.seconds["write"] += _now() - t0
    return alphas


def _bump_stage(
    ids: list[int], prepared: dict[int, Prepared], records: list[ImageRecord], bump_net: Any,
    out: Path, opts: BatchOptions, say: Callable[[str], None],
) -> dict[int, tuple[np.ndarray | None, np.ndarray | None]]:
    """Bump map and mask per image from the CNN (written to bump/); (None, None) when the core
    stage makes them (photo and flat sources)."""
    if bump_net is None:
        return dict.fromkeys(ids, (None, None))
    result: dict[int, tuple[np.ndarray | None, np.ndarray | None]] = {}
    t0 = _now()
    try:
        maps = bump_net.predict([prepared[i].crop[:, :, ::-1] for i in ids], opts.batch_size)
    except Exception as exc:  # noqa: BLE001 - e.g. out of memory: every image of the batch fails
        for i in ids:
            records[i].fail("bump_cnn", _reason(exc))
            say(_message("failed", records[i]))
        return result
    per = (_now() - t0) / len(ids)
    for i, (bump, mask) in zip(ids, maps, strict=True):
        rec = records[i]
        rec.seconds["bump_cnn"] += per
        t1 = _now()
        try:
            atomic_write_png(out / "bump" / f"{rec.name}_bump.png", bump)
            atomic_write_png(out / "bump" / f"{rec.name}_mask.png", mask)
            rec.outputs += [f"bump/{rec.name}_bump.png", f"bump/{rec.name}_mask.png"]
            result[i] = (bump, mask)
        except Exception as exc:  # noqa: BLE001
            rec.fail("bump_cnn", _reason(exc))
            say(_message("failed", rec))
        rec.seconds["write"] += _now() - t1
    return result


def format_summary(summary: BatchSummary) -> str:
    """The final human-readable summary printed after a run."""
    sp = summary.seconds_per_image()
    n_fail = len(summary.failed) + len(summary.list_problems)
    lines = [
        f"done: {len(summary.done)} image(s), failed/skipped: {n_fail}, "
        f"{summary.wall_s:.1f} s in total (shape: {summary.shape_source}, "
        f"bump: {summary.bump_source})",
        "seconds per image: " + ", ".join(f"{k} {sp[k]:.2f}" for k in (*STAGES, "total")),
    ]
    for r in summary.failed:
        lines.append(f"  [{r.stage}] " + _message("failed", r))
    for p in summary.list_problems:
        lines.append(f"  skipped [list] {p['reason']}")
    lines += summary.notes
    lines.append(f"outputs in {summary.options['output_dir']} (summary.json)")
    return "\n".join(lines)
