"""The batch driver (``extreme3d batch`` / ``testBatchModel``) over the stages of extreme3d.stages.

Per list entry: ``prepare`` (read, landmarks, 500x500 crop), ``shape_cnn`` (identity
coefficients), ``bump_cnn`` (bump map and mask), ``core`` (pose and expression fit, dense mesh,
occlusion handling and soft symmetry, colours) and ``write`` (every file, extreme3d.stages.outputs).
The per-face work is the stages' (the same functions extreme3d.api.Reconstructor composes); this
module adds only what a batch needs: the list, CNN batching, the worker processes (the core
stage's pool, ``jobs`` processes that each load the morphable model once; one for prepare and the
landmark fit; one for the two CNNs, loaded once), progress, summary.json and per-image error
isolation (a native crash fails only its image). Fallbacks and sources: extreme3d.stages.models.
"""

from __future__ import annotations

import builtins
import concurrent.futures as cf
import contextlib
import json
import multiprocessing
import os
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from extreme3d import Extreme3DError, __version__
from extreme3d.blas import blas_threads_limited, single_blas_thread
from extreme3d.engines.sink import Sink
from extreme3d.heap import retain_freed_memory
from extreme3d.io.atomic import atomic_write_text
from extreme3d.output_guard import (
    NameRegistry,
    check_inside,
    folder_lock,
    input_inside_output,
    remove_stale_temps,
)
from extreme3d.stages import outputs as stage_outputs
from extreme3d.stages.bump import BUMP_MARGIN, BUMP_SIZE, FLAT_BUMP, BumpMaps, cnn_bumps
from extreme3d.stages.face import (
    SYMMETRY_OUTPUTS,
    FaceOptions,
    check_mesh_options,
    face_bump,
    face_geometry,
    face_occlusion,
    face_result,
    fit_face,
    meshes_to_compute,
)
from extreme3d.stages.models import (
    BUMP_SOURCES,
    SHAPE_SOURCES,
    check_model_path,
    default_model_path,
    describe_sources,
    load_models,
    load_morphable,
)
from extreme3d.stages.outputs import ALL_OUTPUTS, DEFAULT_OUTPUTS, MESH_FORMATS
from extreme3d.stages.prepare import PreparedFace, prepare_photo
from extreme3d.stages.shape import Identity, cnn_rows, identities, identity_or_error

__all__ = ["ALL_OUTPUTS", "BUMP_MARGIN", "BUMP_SIZE", "BUMP_SOURCES", "CRASH_REASON",
           "DEFAULT_OUTPUTS", "FLAT_BUMP", "MESH_FORMATS", "SHAPE_SOURCES", "STAGES",
           "SYMMETRY_OUTPUTS", "BatchOptions", "BatchSummary", "CoreResult", "CoreTask",
           "ImageRecord", "check_model_path", "default_model_path", "format_summary",
           "load_morphable", "new_summary", "plan_run", "run_batch", "run_core"]

STAGES = ("prepare", "shape_cnn", "bump_cnn", "core", "write")


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
    mesh: str | None = None  # final mesh: None (clean OBJ/GLB, original PLY), clean, original
    max_gap: float | None = None  # registration gap (mm); None: geometry.default_max_gap
    ply_binary: bool = False  # binary little-endian PLY files
    decimate: float | str | None = None  # clean final mesh files: None/"auto"/"off"/ratio
    occlusion: bool = True  # find occluders, de-occlude the bump, mask them (off: the original)
    trust_cnn_pickles: bool = False  # allow the CNN files' pickles (runs code from them)
    isolate_core: bool = True  # core stage in a worker process even with jobs=1 (crash isolation)
    isolate_stages: bool = True  # prepare and the landmark shape fit in a worker process too
    isolate_cnn: bool = True  # the CNN forward passes in a worker process (crash isolation)


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
    #: the occlusion step: enabled, occluded_fraction of the face mask, mirrored_fraction,
    #: source (the bump map it de-occluded), seconds; None before the core stage ran
    occlusion: dict[str, Any] | None = None

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


# --------------------------------------------------------------------------- core stage


@dataclass
class CoreTask:
    """Input of the core stage for one face (pickled to a worker process)."""

    index: int
    out_dir: str
    face: PreparedFace  # without the photo (the overlay reads it from face.image_path)
    identity: Identity
    maps: BumpMaps | None  # None: made in the core stage (photo / flat source)
    bump_source: str
    options: FaceOptions
    outputs: tuple[str, ...]
    formats: tuple[str, ...] = ("ply",)
    preview: bool = False
    overlay: bool = False
    params: bool = False

    @property
    def name(self) -> str:
        """The face's output name."""
        return self.face.name


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
    occlusion: dict[str, Any] | None = None  # what the occlusion step found


_WORKER_MODEL: Any = None
_WORKER_MODEL_PATH: str | None = None
#: Tests only: "<stage>:<name>[,...]" (EXTREME3D_TEST_CRASH, read when a pool starts) makes a
#: worker kill itself with SIGSEGV when it runs that stage for that image (a planted native crash).
_CRASH_AT: str | None = None
CRASH_TEST_ENV = "EXTREME3D_TEST_CRASH"


