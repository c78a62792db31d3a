"""ASR word error rate per set, through the pipeline, for whatever ASR model the config names.

Sets (all real speech with reference text in ../shared/data):
- ljspeech: 21 read-speech utterances (LJ Speech, numbers spelled out in the references)
- jfk: the 1961 inaugural excerpt
- stereo_channels: one LibriSpeech utterance per channel of a stereo file (per-channel ASR)
- ravdess: the acted RAVDESS statements (emotional speech, 2 sentences, 240 clips)
- pyannote_sample: the two-party phone conversation (reference: the STM transcript)

    .venv/bin/python -m benchmarks.asr [--data ../shared/data] [--config my.toml] [--sets ljspeech,jfk]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

from benchmarks.common import DEFAULT_DATA, write_results

SETS = ("ljspeech", "jfk", "stereo_channels", "ravdess", "pyannote_sample")


def load_sets(data: Path) -> dict[str, list[tuple[Path, dict[str | None, str]]]]:
    """set -> [(audio file, {speaker or None: reference text})]."""
    meta = dict(line.split("|", 1) for line in (data / "asr/ljspeech_coqui/metadata.csv").read_text().splitlines())
    sets: dict[str, list] = {"ljspeech": [(p, {None: meta[p.stem]})
                                          for p in sorted((data / "asr/ljspeech_coqui").glob("*.flac"))]}
    with open(data / "asr/faster_whisper/transcripts.tsv") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    jfk = next(r for r in rows if r["file"] == "jfk.flac")
    sets["jfk"] = [(data / "asr/faster_whisper/jfk.flac", {None: jfk["reference_text"]})]
    stereo = {("ch0" if r["channel"] == "left" else "ch1"): r["reference_text"]
              for r in rows if r["file"] == "stereo_diarization.wav"}
    sets["stereo_channels"] = [(data / "asr/faster_whisper/stereo_diarization.wav", stereo)]
    with open(data / "emotion/ravdess_subset/labels.csv") as f:
        rav = list(csv.DictReader(f))
    folder = data / "emotion/ravdess_subset"
    sets["ravdess"] = []
    for r in rav:
        matches = list(folder.rglob(r.get("file") or r.get("path") or r.get("filename")))
        if matches:
            sets["ravdess"].append((matches[0], {None: r["statement_text"]}))
    stm = [line.split(maxsplit=5) for line in (data / "diarization/pyannote_sample/sample.stm").read_text().splitlines()
           if line.strip() and not line.startswith(";;")]
    sets["pyannote_sample"] = [(data / "diarization/pyannote_sample/sample.wav",
                                {None: " ".join(parts[5] for parts in stm if len(parts) > 5)})]
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--config", type=Path, help="wocas TOML config (the ASR model to score)")
    parser.add_argument("--sets", default=",".join(SETS))
    args = parser.parse_args()

    from wocas.config import load_config
    from wocas.io.ingest import iter_calls
    from wocas.pipeline import Pipeline
    from wocas.text.normalize import wer

    config = load_config(args.config, {k: {"enabled": False} for k in ("emotion", "jobs", "signals", "redact")})
    pipeline = Pipeline.from_config(config)
    chosen = [s for s in args.sets.split(",") if s]
    sets = load_sets(args.data)
    results, rows = {}, []
    for name in chosen:
        items = sets[name]
        started = time.perf_counter()
        pairs, audio = [], 0.0
        for i in range(0, len(items), 8):
            chunk = items[i:i + 8]
            calls = pipeline.process(list(iter_calls([str(p) for p, _ in chunk])))
            for call, (_, refs) in zip(calls, chunk):
                assert call.ok, call.error
                audio += call.duration
                for speaker, ref in refs.items():
                    hyp = " ".join(t.text for t in call.turns if speaker is None or t.speaker == speaker)
                    pairs.append((ref, hyp))
        seconds = time.perf_counter() - started
        results[name] = {"wer": wer(pairs), "files": len(items), "audio_s": audio, "seconds": seconds}
        rows.append({"set": name, "files": len(items), "audio (s)": audio, "WER": results[name]["wer"],
                     "x real time": audio / seconds if seconds else None})
    write_results("asr", {"model": config.asr.model, "compute_type": config.asr.compute_type,
                          "beam_size": config.asr.beam_size, "sets": results}, rows,
                  f"ASR word error rate ({config.asr.model})",
                  "WER after normalisation (lowercase, no punctuation, numbers as words). pyannote_sample is scored "
                  "against its STM transcript (provenance not stated), both speakers joined.")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
