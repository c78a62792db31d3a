"""CTranslate2 threads per process: how fast the ASR stage is with 1, 2 or the library's own count.

    python -m benchmarks.asr_threads [--repeats 2] [--profiles fast,accurate]

Each setting runs in a fresh process (thread pools are fixed when a library first starts them),
interleaved with the others, on two inputs from ../shared/data: the 21 LJ Speech clips (WER, to show
the words do not change) and one 10.5-minute recording made of those clips four times over with
0.8 s pauses (a long call: the ASR stage's seconds). The rest of the process keeps the machine's
default thread budget; only ``[asr] cpu_threads`` changes (0 = CTranslate2's own default).
Results: benchmarks/results/asr_threads.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THREADS = (1, 2, 0)


def measure_one(profile: str, threads: int, long_call: Path, data: Path) -> dict:
    """In this process: WER on LJ Speech and the ASR stage's seconds on the long call."""
    from benchmarks.asr import load_sets
    from benchmarks.common import load_bench_config
    from benchmarks.metrics import wer
    from wocas.io.ingest import iter_calls
    from wocas.pipeline import Pipeline

    overrides = {k: {"enabled": False} for k in ("emotion", "jobs", "signals", "redact")}
    overrides["asr"] = {"cpu_threads": threads, "profile": profile}
    pipeline = Pipeline.from_config(load_bench_config(None, overrides))
    items = next(v for k, v in load_sets(data).items() if "ljspeech" in k)
    pairs = []
    for i in range(0, len(items), 8):
        chunk = items[i:i + 8]
        for call, (_, refs) in zip(pipeline.process(list(iter_calls([str(p) for p, _ in chunk]))), chunk):
            pairs += [(ref, " ".join(t.text for t in call.turns)) for ref in refs.values()]
    started = time.perf_counter()
    call = pipeline.process(list(iter_calls([str(long_call)])))[0]
    return {"wer_lj": round(wer(pairs), 4), "long_call_s": round(call.duration, 1),
            "transcribe_s": round(call.timings["transcribe"], 2), "call_s": round(time.perf_counter() - started, 2)}


def build_long_call(data: Path, out: Path) -> Path:
    import numpy as np
    import soundfile as sf

    parts = []
    for clip in sorted((data / "asr" / "ljspeech_coqui").glob("*.flac")):
        audio, rate = sf.read(clip, dtype="float32")
        parts += [audio, np.zeros(int(rate * 0.8), dtype="float32")]
    sf.write(out, np.concatenate(parts * 4), rate)
    return out


def main() -> None:
    from benchmarks.common import DEFAULT_DATA, write_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--profiles", default="fast,accurate")
    parser.add_argument("--one", nargs=3, metavar=("PROFILE", "THREADS", "LONG_CALL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # the child process
        print(json.dumps(measure_one(args.one[0], int(args.one[1]), Path(args.one[2]), args.data)))
        return
    runs: dict[tuple[str, int], list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        long_call = build_long_call(args.data, Path(tmp) / "lj_x4.wav")
        for _ in range(args.repeats):
            for profile in args.profiles.split(","):
                for threads in THREADS:
                    out = subprocess.run([sys.executable, "-m", "benchmarks.asr_threads", "--data", str(args.data),
                                          "--one", profile, str(threads), str(long_call)],
                                         cwd=ROOT, capture_output=True, text=True, check=True)
                    runs.setdefault((profile, threads), []).append(json.loads(out.stdout.strip().splitlines()[-1]))
                    print(profile, threads, runs[(profile, threads)][-1], flush=True)
    rows = []
    for (profile, threads), got in runs.items():
        one = statistics.median(r["transcribe_s"] for r in runs[(profile, 1)])
        seconds = statistics.median(r["transcribe_s"] for r in got)
        rows.append({"profile": profile, "cpu_threads": threads or "0 (CTranslate2 default)",
                     "WER LJ": got[0]["wer_lj"], "WER same in every repeat": len({r["wer_lj"] for r in got}) == 1,
                     "transcribe s, 10.5-min call (median)": seconds, "vs 1 thread": round(seconds / one, 2)})
    write_results("asr_threads", {"repeats": args.repeats,
                                  "runs": {f"{p}/{t}": got for (p, t), got in runs.items()}}, rows,
                  "ASR stage: CTranslate2 threads per process",
                  f"Fresh process per setting, {args.repeats} interleaved repeats; the long call is the 21 LJ Speech "
                  "clips four times over with 0.8 s pauses. `vs 1 thread`: ASR seconds against one thread, same run.")


if __name__ == "__main__":
    main()
