"""The spine against bare faster-whisper and a WhisperX-style sequential pipeline: same models,
same files, same run.

Arms: bare = faster-whisper alone; sequential = the WOCAS models and settings run the way
WhisperX organises work (every file through ASR first, results held, the ASR model unloaded,
then every file aligned, then every file through the diarizer, then words given speakers by
overlap); spine and full =
the WOCAS pipeline. Each measurement runs in a fresh subprocess (so peak memory is that arm's
alone), and the arms are interleaved over repetitions so that a noisy neighbour hits all alike.
Reports times real time, audio hours per hour, peak RSS, WER, time ratios and whether the
sequential arm gives words the same speakers as the spine.

    .venv/bin/python -m benchmarks.spine [--data ../shared/data] [--reps 2] [--threads 0]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path

from benchmarks.common import DEFAULT_DATA, write_results

MODES = ("bare", "sequential", "spine", "full")
WOCAS = ("spine", "full")
BASELINES = ("bare", "sequential")

WordRow = list  # [start, end, text, speaker or None]: JSON-friendly, crosses the subprocess pipe


def audio_files(data: Path, per_set: int = 25) -> list[Path]:
    """The ASR sets' audio (the first ``per_set`` files of each) and the diarization sets' audio,
    found by layout (benchmarks/README.md)."""
    from benchmarks.asr import load_sets
    from benchmarks.diarization import rttm_pairs

    files = [p for items in load_sets(data).values() for p, _ in items[:per_set]]
    files += [audio for audio, *_ in rttm_pairs(data)][:per_set]
    return sorted(set(files), key=files.index)


def references(data: Path) -> dict[str, str]:
    """stem -> reference text, for the single-speaker references (scored whole-file)."""
    from benchmarks.asr import load_sets

    return {p.stem: refs[None] for items in load_sets(data).values() for p, refs in items if list(refs) == [None]}


# ---- the arms (each runs inside its own subprocess) -------------------------------------------

def run_bare(files: list[str], threads: int, config_path: Path | None = None) -> dict:
    import time

    from faster_whisper import WhisperModel

    from benchmarks.common import load_bench_config
    from wocas.models.registry import resolve

    asr = load_bench_config(config_path).asr  # the same model and decoding settings as the WOCAS arms
    compute_type = "int8" if asr.compute_type == "auto" else asr.compute_type
    started = time.perf_counter()
    model = WhisperModel(str(resolve(asr.model).path), device="cpu", compute_type=compute_type, cpu_threads=threads)
    loaded = time.perf_counter()
    texts: dict[str, str] = {}
    audio_seconds = 0.0
    for f in files:
        segments, info = model.transcribe(f, language=asr.language, beam_size=asr.beam_size, word_timestamps=True,
                                          vad_filter=asr.vad_filter,
                                          condition_on_previous_text=asr.condition_on_previous_text)
        texts[Path(f).stem] = " ".join(s.text.strip() for s in segments)
        audio_seconds += info.duration
    return {"load_s": loaded - started, "process_s": time.perf_counter() - loaded, "audio_s": audio_seconds,
            "texts": texts}


def run_wocas(mode: str, files: list[str], threads: int, config_path: Path | None = None) -> dict:
    import time

    from benchmarks.common import load_bench_config
    from wocas.config import Config
    from wocas.io.ingest import iter_calls
    from wocas.pipeline import Pipeline

    started = time.perf_counter()
    overrides = {"asr": {"cpu_threads": threads}}
    if mode == "spine":
        overrides |= {k: {"enabled": False} for k in ("emotion", "jobs", "signals", "redact", "satisfaction")}
    known = set(Config.model_fields)
    pipeline = Pipeline.from_config(load_bench_config(config_path, {k: v for k, v in overrides.items() if k in known}))
    pipeline.warm_up()  # like the bare baseline, load models before the clock starts
    loaded = time.perf_counter()
    texts: dict[str, str] = {}
    words: dict[str, list[WordRow]] = {}
    audio_seconds = 0.0
    calls = list(iter_calls(files))
    for i in range(0, len(calls), 8):
        for call in pipeline.process(calls[i:i + 8]):
            if not call.ok:
                continue
            texts[call.call_id] = " ".join(t.text for t in call.turns)
            words[call.call_id] = [[w.start, w.end, w.text, w.speaker] for w in call.turn_words()]
            audio_seconds += call.duration
    return {"load_s": loaded - started, "process_s": time.perf_counter() - loaded, "audio_s": audio_seconds,
            "texts": texts, "words": words}


Segment = list  # [start, end, text tokens]: one Whisper segment, before alignment
PREPEND, APPEND = "\"'“¿([{-", "\"'.。,，!！?？:：”)]}、"  # faster-whisper's defaults


def transcribe_segments(model, asr, samples) -> list[Segment]:
    """One channel through faster-whisper with the WOCAS ASR settings but no word timestamps:
    segments with their text tokens, as WhisperX's transcription hands them to alignment."""
    segments, _ = model.transcribe(samples, language=asr.language, beam_size=asr.beam_size, word_timestamps=False,
                                   vad_filter=asr.vad_filter,
                                   condition_on_previous_text=asr.condition_on_previous_text)
    return [[s.start, s.end, list(s.tokens)] for s in segments]


