"""Peak memory of long calls: decode, diarize, ASR input windows and the redacted copy, one
fresh process per call, against the baseline code in the same run.

Long recordings are built in a temporary folder by tiling the shared 60 s synthetic call
(two real-sounding voices; mono and stereo versions) to 1, 2 and 4 hours, written as 16-bit
WAV (the streaming decode path, as a recorder's file would take). Each run is a fresh Python
process that loads and warms the diarizer, then runs the decode stage and the diarize stage
on the call with no ASR words (the transcript-less path: ASR at 4 hours takes longer than a
CPU session has; its memory is flat in call length, see memory.md / memory_asr.md), reads
every window the transcribe stage would hand faster-whisper (without the model), and writes
the redact stage's silenced copy of the recording. The
kernel's high-water mark (VmHWM) is reset between steps, so each figure is that step's own
peak RSS. With no words, a stereo call's diarize step runs the mono diarizer on the mix of its
channels (an upper bound: a real stereo run takes its speakers from the channels).

The baseline is other code with the same stage API, given as a folder holding a `wocas`
package (e.g. a link to main's engine/): ``--baseline /tmp/mainshim``. Runs of the baseline
whose predicted peak would endanger a shared machine are skipped with ``--baseline-max-hours``.

    python -m benchmarks.long_calls [--hours 1 2 4] [--kinds mono stereo] [--baseline DIR]
    python -m benchmarks.long_calls --merge long_calls_mono long_calls_stereo   # one table from two runs
    python -m benchmarks.long_calls --hours --whole-run-hours 1 2 --baseline DIR  # whole `wocas run`s only

``--whole-run-hours`` adds, per mono call of that length, a whole ``wocas run`` with the default
config (default pipeline, tiny.en ASR) in a fresh process per code: its peak RSS (the child's
``ru_maxrss``), wall and CPU time, and whether the call was stored ok.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import DEFAULT_DATA, RESULTS, ROOT, write_results

SOURCES = {"mono": "calls_synthetic/dialogue_60s_mono16k.flac",
           "stereo": "calls_synthetic/dialogue_60s_stereo16k.flac"}


def build(data: Path, kind: str, hours: float, folder: Path) -> Path:
    """A WAV of ``hours`` made by repeating the 60 s call, written block by block."""
    import soundfile as sf

    piece, rate = sf.read(data / SOURCES[kind], dtype="int16", always_2d=True)
    path = folder / f"{kind}_{hours:g}h.wav"
    repeats = int(np.ceil(hours * 3600 * rate / len(piece)))
    with sf.SoundFile(path, "w", samplerate=rate, channels=piece.shape[1], subtype="PCM_16") as f:
        for _ in range(repeats):
            f.write(piece)
    return path


CHILD = r"""
import json, sys, time
from pathlib import Path

def mem():
    fields = dict(l.split(":", 1) for l in Path("/proc/self/status").read_text().splitlines() if ":" in l)
    return {k: round(int(fields[k].split()[0]) / 1e6, 3) for k in ("VmHWM", "VmRSS")}

def reset():
    Path("/proc/self/clear_refs").write_text("5")

from wocas.config import Config, DiarizationConfig
from wocas.schema import Call, CallAnalysis
from wocas.stages.decode import DecodeStage
from wocas.stages.diarize import DiarizeStage

path = sys.argv[1]
diarize = DiarizeStage(DiarizationConfig())
diarize.warm_up()
out = {"loaded_gb": mem()["VmRSS"]}
call = CallAnalysis(call=Call(call_id="long", source=path, kind="audio"))
reset(); t = time.time()
config = Config()
try:  # the default config as `wocas run` builds the stage: spooled above [run] spool_audio_minutes
    decode = DecodeStage(config.audio, config.run)
except TypeError:  # code from before spooling
    decode = DecodeStage(config.audio)
call = decode.process_call(call)
m = mem(); out.update(decode_peak_gb=m["VmHWM"], after_decode_gb=m["VmRSS"], decode_s=round(time.time() - t, 1),
                      spooled=bool(getattr(call.audio, "spooled", False)))
reset(); t = time.time(); cpu = time.process_time()
call = diarize.process_call(call)
m = mem(); out.update(diarize_peak_gb=m["VmHWM"], diarize_s=round(time.time() - t, 1),
                      diarize_cpu_s=round(time.process_time() - cpu, 1),
                      speakers=len({s.speaker for s in call.speaker_segments}),
                      segments=len(call.speaker_segments))

