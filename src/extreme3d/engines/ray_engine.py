"""The batch on a Ray cluster (``extreme3d batch ... --engine ray``): the same stages, files and
bytes as the local engine (extreme3d.pipeline), spread over actors.

- geometry actors (one CPU each, as many as the cluster's CPUs): the morphable model (and dlib)
  loaded once per actor; ``prepare`` (read, landmarks, crop, imgs/ files) and ``finish``
  (shape/ and bump/ files, fit, photo/flat bump, geometry, colours, 3D/, params/, overlay/:
  pipeline.run_core) per face, or both in one task per entry (``process``) when no CNN stage
  comes between them;
- CNN actors (only when a CNN source is used): the two networks loaded once, the faces of
  ``--batch-size`` consecutive entries per batch (the local engine's batches), on a GPU share
  with ``--cnn-gpus F``;
- the driver: a bounded window of images in flight (back-pressure: no stage holds more than a
  few batches), the per-image records, the done markers and summary.json (extreme3d.engines.sink);
- when the engine starts its own local cluster: while ray.init runs, a child forked from the
  driver does the first entries (the warm start, _WarmStart), and the cluster is stopped at the
  end (stop_local_cluster).

An actor killed mid-run is restarted by Ray and its tasks retried (they are idempotent: each
writes into its own staging folder and commits file by file atomically); an image is complete
once its done marker exists (written last), so a rerun skips it.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from extreme3d import Extreme3DError
from extreme3d.engines.sink import Sink, staged_files
from extreme3d.pipeline import (
    BatchOptions,
    BatchSummary,
    CoreTask,
    ImageRecord,
    _message,
    _Progress,
    _reason,
    faces_outputs,
    new_summary,
    plan_run,
    prepared_outputs,
    run_core,
)
from extreme3d.stages.face import SYMMETRY_OUTPUTS, FaceOptions
from extreme3d.stages.prepare import PreparedFace

#: Prefix of the actors' names (the kill test finds them by it).
ACTOR_PREFIX = "extreme3d"
#: Restarts of a killed actor (-1: always restarted, by Ray, on any live node) and retries of
#: the tasks it was running before their image fails (a task that crashes its actor every time).
MAX_RESTARTS = -1
MAX_TASK_RETRIES = 2
#: Reason recorded for an image whose task crashed its actor on every try.
CRASH_REASON = "the image's task crashed its worker process on every try; image skipped"


@dataclass
class RayOptions:
    """Where and how wide the Ray engine runs."""

    address: str | None = None  # an existing cluster ("auto", "ray://host:10001"); None: local
    num_cpus: int | None = None  # CPUs of the local cluster (default: the machine's)
    cnn_gpus: float | None = None  # GPU share of each CNN actor (None: CNNs on CPU)
    workers: int | None = None  # geometry actors (default: the cluster's CPUs)
    window: int | None = None  # images in flight (default: 2 per geometry actor; with CNNs 3,
    #                              >= 2 batches)
    start_timeout_s: float = 300.0  # the actors must be up (models loaded) within this time
    warm_start: bool = True  # a local cluster: a forked driver process works while it starts


@dataclass(frozen=True)
class _Job:
    """What every actor needs, sent once when it starts."""

    model_path: str
    sink: Sink
    landmark_dir: str | None
    all_faces: bool
    shape_source: str
    bump_source: str
    options: FaceOptions  # colors None: resolved by each geometry actor from its model
    outputs: tuple[str, ...]
    formats: tuple[str, ...]
    preview: bool
    overlay: bool
    params: bool
    cnn_dir: str = ""
    device: str = "cpu"
    batch_size: int = 4
    threads: int | None = None
    trust_cnn_pickles: bool = False  # --trust-cnn-pickles: the CNN files' pickles may load


@dataclass
class _Done:
    """A stage's answer for one entry or face: success, its outputs and seconds, and the files
    when the sink lives in one process (memory://) and the driver must write them."""

    ok: bool
    stage: str | None = None
    reason: str | None = None
    outputs: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    faces: list[PreparedFace] = field(default_factory=list)
    names: list[tuple[str, int]] = field(default_factory=list)  # (face name, faces found)
    bump_source: str | None = None
    note: str | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    occlusion: dict[str, Any] | None = None  # the occlusion step's record (ImageRecord.occlusion)


def _commit(sink: Sink, staging: Path) -> dict[str, bytes]:
    """Commits a staging folder's files (or returns them for the driver to write)."""
    rels = staged_files(staging)
    if sink.shared:
        sink.commit(staging, rels)
        return {}
    return {rel: (staging / rel).read_bytes() for rel in rels}


class GeometryWorker:
    """CPU actor: the morphable model loaded once; prepares entries and finishes faces."""

    def __init__(self, job: _Job) -> None:
        from extreme3d.blas import single_blas_thread
        from extreme3d.colors import resolve_color_mode
        from extreme3d.stages.models import load_morphable

        single_blas_thread()  # an actor process of ours: no spinning BLAS threads
        self.job = job
        self.model = load_morphable(Path(job.model_path))
        self.options = replace(job.options,
                               colors=resolve_color_mode(job.options.colors, self.model))

    def ready(self) -> str:
        """The colour mode used, once the model is loaded (the driver waits on it)."""
        return self.options.colors

    def prepare(self, path: str, name: str) -> _Done:
        """The prepare stage of one entry: its faces (without the photo) and imgs/ files."""
        from extreme3d.stages import outputs as stage_outputs
        from extreme3d.stages.prepare import prepare_photo

        job, secs = self.job, {"prepare": 0.0, "write": 0.0}
        try:
            t0 = time.perf_counter()
            faces = prepare_photo(path, name, job.landmark_dir, all_faces=job.all_faces,
                                  keep_photo=True)
            secs["prepare"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            with job.sink.staging() as staging:
                for face in faces:
                    stage_outputs.write_prepared(staging, face)
                files = _commit(job.sink, staging)
            secs["write"] = time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001 - one image's failure must not stop the batch
            return _Done(False, "prepare", _reason(exc), seconds=secs)
        return _Done(True, outputs=faces_outputs(faces[0]), seconds=secs,
                     faces=[f.without_photo() for f in faces],
                     names=[(f.name, f.num_faces) for f in faces], files=files)

    def process(self, path: str, name: str) -> tuple[_Done, list[_Done]]:
        """prepare and finish of one entry in one task, when no CNN stage comes between them:
        (the prepare answer without its faces, one finish answer per face); the faces never
        travel to the driver and back."""
        prep = self.prepare(path, name)
        done = [self.finish(face, None, None) for face in prep.faces]
        return replace(prep, faces=[]), done

    def finish(self, face: PreparedFace, identity: Any, maps: Any) -> _Done:
        """Identity files, bump files and the core stage of one face (run_core), committed."""
        from extreme3d.stages import outputs as stage_outputs
        from extreme3d.stages.shape import identities

        job = self.job
        secs = {"shape_cnn": 0.0, "write": 0.0}
        if identity is None:  # no CNN actor: the identity is fitted here
            identity = identities(self.model, None, [face])[0]
            if isinstance(identity, Exception):
                return _Done(False, "shape_cnn", _reason(identity))
            secs["shape_cnn"] = identity.seconds
        with job.sink.staging() as staging:
            written: list[str] = []
            t0 = time.perf_counter()
            try:
                written += stage_outputs.write_identity(staging, face.name, self.model, identity)
            except Exception as exc:  # noqa: BLE001
                return _Done(False, "shape_cnn", _reason(exc), seconds=secs,
                             files=_commit(job.sink, staging))
            if maps is not None:
                try:
                    written += stage_outputs.write_bump(staging, face.name, maps)
                except Exception as exc:  # noqa: BLE001
                    return _Done(False, "bump_cnn", _reason(exc), written, secs,
                                 files=_commit(job.sink, staging))
            secs["write"] = time.perf_counter() - t0
            task = CoreTask(0, str(staging), face, identity, maps, job.bump_source, self.options,
                            job.outputs, formats=job.formats, preview=job.preview,
                            overlay=job.overlay, params=job.params)
            res = run_core(self.model, task)
            t0 = time.perf_counter()
            files = _commit(job.sink, staging)
            secs["write"] += time.perf_counter() - t0
        for k, v in res.seconds.items():
            secs[k] = secs.get(k, 0.0) + v
        return _Done(res.ok, None if res.ok else "core", res.reason, written + res.outputs, secs,
                     bump_source=res.bump_source, note=res.note, files=files,
                     occlusion=res.occlusion)


class CnnWorker:
    """CNN actor: the shape and bump networks loaded once; identities and bump maps of batches
    of faces (on its GPU share when it has one)."""

    def __init__(self, job: _Job) -> None:
        from extreme3d.stages.models import load_models, load_networks

        self.job = job
        self.models = load_models(Path(job.model_path), Path(job.cnn_dir),
                                  shape_source=job.shape_source, bump_source=job.bump_source,
                                  load_nets=False, trust_pickles=job.trust_cnn_pickles)
        load_networks(self.models, job.device)
        from extreme3d.models.device import configure_threads

        configure_threads(job.threads)

    def ready(self) -> str:
        """Answers once the networks are loaded."""
        return "cnn"

    def infer(self, faces: list[PreparedFace]) -> list[tuple[Any, Any]]:
        """(Identity or (stage, reason), BumpMaps / None or (stage, reason)) per face."""
        from extreme3d.stages.bump import cnn_bumps
        from extreme3d.stages.shape import identities

        bs = self.job.batch_size
        found = identities(self.models.model, self.models.shape_net, faces, bs)
        ids = [("shape_cnn", _reason(x)) if isinstance(x, Exception) else x for x in found]
        if self.models.bump_net is None:
            return [(i, None) for i in ids]
        ok = [k for k, i in enumerate(ids) if not isinstance(i, tuple)]  # as the local engine:
        try:  # the bump batches hold the faces whose identity was found
            found_maps = cnn_bumps(self.models.bump_net, [faces[k].crop for k in ok], bs)
        except Exception as exc:  # noqa: BLE001 - e.g. out of memory: the batch fails
            return [(i, ("bump_cnn", _reason(exc))) for i in ids]
        maps: list[Any] = [None] * len(faces)
        for k, m in zip(ok, found_maps, strict=True):
            maps[k] = m
        return list(zip(ids, maps, strict=True))


def connect(ray_opts: RayOptions) -> bool:
    """Starts or joins the Ray cluster; True when this call started it (and must stop it)."""
    import ray

    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.ERROR,
                              "log_to_driver": False}
    if ray_opts.address or os.environ.get("RAY_ADDRESS"):  # joins a cluster: EXTREME3D_* sent
        env = {k: v for k, v in os.environ.items() if k.startswith("EXTREME3D_")}
        ray.init(address=ray_opts.address, runtime_env={"env_vars": env} if env else None,
                 **kwargs)
    else:
        # a local cluster's processes inherit this environment (EXTREME3D_* included); a
        # runtime_env would make Ray start new worker processes for it instead of giving the
        # actors the ones it prestarts during ray.init (seconds more before the first image)
        ray.init(num_cpus=ray_opts.num_cpus, **kwargs)
    return True


def stop_local_cluster() -> None:
    """ray.shutdown() of the local cluster this process started, about 1 s sooner: Ray stops its
    processes one after the other, each given 1 s to exit after SIGTERM, and its autoscaler
    monitor (idle on a fixed-size local cluster) spends that whole second trying to report its
    end to the GCS already stopped before it; it is killed first."""
    import ray

    try:
        from ray._private import ray_constants
        from ray._private import worker as ray_worker

        node = ray_worker._global_node
        for info in node.all_processes.get(ray_constants.PROCESS_TYPE_MONITOR, []):
            info.process.kill()
            info.process.wait(timeout=1)
    except Exception:  # noqa: BLE001 - Ray's internals differ: its plain shutdown below
        pass
    ray.shutdown()


class _Actors:
    """The geometry and CNN actors, picked least busy first."""

    def __init__(self, job: _Job, ray_opts: RayOptions, use_cnn: bool) -> None:
        import ray

        run = uuid.uuid4().hex[:8]
        cpus = int(ray.cluster_resources().get("CPU", 1))
        n_geo = ray_opts.workers or max(1, cpus)
        opts = {"max_restarts": MAX_RESTARTS, "max_task_retries": MAX_TASK_RETRIES}
        geo = ray.remote(GeometryWorker)
        self.geometry = [geo.options(num_cpus=1, name=f"{ACTOR_PREFIX}-geometry-{k}-{run}",
                                     **opts).remote(job) for k in range(n_geo)]
        self.cnn: list[Any] = []
        if use_cnn:
            cnn = ray.remote(CnnWorker)
            n_cnn, res = 1, {"num_cpus": 0}
            if ray_opts.cnn_gpus:
                gpus = float(ray.cluster_resources().get("GPU", 0))
                n_cnn = max(1, min(n_geo, int(gpus // ray_opts.cnn_gpus)))
                res = {"num_cpus": 0, "num_gpus": ray_opts.cnn_gpus}
            self.cnn = [cnn.options(name=f"{ACTOR_PREFIX}-cnn-{k}-{run}", **res, **opts)
                        .remote(job) for k in range(n_cnn)]
        self.load = {id(a): 0 for a in self.geometry + self.cnn}
        self.colors = ""
        self._ready = [a.ready.remote() for a in self.geometry + self.cnn]
        self._timeout = ray_opts.start_timeout_s

    def wait_ready(self) -> None:
        """Waits until every actor is up (models loaded; tasks may already be queued on them):
        sets `colors`; kills them and raises after `start_timeout_s`."""
        import ray

        try:
            self.colors = ray.get(self._ready, timeout=self._timeout)[0]
        except ray.exceptions.GetTimeoutError:
            self.stop()
            raise Extreme3DError(
                f"the Ray actors did not start within {self._timeout:g} s (no free "
                "CPU or GPU on the cluster, or the models load too slowly)") from None

    def pick(self, actors: list[Any], limit: int | None = None) -> Any:
        """The least busy actor of `actors` (one more task counted on it); None when it has
        `limit` tasks already."""
        actor = min(actors, key=lambda a: self.load[id(a)])
        if limit is not None and self.load[id(actor)] >= limit:
            return None
        self.load[id(actor)] += 1
        return actor

    def release(self, actor: Any) -> None:
        """One task of `actor` finished."""
        self.load[id(actor)] -= 1

    def stop(self) -> None:
        """Kills every actor."""
        import ray

        for a in self.geometry + self.cnn:
            ray.kill(a, no_restart=True)


def _make_job(opts: BatchOptions, ray_opts: RayOptions, plan: Any, sink: Sink) -> _Job:
    """What every actor needs, from the run's options and plan."""
    device = "cuda" if ray_opts.cnn_gpus else opts.device
    lm_dir = str(Path(opts.landmark_dir).absolute()) if opts.landmark_dir else None
    return _Job(str(plan.model_path.absolute()), sink, lm_dir, opts.all_faces,
                plan.shape_source, plan.bump_source,
                FaceOptions(opts.fit_mode, opts.symmetry, opts.colors, opts.texture_size,
                            mesh=opts.mesh, max_gap=opts.max_gap, ply_binary=opts.ply_binary,
                            decimate=opts.decimate, occlusion=opts.occlusion),
                tuple(opts.outputs), tuple(opts.formats), opts.preview, opts.overlay,
                opts.params, str(plan.cnn_dir.absolute()), device, opts.batch_size,
                opts.threads, opts.trust_cnn_pickles)


_WARM_WORKER: GeometryWorker | None = None
#: Seconds the driver waits, once nothing else is left, for the warm-start child's entry before
#: it kills the child and gives the entry to the actors (an entry takes seconds).
WARM_STUCK_S = 300.0


def _warm_init(job: _Job) -> None:
    """Initializer of the warm-start process: a GeometryWorker (the morphable model loaded)."""
    global _WARM_WORKER
    _WARM_WORKER = GeometryWorker(job)


def _warm_process(path: str, name: str) -> tuple[_Done, list[_Done]]:
    """One whole entry in the warm-start process (GeometryWorker.process)."""
    assert _WARM_WORKER is not None
    return _WARM_WORKER.process(path, name)


class _WarmStart:
    """Work done while the engine's own local cluster starts (ray.init and the actors take
    seconds, mostly spent starting Ray's processes): a child process forked from the driver
    before ray.init (its modules already imported) runs whole entries, first in list order, one
    at a time, with the geometry actors' code (GeometryWorker.process: same files, same bytes)
    until `finish`. A process, not a thread: a native crash loses the child only, and the entry
    it held goes to the actors. Only without CNN stages (the child would load the networks)."""

    def __init__(self, job: _Job, entries: list[Any], todo: deque[int]) -> None:
        import concurrent.futures as cf
        import multiprocessing
        import threading

        self.entries, self.todo = entries, todo
        self.results: list[tuple[int, tuple[_Done, list[_Done]]]] = []
        self.returned: list[int] = []  # entries whose child died: the actors redo them
        self._stopped = False
        self._lock = threading.Lock()
        self._pool = cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"),
                                            initializer=_warm_init, initargs=(job,))
        first = todo.popleft()
        try:
            future = self._submit(first)  # forks now, before ray.init starts threads
        except BaseException:
            todo.appendleft(first)  # the fork failed (e.g. ENOMEM): the actors take it
            self._pool.shutdown(wait=False)
            raise
        self._thread = threading.Thread(target=self._feed, args=(first, future), daemon=True)
        self._thread.start()

    def _submit(self, i: int) -> Any:
        """Entry i to the child."""
        return self._pool.submit(_warm_process, str(self.entries[i].path), self.entries[i].name)

    def _feed(self, i: int, future: Any) -> None:
        """Thread: the next entry once the child answered, until stopped or none is left."""
        while True:
            try:
                self.results.append((i, future.result()))
            except Exception:  # noqa: BLE001 - the child died (BrokenProcessPool): to the actors
                self.returned.append(i)
                return
            with self._lock:
                if self._stopped or not self.todo:
                    return
                i = self.todo.popleft()
                future = self._submit(i)

    def stop(self) -> None:
        """No entry is taken from the list after this (the caller owns it again)."""
        with self._lock:
            self._stopped = True

    def done(self) -> bool:
        """Whether the child has answered its last entry (stopped, or the list is empty)."""
        return not self._thread.is_alive()

    def finish(self, timeout: float = WARM_STUCK_S) -> list[tuple[int, tuple[_Done, list[_Done]]]]:
        """Stops, waits for the entry in the child (killed after `timeout` s: its entry goes to
        `returned`), ends it; the answers, each entry once."""
        self.stop()
        self._thread.join(timeout)
        self.close()
        return self.results

    def close(self) -> None:
        """Ends the child, killed if it still works (idempotent)."""
        self.stop()
        if self._thread.is_alive():
            for proc in list(getattr(self._pool, "_processes", {}).values()):
                proc.kill()
            self._thread.join()
        self._pool.shutdown(wait=True, cancel_futures=True)


def run_ray_batch(
    opts: BatchOptions, ray_opts: RayOptions | None = None,
    log: Callable[[str], None] | None = None,
) -> BatchSummary:
    """Runs the batch on Ray (started locally or joined at `ray_opts.address`) and writes
    summary.json (merged with the records of images done by earlier runs); per-image failures
    are recorded, not raised. Images with a done marker are skipped."""
    try:
        import ray
    except ImportError:
        raise Extreme3DError("--engine ray needs Ray: pip install 'extreme3d[ray]'") from None
    ray_opts = ray_opts or RayOptions()
    start = time.perf_counter()
    plan = plan_run(opts)
    sink = Sink(opts.output_dir)
    if sink.local:
        for sub in ("imgs", "shape", "bump", "3D") + (("preview",) if opts.preview else ()):
            (Path(sink.root) / sub).mkdir(parents=True, exist_ok=True)
    summary = new_summary(opts, plan, sink.url, opts.threads)
    summary.options["engine"] = "ray"
    records = summary.images
    entries = plan.listing.entries
    entry_recs: list[list[int]] = [[i] for i in range(len(entries))]
    done_before = sink.done_names()
    todo: deque[int] = deque()
    for i, entry in enumerate(entries):
        if entry.name in done_before:
            saved = sink.read_marker(entry.name)
            records[i] = ImageRecord(**saved[0])
            for extra in saved[1:]:
                entry_recs[i].append(len(records))
                records.append(ImageRecord(**extra))
        else:
            todo.append(i)
    progress = _Progress(len(todo), opts.progress)
    say = log or progress.write
    from extreme3d.stages.models import describe_sources

    for line in describe_sources(plan.shape_source, plan.bump_source, plan.cnn_dir,
                                 opts.occlusion):
        say(line)
    for p in plan.listing.problems:
        say(f"skipped: {p.message}")
    if done_before:
        say(f"resuming: {len(entries) - len(todo)} image(s) already done, {len(todo)} to do")
    if not opts.symmetry and any(k in SYMMETRY_OUTPUTS for k in opts.outputs):
        summary.notes.append("soft symmetry off: sparse_full_frontal/final_frontal not written")

    started = False
    warm: _WarmStart | None = None
    try:
        if todo:  # nothing to do: no cluster needed
            job = _make_job(opts, ray_opts, plan, sink)
            local = not (ray.is_initialized() or ray_opts.address or os.environ.get("RAY_ADDRESS"))
            # (a local output only: an async fsspec file system, s3 or gs, is not fork-safe)
            if local and sink.local and ray_opts.warm_start and "cnn" not in (
                    plan.shape_source, plan.bump_source):
                try:
                    warm = _WarmStart(job, entries, todo)
                except Exception as exc:  # noqa: BLE001 - no warm start: the actors do it all
                    say(f"note: no warm start ({exc})")
            t0 = time.perf_counter()
            started = connect(ray_opts)
            summary.options["ray_init_s"] = round(time.perf_counter() - t0, 3)
            _run(opts, ray_opts, plan, summary, entry_recs, todo, progress, say, job, warm,
                 start)
    finally:
        if warm is not None:
            warm.close()
        progress.close()
        if started:
            t0 = time.perf_counter()
            stop_local_cluster()
            summary.options["ray_stop_s"] = round(time.perf_counter() - t0, 3)
    sink.clean_staging()
    crops = [sink.path(f"imgs/{records[j].name}.png") for rs in entry_recs for j in rs
             if f"imgs/{records[j].name}.png" in records[j].outputs]
    from extreme3d.stages.outputs import IMAGE_LIST

    sink.write_bytes(IMAGE_LIST, "".join(f"{p}\n" for p in crops).encode())
    summary.wall_s = time.perf_counter() - start
    sink.write_bytes("summary.json", (json.dumps(summary.to_json(), indent=2) + "\n").encode())
    return summary


def _run(opts: BatchOptions, ray_opts: RayOptions, plan: Any, summary: BatchSummary,
         entry_recs: list[list[int]], todo: deque[int], progress: _Progress,
         say: Callable[[str], None], job: _Job, warm: _WarmStart | None = None,
         start: float | None = None) -> None:
    """The driver loop: prepare -> (CNN batches) -> finish, at most `window` images in flight;
    a done marker for each image whose faces all finished. `warm`: the entries done while the
    cluster started, taken in once the actors have work. Records when the actors' first and
    last answers came (seconds since `start`, the run's perf_counter start)."""
    import ray

    records = summary.images
    entries = plan.listing.entries
    sink = job.sink
    use_cnn = "cnn" in (plan.shape_source, plan.bump_source)
    t0 = time.perf_counter()
    actors = _Actors(job, ray_opts, use_cnn)
    n_geo = len(actors.geometry)
    # without a CNN, one task per entry (prepare + finish, `process`), at most `depth` queued on
    # an actor (one running, one waiting: no idle round trip) and one in the tail (the last
    # entries go to whichever actor frees first); with CNNs, prepare -> CNN batch -> finish
    # with a window of entries in flight
    fused = not use_cnn
    window = ray_opts.window or (2 * n_geo if fused else max(3 * n_geo, 2 * opts.batch_size))
    if not fused:  # a CNN batch's entries must fit in the window together
        window = max(window, opts.batch_size)
    depth = max(1, window // n_geo)
    inflight: dict[Any, tuple[str, Any, Any]] = {}  # ref -> (kind, payload, actor)
    # CNN batches: the faces of `batch_size` consecutive list entries, as the local engine
    # batches them (the networks' floating-point results depend on a batch's members)
    bs = max(1, opts.batch_size)
    chunk_left: dict[int, int] = {}  # chunk of entries -> entries not prepared yet
    for i in tuple(todo):  # one C-level copy: the warm-start thread may pop meanwhile
        chunk_left[i // bs] = chunk_left.get(i // bs, 0) + 1
    buffer: dict[int, list[tuple[int, PreparedFace]]] = {}  # chunk -> its prepared faces
    open_faces: dict[int, int] = {}  # entry -> faces not finished yet
    owner: dict[int, int] = {}  # record -> entry
    active = 0

    def close_entry(i: int) -> None:
        nonlocal active
        active -= 1
        progress.update()
        recs = [records[j] for j in entry_recs[i]]
        if all(r.status == "done" for r in recs):
            sink.write_marker(entries[i].name, [asdict(r) for r in recs])

    def fail(j: int, stage: str, reason: str) -> None:
        records[j].fail(stage, reason)
        say(_message("failed", records[j]))
        face_closed(j)

    def face_closed(j: int) -> None:
        i = owner[j]
        open_faces[i] -= 1
        if open_faces[i] == 0:
            close_entry(i)

    def submit_finish(j: int, face: PreparedFace, identity: Any, maps: Any) -> None:
        actor = actors.pick(actors.geometry)
        inflight[actor.finish.remote(face, identity, maps)] = ("finish", j, actor)

    def submit_entries() -> None:
        nonlocal active
        while todo:
            if fused:
                actor = actors.pick(actors.geometry, depth if len(todo) > n_geo else 1)
            else:
                actor = actors.pick(actors.geometry) if active < window else None
            if actor is None:
                return
            i = todo.popleft()
            path, name = str(entries[i].path), entries[i].name
            if fused:
                inflight[actor.process.remote(path, name)] = ("process", i, actor)
            else:
                inflight[actor.prepare.remote(path, name)] = ("prepare", i, actor)
            active += 1

    def entry_prepared(i: int) -> None:
        """Entry i's prepare answered: its chunk's faces go to a CNN actor once all are in."""
        c = i // bs
        chunk_left[c] -= 1
        if chunk_left[c] == 0 and buffer.get(c):
            batch = sorted(buffer.pop(c), key=lambda f: (owner[f[0]], f[0]))
            actor = actors.pick(actors.cnn)
            inflight[actor.infer.remote([f for _, f in batch])] = ("infer", batch, actor)

    def on_prepare(i: int, res: _Done, finished: list[_Done] | None = None) -> None:
        rec = records[i]
        rec.shape_source, rec.bump_source = plan.shape_source, plan.bump_source
        for k, v in res.seconds.items():
            rec.seconds[k] += v
        sink.write_files(res.files)
        if not res.ok:
            rec.fail(res.stage or "prepare", res.reason or "unknown error")
            say(_message("skipped", rec))
            close_entry(i)
            return
        rec.outputs += res.outputs
        open_faces[i] = len(res.names)
        face_recs = []
        for k, (face_name, num_faces) in enumerate(res.names):
            j = i if k == 0 else len(records)
            if k == 0:
                rec.name = face_name
            else:
                records.append(ImageRecord(face_name, str(entries[i].path), entries[i].line,
                                           shape_source=plan.shape_source,
                                           bump_source=plan.bump_source,
                                           outputs=prepared_outputs(face_name)))
                entry_recs[i].append(j)
                progress.grow()
            records[j].num_faces = num_faces
            owner[j] = i
            face_recs.append(j)
            if finished is not None:
                continue
            if use_cnn:
                buffer.setdefault(i // bs, []).append((j, res.faces[k]))
            else:
                submit_finish(j, res.faces[k], None, None)
        for j, fin in zip(face_recs, finished or [], strict=False):
            on_finish(j, fin)

    def on_infer(batch: list[tuple[int, PreparedFace]], answers: list[tuple[Any, Any]]) -> None:
        for (j, face), (identity, maps) in zip(batch, answers, strict=True):
            if isinstance(identity, tuple):
                fail(j, *identity)
                continue
            records[j].seconds["shape_cnn"] += identity.seconds
            if isinstance(maps, tuple):
                fail(j, *maps)
                continue
            if maps is not None:
                records[j].seconds["bump_cnn"] += maps.seconds
            submit_finish(j, face, identity, maps)

    def on_finish(j: int, res: _Done) -> None:
        rec = records[j]
        sink.write_files(res.files)
        for k, v in res.seconds.items():
            rec.seconds[k] = rec.seconds.get(k, 0.0) + v
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
            face_closed(j)
        else:
            fail(j, res.stage or "core", res.reason or "unknown error")

    try:
        if warm is not None:
            warm.stop()  # the list is the driver's again
        submit_entries()  # queued behind the actors' start: they work as soon as they are up
        actors.wait_ready()
        summary.options["ray_actors_ready_s"] = round(time.perf_counter() - t0, 3)
        summary.options["colors"] = actors.colors
        summary.options["ray_workers"] = n_geo
        summary.options["ray_cnn_actors"] = len(actors.cnn)
        while todo or inflight or warm is not None:
            if warm is not None and (warm.done() or not (todo or inflight)):
                # the child's last entry answered (or all that is left): its entries taken in
                done_warm = warm.finish()
                todo.extendleft(reversed(warm.returned))
                summary.options["ray_warm_entries"] = len(done_warm)
                for i, (prep, finished) in done_warm:
                    active += 1
                    on_prepare(i, prep, finished)
                warm = None
            submit_entries()
            if not inflight:
                continue
            ready, _ = ray.wait(list(inflight), num_returns=1,
                                timeout=None if warm is None else 0.05)
            if ready:
                since = round(time.perf_counter() - (start or t0), 3)
                summary.options.setdefault("ray_first_result_s", since)
                summary.options["ray_last_result_s"] = since
            for ref in ready:
                kind, payload, actor = inflight.pop(ref)
                actors.release(actor)
                try:
                    value = ray.get(ref)
                except ray.exceptions.RayActorError as exc:  # the task crashed it 3 times
                    reason = f"{CRASH_REASON} ({type(exc).__name__})"
                    _fail_task(kind, payload, reason, records, close_entry, fail)
                except Exception as exc:  # noqa: BLE001 - e.g. an argument that cannot be sent
                    reason = _reason(exc)
                    _fail_task(kind, payload, reason, records, close_entry, fail)
                else:
                    if kind == "process":
                        on_prepare(payload, *value)
                    elif kind == "prepare":
                        on_prepare(payload, value)
                    elif kind == "infer":
                        on_infer(payload, value)
                    else:
                        on_finish(payload, value)
                if kind == "prepare":
                    entry_prepared(payload)
    finally:
        actors.stop()


def _fail_task(kind: str, payload: Any, reason: str, records: list[ImageRecord],
               close_entry: Callable[[int], None], fail: Callable[[int, str, str], None]) -> None:
    """Records a task that could not run: its entry (prepare) or its faces failed."""
    if kind in ("prepare", "process"):  # (process: the entry's faces are not known yet)
        records[payload].fail(kind.replace("process", "core"), reason)
        close_entry(payload)
    elif kind == "infer":
        for j, _ in payload:
            fail(j, "shape_cnn", reason)
    else:
        fail(payload, "core", reason)
