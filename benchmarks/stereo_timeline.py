"""Stereo speaker timelines: the old one (from the recogniser's words) against the new one
(each channel's own speech detection, leak-filtered), on the same files in one run.

Data:
- built calls: two voices from the shared speech (LJ Speech, RAVDESS actors 01-04, the
  pyAudioAnalysis clips) placed one per channel with pauses and some overlap, at different
  levels, in four conditions: clean 16 kHz; crosstalk (each voice leaks into the other
  channel 15-30 dB lower, 0-8 ms late); echo (a 20-60 ms late, decaying copy 15-25 dB lower);
  8 kHz G.711 mu-law with crosstalk and line noise. Labels come by construction and are
  written (RTTM + JSON) by ``build`` before any model runs: each clip's stretch of sound (10 ms
  frames within 35 dB of the clip's loudest, pauses under 0.5 s bridged). Voice pairs of
  RAVDESS 04 and pyAudioAnalysis are the held-out third; the rest are the tune split the
  thresholds were chosen on.
- calls_synthetic/dialogue_60s_stereo16k.flac (espeak-ng, its RTTM; not tuned on) and the
  project's samples/billing-stereo-8k.flac (turn extents in samples/truth.json).
- asr/faster_whisper/stereo_diarization.wav has no reference timeline: reported as speech
  seconds per channel only.

    .venv/bin/python -m benchmarks.stereo_timeline [--data ../shared/data] [--work /tmp/wocas_stereo] [--tune]

``--tune`` grid-searches the timeline's thresholds on the tune split only and prints them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from benchmarks.common import DEFAULT_DATA, ROOT, load_bench_config, write_results
from wocas.diarizers.channels import ChannelTimelineOptions, channel_timeline, channel_vad, frame_db, runs
from wocas.schema import SpeakerSegment

SR = 16000
COLLARS = (0.0, 0.25)
CONDITIONS = ("clean", "crosstalk", "echo", "ulaw8k")
LABEL_FLOOR_DB = 35.0  # a clip's sound: frames within this of its loudest
LABEL_BRIDGE = 0.5  # pauses shorter than this inside one clip are speech in the labels
HELD_OUT_VOICES = {"ravdess04", "pyaa"}


def voices(data: Path) -> dict[str, list[Path]]:
    rav = sorted((data / "emotion/ravdess_subset").glob("*.wav"))
    return {
        "lj": sorted((data / "asr/ljspeech_coqui").glob("*.flac")),
        **{f"ravdess{a:02d}": [p for p in rav if p.stem.endswith(f"-{a:02d}")] for a in (1, 2, 3, 4)},
        "pyaa": sorted((data / "emotion/pyaudioanalysis_speechEmotion").glob("*.wav")),
    }


def read16k(path: Path) -> np.ndarray:
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    return soxr.resample(x, sr, SR).astype(np.float32) if sr != SR else x


def sound_spans(clip: np.ndarray) -> list[tuple[float, float]]:
    """The label of one clean clip: its stretches of sound, in seconds from the clip start."""
    db = frame_db(clip[None, :], SR, smooth=0.01)[0]
    mask = db > db.max() - LABEL_FLOOR_DB
    spans = [(a * 0.01, b * 0.01) for a, b in runs(mask)]
    merged: list[list[float]] = []
    for a, b in spans:
        if merged and a - merged[-1][1] < LABEL_BRIDGE:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged if b - a >= 0.05]


def leak(x: np.ndarray, gain_db: float, delay_s: float, rng, echo: bool) -> np.ndarray:
    """``x`` as heard in the other channel: delayed, coloured, ``gain_db`` lower."""
    from scipy.signal import lfilter

    d = int(delay_s * SR)
    y = np.concatenate([np.zeros(d, np.float32), x[: len(x) - d]]) if d else x.copy()
    if echo:  # a decaying tail, as a line echo would have
        tail = int(0.05 * SR)
        ir = rng.standard_normal(tail) * np.exp(-np.arange(tail) / (0.012 * SR))
        ir[0] = 1.0
        y = np.convolve(y, ir / np.sqrt(np.sum(ir ** 2)))[: len(x)]
    y = lfilter([0.3], [1, -0.7], y)  # a gentle low-pass: the leak path loses highs
    y = y * np.sqrt(np.mean(x ** 2) / max(np.mean(y ** 2), 1e-12))
    return (y * 10 ** (gain_db / 20)).astype(np.float32)


def build_call(name: str, pair: tuple[str, str], pool: dict[str, list[Path]], seed: int,
               length: float = 40.0) -> tuple[np.ndarray, list[SpeakerSegment]]:
    """(clean (2, n) stereo, labels) of one call: the two voices take turns on their channels."""
    rng = np.random.default_rng(seed)
    n = int(length * SR)
    out = np.zeros((2, n + 10 * SR), np.float32)
    levels = rng.uniform(-26, -16, size=2)  # each party's speech level, dBFS rms
    labels: list[SpeakerSegment] = []
    t, ch = 0.3 + rng.uniform(0, 0.5), 0
    while True:
        clip = read16k(pool[pair[ch]][int(rng.integers(len(pool[pair[ch]])))])
        spans = sound_spans(clip)
        if not spans:
            continue
        first, last = spans[0][0], spans[-1][1]
        clip = clip[int(first * SR):int(last * SR)]
        spans = [(a - first, b - first) for a, b in spans]
        start = int(t * SR)
        if start + len(clip) > n:
            break
        active = np.concatenate([clip[int(a * SR):int(b * SR)] for a, b in spans])
        gain = 10 ** (levels[ch] / 20) / max(float(np.sqrt(np.mean(active ** 2))), 1e-9)
        out[ch, start:start + len(clip)] += clip * gain
        labels += [SpeakerSegment(speaker=("A", "B")[ch], start=round(t + a, 3), end=round(t + b, 3)) for a, b in spans]
        gap = rng.uniform(-0.8, 0.0) if rng.random() < 0.2 else rng.uniform(0.2, 1.5)  # a fifth overlap
        t = t + len(clip) / SR + gap
        ch = 1 - ch
    return np.clip(out[:, :n], -1, 1), sorted(labels, key=lambda s: s.start)


def condition(clean: np.ndarray, kind: str, seed: int) -> tuple[np.ndarray, int]:
    """(samples, sample rate) of ``clean`` under one line condition."""
    rng = np.random.default_rng(seed)
    x = clean.copy()
    if kind in ("crosstalk", "echo", "ulaw8k"):
        echo = kind == "echo"
        gains = rng.uniform(-25, -15, 2) if echo else rng.uniform(-30, -15, 2)
        delays = rng.uniform(0.02, 0.06, 2) if echo else rng.uniform(0, 0.008, 2)
        x = x + np.stack([leak(clean[1], gains[0], delays[0], rng, echo),
                          leak(clean[0], gains[1], delays[1], rng, echo)])
    if kind == "ulaw8k":
        x = x + rng.standard_normal(x.shape).astype(np.float32) * 10 ** (rng.uniform(-55, -45) / 20)
        return np.clip(soxr.resample(x.T, SR, 8000).T, -1, 1).astype(np.float32), 8000
    return np.clip(x, -1, 1).astype(np.float32), SR


def build(data: Path, work: Path) -> list[dict]:
    """Write every built call and its labels; return the file list (also in ``work/calls.json``)."""
    pool = voices(data)
    tune_pairs = list(itertools.combinations(["lj", "ravdess01", "ravdess02", "ravdess03"], 2))
    held_pairs = [("ravdess04", "lj"), ("pyaa", "ravdess01"), ("ravdess04", "pyaa")]
    work.mkdir(parents=True, exist_ok=True)
    files = []
    for i, pair in enumerate(tune_pairs + held_pairs):
        split = "heldout" if set(pair) & HELD_OUT_VOICES else "tune"
        name = f"call{i:02d}_{pair[0]}_{pair[1]}"
        clean, labels = build_call(name, pair, pool, seed=100 + i)
        rttm = work / f"{name}.rttm"
        rttm.write_text("".join(f"SPEAKER {name} 1 {s.start:.3f} {s.end - s.start:.3f} <NA> <NA> {s.speaker} <NA> <NA>\n"
                                for s in labels))
        for j, kind in enumerate(CONDITIONS):
            samples, sr = condition(clean, kind, seed=1000 + 10 * i + j)
            path = work / f"{name}_{kind}.wav"
            sf.write(path, samples.T, sr, subtype="ULAW" if kind == "ulaw8k" else "PCM_16")
            files.append({"name": f"{name}_{kind}", "audio": str(path), "rttm": str(rttm), "uri": name,
                          "split": split, "condition": kind, "speakers": ["A", "B"]})
    (work / "calls.json").write_text(json.dumps(files, indent=1))
    return files


def shared_files(data: Path) -> list[dict]:
    """The stereo calls with a reference that exist already (not tuned on)."""
    out = []
    synth = data / "calls_synthetic"
    if (synth / "dialogue_60s_stereo16k.flac").exists():
        out.append({"name": "calls_synthetic/dialogue", "audio": str(synth / "dialogue_60s_stereo16k.flac"),
                    "rttm": str(synth / "dialogue_truth.rttm"), "uri": "dialogue", "split": "shared",
                    "condition": "espeak 16k", "speakers": ["A", "B"]})
    truth = ROOT / "samples" / "truth.json"
    if truth.exists():
        turns = json.loads(truth.read_text()).get("billing-stereo-8k")
        if turns:
            out.append({"name": "samples/billing-stereo-8k", "audio": str(ROOT / "samples" / "billing-stereo-8k.flac"),
                        "turns": turns, "uri": "billing", "split": "shared", "condition": "8k sample",
                        "speakers": ["agent", "customer"]})
    wav = data / "asr/faster_whisper/stereo_diarization.wav"
    if wav.exists():
        out.append({"name": "faster_whisper/stereo_diarization", "audio": str(wav), "uri": "stereo_diarization",
                    "split": "unlabelled", "condition": "librispeech 16k", "speakers": ["left", "right"]})
    return out


def reference(f: dict):
    from pyannote.core import Annotation, Segment
    from pyannote.database.util import load_rttm

    if "rttm" in f:
        return load_rttm(f["rttm"])[f["uri"]]
    if "turns" in f:
        ref = Annotation(uri=f["uri"])
        for t in f["turns"]:
            ref[Segment(t["start"], t["end"])] = t["speaker"]
        return ref
    return None


def trimmed_reference(ref, samples: np.ndarray, speakers: list[str]):
    """``ref`` with each turn cut to the stretch of its own channel's sound, by the rule the
    built calls' labels use (no model): the shared references are espeak clip extents, which
    run on through the clip's trailing silence."""
    from pyannote.core import Annotation, Segment

    db = frame_db(samples, SR, smooth=0.01)
    out = Annotation(uri=ref.uri)
    for seg, _, label in ref.itertracks(yield_label=True):
        channel = speakers.index(label) if label in speakers else sorted(ref.labels()).index(label)
        a, b = int(seg.start * 100), int(np.ceil(seg.end * 100))
        loud = np.flatnonzero(db[channel, a:b] > db[channel, a:b].max() - LABEL_FLOOR_DB)
        if len(loud):
            out[Segment((a + loud[0]) / 100, (a + loud[-1] + 1) / 100)] = label
    return out


