"""A wall-clock limit per call, so one stuck call (a stage caught in a loop, a pathological
input) fails alone with the stage named and the batch goes on.

The batch runs under one timer (the sum of its calls' limits). When it rings, the batch is
redone one call at a time, each under its own limit, so the call that overruns is found and
failed and the others are kept. The timer is ``SIGALRM``: it works in a process's main thread
(an in-process run, and each worker process of the pool); elsewhere calls run without a limit.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from wocas.config import RunConfig
from wocas.schema import CallAnalysis

log = logging.getLogger(__name__)


class CallTimeout(BaseException):
    """Raised by the timer inside whatever stage is running. A ``BaseException`` so that a
    stage's own ``except Exception`` (which fails one call and carries on) cannot swallow it."""

    def __init__(self, stage: str):
        super().__init__(stage)
        self.stage = stage


def audio_seconds_hint(path: str) -> float:
    """The recording's length from its header, else a generous guess from its size (32 kbit/s)."""
    try:
        import soundfile

        return float(soundfile.info(path).duration)
    except Exception:
        try:
            return Path(path).stat().st_size / 4000.0
        except OSError:
            return 0.0


def call_limit(call: CallAnalysis, run: RunConfig) -> float:
    """Seconds this call may take end to end."""
    if run.call_time_limit_s:
        return run.call_time_limit_s
    if call.call.kind == "audio":
        return max(run.call_time_min_s, run.call_time_factor * audio_seconds_hint(call.call.source))
    chars = sum(len(t.text) for t in call.turns)
    return max(run.call_time_min_s, chars / 1000.0)


def _can_time() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def _stage_running(frame) -> str:
    """The name of the stage the pipeline is in: the ``stage`` local of ``Pipeline.process``."""
    from wocas.stages.base import Stage

    while frame is not None:
        stage = frame.f_locals.get("stage") if frame.f_code.co_name in ("process", "_run_one") else None
        if isinstance(stage, Stage):
            return stage.name
        frame = frame.f_back
    return "unknown"


@contextmanager
def _timer(seconds: float) -> Iterator[None]:
    def ring(signum, frame):  # noqa: ARG001
        raise CallTimeout(_stage_running(frame))

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def process_within_limits(pipeline, batch: list[CallAnalysis], run: RunConfig) -> list[CallAnalysis]:
    """``pipeline.process(batch)`` with each call held to its limit (see the module's doc)."""
    if not _can_time():
        return pipeline.process(list(batch))
    limits = [call_limit(call, run) for call in batch]
    try:
        with _timer(sum(limits)):
            return pipeline.process(list(batch))  # a copy: process() replaces the list's items
    except CallTimeout as timeout:
        if len(batch) == 1:
            call = batch[0]
            reason = f"{call.call.source}: exceeded time limit {limits[0]:.0f} s in stage {timeout.stage}"
            log.error("call %s failed: %s", call.call_id, reason)
            return [call.failed(timeout.stage, reason)]
    log.warning("a batch of %d calls ran past its time limit; redoing it one call at a time", len(batch))
    return [result for call in batch for result in process_within_limits(pipeline, [call], run)]

