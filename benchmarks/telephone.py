"""Telephone benchmark of our own: the calls of benchmarks/telephone_scripts.py spoken by
espeak-ng and passed through a telephone line with sox, then WER and DER per ASR profile.

Rendering (labels hold by construction: each turn's text is what is spoken, its times are
where its speech was placed):
- each turn is spoken by espeak-ng, one voice and speed per speaker, drawn per call from a
  seeded generator; turns follow each other with a 0.15-0.9 s gap;
- each speaker's track is cut to 300-3400 Hz and resampled to 8 kHz by sox (`sinc`, `rate`),
  set to its own speech level, and band-limited line noise is added at a per-call SNR of
  12-24 dB (measured in band against the active speech);
- sox encodes G.711 mu-law (8 bit, 8 kHz): `<call>.mono.wav` (both parties on one line, one
  noise) and `<call>.stereo.wav` (agent left, customer right, each channel its own noise);
- `<call>.json` holds the turns (speaker, text, start, end) and the render settings;
  `<call>.rttm` the reference speech per speaker.
Every third call (by position) is the held-out third. Renders go to the cache
($WOCAS_CACHE/telephone-<key>, default ~/.cache/wocas), keyed by the scripts and settings,
never into the project.

espeak-ng and sox are needed only to render (never by CI or the tests):
    Debian/Ubuntu: apt-get install -y espeak-ng sox    macOS: brew install espeak-ng sox

Scoring, each profile in its own process (so peak RSS is its own), CPU:
- WER (benchmarks/metrics.py: Whisper's English normaliser + jiwer, corpus level) on the mono
  line (the whole call against all turns in order) and on the stereo line (each channel
  against its speaker's turns);
- DER (pyannote.metrics, UEM = whole call, collars 0 and 0.25) of the stereo speaker timeline
  the pipeline builds from each channel's ASR words, and of the embedded diarizer on the mono
  line with the count estimated and with 2 given (the diarizer does not depend on the profile);
- x real time and peak RSS.

    python -m benchmarks.telephone [--profiles fast,accurate] [--render-only] [--cache DIR]
    python -m benchmarks.telephone --line clean|narrow --render-only   # the same speech off the line

`--line clean` renders the same turns at 16 kHz with no band limit, noise or codec, `--line narrow`
through the band and codec without the noise (each cached apart); benchmarks/telephone_lines.py
scores the lines against each other (results/telephone_clean_vs_line.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from benchmarks.telephone_scripts import CALLS

RENDER_VERSION = 1
RATE = 8000
BAND = (300.0, 3400.0)
SNR_DB = (12.0, 24.0)
GAP_S = (0.15, 0.9)
LEVEL_DBFS = (-26.0, -16.0)  # each speaker's active speech level on the line
AGENT_VOICES = ("en-gb+f3", "en-us+m3", "en-gb-x-rp+f2", "en-us+f4", "en-gb+m1")
CUSTOMER_VOICES = ("en-us+m7", "en-gb+m4", "en-029+f1", "en-gb-scotland+m2", "en-us+f2", "en-gb+f5")
SPEED_WPM = (140, 185)
# clean: the same espeak-ng speech at 16 kHz, no band limit, no noise, no codec; narrow: the telephone line
# without its noise (300-3400 Hz, 8 kHz, G.711 mu-law), to split the line's cost into band + codec and noise
LINES = ("telephone", "clean", "narrow")
CLEAN_RATE = 16000
INSTALL = ("the telephone renders need espeak-ng and sox: apt-get install -y espeak-ng sox "
           "(Debian/Ubuntu) or brew install espeak-ng sox (macOS)")


@dataclass(frozen=True)
class Turn:
    speaker: str
    text: str
    start: float = 0.0
    end: float = 0.0


@dataclass(frozen=True)
class Voice:
    name: str
    speed: int
    level_dbfs: float


def missing_tools() -> list[str]:
    return [t for t in ("espeak-ng", "sox") if shutil.which(t) is None]


def split_of(index: int) -> str:
    return "heldout" if index % 3 == 2 else "dev"


def plan(index: int, turns: int | None = None) -> tuple[dict[str, Voice], list[float], float]:
    """Voices per speaker, the gaps before each turn and the SNR of call ``index``, seeded by it
    (``turns``: how many turns, for a script not in CALLS)."""
    rng = random.Random(1000 + index)
    voices = {"agent": Voice(rng.choice(AGENT_VOICES), rng.randint(*SPEED_WPM), round(rng.uniform(*LEVEL_DBFS), 1)),
              "customer": Voice(rng.choice(CUSTOMER_VOICES), rng.randint(*SPEED_WPM),
                                round(rng.uniform(*LEVEL_DBFS), 1))}
    gaps = [round(rng.uniform(*GAP_S), 3) for _ in range(len(CALLS[index][1]) if turns is None else turns)]
    return voices, gaps, round(rng.uniform(*SNR_DB), 1)


def speech_extent(samples: np.ndarray, rate: int, floor_db: float = -45.0) -> tuple[int, int]:
    """[first, last) sample of speech: where 10 ms frames rise above ``floor_db`` under the peak
    frame. espeak-ng pads its output with silence; the labels start and end at the speech."""
    hop = max(1, rate // 100)
    frames = len(samples) // hop
    if frames == 0:
        return 0, 0
    energy = (samples[: frames * hop].reshape(frames, hop).astype(np.float64) ** 2).mean(axis=1)
    loud = np.flatnonzero(energy > energy.max() * 10 ** (floor_db / 10)) if energy.max() > 0 else []
    if len(loud) == 0:
        return 0, 0
    return int(loud[0] * hop), int(min(len(samples), (loud[-1] + 1) * hop))


def layout(extents: list[tuple[float, float]], gaps: list[float]) -> list[tuple[float, float, float]]:
    """Where each clip goes: (clip offset in the call, speech start, speech end) in seconds,
    given each clip's speech extent (start, end) within the clip and the silence before each
    turn's speech. Turns follow each other: the next speech starts ``gap`` after the last ended."""
    out, cursor = [], 0.0
    for (lo, hi), gap in zip(extents, gaps, strict=True):
        start = cursor + gap
        out.append((start - lo, start, start + hi - lo))
        cursor = start + hi - lo
    return out