def _init_worker(model_path: str, crash_at: str | None = None, eager: bool = True) -> None:
    """Process-pool initializer: the morphable model, loaded once per worker (`eager`), or on
    first use; the test crash hook."""
    global _WORKER_MODEL, _WORKER_MODEL_PATH, _CRASH_AT
    _WORKER_MODEL_PATH, _CRASH_AT = model_path, crash_at
    retain_freed_memory()  # the bake's and colours' big buffers reused, not page-faulted anew
    single_blas_thread()  # BLAS threads spinning between small products (extreme3d.blas)
    if eager:
        _WORKER_MODEL = load_morphable(Path(model_path))


def _worker_model() -> Any:
    """The worker's morphable model (loaded on first use by a lazy worker)."""
    global _WORKER_MODEL
    if _WORKER_MODEL is None and _WORKER_MODEL_PATH is not None:
        _WORKER_MODEL = load_morphable(Path(_WORKER_MODEL_PATH))
    return _WORKER_MODEL


def _crash_hook(stage: str, name: str) -> None:
    """Tests only: dies of SIGSEGV (no core file) when EXTREME3D_TEST_CRASH named this stage and
    image when the pool started; a no-op otherwise."""
    if _CRASH_AT and f"{stage}:{name}" in _CRASH_AT.split(","):
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        # the default action, not a handler's (faulthandler's, or AddressSanitizer's under
        # `make sanitize`, which would report it and abort): the worker dies of SIGSEGV
        signal.signal(signal.SIGSEGV, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGSEGV)


def _worker_run(task: CoreTask) -> CoreResult:
    """Runs the core stage in a worker with its preloaded model."""
    _crash_hook("core", task.name)
    return run_core(_worker_model(), task)


def _worker_prepare(path: str, name: str, landmark_dir: str | None, all_faces: bool
                    ) -> list[PreparedFace]:
    """The prepare stage of one entry (decode, landmarks, crops) in the stage worker."""
    _crash_hook("prepare", name)
    return prepare_photo(path, name, landmark_dir, all_faces=all_faces, keep_photo=True)


def _worker_shape_fit(face: PreparedFace) -> Identity | Exception:
    """The landmark shape fit of one face in the stage worker (its lazily loaded model)."""
    _crash_hook("shape", face.name)
    return identities(_worker_model(), None, [face])[0]


#: The CNN worker's networks (extreme3d.stages.models.Models, no morphable model) once loaded,
#: or why they could not be.
_CNN_MODELS: Any = None
_CNN_LOAD_ERROR: str | None = None


@dataclass(frozen=True)
class _CallFailed:
    """A CNN call that raised in the worker: the one-line reason (every face of the call fails,
    as in the main process; the exception itself may not unpickle here)."""

    reason: str


def _init_cnn_worker(crash_at: str | None) -> None:
    """Initializer of the CNN worker process: the heap settings of the main process (where the
    CNNs ran before) and the test crash hook."""
    global _CRASH_AT
    _CRASH_AT = crash_at
    retain_freed_memory()
    single_blas_thread()


def _worker_load_cnns(cnn_dir: str, shape_source: str, bump_source: str, device: str,
                      threads: int, trust_pickles: bool, start: int = 1) -> list[tuple[str, str]]:
    """Loads the networks of the CNN sources into the CNN worker (once per worker) with `threads`
    torch threads; returns the warnings raised meanwhile (category name, text) for the main
    process to repeat; a failure is an Extreme3DError with one line. `start`: which start of the
    worker this is (1 for the first; the test crash hook's "cnn_load:<start>")."""
    global _CNN_MODELS, _CNN_LOAD_ERROR
    _crash_hook("cnn_load", str(start))
    from extreme3d.models.device import configure_threads
    from extreme3d.stages.models import Models, load_networks

    models = Models(None, None, Path(cnn_dir), shape_source, bump_source,
                    trust_pickles=trust_pickles)
    try:
        with warnings.catch_warnings(record=True) as caught:
            configure_threads(threads)
            load_networks(models, device)
    except Exception as exc:  # noqa: BLE001 - sent back as one line
        _CNN_LOAD_ERROR = _reason(exc)
        if isinstance(exc, Extreme3DError):
            raise
        raise Extreme3DError(_CNN_LOAD_ERROR) from None
    _CNN_MODELS = models
    return [(w.category.__name__, str(w.message)) for w in caught]


def _cnn_models() -> Any:
    """The worker's loaded networks; Extreme3DError when loading them failed."""
    if _CNN_MODELS is None:
        raise Extreme3DError(f"the CNNs are not loaded: {_CNN_LOAD_ERROR or 'no load ran'}")
    return _CNN_MODELS


def _worker_shape_cnn(names: list[str], crops: list[Any], batch_size: int
                      ) -> list[tuple[Any, float]] | _CallFailed:
    """The shape CNN on the crops of faces `names` in the CNN worker: (row, seconds) per face."""
    for name in names:
        _crash_hook("shape_cnn", name)
    try:
        rows, per = cnn_rows(_cnn_models().shape_net, crops, batch_size)
    except Exception as exc:  # noqa: BLE001 - e.g. out of memory: every face of the call fails
        return _CallFailed(_reason(exc))
    return [(row, per) for row in rows]