def align_words(aligner, samples, segments: list[Segment], speaker: str | None, language: str | None,
                sample_rate: int = 16000) -> list[WordRow]:
    """The alignment pass: each segment's text forced onto its audio span. WhisperX does this
    with a wav2vec2 CTC model that is not available offline; here Whisper's own cross-attention
    alignment (CTranslate2 ``Whisper.align``, what faster-whisper's word timestamps use) stands
    in: the span is encoded again and the known tokens aligned, a separate pass over the audio."""
    from faster_whisper.audio import pad_or_trim
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import merge_punctuations

    tokenizer = Tokenizer(aligner.hf_tokenizer, aligner.model.is_multilingual, task="transcribe",
                          language=language or "en")
    rows: list[WordRow] = []
    for start, end, tokens in segments:
        text_tokens = [t for t in tokens if t < tokenizer.eot]
        chunk = samples[int(start * sample_rate):int(min(end, start + 30.0) * sample_rate)]
        if not text_tokens or len(chunk) < sample_rate // 50:
            continue
        features = aligner.feature_extractor(chunk)
        num_frames = features.shape[-1] - 1
        encoded = aligner.encode(pad_or_trim(features[:, :num_frames]))
        alignment = aligner.find_alignment(tokenizer, [text_tokens], encoded, num_frames)[0]
        merge_punctuations(alignment, PREPEND, APPEND)  # as faster-whisper's word timestamps do
        for w in alignment:
            if w["word"].strip():
                rows.append([round(start + float(w["start"]), 3), round(start + max(float(w["end"]), float(w["start"])), 3),
                             w["word"].strip(), speaker])
    return rows


def assign_word_speakers(segments, words: list[WordRow]) -> list[WordRow]:
    """whisperx.assign_word_speakers (fill_nearest=False, its default): each word takes the
    speaker with the largest summed overlap, and a word no segment overlaps gets no speaker."""
    out = []
    for start, end, text, _ in words:
        overlap: dict[str, float] = {}
        for s in segments:
            inter = min(s.end, end) - max(s.start, start)
            if inter > 0:
                overlap[s.speaker] = overlap.get(s.speaker, 0.0) + inter
        out.append([start, end, text, max(overlap, key=overlap.get) if overlap else None])
    return out


