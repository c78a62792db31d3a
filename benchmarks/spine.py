"""The spine against bare faster-whisper: same model, same files, same run.

Each measurement runs in a fresh subprocess (so peak memory is that mode's alone), and the
modes are interleaved over repetitions so that a noisy neighbour hits both alike. Reports
times real time, the ratio spine / bare, peak RSS and WER of both on the references.

    .venv/bin/python benchmarks/spine.py [--data ../shared/data] [--reps 2] [--threads 0]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import DEFAULT_DATA, write_results  # noqa: E402

MODES = ("bare", "spine", "full")


def audio_files(data: Path) -> list[Path]:
    return (sorted((data / "asr/ljspeech_coqui").glob("*.flac"))
            + [data / "asr/faster_whisper/jfk.flac", data / "asr/faster_whisper/stereo_diarization.wav",
               data / "calls_synthetic/dialogue_60s_mono16k.flac", data / "calls_synthetic/dialogue_60s_stereo16k.flac",
               data / "diarization/pyannote_sample/sample.wav"])


def references(data: Path) -> dict[str, str]:
    refs = {}
    for line in (data / "asr/ljspeech_coqui/metadata.csv").read_text().splitlines():
        utt, text = line.split("|", 1)
        refs[utt] = text
    with open(data / "asr/faster_whisper/transcripts.tsv") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["file"] == "jfk.flac":
                refs["jfk"] = row["reference_text"]
    return refs


def child(mode: str, files: list[str], threads: int) -> dict:
    """Runs inside the subprocess: load, transcribe everything, report."""
    import resource
    import time

    started = time.perf_counter()
    texts: dict[str, str] = {}
    audio_seconds = 0.0
    if mode == "bare":
        from faster_whisper import WhisperModel

        from engine.registry import resolve

        model = WhisperModel(str(resolve("tiny.en").path), device="cpu", compute_type="int8", cpu_threads=threads)
        loaded = time.perf_counter()
        for f in files:
            segments, info = model.transcribe(f, language="en", beam_size=5, word_timestamps=True, vad_filter=True)
            texts[Path(f).stem] = " ".join(s.text.strip() for s in segments)
            audio_seconds += info.duration
    else:
        from engine.config import Config
        from engine.ingest import iter_calls
        from engine.pipeline import Pipeline

        overrides = {"asr": {"cpu_threads": threads}}
        if mode == "spine":
            overrides |= {k: {"enabled": False} for k in ("emotion", "jobs", "signals", "redact", "satisfaction")}
        known = set(Config.model_fields)
        pipeline = Pipeline.from_config(Config.model_validate({k: v for k, v in overrides.items() if k in known}))
        pipeline.warm_up()  # like the bare baseline, load models before the clock starts
        loaded = time.perf_counter()
        calls = list(iter_calls(files))
        for i in range(0, len(calls), 8):
            for call in pipeline.process(calls[i:i + 8]):
                assert call.ok, call.error
                texts[call.call_id] = " ".join(t.text for t in call.turns)
                audio_seconds += call.duration
    done = time.perf_counter()
    return {"mode": mode, "load_s": loaded - started, "process_s": done - loaded, "audio_s": audio_seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "texts": texts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="CTranslate2 threads (0 = default)")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--files", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.files, args.threads)))
        return

    from engine.textnorm import wer

    files = [str(p) for p in audio_files(args.data)]
    refs = references(args.data)
    runs: dict[str, list[dict]] = {m: [] for m in MODES}
    for _ in range(args.reps):
        for mode in MODES:
            out = subprocess.run([sys.executable, __file__, "--child", mode, "--threads", str(args.threads),
                                  "--files", *files], capture_output=True, text=True, check=True)
            runs[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
    rows, summary = [], {}
    for mode in MODES:
        process = statistics.median(r["process_s"] for r in runs[mode])
        audio = runs[mode][0]["audio_s"]
        texts = runs[mode][0]["texts"]
        scored = [(refs[k], texts[k]) for k in refs if k in texts]
        summary[mode] = {"process_s": process, "load_s": statistics.median(r["load_s"] for r in runs[mode]),
                         "audio_s": audio, "x_realtime": audio / process,
                         "peak_rss_mb": max(r["peak_rss_mb"] for r in runs[mode]), "wer": wer(scored),
                         "wer_files": len(scored)}
    for mode in MODES:
        s = summary[mode]
        rows.append({"mode": mode, "audio (s)": s["audio_s"], "process (s)": s["process_s"],
                     "load (s)": s["load_s"], "x real time": s["x_realtime"],
                     "time vs bare": s["process_s"] / summary["bare"]["process_s"],
                     "peak RSS (MB)": s["peak_rss_mb"], "WER (LJ+JFK)": s["wer"]})
    notes = ("bare = faster-whisper tiny.en int8 (beam 5, word timestamps, VAD) on each file; spine = decode, "
             "ASR per speaker channel, diarization (embedded, mono files), turns, roles, talk metrics; full = "
             "every default stage. Median of the repetitions; models loaded once per process (load time apart). "
             f"{len(files)} files.")
    write_results("spine", {"files": files, "reps": args.reps, "summary": summary,
                            "runs": {m: [{k: v for k, v in r.items() if k != 'texts'} for r in rs] for m, rs in runs.items()}},
                  rows, "Spine vs bare faster-whisper (CPU)", notes)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
