"""The embedded diarizer against reference RTTMs: DER and JER (collar 0 and 0.25, overlap
scored), the speaker count found, and seconds of CPU and wall time per minute of audio.

Files: the pyannote telephone sample and the synthetic 60 s call (2 speakers given, and
estimated), and the 12 AMI debug excerpts (2-4 speakers, count estimated; also scored with
the true count). Unless --no-asr, the two calls also run through the diarize stage with
faster-whisper words, to score the word-boundary snapping.

    .venv/bin/python -m benchmarks.diarization [--data ../shared/data] [--reps 2] [--no-asr]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf

os.environ.setdefault("HF_HUB_OFFLINE", "1")
from benchmarks.common import DEFAULT_DATA, load_bench_config, models_used, write_results
from wocas.schema import SpeakerSegment

COLLARS = (0.0, 0.25)
MODEL_FIELDS = (("asr", "model"), ("diarization", "pyannote_path"))


AUDIO = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a")


def rttm_pairs(data: Path) -> list[tuple[Path, Path, str, int]]:
    """(audio, rttm, uri, reference speaker count) for every RTTM under ``data``: each URI it
    holds is matched to ``<uri>.<audio ext>`` in the RTTM's folder, else the first (sorted)
    ``<uri>_*.<audio ext>`` there. URIs with no audio are left out."""
    from pyannote.database.util import load_rttm

    out = []
    for rttm in sorted(data.rglob("*.rttm")):
        audio = sorted(p for p in rttm.parent.iterdir() if p.suffix.lower() in AUDIO)
        for uri, reference in sorted(load_rttm(rttm).items()):
            match = ([p for p in audio if p.stem == uri] or [p for p in audio if p.stem.startswith(f"{uri}_")])
            if match:
                out.append((match[0], rttm, uri, len(reference.labels())))
    return out


def references(data: Path) -> list[tuple[str, Path, Path, str, int | None]]:
    """(name, audio, rttm, uri, speakers given to the diarizer; None = estimate). Two-speaker
    references (calls) are scored with 2 speakers given and with the count estimated; the
    others (meetings) with the count estimated (and, in main, with the true count)."""
    out = []
    for audio, rttm, uri, n in rttm_pairs(data):
        name = f"{rttm.parent.name}/{uri}"
        if n == 2:
            out += [(name, audio, rttm, uri, 2), (f"{name}/est", audio, rttm, uri, None)]
        else:
            out.append((name, audio, rttm, uri, None))
    return out


def annotation(segments: list[SpeakerSegment], uri: str):
    from pyannote.core import Annotation, Segment

    hyp = Annotation(uri=uri)
    for s in segments:
        hyp[Segment(s.start, s.end)] = s.speaker
    return hyp


def score(reference, segments: list[SpeakerSegment], uri: str, duration: float, metrics: dict) -> dict:
    """Per-file DER/JER at each collar; also accumulates into ``metrics`` (for totals)."""
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate, JaccardErrorRate

    hyp = annotation(segments, uri)
    uem = Timeline([Segment(0, duration)])
    row = {}
    for collar in COLLARS:
        for kind, cls in (("der", DiarizationErrorRate), ("jer", JaccardErrorRate)):
            key = f"{kind}_c{collar:g}"
            metric = metrics.setdefault(key, cls(collar=collar, skip_overlap=False))
            row[key] = float(metric(reference, hyp, uem=uem))
    detail = DiarizationErrorRate(collar=0.25, skip_overlap=False)(reference, hyp, uem=uem, detailed=True)
    total = detail["total"] or 1.0
    row.update(miss_c0_25=detail["missed detection"] / total, false_alarm_c0_25=detail["false alarm"] / total,
               confusion_c0_25=detail["confusion"] / total)
    return row


def timed(diarizer, samples: np.ndarray, sr: int, reps: int):
    best_wall = best_cpu = float("inf")
    segments = []
    for _ in range(reps):
        wall, cpu = time.perf_counter(), time.process_time()
        segments = diarizer(samples, sr)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return segments, best_wall, best_cpu


def with_asr_words(files, config) -> list[dict]:
    """DER of the diarize stage on the 2-speaker calls, with the config's ASR words (snapped) vs without."""
    from wocas.schema import Audio, Call, CallAnalysis
    from wocas.stages.diarize import DiarizeStage
    from wocas.stages.transcribe import TranscribeStage

    asr = TranscribeStage(config.asr)
    rows = []
    for name, audio, rttm, uri, n in files:
        if n is None:
            continue
        from pyannote.database.util import load_rttm

        samples, sr = load(audio)
        call = CallAnalysis(call=Call(call_id=uri, source=str(audio), kind="audio"),
                            audio=Audio(samples=samples[None, :], sample_rate=sr, original_sample_rate=sr))
        call = asr.process_call(call)
        reference = load_rttm(rttm)[uri]
        for snap in (False, True):
            out = DiarizeStage(config.diarization.model_copy(update={"num_speakers": 2}), snap_words=snap).process_call(call)
            row = score(reference, list(out.speaker_segments), uri, len(samples) / sr, {})
            rows.append({"file": f"{name}+words" + (" snapped" if snap else ""), "words": len(out.asr_words),
                         **{k: row[k] for k in ("der_c0", "der_c0.25", "jer_c0", "jer_c0.25", "miss_c0_25",
                                                "false_alarm_c0_25", "confusion_c0_25")}})
    return rows


