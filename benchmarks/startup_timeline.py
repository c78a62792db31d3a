"""Where a cold ``wocas run`` spends its time: one process, a timeline of its phases.

    python -m benchmarks.startup_timeline FILE [--repeats 3] [--name startup_breakdown_after_mono]
    python -m benchmarks.startup_timeline --summary   # startup_breakdown.{json,md} from the four runs

Runs ``wocas run FILE`` in a fresh process through a small driver that wraps the run's phases
(config, store, pipeline build, each stage and each stage's prefetch, recording, the roll-ups,
the snapshot) with timers, and times the process from its start to its exit, so the time
before ``main`` (interpreter and imports) and after it (exit: thread joins, atexit, library
teardown) is known too. The ``-X importtime`` log of the same command gives the heaviest
imports. Results: benchmarks/results/<name>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, write_results

# "module:qualified.name" of the phases timed (each one wrapped; a missing one is skipped).
PHASES = [
    "wocas.config:load_config",
    "wocas.runs:check_inputs",
    "wocas.io.census:census",
    "wocas.store.store:Store.__init__",
    "wocas.analytics.calibration:with_stored_refit",
    "wocas.store.verdicts:sync_for_run",
    "wocas.pipeline:pipeline_version",
    "wocas.pipeline:build_stages",
    "wocas.pipeline:Pipeline._run_stage",
    "wocas.runners.recording:CallRecorder.record",
    "wocas.runs:_rollup_customers",
    "wocas.runs:_insight_alerts",
    "wocas.runs:_publish_snapshot",
    "wocas.pipeline:Pipeline.close",
]

DRIVER = r'''
import importlib, json, os, sys, threading, time
T0 = float(os.environ["WOCAS_TIMELINE_T0"])
EVENTS = []
def now():
    return time.time() - T0
EVENTS.append(("interpreter ready", "main", now(), now()))
import wocas.cli
EVENTS.append(("import wocas.cli", "main", 0.0, now()))
def wrap(spec):
    module, qual = spec.split(":")
    try:
        mod = importlib.import_module(module)
    except Exception:
        return
    owner, parts = mod, qual.split(".")
    for p in parts[:-1]:
        owner = getattr(owner, p, None)
        if owner is None:
            return
    fn = getattr(owner, parts[-1], None)
    if fn is None:
        return
    def timed(*a, **k):
        start = now()
        try:
            return fn(*a, **k)
        finally:
            label = qual
            if qual.endswith("_run_stage"):
                label = "stage " + a[1].name
            EVENTS.append((label, threading.current_thread().name, start, now()))
    setattr(owner, parts[-1], timed)
for spec in json.loads(os.environ["WOCAS_TIMELINE_PHASES"]):
    wrap(spec)
import wocas.pipeline as P
if hasattr(P.Prefetch, "_take"):  # one prefetch at a time, run by whichever thread took it
    run_one = P.Prefetch._run
    def timed_run(self, stage):
        start = now()
        try:
            return run_one(self, stage)
        finally:
            EVENTS.append(("prefetch " + stage.name, threading.current_thread().name, start, now()))
    P.Prefetch._run = timed_run
else:  # main's engine before the change: one thread runs them all in order
    def prefetch_run(self, stages, calls):
        for stage in stages:
            start = now()
            try:
                stage.prefetch(calls)
            except Exception:
                pass
            finally:
                if type(stage).prefetch is not P.Stage.prefetch:
                    EVENTS.append(("prefetch " + stage.name, "wocas-prefetch", start, now()))
                self.done[id(stage)].set()
    P.Prefetch._run = prefetch_run
import atexit
def dump():
    with open(os.environ["WOCAS_TIMELINE_OUT"], "w") as f:
        json.dump({"events": EVENTS, "modules": sorted(m for m in sys.modules if "." not in m)}, f)
atexit.register(dump)
main = wocas.cli.main
def timed_main(*a, **k):
    try:
        return main(*a, **k)
    finally:
        EVENTS.append(("main returned", "main", now(), now()))
wocas.cli.main = timed_main
sys.argv[0] = "wocas"
if hasattr(wocas.cli, "entry"):  # the command's own exit
    wocas.cli.entry()
else:
    sys.exit(wocas.cli.main(sys.argv[1:]))
'''


def run_once(file: str, pythonpath: str, tmp: str, k: int) -> dict:
    out = f"{tmp}/timeline-{k}.json"
    env = {**os.environ, "PYTHONPATH": pythonpath, "WOCAS_TIMELINE_OUT": out,
           "WOCAS_TIMELINE_PHASES": json.dumps(PHASES)}
    started = time.time()
    env["WOCAS_TIMELINE_T0"] = repr(started)
    subprocess.run([sys.executable, "-c", DRIVER, "run", file, "--out", f"{tmp}/out-{k}", "--quiet"],
                   env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    total = time.time() - started
    data = json.loads(Path(out).read_text())
    data["total"] = total
    return data


def import_times(file: str, pythonpath: str, tmp: str, top: int = 25) -> list[dict]:
    """The heaviest top-level packages (cumulative import time) in ``-X importtime``'s log."""
    env = {**os.environ, "PYTHONPATH": pythonpath}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "wocas.cli", "run", file, "--out",
                           f"{tmp}/out-importtime", "--quiet"], env=env, cwd=ROOT, capture_output=True, text=True)
    packages: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if m and len(m.group(3)) == 1:  # top-level imports only (their time includes their children)
            name = m.group(4).split(".")[0]
            packages[name] = packages.get(name, 0.0) + int(m.group(2)) / 1e6
    return [{"package": p, "import_s": round(s, 3)}
            for p, s in sorted(packages.items(), key=lambda kv: -kv[1])[:top]]