def band_noise(n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS white noise limited to the telephone band (FFT mask), 8 kHz line hiss."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / rate)
    spectrum[(freqs < BAND[0]) | (freqs > BAND[1])] = 0
    noise = np.fft.irfft(spectrum, n)
    return (noise / (np.sqrt(np.mean(noise ** 2)) + 1e-12)).astype(np.float32)


def active_rms(samples: np.ndarray, rate: int) -> float:
    """RMS over the 10 ms frames within 30 dB of the loudest (speech, not the pauses)."""
    hop = rate // 100
    frames = len(samples) // hop
    energy = (samples[: frames * hop].reshape(frames, hop).astype(np.float64) ** 2).mean(axis=1)
    active = energy[energy > energy.max() * 1e-3]
    return float(np.sqrt(active.mean())) if len(active) else 0.0


def cache_key(line: str = "telephone") -> str:
    """The renders' key; the telephone line's is the key it always had (existing renders stay valid)."""
    parts = [RENDER_VERSION, CALLS, RATE, BAND, SNR_DB, GAP_S, LEVEL_DBFS, AGENT_VOICES, CUSTOMER_VOICES, SPEED_WPM]
    if line != "telephone":
        parts += [line, CLEAN_RATE]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]


def default_cache(line: str = "telephone") -> Path:
    stem = "telephone" if line == "telephone" else f"telephone-{line}"
    return Path(os.environ.get("WOCAS_CACHE", "~/.cache/wocas")).expanduser() / f"{stem}-{cache_key(line)}"


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} failed: {done.stderr.strip()[-300:]}")


def _speak(text: str, voice: Voice, out: Path) -> None:
    _run(["espeak-ng", "-v", voice.name, "-s", str(voice.speed), "-w", str(out), text])


def _to_line(samples: np.ndarray, rate: int, tmp: Path, name: str) -> np.ndarray:
    """sox: 300-3400 Hz band, resampled to 8 kHz (float, before the level and the noise)."""
    import soundfile as sf

    src, dst = tmp / f"{name}.in.wav", tmp / f"{name}.8k.wav"
    sf.write(src, samples, rate, subtype="FLOAT")
    _run(["sox", "-q", str(src), "-e", "floating-point", "-b", "32", str(dst), "sinc", f"{BAND[0]:g}-{BAND[1]:g}",
          "rate", "-v", str(RATE)])
    return sf.read(dst, dtype="float32")[0]


