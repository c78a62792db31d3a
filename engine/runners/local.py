"""The local runner: streams calls from the inputs, skips finished ones, runs the pipeline in
this process or in worker processes, and writes each batch to the store as it completes.

Only this (parent) process touches the store, so workers never contend for it; at most
``2 × workers`` batches are in flight, so a huge manifest is never held in memory. A worker
that dies (killed, out of memory) costs only the calls it held: they are redone one at a
time in a fresh pool, and a call that kills its worker on its own is recorded as failed.
"""

from __future__ import annotations

from contextlib import contextmanager

import itertools
import json
import logging
import multiprocessing as mp
import os
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from wocas.config import Config, RunConfig
from wocas.pipeline import Pipeline
from wocas.schema import CallAnalysis
from wocas.store import Store
from wocas.errors import WocasError
from wocas.models.libraries import set_thread_budget
from wocas.runners.limits import process_within_limits
from wocas.runners.recording import CallRecorder, ProgressFn, RunSummary, batched, new_run_id

log = logging.getLogger(__name__)

__all__ = ["LocalRunner", "RunSummary", "WorkerSetupError", "new_run_id"]  # RunSummary, new_run_id: from recording

WORKER_DIED = "the worker process died while analysing this call (killed, or out of memory)"


WORKER_MEMORY_GB = 1.5  # a worker's peak with the default pipeline is about 1 GB (benchmarks/results/workers*)


