"""ASR word error rate per set, through the pipeline, for whatever ASR model the config names.

A set is a folder under --data holding audio with reference text, found by layout (see
benchmarks/README.md): ``metadata.csv`` (``id|text``, LJ Speech), ``transcripts.tsv`` (``file``,
``reference_text``, optional ``channel`` left/right), ``labels.csv`` with ``file`` and
``statement_text`` (RAVDESS), ``<audio stem>.stm``, or a ``<audio stem>.txt`` beside each audio
file. WER: Whisper's English normaliser, then jiwer over the set (benchmarks/metrics.py).

    .venv/bin/python -m benchmarks.asr [--data ../shared/data] [--config my.toml] [--sets ljspeech,ravdess]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

from benchmarks.common import DEFAULT_DATA, load_bench_config, models_used, write_results

AUDIO = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a")
Item = tuple[Path, dict[str | None, str]]  # (audio file, {speaker or None: reference text})


def _audio_by_name(folder: Path) -> dict[str, Path]:
    """file name and stem -> audio file, for every audio file under ``folder``."""
    out: dict[str, Path] = {}
    for p in sorted(folder.rglob("*")):
        if p.suffix.lower() in AUDIO:
            out.setdefault(p.name, p)
            out.setdefault(p.stem, p)
    return out


def _name(folder: Path, data: Path) -> str:
    return str(folder.relative_to(data)) if folder != data else folder.name


def load_sets(data: Path) -> dict[str, list[Item]]:
    """set (folder relative to ``data``) -> [(audio file, {speaker or None: reference text})].
    References that name audio which is not there are skipped, so any subset of a set scores."""
    sets: dict[str, list[Item]] = {}
    for meta in sorted(data.rglob("metadata.csv")):  # LJ Speech: id|text
        audio = _audio_by_name(meta.parent)
        items = [(audio[stem], {None: text}) for stem, text in
                 (line.split("|", 1) for line in meta.read_text().splitlines() if "|" in line) if stem in audio]
        if items:
            sets[_name(meta.parent, data)] = items
    for tsv in sorted(data.rglob("transcripts.tsv")):  # file, reference_text, channel
        audio = _audio_by_name(tsv.parent)
        refs: dict[Path, dict[str | None, str]] = {}
        with open(tsv, encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                if row.get("file") in audio and row.get("reference_text"):
                    channel = {"left": "ch0", "right": "ch1"}.get((row.get("channel") or "").strip())
                    refs.setdefault(audio[row["file"]], {})[channel] = row["reference_text"]
        if refs:
            sets[_name(tsv.parent, data)] = sorted(refs.items())
    for labels in sorted(data.rglob("labels.csv")):  # RAVDESS: file, statement_text
        audio = _audio_by_name(labels.parent)
        with open(labels, encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        items = [(audio[r["file"]], {None: r["statement_text"]}) for r in rows
                 if r.get("statement_text") and r.get("file") in audio]
        if items:
            sets[_name(labels.parent, data)] = items
    for stm in sorted(data.rglob("*.stm")):  # NIST STM: every speaker's lines joined
        audio = _audio_by_name(stm.parent)
        if stm.stem in audio:
            lines = [line.split(maxsplit=5) for line in stm.read_text().splitlines()
                     if line.strip() and not line.startswith(";;")]
            sets.setdefault(_name(stm.parent, data), []).append(
                (audio[stm.stem], {None: " ".join(parts[5] for parts in lines if len(parts) > 5)}))
    sidecars: dict[str, list[Item]] = {}
    for txt in sorted(data.rglob("*.txt")):  # <audio stem>.txt beside the audio
        match = [txt.with_suffix(ext) for ext in AUDIO if txt.with_suffix(ext).exists()]
        if match:
            sidecars.setdefault(_name(txt.parent, data), []).append((match[0], {None: txt.read_text().strip()}))
    for name, items in sidecars.items():
        sets.setdefault(name, []).extend(items)
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--config", type=Path, help="wocas TOML config (the ASR model to score)")
    parser.add_argument("--sets", default="", help="comma-separated parts of set names to keep (default: all)")
    parser.add_argument("--max-files", type=int, help="score only the first N files of each set")
    args = parser.parse_args()

    from benchmarks.metrics import wer
    from wocas.io.ingest import iter_calls
    from wocas.pipeline import Pipeline

    config = load_bench_config(args.config, {k: {"enabled": False} for k in ("emotion", "jobs", "signals", "redact")})
    models = models_used(config, (("asr", "model"),))
    wanted = [s for s in args.sets.split(",") if s]
    sets = {name: items[:args.max_files] if args.max_files else items for name, items in load_sets(args.data).items()
            if not wanted or any(w in name for w in wanted)}
    if not sets:
        reason = f"no audio with reference text under {args.data}" + (f" matching {args.sets}" if wanted else "")
        write_results("asr", {"skipped": reason, "models": models}, [], "ASR word error rate: skipped")
        print("skipped:", reason)
        return
    pipeline = Pipeline.from_config(config)
    results, rows = {}, []
    for name, items in sets.items():
        started = time.perf_counter()
        pairs, audio = [], 0.0
        for i in range(0, len(items), 8):
            chunk = items[i:i + 8]
            calls = pipeline.process(list(iter_calls([str(p) for p, _ in chunk])))
            for call, (_, refs) in zip(calls, chunk):
                if not call.ok:  # a file that fails is named and left out, never stops the set
                    print(f"failed: {call.error}")
                    continue
                audio += call.duration
                for speaker, ref in refs.items():
                    hyp = " ".join(t.text for t in call.turns if speaker is None or t.speaker == speaker)
                    pairs.append((ref, hyp))
        seconds = time.perf_counter() - started
        results[name] = {"wer": wer(pairs), "files": len(items), "audio_s": audio, "seconds": seconds,
                         "x_realtime": audio / seconds if seconds else None}
        rows.append({"set": name, "files": len(items), "audio (s)": audio, "WER": results[name]["wer"],
                     "x real time": audio / seconds if seconds else None})
    write_results("asr", {"models": models, "model": config.asr.model, "compute_type": config.asr.compute_type,
                          "beam_size": config.asr.beam_size, "sets": results}, rows,
                  f"ASR word error rate ({config.asr.model})",
                  "WER: Whisper's English normaliser (whisper-normalizer), then jiwer over each set, as the Open ASR "
                  "leaderboard scores. STM references join every speaker's lines; stereo references are per channel.")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