def load(path: Path) -> tuple[np.ndarray, int]:
    samples, sr = sf.read(path, dtype="float32", always_2d=True)
    return samples.mean(axis=1), sr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--reps", type=int, default=2, help="timing repetitions (the best is kept)")
    parser.add_argument("--no-asr", action="store_true", help="skip the stage run with ASR words")
    parser.add_argument("--config", type=Path, help="wocas TOML config (its [diarization] and [asr] are scored)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING)
    from pyannote.database.util import load_rttm

    from wocas.stages.diarize import load_diarizer

    config = load_bench_config(args.config)

    def diarizer_for(n: int | None):
        return load_diarizer(config.diarization.model_copy(update={"num_speakers": n or 0}))

    files = references(args.data)
    if not files:
        write_results("diarization", {"skipped": f"no RTTM with matching audio under {args.data}",
                                      "models": models_used(config, MODEL_FIELDS)}, [], "Diarization: skipped")
        print(f"skipped: no RTTM with matching audio under {args.data}")
        return
    diarizer_for(None)(load(files[0][1])[0][:32000], 16000)  # load models outside the timing
    rows, groups = [], {}
    for name, audio, rttm, uri, n in files:
        samples, sr = load(audio)
        reference = load_rttm(rttm)[uri]
        two = len(reference.labels()) == 2
        # pooled per set, the estimated count (the default) apart from the true count given
        group = name.split("/")[0] + ("/true-count" if n else "")
        diarizer = diarizer_for(n)
        segments, wall, cpu = timed(diarizer, samples, sr, args.reps)
        minutes = len(samples) / sr / 60
        row = {"file": name, "speakers": f"{len({s.speaker for s in segments})}/{len(reference.labels())}",
               **score(reference, segments, uri, len(samples) / sr, groups.setdefault(group, {})),
               "cpu_s_per_min": cpu / minutes, "wall_s_per_min": wall / minutes}
        if not two:  # the same excerpt with the true speaker count, for comparison
            oracle = diarizer_for(len(reference.labels()) or None)
            row["der_c0.25_true_count"] = score(reference, oracle(samples, sr), uri, len(samples) / sr,
                                                groups.setdefault(f"{group}/true-count", {}))["der_c0.25"]
        rows.append(row)
        print(f"{name:14s} " + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                                         for k, v in row.items() if k != "file"), flush=True)
    totals = [{"file": f"TOTAL {group}", **{k: abs(m) for k, m in metrics.items()}}
              for group, metrics in groups.items()]
    cpu = [r["cpu_s_per_min"] for r in rows]
    wall = [r["wall_s_per_min"] for r in rows]
    asr_rows = [] if args.no_asr else with_asr_words(files, config)
    for r in asr_rows:
        print(r, flush=True)
    data = {"options": config.diarization.model_dump(), "models": models_used(config, MODEL_FIELDS), "files": rows, "totals": totals, "stage_with_asr_words": asr_rows,
            "cpu_s_per_audio_min_mean": float(np.mean(cpu)), "wall_s_per_audio_min_mean": float(np.mean(wall)),
            "load_average_at_end": os.getloadavg()}
    table = [{"file": r["file"], "speakers": r.get("speakers"), "DER c0": r.get("der_c0"),
              "DER c0.25": r.get("der_c0.25"), "JER c0": r.get("jer_c0"), "JER c0.25": r.get("jer_c0.25"),
              "miss": r.get("miss_c0_25"), "FA": r.get("false_alarm_c0_25"), "conf": r.get("confusion_c0_25"),
              "DER c0.25 (true n)": r.get("der_c0.25_true_count"),
              "CPU s/min": r.get("cpu_s_per_min"), "wall s/min": r.get("wall_s_per_min")}
             for r in rows + totals + asr_rows]
    notes = ("DER/JER from pyannote.metrics (skip_overlap=False, UEM = whole file); TOTAL rows pool all files "
             "of a set with the speaker count estimated (the default: AHC on segment means, 2-8 speakers); "
             "'/true-count' rows pool the same files with the true count given (two-speaker files are listed "
             "both ways: the plain row has 2 speakers given, '/est' the count estimated). "
             "'+words' rows run the diarize stage on faster-whisper tiny.en words; 'snapped' also moves "
             "boundaries to word edges (DiarizeStage(snap_words=True), off by default). "
             "Times: best of --reps runs, one process, models already loaded; the machine is shared "
             f"(load average at the end {os.getloadavg()[0]:.1f}), so CPU seconds are the steadier figure. "
             f"Mean: {np.mean(cpu):.2f} CPU s / {np.mean(wall):.2f} wall s per audio minute.")
    path = write_results("diarization", data, table, "Embedded diarizer: DER / JER and speed", notes)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