def auto_workers(cores: int | None = None, free_gb: float | None = None) -> int:
    """Workers for ``[run] workers = 0``: one per core (one thread each), at most one per
    ``WORKER_MEMORY_GB`` free. On the project's 2-core machine two one-thread workers took 0.72x
    the wall time of one process on the 16-call sample batch, with the same words and scores
    (benchmarks/results/workers_samples.md)."""
    cores = cores if cores is not None else (os.cpu_count() or 1)
    if free_gb is None:
        try:
            free_gb = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
        except (ValueError, OSError, AttributeError):
            free_gb = float("inf")
    return max(1, min(cores, int(free_gb // WORKER_MEMORY_GB)))


def _asr_on_gpu(config: Config) -> bool:
    """On a GPU one process batches the ASR; more would each load the model into GPU memory."""
    from wocas.stages.transcribe import pick_device

    return pick_device(config.asr.device) == "cuda"


def worker_threads(run: RunConfig, workers: int) -> int:
    """Threads per worker: the configured number, else the cores shared out (at least one).
    Two one-thread ASR workers beat one two-thread worker on two cores: CTranslate2 and
    torch scale poorly past one thread on short windows, and a second process also overlaps
    one call's CPU stages with another's ASR."""
    return run.threads_per_worker or max(1, (os.cpu_count() or 1) // max(1, workers))


def apply_threads(threads: int) -> None:
    """Pin this worker process's numeric libraries to ``threads`` through their own APIs: the
    process's thread budget (ONNX Runtime sessions read it), torch's intra-op pool and the BLAS
    and OpenMP pools loaded so far. The ASR stage is given the count by the pipeline
    (``cpu_threads``). A worker exists for the run and may meet any call, so torch is loaded
    and pinned here; an in-process run uses ``thread_limits``."""
    import torch
    from threadpoolctl import threadpool_limits

    set_thread_budget(threads)
    torch.set_num_threads(threads)
    threadpool_limits(limits=threads)


@contextmanager
def thread_limits(threads: int) -> Iterator[None]:
    """``apply_threads`` for the length of an in-process run, then the caller's settings back:
    a run must not change the process it runs in (a caller's own thread settings are its own;
    when they were torch-based, tiny.en's WER on LJ Speech once moved from 7.4% to 15.3% with them).
    torch is pinned only when it is already loaded: importing it costs over a second, and a
    transcript-only run never needs it (the models that use torch set their own counts)."""
    if not threads:
        yield
        return
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else 0
    previous = set_thread_budget(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        set_thread_budget(previous)
        if torch is not None:
            torch.set_num_threads(before)


# ---- worker processes -----------------------------------------------------------------------
_worker_pipeline: Pipeline | None = None
_worker_setup_error: str | None = None


class WorkerSetupError(WocasError, RuntimeError):
    """A worker could not build its pipeline (a model that will not load, an unwritable
    cache): every call would fail the same way, so the run stops and says why."""


def die_with_parent(parent_pid: int) -> None:
    """End this worker when the run process dies, even by SIGKILL (which runs no clean-up):
    the kernel's parent-death signal on Linux, and a watch thread everywhere (it also covers
    a parent that died before the signal was armed)."""
    import signal
    import sys
    import threading

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="wocas-parent-watch", daemon=True).start()


_worker_ready: tuple[float, float] | None = None  # (time.time(), CPU seconds) when the initializer ended


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def _init_worker(config: Config, threads: int, parent_pid: int | None = None) -> None:
    global _worker_pipeline, _worker_setup_error, _worker_ready
    if parent_pid is not None:
        die_with_parent(parent_pid)
    apply_threads(threads)
    try:
        _worker_pipeline = Pipeline.from_config(config, threads)
    except Exception as e:  # raised from an initializer it would only look like a dead worker
        _worker_setup_error = f"{type(e).__name__}: {e}"
    _worker_ready = (time.time(), _cpu_seconds())


@dataclass
class WorkerBatch:
    """A worker's results for one batch, with when and how much CPU it took (for the run's log)."""

    results: list[CallAnalysis]
    pid: int
    started: float  # time.time()
    ended: float
    cpu_seconds: float  # this process, all its threads
    ready: tuple[float, float] | None  # the worker's (time, CPU) at the end of its start-up


def _worker_process(batch: list[CallAnalysis]) -> WorkerBatch:
    if _worker_setup_error is not None:
        raise WorkerSetupError(f"a worker could not load the pipeline: {_worker_setup_error}")
    assert _worker_pipeline is not None
    started, cpu = time.time(), _cpu_seconds()
    results = process_within_limits(_worker_pipeline, batch, _worker_pipeline.config.run)
    return WorkerBatch(results, os.getpid(), started, time.time(), _cpu_seconds() - cpu, _worker_ready)


class PoolProfile:
    """Where a pool run's time went: each worker's start-up, busy and idle time and CPU, and the
    parent's CPU. Logged at the end of the run (one JSON line) so a slow night can be explained."""

    def __init__(self) -> None:
        self.began = time.time()
        self.parent_cpu = _cpu_seconds()
        self.workers: dict[int, dict] = {}
        self.record_seconds = 0.0  # the parent writing files and store rows

    def add(self, batch: WorkerBatch) -> None:
        w = self.workers.setdefault(batch.pid, {"batches": 0, "calls": 0, "busy_s": 0.0, "cpu_s": 0.0,
                                                "first_start": batch.started, "last_end": batch.ended})
        if batch.ready is not None:
            w["ready_after_s"], w["startup_cpu_s"] = round(batch.ready[0] - self.began, 2), round(batch.ready[1], 2)
        w["batches"] += 1
        w["calls"] += len(batch.results)
        w["busy_s"] += batch.ended - batch.started
        w["cpu_s"] += batch.cpu_seconds
        w["first_start"] = min(w["first_start"], batch.started)
        w["last_end"] = max(w["last_end"], batch.ended)

    def summary(self) -> dict:
        end = time.time()
        workers = []
        for pid, w in sorted(self.workers.items()):
            workers.append({"pid": pid, "batches": w["batches"], "calls": w["calls"],
                            "ready_after_s": w.get("ready_after_s"), "startup_cpu_s": w.get("startup_cpu_s"),
                            "first_batch_at_s": round(w["first_start"] - self.began, 2),
                            "busy_s": round(w["busy_s"], 2), "cpu_s": round(w["cpu_s"], 2),
                            "done_at_s": round(w["last_end"] - self.began, 2)})
        return {"wall_s": round(end - self.began, 2), "parent_cpu_s": round(_cpu_seconds() - self.parent_cpu, 2),
                "parent_record_s": round(self.record_seconds, 2), "workers": workers}


def _submit(pool: ProcessPoolExecutor, batch: list[CallAnalysis]) -> Future:
    """Submit a batch; a pool already broken by a dead worker gives a future that says so,
    and the batch is redone with the others in flight when its turn to be collected comes."""
    try:
        return pool.submit(_worker_process, batch)
    except BrokenProcessPool as e:
        future: Future = Future()
        future.set_exception(e)
        return future


class LocalRunner:
    """Runs the pipeline here (one worker) or in a pool of worker processes; the recorder skips
    finished calls and writes each batch's files and store rows."""

    def __init__(self, config: Config, out_dir: Path, store: Store, force: bool = False,
                 on_call: ProgressFn | None = None, replace: bool = False):
        self.config = config
        self.recorder = CallRecorder(config, out_dir, store, force=force, on_call=on_call, replace=replace)

    def run(self, inputs: list[str], run_id: str, summary: RunSummary | None = None) -> RunSummary:
        """Counts land in ``summary`` (a new one if None) as calls are recorded, so a crash keeps them."""
        summary = summary if summary is not None else RunSummary(run_id=run_id)
        started = time.perf_counter()
        batches = batched(self.recorder.pending(inputs, summary), self.config.run.batch_size)
        workers = self.config.run.workers
        if workers == 0:  # auto: a pool only pays its start-up with more than one batch to do
            first = next(batches, None)
            second = next(batches, None) if first is not None else None
            workers = auto_workers() if second is not None and not _asr_on_gpu(self.config) else 1
            batches = itertools.chain([b for b in (first, second) if b is not None], batches)
        if workers <= 1:
            threads = self.config.run.threads_per_worker
            with thread_limits(threads):
                pipeline = Pipeline.from_config(self.config, threads)
                try:
                    for batch in batches:
                        self.recorder.record(process_within_limits(pipeline, batch, self.config.run), summary)
                finally:
                    pipeline.close()
        else:
            self._run_pool(batches, workers, worker_threads(self.config.run, workers), summary)
        summary.wall_seconds = time.perf_counter() - started
        return summary

    def _new_pool(self, workers: int, threads: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                                   initializer=_init_worker, initargs=(self.config, threads, os.getpid()))

    def _run_pool(self, batches: Iterator[list[CallAnalysis]], workers: int, threads: int,
                  summary: RunSummary) -> None:
        pool: ProcessPoolExecutor | None = None  # started with the first batch to do
        in_flight: deque[tuple[list[CallAnalysis], Future]] = deque()
        self.profile = PoolProfile()
        finished = False
        try:
            for batch in batches:
                if pool is None:
                    log.info("%d worker processes, %d thread(s) each", workers, threads)
                    pool = self._new_pool(workers, threads)
                in_flight.append((batch, _submit(pool, batch)))
                while len(in_flight) >= 2 * workers:
                    pool = self._collect(in_flight, pool, workers, threads, summary)
            while in_flight:
                pool = self._collect(in_flight, pool, workers, threads, summary)
            finished = True
        finally:
            if pool is not None:
                # Every result is in: the idle workers tear down (seconds: the model libraries)
                # while this process rolls up the run; interpreter exit joins them. Otherwise wait.
                stopping = time.perf_counter()
                pool.shutdown(wait=not finished, cancel_futures=True)
                log.info("worker pool profile: %s", json.dumps(
                    {**self.profile.summary(), "shutdown_s": round(time.perf_counter() - stopping, 2)}))

    def _collect(self, in_flight: deque, pool: ProcessPoolExecutor, workers: int, threads: int,
                 summary: RunSummary) -> ProcessPoolExecutor:
        """Record the oldest batch; after a worker death, redo the calls then in flight one by
        one so the call that kills a worker is found and failed, and the rest are kept."""
        batch, future = in_flight.popleft()
        try:
            done = future.result()
        except BrokenProcessPool:
            suspects = list(batch) + [call for b, _ in in_flight for call in b]
            in_flight.clear()
        else:
            self.profile.add(done)
            started = time.perf_counter()
            self.recorder.record(done.results, summary)
            self.profile.record_seconds += time.perf_counter() - started
            return pool
        log.error("a worker process died; redoing its %d call(s) one at a time", len(suspects))
        pool.shutdown(wait=False, cancel_futures=True)
        pool = self._new_pool(workers, threads)
        for call in suspects:
            try:
                results = pool.submit(_worker_process, [call]).result().results
            except BrokenProcessPool:
                results = [call.failed("worker", f"{call.call.source}: {WORKER_DIED}")]
                pool.shutdown(wait=False, cancel_futures=True)
                pool = self._new_pool(workers, threads)
            self.recorder.record(results, summary)
        return pool