def _worker_bump_cnn(names: list[str], crops: list[Any], batch_size: int
                     ) -> list[BumpMaps] | _CallFailed:
    """The bump CNN on the (BGR) crops of faces `names` in the CNN worker: their maps."""
    for name in names:
        _crash_hook("bump_cnn", name)
    try:
        return cnn_bumps(_cnn_models().bump_net, crops, batch_size)
    except Exception as exc:  # noqa: BLE001 - e.g. out of memory: every face of the call fails
        return _CallFailed(_reason(exc))


def run_core(model: Any, task: CoreTask) -> CoreResult:
    """Fit, bump (photo / flat sources), geometry, colours and the face's files for one face
    (the stages of extreme3d.stages.face, written by extreme3d.stages.outputs); never raises
    (failures are reported)."""
    secs = {"bump_cnn": 0.0, "core": 0.0, "write": 0.0}
    written: list[str] = []
    out = Path(task.out_dir)
    used, note = task.bump_source, None
    try:
        t0 = _now()
        fit = fit_face(model, task.face, task.identity, task.options.fit_mode)
        timings = {"shape": task.identity.seconds, "fit": _now() - t0}
        secs["core"] += timings["fit"]
        maps = task.maps
        made_here = maps is None
        if maps is None:
            maps = face_bump(task.bump_source, model, task.face, task.identity, fit)
            used, note = maps.source, maps.note
        seconds_before = maps.seconds
        maps = face_occlusion(maps, task.face, task.options.occlusion)
        secs["bump_cnn"] += maps.seconds if made_here else maps.seconds - seconds_before
        if made_here or maps.occluders is not None:  # CNN maps: rewritten de-occluded
            t0 = _now()
            new = stage_outputs.write_bump(out, task.name, maps)
            written += [p for p in new if made_here or p.endswith("_occluders.png")]
            secs["write"] += _now() - t0
        timings["bump"] = maps.seconds
        symmetry = task.options.symmetry
        wanted = tuple(k for k in task.outputs if symmetry or k not in SYMMETRY_OUTPUTS)
        t0 = _now()
        geo = face_geometry(model, task.identity, fit, maps, symmetry,
                            meshes_to_compute(wanted, symmetry, twins=True, preview=task.preview),
                            task.options.max_gap)
        timings["geometry"] = _now() - t0
        secs["core"] += timings["geometry"]
        t0 = _now()
        result = face_result(model, task.face, task.identity, fit, maps, geo, task.options,
                             timings=timings)
        written += stage_outputs.save_face(
            result, out, task.name, formats=task.formats, outputs=wanted, overlay=task.overlay,
            params=task.params, maps=False, ply_binary=task.options.ply_binary,
            decimate=task.options.decimate)
        if task.preview:
            written.append(stage_outputs.write_preview(out, task.name, result))
        secs["write"] += _now() - t0
        return CoreResult(task.index, True, None, written, secs, used, note,
                          dict(maps.occlusion or {}))
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


def _pool(jobs: int, model_path: Path, eager: bool = True) -> cf.ProcessPoolExecutor:
    """Process pool for an isolated stage; each worker loads the model once (`eager`: at start,
    else on first use)."""
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    return cf.ProcessPoolExecutor(
        max_workers=jobs, mp_context=ctx, initializer=_init_worker,
        initargs=(str(model_path), os.environ.get(CRASH_TEST_ENV), eager),
    )


#: Reason recorded for an image whose core stage killed its worker process.
CRASH_REASON = "the core stage crashed its worker process (native crash); image skipped"


def _reap(pool: cf.ProcessPoolExecutor) -> None:
    """Shuts a broken pool down and waits for its manager thread, which reaps the workers."""
    pool.shutdown(wait=True, cancel_futures=True)


def _crash_reason(processes: list[Any], stage: str = "core") -> str:
    """CRASH_REASON (naming `stage`) with the signal (or exit code) of the dead worker among
    `processes`, when known. Call it after the broken pool was shut down (`_reap`): its manager
    thread reads the workers' exit status, and a second reader of a forkserver child's status
    races it (EOF, read as exit code 255)."""
    base = CRASH_REASON.replace("core stage", f"{stage} stage")
    cause = _death_cause(processes)
    return f"{base} ({cause})" if cause else base


def _death_cause(processes: list[Any]) -> str | None:
    """'SIGSEGV' (the signal's name) or 'exit code N' of the dead worker among `processes`, None
    when unknown (after `_reap`, see _crash_reason)."""
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.join(timeout=5)
            code = proc.exitcode
            if code is not None and code < 0:
                try:
                    return signal.Signals(-code).name
                except ValueError:
                    return f"signal {-code}"
            if code:
                return f"exit code {code}"
    return None