def _to_clean(samples: np.ndarray, rate: int, tmp: Path, name: str) -> np.ndarray:
    """sox: resampled to 16 kHz only (Whisper's rate), full band (float)."""
    import soundfile as sf

    src, dst = tmp / f"{name}.in.wav", tmp / f"{name}.16k.wav"
    sf.write(src, samples, rate, subtype="FLOAT")
    _run(["sox", "-q", str(src), "-e", "floating-point", "-b", "32", str(dst), "rate", "-v", str(CLEAN_RATE)])
    return sf.read(dst, dtype="float32")[0]


def _mu_law(channels: list[np.ndarray], tmp: Path, out: Path) -> None:
    """sox: G.711 mu-law, 8 bit, 8 kHz, one channel per array."""
    import soundfile as sf

    src = tmp / f"{out.stem}.line.wav"
    sf.write(src, np.stack(channels, axis=1), RATE, subtype="FLOAT")
    _run(["sox", "-q", str(src), "-e", "u-law", "-b", "8", "-r", str(RATE), str(out)])


def render_call(index: int, folder: Path, line: str = "telephone") -> dict:
    """Render call ``index`` into ``folder``; returns its labels (also written as JSON and RTTM)."""
    name, script = CALLS[index]
    return render_script(name, script, plan(index), split_of(index), folder, index, line)


def render_script(name: str, script, planned: tuple[dict[str, Voice], list[float], float], split: str,
                  folder: Path, seed: int, line: str = "telephone") -> dict:
    """Render one two-party script ((speaker, text) turns, speakers agent and customer) with the
    voices, gaps and SNR ``planned`` (see ``plan``); ``seed`` seeds the line noise.

    ``line = "clean"``: the same speech, voices, levels and timing, resampled to 16 kHz with no
    band limit, no noise and no codec (16-bit PCM), to tell the voice's cost from the line's;
    ``line = "narrow"``: the telephone line without its noise (band, 8 kHz and mu-law only)."""
    if line not in LINES:
        raise ValueError(f"line {line!r}: one of {', '.join(LINES)}")
    import soundfile as sf

    voices, gaps, snr = planned
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        clips, extents, rate = [], [], 0
        for i, (speaker, text) in enumerate(script):
            wav = tmp / f"turn{i}.wav"
            _speak(text, voices[speaker], wav)
            clip, rate = sf.read(wav, dtype="float32")
            lo, hi = speech_extent(clip, rate)
            clips.append(clip)
            extents.append((lo / rate, hi / rate))
        placed = layout(extents, gaps)
        length = int((placed[-1][2] + 0.8) * rate) + 1
        tracks = {s: np.zeros(length, np.float32) for s in voices}
        turns = []
        for (speaker, text), clip, (offset, start, end) in zip(script, clips, placed, strict=True):
            at = int(round(offset * rate))
            tracks[speaker][at: at + len(clip)] += clip[: length - at]
            turns.append(Turn(speaker, text, round(start, 3), round(end, 3)))
        out_rate = CLEAN_RATE if line == "clean" else RATE
        sent = {}
        for speaker, track in tracks.items():
            narrow = (_to_clean if line == "clean" else _to_line)(track, rate, tmp, speaker)
            target = 10 ** (voices[speaker].level_dbfs / 20)
            sent[speaker] = narrow * (target / (active_rms(narrow, out_rate) + 1e-12))
        n = min(len(v) for v in sent.values())
        if line != "clean":
            rng = np.random.default_rng(seed)
            speech_rms = min(active_rms(v[:n], RATE) for v in sent.values())
            noise_rms = speech_rms / 10 ** (snr / 20) if line == "telephone" else 0.0
            mono = sent["agent"][:n] + sent["customer"][:n] + noise_rms * band_noise(n, RATE, rng)
            stereo = [sent[s][:n] + noise_rms * band_noise(n, RATE, rng) for s in ("agent", "customer")]
            _mu_law([np.clip(mono, -1, 1)], tmp, folder / f"{name}.mono.wav")
            _mu_law([np.clip(c, -1, 1) for c in stereo], tmp, folder / f"{name}.stereo.wav")
        else:
            mono = sent["agent"][:n] + sent["customer"][:n]
            stereo = [sent[s][:n] for s in ("agent", "customer")]
            sf.write(folder / f"{name}.mono.wav", np.clip(mono, -1, 1), CLEAN_RATE, subtype="PCM_16")
            sf.write(folder / f"{name}.stereo.wav", np.clip(np.stack(stereo, axis=1), -1, 1), CLEAN_RATE,
                     subtype="PCM_16")
    labels = {"call": name, "split": split, "duration_s": round(n / out_rate, 3), "line": line,
              "snr_db": snr if line == "telephone" else None,
              "voices": {s: asdict(v) for s, v in voices.items()}, "channels": ["agent", "customer"],
              "turns": [asdict(t) for t in turns]}
    (folder / f"{name}.json").write_text(json.dumps(labels, indent=1))
    (folder / f"{name}.rttm").write_text("".join(
        f"SPEAKER {name} 1 {t.start:.3f} {t.end - t.start:.3f} <NA> <NA> {t.speaker} <NA> <NA>\n" for t in turns))
    return labels


