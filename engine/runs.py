"""The nightly run's lifecycle, behind one call: ``execute_run(RunRequest) -> RunResult``.

It checks the inputs (a missing path is a ``UsageError``; inputs that hold no call are
``NoInput``; either way nothing is written), opens the store (``StoreLocked`` if another
process holds it), marks runs killed earlier as interrupted, starts the run row, turns SIGTERM
into an interrupt, runs the chosen runner, finishes the run row, and refreshes the customer and
insight roll-ups. At its start it copies the review app's new verdicts into the store
(``wocas.store.verdicts``). A refused run writes no file (the lock is taken before the log and the resolved
config). Whatever stops a run leaves its row with the counts so far: a full disk becomes
``DiskFull`` (exit 6, the path named), any other unexpected exception ``InternalError`` (exit 5,
status ``crashed``, the traceback in the run's log). The CLI only parses arguments, shows
progress and prints the result.
"""

from __future__ import annotations

import dataclasses

import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from wocas.errors import InternalError, NoInput, UsageError, WocasError, disk_full, store_disk_full

if TYPE_CHECKING:  # the CLI imports this module for every command; the run's imports wait for a run
    from wocas.config import Config
    from wocas.runners.recording import ProgressFn, RunSummary

log = logging.getLogger(__name__)

STORE_NAME = "wocas.duckdb"
GLOB_CHARS = "*?["


def store_path(out_dir: Path) -> Path:
    return out_dir / STORE_NAME


class RunStatus(StrEnum):
    DONE = "done"
    INTERRUPTED = "interrupted"  # Ctrl-C or SIGTERM: finished calls are stored
    CRASHED = "crashed"


@dataclass(frozen=True)
class RunRequest:
    inputs: tuple[str, ...]  # folders, globs, manifests, transcripts, audio files
    out: Path  # per-call files, logs, the resolved config, the store by default
    config: Config
    store: Path | None = None  # default OUT/wocas.duckdb
    force: bool = False  # redo calls already in the store
    replace: bool = False  # a stored call id that arrives with other content overwrites it (else refused)
    address: str | None = None  # Ray cluster address (runner = "ray")
    verbose: bool = False  # log to the terminal too
    log_format: str = "text"  # "json": the terminal log lines (-v) are JSON objects too
    on_call: ProgressFn | None = None  # called once per call recorded or skipped

    @property
    def store_path(self) -> Path:
        return Path(self.store) if self.store else store_path(self.out)


@dataclass(frozen=True)
class RunResult:
    run_id: str
    status: RunStatus
    summary: RunSummary | None  # None when the run was interrupted
    alerts: tuple[str, ...]
    store: Path
    log: Path


