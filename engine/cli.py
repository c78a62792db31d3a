"""The command line: ``wocas run``, ``wocas show``, ``wocas runs``.

Exit codes (``wocas.errors.ExitCode``): 0 every call ok; 1 the run finished but some calls
failed (see the summary and the calls table); 2 bad arguments, config, model or input path
(nothing was run); 3 the store is in use by another process (nothing was written); 4 the inputs
hold no call; 5 internal error (a bug outside any one call: the run row says 'crashed' with the
counts so far, the traceback is in the run's log); 6 disk full (the path is named); 130 interrupted (Ctrl-C, SIGTERM): finished calls are kept, run again to do the rest.
Errors become exit codes at one place, ``main``: a ``WocasError`` prints one line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from wocas.errors import ExitCode, StoreMissing, UsageError, WocasError, disk_full
from wocas.models.finetune import add_arguments as add_finetune_arguments
from wocas.runs import STORE_NAME, store_path

EXIT_OK, EXIT_FAILED_CALLS, EXIT_USAGE = ExitCode.OK, ExitCode.CALLS_FAILED, ExitCode.USAGE


def existing_store(args: argparse.Namespace) -> Path:
    """The store a read command works on (``--store`` or OUT/wocas.duckdb); it must exist."""
    path = Path(args.store or store_path(args.out))
    if not path.exists():
        raise StoreMissing(f"no store at {path} (run `wocas run ... --out {args.out}` first)")
    return path


def run_overrides(args: argparse.Namespace) -> dict:
    """The config sections the ``wocas run`` flags override."""
    overrides: dict = {}
    if args.device:
        overrides.setdefault("asr", {})["device"] = args.device
    if args.asr_profile:  # the command line wins over the config file's model
        from wocas.config import ASR_PROFILES

        overrides.setdefault("asr", {}).update(profile=args.asr_profile, model=ASR_PROFILES[args.asr_profile])
    if args.workers:
        overrides.setdefault("run", {})["workers"] = args.workers
    if args.runner:
        overrides.setdefault("run", {})["runner"] = args.runner
    if args.threads_per_worker:
        overrides.setdefault("run", {})["threads_per_worker"] = args.threads_per_worker
    if args.batch_size:
        overrides.setdefault("run", {})["batch_size"] = args.batch_size
    if args.no_redact and args.redact_audio:
        raise UsageError("--no-redact and --redact-audio contradict each other")
    if args.no_redact:  # lands in config.redact.enabled, so the run record says redaction was off
        overrides.setdefault("redact", {})["enabled"] = False
    if args.redact_audio:
        overrides.setdefault("redact", {}).update(audio=True, audio_dir=str(args.out / "calls"))
    return overrides


class RunReporter:
    """Progress and the closing summary of ``wocas run``: a Rich bar on a terminal; plain lines
    that never wrap when stderr is piped (cron, systemd); one JSON object a line with
    ``--log-format json``. The total comes from a header-only census of the inputs."""

    def __init__(self, log_format: str, quiet: bool):
        from rich.console import Console

        self.console = Console(stderr=True, soft_wrap=True)
        self.json = log_format == "json"
        self.quiet = quiet
        self.bar = None
        self.task = None
        self.total, self.total_seconds = None, 0.0
        self.done, self.audio = 0, 0.0
        self.t0 = 0.0

    def line(self, event: str, plain: str, **fields) -> None:
        if self.json:
            print(json.dumps({"event": event, **fields}, default=str), file=sys.stderr, flush=True)
        else:
            self.console.print(plain, markup=False, highlight=False)

    def start(self, inputs: list[str]) -> None:
        import time

        from wocas.io.census import census

        self.t0 = time.perf_counter()
        if self.quiet:
            return
        found = census(inputs)
        self.total, self.total_seconds = found.calls, found.audio_seconds
        if self.console.is_terminal and not self.json:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[audio]}"), TimeElapsedColumn(), TextColumn("ETA"),
                                TimeRemainingColumn(), console=self.console)
            self.task = self.bar.add_task("calls", total=self.total or None, audio=self._hours())

    def _hours(self) -> str:
        return f"{self.audio / 3600:.2f}/{self.total_seconds / 3600:.2f} h audio"

    def _eta(self, elapsed: float) -> float | None:
        if not self.total or not self.done:
            return None
        if self.total_seconds > 0 and self.audio > 0:  # audio calls: hours are the better clock
            return max(0.0, elapsed * (self.total_seconds - self.audio) / self.audio)
        return max(0.0, elapsed * (self.total - self.done) / self.done)

    def on_call(self, call, skipped: bool) -> None:
        import time

        self.done += 1
        if call.ok and call.call.kind == "audio":
            self.audio += call.duration
        if self.quiet:
            return
        elapsed = time.perf_counter() - self.t0
        if self.bar is not None:
            if self.done == 1:  # the bar appears with the first call: a refused run prints none
                self.bar.start()
            self.bar.update(self.task, advance=1, audio=self._hours())
            return
        status = "skipped" if skipped else ("ok" if call.ok else "failed")
        eta = self._eta(elapsed)
        total = self.total if self.total else "?"
        eta_text = f" eta {eta:.0f}s" if eta is not None else ""
        self.line("call", f"call {self.done}/{total} {status} {call.call_id} {self._hours()} "
                          f"elapsed {elapsed:.0f}s{eta_text}",
                  n=self.done, total=self.total, call_id=call.call_id, status=status,
                  audio_hours_done=round(self.audio / 3600, 4),
                  audio_hours_total=round(self.total_seconds / 3600, 4),
                  elapsed_s=round(elapsed, 1), eta_s=None if eta is None else round(eta, 1),
                  error=None if call.ok else call.error)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()

    def summary(self, result) -> None:
        from rich.markup import escape as escape_markup
        from rich.table import Table

        s = result.summary
        fields = dict(run_id=result.run_id, ok=s.ok, failed=s.failed, skipped=s.skipped,
                      audio_hours=round(s.audio_seconds / 3600, 4), wall_s=round(s.wall_seconds, 1),
                      x_realtime=round(s.x_realtime, 1), store=str(result.store), log=str(result.log))
        if self.console.is_terminal and not self.json:
            table = Table(title=f"wocas run {result.run_id}")
            for col in ("calls ok", "failed", "skipped", "audio (h)", "wall (s)", "x real time"):
                table.add_column(col, justify="right")
            table.add_row(str(s.ok), str(s.failed), str(s.skipped), f"{s.audio_seconds / 3600:.3f}",
                          f"{s.wall_seconds:.1f}", f"{s.x_realtime:.1f}")
            self.console.print(table)
            for call_id, error in s.failures[:20]:
                self.console.print(f"[red]failed[/red] {call_id}: {escape_markup(error)}")
            if len(s.failures) > 20:
                self.console.print(f"... and {len(s.failures) - 20} more (see the calls table)")
            for line in result.alerts:
                self.console.print("[yellow]alert[/yellow] " + escape_markup(line))
            self.console.print(f"store: {result.store}   log: {result.log}", markup=False)
            return
        for call_id, error in s.failures:
            self.line("failed", f"failed {call_id}: {error}", call_id=call_id, error=error)
        for line in result.alerts:
            self.line("alert", f"alert {line}", message=line)
        self.line("summary", " ".join(f"{k}={v}" for k, v in fields.items()), **fields)


RAY_INSTALL = "pip install 'wocas[ray]' (or WOCAS_EXTRAS=dev,ray scripts/setup.sh)"


def require_ray() -> None:
    """``--runner ray`` without the ``ray`` extra: one line naming the install (exit 2, nothing run)."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise UsageError(f"--runner ray needs the optional extra 'ray': {RAY_INSTALL}") from None


