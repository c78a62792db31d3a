"""Text-stage throughput: transcript calls through ``wocas run``, whole processes, to the store.

    python -m benchmarks.text_speed [--calls 300] [--repeats 1] [--workers 1 2]
                                    [--baseline-path DIR] [--profile]

Two sets of transcript-only calls (the full default text pipeline: ingest, roles, redaction,
emotion + trust context head, jobs/reasons, signals, resolution head, trajectory,
satisfaction, store): the first ``--calls`` STC-3 customer-helpdesk dialogues and the authored
calls of models/training/trust_calls.txt. Each (set, workers) pair is one fresh ``wocas run``
process as operations run it (caches warm: a first run fills them), timed from process start
to exit; ``calls_per_s`` is calls / that wall time. ``steady_calls_per_s`` leaves the start-up
out: the calls recorded between the first and the last progress line (``--log-format json``)
over the time between them. ``--baseline-path`` points at another engine folder (put on
PYTHONPATH as ``wocas``) run interleaved in the same loop, so every figure has a ratio.
``--profile`` adds a cProfile of one in-process run (this branch, one worker, STC-3) with the
cumulative seconds of each stage's batch call. Results: benchmarks/results/text_speed.{json,md}.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import DEFAULT_DATA, ROOT, write_results

STORE_NAME = "wocas.duckdb"

TRUST_CALLS = ROOT / "models" / "training" / "trust_calls.txt"
GOAL = 20.0  # calls per second, 2 cores


def stc3_calls(data: Path, n: int) -> list[dict]:
    path = next(iter(sorted(data.rglob("train_data_en.json"))), None)
    if path is None:
        raise SystemExit(f"no STC-3 train_data_en.json under {data}")
    out = []
    for item in json.loads(path.read_text())[:n]:
        out.append({"call_id": f"stc3-{item['id']}", "customer_id": f"S-{item['id']}",
                    "turns": [{"speaker": "customer" if t["sender"] == "customer" else "agent",
                               "text": " ".join(t["utterances"])} for t in item["turns"]]})
    return out


def authored_calls() -> list[dict]:
    from benchmarks.challenge import read_calls

    return [c.transcript() for c in read_calls(TRUST_CALLS)]


def timed_run(inputs: str, out: str, workers: int, pythonpath: str) -> dict:
    """One ``wocas run`` process: wall seconds, steady-state rate, calls recorded."""
    env = {**os.environ, "PYTHONPATH": pythonpath}
    cmd = [sys.executable, "-m", "wocas.cli", "run", inputs, "--out", out, "--workers", str(workers),
           "--log-format", "json"]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    marks: list[tuple[float, int]] = []
    tail: list[str] = []
    for line in proc.stderr:
        now = time.perf_counter()
        tail = (tail + [line])[-20:]
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "call":
            marks.append((now, len(marks) + 1))
    _, status, usage = os.wait4(proc.pid, 0)  # its CPU time includes its workers' (reaped by it)
    wall = time.perf_counter() - started
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise RuntimeError(f"{cmd} exited {code}: {''.join(tail)[-2000:]}")
    steady = None
    if len(marks) >= 2 and marks[-1][0] > marks[0][0]:
        steady = (marks[-1][1] - marks[0][1]) / (marks[-1][0] - marks[0][0])
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "calls": len(marks), "steady": steady,
            "first_call_s": marks[0][0] - started if marks else None}


# Run ids, clocks and timings; a transcript without a start time is dated when it is processed,
# so the customers' contact dates (and their jobs' last_contact) are the run's clock too.
RUN_SPECIFIC = {"run_id", "processed_at", "updated_at", "timings", "created_at", "processing_seconds",
                "raised_at", "first_contact", "last_contact"}


def _key(value) -> str:
    """A list item as text, run-specific keys left out (to tell a reordered list)."""
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if k not in RUN_SPECIFIC}
    return json.dumps(value, sort_keys=True, default=str)


def _diff(a, b, tol: float, path: str, out: dict) -> None:
    """Record where two JSON-like values differ (floats within ``tol`` are equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in set(a) | set(b):
            if k not in RUN_SPECIFIC:
                _diff(a.get(k), b.get(k), tol, f"{path}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        same, other = [_key(x) for x in a], [_key(x) for x in b]
        if same != other and sorted(same) == sorted(other):
            # the same items in another order (a roll-up's ties, e.g. one customer's jobs of one date)
            out.setdefault(f"{path} (order only)", {"differ": 0, "max_abs": None})["differ"] += 1
            return
        for x, y in zip(a, b):
            _diff(x, y, tol, f"{path}[]", out)
    elif isinstance(a, float) and isinstance(b, (int, float)) or isinstance(b, float) and isinstance(a, (int, float)):
        gap = abs(float(a) - float(b))
        if gap > tol:
            worst = out.setdefault(path, {"differ": 0, "max_abs": 0.0})
            worst["differ"] += 1
            worst["max_abs"] = max(worst["max_abs"] or 0.0, gap)
    elif a != b:
        out.setdefault(path, {"differ": 0, "max_abs": None})["differ"] += 1


def compare_stores(a: Path, b: Path, tol: float = 1e-5) -> dict:
    """Every stored column of every table of two stores, rows matched by their key columns
    (run-specific columns left out): {table: {"rows": n, "differences": {column: ...}}}."""
    from wocas.store import Store

    def rows(store: Store, sql: str) -> list[tuple]:
        return [tuple(r.values()) for r in store.query(sql)]

    result = {}
    with Store(a, read_only=True) as ca, Store(b, read_only=True) as cb:
        tables = sorted(r[0] for r in rows(ca, "SELECT table_name FROM information_schema.tables"))
        for table in tables:
            if table in ("runs", "schema_meta"):
                continue
            cols = [r[0] for r in rows(ca, f'DESCRIBE "{table}"') if r[0] not in RUN_SPECIFIC]
            order = ", ".join(f'"{c}"' for c in cols if c in ("call_id", "idx", "turn_idx", "customer_id")) or "1"
            quoted = ", ".join(f'"{c}"' for c in cols)
            sql = f'SELECT {quoted} FROM "{table}" ORDER BY {order}'
            ra, rb = rows(ca, sql), rows(cb, sql)
            diffs: dict = {}
            if len(ra) != len(rb):
                diffs["<row count>"] = {"differ": abs(len(ra) - len(rb)), "max_abs": None}
            for x, y in zip(ra, rb):
                for c, u, v in zip(cols, x, y):
                    if isinstance(u, str) and isinstance(v, str) and u[:1] in "{[":
                        try:
                            u, v = json.loads(u), json.loads(v)
                        except ValueError:
                            pass
                    _diff(u, v, tol, c, diffs)
            result[table] = {"rows": len(ra), "differences": diffs}
    return result


def stage_profile(inputs: str, out: str) -> list[dict]:
    """cProfile of one in-process run: cumulative seconds in each stage's batch call."""
    from wocas.cli import main as wocas_main

    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(wocas_main, ["run", inputs, "--out", out, "--workers", "1", "--quiet"])
    wall = time.perf_counter() - started
    stats = pstats.Stats(profiler).stats
    rows: dict[str, float] = {}
    for (file, _, func), (_, _, _, cum, _) in stats.items():
        parts = Path(file).parts
        if "stages" in parts and func in ("process_batch", "process_call"):
            name = Path(file).stem
            rows[name] = max(rows.get(name, 0.0), cum)  # process_batch includes its process_call
        elif func in ("write", "is_done") and "store" in parts:
            rows["store: " + func] = rows.get("store: " + func, 0.0) + cum
    top = sorted(((f"{Path(f).parent.name}/{Path(f).name}:{fn}", st[3]) for (f, _, fn), st in stats.items()
                  if "wocas" in f or "engine" in f), key=lambda kv: -kv[1])
    result = [{"part": k, "cum_s": round(v, 2), "share": round(v / wall, 3)} for k, v in
              sorted(rows.items(), key=lambda kv: -kv[1])]
    result.append({"part": "whole run (in process, profiled)", "cum_s": round(wall, 2), "share": 1.0})
    print("top engine functions by cumulative time:", *[f"  {k} {v:.2f}" for k, v in top[:25]], sep="\n")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="STC-3 dialogues (default 300)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--set", action="append", choices=["stc3", "authored"], help="only these sets")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--baseline-path", type=Path, help="a folder holding a `wocas` package to compare with")
    parser.add_argument("--baseline-label", default="main's engine", help="what the baseline is, for the notes")
    parser.add_argument("--profile", action="store_true", help="add a cProfile per-stage breakdown (this branch)")
    parser.add_argument("--check-equal", action="store_true",
                        help="compare the two engines' stores (first set, one worker): every column of every table")
    parser.add_argument("--name", default="text_speed", help="results file name (default text_speed)")
    args = parser.parse_args()
    engines = {"this branch": os.environ.get("PYTHONPATH", "")}
    if args.baseline_path:
        engines["baseline"] = str(args.baseline_path)
    sets = {"stc3": stc3_calls(args.data, args.calls), "authored": authored_calls()}
    sets = {k: v for k, v in sets.items() if not args.set or k in args.set}
    runs: dict[tuple[str, int, str], list[dict]] = {}
    load = [round(os.getloadavg()[0], 2)]
    profile = equality = None
    with tempfile.TemporaryDirectory() as tmp:
        inputs = {}
        for name, calls in sets.items():
            folder = Path(tmp) / name
            folder.mkdir()
            (folder / "calls.jsonl").write_text("".join(json.dumps(c) + "\n" for c in calls))
            inputs[name] = str(folder / "calls.jsonl")
        for engine, path in engines.items():  # fill the ONNX and calibration caches once
            timed_run(inputs[next(iter(inputs))], f"{tmp}/warm-{len(path)}", 1, path)
        for k in range(args.repeats):
            for name in inputs:
                for workers in args.workers:
                    for engine, path in engines.items():
                        out = f"{tmp}/out-{k}-{engine}-{name}-{workers}".replace(" ", "_")
                        r = timed_run(inputs[name], out, workers, path)
                        runs.setdefault((name, workers, engine), []).append(r)
                        print(engine, name, f"workers={workers}", f"{r['wall_s']:.1f} s",
                              f"{r['calls'] / r['wall_s']:.1f} calls/s", f"steady {r['steady'] or 0:.1f}",
                              f"load {os.getloadavg()[0]:.1f}", flush=True)
                        load.append(round(os.getloadavg()[0], 2))
        if args.check_equal and args.baseline_path:
            first, w = next(iter(inputs)), args.workers[0]
            equality = compare_stores(Path(f"{tmp}/out-0-this_branch-{first}-{w}") / STORE_NAME,
                                      Path(f"{tmp}/out-0-baseline-{first}-{w}") / STORE_NAME)
            print(json.dumps(equality, indent=1))
        if args.profile:
            profile = stage_profile(inputs[next(iter(inputs))], f"{tmp}/profile")
    rows = []
    for (name, workers, engine), values in runs.items():
        wall = statistics.median(v["wall_s"] for v in values)
        calls = values[0]["calls"]
        steady = statistics.median(v["steady"] or 0.0 for v in values)
        rows.append({"set": name, "calls": calls, "workers": workers, "engine": engine,
                     "wall_s": round(wall, 2), "calls_per_s": round(calls / wall, 2),
                     "steady_calls_per_s": round(steady, 2),
                     "cpu_s": round(statistics.median(v["cpu_s"] for v in values), 1),
                     "calls_per_cpu_s": round(calls / statistics.median(v["cpu_s"] for v in values), 2),
                     "first_call_s": round(statistics.median(v["first_call_s"] or 0.0 for v in values), 2)})
    by_key = {(r["set"], r["workers"], r["engine"]): r for r in rows}
    for r in rows:
        base = by_key.get((r["set"], r["workers"], "baseline"))
        r["x_baseline"] = round(base["wall_s"] / r["wall_s"], 2) if base else None
        r["steady_x_baseline"] = (round(r["steady_calls_per_s"] / base["steady_calls_per_s"], 2)
                                  if base and base["steady_calls_per_s"] else None)
        r["cpu_x_baseline"] = round(base["cpu_s"] / r["cpu_s"], 2) if base else None
        r["meets_goal"] = r["steady_calls_per_s"] >= GOAL if r["engine"] == "this branch" else None
    notes = (f"Each row: the median of {args.repeats} fresh `wocas run` process(es), interleaved with the baseline "
             f"({args.baseline_label}, same venv and caches) in the same loop; x_baseline = baseline wall / this wall "
             f"(>1: faster). calls_per_s counts the whole process (start-up, model loads, store); steady_calls_per_s "
             f"leaves the start-up out (calls recorded between the first and last progress line). cpu_s: user + system CPU seconds of "
             f"the process and its workers, the figure least moved by other work on the machine; cpu_x_baseline = "
             f"baseline CPU / this CPU. Goal: "
             f"{GOAL:g} calls/s on 2 cores. The machine is shared with other work: 1-minute load average "
             f"{load} (before, then after each process).")
    data = {"goal_calls_per_s": GOAL, "load_average": load, "rows": rows, "runs": {
        f"{n}|{w}|{e}": v for (n, w, e), v in runs.items()}}
    if equality is not None:
        data["equality"] = equality
        differing = {t: {c: d for c, d in v["differences"].items() if not c.endswith("(order only)")}
                     for t, v in equality.items()}
        differing = {t: d for t, d in differing.items() if d}
        reordered = {f"{t}.{c}": d["differ"] for t, v in equality.items() for c, d in v["differences"].items()
                     if c.endswith("(order only)")}
        notes += (f"\n\nOutput equality, this branch against the baseline on the first set (one worker), every "
                  f"stored column of every table except run ids and times, floats within 1e-5: "
                  + ("identical (" + ", ".join(f"{t} {v['rows']} rows" for t, v in equality.items()) + ")."
                     if not differing else f"DIFFERENT: {json.dumps(differing)}")
                  + (f" Lists holding the same items in another order (ties in a roll-up's ORDER BY): {reordered}."
                     if reordered else ""))
    if profile:
        data["profile"] = profile
        notes += ("\n\ncProfile of one in-process run (this branch, 1 worker, first set), cumulative seconds per "
                  "stage batch call:\n\n| part | cum s | share |\n|---|---|---|\n"
                  + "\n".join(f"| {p['part']} | {p['cum_s']} | {p['share']} |" for p in profile))
    write_results(args.name, data, rows, "Text stages: transcript calls per second through `wocas run`", notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