class JsonLines(logging.Formatter):
    """One JSON object a line, ``{"event": "log", ...}``, like ``--log-format json``'s progress lines."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        out = {"event": "log", "time": self.formatTime(record), "level": record.levelname,
               "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup_logging(log_path: Path | None, verbose: bool, log_format: str = "text") -> None:
    text = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = []
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path))
    stream = logging.StreamHandler(sys.stderr)
    stream.setLevel(logging.INFO if verbose else logging.ERROR + 10)
    handlers.append(stream)
    for h in handlers:
        h.setFormatter(JsonLines() if h is stream and log_format == "json" else text)
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True)


def check_inputs(inputs: tuple[str, ...] | list[str]) -> None:
    """``UsageError`` naming every input path that does not exist; ``NoInput`` when the inputs
    exist but hold no call. Reads at most the first call (a manifest is not read whole)."""
    from wocas.io.ingest import iter_calls

    if not inputs:
        raise UsageError("no inputs given")
    missing = [spec for spec in inputs
               if not any(ch in spec for ch in GLOB_CHARS) and not Path(spec).expanduser().exists()]
    if missing:
        raise UsageError(f"input does not exist: {', '.join(missing)} (nothing was run)")
    if next(iter(iter_calls(list(inputs))), None) is None:
        raise NoInput(f"no calls in {', '.join(inputs)} (nothing was run)")


def execute_run(request: RunRequest) -> RunResult:
    from wocas.pipeline import pipeline_version
    from wocas.models.preflight import check_models_installed
    from wocas.runners.recording import RunSummary, new_run_id
    from wocas.store.store import Store

    check_inputs(request.inputs)
    config, out = request.config, request.out
    check_models_installed(config, [str(i) for i in request.inputs])  # exit 2 before anything is written
    out.mkdir(parents=True, exist_ok=True)
    # The lock first: a refused run (StoreLocked) writes no log and no config.resolved.toml.
    store = Store(request.store_path)
    from wocas.analytics.calibration import with_stored_refit

    config = with_stored_refit(store, config, out)  # a centre's refit (wocas calibrate) scores this run too
    if not config.run.spool_dir:  # long calls' audio is spooled into the run's own folder
        config = config.model_copy(update={"run": config.run.model_copy(update={"spool_dir": str(out / "tmp")})})
    request = dataclasses.replace(request, config=config)
    run_id = new_run_id()
    log_path = out / "logs" / f"{run_id}.log"
    try:
        setup_logging(log_path, request.verbose, request.log_format)
        (out / "config.resolved.toml").write_text(config.to_toml())
    except OSError as e:
        store.close()
        raise disk_full(e, out) or e
    if not config.redact.enabled:
        log.warning("redaction is OFF for run %s: PII is stored in clear text", run_id)
    for stale in store.close_stale_runs():
        log.warning("run %s was killed before it finished; marked interrupted", stale)
    from wocas.store.verdicts import sync_for_run

    sync_for_run(store)  # the reviewers' verdicts since the last run, for reports to join (never fails)
    inputs = [str(i) for i in request.inputs]
    store.start_run(run_id, pipeline_version(config), inputs, config.to_toml(), str(log_path))
    summary = RunSummary(run_id=run_id)
    status = RunStatus.CRASHED
    try:
        with _sigterm_interrupts():
            _runner(request, store).run(inputs, run_id, summary)
        status = RunStatus.DONE
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM (systemd stop): what is stored stays
        status = RunStatus.INTERRUPTED
    except WocasError:
        log.exception("run %s stopped", run_id)
        raise
    except Exception as e:
        full = store_disk_full(e, request.store_path if not isinstance(e, OSError) else out)
        if full is not None:
            log.error("run %s: %s", run_id, full)
            raise full from e
        log.exception("run %s crashed", run_id)
        raise InternalError(f"internal error, run {run_id} stopped: {type(e).__name__}: {e} "
                            f"(traceback in {log_path})") from e
    finally:
        if status != RunStatus.DONE:  # the counts so far, whatever stopped the run
            try:
                store.finish_run(run_id, status.value, summary.ok, summary.failed, summary.skipped,
                                 summary.audio_seconds, summary.wall_seconds)
            except Exception:
                log.exception("could not record the end of run %s", run_id)
            store.close()
    if status == RunStatus.INTERRUPTED:
        return RunResult(run_id, status, None, (), request.store_path, log_path)
    try:
        with store:
            store.finish_run(run_id, status.value, summary.ok, summary.failed, summary.skipped,
                             summary.audio_seconds, summary.wall_seconds)
            clock = time.perf_counter()
            _rollup_customers(store, config, out)
            rolled = time.perf_counter()
            alerts = tuple(_insight_alerts(store, config))
            refreshed = time.perf_counter()
            _publish_snapshot(store)
            log.info("after the calls: customers %.2f s, insights %.2f s, snapshot %.2f s", rolled - clock,
                     refreshed - rolled, time.perf_counter() - refreshed)
    except Exception as e:
        full = store_disk_full(e, request.store_path if not isinstance(e, OSError) else out)
        if full is None:
            raise
        raise full from e
    return RunResult(run_id, status, summary, alerts, request.store_path, log_path)


def _runner(request: RunRequest, store):
    if request.config.run.runner == "ray":
        from wocas.runners.ray import RayRunner

        return RayRunner(request.config, request.out, store, force=request.force,
                         on_call=request.on_call, address=request.address, replace=request.replace)
    from wocas.runners.local import LocalRunner

    return LocalRunner(request.config, request.out, store, force=request.force, on_call=request.on_call,
                       replace=request.replace)


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (systemd's stop, a batch scheduler's kill) ends the run like Ctrl-C: the batch
    being written commits or rolls back whole, and the run is marked interrupted."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _rollup_customers(store, config: Config, out: Path) -> None:
    """Rebuild the per-customer records after a run; a failure here never loses the run."""
    from wocas.analytics.customers import export, rollup

    try:
        rollup(store, config.customers, config.insights.satisfied_threshold)
        export(store, out / "customers", config.customers.period)
    except OSError as e:
        if (full := disk_full(e, out / "customers")) is not None:
            raise full from e
        log.exception("customer roll-up failed; the calls are stored, run `wocas customers` to retry")
    except Exception:
        log.exception("customer roll-up failed; the calls are stored, run `wocas customers` to retry")


def _publish_snapshot(store) -> None:
    """The read-only copy the review app serves (wocas.store.snapshot); never fails the run."""
    from wocas.store import snapshot

    try:
        log.info("published the review snapshot %s", snapshot.publish(store))
    except Exception:
        log.exception("publishing the review snapshot failed; run `wocas snapshot` to retry")


def _insight_alerts(store, config: Config) -> list[str]:
    """Refresh the insight tables after a run; the active alerts as lines. Never fails the run."""
    try:
        from wocas.analytics.insights import alert_lines, refresh

        return alert_lines(refresh(store, config, config.customers.period).active_alerts)
    except Exception:
        log.exception("insights failed; the calls are stored, run `wocas report` to retry")
        return []