# ASR input: the windows the transcribe stage hands faster-whisper, read as it reads them (the
# model itself is left out: its memory is set by the window length, not the call's)
import numpy as np
from wocas.stages.transcribe import chunk_bounds, speaker_channels
reset(); n = 0
for speaker, samples in speaker_channels(call.audio, call.call.channels):
    for a, b in chunk_bounds(samples, call.audio.sample_rate):
        piece = np.asarray(samples[a:b], dtype=np.float32); n += 1
        del piece
m = mem(); out.update(asr_windows_peak_gb=m["VmHWM"], asr_windows=n)

# redact: the recording's redacted copy, one "word" silenced per minute
import tempfile
from wocas.config import RedactConfig
from wocas.schema import Turn, Word
from wocas.stages.redact import RedactStage
words = tuple(Word(text="4412", start=k * 60 + 1.0, end=k * 60 + 2.0) for k in range(int(call.duration // 60)))
original = Turn(index=0, speaker="s", start=0.0, end=call.duration, text=" ".join(w.text for w in words), words=words)
redacted = original.replace(words=tuple(w.replace(text="[ID]") for w in words),
                            text=" ".join("[ID]" for _ in words))
with tempfile.TemporaryDirectory(prefix="wocas-redact-") as folder:
    stage = RedactStage(RedactConfig(audio=True, audio_dir=folder))
    reset(); t = time.time()
    stage._write_audio(call.replace(turns=(original,)), (redacted,), (original,))
    m = mem(); out.update(redact_peak_gb=m["VmHWM"], redact_s=round(time.time() - t, 1))
if hasattr(call.audio, "release"):
    call.audio.release()
print("RESULT " + json.dumps(out))
"""


RUN_CHILD = r"""
import json, resource, subprocess, sys, time
t = time.time()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
use = resource.getrusage(resource.RUSAGE_CHILDREN)
print("RESULT " + json.dumps({"rc": proc.returncode, "run_peak_gb": round(use.ru_maxrss / 1e6, 3),
                              "run_wall_s": round(time.time() - t, 1), "run_cpu_s": round(use.ru_utime + use.ru_stime, 1),
                              "stderr": proc.stderr[-600:]}))
"""


def measure_run(path: Path, pythonpath: str, out: Path) -> dict:
    """A whole `wocas run` of one call, default config, in a fresh process (wrapped in
    another, so its peak RSS is that process's alone)."""
    env = {**os.environ, "PYTHONPATH": pythonpath, "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-c", RUN_CHILD, sys.executable, "-m", "wocas.cli", "run", str(path),
           "--out", str(out), "--quiet"]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        return {"error": (proc.stderr or proc.stdout)[-600:].strip()}
    result = json.loads(lines[-1][7:])
    stderr = result.pop("stderr")
    if result["rc"] not in (0, 1):
        result["error"] = stderr.strip()
    try:
        from wocas.store import Store

        with Store(out / "wocas.duckdb", read_only=True) as store:
            row = store.query("SELECT status, error, (SELECT count(*) FROM turns) AS turns FROM calls")[0]
        status, error, turns = row["status"], row["error"], row["turns"]
        result.update(status=status, turns=turns, **({"call_error": error[:200]} if error else {}))
    except Exception as e:  # noqa: BLE001 - reported, not raised: the figure is still worth keeping
        result["store_error"] = f"{type(e).__name__}: {e}"[:200]
        result.setdefault("error", stderr.strip()[-300:])
    spool = out / "tmp"
    result["spool_left"] = len(list(spool.iterdir())) if spool.exists() else 0
    return result


STEPS = ("decode_peak_gb", "diarize_peak_gb", "asr_windows_peak_gb", "redact_peak_gb")


def audio_gb(kind: str, hours: float) -> float:
    """The call's own size as 16 kHz int16 PCM: what memory may grow by with call length."""
    return round(hours * 3600 * 16000 * 2 * (2 if kind == "stereo" else 1) / 1e9, 3)


def measure(path: Path, pythonpath: str) -> dict:
    env = {**os.environ, "PYTHONPATH": pythonpath, "HF_HUB_OFFLINE": "1"}
    t = time.time()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path)], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
            result["process_peak_gb"] = max(result[k] for k in STEPS)
            result["wall_s"] = round(time.time() - t, 1)
            return result
    return {"error": (proc.stderr or proc.stdout)[-600:].strip(), "rc": proc.returncode}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("WOCAS_DATA", DEFAULT_DATA)))
    parser.add_argument("--hours", type=float, nargs="*", default=[1, 2, 4])
    parser.add_argument("--whole-run-hours", type=float, nargs="*", default=[],
                        help="also a whole `wocas run` (default pipeline) of a mono call this long, per code")
    parser.add_argument("--kinds", nargs="+", default=["mono", "stereo"], choices=sorted(SOURCES))
    parser.add_argument("--baseline", help="folder holding the baseline's `wocas` package")
    parser.add_argument("--baseline-max-hours", type=float, default=4.0,
                        help="skip baseline runs longer than this (main before #23 grew ~2.9 GB/h in the diarizer)")
    parser.add_argument("--name", default="long_calls")
    parser.add_argument("--merge", nargs="+", help="write --name from these earlier result files' runs instead")
    args = parser.parse_args(argv)
    if args.merge:
        return merge(args)
    ours = str(ROOT / ".pyshim") if (ROOT / ".pyshim").exists() else os.environ.get("PYTHONPATH", "")
    rows, runs = [], []
    with tempfile.TemporaryDirectory(prefix="wocas-long-") as tmp:
        for kind in args.kinds:
            for hours in args.hours:
                path = build(args.data, kind, hours, Path(tmp))
                codes = [("this branch", ours)]
                if args.baseline and hours <= args.baseline_max_hours:
                    codes.append(("baseline", args.baseline))
                for code, pythonpath in codes:
                    result = measure(path, pythonpath)
                    runs.append({"kind": kind, "hours": hours, "code": code, **result})
                    print(kind, hours, code, result, flush=True)
                    rows.append(row_of(runs[-1]))
                    save(args, runs, rows)  # after every call: a long run stopped early keeps what it measured
                path.unlink()
        for hours in args.whole_run_hours:
            path = build(args.data, "mono", hours, Path(tmp))
            codes = [("this branch", ours)] + ([("baseline", args.baseline)] if args.baseline else [])
            for code, pythonpath in codes:
                out = Path(tmp) / f"run-{hours:g}h-{code.replace(' ', '_')}"
                load = os.getloadavg()[0]
                result = measure_run(path, pythonpath, out)
                runs.append({"kind": "mono", "hours": hours, "code": code, "step": "wocas run",
                             "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2), **result})
                print("wocas run", hours, code, result, flush=True)
                save(args, runs, rows)
            path.unlink()


def whole_row(run: dict) -> dict:
    return {"call": run["kind"], "hours": run["hours"], "code": run["code"],
            "int16 audio (GB)": audio_gb(run["kind"], run["hours"]), "peak RSS (GB)": run.get("run_peak_gb"),
            "wall s": run.get("run_wall_s"), "CPU s": run.get("run_cpu_s"), "load (1 min) before/after":
            f"{run.get('load_before')}/{run.get('load_after')}", "status": run.get("status"), "turns": run.get("turns"),
            "spool files left": run.get("spool_left"), "error": (run.get("error") or run.get("call_error") or "")[:80] or None}


def row_of(run: dict) -> dict:
    kind, hours = run["kind"], run["hours"]
    return {"call": kind, "hours": hours, "code": run["code"], "int16 audio (GB)": audio_gb(kind, hours),
            "models loaded (GB)": run.get("loaded_gb"), "decode peak (GB)": run.get("decode_peak_gb"),
            "diarize peak (GB)": run.get("diarize_peak_gb"), "ASR windows peak (GB)": run.get("asr_windows_peak_gb"),
            "redact peak (GB)": run.get("redact_peak_gb"), "process peak (GB)": run.get("process_peak_gb"),
            "diarize CPU s": run.get("diarize_cpu_s"), "speakers": run.get("speakers"),
            "error": run.get("error", "")[:80] or None}


def merge(args) -> None:
    """One table from the runs of several earlier result files (e.g. mono and stereo run side
    by side as two processes); for the same call and code a run without an error wins."""
    by_key: dict[tuple, dict] = {}
    for name in args.merge:
        for run in json.loads((RESULTS / f"{name}.json").read_text())["runs"]:
            key = (run["kind"], run["hours"], run["code"], run.get("step"))
            if key not in by_key or "error" in by_key[key]:
                by_key[key] = {**run, "from": name}
    runs = sorted(by_key.values(), key=lambda r: (list(SOURCES).index(r["kind"]), r["hours"], r["code"] != "this branch"))
    save(args, runs, [row_of(r) for r in runs if not r.get("step")])


def save(args, runs: list[dict], rows: list[dict]) -> None:
    notes = ("What was measured: in one fresh process per call, after the diarizer's models are loaded and "
             "warmed, default config (speaker count estimated): the decode stage; the diarize stage with no ASR "
             "words; the ASR input windows (each window the transcribe stage hands faster-whisper, read as it "
             "reads them, no model); the redact stage's redacted copy of the recording (one word silenced per "
             "minute). Each step's own peak RSS (VmHWM reset between steps); 'process peak' is the largest. "
             "Audio: the shared 60 s synthetic call tiled to length, 16-bit WAV. 'int16 audio' is the call's "
             "own size at 16 kHz, the one thing allowed to grow with length. Stereo: with no ASR words the "
             "diarize stage runs the mono diarizer on the channels' mix (an upper bound: in a real run stereo "
             "speakers come from the channels' words). The baseline is the code named by --baseline, run on the "
             "same files in the same run. The decode step uses the default config as `wocas run` builds it: code "
             "with spooling keeps a call over `[run] spool_audio_minutes` (30) in a temporary file read in windows "
             "('spooled'), so its int16 audio is on disk, not in RSS.")
    whole = [r for r in runs if r.get("step")]
    stages = [r for r in runs if not r.get("step")]
    path = write_results(args.name, {"runs": runs, "summary": summary(stages), "load_average": os.getloadavg(),
                                     "args": {k: str(v) for k, v in vars(args).items()}}, rows,
                         "Peak memory of long calls: decode, diarize, ASR windows, redact", notes)
    with path.open("a") as f:
        if stages:
            f.write("\n" + summary_markdown(summary(stages)) + "\n")
        if whole:
            f.write("\n" + whole_markdown(whole) + "\n")


def whole_markdown(runs: list[dict]) -> str:
    rows = [whole_row(r) for r in runs]
    cols = list(rows[0])
    lines = ["## A whole `wocas run` (default pipeline, tiny.en ASR), one mono call", "",
             "Peak RSS of the run process (`ru_maxrss`), wall and CPU time. Memory is the stable figure; "
             "the machine is shared, so wall time moves with its load (1-minute load average shown).", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in rows:
        lines.append("| " + " | ".join("" if row.get(c) is None else str(row.get(c)) for c in cols) + " |")
    return "\n".join(lines)


def summary(runs: list[dict]) -> list[dict]:
    """Per call: this branch's peak against the baseline's, and its growth over the next
    shorter call against the growth of the int16 audio itself."""
    peaks = {(r["kind"], r["hours"], r["code"]): r.get("process_peak_gb") for r in runs}
    out = []
    for kind in dict.fromkeys(r["kind"] for r in runs):
        hours = sorted({r["hours"] for r in runs if r["kind"] == kind})
        for k, h in enumerate(hours):
            ours, base = peaks.get((kind, h, "this branch")), peaks.get((kind, h, "baseline"))
            row = {"call": kind, "hours": h, "this branch (GB)": ours, "baseline (GB)": base,
                   "this / baseline": round(ours / base, 3) if ours and base else None}
            if k and ours and peaks.get((kind, hours[k - 1], "this branch")):
                row["growth from the shorter call (GB)"] = round(ours - peaks[(kind, hours[k - 1], "this branch")], 3)
                row["int16 audio growth (GB)"] = round(audio_gb(kind, h) - audio_gb(kind, hours[k - 1]), 3)
            out.append(row)
    return out


def summary_markdown(rows: list[dict]) -> str:
    cols = ["call", "hours", "this branch (GB)", "baseline (GB)", "this / baseline",
            "growth from the shorter call (GB)", "int16 audio growth (GB)"]
    lines = ["## Process peak: this branch against the baseline", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in rows:
        lines.append("| " + " | ".join("" if row.get(c) is None else str(row.get(c)) for c in cols) + " |")
    return "\n".join(lines)

if __name__ == "__main__":
    main()