def _processes(pool: cf.ProcessPoolExecutor | None) -> list[Any]:
    """The worker processes of `pool` (read right after a submit, which starts them)."""
    return list((getattr(pool, "_processes", None) or {}).values())


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
        try:
            fut = self.pool.submit(self.worker, task)
        except BrokenProcessPool:  # a worker died since the last collect: every task is lost
            lost = sorted([task, *self.pending.values()], key=lambda t: t.index)
            self.pending.clear()
            self._isolate(lost)
            return
        self.pending[fut] = task
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
        """Replaces the broken pool (its workers reaped) with a fresh one."""
        _reap(self.pool)
        self.pool = _pool(self.jobs, self.model_path)

    def _isolate(self, tasks: list[CoreTask]) -> None:
        """Re-runs `tasks` one at a time in a fresh pool; one that crashes again fails."""
        self._restart()
        for task in tasks:
            procs: list[Any] = []
            try:
                fut = self.pool.submit(self.worker, task)
                procs = _processes(self.pool)
                self.finish(fut.result())
            except BrokenProcessPool:
                self._restart()
                self.finish(CoreResult(task.index, False, _crash_reason(procs), [], {}))

    def close(self) -> None:
        """Stops the workers (after `collect(block=True)` nothing is pending)."""
        self.pool.shutdown(wait=True, cancel_futures=True)


class StageCrash(Extreme3DError):
    """A per-image stage killed its worker process (native crash); the message names the stage
    and the signal."""


class _StageWorker:
    """One worker process for the per-image stages that run before the core stage (prepare: image
    decode, dlib, crops; shape: the landmark fit). Calls are synchronous; a worker that dies fails
    only the call's image (StageCrash) and is replaced for the next one."""

    def __init__(self, model_path: Path) -> None:
        self.model_path = model_path
        self.pool = _pool(1, model_path, eager=False)

    def call(self, stage: str, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args) in the worker; its exceptions are re-raised here, a dead worker raises
        StageCrash naming `stage` and the signal."""
        procs: list[Any] = []
        try:
            fut = self.pool.submit(fn, *args)
            procs = _processes(self.pool)
            return fut.result()
        except BrokenProcessPool:
            _reap(self.pool)
            self.pool = _pool(1, self.model_path, eager=False)
            raise StageCrash(_crash_reason(procs, stage)) from None

    def close(self) -> None:
        """Stops the worker."""
        self.pool.shutdown(wait=True, cancel_futures=True)


def _cnn_pool() -> cf.ProcessPoolExecutor:
    """The one-process pool of the CNN worker."""
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    return cf.ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=_init_cnn_worker,
                                  initargs=(os.environ.get(CRASH_TEST_ENV),))


class _CnnWorker:
    """One worker process running the CNN forward passes (shape and bump CNN, batched), both
    networks loaded once per worker process. A worker that dies fails only the faces it was
    running: a batch that crashed is re-run one face at a time in a fresh worker, and a face that
    crashes alone is recorded with the stage and the signal. The worker is started again only
    when there is more to run."""

    def __init__(self, cnn_dir: Path, shape_source: str, bump_source: str, device: str,
                 threads: int, trust_pickles: bool) -> None:
        self.cnn_dir = cnn_dir
        self.load_args = (str(cnn_dir), shape_source, bump_source, device, threads,
                          trust_pickles)
        self.pool: cf.ProcessPoolExecutor | None = None
        self.loading: cf.Future | None = None
        self.starts = 0

    def start(self) -> None:
        """Starts the worker and its loading of the networks (returns at once)."""
        self.starts += 1
        self.pool = _cnn_pool()
        self.loading = self.pool.submit(_worker_load_cnns, *self.load_args, self.starts)

    def wait_loaded(self) -> None:
        """Waits for the first start's networks: its warnings are repeated here, a failure
        (or a crash while loading) is an Extreme3DError naming the CNN folder."""
        procs = _processes(self.pool)
        try:
            caught = self.loading.result() if self.loading is not None else []
        except BrokenProcessPool:
            self._drop()
            cause = _death_cause(procs)
            raise Extreme3DError(
                f"{self.cnn_dir}: the CNN worker process crashed while loading the networks"
                + (f" ({cause})" if cause else "")) from None
        for category, text in caught:
            kind = getattr(builtins, category, None)
            warnings.warn(text, kind if isinstance(kind, type) and issubclass(kind, Warning)
                          else UserWarning, stacklevel=2)

    def _drop(self) -> None:
        """Reaps a broken worker; the next call starts a fresh one."""
        if self.pool is not None:
            _reap(self.pool)
        self.pool = self.loading = None

    def _restart(self) -> Exception | None:
        """Starts a fresh worker after a crash and waits for its networks: None when they
        loaded, else the error every face of the waiting call gets (a crash while reloading is
        named as such, not blamed on a face)."""
        self.start()
        procs = _processes(self.pool)
        try:
            assert self.loading is not None
            self.loading.result()
            return None
        except BrokenProcessPool:
            self._drop()
            cause = _death_cause(procs)
            return Extreme3DError(
                f"{self.cnn_dir}: the CNN worker process crashed while reloading the networks"
                + (f" ({cause})" if cause else ""))
        except Exception as exc:  # noqa: BLE001 - the load's own one-line error
            self._drop()
            return Extreme3DError(_reason(exc))

    def run(self, stage: str, fn: Callable[..., Any], names: list[str], crops: list[Any],
            batch_size: int) -> list[Any]:
        """fn(names, crops, batch_size) in the worker: one result per face, or the exception
        that failed it (StageCrash naming `stage` and the signal for a face that crashed the
        worker; the reason of a call that raised, for every face of the call)."""
        if not names:  # nothing to run: no (re)start
            return []
        if self.pool is None:  # the worker crashed before: a fresh one, its networks loaded
            failed = self._restart()
            if failed is not None:
                return [failed for _ in names]
        assert self.pool is not None
        procs: list[Any] = []
        try:
            fut = self.pool.submit(fn, names, crops, batch_size)
            procs = _processes(self.pool)
            out = fut.result()
        except BrokenProcessPool:
            self._drop()
            if len(names) > 1:  # which face crashed it: each alone, in a fresh worker
                return [self.run(stage, fn, [n], [c], batch_size)[0]
                        for n, c in zip(names, crops, strict=True)]
            return [StageCrash(_crash_reason(procs, stage))]
        except Exception as exc:  # noqa: BLE001 - e.g. a result that does not unpickle
            return [Extreme3DError(_reason(exc)) for _ in names]
        if isinstance(out, _CallFailed):
            return [Extreme3DError(out.reason) for _ in names]
        return list(out)

    def close(self) -> None:
        """Stops the worker."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class RunPlan:
    """What a run uses, checked before any image: model, CNN folder, sources, the input."""

    model_path: Path
    cnn_dir: Path
    shape_source: str
    bump_source: str
    listing: Any  # extreme3d.naming.InputList