def run_sequential(files: list[str], threads: int, config_path: Path | None = None) -> dict:
    """WhisperX's stage order over the WOCAS models, each stage a separate pass over every file
    with its own model: transcribe (segments), align (word times), diarize, assign speakers.
    Not WOCAS's pipeline, runner or store."""
    import gc
    import time

    from benchmarks.common import load_bench_config
    from wocas.io.audio import decode
    from wocas.models.registry import resolve
    from wocas.stages.diarize import load_diarizer
    from wocas.stages.transcribe import load_whisper, pick_compute_type, pick_device, speaker_channels

    config = load_bench_config(config_path)
    asr, opts = config.asr, config.audio
    max_duration = opts.max_duration_hours * 3600

    def read(path: str):
        return decode(path, opts.sample_rate, max_duration=max_duration, min_rms_dbfs=opts.min_rms_dbfs)

    def load(what):  # loading a stage's model counts as load, not process
        nonlocal load_s
        t = time.perf_counter()
        model = what()
        load_s += time.perf_counter() - t
        return model

    load_s = 0.0
    started = time.perf_counter()
    device = pick_device(asr.device)
    whisper = (str(resolve(asr.model).path), device, pick_compute_type(asr.compute_type, device), threads)
    model = load(lambda: load_whisper(*whisper))

    segments: dict[str, list[tuple[str | None, list[Segment]]]] = {}
    audio_seconds = 0.0
    for f in files:  # pass 1: decode + transcribe every file (segments only), holding the results
        audio = read(f)
        audio_seconds += audio.duration
        segments[Path(f).stem] = [(speaker, transcribe_segments(model, asr, samples))
                                  for speaker, samples in speaker_channels(audio, ())]
        del audio
    del model  # WhisperX frees each stage's model before loading the next
    load_whisper.cache_clear()
    gc.collect()

    aligner = load(lambda: load_whisper(*whisper))  # the alignment model (wav2vec2 in WhisperX)
    words: dict[str, list[WordRow]] = {}
    for f in files:  # pass 2: align every file's segments (each file read again, as WhisperX does)
        audio = read(f)
        channels = dict(speaker_channels(audio, ()))
        rows = [w for speaker, segs in segments[Path(f).stem]
                for w in align_words(aligner, channels[speaker], segs, speaker, asr.language, audio.sample_rate)]
        words[Path(f).stem] = sorted(rows, key=lambda w: (w[0], w[1]))
        del audio
    del aligner
    load_whisper.cache_clear()
    gc.collect()

    def diarizer_loaded():
        diarizer = load_diarizer(config.diarization)
        if hasattr(diarizer, "warm_up"):
            diarizer.warm_up()
        return diarizer

    diarizer = load(diarizer_loaded)
    for f in files:  # pass 3: diarize every file the channels did not already split; assign speakers
        stem = Path(f).stem
        if words[stem] and all(w[3] is not None for w in words[stem]):
            continue
        audio = read(f)
        words[stem] = assign_word_speakers(diarizer(audio.mono(), audio.sample_rate), words[stem])
    texts = {stem: " ".join(w[2] for w in rows) for stem, rows in words.items()}
    return {"load_s": load_s, "process_s": time.perf_counter() - started - load_s, "audio_s": audio_seconds,
            "texts": texts, "words": words}