def render_all(cache: Path | None = None, line: str = "telephone") -> Path:
    """The folder of rendered calls, rendered the first time (a missing tool is a clear stop)."""
    folder = cache or default_cache(line)
    if (folder / "done").exists():
        return folder
    if missing := missing_tools():
        raise SystemExit(f"{', '.join(missing)} not found: {INSTALL}")
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(len(CALLS)):
        render_call(index, folder, line)
    (folder / "done").write_text(cache_key(line))
    return folder


def load_calls(folder: Path) -> list[dict]:
    return [json.loads((folder / f"{name}.json").read_text()) for name, _ in CALLS]


def reference_text(labels: dict, speaker: str | None = None) -> str:
    return " ".join(t["text"] for t in labels["turns"] if speaker is None or t["speaker"] == speaker)


def reference_annotation(labels: dict):
    from pyannote.core import Annotation, Segment

    ref = Annotation(uri=labels["call"])
    for t in labels["turns"]:
        ref[Segment(t["start"], t["end"])] = t["speaker"]
    return ref


def der(pairs: list[tuple[dict, list]], collar: float) -> float:
    """Corpus DER over (labels, speaker segments) pairs, UEM = whole call, overlap scored."""
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    metric = DiarizationErrorRate(collar=collar, skip_overlap=False)
    for labels, segments in pairs:
        hyp = Annotation(uri=labels["call"])
        for s in segments:
            hyp[Segment(s.start, s.end)] = s.speaker
        metric(reference_annotation(labels), hyp, uem=Timeline([Segment(0, labels["duration_s"])]))
    return float(abs(metric))


def asr_stage(profile: str, asr: dict | None = None):
    """The transcribe stage of ``profile``, warmed up, with a variant on top: ``asr``'s AsrConfig
    fields go to the config; its ``decode`` dict (faster-whisper ``transcribe`` arguments the engine
    does not expose, e.g. ``initial_prompt``) is passed to every ``transcribe`` call of this stage's
    model, for trying a decoding change before it becomes a setting."""
    from wocas.config import AsrConfig
    from wocas.stages.transcribe import TranscribeStage

    fields = dict(asr or {})
    decode = fields.pop("decode", None) or {}
    stage = TranscribeStage(AsrConfig(profile=profile, device="cpu", **fields))
    stage.warm_up()
    if decode:
        model = stage.model
        plain = type(model).transcribe.__get__(model)
        model.transcribe = lambda *args, **kwargs: plain(*args, **{**kwargs, **decode})
    return stage