def plan_run(opts: BatchOptions) -> RunPlan:
    """Checks the options (model, formats, outputs, landmark folder), chooses the sources and
    reads the input (list file, folder or glob); Extreme3DError for what stops every image."""
    from extreme3d.naming import read_input
    from extreme3d.paths import cnn_dir as default_cnn_dir
    from extreme3d.stages.models import choose_bump_source, choose_shape_source

    cnn_dir = Path(opts.cnn_dir) if opts.cnn_dir else default_cnn_dir()
    model_path = check_model_path(Path(opts.model_path or default_model_path()))
    bad_formats = [f for f in opts.formats if f not in MESH_FORMATS]
    if bad_formats:
        raise Extreme3DError(
            f"unknown mesh format {bad_formats[0]!r} (use {', '.join(MESH_FORMATS)})"
        )
    check_mesh_options(opts.mesh, opts.max_gap, opts.decimate)
    bad = [k for k in opts.outputs if k not in ALL_OUTPUTS]
    if bad:
        raise Extreme3DError(f"unknown output {bad[0]!r} (choose from {', '.join(ALL_OUTPUTS)})")
    if opts.landmark_dir is not None and not Path(opts.landmark_dir).is_dir():
        raise Extreme3DError(f"landmark folder not found: {opts.landmark_dir}")
    shape_src = choose_shape_source(opts.shape_source, cnn_dir)
    bump_src = choose_bump_source(opts.bump_source, cnn_dir)
    return RunPlan(model_path, cnn_dir, shape_src, bump_src, read_input(opts.input_list))


def new_summary(opts: BatchOptions, plan: RunPlan, output: str, threads: int | None
                ) -> BatchSummary:
    """The run's summary before any image: one pending record per input entry, the list's
    problems and the options (`output`: the output folder or URL)."""
    listing = plan.listing
    records = [ImageRecord(e.name, str(e.path), e.line) for e in listing.entries]
    problems = [{"name": None, "path": p.text, "line": p.line, "stage": "list",
                 "reason": p.message} for p in listing.problems]
    return BatchSummary(
        options={
            "input_list": str(Path(opts.input_list).absolute()), "output_dir": output,
            "landmark_dir": str(opts.landmark_dir) if opts.landmark_dir else None,
            "model": str(plan.model_path.absolute()), "cnn_dir": str(plan.cnn_dir.absolute()),
            "device": opts.device,
            "outputs": list(opts.outputs), "symmetry": opts.symmetry, "jobs": opts.jobs,
            "batch_size": opts.batch_size, "preview": opts.preview, "fit_mode": opts.fit_mode,
            "colors": opts.colors, "formats": list(opts.formats), "all_faces": opts.all_faces,
            "overlay": opts.overlay, "params": opts.params, "texture_size": opts.texture_size,
            "mesh": opts.mesh or "default", "max_gap_mm": opts.max_gap,
            "ply_binary": opts.ply_binary, "decimate": opts.decimate,
            "occlusion": opts.occlusion, "torch_threads": threads,
        },
        shape_source=plan.shape_source, bump_source=plan.bump_source, images=records,
        list_problems=problems,
    )


