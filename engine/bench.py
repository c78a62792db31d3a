"""`wocas bench`: run the benchmark suites under benchmarks/ and put their figures side by side.

Each suite is a module of the project's ``benchmarks`` package (run as ``python -m
benchmarks.X`` from the checkout) that writes its own JSON + markdown into the results folder. This module runs the chosen suites against one config,
collects their JSON into one `bench.json` (flattened metrics per suite) with a table, and
compares two such files (`--compare A.json B.json`) metric by metric.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from wocas.errors import UsageError

HEADLINE = re.compile(r"(wer|der|jer|f1|accuracy|auc|spearman|pearson|recall|precision|x_realtime|ratio|same_speaker|"
                      r"rss|seconds_per|per_second|throughput|calls_per_s|mae)", re.I)
SPEED = re.compile(r"(x_realtime|per_second|calls_per_s|throughput|rss|seconds_per)", re.I)


@dataclass(frozen=True)
class Suite:
    name: str
    module: str  # benchmarks.<module>
    args: tuple[str, ...] = ()
    takes_config: bool = True
    takes_out: bool = False
    takes_data: bool = True
    result_files: tuple[str, ...] = ()


SUITES = {s.name: s for s in (
    Suite("asr", "asr", result_files=("asr",)),
    Suite("diarization", "diarization", ("--no-asr",), result_files=("diarization",)),
    Suite("roles", "roles", result_files=("roles",)),
    Suite("emotion", "emotion", takes_out=True, result_files=("emotion",)),
    Suite("intents", "intents", ("--only", "banking77", "banking77_mpnet", "clinc150"), takes_out=True, result_files=("intents",)),
    Suite("complaints", "intents", ("--only", "complaints"), takes_out=True, result_files=("intents",)),
    Suite("satisfaction", "satisfaction", result_files=("satisfaction",)),
    Suite("pii", "pii", takes_out=True, result_files=("pii",)),
    Suite("speed", "spine", ("--reps", "1"), result_files=("spine",)),
)}


class BenchError(UsageError, RuntimeError):
    pass


def flatten(data, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a results JSON as {"a.b.c": value} (machine info and raw runs left out)."""
    out: dict[str, float] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("machine", "runs", "files", "texts", "models"):
                continue
            out.update(flatten(value, f"{prefix}{key}."))
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        out[prefix.rstrip(".")] = float(data)
    return out


def checkout_root() -> Path:
    """The folder holding the ``benchmarks`` package: where it imports from, else the current
    folder when it is a checkout (the ``wocas`` script does not put the current folder on the path)."""
    spec = importlib.util.find_spec("benchmarks")
    if spec is not None and spec.submodule_search_locations:
        root = Path(next(iter(spec.submodule_search_locations))).resolve().parent
        if (root / "benchmarks" / "common.py").exists():
            return root
    if (Path.cwd() / "benchmarks" / "__init__.py").exists() and (Path.cwd() / "benchmarks" / "common.py").exists():
        return Path.cwd()
    raise BenchError("the benchmarks package is not importable: run `wocas bench` from a project "
                     "checkout (the folder holding benchmarks/)")


def suite_models(result: dict) -> list[dict]:
    """The models a suite's result names ({field, name, path, sha256}), wherever it put them."""
    models = result.get("models")
    return models if isinstance(models, list) else []


def skip_reasons(result: dict, prefix: str = "") -> list[str]:
    """Every ``skipped`` reason in a suite's result (a whole suite or one part of it)."""
    out = []
    for key, value in result.items():
        if key == "skipped":
            if isinstance(value, dict):
                out += [f"{prefix}{k}: {v}" for k, v in value.items()]
            else:
                out.append(f"{prefix.rstrip('.') or 'suite'}: {value}")
        elif isinstance(value, dict):
            out += skip_reasons(value, f"{prefix}{key}.")
    return out


def run_suites(names: list[str], data: Path, out: Path, config: Path | None) -> dict:
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        raise BenchError(f"unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}")
    root = checkout_root()
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "WOCAS_RESULTS_DIR": str(out.resolve())}
    collected: dict = {"config": str(config) if config else None, "data": str(data), "suites": {},
                       "models": {}, "skipped": {}, "wall_seconds": {}, "load_average": {"start": _load()}}
    for name in names:
        suite = SUITES[name]
        cmd = [sys.executable, "-m", f"benchmarks.{suite.module}", *suite.args]
        if suite.takes_data:
            cmd += ["--data", str(data.resolve())]  # the suites run in the checkout folder
        if suite.takes_config and config:
            cmd += ["--config", str(config.resolve())]
        if suite.takes_out:
            cmd += ["--out", str(out.resolve())]
        for result in suite.result_files:  # never report an earlier run's figures as this one's
            (out / f"{result}.json").unlink(missing_ok=True)
        started = time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True)
        collected["wall_seconds"][name] = round(time.perf_counter() - started, 1)
        if proc.returncode != 0:
            collected["suites"][name] = {"error": proc.stderr.strip().splitlines()[-1:] or ["failed"]}
            continue
        metrics: dict[str, float] = {}
        for result in suite.result_files:
            path = out / f"{result}.json"
            if path.exists():
                data_ = json.loads(path.read_text())
                metrics.update(flatten(data_))
                collected["models"].setdefault(name, []).extend(suite_models(data_))
                reasons = skip_reasons(data_)
                if reasons:
                    collected["skipped"][name] = reasons
        collected["suites"][name] = metrics
    collected["load_average"]["end"] = _load()
    (out / "bench.json").write_text(json.dumps(collected, indent=1))
    (out / "bench.md").write_text(table(collected))
    return collected