def load(path: str) -> np.ndarray:
    """(2, n) float32 at 16 kHz, as the decode stage gives it."""
    from wocas.io.audio import decode

    return decode(path, SR).samples


def score(ref, segments: list[SpeakerSegment], duration: float, metrics: dict | None = None) -> dict:
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    hyp = Annotation()
    for s in segments:
        if s.end > s.start:
            hyp[Segment(s.start, s.end)] = s.speaker
    uem = Timeline([Segment(0, duration)])
    row = {}
    for collar in COLLARS:
        detail = DiarizationErrorRate(collar=collar, skip_overlap=False)(ref, hyp, uem=uem, detailed=True)
        row[f"der_c{collar:g}"] = detail["diarization error rate"]
        if metrics is not None:
            m = metrics.setdefault(f"c{collar:g}", {"total": 0.0, "miss": 0.0, "fa": 0.0, "conf": 0.0})
            m["total"] += detail["total"]
            m["miss"] += detail["missed detection"]
            m["fa"] += detail["false alarm"]
            m["conf"] += detail["confusion"]
    return row


def pooled(metrics: dict) -> dict:
    out = {}
    for key, m in metrics.items():
        total = m["total"] or 1.0
        out[f"der_{key}"] = (m["miss"] + m["fa"] + m["conf"]) / total
        out[f"miss_{key}"], out[f"fa_{key}"], out[f"conf_{key}"] = m["miss"] / total, m["fa"] / total, m["conf"] / total
    return out