def run_batch(
    opts: BatchOptions, log: Callable[[str], None] | None = None
) -> BatchSummary:
    """Runs the whole batch and writes summary.json; per-image failures are recorded, not raised.

    Raises Extreme3DError only for problems that stop every image (no model, bad options).
    """

    start = _now()
    retain_freed_memory()  # the bake's and colours' big buffers reused, not page-faulted anew
    plan = plan_run(opts)
    out = Path(opts.output_dir).absolute()
    out.mkdir(parents=True, exist_ok=True)
    stack = contextlib.ExitStack()
    stack.enter_context(folder_lock(out))  # a second run into this folder fails here
    try:
        for sub in ("imgs", "shape", "bump", "3D", "overlay", "params") + (
                ("preview",) if opts.preview else ()):
            (out / sub).mkdir(parents=True, exist_ok=True)
            check_inside(out, out / sub)  # a subfolder symlinked elsewhere is refused
        subs = ("imgs", "shape", "bump", "3D", "overlay", "params", "preview")
        remove_stale_temps(out, subs)
        with blas_threads_limited():  # the caller's BLAS threads restored afterwards
            summary = _run_locked(opts, log, start, plan, out)
        # a worker crash breaks its whole pool: the images in flight on the other workers are
        # redone, but a write those workers were killed in leaves its temp file; every stage has
        # finished here, so whatever temp file is left is such an orphan
        remove_stale_temps(out, subs)
        return summary
    finally:
        stack.close()


def _run_locked(opts: BatchOptions, log: Callable[[str], None] | None, start: float,
                plan: Any, out: Path) -> BatchSummary:
    """run_batch once the output folder is locked: every image, then summary.json (written even
    when the run stops early)."""
    from extreme3d.stages.models import load_networks

    shape_src, bump_src, cnn_dir, model_path = (plan.shape_source, plan.bump_source,
                                                plan.cnn_dir, plan.model_path)
    listing = plan.listing
    threads = None
    cnn: _CnnWorker | None = None
    if "cnn" in (shape_src, bump_src) and opts.isolate_cnn:
        from extreme3d.models.threads import thread_count

        threads = thread_count(opts.threads)  # set in the CNN worker (no torch in this process)
        cnn = _CnnWorker(cnn_dir, shape_src, bump_src, opts.device, threads,
                         opts.trust_cnn_pickles)
    elif "cnn" in (shape_src, bump_src):
        from extreme3d.models.device import configure_threads

        threads = configure_threads(opts.threads)

    summary = new_summary(opts, plan, str(out), threads)
    records = summary.images
    if not opts.symmetry and any(k in SYMMETRY_OUTPUTS for k in opts.outputs):
        summary.notes.append("soft symmetry off: sparse_full_frontal/final_frontal not written")
    progress = _Progress(len(records), opts.progress)
    say = log or progress.write
    for line in describe_sources(shape_src, bump_src, cnn_dir, opts.occlusion):
        say(line)
    for p in listing.problems:
        say(f"skipped: {p.message}")

    if cnn is not None:
        cnn.start()  # the networks load in the worker while the morphable model loads here
    try:
        models = load_models(model_path, cnn_dir, shape_source=shape_src, bump_source=bump_src,
                             load_nets=False, trust_pickles=opts.trust_cnn_pickles)
        if cnn is not None:
            cnn.wait_loaded()
        else:
            load_networks(models, opts.device)
    except BaseException:
        if cnn is not None:
            cnn.close()
        raise
    from extreme3d.colors import resolve_color_mode

    options = FaceOptions(opts.fit_mode, opts.symmetry,
                          resolve_color_mode(opts.colors, models.model), opts.texture_size,
                          mesh=opts.mesh, max_gap=opts.max_gap, ply_binary=opts.ply_binary,
                          decimate=opts.decimate, occlusion=opts.occlusion)
    summary.options["colors"] = options.colors
    im_list: list[str] = []
    markers = Sink(out)  # .extreme3d/done/<name>.json once every face of an entry is written
    done_before = markers.done_names()
    faces_of: dict[int, list[int]] = {}  # entry -> its records (one per face)
    entry_of: dict[int, int] = {}  # record -> its entry

    def finish(res: CoreResult) -> None:
        rec = records[res.index]
        for k, v in res.seconds.items():
            rec.seconds[k] += v
        rec.outputs += res.outputs
        if res.bump_source:
            rec.bump_source = res.bump_source
        if res.occlusion is not None:
            rec.occlusion = res.occlusion
        if res.note:
            rec.note = res.note
            say(f"note: {rec.name}: {res.note}")
        if res.ok:
            rec.status = "done"
            i = entry_of[res.index]
            if all(records[j].status == "done" for j in faces_of[i]):
                markers.write_marker(listing.entries[i].name,
                                     [asdict(records[j]) for j in faces_of[i]])
        else:
            rec.fail("core", res.reason or "unknown error")
            say(_message("failed", rec))
        progress.update()

    isolate = opts.jobs > 1 or opts.isolate_core
    pool = _CorePool(max(1, opts.jobs), model_path, finish) if isolate else None
    stage_worker = _StageWorker(model_path) if opts.isolate_stages else None
    lm_dir = Path(opts.landmark_dir) if opts.landmark_dir else None
    names = NameRegistry(stage_outputs.NAME_SUFFIXES)
    try:
        for chunk in _chunks(list(range(len(records))), opts.batch_size):
            prepared: dict[int, PreparedFace] = {}
            for i in chunk:
                rec, entry = records[i], listing.entries[i]
                if entry.name in done_before:  # complete in an earlier run: its records
                    im_list += _resume_entry(markers, entry.name, i, records, out)
                    progress.update()
                    continue
                rec.shape_source, rec.bump_source = shape_src, bump_src
                try:
                    faces = _prepare_entry(entry, lm_dir, out, rec, opts.all_faces, names,
                                           stage_worker)
                except Exception as exc:  # noqa: BLE001
                    rec.fail("prepare", _reason(exc))
                    say(_message("skipped", rec))
                    progress.update()
                    continue
                for k, face in enumerate(faces):
                    j = i if k == 0 else len(records)
                    if k == 0:
                        rec.name = face.name
                    else:
                        records.append(ImageRecord(face.name, str(entry.path), entry.line,
                                                   shape_source=shape_src, bump_source=bump_src,
                                                   outputs=faces_outputs(face)))
                        progress.grow()
                    records[j].num_faces = face.num_faces
                    faces_of.setdefault(i, []).append(j)
                    entry_of[j] = i
                    prepared[j] = face
                    im_list.append(str(out / "imgs" / f"{face.name}.png"))
            stage_outputs.write_image_list(out, im_list)
            ids = list(prepared)
            if not ids:
                continue
            found = _shape_stage(ids, prepared, records, models.model, models.shape_net, out,
                                 opts, say, stage_worker,
                                 cnn if shape_src == "cnn" else None)
            ids = [i for i in ids if i in found]
            bumps = _bump_stage(ids, prepared, records, models.bump_net, out, opts, say,
                                cnn if bump_src == "cnn" else None)
            progress.update(sum(1 for i in prepared if i not in bumps))  # failed in a CNN stage
            for i in ids:
                if i not in bumps:
                    continue
                task = CoreTask(
                    i, str(out), prepared[i], found[i], bumps[i], bump_src, options,
                    tuple(opts.outputs), formats=tuple(opts.formats), preview=opts.preview,
                    overlay=opts.overlay, params=opts.params,
                )
                if pool is None:
                    finish(run_core(models.model, task))
                else:
                    pool.submit(task)
        if pool is not None:
            pool.collect(block=True)
    except BaseException as exc:  # e.g. Ctrl-C: the images not finished are recorded as such
        why = f"batch stopped: {_reason(exc) if str(exc) else type(exc).__name__}"
        for rec in records:
            if rec.status == "pending":
                rec.fail("batch", why)
        raise
    finally:
        if pool is not None:
            with contextlib.suppress(Exception):
                pool.close()
        if stage_worker is not None:
            with contextlib.suppress(Exception):
                stage_worker.close()
        if cnn is not None:
            with contextlib.suppress(Exception):
                cnn.close()
        progress.close()
        summary.wall_s = _now() - start
        atomic_write_text(out / "summary.json", json.dumps(summary.to_json(), indent=2) + "\n")
    return summary


