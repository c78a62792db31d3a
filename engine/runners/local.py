"""The local runner: streams calls from the inputs, skips finished ones, runs the pipeline in
this process or in worker processes, and writes each batch to the store as it completes.

Only this (parent) process touches the store, so workers never contend for it; at most
``2 × workers`` batches are in flight, so a huge manifest is never held in memory.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from engine.config import Config
from engine.exports import write_call_files
from engine.ingest import iter_calls
from engine.pipeline import Pipeline, pipeline_version
from engine.schema import CallAnalysis
from engine.store import Store

log = logging.getLogger(__name__)

ProgressFn = Callable[[CallAnalysis], None]


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


# ---- worker processes -----------------------------------------------------------------------
_worker_pipeline: Pipeline | None = None


def _init_worker(config: Config, threads: int) -> None:
    global _worker_pipeline
    os.environ["WOCAS_THREADS"] = str(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    _worker_pipeline = Pipeline.from_config(config)


def _worker_process(batch: list[CallAnalysis]) -> list[CallAnalysis]:
    assert _worker_pipeline is not None
    return _worker_pipeline.process(batch)


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
            pipeline = Pipeline.from_config(self.config)
            try:
                for batch in batches:
                    self._record(pipeline.process(batch), summary)
            finally:
                pipeline.close()
        else:
            threads = self.config.run.threads_per_worker or max(1, (os.cpu_count() or 1) // workers)
            ctx = mp.get_context("spawn")
            with ctx.Pool(workers, initializer=_init_worker, initargs=(self.config, threads)) as pool:
                in_flight: deque = deque()
                for batch in batches:
                    in_flight.append(pool.apply_async(_worker_process, (batch,)))
                    while len(in_flight) >= 2 * workers:
                        self._record(in_flight.popleft().get(), summary)
                while in_flight:
                    self._record(in_flight.popleft().get(), summary)
        summary.wall_seconds = time.perf_counter() - started
        return summary

    def _record(self, results: list[CallAnalysis], summary: RunSummary) -> None:
        self.store.write(results, summary.run_id, self.version)
        for call in results:
            write_call_files(call, self.out_dir)
            if call.ok:
                summary.ok += 1
                summary.audio_seconds += call.duration if call.call.kind == "audio" else 0.0
            else:
                summary.failed += 1
                summary.failures.append((call.call_id, call.error or "unknown error"))
                log.error("call %s failed: %s", call.call_id, call.error)
            if self.on_call:
                self.on_call(call)