GRID = {
    "leak_margin_db": (10.0, 14.0, 18.0),  # first grid: 6 / 10 / 14 with edges off, 14 best (0.073)
    "leak_quantile": (0.1, 0.3),
    "vad_threshold": (0.35, 0.5),
    "max_gap": (0.3, 0.5),
    "edge_drop_db": (25.0, 35.0),
    "edge_floor_db": (0.0, 6.0, 10.0),
}


def tune(files: list[dict], audio: dict[str, np.ndarray]) -> ChannelTimelineOptions:
    """The grid point with the lowest pooled collar-0 DER on the tune split."""
    tune_files = [f for f in files if f["split"] == "tune"]
    refs = {f["name"]: reference(f) for f in tune_files}
    best, best_der = ChannelTimelineOptions(), float("inf")
    grid = []
    keys = list(GRID)
    vads = {(f["name"], th): channel_vad(audio[f["name"]], SR, th) for f in tune_files for th in GRID["vad_threshold"]}
    for values in itertools.product(*GRID.values()):
        opts = replace(ChannelTimelineOptions(), **dict(zip(keys, values)))
        metrics: dict = {}
        for f in tune_files:
            x = audio[f["name"]]
            segments = channel_timeline(x, SR, f["speakers"], opts, vads[f["name"], opts.vad_threshold])
            score(refs[f["name"]], segments, x.shape[1] / SR, metrics)
        der = pooled(metrics)["der_c0"]
        print(f"{dict(zip(keys, values))} DER c0 {der:.4f}", flush=True)
        grid.append({**dict(zip(keys, values)), "der_c0": der})
        if der < best_der:
            best, best_der = opts, der
    print(f"best on tune: {asdict(best)} DER c0 {best_der:.4f}")
    write_results("stereo_timeline_tune", {"split": "tune", "files": len(tune_files), "best": asdict(best),
                                           "grid": sorted(grid, key=lambda g: g["der_c0"])},
                  sorted(grid, key=lambda g: g["der_c0"])[:10], "Stereo timeline thresholds: the ten best grid points on the tune split",
                  "Pooled DER (collar 0, overlap scored) over the tune split's built calls (all four conditions). "
                  "The held-out third was not scored during tuning.")
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--work", type=Path, default=Path("/tmp/wocas_stereo"))
    ap.add_argument("--tune", action="store_true", help="grid-search the thresholds on the tune split and stop")
    ap.add_argument("--config", type=Path, default=None, help="config whose ASR gives the old, word-based timeline")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    built = build(args.data, args.work)  # labels on disk before any model runs
    files = built + shared_files(args.data)
    audio = {f["name"]: load(f["audio"]) for f in files}
    if args.tune:
        tune(built, audio)
        return

    from wocas.schema import Audio, Call, CallAnalysis
    from wocas.stages.diarize import segments_from_words
    from wocas.stages.transcribe import TranscribeStage

    config = load_bench_config(args.config)
    asr = TranscribeStage(config.asr)
    opts = ChannelTimelineOptions()
    rows: list[dict] = []
    per_group: dict = {}
    for f in files:
        x = audio[f["name"]]
        duration = x.shape[1] / SR
        call = CallAnalysis(call=Call(call_id=f["uri"], source=f["audio"], kind="audio",
                                      channels=tuple(f["speakers"])),
                            audio=Audio(samples=x, sample_rate=SR, original_sample_rate=SR))
        t0 = time.perf_counter()
        words = asr.process_call(call).asr_words
        asr_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        new = channel_timeline(x, SR, f["speakers"], opts)
        vad_s = time.perf_counter() - t0
        old = segments_from_words(words)
        ref = reference(f)
        row = {"file": f["name"], "split": f["split"], "condition": f["condition"], "seconds": round(duration, 1)}
        if ref is None:
            for label, segs in (("old", old), ("new", new)):
                for spk in f["speakers"]:
                    row[f"{label}_{spk}_s"] = round(sum(s.end - s.start for s in segs if s.speaker == spk), 2)
        else:
            group = per_group.setdefault((f["split"], f["condition"]), {"old": {}, "new": {}, "n": 0})
            group["n"] += 1
            for label, segs in (("old", old), ("new", new)):
                for key, value in score(ref, segs, duration, group[label]).items():
                    row[f"{label}_{key}"] = value
            if f["split"] == "shared":  # the same reference, each turn cut to its channel's sound
                trimmed = trimmed_reference(ref, x, f["speakers"])
                group = per_group.setdefault(("shared", f"{f['condition']}, turns cut to sound"),
                                             {"old": {}, "new": {}, "n": 0})
                group["n"] += 1
                for label, segs in (("old", old), ("new", new)):
                    for key, value in score(trimmed, segs, duration, group[label]).items():
                        row[f"{label}_trimmed_{key}"] = value
        row["segments"] = {label: [[s.speaker, s.start, s.end] for s in segs] for label, segs in (("old", old), ("new", new))}
        row.update(asr_s=round(asr_s, 2), timeline_s=round(vad_s, 2))
        rows.append(row)
        print({k: v for k, v in row.items() if k != "segments"}, flush=True)

    table = []
    for split in ("tune", "heldout", "shared"):
        for cond in (*CONDITIONS, "espeak 16k", "espeak 16k, turns cut to sound", "8k sample",
                     "8k sample, turns cut to sound"):
            group = per_group.get((split, cond))
            if not group:
                continue
            o, n = pooled(group["old"]), pooled(group["new"])
            table.append({"split": split, "condition": cond, "files": group["n"],
                          "old DER c0": o["der_c0"], "new DER c0": n["der_c0"],
                          "old DER c0.25": o["der_c0.25"], "new DER c0.25": n["der_c0.25"],
                          "new miss c0": n["miss_c0"], "new FA c0": n["fa_c0"], "new conf c0": n["conf_c0"]})
    for split in ("tune", "heldout"):
        both = {"old": {}, "new": {}}
        for (s, _), group in per_group.items():
            if s != split:
                continue
            for label in ("old", "new"):
                for key, m in group[label].items():
                    acc = both[label].setdefault(key, {"total": 0.0, "miss": 0.0, "fa": 0.0, "conf": 0.0})
                    for k in acc:
                        acc[k] += m[k]
        if both["new"]:
            o, n = pooled(both["old"]), pooled(both["new"])
            table.append({"split": split, "condition": "all", "files": sum(g["n"] for (s, _), g in per_group.items() if s == split),
                          "old DER c0": o["der_c0"], "new DER c0": n["der_c0"],
                          "old DER c0.25": o["der_c0.25"], "new DER c0.25": n["der_c0.25"],
                          "new miss c0": n["miss_c0"], "new FA c0": n["fa_c0"], "new conf c0": n["conf_c0"]})
    notes = (f"Old: speaker segments from the words of `{config.asr.model}` (one ASR pass per channel, words "
             "closer than 0.5 s merged). New: each channel's silero-vad speech, kept where the channel dominates "
             "or stands above its partner's measured leak level (`engine/diarizers/channels.py`, options "
             f"{asdict(opts)}). DER from pyannote.metrics, overlap scored, pooled over the files of a row. "
             "Built calls: labels by construction, written before any model ran; thresholds chosen on `tune` "
             "(grid in `GRID`); `heldout` = voice pairs with RAVDESS actor 04 or pyAudioAnalysis, never tuned on. "
             "calls_synthetic's RTTM runs each turn about 0.3 s past its last sound (espeak's trailing silence), "
             "which counts as missed speech at collar 0. stereo_diarization.wav has no reference: seconds of "
             "speech per channel in the JSON.")
    write_results("stereo_timeline", {"options": asdict(opts), "files": rows, "table": table}, table,
                  "Stereo speaker timeline: from words (old) vs per-channel speech detection (new)", notes)


if __name__ == "__main__":
    main()