def child(mode: str, files: list[str], threads: int, config_path: Path | None = None) -> dict:
    """Runs inside the subprocess: load, process everything, report."""
    import resource

    if mode == "bare":
        result = run_bare(files, threads, config_path)
    elif mode == "sequential":
        result = run_sequential(files, threads, config_path)
    else:
        result = run_wocas(mode, files, threads, config_path)
    return {"mode": mode, **result, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


# ---- comparison ---------------------------------------------------------------------------------

def map_labels(pairs: list[tuple[str | None, str | None]]) -> dict[str, str]:
    """One-to-one map of the other arm's speaker labels onto the reference's, most shared words first."""
    counts = Counter((ref, other) for ref, other in pairs if ref is not None and other is not None)
    mapping: dict[str, str] = {}
    for (ref, other), _ in counts.most_common():
        if other not in mapping and ref not in mapping.values():
            mapping[other] = ref
    return mapping


def speaker_agreement(reference: dict[str, list[WordRow]], other: dict[str, list[WordRow]],
                      tolerance: float = 0.5) -> dict:
    """Words matched across the two arms (same text, start within ``tolerance`` s: the arms time
    words by different passes), and the share of the reference's words that got the same
    speaker once labels are mapped per file."""
    total = matched = same = unassigned = 0
    for call_id, ref_words in reference.items():
        by_text: dict[str, list[WordRow]] = {}
        for w in other.get(call_id, []):
            by_text.setdefault(w[2], []).append(w)
        pairs = []
        for w in ref_words:
            near = [o for o in by_text.get(w[2], []) if abs(o[0] - w[0]) <= tolerance]
            if near:
                o = min(near, key=lambda o: abs(o[0] - w[0]))
                by_text[w[2]].remove(o)
                pairs.append((w[3], o[3]))
        mapping = map_labels(pairs)
        total += len(ref_words)
        matched += len(pairs)
        same += sum(1 for ref, o in pairs if o is not None and mapping.get(o) == ref)
        unassigned += sum(1 for _, o in pairs if o is None)
    share = (lambda n: n / total if total else 0.0)
    return {"words": total, "matched_words_share": share(matched), "same_speaker_share": share(same),
            "no_speaker_share": share(unassigned)}


def summarise(runs: list[dict], refs: dict[str, str]) -> dict:
    from benchmarks.metrics import wer

    process = statistics.median(r["process_s"] for r in runs)
    load = statistics.median(r["load_s"] for r in runs)
    audio = runs[0]["audio_s"]
    scored = [(refs[k], runs[0]["texts"][k]) for k in refs if k in runs[0]["texts"]]
    return {"process_s": process, "load_s": load, "wall_s": load + process, "audio_s": audio,
            "x_realtime": audio / process,
            # named so `wocas bench` puts it in its headline table
            "throughput_audio_hours_per_hour": audio / (load + process),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs), "wer": wer(scored), "wer_files": len(scored)}


def ratios(summary: dict) -> dict:
    """WOCAS arm / baseline for process time, wall time and peak RSS (below 1 = WOCAS better)."""
    return {f"{w}_over_{b}": {"process_time": summary[w]["process_s"] / summary[b]["process_s"],
                              "wall_time": summary[w]["wall_s"] / summary[b]["wall_s"],
                              "peak_rss": summary[w]["peak_rss_mb"] / summary[b]["peak_rss_mb"]}
            for w in WOCAS for b in BASELINES}


