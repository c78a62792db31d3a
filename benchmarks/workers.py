"""How a nightly run scales on one machine: workers, call length, number of calls.

    python -m benchmarks.workers workers   # 1 worker × 1 thread, 1 × 2, 2 × 1 on the same calls
    python -m benchmarks.workers memory    # peak memory for 10, 60 and 120-minute calls
    python -m benchmarks.workers memory-stages --minutes 30   # peak memory of each stage, one process
    python -m benchmarks.workers batch     # wall time for 10, 100 and 1,000 transcript calls

Each setting runs a real ``wocas run`` in a fresh process (models loaded, store written), so
the figures are what operations would see. Long calls are built by concatenating the real
recordings in ``../shared/data`` into a temporary folder: agent and customer on their own
channels of a stereo file, as contact-centre recorders store them. Results go to
``benchmarks/results/{workers,memory,batch}.{json,md}``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
from benchmarks.common import DEFAULT_DATA  # noqa: E402
LEAN_STAGES = ("emotion", "jobs", "signals", "redact", "satisfaction")
RESULTS = ROOT / "benchmarks" / "results"


def machine() -> str:
    return f"{platform.node() or 'host'}: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, " \
           f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM, Python {platform.python_version()}"


def wocas_run(inputs: list[str], out: Path, *extra: str) -> dict:
    """One ``wocas run`` in a fresh process: its wall time, peak RSS and run record."""
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "wocas.cli", "run", *inputs, "--out", str(out), "--quiet", *extra],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    err = proc.stderr.read()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise RuntimeError(f"wocas run failed ({code}): {err[-2000:]}")
    from wocas.store import Store

    with Store(out / "wocas.duckdb", read_only=True) as store:
        run = store.query("SELECT * FROM runs ORDER BY started_at DESC LIMIT 1")[0]
    # ru_maxrss is the largest single process among the waited-for tree's (kB on Linux); the CPU
    # times cover the run process and the workers it waited for
    cpu = usage.ru_utime + usage.ru_stime
    log_text = Path(run["log_path"]).read_text() if run.get("log_path") and Path(run["log_path"]).exists() else ""
    profile = next((json.loads(line.split("worker pool profile: ", 1)[1]) for line in log_text.splitlines()
                    if "worker pool profile: " in line), None)
    after = next((line.split("after the calls: ", 1)[1] for line in log_text.splitlines()
                  if "after the calls: " in line), None)
    return {"process_wall_seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
            "cores_busy": round(cpu / wall, 2), "pool_profile": profile, "after_the_calls": after,
            "peak_rss_gb": round(usage.ru_maxrss / 2**20, 3),
            "runner_wall_seconds": round(run["wall_seconds"], 2), "calls_ok": run["calls_ok"],
            "calls_failed": run["calls_failed"], "audio_seconds": round(run["audio_seconds"], 1),
            "x_realtime": round(run["x_realtime"] or 0, 2),
            # the machine is shared: a load average over the core count means other work competed
            "load_average_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)]}


def write(name: str, payload: dict, table: list[str]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=1))
    (RESULTS / f"{name}.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))


# ---- workers -----------------------------------------------------------------------------------
def _layout(r: dict) -> str:
    return "auto (defaults)" if r["workers"] == 0 else f"{r['workers']} × {r['threads_per_worker']}"


def bench_workers(data: Path, copies: int, batch_size: int, samples: bool = False) -> None:
    clips = sorted((data / "diarization/pyannote_ami_debug").glob("*.wav"))
    if samples:  # the 16-call batch: the two sample calls (33 s mono, 38 s stereo), 8 copies each
        clips = sorted((ROOT / "samples").glob("*.flac"))
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "calls.csv"
        with manifest.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["path", "call_id"])
            for k in range(copies):  # the same recordings under other ids: more calls, same audio
                for clip in clips:
                    w.writerow([str(clip), f"{clip.stem}-{k}"])
        settings = [(1, 2), (2, 1), (1, 1), (0, 0)] if samples else [(1, 1), (1, 2), (2, 1)]
        rows = []
        for workers, threads in settings:
            out = Path(tmp) / f"out-{workers}x{threads}"
            r = wocas_run([str(manifest)], out, "--workers", str(workers), "--threads-per-worker", str(threads),
                          "--batch-size", str(batch_size))  # 0 x 0: the defaults (auto)
            rows.append({"workers": workers, "threads_per_worker": threads, **r})
            print(rows[-1], flush=True)
    if samples:
        ratio = round(rows[0]["process_wall_seconds"] / rows[1]["process_wall_seconds"], 2)
        payload = {"machine": machine(), "calls": len(clips) * copies, "batch_size": batch_size,
                   "audio": "samples/ billing-stereo-8k (38 s) and delivery-mono-16k (33 s), copies, full default pipeline",
                   "goal": "2 workers >= 1.8x one worker", "two_workers_vs_one": ratio, "runs": rows}
        cpu_ratio = round(rows[0]["cpu_seconds"] / rows[1]["cpu_seconds"], 2)
        payload["cpu_1x2_vs_2x1"] = cpu_ratio
        payload["two_workers_vs_one_one_thread"] = round(rows[2]["process_wall_seconds"] / rows[1]["process_wall_seconds"], 2)
        table = [f"# Workers on one machine, 16-call sample batch ({machine()})", "",
                 f"{len(clips) * copies} calls, batch size {batch_size}, fresh process each. 1 × 2: one process whose "
                 "libraries get both cores (ASR keeps its default single thread); auto: the defaults ([run] workers = 0, "
                 "one one-thread worker per core); the load average column shows the shared machine's load. "
                 "CPU = user + system of the run process and its workers (wait4); cores busy = CPU / wall.", "",
                 "| workers × threads | wall (s) | CPU (s) | cores busy | × real time | peak RSS (GB) | load avg before/after |",
                 "| --- | --- | --- | --- | --- | --- | --- |"]
        table += [f"| {_layout(r)} | {r['process_wall_seconds']} | {r['cpu_seconds']} | "
                  f"{r['cores_busy']} | {r['x_realtime']} | {r['peak_rss_gb']} | {r['load_average_1min']} |" for r in rows]
        table += ["", f"Two workers vs one: {ratio}x wall against one two-thread worker (goal 1.8x), "
                      f"{payload['two_workers_vs_one_one_thread']}x against one one-thread worker; "
                      f"CPU 1 × 2 / 2 × 1: {cpu_ratio}."]
        pool = rows[1].get("pool_profile")
        if pool:
            table += ["", "2 × 1 pool profile (seconds from the pool's start; from the run's log):", "",
                      "| worker | calls | ready after | start-up CPU | busy | CPU | done at |", "| --- | --- | --- | --- | --- | --- | --- |"]
            table += [f"| {w['pid']} | {w['calls']} | {w['ready_after_s']} | {w['startup_cpu_s']} | {w['busy_s']} | "
                      f"{w['cpu_s']} | {w['done_at_s']} |" for w in pool["workers"]]
            table += ["", f"Pool wall {pool['wall_s']} s; parent CPU {pool['parent_cpu_s']} s, writing results "
                          f"{pool['parent_record_s']} s; shutdown {pool['shutdown_s']} s; after the calls: "
                          f"{rows[1].get('after_the_calls')}."]
        write("workers_samples", payload, table)
        return
    base = rows[0]["process_wall_seconds"]
    two_thread = rows[1]["process_wall_seconds"]
    for r in rows:
        r["speedup_vs_1x1"] = round(base / r["process_wall_seconds"], 2)
        r["speedup_vs_1x2"] = round(two_thread / r["process_wall_seconds"], 2)
    payload = {"machine": machine(), "calls": len(clips) * copies, "batch_size": batch_size,
               "audio": "AMI meeting excerpts from ../shared/data (30 s, 16 kHz mono, 2-4 speakers), full default pipeline",
               "goal": "2 workers >= 1.6x one worker", "runs": rows}
    table = [f"# Workers on one machine ({machine()})", "",
             f"{len(clips) * copies} calls of 30 s real meeting audio (AMI excerpts), default config, batch size {batch_size} "
             "(so both workers get work), fresh process each (start-up and model loading included). The machine is shared: "
             "the last column is its 1-minute load average before and after each run (2 cores).", "",
             "| workers × threads | wall (s) | runner wall (s) | × real time | peak RSS of one process (GB) | speed-up vs 1×1 | vs 1×2 | load avg before/after |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        table.append(f"| {r['workers']} × {r['threads_per_worker']} | {r['process_wall_seconds']} | "
                     f"{r['runner_wall_seconds']} | {r['x_realtime']} | {r['peak_rss_gb']} | "
                     f"{r['speedup_vs_1x1']} | {r['speedup_vs_1x2']} | {r['load_average_1min']} |")
    write("workers", payload, table)


# ---- memory against call length -------------------------------------------------------------------
def real_speech(data: Path) -> list[np.ndarray]:
    from wocas.io.audio import decode

    files = sorted((data / "diarization/pyannote_ami_debug").glob("*.wav"))
    files += [data / "diarization/pyannote_sample/sample.wav", data / "calls_synthetic/dialogue_60s_mono16k.flac"]
    files += sorted((data / "asr/ljspeech_coqui").glob("*.flac"))
    return [decode(f).mono() for f in files]


def build_long_call(path: Path, minutes: float, pieces: list[np.ndarray]) -> None:
    """A stereo 16 kHz FLAC of ``minutes``: left = the real recordings in order, right = the
    same in reverse order, written piece by piece (never whole in memory)."""
    import soundfile as sf

    need = int(minutes * 60 * 16000)
    left = right = 0
    li, ri = 0, len(pieces) - 1
    with sf.SoundFile(str(path), "w", samplerate=16000, channels=2, format="FLAC") as f:
        written = 0
        while written < need:
            a, b = pieces[li % len(pieces)], pieces[ri % len(pieces)]
            n = min(len(a), len(b), need - written)
            f.write(np.stack([a[:n], b[:n]], axis=1))
            written += n
            li, ri = li + 1, ri - 1
    del left, right


ASR_ONLY = """
import sys, time, json, resource
from wocas.config import AsrConfig, AudioConfig
from wocas.io.ingest import audio_call
from wocas.stages.decode import DecodeStage
from wocas.stages.transcribe import TranscribeStage
from pathlib import Path
t = time.perf_counter()
call = DecodeStage(AudioConfig()).process_call(audio_call(Path(sys.argv[1])))
call = TranscribeStage(AsrConfig(beam_size=int(sys.argv[2]), cpu_threads=2)).process_call(call)
print(json.dumps({"seconds": time.perf_counter() - t, "words": len(call.asr_words), "duration": call.duration}))
"""


def asr_only_run(audio: Path, beam_size: int) -> dict:
    """Decode + ASR (the stages that chunking bounds) in a fresh process: peak RSS, wall."""
    proc = subprocess.Popen([sys.executable, "-c", ASR_ONLY, str(audio), str(beam_size)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    out, err = proc.stdout.read(), proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(err[-2000:])
    r = json.loads(out.strip().splitlines()[-1])
    return {"peak_rss_gb": round(usage.ru_maxrss / 2**20, 3), "wall_seconds": round(r["seconds"], 1),
            "x_realtime": round(r["duration"] / r["seconds"], 1), "words": r["words"]}


def bench_memory_asr(data: Path, lengths: list[float], beam_size: int) -> None:
    import soundfile as sf

    pieces = real_speech(data)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in lengths:
            stereo = Path(tmp) / "stereo.flac"
            build_long_call(stereo, minutes, pieces)
            audio = Path(tmp) / f"call-{int(minutes)}min-mono.flac"
            with sf.SoundFile(str(stereo)) as src, sf.SoundFile(str(audio), "w", 16000, 1, format="FLAC") as dst:
                for block in src.blocks(blocksize=16000 * 60, dtype="float32"):
                    dst.write(block[:, 0])
            stereo.unlink()
            rows.append({"minutes": minutes, **asr_only_run(audio, beam_size)})
            print(rows[-1], flush=True)
            audio.unlink()
    payload = {"machine": machine(), "goal": "flat, and <= 2.5 GB for the 120-minute call on the embedded models",
               "stages": "decode (block-wise above 20 min) + transcribe (10-minute windows), Whisper tiny.en int8, "
                         f"beam {beam_size}, 2 threads", "audio": "mono 16 kHz FLAC tiled from the real recordings "
               "in ../shared/data (AMI excerpts, pyannote sample, synthetic dialogue, LJ Speech)", "runs": rows}
    table = [f"# Peak memory of decode + ASR against call length ({machine()})", "",
             f"One mono call per fresh process; Whisper tiny.en int8, beam {beam_size}, 10-minute ASR windows.", "",
             "| call length (min) | peak RSS (GB) | wall (s) | × real time | words |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        table.append(f"| {r['minutes']:.0f} | {r['peak_rss_gb']} | {r['wall_seconds']} | {r['x_realtime']} | {r['words']} |")
    write("memory_asr", payload, table)


def bench_memory(data: Path, lengths: list[float]) -> None:
    pieces = real_speech(data)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in lengths:
            audio = Path(tmp) / f"call-{int(minutes)}min.flac"
            build_long_call(audio, minutes, pieces)
            r = wocas_run([str(audio)], Path(tmp) / f"out-{int(minutes)}", "--threads-per-worker", "2")
            rows.append({"minutes": minutes, "file_mb": round(audio.stat().st_size / 1e6, 1), **r})
            print(rows[-1], flush=True)
            audio.unlink()
    payload = {"machine": machine(), "goal": "flat, and <= 2.5 GB for the 120-minute call on the embedded models",
               "audio": "stereo 16 kHz FLAC, agent and customer channels tiled from the real recordings in "
                        "../shared/data (AMI excerpts, pyannote sample, synthetic dialogue, LJ Speech)",
               "runs": rows}
    table = [f"# Peak memory against call length ({machine()})", "",
             "One stereo call per run (channel = speaker, so the diarizer is not needed), default config "
             "(Whisper tiny.en int8), fresh `wocas run` process each.", "",
             "| call length (min) | peak RSS (GB) | wall (s) | × real time | calls ok |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        table.append(f"| {r['minutes']:.0f} | {r['peak_rss_gb']} | {r['process_wall_seconds']} | {r['x_realtime']} | {r['calls_ok']} |")
    write("memory", payload, table)


def bench_memory_stages(data: Path, minutes: float) -> None:
    """Peak RSS of each stage on one long stereo call: the kernel's high-water mark (VmHWM) is
    reset before the first stage and after each one (Linux ``clear_refs``), so each row is the
    highest the process reached while that stage ran."""
    from wocas.config import Config
    from wocas.io.ingest import iter_calls
    from wocas.pipeline import Pipeline

    def status() -> dict[str, float]:
        fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
        return {k: round(int(fields[k].split()[0]) / 1e6, 3) for k in ("VmHWM", "VmRSS")}

    def reset_peak() -> None:
        Path("/proc/self/clear_refs").write_text("5")

    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        audio = Path(tmp) / f"call-{int(minutes)}min.flac"
        build_long_call(audio, minutes, real_speech(data))
        pipeline = Pipeline.from_config(Config())
        pipeline.warm_up()
        loaded = status()["VmRSS"]
        started = time.perf_counter()

        def hook(stage: str, _call) -> None:
            s = status()
            rows.append({"stage": stage, "peak_rss_gb": s["VmHWM"], "rss_after_gb": s["VmRSS"],
                         "seconds_since_start": round(time.perf_counter() - started, 1)})
            reset_peak()

        reset_peak()
        [call] = pipeline.process(list(iter_calls([str(audio)])), hook)
    payload = {"machine": machine(), "minutes": minutes, "rss_after_model_loading_gb": loaded, "ok": call.ok,
               "stages": rows}
    table = [f"# Peak memory per stage, one {minutes:.0f}-minute stereo call ({machine()})", "",
             f"Default config, models loaded and warmed up first (RSS then {loaded} GB). Each row: the highest RSS "
             "while that stage ran (VmHWM reset between stages), and RSS when it ended.", "",
             "| stage | peak RSS (GB) | RSS after (GB) | s since start |", "| --- | --- | --- | --- |"]
    table += [f"| {r['stage']} | {r['peak_rss_gb']} | {r['rss_after_gb']} | {r['seconds_since_start']} |" for r in rows]
    write("memory_stages", payload, table)


# ---- cost against number of calls ---------------------------------------------------------------------
def bench_batch(data: Path, counts: list[int], lean: bool) -> None:
    dialogues = json.loads((data / "text/stc3_customer_helpdesk/train_data_en.json").read_text())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in counts:
            path = Path(tmp) / f"calls-{n}.jsonl"
            with path.open("w") as f:
                for i in range(n):
                    d = dialogues[i % len(dialogues)]
                    turns = [{"speaker": "customer" if t["sender"] == "customer" else "agent",
                              "text": " ".join(t["utterances"])} for t in d["turns"]]
                    f.write(json.dumps({"call_id": f"stc3-{d['id']}-{i}", "turns": turns}) + "\n")
            extra = []
            if lean:
                config = Path(tmp) / "lean.toml"
                config.write_text("".join(f"[{name}]\nenabled = false\n" for name in LEAN_STAGES))
                extra = ["--config", str(config)]
            r = wocas_run([str(path)], Path(tmp) / f"out-{n}", *extra)
            rows.append({"calls": n, **r, "runner_ms_per_call": round(1000 * r["runner_wall_seconds"] / n, 2)})
            print(rows[-1], flush=True)
    stages = ("turns, roles, metrics (text-model stages off: " + ", ".join(LEAN_STAGES) + ")") if lean \
        else "default config"
    for r in rows:
        r["stages"] = stages
    payload = {"machine": machine(), "goal": "linear in the number of calls", "stages": stages,
               "input": "STC-3 customer-helpdesk dialogues from ../shared/data as transcript JSONL", "runs": rows}
    table = [f"# Cost against number of calls ({machine()})", "",
             f"Transcript calls (real STC-3 helpdesk dialogues), {stages}, batch size 8, one worker, "
             "fresh `wocas run` process each (start-up included in process wall).", "",
             "| calls | process wall (s) | runner wall (s) | runner ms per call | peak RSS (GB) |",
             "| --- | --- | --- | --- | --- |"]
    for r in rows:
        table.append(f"| {r['calls']} | {r['process_wall_seconds']} | {r['runner_wall_seconds']} | "
                     f"{r['runner_ms_per_call']} | {r['peak_rss_gb']} |")
    write("batch", payload, table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["workers", "memory", "memory-asr", "memory-stages", "batch"])
    parser.add_argument("--beam-size", type=int, default=1, help="memory-asr: beam size")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--copies", type=int, default=2, help="workers: each AMI clip this many times")
    parser.add_argument("--batch-size", type=int, default=2, help="workers: calls per batch")
    parser.add_argument("--minutes", default="10,60,120", help="memory: call lengths")
    parser.add_argument("--counts", default="10,100,1000", help="batch: numbers of calls")
    parser.add_argument("--samples", action="store_true", help="workers: 16 copies of the sample calls (--copies 8)")
    parser.add_argument("--lean", action="store_true", help="batch: text-model stages off (runner and store cost)")
    args = parser.parse_args()
    if args.what == "workers":
        bench_workers(args.data, args.copies, args.batch_size, args.samples)
    elif args.what == "memory-asr":
        bench_memory_asr(args.data, [float(m) for m in args.minutes.split(",")], args.beam_size)
    elif args.what == "memory":
        bench_memory(args.data, [float(m) for m in args.minutes.split(",")])
    elif args.what == "memory-stages":
        bench_memory_stages(args.data, float(args.minutes.split(",")[0]))
    else:
        bench_batch(args.data, [int(c) for c in args.counts.split(",")], args.lean)
    return 0


if __name__ == "__main__":
    sys.exit(main())
