"""What every runner shares, by composition: the run's tally, which calls are still to do, and
how a finished batch is recorded (per-call files first, the store row last, then progress).

A runner decides only where the stages run (this process, worker processes, a Ray cluster);
it owns a ``CallRecorder`` and hands it each batch of results.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from wocas.config import Config
from wocas.errors import disk_full, store_disk_full
from wocas.io.exports import write_call_files
from wocas.io.ingest import iter_calls
from wocas.pipeline import pipeline_version
from wocas.schema import CallAnalysis
from wocas.store.store import Store

log = logging.getLogger(__name__)

ProgressFn = Callable[[CallAnalysis, bool], None]  # (the call, whether it was skipped as already done)


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


class CallRecorder:
    """Skips finished calls and records results. Only the process that owns it touches the store."""

    def __init__(self, config: Config, out_dir: Path, store: Store, force: bool = False,
                 on_call: ProgressFn | None = None, replace: bool = False):
        self.out_dir = out_dir
        self.store = store
        self.force = force
        self.replace = replace
        self.on_call = on_call
        self.version = pipeline_version(config)

    def pending(self, inputs: list[str], summary: RunSummary) -> Iterator[CallAnalysis]:
        """Calls still to do; finished ones are counted as skipped and reported."""
        for call in iter_calls(inputs):
            if call.ok and not self.replace and (first := self._stored_elsewhere(call)) is not None:
                # Not stored: its row would overwrite the good call that has this id.
                reason = f"{call.call.source}: duplicate call_id {call.call_id!r}, first from {first} (--replace to overwrite)"
                log.error("call %s refused: %s", call.call_id, reason)
                summary.failed += 1
                summary.failures.append((call.call_id, reason))
                if self.on_call:
                    self.on_call(call.failed("ingest", reason), False)
                continue
            if (not self.force and call.ok
                    and self.store.is_done(call.call_id, call.call.content_hash, self.version)):
                summary.skipped += 1
                if self.on_call:
                    self.on_call(call, True)
                continue
            yield call

    def _stored_elsewhere(self, call: CallAnalysis) -> str | None:
        """The source of a good call already stored under this id with other content, else None
        (the same content is skipped or redone as usual; a failed one may be replaced)."""
        rows = self.store.query("SELECT content_hash, source FROM calls WHERE call_id = ? AND status = 'ok'",
                                [call.call_id])
        if rows and rows[0]["content_hash"] != call.call.content_hash:
            return rows[0]["source"] or "an earlier run"
        return None

    def record(self, results: list[CallAnalysis], summary: RunSummary) -> None:
        # Files first, store last: the store's row is what marks a call done, so a kill in
        # between redoes the call (and rewrites its files) instead of skipping it.
        results = [c.replace(run_id=summary.run_id) for c in results]
        try:
            for call in results:
                write_call_files(call, self.out_dir)
        except OSError as e:
            raise disk_full(e, self.out_dir / "calls") or e
        try:
            self.store.write(results, summary.run_id, self.version)
        except Exception as e:
            raise store_disk_full(e, self.store.path) or e
        for call in results:
            if call.ok:
                summary.ok += 1
                summary.audio_seconds += call.duration if call.call.kind == "audio" else 0.0
            else:
                summary.failed += 1
                summary.failures.append((call.call_id, call.error or "unknown error"))
                log.error("call %s failed: %s", call.call_id, call.error)
            if self.on_call:
                self.on_call(call, False)
