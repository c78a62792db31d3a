"""Speaker count on mono recordings with 2-4 speakers: DER with the count the embedded diarizer
estimates against DER with the true count given, per set, with a tuning split and a held-out
third reported apart.

Sets:
- ``ami``: the 12 pyannote AMI debug excerpts (30 s meetings, 1-4 speakers in the RTTM).
- ``built``: recordings authored here from real voices in the shared data: RAVDESS actors
  01-04 and the LJ Speech reader (5 voices), 3 or 4 of them per recording, taking turns of one
  or two trimmed utterances. Each recording's RTTM is written by construction (before any model
  runs); nothing is committed, the audio lives in a temporary folder. Every third recording
  also has 15 s of synthetic hold music (chords of harmonic tones) in the middle, outside any
  reference turn: if it is taken for speech it counts as false alarm, and if it is clustered it
  can become a speaker.

- ``built-phone``: the same recordings through a telephone line (8 kHz, G.711 mu-law).
- ``calls``: the two-party calls (pyannote telephone sample; the synthetic 60 s dialogue),
  where the count must stay 2.

Split: recording index % 3 == 2 is held out (for AMI, in sorted file order; for calls, the
dialogue), the rest is the tuning split on which the count method and its threshold are
chosen (lowest pooled DER with the estimated count, summed over the sets' tuning files).

DER: pyannote.metrics, collar 0.25 s, overlap scored, UEM = whole file, pooled per set.

    python -m benchmarks.speaker_count [--data ../shared/data] [--recordings 24]
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import tempfile
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf

os.environ.setdefault("HF_HUB_OFFLINE", "1")
from benchmarks.common import DEFAULT_DATA, write_results
from wocas.diarizers.embedded import (EmbeddedDiarizer, EmbeddedDiarizerOptions, WindowEmbeddings,
                                      estimate_count, window_regions)

SR = 16000
COLLAR = 0.25
HELD_OUT = 2  # index % 3 == HELD_OUT is held out


@dataclass
class Item:
    set: str
    name: str
    audio: np.ndarray
    reference: object  # pyannote Annotation
    held_out: bool
    music: tuple[float, float] | None = None


def trimmed(path: Path) -> np.ndarray:
    import librosa

    x, sr = sf.read(path, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    if sr != SR:
        x = librosa.resample(x, orig_sr=sr, target_sr=SR)
    x, _ = librosa.effects.trim(x, top_db=30)
    return x / max(float(np.sqrt(np.mean(x ** 2))), 1e-6) * 10 ** (-25 / 20)


def voices(data: Path) -> dict[str, list[Path]]:
    import csv

    rav = data / "emotion/ravdess_subset"
    out: dict[str, list[Path]] = {}
    with open(rav / "labels.csv") as f:
        for row in csv.DictReader(f):
            out.setdefault(f"ravdess{row['actor']}", []).append(rav / row["file"])
    out["lj"] = sorted((data / "asr/ljspeech_coqui").glob("*.flac"))
    return out


def hold_music(seconds: float, rng: random.Random) -> np.ndarray:
    """Chords of harmonic tones with soft attacks: a stand-in for a hold loop."""
    t = np.arange(int(0.5 * SR)) / SR
    out = []
    for _ in range(int(seconds / 0.5)):
        root = 220 * 2 ** (rng.choice([0, 3, 5, 7, 8, 10]) / 12)
        note = sum(np.sin(2 * np.pi * root * r * h * t) / h
                   for r in (1, 1.26, 1.5) for h in (1, 2, 3))
        out.append(note * np.minimum(1, t / 0.05) * np.exp(-2 * t))
    x = np.concatenate(out).astype(np.float32)
    return x / np.sqrt(np.mean(x ** 2)) * 10 ** (-28 / 20)


def build_recording(index: int, pool: dict[str, list[Path]]):
    """(audio, reference turns [(start, end, voice)], music span or None), from a fixed seed."""
    rng = random.Random(f"speaker-count:{index}")
    n_voices = 3 if index % 2 == 0 else 4
    chosen = rng.sample(sorted(pool), n_voices)
    order = chosen + [rng.choice(chosen) for _ in range(4 * n_voices - n_voices)]
    rng.shuffle(order)
    for i in range(1, len(order)):  # no voice twice in a row
        if order[i] == order[i - 1]:
            order[i] = rng.choice([v for v in chosen if v != order[i - 1]])
    pieces, turns, t = [np.zeros(int(0.5 * SR), np.float32)], [], 0.5
    music_at = len(order) // 2 if index % 3 == 1 else None
    music = None
    for i, voice in enumerate(order):
        if i == music_at:
            m = hold_music(15.0, rng)
            pieces.append(m)
            music = (t, t + len(m) / SR)
            t += len(m) / SR
            pieces.append(np.zeros(int(0.5 * SR), np.float32))
            t += 0.5
        files = rng.sample(pool[voice], 1 if voice == "lj" else rng.choice([1, 2]))
        start = t
        for j, f in enumerate(files):
            x = trimmed(f) * 10 ** (rng.uniform(-3, 3) / 20)
            if j:
                pieces.append(np.zeros(int(0.25 * SR), np.float32))
                t += 0.25
            pieces.append(x.astype(np.float32))
            t += len(x) / SR
        turns.append((start, t, voice))
        gap = rng.uniform(0.3, 1.0)
        pieces.append(np.zeros(int(gap * SR), np.float32))
        t += int(gap * SR) / SR
    audio = np.concatenate(pieces)
    audio += np.random.default_rng(index).normal(0, 10 ** (-60 / 20), len(audio)).astype(np.float32)
    return audio, turns, music


def write_rttm(path: Path, uri: str, turns) -> None:
    path.write_text("".join(f"SPEAKER {uri} 1 {a:.3f} {b - a:.3f} <NA> <NA> {v} <NA> <NA>\n"
                            for a, b, v in turns))


def load_items(data: Path, recordings: int, folder: Path) -> list[Item]:
    from pyannote.database.util import load_rttm

    items = []
    ami = data / "diarization/pyannote_ami_debug"
    uris = ["dev00", "dev01"] + [f"trn{i:02d}" for i in range(10)]
    for i, uri in enumerate(uris):
        rttm = ami / ("debug.development.rttm" if uri.startswith("dev") else "debug.train.rttm")
        x, sr = sf.read(ami / f"{uri}.wav", dtype="float32", always_2d=True)
        items.append(Item("ami", uri, x.mean(axis=1), load_rttm(rttm)[uri], i % 3 == HELD_OUT))
    pool = voices(data)
    built = []
    for i in range(recordings):  # all labels are written before the diarizer sees any audio
        audio, turns, music = build_recording(i, pool)
        uri = f"built{i:02d}"
        write_rttm(folder / f"{uri}.rttm", uri, turns)
        sf.write(folder / f"{uri}.wav", audio, SR, subtype="PCM_16")
        built.append((uri, music, i % 3 == HELD_OUT))
    for uri, music, held in built:
        audio, _ = sf.read(folder / f"{uri}.wav", dtype="float32")
        reference = load_rttm(folder / f"{uri}.rttm")[uri]
        items.append(Item("built", uri, audio, reference, held, music))
        items.append(Item("built-phone", uri, telephone(audio), reference, held, music))
    calls = [("sample", data / "diarization/pyannote_sample/sample.wav",
              data / "diarization/pyannote_sample/sample.rttm"),
             ("dialogue", data / "calls_synthetic/dialogue_60s_mono16k.flac",
              data / "calls_synthetic/dialogue_truth.rttm")]
    for i, (uri, path, rttm) in enumerate(calls):  # two-party calls: the count must stay 2
        x, _ = sf.read(path, dtype="float32", always_2d=True)
        items.append(Item("calls", uri, x.mean(axis=1), load_rttm(rttm)[uri], held_out=i == 1))
    return items


def telephone(audio: np.ndarray) -> np.ndarray:
    """The same recording as a phone line carries it: 8 kHz, G.711 mu-law, back to 16 kHz."""
    import librosa

    narrow = librosa.resample(audio, orig_sr=SR, target_sr=8000)
    peak = max(float(np.abs(narrow).max()), 1e-6)
    coded = librosa.mu_expand(librosa.mu_compress(np.clip(narrow / peak, -1, 1), quantize=True), quantize=True)
    return librosa.resample((coded * peak).astype(np.float32), orig_sr=8000, target_sr=SR)


def hypothesis(segments, uri: str):
    from pyannote.core import Annotation, Segment

    hyp = Annotation(uri=uri)
    for s in segments:
        hyp[Segment(s.start, s.end)] = s.speaker
    return hyp


def count_for(windows: WindowEmbeddings, candidate: dict, opts: EmbeddedDiarizerOptions) -> int:
    if len(windows.embeddings) < 4:
        return max(1, opts.min_speakers)
    return estimate_count(windows.embeddings, replace(opts, **candidate),
                          window_regions(windows.regions, windows.spans))


CANDIDATES = {**{f"eigengap/{g}": {"count_method": "eigengap", "count_group": g} for g in (1, 8)},
              **{f"nme/{g}": {"count_method": "nme", "count_group": g} for g in (1, 8)},
              **{f"ahc:{t:g}/{g}": {"count_method": "ahc", "ahc_threshold": t, "count_group": g}
                 for g in (1, 8) for t in (0.2, 0.25, 0.3, 0.35, 0.4)}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("WOCAS_DATA", DEFAULT_DATA)))
    parser.add_argument("--recordings", type=int, default=24)
    parser.add_argument("--min-speakers", type=int, default=2, help="a call has at least two parties")
    parser.add_argument("--max-speakers", type=int, default=8)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING)
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    base = EmbeddedDiarizerOptions(num_speakers=None, min_speakers=args.min_speakers, max_speakers=args.max_speakers)
    diarizer = EmbeddedDiarizer(base)
    with tempfile.TemporaryDirectory(prefix="wocas-count-") as tmp:
        items = load_items(args.data, args.recordings, Path(tmp))
        rows = []
        for item in items:
            windows = diarizer.embed(item.audio, SR)
            uem = Timeline([Segment(0, len(item.audio) / SR)])
            true_k = len(item.reference.labels())
            result = {"set": item.set, "file": item.name, "held_out": item.held_out, "true": true_k,
                      "duration_s": round(len(item.audio) / SR, 1), "counts": {}, "der": {}, "detail": {}}
            variants = {"true": true_k}
            for key, candidate in CANDIDATES.items():
                variants[key] = count_for(windows, candidate, base)
            for key, k in variants.items():
                segments = EmbeddedDiarizer(replace(base, num_speakers=max(k, 1))).segment(windows)
                detail = DiarizationErrorRate(collar=COLLAR, skip_overlap=False)(
                    item.reference, hypothesis(segments, item.name), uem=uem, detailed=True)
                result["counts"][key] = k
                result["detail"][key] = {m: float(detail[m]) for m in
                                         ("total", "missed detection", "false alarm", "confusion")}
            if item.music:  # seconds of the hold music the diarizer labelled as speech
                m0, m1 = item.music
                segments = EmbeddedDiarizer(replace(base, num_speakers=max(variants["true"], 1))).segment(windows)
                result["music_s"] = round(m1 - m0, 1)
                result["music_labelled_s"] = round(sum(max(0.0, min(s.end, m1) - max(s.start, m0))
                                                       for s in segments), 2)
                result["music_windows"] = sum(1 for a, b in windows.spans if a < m1 and b > m0)
            rows.append(result)
            print(item.set, item.name, "held" if item.held_out else "tune", result["counts"],
                  result.get("music_labelled_s", ""), flush=True)

    def pooled(selected, key):
        det = [r["detail"][key] for r in selected]
        total = sum(d["total"] for d in det) or 1.0
        return sum(d["missed detection"] + d["false alarm"] + d["confusion"] for d in det) / total

    keys = ["true", *CANDIDATES]
    tune = [r for r in rows if not r["held_out"]]
    sets = sorted({r["set"] for r in rows})
    scores = {k: sum(pooled([r for r in tune if r["set"] == s], k) for s in sets) for k in keys[1:]}
    chosen = min(scores, key=scores.get)
    table, summary = [], {}
    for s in sets:
        for split, held in (("tune", False), ("held-out", True)):
            sel = [r for r in rows if r["set"] == s and r["held_out"] == held]
            if not sel:
                continue
            exact = lambda k: sum(r["counts"][k] == r["true"] for r in sel)
            entry = {"set": s, "split": split, "files": len(sel),
                     "DER true count": pooled(sel, "true"),
                     f"DER est. ({chosen})": pooled(sel, chosen),
                     "DER est. (eigengap)": pooled(sel, "eigengap/1"),
                     f"count exact ({chosen})": f"{exact(chosen)}/{len(sel)}",
                     "count exact (eigengap)": f"{exact('eigengap/1')}/{len(sel)}"}
            entry["est - true"] = entry[f"DER est. ({chosen})"] - entry["DER true count"]
            table.append(entry)
            summary[f"{s}/{split}"] = {k: pooled(sel, k) for k in keys}
    music = [r for r in rows if "music_s" in r]
    notes = (f"Chosen on the tuning split: {chosen} (tuning score = pooled DER with the estimated count, "
             f"summed over the sets; per candidate: "
             + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()) + "). "
             f"Counts estimated between {args.min_speakers} and {args.max_speakers} on at most "
             f"{base.max_cluster_windows} windows. Hold music: {len(music)} built recordings carry 15 s each; "
             f"the diarizer labelled {sum(r['music_labelled_s'] for r in music):.1f} s of "
             f"{sum(r['music_s'] for r in music):.0f} s of it as speech, and "
             f"{sum(r['music_windows'] for r in music)} embedding windows fell in it (VAD regions only are "
             f"embedded and clustered). DER: pyannote.metrics, collar {COLLAR}, overlap scored, pooled per set. "
             "'eigengap' = the previous estimator (eigengap of the pruned affinity of single windows), here "
             "with the same bounds. AMI's true count includes speakers with a second or two of speech in the "
             "30 s excerpt, which is why the true count scores worse there. Development note: the held-out "
             "files were seen while the method was built (an earlier pick, AHC with a minimum of 1 speaker, "
             "made the two-party calls one speaker; the calls and telephone sets and the minimum of 2 were "
             "added after), so the held-out rows are not a blind test.")
    write_results("speaker_count", {"chosen": chosen, "tuning_scores": scores, "pooled": summary,
                                    "files": rows, "options": base.__dict__}, table,
                  "Speaker count on mono recordings: DER with the estimated vs the true count", notes)


if __name__ == "__main__":
    main()