def run_profile(profile: str, folder: Path, with_mono_diarizer: bool, channels: tuple[str, ...] = ("mono", "stereo"),
                splits: tuple[str, ...] = ("dev", "heldout"), asr: dict | None = None) -> dict:
    """One profile over the rendered calls in ``folder``: ``channels`` which renders to score (mono,
    stereo), ``splits`` which calls (dev, heldout), ``asr`` AsrConfig fields set on top of the
    profile (a decoding variant). Stereo words are kept with their times for the error analysis."""
    from wocas.config import DiarizationConfig
    from wocas.io.audio import decode
    from wocas.stages.diarize import load_diarizer, segments_from_words
    from wocas.stages.transcribe import speaker_channels

    from benchmarks.metrics import wer

    stage = asr_stage(profile, asr)
    calls = [c for c in load_calls(folder) if c["split"] in splits]
    out: dict = {"model": stage.entry.name, "asr": asr or {}, "calls": {}}
    seconds = {"mono": 0.0, "stereo": 0.0}
    audio_s = sum(c["duration_s"] for c in calls)
    pairs: dict[tuple[str, str], list] = {}
    der_pairs: dict[str, list] = {}
    for labels in calls:
        name, split = labels["call"], labels["split"]
        row = {}
        if "mono" in channels:
            mono = decode(folder / f"{name}.mono.wav", 16000)
            t0 = time.perf_counter()
            words = stage.transcribe(mono.samples[0], None)[0]
            seconds["mono"] += time.perf_counter() - t0
            hyp = " ".join(w.text for w in sorted(words, key=lambda w: w.start))
            pairs.setdefault(("mono", split), []).append((reference_text(labels), hyp))
            row["mono_wer"] = round(wer([(reference_text(labels), hyp)]), 4)
            row["mono_hyp"] = hyp
        if "stereo" not in channels:
            out["calls"][name] = row
            print(profile, name, row.get("mono_wer"), file=sys.stderr, flush=True)
            continue
        stereo = decode(folder / f"{name}.stereo.wav", 16000)
        t0 = time.perf_counter()
        words = []
        for speaker, samples in speaker_channels(stereo, tuple(labels["channels"])):
            words += stage.transcribe(samples, speaker)[0]
        seconds["stereo"] += time.perf_counter() - t0
        for speaker in labels["channels"]:
            hyp = " ".join(w.text for w in sorted(words, key=lambda w: w.start) if w.speaker == speaker)
            pairs.setdefault(("stereo", split), []).append((reference_text(labels, speaker), hyp))
            row[f"stereo_{speaker}_hyp"] = hyp
            row[f"stereo_{speaker}_words"] = [[w.text, w.start, w.end] for w in sorted(words, key=lambda w: w.start)
                                              if w.speaker == speaker]
        row["stereo_wer"] = round(wer([(reference_text(labels, s), row[f"stereo_{s}_hyp"])
                                       for s in labels["channels"]]), 4)
        der_pairs.setdefault(split, []).append((labels, segments_from_words(tuple(words))))
        out["calls"][name] = row
        print(profile, name, row.get("mono_wer"), row["stereo_wer"], file=sys.stderr, flush=True)
    for line in channels:
        for split in splits:
            out[f"wer_{line}_{split}"] = round(wer(pairs[(line, split)]), 4)
        out[f"wer_{line}"] = round(wer([p for split in splits for p in pairs[(line, split)]]), 4)
        out[f"x_real_time_{line}"] = round(audio_s / seconds[line], 2)
        out[f"seconds_{line}"] = round(seconds[line], 1)
    if "stereo" not in channels:
        out["audio_s"] = round(audio_s, 1)
        out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        return out
    for split in splits:
        out[f"der_stereo_{split}_c0.25"] = round(der(der_pairs[split], 0.25), 4)
    every = [p for split in splits for p in der_pairs[split]]
    out["der_stereo_c0"] = round(der(every, 0.0), 4)
    out["der_stereo_c0.25"] = round(der(every, 0.25), 4)
    out["audio_s"] = round(audio_s, 1)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # ASR only
    if with_mono_diarizer:
        for label, count in (("estimated", 0), ("true", 2)):
            diarizer = load_diarizer(DiarizationConfig(num_speakers=count))
            found = []
            for labels in calls:
                audio = decode(folder / f"{labels['call']}.mono.wav", 16000)
                found.append((labels, diarizer(audio.samples[0], 16000)))
            out[f"der_mono_{label}_c0"] = round(der(found, 0.0), 4)
            out[f"der_mono_{label}_c0.25"] = round(der(found, 0.25), 4)
            out[f"speakers_found_{label}"] = sorted({len({s.speaker for s in segs}) for _, segs in found})
    return out


