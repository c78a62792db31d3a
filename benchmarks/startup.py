"""Cold start: time to the first analysed call, whole processes, beside ``import faster_whisper``.

    python -m benchmarks.startup [--repeats 3] [--baseline-path DIR]

Each scenario is a fresh ``wocas run`` process on one call (the chat transcript, the 33 s
mono call and the 38 s stereo call from samples/), timed from process start to exit, with its
peak RSS; ``python -c "import faster_whisper"`` runs in the same loop so every figure has a
ratio to it. The ONNX and calibration caches are warm (a first run fills them), as on any
machine after its first night. ``--baseline-path`` points at another engine folder (put on
PYTHONPATH as ``wocas``) to measure it in the same run, interleaved. Results:
benchmarks/results/startup.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, write_results

SCENARIOS = {"transcript": "chats.jsonl", "audio mono 33 s": "delivery-mono-16k.flac",
             "audio stereo 38 s": "billing-stereo-8k.flac"}
GOALS = {"transcript": 3.0, "audio mono 33 s": 6.0, "audio stereo 38 s": 6.0}


def timed(cmd: list[str], pythonpath: str) -> tuple[float, float, float]:
    """(wall seconds, peak RSS in GB, CPU seconds: user + system, all threads) of one process."""
    env = {**os.environ, "PYTHONPATH": pythonpath}
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd} failed: {proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss / 2**20, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-path", type=Path, help="a folder holding a `wocas` package to compare with")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                        help="only these scenarios (repeatable; the transcript still warms the caches)")
    parser.add_argument("--name", default="startup", help="results file name (default startup)")
    parser.add_argument("--baseline-label", default="main's engine", help="what the baseline is, for the notes")
    args = parser.parse_args()
    engines = {"this branch": os.environ.get("PYTHONPATH", "")}
    if args.baseline_path:
        engines["baseline"] = str(args.baseline_path)
    samples = ROOT / "samples"
    runs: dict[str, dict[str, list]] = {}
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as tmp:
        inputs = {}
        for name, file in SCENARIOS.items():  # a folder of its own: the manifest must not pull the others in
            folder = Path(tmp) / name.replace(" ", "-")
            folder.mkdir()
            (folder / file).symlink_to(samples / file)
            inputs[name] = str(folder / file)
        for engine, path in engines.items():  # fill the ONNX and calibration caches once
            timed([sys.executable, "-m", "wocas.cli", "run", inputs["transcript"], "--out", f"{tmp}/warm-{len(path)}",
                   "--quiet"], path)
        for k in range(args.repeats):
            wall, rss, cpu = timed([sys.executable, "-c", "import faster_whisper"], engines["this branch"])
            runs.setdefault("import faster_whisper", {}).setdefault("-", []).append((wall, rss, cpu))
            for engine, path in engines.items():
                for name, file in inputs.items():
                    if args.scenario and name not in args.scenario:
                        continue
                    out = f"{tmp}/out-{k}-{engine}-{name}".replace(" ", "_")
                    wall, rss, cpu = timed([sys.executable, "-m", "wocas.cli", "run", file, "--out", out, "--quiet"],
                                           path)
                    runs.setdefault(name, {}).setdefault(engine, []).append((wall, rss, cpu))
                    print(engine, name, round(wall, 2), flush=True)
            load.append(os.getloadavg()[0])
    fw = statistics.median(w for w, _, _ in runs.pop("import faster_whisper")["-"])
    rows = []
    for name, by_engine in runs.items():
        for engine, values in by_engine.items():
            wall = statistics.median(w for w, _, _ in values)
            rows.append({"scenario": name, "engine": engine, "wall_s_median": round(wall, 2),
                         "wall_s_min": round(min(w for w, _, _ in values), 2),
                         "cpu_s_median": round(statistics.median(c for _, _, c in values), 2),
                         "peak_rss_gb": round(max(r for _, r, _ in values), 3),
                         "x_import_faster_whisper": round(wall / fw, 1), "goal_s": GOALS[name],
                         "meets_goal": wall <= GOALS[name] if engine == "this branch" else None})
    notes = (f"Median of {args.repeats} fresh processes each, interleaved; `python -c \"import faster_whisper\"` "
             f"took {fw:.2f} s (median) in the same loop. `cpu_s`: user + system seconds of the process, all threads (less sensitive to the machine's load than wall time). Caches warm (ONNX graphs, taxonomy calibration). "
             f"The machine is shared with other work: 1-minute load average {[round(x, 1) for x in load]} "
             f"(before, then after each round). Baseline = {args.baseline_label}, same venv and caches.")
    write_results(args.name, {"import_faster_whisper_s": round(fw, 3), "load_average": load, "rows": rows},
                  rows, "Cold start: time to the first analysed call (whole process)", notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