def summarise(runs: list[dict]) -> list[dict]:
    """Median start, end and duration of each phase over the runs (first occurrence per run
    for a phase that repeats, plus its count), then exit."""
    names: list[tuple[str, str]] = []
    for run in runs:
        for name, thread, _, _ in run["events"]:
            if (name, thread) not in names:
                names.append((name, thread))
    rows = []
    for name, thread in names:
        starts, ends, durs = [], [], []
        for run in runs:
            hits = [(s, e) for n, t, s, e in run["events"] if n == name and t == thread]
            if hits:
                starts.append(hits[0][0])
                ends.append(hits[-1][1])
                durs.append(sum(e - s for s, e in hits))
        rows.append({"phase": name, "thread": thread, "start_s": round(statistics.median(starts), 2),
                     "end_s": round(statistics.median(ends), 2), "seconds": round(statistics.median(durs), 2)})
    rows.sort(key=lambda r: r["start_s"])
    mains = [next(e for n, _, _, e in run["events"] if n == "main returned") for run in runs]
    totals = [run["total"] for run in runs]
    rows.append({"phase": "exit (main returned to process end)", "thread": "main",
                 "start_s": round(statistics.median(mains), 2), "end_s": round(statistics.median(totals), 2),
                 "seconds": round(statistics.median(t - m for t, m in zip(totals, mains)), 2)})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="one call (a folder of its own is made for it)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--name", default="startup_breakdown")
    parser.add_argument("--label", default="this branch")
    args = parser.parse_args()
    pythonpath = os.environ.get("PYTHONPATH", "")
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        src = Path(args.file).resolve()
        (folder / src.name).symlink_to(src)
        file = str(folder / src.name)
        run_once(file, pythonpath, tmp, -1)  # warm the caches and the page cache
        runs = []
        for k in range(args.repeats):
            runs.append(run_once(file, pythonpath, tmp, k))
            load.append(os.getloadavg()[0])
            print(f"run {k}: {runs[-1]['total']:.2f} s", flush=True)
        imports = import_times(file, pythonpath, tmp)
    rows = summarise(runs)
    total = statistics.median(r["total"] for r in runs)
    notes = (f"`wocas run {src.name}` ({args.label}), median of {args.repeats} fresh processes: "
             f"{total:.2f} s from process start to exit. Times are seconds from process start; "
             f"`prefetch` rows name the thread that ran them (`wocas-prefetch`: the background one). Heaviest imports "
             f"(`-X importtime`, cumulative, top-level): "
             + ", ".join(f"{i['package']} {i['import_s']:.2f}" for i in imports[:15])
             + f". Modules loaded by the end: {', '.join(m for m in runs[-1]['modules'] if m in HEAVY)}. "
             f"1-minute load average {[round(x, 1) for x in load]}.")
    write_results(args.name, {"file": src.name, "label": args.label, "total_s_median": round(total, 2),
                              "load_average": load, "phases": rows, "imports": imports,
                              "modules": runs[-1]["modules"]},
                  rows, f"Cold start timeline: `wocas run {src.name}`", notes)
    return 0