def engine_revision() -> str | None:
    """The commit the engine was measured at, "-dirty" when the tree had uncommitted changes."""
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], cwd=Path(__file__).parent,
                              capture_output=True, text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="CTranslate2 threads (0 = default)")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--files", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help="wocas TOML config (every arm uses its [asr], [audio], [diarization])")
    parser.add_argument("--max-files", type=int, default=25, help="files taken from each set (default 25)")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.files, args.threads, args.config)))
        return

    from benchmarks.common import load_bench_config, models_used

    config_args = ["--config", str(args.config.resolve())] if args.config else []
    models = models_used(load_bench_config(args.config), (("asr", "model"), ("diarization", "pyannote_path"),
                                                          ("text_encoder", "model"), ("emotion", "text_model")))
    files = [str(p) for p in audio_files(args.data, args.max_files)]
    if not files:
        write_results("spine", {"skipped": f"no audio found by layout under {args.data}", "models": models}, [],
                      "Speed: skipped")
        print(f"skipped: no audio found by layout under {args.data}")
        return
    refs = references(args.data)
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {m: [] for m in MODES}
    for _ in range(args.reps):
        for mode in MODES:
            out = subprocess.run([sys.executable, "-m", "benchmarks.spine", "--child", mode, "--threads",
                                  str(args.threads), *config_args, "--files", *files],
                                 cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, check=True)
            runs[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
    load_after = os.getloadavg()
    revision = engine_revision()
    summary = {mode: summarise(runs[mode], refs) for mode in MODES}
    agreement = speaker_agreement(runs["spine"][0]["words"], runs["sequential"][0]["words"])
    rows = [{"arm": mode, "audio (s)": s["audio_s"], "load (s)": s["load_s"], "process (s)": s["process_s"],
             "wall (s)": s["wall_s"], "x real time": s["x_realtime"],
             "audio h per h": s["throughput_audio_hours_per_hour"],
             "time vs bare": s["process_s"] / summary["bare"]["process_s"],
             "time vs sequential": s["process_s"] / summary["sequential"]["process_s"],
             "peak RSS (MB)": s["peak_rss_mb"], "WER (single-speaker refs)": s["wer"]}
            for mode, s in summary.items()]
    notes = (
        "bare = faster-whisper with the engine's ASR defaults (tiny.en int8, beam 5, word timestamps, VAD) on "
        "each file. sequential = a re-implementation of WhisperX's stage order, not WhisperX itself (not "
        "installable here: it pins pyannote/ctranslate2 and fetches alignment models from a hub), on the same "
        "models and settings as WOCAS, each stage a separate pass over every file with its own model, the "
        "previous one freed: (1) decode + faster-whisper with VAD (config asr settings, no word timestamps) on "
        "every file, stereo split by channel as WOCAS does, segments held; (2) alignment: WhisperX's wav2vec2 "
        "aligner is not available offline, so a second Whisper instance stands in, forcing each segment's text "
        "onto its audio span by cross-attention alignment (CTranslate2 Whisper.align, what faster-whisper's "
        "word timestamps use; the span is encoded again), each file read again; (3) the embedded diarizer on "
        "every file the channels did not split, each file read again; then words get speakers by summed overlap "
        "as whisperx.assign_word_speakers does (fill_nearest off: a word no segment overlaps gets no speaker, "
        "where WOCAS takes the nearest). WhisperX itself would also downmix stereo to mono and batch the ASR; "
        "here both follow WOCAS (channel split, batch_size 0 on CPU) so the work is the same. "
        "spine = the WOCAS pipeline (decode, ASR per speaker channel with word timestamps in the same pass, "
        "diarization for mono, turns, roles, talk metrics) via Pipeline.process in batches of 8, no runner or "
        "store; full = every default stage. Each arm in its own subprocess, arms interleaved over the "
        "repetitions, medians reported, peak RSS the highest. load = model loading and warm-up (for sequential, "
        "Whisper, the aligner and the diarizer, each loaded when its stage starts); x real time = audio / "
        "process; audio h per h = audio / wall "
        f"(load + process). {len(files)} files. Speakers, sequential vs spine: "
        f"{agreement['matched_words_share']:.1%} of the spine's {agreement['words']} words found with the same "
        f"text within 0.5 s, {agreement['same_speaker_share']:.1%} with the same speaker after mapping labels per "
        f"file, {agreement['no_speaker_share']:.1%} left without a speaker. Load average (1, 5, 15 min) "
        f"{', '.join(f'{x:.2f}' for x in load_before)} before the run, "
        f"{', '.join(f'{x:.2f}' for x in load_after)} after. Engine at {revision}.")
    write_results("spine", {"models": models, "files": files, "reps": args.reps, "engine_revision": revision,
                            "load_average": {"before": list(load_before), "after": list(load_after)},
                            "summary": summary, "ratios": ratios(summary), "speaker_agreement": agreement,
                            "runs": {m: [{k: v for k, v in r.items() if k not in ("texts", "words")} for r in rs]
                                     for m, rs in runs.items()}},
                  rows, "Spine vs bare faster-whisper vs a WhisperX-style sequential pipeline (CPU)", notes)
    print(json.dumps({"summary": summary, "ratios": ratios(summary), "speaker_agreement": agreement}, indent=1))


if __name__ == "__main__":
    main()