def _load() -> list[float] | None:
    try:  # a shared machine: the load says how much of it the run had
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def table(collected: dict) -> str:
    lines = ["# wocas bench", "", f"config: {collected.get('config') or 'embedded defaults'}", "",
             "| suite | metric | value |", "|---|---|---|"]
    for suite, reasons in collected.get("skipped", {}).items():
        for reason in reasons:
            lines.append(f"| {suite} | skipped | {reason} |")
    for suite, metrics in collected["suites"].items():
        if "error" in metrics:
            lines.append(f"| {suite} | error | {' '.join(metrics['error'])} |")
            continue
        for key, value in metrics.items():
            if HEADLINE.search(key):
                lines.append(f"| {suite} | {key} | {value:.4g} |")
    return "\n".join(lines + ["", *models_table(collected, None)]) + "\n"


def _model_label(model: dict) -> str:
    digest = model.get("sha256")
    where = model.get("path") or model.get("error") or ""
    return f"{model.get('name')} ({where}{', sha256 ' + digest[:12] if digest else ''})"


def models_table(a: dict, b: dict | None) -> list[str]:
    """The models each suite used: one column per run."""
    lines = ["| suite | model field | " + ("A | B |" if b is not None else "model |"),
             "|---|---|---|" + ("---|" if b is not None else "")]
    suites = sorted(set(a.get("models", {})) | set((b or {}).get("models", {})))
    for suite in suites:
        ma = {m.get("field"): m for m in a.get("models", {}).get(suite, [])}
        mb = {m.get("field"): m for m in (b or {}).get("models", {}).get(suite, [])}
        for field in sorted(set(ma) | set(mb), key=str):
            cells = [_model_label(ma[field]) if field in ma else "-"]
            if b is not None:
                cells.append(_model_label(mb[field]) if field in mb else "-")
            lines.append(f"| {suite} | {field} | " + " | ".join(cells) + " |")
    return ["## Models", "", *lines] if suites else []


def compare(a_path: Path, b_path: Path) -> str:
    a, b = json.loads(a_path.read_text()), json.loads(b_path.read_text())
    lines = [f"# {a_path} vs {b_path}", "", f"A: {a.get('config') or 'embedded defaults'} (data {a.get('data')})",
             f"B: {b.get('config') or 'embedded defaults'} (data {b.get('data')})", "",
             *models_table(a, b), "", "## Figures (speed rows: x real time, calls/s, peak memory)", "",
             "| suite | metric | A | B | B - A |", "|---|---|---|---|---|"]
    for suite in sorted(set(a["suites"]) | set(b["suites"])):
        ma, mb = a["suites"].get(suite, {}), b["suites"].get(suite, {})
        for key in sorted(set(ma) | set(mb)):
            if key == "error" or not (HEADLINE.search(key) or SPEED.search(key)):
                continue
            va, vb = ma.get(key), mb.get(key)
            delta = f"{vb - va:+.4g}" if va is not None and vb is not None else ""
            fa = f"{va:.4g}" if va is not None else "-"
            fb = f"{vb:.4g}" if vb is not None else "-"
            lines.append(f"| {suite} | {key} | {fa} | {fb} | {delta} |")
    for side, run in (("A", a), ("B", b)):
        for suite, reasons in run.get("skipped", {}).items():
            lines += [f"| {suite} | skipped in {side} | {reason} | | |" for reason in reasons]
    wa, wb = a.get("wall_seconds", {}), b.get("wall_seconds", {})
    if wa or wb:  # speed of whole suites, a ratio within the pair (a shared machine: load in each run)
        lines += ["", "## Wall time per suite (s)", "",
                  f"load average A {a.get('load_average')}, B {b.get('load_average')}", "",
                  "| suite | A | B | B / A |", "|---|---|---|---|"]
        for suite in [s for s in wa if s in wb] + [s for s in wb if s not in wa] + [s for s in wa if s not in wb]:
            va, vb = wa.get(suite), wb.get(suite)
            ratio = f"{vb / va:.2f}" if va and vb else ""
            lines.append(f"| {suite} | {va if va is not None else '-'} | {vb if vb is not None else '-'} | {ratio} |")
    return "\n".join(lines) + "\n"
