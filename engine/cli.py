"""The command line: ``wocas run``, ``wocas show``, ``wocas runs``.

Exit codes: 0 every call ok; 1 the run finished but some calls failed (see the summary and
the calls table); 2 bad arguments or config; 3 the store is in use by another process;
130 interrupted (Ctrl-C, SIGTERM): finished calls are kept, run again to do the rest.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from wocas.models.finetune import add_arguments as add_finetune_arguments

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

EXIT_OK, EXIT_FAILED_CALLS, EXIT_USAGE, EXIT_LOCKED = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM; run again to finish
STORE_NAME = "wocas.duckdb"


def store_path(out_dir: Path) -> Path:
    return out_dir / STORE_NAME


class StoreMissing(LookupError):
    pass


def existing_store(args: argparse.Namespace) -> Path:
    """The store a read command works on (``--store`` or OUT/wocas.duckdb); it must exist."""
    path = Path(args.store or store_path(args.out))
    if not path.exists():
        raise StoreMissing(f"no store at {path} (run `wocas run ... --out {args.out}` first)")
    return path


def _setup_logging(log_path: Path | None, verbose: bool) -> None:
    handlers: list[logging.Handler] = []
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path))
    stream = logging.StreamHandler(sys.stderr)
    stream.setLevel(logging.INFO if verbose else logging.ERROR + 10)
    handlers.append(stream)
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def cmd_run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape as escape_markup
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from wocas.config import ConfigError, load_config
    from wocas.pipeline import pipeline_version
    from wocas.runners.local import LocalRunner, new_run_id
    from wocas.store.store import Store, StoreLocked

    console = Console(stderr=True)
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
        console.print("[red]error:[/red] --no-redact and --redact-audio contradict each other")
        return EXIT_USAGE
    if args.no_redact:  # lands in config.redact.enabled, so the run record says redaction was off
        overrides.setdefault("redact", {})["enabled"] = False
    if args.redact_audio:
        overrides.setdefault("redact", {}).update(audio=True, audio_dir=str(args.out / "calls"))
    try:
        config = load_config(args.config, overrides)
    except ConfigError as e:
        console.print(f"[red]error:[/red] {e}")
        return EXIT_USAGE
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    run_id = new_run_id()
    log_path = out / "logs" / f"{run_id}.log"
    _setup_logging(log_path, args.verbose)
    (out / "config.resolved.toml").write_text(config.to_toml())
    if not config.redact.enabled:
        logging.getLogger(__name__).warning("redaction is OFF for run %s: PII is stored in clear text", run_id)
        console.print("[yellow]warning:[/yellow] redaction is off: personal data will be stored in clear text")
    try:
        store = Store(args.store or store_path(out))
    except StoreLocked as e:
        console.print(f"[red]error:[/red] {e}")
        return EXIT_LOCKED
    for stale in store.close_stale_runs():
        logging.getLogger(__name__).warning("run %s was killed before it finished; marked interrupted", stale)
    version = pipeline_version(config)
    _stop_on_sigterm()
    store.start_run(run_id, version, [str(i) for i in args.inputs], config.to_toml(), str(log_path))

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[audio]}"), TimeElapsedColumn(), console=console,
                  disable=args.quiet) as progress:
        task = progress.add_task("calls", total=None, audio="")
        state = {"audio": 0.0}
        import time as _time
        t0 = _time.perf_counter()

        def on_call(call) -> None:
            if call.ok and call.call.kind == "audio" and "skipped" not in call.flags:
                state["audio"] += call.duration
            elapsed = _time.perf_counter() - t0
            rt = state["audio"] / elapsed if elapsed > 0 else 0.0
            progress.update(task, advance=1,
                            audio=f"{state['audio'] / 3600:.3f} h audio, {rt:.1f}x real time")

        if config.run.runner == "ray":
            from wocas.runners.ray import RayRunner

            runner = RayRunner(config, out, store, force=args.force, on_call=on_call, address=args.address)
        else:
            runner = LocalRunner(config, out, store, force=args.force, on_call=on_call)
        status = "crashed"
        try:
            summary = runner.run([str(i) for i in args.inputs], run_id)
            status = "done"
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM (systemd stop): what is stored stays
            status = "interrupted"
        finally:
            if status != "done":
                store.finish_run(run_id, status, 0, 0, 0, 0.0, 0.0)
                store.close()
    if status == "interrupted":
        console.print("[yellow]interrupted[/yellow]: finished calls are stored; run again to do the rest")
        return EXIT_INTERRUPTED
    store.finish_run(run_id, status, summary.ok, summary.failed, summary.skipped,
                     summary.audio_seconds, summary.wall_seconds)
    _rollup_customers(store, config, out)
    alerts = _insight_alerts(store, config)
    store.close()

    table = Table(title=f"wocas run {run_id}")
    for col in ("calls ok", "failed", "skipped", "audio (h)", "wall (s)", "x real time"):
        table.add_column(col, justify="right")
    table.add_row(str(summary.ok), str(summary.failed), str(summary.skipped),
                  f"{summary.audio_seconds / 3600:.3f}", f"{summary.wall_seconds:.1f}", f"{summary.x_realtime:.1f}")
    console.print(table)
    for call_id, error in summary.failures[:20]:
        console.print(f"[red]failed[/red] {call_id}: {error}")
    if len(summary.failures) > 20:
        console.print(f"... and {len(summary.failures) - 20} more (see the calls table)")
    for line in alerts:
        console.print("[yellow]alert[/yellow] " + escape_markup(line))
    console.print(f"store: {args.store or store_path(out)}   log: {log_path}")
    return EXIT_FAILED_CALLS if summary.failed else EXIT_OK


def _stop_on_sigterm() -> None:
    """SIGTERM (systemd's stop, a batch scheduler's kill) ends the run like Ctrl-C: the
    batch being written commits or rolls back whole, and the run is marked interrupted."""
    import signal

    def handler(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def cmd_show(args: argparse.Namespace) -> int:
    from wocas.store.store import Store

    path = existing_store(args)
    with Store(path, read_only=True) as store:
        call = store.load(args.call_id)
    if call is None:
        print(f"error: call {args.call_id!r} is not in {path}", file=sys.stderr)
        return EXIT_USAGE
    if args.plot:
        from wocas.analytics.plots import plot_trajectory

        try:
            print(f"trajectory picture: {plot_trajectory(call, args.plot)}", file=sys.stderr)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return EXIT_USAGE
    if args.json:
        print(json.dumps(call.to_json(), indent=1))
        return EXIT_OK
    print(f"call {call.call_id}  status={call.status}  duration={call.duration:.1f}s  "
          f"customer={call.call.customer_id or '-'}  roles={call.roles} (confidence {call.role_confidence:.2f})")
    if call.error:
        print(f"error: {call.error}")
    for t in call.turns:
        print(f"[{t.start:7.2f}-{t.end:7.2f}] {t.role:>8} ({t.speaker}): {t.text}")
    if call.metrics:
        m = call.metrics
        print(f"talk share {m.talk_share}  silence {m.silence_share:.0%}  overtalk {m.overtalk_seconds:.1f}s  "
              f"longest customer monologue {m.longest_customer_monologue:.1f}s  handle {m.handle_time:.1f}s")
    return EXIT_OK


def cmd_runs(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from wocas.store.store import Store

    path = existing_store(args)
    with Store(path, read_only=True) as store:
        rows = store.query("SELECT * FROM runs ORDER BY started_at DESC")
    table = Table(title=f"runs in {path}")
    for col in ("run_id", "started", "status", "ok", "failed", "skipped", "audio h", "x RT"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["run_id"], str(r["started_at"])[:19], r["status"], str(r["calls_ok"]),
                      str(r["calls_failed"]), str(r["calls_skipped"]),
                      f"{(r['audio_seconds'] or 0) / 3600:.3f}", f"{r['x_realtime'] or 0:.1f}")
    Console().print(table)
    return EXIT_OK


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def cmd_serve(args: argparse.Namespace) -> int:
    """The QA review app over the store; token login unless --no-auth on a loopback address."""
    import secrets

    import uvicorn

    from wocas.review import create_app
    from wocas.review.queries import StoreBusy

    path = existing_store(args)
    token = args.token or os.environ.get("WOCAS_TOKEN") or None
    if args.no_auth:
        if args.host not in LOOPBACK_HOSTS:
            print(f"error: --no-auth is allowed only on a loopback address, not {args.host}", file=sys.stderr)
            return EXIT_USAGE
        token = None
    elif token is None:
        token = secrets.token_urlsafe(18)
        print(f"access token (set --token or WOCAS_TOKEN to choose one): {token}", file=sys.stderr)
    _setup_logging(None, verbose=True)
    try:
        app = create_app(path, token)
    except StoreBusy as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_LOCKED
    print(f"wocas review on http://{args.host}:{args.port}/ (store {path})", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return EXIT_OK


def _rollup_customers(store, config, out: Path) -> None:
    """Rebuild the per-customer records after a run; a failure here never loses the run."""
    from wocas.analytics.customers import export, rollup

    try:
        rollup(store, config.customers)
        export(store, out / "customers", config.customers.period)
    except Exception:
        logging.getLogger(__name__).exception("customer roll-up failed; the calls are stored, "
                                              "run `wocas customers` to retry")


def cmd_customers(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from wocas.config import ConfigError, load_config
    from wocas.analytics.customers import export, records, rollup
    from wocas.store.store import Store, StoreLocked

    path = existing_store(args)
    try:
        config = load_config(args.config)
        store = Store(path)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except StoreLocked as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_LOCKED
    with store:
        rollup(store, config.customers)
        files = export(store, args.out / "customers", config.customers.period)
        shown = records(store, at_risk_only=args.at_risk, top=args.top)
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
    console.print("exports: " + ", ".join(str(f) for f in files))
    return EXIT_OK


def cmd_calibrate(args: argparse.Namespace) -> int:
    from wocas.analytics.calibration import SurveyError, calibrate, save
    from wocas.store.store import Store, StoreLocked

    path = existing_store(args)
    try:
        with Store(path) as store:
            report = calibrate(store, args.surveys, tuple(args.scale) if args.scale else None,
                               refit=not args.no_refit)
            files = save(store, report, args.out / "calibration")
    except SurveyError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except StoreLocked as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_LOCKED
    print(report.to_markdown())
    print("written: " + ", ".join(str(f) for f in files))
    return EXIT_OK


def cmd_reasons(args: argparse.Namespace) -> int:
    from wocas.reasons.core import reasons_summary, summary_markdown
    from wocas.store.store import Store, StoreLocked

    path = existing_store(args)
    try:
        with Store(path, read_only=True) as store:
            summary = reasons_summary(store, args.run)
    except StoreLocked as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_LOCKED
    (args.out / "reasons.json").write_text(json.dumps(summary, indent=1))
    (args.out / "reasons.md").write_text(summary_markdown(summary))
    print(summary_markdown(summary))
    print(f"written: {args.out / 'reasons.json'}, {args.out / 'reasons.md'}")
    return EXIT_OK


def _insight_alerts(store, config) -> list[str]:
    """Refresh the insight tables after a run; the active alerts as lines. Never fails the run."""
    try:
        from wocas.analytics.insights import alert_lines, refresh

        return alert_lines(refresh(store, config, config.customers.period).active_alerts)
    except Exception:
        logging.getLogger(__name__).exception("insights failed; the calls are stored, run `wocas report` to retry")
        return []


def _open_for_insights(args: argparse.Namespace):
    """(config, store) for report / alerts / validate; ``main`` turns the errors into exit codes."""
    from wocas.config import load_config
    from wocas.store.store import Store

    path = existing_store(args)
    return load_config(args.config), Store(path)


def cmd_report(args: argparse.Namespace) -> int:
    from wocas.analytics.report import write_report

    config, store = _open_for_insights(args)
    with store:
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
    from wocas.analytics.outcomes import OutcomesError, report_markdown, save_report, validate

    config, store = _open_for_insights(args)
    try:
        with store:
            report = validate(store, args.outcomes, config)
    except OutcomesError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    files = save_report(report, args.out / "validation")
    print(report_markdown(report))
    print("written: " + ", ".join(str(f) for f in files))
    return EXIT_OK


def cmd_train_intents(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
    from train_intents import train

    from wocas.models.finetune import settings_from

    try:
        out = train(args.data, args.out, args.reason_map, not args.no_lexical, args.C, mix=args.mix,
                    finetune=settings_from(args), dev_share=args.dev_share, device=args.device,
                    encoder=args.encoder)
    except ValueError as e:
        print(f"error: {args.data}: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(f"intent head written to {out}; use it with [jobs] head = \"{out}\"")
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    from wocas.bench import SUITES, BenchError, compare, run_suites

    if args.compare:
        print(compare(*args.compare))
        return EXIT_OK
    names = [s for s in args.suite.split(",") if s] if args.suite else list(SUITES)
    try:
        collected = run_suites(names, args.data, args.out, args.config)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
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
    run.add_argument("--workers", type=int, help="worker processes (default from config: 1)")
    run.add_argument("--runner", choices=["local", "ray"])
    run.add_argument("--address", help="Ray cluster address (with --runner ray), e.g. auto or HOST:6379")
    run.add_argument("--threads-per-worker", type=int, help="threads per worker (default: cores / workers)")
    run.add_argument("--batch-size", type=int, help="calls per stage batch (default from config: 8)")
    run.add_argument("--force", action="store_true", help="redo calls already in the store")
    run.add_argument("--no-redact", action="store_true",
                     help="keep card numbers and personal details in clear text (recorded in the run's config)")
    run.add_argument("--redact-audio", action="store_true",
                     help="also write OUT/calls/<id>.redacted.wav with the PII spans silenced")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
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

    serve = sub.add_parser("serve", help="the QA review web app over the store")
    serve.add_argument("--out", type=Path, required=True, help="the run's output folder (holds the store)")
    serve.add_argument("--store", type=Path, help=f"DuckDB store (default OUT/{STORE_NAME})")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--token", help="access token reviewers log in with (default: $WOCAS_TOKEN, else a random one)")
    serve.add_argument("--no-auth", action="store_true", help="no login (only with a loopback --host)")
    serve.set_defaults(func=cmd_serve)

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
    calibrate.add_argument("--scale", type=float, nargs=2, metavar=("LOW", "HIGH"),
                           help="the survey's scale (default: 1-5, widened to the answers seen)")
    calibrate.add_argument("--no-refit", action="store_true", help="report only; do not refit the mapping")
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
    args = build_parser().parse_args(argv)
    from wocas.config import ConfigError
    from wocas.models.onnx_encoder import OnnxExportError
    from wocas.runners.local import WorkerSetupError
    from wocas.store.store import StoreLocked
    from wocas.models.text_encoder import TextEncoderError

    try:
        return args.func(args)
    except (StoreMissing, ConfigError, OnnxExportError, TextEncoderError, WorkerSetupError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except StoreLocked as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_LOCKED


if __name__ == "__main__":
    sys.exit(main())
