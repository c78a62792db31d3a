"""The local runner: streams calls from the inputs, skips finished ones, runs the pipeline in
this process or in worker processes, and writes each batch to the store as it completes.

Only this (parent) process touches the store, so workers never contend for it; at most
``2 × workers`` batches are in flight, so a huge manifest is never held in memory. A worker
that dies (killed, out of memory) costs only the calls it held: they are redone one at a
time in a fresh pool, and a call that kills its worker on its own is recorded as failed.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from wocas.config import Config, RunConfig
from wocas.io.exports import write_call_files
from wocas.io.ingest import iter_calls
from wocas.pipeline import Pipeline, pipeline_version
from wocas.schema import CallAnalysis
from wocas.store.store import Store
from wocas.errors import WocasError

log = logging.getLogger(__name__)

ProgressFn = Callable[[CallAnalysis], None]
WORKER_DIED = "the worker process died while analysing this call (killed, or out of memory)"


@dataclass
class RunSummary:
    run_id: str
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (call_id, error)

    @property
    def x_realtime(self) -> float:
        return self.audio_seconds / self.wall_seconds if self.wall_seconds else 0.0


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def batched(items: Iterator[CallAnalysis], size: int) -> Iterator[list[CallAnalysis]]:
    batch: list[CallAnalysis] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def worker_threads(run: RunConfig, workers: int) -> int:
    """Threads per worker: the configured number, else the cores shared out (at least one).
    Two one-thread ASR workers beat one two-thread worker on two cores: CTranslate2 and
    torch scale poorly past one thread on short windows, and a second process also overlaps
    one call's CPU stages with another's ASR."""
    return run.threads_per_worker or max(1, (os.cpu_count() or 1) // max(1, workers))


def apply_threads(threads: int) -> None:
    """Pin this process's numeric libraries to ``threads`` (read by the ASR stage too)."""
    os.environ["WOCAS_THREADS"] = str(threads)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch

    torch.set_num_threads(threads)


# ---- worker processes -----------------------------------------------------------------------
_worker_pipeline: Pipeline | None = None
_worker_setup_error: str | None = None


class WorkerSetupError(WocasError, RuntimeError):
    """A worker could not build its pipeline (a model that will not load, an unwritable
    cache): every call would fail the same way, so the run stops and says why."""


def _init_worker(config: Config, threads: int) -> None:
    global _worker_pipeline, _worker_setup_error
    apply_threads(threads)
    try:
        _worker_pipeline = Pipeline.from_config(config)
    except Exception as e:  # raised from an initializer it would only look like a dead worker
        _worker_setup_error = f"{type(e).__name__}: {e}"


def _worker_process(batch: list[CallAnalysis]) -> list[CallAnalysis]:
    if _worker_setup_error is not None:
        raise WorkerSetupError(f"a worker could not load the pipeline: {_worker_setup_error}")
    assert _worker_pipeline is not None
    return _worker_pipeline.process(batch)


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
    def __init__(self, config: Config, out_dir: Path, store: Store, force: bool = False,
                 on_call: ProgressFn | None = None):
        self.config = config
        self.out_dir = out_dir
        self.store = store
        self.force = force
        self.on_call = on_call
        self.version = pipeline_version(config)

    def pending(self, inputs: list[str], summary: RunSummary) -> Iterator[CallAnalysis]:
        """Calls still to do; finished ones are counted as skipped and reported."""
        for call in iter_calls(inputs):
            if (not self.force and call.ok
                    and self.store.is_done(call.call_id, call.call.content_hash, self.version)):
                summary.skipped += 1
                if self.on_call:
                    self.on_call(call.model_copy(update={"flags": ("skipped",)}))
                continue
            yield call

    def run(self, inputs: list[str], run_id: str) -> RunSummary:
        summary = RunSummary(run_id=run_id)
        started = time.perf_counter()
        batches = batched(self.pending(inputs, summary), self.config.run.batch_size)
        workers = max(1, self.config.run.workers)
        if workers == 1:
            if self.config.run.threads_per_worker:
                apply_threads(self.config.run.threads_per_worker)
            pipeline = Pipeline.from_config(self.config)
            try:
                for batch in batches:
                    self._record(pipeline.process(batch), summary)
            finally:
                pipeline.close()
        else:
            self._run_pool(batches, workers, worker_threads(self.config.run, workers), summary)
        summary.wall_seconds = time.perf_counter() - started
        return summary

    def _new_pool(self, workers: int, threads: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                                   initializer=_init_worker, initargs=(self.config, threads))

    def _run_pool(self, batches: Iterator[list[CallAnalysis]], workers: int, threads: int,
                  summary: RunSummary) -> None:
        pool: ProcessPoolExecutor | None = None  # started with the first batch to do
        in_flight: deque[tuple[list[CallAnalysis], Future]] = deque()
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
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def _collect(self, in_flight: deque, pool: ProcessPoolExecutor, workers: int, threads: int,
                 summary: RunSummary) -> ProcessPoolExecutor:
        """Record the oldest batch; after a worker death, redo the calls then in flight one by
        one so the call that kills a worker is found and failed, and the rest are kept."""
        batch, future = in_flight.popleft()
        try:
            self._record(future.result(), summary)
            return pool
        except BrokenProcessPool:
            suspects = list(batch) + [call for b, _ in in_flight for call in b]
            in_flight.clear()
        log.error("a worker process died; redoing its %d call(s) one at a time", len(suspects))
        pool.shutdown(wait=False, cancel_futures=True)
        pool = self._new_pool(workers, threads)
        for call in suspects:
            try:
                results = pool.submit(_worker_process, [call]).result()
            except BrokenProcessPool:
                results = [call.failed("worker", f"{call.call.source}: {WORKER_DIED}")]
                pool.shutdown(wait=False, cancel_futures=True)
                pool = self._new_pool(workers, threads)
            self._record(results, summary)
        return pool

    def _record(self, results: list[CallAnalysis], summary: RunSummary) -> None:
        # Files first, store last: the store's row is what marks a call done, so a kill in
        # between redoes the call (and rewrites its files) instead of skipping it.
        for call in results:
            write_call_files(call, self.out_dir)
        self.store.write(results, summary.run_id, self.version)
        for call in results:
            if call.ok:
                summary.ok += 1
                summary.audio_seconds += call.duration if call.call.kind == "audio" else 0.0
            else:
                summary.failed += 1
                summary.failures.append((call.call_id, call.error or "unknown error"))
                log.error("call %s failed: %s", call.call_id, call.error)
            if self.on_call:
                self.on_call(call)