def _resume_entry(markers: Sink, name: str, i: int, records: list[ImageRecord], out: Path
                  ) -> list[str]:
    """Puts the records of an entry done by an earlier run (its marker) in place of entry i's;
    returns its crops for imList.txt."""
    saved = [ImageRecord(**r) for r in markers.read_marker(name)]
    records[i] = saved[0]
    records += saved[1:]
    return [str(out / "imgs" / f"{r.name}.png") for r in saved
            if f"imgs/{r.name}.png" in r.outputs]


def faces_outputs(face: PreparedFace) -> list[str]:
    """The imgs/ files the prepare stage writes for a face."""
    return prepared_outputs(face.name)


def prepared_outputs(name: str) -> list[str]:
    """The imgs/ files the prepare stage writes for the face named `name`."""
    return [f"imgs/{name}{x}" for x in (".png", ".pts", "_detect.png")]


def _prepare_entry(entry: Any, landmark_dir: Path | None, out: Path, rec: ImageRecord,
                   all_faces: bool, names: NameRegistry | None = None,
                   worker: _StageWorker | None = None) -> list[PreparedFace]:
    """Prepare stage of one list entry: its faces (photo dropped once their imgs/ files are
    written); the record gets the first face's files and the seconds. An input inside the
    output folder, or a name whose files would overwrite an earlier image's, is refused.
    With `worker`, decode, landmarks and crops run in that process (a native crash fails only
    this entry)."""
    if input_inside_output(entry.path, out):
        raise Extreme3DError(f"{entry.path}: input lies inside the output folder {out} (it "
                             "could be overwritten); move it out first")
    t0 = _now()
    if worker is not None:
        faces = worker.call("prepare", _worker_prepare, str(entry.path), entry.name,
                            str(landmark_dir) if landmark_dir is not None else None, all_faces)
    else:
        faces = prepare_photo(entry.path, entry.name, landmark_dir, all_faces=all_faces,
                              keep_photo=True)
    rec.seconds["prepare"] += _now() - t0
    if names is not None:
        for face in faces:
            names.claim(face.name, str(entry.path))
    t0 = _now()
    for face in faces:
        stage_outputs.write_prepared(out, face)
    rec.seconds["write"] += _now() - t0
    rec.outputs += faces_outputs(faces[0])
    return [f.without_photo() for f in faces]