def quiet_dependencies() -> None:
    """No weight-loading bars or info chatter from the model libraries during a run (workers
    inherit the environment); a user's own setting wins."""
    for key, value in (("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("TRANSFORMERS_VERBOSITY", "error"),
                       ("TQDM_DISABLE", "1"), ("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")):
        os.environ.setdefault(key, value)


def cmd_run(args: argparse.Namespace) -> int:
    from wocas.config import load_config
    from wocas.runs import RunRequest, RunStatus, execute_run

    reporter = RunReporter(args.log_format, args.quiet)
    config = load_config(args.config, run_overrides(args))
    if not config.redact.enabled:
        reporter.line("warning", "warning: redaction is off: personal data will be stored in clear text",
                      message="redaction is off: personal data will be stored in clear text")
    if config.run.runner == "ray":
        require_ray()
    quiet_dependencies()
    inputs = tuple(str(i) for i in args.inputs)
    try:
        from wocas.runs import check_inputs

        check_inputs(inputs)  # a refused run prints no census and no bar
        reporter.start(list(inputs))
        result = execute_run(RunRequest(inputs=inputs, out=args.out, config=config, store=args.store,
                                        force=args.force, replace=args.replace, address=args.address,
                                        verbose=args.verbose, log_format=args.log_format,
                                        on_call=reporter.on_call))
    finally:
        reporter.stop()
    if result.status == RunStatus.INTERRUPTED:
        reporter.line("interrupted", "interrupted: finished calls are stored; run again to do the rest",
                      run_id=result.run_id)
        return ExitCode.INTERRUPTED
    reporter.summary(result)
    return EXIT_FAILED_CALLS if result.summary.failed else EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from wocas.store import Store

    path = existing_store(args)
    with Store(path, read_only=True) as store:
        call = store.load(args.call_id)
    if call is None:
        raise UsageError(f"call {args.call_id!r} is not in {path}")
    if args.plot:
        from wocas.analytics.plots import plot_trajectory

        try:
            picture = plot_trajectory(call, args.plot)
        except ValueError as e:  # a wrong suffix, a call without emotion scores
            raise UsageError(str(e)) from e
        print(f"trajectory picture: {picture}", file=sys.stderr)
    if args.json:
        print(json.dumps(call.to_json(), indent=1))
        return EXIT_OK
    print(f"call {call.call_id}  status={call.status}  duration={call.duration:.1f}s  "
          f"customer={call.call.customer_id or '-'}  roles={', '.join(f'{k}={v}' for k, v in call.roles.items())} (confidence {call.role_confidence:.2f})")
    if call.error:
        print(f"error: {call.error}")
    estimated = call.call.timing == "estimated"
    if estimated:
        print("times: estimated (the transcript has none; turns are in order, timing figures are null)")
    for t in call.turns:
        clock = f"#{t.index:<3}" if estimated else f"[{t.start:7.2f}-{t.end:7.2f}]"
        print(f"{clock} {t.role:>8} ({t.speaker}): {t.text}")
    if call.metrics and not estimated:
        m = call.metrics
        print(f"talk share {m.talk_share}  silence {m.silence_share:.0%}  overtalk {m.overtalk_seconds:.1f}s  "
              f"longest customer monologue {m.longest_customer_monologue:.1f}s  handle {m.handle_time:.1f}s")
    customer = call.trajectories.get("customer")
    if customer is not None:
        print(f"customer trust {customer.opening:+.2f} -> {customer.closing:+.2f}  shape {customer.shape}")
    elif call.trajectory_state:
        print(f"customer trust: {call.trajectory_state}")
    if call.resolution is not None:
        r = call.resolution
        print(f"resolution {r.state} (confidence {r.confidence:.2f}, turn {r.turn_index}: {r.quote!r})")
    if call.satisfaction is not None:
        band = f" (band {call.satisfaction.band})" if call.satisfaction.band else ""
        print(f"predicted satisfaction {call.satisfaction.score:.1f}/5{band}  drivers: {'; '.join(call.satisfaction.drivers)}")
    for f in call.flags:
        print(f"flag {f.kind} (severity {f.severity:.0f}): {f.reason}")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from wocas.contract import call_schema, write_schemas

    if args.out is None:
        print(json.dumps(call_schema(), indent=1))
        return EXIT_OK
    for path in write_schemas(args.out):
        print(path)
    return EXIT_OK


RUNS_HEADER = f"{'run_id (started)':<22} {'status':<11} {'ok':>6} {'failed':>6} {'skipped':>7} {'audio h':>8} {'x RT':>6}"


def runs_lines(rows: list[dict]) -> list[str]:
    """``wocas runs`` as plain fixed columns that fit 80 (the run id holds its start time)."""
    lines = [RUNS_HEADER]
    for r in rows:
        lines.append(f"{r['run_id']:<22} {r['status'] or '-':<11} {r['calls_ok'] or 0:>6} "
                     f"{r['calls_failed'] or 0:>6} {r['calls_skipped'] or 0:>7} "
                     f"{(r['audio_seconds'] or 0) / 3600:>8.3f} {r['x_realtime'] or 0:>6.1f}")
    return lines


def cmd_runs(args: argparse.Namespace) -> int:
    from wocas.store import Store

    path = existing_store(args)
    with Store(path, read_only=True) as store:
        rows = store.query("SELECT * FROM runs ORDER BY started_at DESC")
    print(f"runs in {path}")
    print("\n".join(runs_lines(rows)))
    return EXIT_OK


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def cmd_serve(args: argparse.Namespace) -> int:
    """The QA review app over the store's snapshot; token login unless --no-auth on a loopback address."""
    import secrets

    import uvicorn

    from wocas.config import load_config
    from wocas.review import create_app
    from wocas.runs import setup_logging
    from wocas.store import snapshot
    from wocas.store.queries import Thresholds

    path = existing_store(args)
    token = None
    if args.token:
        print("warning: --token is visible to every user of this machine (ps); "
              "use WOCAS_REVIEW_TOKEN or --token-file", file=sys.stderr)
        token = args.token
    elif args.token_file:
        try:
            token = args.token_file.read_text().strip()
        except OSError as e:
            raise UsageError(f"cannot read --token-file {args.token_file}: {e.strerror}") from e
    else:
        token = os.environ.get("WOCAS_REVIEW_TOKEN") or os.environ.get("WOCAS_TOKEN") or None
    if args.no_auth:
        if args.host not in LOOPBACK_HOSTS:
            raise UsageError(f"--no-auth is allowed only on a loopback address, not {args.host}")
        token = None
    elif token is None:
        token = secrets.token_urlsafe(18)
        print(f"access token (set WOCAS_REVIEW_TOKEN or --token-file to choose one): {token}", file=sys.stderr)
    setup_logging(None, verbose=True)
    if snapshot.latest_snapshot(path) is None:
        _publish_now(path)
    try:
        app = create_app(path, token, allowed_hosts=tuple(args.allowed_host or ()), bind=args.host,
                         secure_cookies=args.secure_cookies, thresholds=Thresholds.of(load_config(args.config)),
                         trusted_proxies=tuple(args.trusted_proxy or ()))
    except ValueError as e:  # a token too short, a --trusted-proxy that is no address
        raise UsageError(str(e)) from e
    print(f"wocas review on http://{args.host}:{args.port}/ (store {path})", file=sys.stderr)
    # The app reads X-Forwarded-For itself, from --trusted-proxy peers only (uvicorn's own
    # rewriting would trust 127.0.0.1 by default).
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", proxy_headers=False)
    return EXIT_OK


def _publish_now(path: Path) -> Path | None:
    """Publish a review snapshot of the store now; None (with a note) while a run holds it."""
    from wocas.errors import StoreLocked
    from wocas.store import Store, snapshot

    try:
        with Store(path, create=False) as store:
            return snapshot.publish(store)
    except StoreLocked:
        print(f"note: a run holds {path}; the review app shows its snapshot when the run ends", file=sys.stderr)
        return None


def cmd_snapshot(args: argparse.Namespace) -> int:
    """Publish the read-only snapshot the review app reads (a run does this when it ends)."""
    published = _publish_now(existing_store(args))
    if published is None:
        return ExitCode.STORE_LOCKED
    print(f"snapshot {published}")
    return EXIT_OK


def cmd_customers(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from wocas.analytics.customers import export, records, rollup
    from wocas.config import load_config
    from wocas.store import Store

    path = existing_store(args)
    config = load_config(args.config)
    with Store(path) as store:
        rollup(store, config.customers, config.insights.satisfied_threshold)
        files = export(store, args.out / "customers", config.customers.period)
        shown = records(store, at_risk_only=args.at_risk, top=args.top)
        from wocas.store.queries import risk_totals

        totals = risk_totals(store)
    title = "customers at risk" if args.at_risk else "customers"
    table = Table(title=f"{title} in {path} (riskiest first)")
    for col in ("customer", "contacts", "repeats", "open jobs", "risk", "value at risk", "value rescued", "why"):
        table.add_column(col)
    for r in shown:
        table.add_row(r.customer_id, str(r.contacts), str(r.repeat_contacts), ", ".join(r.open_jobs),
                      f"{r.defection_risk:.2f}", "-" if r.value_at_risk is None else f"{r.value_at_risk:,.2f}",
                      "-" if r.value_rescued is None else f"{r.value_rescued:,.2f}", "; ".join(r.risk_reasons[:3]))
    console = Console(width=200)
    console.print(table)
    console.print(f"{totals.at_risk} of {totals.customers} customers at risk; "
                  f"value at risk {totals.value_at_risk or 0:,.2f} (at-risk customers only); "
                  f"{totals.repeat_contacts} repeat contacts; {totals.recovered_calls} calls recovered", markup=False)
    console.print("exports: " + ", ".join(str(f) for f in files))
    return EXIT_OK


def cmd_calibrate(args: argparse.Namespace) -> int:
    from wocas.analytics.calibration import calibrate, save
    from wocas.analytics.customers import rollup
    from wocas.config import load_config
    from wocas.store import Store

    path = existing_store(args)
    config = load_config(args.config)
    with Store(path) as store:
        report = calibrate(store, args.surveys, tuple(args.scale) if args.scale else None,
                           refit=not args.no_refit, base_model=config.satisfaction.call_model)
        files = save(store, report, args.out / "calibration", config.flags)
        if report.refit is not None:  # the rescored calls reach the customer records now
            rollup(store, config.customers)
    if report.refit is not None:
        _publish_now(path)  # and the review app
    print(report.to_markdown())
    print("written: " + ", ".join(str(f) for f in files))
    return EXIT_OK


def cmd_reasons(args: argparse.Namespace) -> int:
    from wocas.reasons.clustering import reasons_summary, summary_markdown
    from wocas.store import Store

    path = existing_store(args)
    with Store(path, read_only=True) as store:
        summary = reasons_summary(store, args.run)
    (args.out / "reasons.json").write_text(json.dumps(summary, indent=1))
    (args.out / "reasons.md").write_text(summary_markdown(summary))
    print(summary_markdown(summary))
    print(f"written: {args.out / 'reasons.json'}, {args.out / 'reasons.md'}")
    return EXIT_OK


def _open_for_insights(args: argparse.Namespace):
    """(config, store) for report / alerts / validate; ``main`` turns the errors into exit codes."""
    from wocas.config import load_config
    from wocas.store import Store

    path = existing_store(args)
    return load_config(args.config), Store(path)


def cmd_report(args: argparse.Namespace) -> int:
    from wocas.analytics.report import write_report

    from wocas.store.verdicts import sync_for_run

    config, store = _open_for_insights(args)
    with store:
        sync_for_run(store)  # the reviewers' latest verdicts, as a run would copy them
        files = write_report(store, args.out / "report", config, args.period or config.customers.period)
    print("written: " + ", ".join(str(f) for f in files))
    return EXIT_OK


def cmd_alerts(args: argparse.Namespace) -> int:
    from wocas.analytics.insights import alert_lines, refresh

    config, store = _open_for_insights(args)
    with store:
        insights = refresh(store, config, config.customers.period)
    shown = insights.alerts if args.all else insights.active_alerts
    for line in alert_lines(shown):
        print(line)
    if not shown:
        print("no active alerts" if not args.all else "no alerts")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from wocas.analytics.outcomes import report_markdown, save_report, validate

    config, store = _open_for_insights(args)
    with store:
        report = validate(store, args.outcomes, config)
    files = save_report(report, args.out / "validation")
    print(report_markdown(report))
    print("written: " + ", ".join(str(f) for f in files))
    return EXIT_OK


def cmd_train_intents(args: argparse.Namespace) -> int:
    from wocas.models.finetune import settings_from
    from wocas.reasons.train_intents import train

    try:
        out = train(args.data, args.out, args.reason_map, not args.no_lexical, args.C, mix=args.mix,
                    finetune=settings_from(args), dev_share=args.dev_share, device=args.device,
                    encoder=args.encoder, other_keep=args.other_keep)
    except WocasError:
        raise
    except ValueError as e:  # labels the head cannot be fitted on (too few texts per label, ...)
        raise UsageError(f"{args.data}: {e}") from e
    print(f"intent head written to {out}; use it with [jobs] head = \"{out}\"")
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    from wocas.bench import SUITES, compare, run_suites

    if args.compare:
        print(compare(*args.compare))
        return EXIT_OK
    names = [s for s in args.suite.split(",") if s] if args.suite else list(SUITES)
    collected = run_suites(names, args.data, args.out, args.config)
    print((args.out / "bench.md").read_text())
    failed = [n for n, m in collected["suites"].items() if "error" in m]
    return EXIT_FAILED_CALLS if failed else EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wocas", description="What Our Customers Are Saying")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="analyse recorded calls and transcripts into the store")
    run.add_argument("inputs", nargs="+", help="folders, globs, manifests (.csv/.jsonl) or transcripts")
    run.add_argument("--out", type=Path, required=True, help="output folder (store, per-call files, logs)")
    run.add_argument("--config", type=Path, help="TOML config (defaults: embedded models)")
    run.add_argument("--store", type=Path, help=f"DuckDB store (default OUT/{STORE_NAME})")
    run.add_argument("--device", choices=["auto", "cpu", "cuda"])
    run.add_argument("--asr-profile", choices=["fast", "accurate"],
                     help="ASR model: fast (tiny.en, embedded) or accurate (Whisper base, WOCAS_EXTRAS=...,asr)")
    run.add_argument("--workers", type=int, help="worker processes (default from config: 0 = auto, one per core)")
    run.add_argument("--runner", choices=["local", "ray"])
    run.add_argument("--address", help="Ray cluster address (with --runner ray), e.g. auto or HOST:6379")
    run.add_argument("--threads-per-worker", type=int, help="threads per worker (default: cores / workers)")
    run.add_argument("--batch-size", type=int, help="calls per stage batch (default from config: 8)")
    run.add_argument("--force", action="store_true", help="redo calls already in the store")
    run.add_argument("--replace", action="store_true",
                     help="let a call id already stored with other content overwrite it (else it is refused)")
    run.add_argument("--no-redact", action="store_true",
                     help="keep card numbers and personal details in clear text (recorded in the run's config)")
    run.add_argument("--redact-audio", action="store_true",
                     help="also write OUT/calls/<id>.redacted.wav with the PII spans silenced")
    run.add_argument("--quiet", action="store_true", help="no progress bar or progress lines")
    run.add_argument("--log-format", choices=["text", "json"], default="text",
                     help="progress and summary on stderr: text (a bar on a terminal, plain lines when piped) "
                          "or json (one object a line, for log shippers)")
    run.add_argument("-v", "--verbose", action="store_true", help="log to the terminal too")
    run.set_defaults(func=cmd_run)

    show = sub.add_parser("show", help="print one call's transcript with roles and times")
    show.add_argument("call_id")
    show.add_argument("--out", type=Path, required=True)
    show.add_argument("--store", type=Path)
    show.add_argument("--json", action="store_true", help="print the full record as JSON")
    show.add_argument("--plot", type=Path, help="also write the trust trajectory picture (.png or .svg)")
    show.set_defaults(func=cmd_show)

    runs = sub.add_parser("runs", help="list the runs recorded in the store")
    runs.add_argument("--out", type=Path, required=True)
    runs.add_argument("--store", type=Path)
    runs.set_defaults(func=cmd_runs)

    schema = sub.add_parser("schema", help="the JSON Schema of the per-call record and of the store tables")
    schema.add_argument("--out", type=Path, help="write call.schema.json and store.schema.json here "
                                                 "(default: print the per-call schema)")
    schema.set_defaults(func=cmd_schema)

    serve = sub.add_parser("serve", help="the QA review web app over the store")
    serve.add_argument("--out", type=Path, required=True, help="the run's output folder (holds the store)")
    serve.add_argument("--store", type=Path, help=f"DuckDB store (default OUT/{STORE_NAME})")
    serve.add_argument("--config", type=Path, help="TOML config (the [customers] and [insights] thresholds)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--token", help="access token (visible in ps: prefer $WOCAS_REVIEW_TOKEN or --token-file; "
                                       "default a random one, printed)")
    serve.add_argument("--token-file", type=Path, help="read the access token from this file")
    serve.add_argument("--no-auth", action="store_true", help="no login (only with a loopback --host)")
    serve.add_argument("--allowed-host", action="append", metavar="NAME",
                       help="a Host name the app answers besides localhost and --host (repeatable)")
    serve.add_argument("--secure-cookies", action="store_true", help="mark the session cookie Secure (behind TLS)")
    serve.add_argument("--trusted-proxy", action="append", metavar="IP",
                       help="a reverse proxy (address or network) whose X-Forwarded-For names the client for "
                            "login back-off (repeatable; default none: the connecting address counts)")
    serve.set_defaults(func=cmd_serve)

    snap = sub.add_parser("snapshot", help="publish the store's read-only snapshot for the review app now")
    snap.add_argument("--out", type=Path, required=True)
    snap.add_argument("--store", type=Path)
    snap.set_defaults(func=cmd_snapshot)

    customers = sub.add_parser("customers", help="per-customer records: repeats, jobs, defection risk, value at risk")
    customers.add_argument("--out", type=Path, required=True, help="the run's output folder")
    customers.add_argument("--store", type=Path)
    customers.add_argument("--config", type=Path, help="TOML config ([customers] section)")
    customers.add_argument("--at-risk", action="store_true", help="only customers at risk")
    customers.add_argument("--top", type=int, help="show only the N riskiest")
    customers.set_defaults(func=cmd_customers)

    calibrate = sub.add_parser("calibrate", help="compare predicted satisfaction with real survey answers")
    calibrate.add_argument("--surveys", type=Path, required=True, help="CSV (call_id,score) or JSONL")
    calibrate.add_argument("--out", type=Path, required=True, help="the run's output folder")
    calibrate.add_argument("--store", type=Path)
    calibrate.add_argument("--config", type=Path, help="wocas TOML config (customers, the call model to refit)")
    calibrate.add_argument("--scale", type=float, nargs=2, metavar=("LOW", "HIGH"),
                           help="the survey's scale (default: 1-5; a score outside it is refused)")
    calibrate.add_argument("--no-refit", action="store_true", help="report only; do not refit the call model")
    calibrate.set_defaults(func=cmd_calibrate)

    reasons = sub.add_parser("reasons", help="contact reasons: counts, share preventable, owners, emerging reasons")
    reasons.add_argument("--out", type=Path, required=True, help="the run's output folder (reasons.json/.md go there)")
    reasons.add_argument("--store", type=Path)
    reasons.add_argument("--run", help="only this run id (default: every call in the store)")
    reasons.set_defaults(func=cmd_reasons)

    train = sub.add_parser("train", help="train a model head on labelled data")
    train_sub = train.add_subparsers(dest="what", required=True)
    intents = train_sub.add_parser("intents", help="an intent / contact-reason head over MiniLM (or --encoder)")
    intents.add_argument("--data", type=Path, required=True, help="CSV (text,label) or JSONL")
    intents.add_argument("--out", type=Path, required=True, help="folder for the head")
    intents.add_argument("--reason-map", type=Path, help="JSON {label: taxonomy reason}")
    intents.add_argument("--no-lexical", action="store_true", help="embeddings only")
    intents.add_argument("--C", type=float, default=30.0)
    intents.add_argument("--mix", type=float, help="weight of the embedding part against the n-grams "
                         "(default: chosen by 5-fold cross-validation on the training data)")
    intents.add_argument("--other-keep", type=float, default=0.95,
                         help="share of in-scope texts the stored `other` threshold keeps, by their out-of-fold "
                              "top-class probability (default 0.95)")
    add_finetune_arguments(intents)
    intents.set_defaults(func=cmd_train_intents)

    report = sub.add_parser("report", help="an HTML report: customers, charge-back, early warning, agents")
    report.add_argument("--out", type=Path, required=True, help="the run's output folder (report/ goes there)")
    report.add_argument("--store", type=Path)
    report.add_argument("--config", type=Path, help="TOML config ([insights] costs and thresholds)")
    report.add_argument("--period", choices=["day", "week", "month"], help="default from [customers] period")
    report.set_defaults(func=cmd_report)

    alerts = sub.add_parser("alerts", help="print contact-reason spikes and emerging reasons")
    alerts.add_argument("--out", type=Path, required=True, help="the run's output folder")
    alerts.add_argument("--store", type=Path)
    alerts.add_argument("--config", type=Path, help="TOML config ([insights] thresholds)")
    alerts.add_argument("--all", action="store_true", help="also alerts that have ended")
    alerts.set_defaults(func=cmd_alerts)

    validate = sub.add_parser("validate", help="check defection risk against real outcomes (churn or revenue)")
    validate.add_argument("--outcomes", type=Path, required=True,
                          help="CSV: customer_id, outcome (churned|retained) or revenue_after, date")
    validate.add_argument("--out", type=Path, required=True, help="the run's output folder (validation/ goes there)")
    validate.add_argument("--store", type=Path)
    validate.add_argument("--config", type=Path)
    validate.set_defaults(func=cmd_validate)

    bench = sub.add_parser("bench", help="score the configured models on every labelled set (benchmarks/)")
    bench.add_argument("--suite", help="comma-separated: asr,diarization,roles,emotion,intents,complaints,"
                                       "satisfaction,pii,speed (default: all)")
    bench.add_argument("--config", type=Path, help="the config whose models are scored")
    bench.add_argument("--data", type=Path, default=Path(__file__).resolve().parent.parent.parent / "shared" / "data")
    bench.add_argument("--out", type=Path, default=Path("bench-results"), help="where results are written")
    bench.add_argument("--compare", nargs=2, type=Path, metavar=("A.json", "B.json"),
                       help="put two bench.json files side by side")
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse, run the command, and turn errors into exit codes (the only place that does)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except WocasError as e:  # one line per problem (a config with two typos gives two), no traceback
        kind = "warning" if e.exit_code == ExitCode.NO_INPUT else "error"  # nothing arrived: not a fault
        for line in str(e).splitlines() or [type(e).__name__]:
            if line.strip():
                print(f"wocas: {kind}: {line.strip()}", file=sys.stderr)
        return int(e.exit_code)
    except KeyboardInterrupt:
        print("wocas: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except OSError as e:  # a full disk anywhere outside a run (a run turns it into DiskFull)
        if (full := disk_full(e)) is None:
            raise
        print(f"wocas: error: {full}", file=sys.stderr)
        return int(full.exit_code)


def entry() -> None:
    """The ``wocas`` command: ``main``, then a quick exit. Tearing the interpreter down (freeing
    every loaded module and model: torch, CTranslate2, ONNX Runtime, spaCy) took about 1 s of a
    one-call run's 7 s and does nothing the operating system does not do at exit. The exit
    handlers still run (logs flushed and closed); with a worker process or a non-daemon thread
    still alive the exit is the usual one, which waits for them."""
    import atexit
    import threading

    code = main()
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    import multiprocessing

    if multiprocessing.active_children():
        sys.exit(code)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