HEAVY = {"torch", "transformers", "sklearn", "scipy", "pandas", "matplotlib", "librosa", "numba", "duckdb",
         "onnxruntime", "ctranslate2", "faster_whisper", "resemblyzer", "silero_vad", "spacy", "presidio_analyzer",
         "pyarrow", "ray", "jinja2", "av", "soundfile", "tokenizers", "sentence_transformers", "parselmouth",
         "opensmile", "pyannote", "rich", "pydantic", "polars"}

TEXT_STAGES = ("turns", "roles", "redact", "emotion", "context", "jobs", "resolution", "signals", "trajectory",
               "metrics", "satisfaction", "flags")


def spans(rows: list[dict]) -> dict[str, float]:
    """A timeline's rows cut into the phases of the critical (main-thread) path."""
    row = {r["phase"]: r for r in rows if r["thread"] in ("MainThread", "main")}
    asr, diarize = row["stage transcribe"], row["stage diarize"]
    exit_row = row["exit (main returned to process end)"]
    text = sum(row[f"stage {n}"]["seconds"] for n in TEXT_STAGES if f"stage {n}" in row)
    after = sum(row[n]["seconds"] for n in ("CallRecorder.record", "_rollup_customers", "_insight_alerts",
                                           "_publish_snapshot") if n in row)
    return {"to first stage (imports, config, store, pipeline)": row["stage decode"]["start_s"],
            "decode": row["stage decode"]["seconds"], "ASR": asr["seconds"],
            "waiting for the diarizer's prefetch": max(0.0, diarize["start_s"] - asr["end_s"]),
            "diarize": diarize["seconds"], "text stages": round(text, 2),
            "record + roll-ups + snapshot": round(after, 2), "exit": exit_row["seconds"],
            "total": exit_row["end_s"]}


def summary() -> int:
    """startup_breakdown.{json,md}: before/after phases side by side, from the four timelines."""
    from benchmarks.common import RESULTS

    table, data = [], {}
    for kind in ("mono", "stereo"):
        runs = {when: json.loads((RESULTS / f"startup_breakdown_{when}_{kind}.json").read_text())
                for when in ("before", "after")}
        cut = {when: spans(r["phases"]) for when, r in runs.items()}
        data[kind] = {when: {"phases": cut[when], "load_average": runs[when]["load_average"],
                             "imports": runs[when]["imports"][:10], "label": runs[when]["label"]} for when in runs}
        quieter = RESULTS / f"startup_breakdown_before_{kind}_quieter.json"  # an earlier, less loaded run
        early = spans(json.loads(quieter.read_text())["phases"]) if quieter.exists() else {}
        for phase in cut["before"]:
            table.append({"call": kind, "phase": phase, "before_s": round(cut["before"][phase], 2),
                          "after_s": round(cut["after"].get(phase, 0.0), 2),
                          "before_s_quieter": round(early[phase], 2) if phase in early else None})
    notes = ("Seconds on the main thread's path, median of 3 fresh processes each (timelines: "
             "startup_breakdown_{before,after}_{mono,stereo}.md, with every phase, the prefetch thread "
             "and the heaviest imports). Before = main's engine at 7c22eea, after = this branch; the two "
             "were measured minutes apart on the shared 2-core machine, under the 1-minute loads "
             + "; ".join(f"{k} {w}: {[round(x, 1) for x in data[k][w]['load_average']]}" for k in data
                         for w in ("before", "after"))
             + ": compare phases within a row, and take ratios from startup.md (interleaved). "
             "`before_s_quieter`: main's engine earlier the same afternoon at loads 0.8-2.3 "
             "(startup_breakdown_before_{mono,stereo}_quieter.md, median of 2 runs each).")
    write_results("startup_breakdown", data, table, "Cold start: where a one-call audio run spends its time", notes)
    return 0


if __name__ == "__main__":
    sys.exit(summary() if sys.argv[1:] == ["--summary"] else main())