def _message(kind: str, rec: ImageRecord) -> str:
    """'failed: <path>: <reason>' (the path once, even when the reason names it)."""
    reason = rec.reason or ""
    return f"{kind}: {reason}" if rec.path in reason else f"{kind}: {rec.path}: {reason}"


def _reason(exc: BaseException) -> str:
    """One-line reason of a per-image failure (OpenCV's assertion texts made readable)."""
    if isinstance(exc, Extreme3DError | FileNotFoundError):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if type(exc).__module__.startswith("cv2"):
        return _opencv_reason(str(exc))
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def _opencv_reason(text: str) -> str:
    """'OpenCV could not process the image in <function>: <condition>' from cv2.error's text."""
    import re

    func = re.search(r"in function '([^']+)'", text)
    cond = re.search(r"\(-\d+:[^)]*\)\s*(.*?)\s*(?:in function|$)", text.replace("\n", " "))
    where = f" in {func.group(1)}" if func else ""
    what = f": {cond.group(1).strip()}" if cond and cond.group(1).strip() else ""
    return f"OpenCV could not process the image{where}{what}"


def _shape_stage(
    ids: list[int], prepared: dict[int, PreparedFace], records: list[ImageRecord], model: Any,
    shape_net: Any, out: Path, opts: BatchOptions, say: Callable[[str], None],
    worker: _StageWorker | None = None, cnn: _CnnWorker | None = None,
) -> dict[int, Identity]:
    """Identity of each prepared face (CNN batched); writes shape/<name>.ply(.alpha). With
    `worker`, the landmark fit (native code) runs there, one face per call; with `cnn`, the
    shape CNN runs in that worker."""
    result: dict[int, Identity] = {}
    faces = [prepared[i] for i in ids]
    found: list[Identity | Exception]
    if cnn is not None:
        rows = cnn.run("shape CNN", _worker_shape_cnn, [f.name for f in faces],
                       [f.crop for f in faces], opts.batch_size)
        found = [row if isinstance(row, Exception) else identity_or_error(model, face, *row)
                 for face, row in zip(faces, rows, strict=True)]
    elif shape_net is None and worker is not None:
        found = []
        for face in faces:
            try:
                found.append(worker.call("shape", _worker_shape_fit, face))
            except Exception as exc:  # noqa: BLE001 - StageCrash, or a result not unpickled
                found.append(exc)
    else:
        found = identities(model, shape_net, faces, opts.batch_size)
    for i, identity in zip(ids, found, strict=True):
        rec = records[i]
        if isinstance(identity, Exception):
            rec.fail("shape_cnn", _reason(identity))
            say(_message("failed", rec))
            continue
        rec.seconds["shape_cnn"] += identity.seconds
        if identity.quality is not None and not identity.quality.ok:
            say(f"warning: {rec.path}: {identity.quality.warning}")
        t0 = _now()
        try:
            rec.outputs += stage_outputs.write_identity(out, rec.name, model, identity)
            result[i] = identity
        except Exception as exc:  # noqa: BLE001
            rec.fail("shape_cnn", _reason(exc))
            say(_message("failed", rec))
        rec.seconds["write"] += _now() - t0
    return result


def _bump_stage(
    ids: list[int], prepared: dict[int, PreparedFace], records: list[ImageRecord], bump_net: Any,
    out: Path, opts: BatchOptions, say: Callable[[str], None], cnn: _CnnWorker | None = None,
) -> dict[int, BumpMaps | None]:
    """Bump maps of each face from the CNN, batched (written to bump/); None when the core stage
    makes them (photo and flat sources). With `cnn`, the bump CNN runs in that worker."""
    if bump_net is None and cnn is None:
        return dict.fromkeys(ids)
    result: dict[int, BumpMaps | None] = {}
    crops = [prepared[i].crop for i in ids]
    maps: list[BumpMaps | Exception]
    if cnn is not None:
        maps = cnn.run("bump CNN", _worker_bump_cnn, [prepared[i].name for i in ids], crops,
                       opts.batch_size)
    else:
        try:
            maps = list(cnn_bumps(bump_net, crops, opts.batch_size))
        except Exception as exc:  # noqa: BLE001 - e.g. out of memory: every image of the batch
            maps = [exc for _ in ids]
    for i, m in zip(ids, maps, strict=True):
        rec = records[i]
        if isinstance(m, Exception):
            rec.fail("bump_cnn", _reason(m))
            say(_message("failed", rec))
            continue
        rec.seconds["bump_cnn"] += m.seconds
        t1 = _now()
        try:
            rec.outputs += stage_outputs.write_bump(out, rec.name, m)
            result[i] = m
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