def main() -> None:
    from benchmarks.common import ROOT, write_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", default="fast,accurate")
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--line", choices=LINES, default="telephone",
                        help="telephone (default): 8 kHz G.711 with line noise; clean: the same speech at 16 kHz, "
                             "full band, no noise, no codec (renders cached separately)")
    parser.add_argument("--render-only", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: one profile, JSON on stdout
    parser.add_argument("--mono-diarizer", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--channels", default="mono,stereo", help=argparse.SUPPRESS)  # worker: which renders
    parser.add_argument("--splits", default="dev,heldout", help=argparse.SUPPRESS)  # worker: which calls
    parser.add_argument("--asr", default="{}", help=argparse.SUPPRESS)  # worker: AsrConfig fields (JSON)
    args = parser.parse_args()
    folder = render_all(args.cache, args.line)
    if args.render_only:
        print(folder)
        return
    if args.worker:
        print(json.dumps(run_profile(args.worker, folder, args.mono_diarizer, tuple(args.channels.split(",")),
                                     tuple(args.splits.split(",")), json.loads(args.asr))))
        return
    if args.line != "telephone":
        raise SystemExit("the report (benchmarks/results/telephone.md) is the telephone line's: compare lines with "
                         "python -m benchmarks.telephone_lines")
    results = {}
    for i, profile in enumerate(p for p in args.profiles.split(",") if p):
        cmd = [sys.executable, "-m", "benchmarks.telephone", "--worker", profile, "--cache", str(folder)]
        done = subprocess.run(cmd + (["--mono-diarizer"] if i == 0 else []), capture_output=True, text=True, cwd=ROOT)
        sys.stderr.write(done.stderr[-1500:])
        results[profile] = (json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else
                            {"error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]})
    base = results.get("fast", {})
    rows = []
    for profile, r in results.items():
        if "error" in r:
            rows.append({"profile": profile, "model": "-", "error": r["error"]})
            continue
        for line in ("mono", "stereo"):
            rows.append({
                "profile": profile, "model": r["model"], "line": line,
                "WER all": r[f"wer_{line}"], "WER dev": r[f"wer_{line}_dev"], "WER held-out": r[f"wer_{line}_heldout"],
                "WER vs fast": round(r[f"wer_{line}"] / base[f"wer_{line}"], 2) if base.get(f"wer_{line}") else None,
                "DER c0 / c0.25": (f"{r['der_stereo_c0']:.3f} / {r['der_stereo_c0.25']:.3f}" if line == "stereo"
                                   else ""),
                "x real time": r[f"x_real_time_{line}"],
                "time vs fast": (round(r[f"seconds_{line}"] / base[f"seconds_{line}"], 2)
                                 if base.get(f"seconds_{line}") else None),
                "peak RSS (MB)": r["peak_rss_mb"]})
    first = next((r for r in results.values() if "der_mono_estimated_c0" in r), {})
    diar = (f"Mono line, embedded diarizer (profile-independent), DER c0 / c0.25: count estimated "
            f"{first.get('der_mono_estimated_c0')} / {first.get('der_mono_estimated_c0.25')} (speaker counts found "
            f"{first.get('speakers_found_estimated')}), 2 given {first.get('der_mono_true_c0')} / "
            f"{first.get('der_mono_true_c0.25')}. " if first else "")
    calls = load_calls(folder)
    write_results("telephone", {"render": {"key": cache_key(), "calls": len(calls),
                                           "audio_s": round(sum(c["duration_s"] for c in calls), 1),
                                           "heldout": [c["call"] for c in calls if c["split"] == "heldout"],
                                           "snr_db": {c["call"]: c["snr_db"] for c in calls},
                                           "voices": {c["call"]: c["voices"] for c in calls}},
                                "profiles": results}, rows,
                  "Telephone benchmark: rendered two-party calls through G.711",
                  f"{len(calls)} calls written for this benchmark (benchmarks/telephone_scripts.py), "
                  f"{sum(c['duration_s'] for c in calls) / 60:.1f} min in all, spoken by espeak-ng (a voice and "
                  "speed per party), 300-3400 Hz, 8 kHz, G.711 mu-law, band-limited line noise at 12-24 dB SNR; "
                  "labels by construction. Held-out: every third call (no setting was tuned on any of them; the "
                  "split is kept for later tuning). WER: Whisper's English normaliser + jiwer, corpus level; "
                  "stereo WER is each channel against its speaker's turns. DER: pyannote.metrics, UEM = whole "
                  "call, overlap scored; stereo DER is the timeline the pipeline builds from each channel's ASR "
                  f"words. {diar}Each profile in its own process, CPU, int8, beam 5, VAD on, transcribe stage "
                  "only; 'vs fast' are ratios against tiny.en in the same run; x real time = call seconds / ASR "
                  "seconds (stereo: both channels); peak RSS is the ASR process's before the mono diarizer runs. The machine's 2 cores were shared with other jobs: the ratios "
                  "are the comparable part. Synthetic speech is cleaner and more regular than people: these "
                  "figures are not a substitute for real calls.")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
