"""ASR profiles compared in one run: WER, x real time and peak memory per profile and set.

Each profile runs in its own process (so its peak RSS is its own) through the transcribe stage
alone (decode -> VAD + Whisper), on:
- ljspeech (21 read utterances), jfk (the inaugural excerpt);
- ravdess (240 acted emotional clips, 4 actors), also split into strong and normal intensity,
  with the count of empty transcripts;
- pyannote_sample (two-party conversation, against its STM transcript);
- samples (the two demo calls in samples/, against samples/truth.json);
- *_ulaw8k: ljspeech, jfk, pyannote_sample and ravdess cut to 8 kHz and passed through G.711
  mu-law (made here with numpy into a temporary folder), as a telephone line would deliver them;
- ravdess_line: the emotional clips through the telephone line of benchmarks/telephone.py
  (300-3400 Hz noise at 15 dB under the speech, then 8 kHz mu-law): angry speech on a phone;
- telephone_mono / telephone_stereo: the two-party calls of benchmarks/telephone.py (espeak-ng
  + sox through G.711 with line noise), scored whole (mono) and per channel (stereo); skipped
  with the install hint when they are not rendered and espeak-ng or sox is missing.
WER is benchmarks/metrics.py: Whisper's English normaliser, then jiwer over each set.

    .venv/bin/python -m benchmarks.asr_profiles [--profiles fast,accurate] [--sets ...]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.asr import load_sets
from benchmarks.common import DEFAULT_DATA, ROOT, write_results

SETS = ("ljspeech", "jfk", "ravdess", "pyannote_sample", "samples",
        "ljspeech_ulaw8k", "jfk_ulaw8k", "pyannote_sample_ulaw8k", "ravdess_ulaw8k", "ravdess_line",
        "telephone_mono", "telephone_stereo")
LINE_SNR_DB = 15.0
MU = 255.0


def mu_law(samples: np.ndarray) -> np.ndarray:
    """G.711 mu-law round trip: compand, quantise to 8 bits, expand."""
    x = np.clip(samples, -1.0, 1.0)
    y = np.sign(x) * np.log1p(MU * np.abs(x)) / np.log1p(MU)
    y = np.round(y * 127.0) / 127.0
    return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(MU)) / MU).astype(np.float32)


def telephone_copy(path: Path, folder: Path, snr_db: float | None = None) -> Path:
    """An 8 kHz mu-law copy of ``path`` (mono mix, band-limited by the resampler); with ``snr_db``,
    telephone-band line noise that far under the speech's level is added first (seeded by the name)."""
    import zlib

    import soundfile as sf
    import soxr

    from benchmarks.telephone import active_rms, band_noise

    samples, rate = sf.read(path, dtype="float32", always_2d=True)
    narrow = soxr.resample(samples.mean(axis=1), rate, 8000, quality="HQ")
    if snr_db is not None:
        rng = np.random.default_rng(zlib.crc32(path.name.encode()))
        narrow = narrow + band_noise(len(narrow), 8000, rng) * active_rms(narrow, 8000) / 10 ** (snr_db / 20)
    out = folder / ("line" if snr_db is not None else "ulaw") / f"{path.stem}.wav"
    out.parent.mkdir(exist_ok=True)
    sf.write(out, mu_law(narrow), 8000, subtype="PCM_16")
    return out


def sample_calls(root: Path) -> list[tuple[Path, dict]]:
    truth = json.loads((root / "samples" / "truth.json").read_text())
    out = []
    for name, turns in truth.items():
        path = next((root / "samples").glob(f"{name}.*"))
        refs: dict = {}
        for t in turns:
            key = t["speaker"] if "stereo" in name else None
            refs[key] = (refs.get(key, "") + " " + t["text"]).strip()
        out.append((path, refs))
    return out


def telephone_sets() -> dict[str, list[tuple[Path, dict]]]:
    """The rendered calls of benchmarks/telephone.py, rendered first if needed and possible."""
    from benchmarks import telephone

    if not (telephone.default_cache() / "done").exists() and telephone.missing_tools():
        print(f"telephone sets skipped: {telephone.INSTALL}", file=sys.stderr)
        return {}
    folder = telephone.render_all()
    calls = telephone.load_calls(folder)
    return {"telephone_mono": [(folder / f"{c['call']}.mono.wav", {None: telephone.reference_text(c)})
                               for c in calls],
            "telephone_stereo": [(folder / f"{c['call']}.stereo.wav",
                                  {s: telephone.reference_text(c, s) for s in c["channels"]}) for c in calls]}


def all_sets(data: Path, tmp: Path) -> dict[str, list[tuple[Path, dict]]]:
    found = load_sets(data)
    sets = {"ljspeech": found.get("asr/ljspeech_coqui", []),
            "jfk": [(p, r) for p, r in found.get("asr/faster_whisper", []) if p.stem == "jfk"],
            "ravdess": found.get("emotion/ravdess_subset", []),
            "pyannote_sample": found.get("diarization/pyannote_sample", [])}
    chosen = dict(sets)
    chosen["samples"] = sample_calls(ROOT)
    for name in ("ljspeech", "jfk", "pyannote_sample", "ravdess"):
        chosen[f"{name}_ulaw8k"] = [(telephone_copy(p, tmp), refs) for p, refs in sets[name]]
    chosen["ravdess_line"] = [(telephone_copy(p, tmp, LINE_SNR_DB), refs) for p, refs in sets["ravdess"]]
    chosen.update(telephone_sets())
    return chosen


def intensity(path: Path) -> str:
    return "strong" if path.name.split("-")[3] == "02" else "normal"  # RAVDESS: modality-channel-emotion-INTENSITY-...


def run_profile(profile: str, names: list[str], data: Path, asr: dict | None = None) -> dict:
    """One profile over the sets, in this process (``asr``: a variant, see benchmarks.telephone.asr_stage)."""
    from wocas.io.audio import decode
    from benchmarks.metrics import wer
    from benchmarks.telephone import asr_stage

    started = time.perf_counter()
    stage = asr_stage(profile, asr)
    load_s = time.perf_counter() - started
    out: dict = {"model": stage.entry.name, "load_s": round(load_s, 2), "sets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        sets = all_sets(data, Path(tmp))
        for name in [n for n in names if sets.get(n)]:
            pairs, groups, audio_s, seconds, empty = [], {}, 0.0, 0.0, []
            for path, refs in sets[name]:
                audio = decode(path, 16000)
                channel_map = tuple(k for k in refs if k) if None not in refs else ()
                t0 = time.perf_counter()
                words = []
                for speaker, samples in _channels(audio, channel_map):
                    words += stage.transcribe(samples, speaker)[0]
                seconds += time.perf_counter() - t0
                audio_s += audio.samples.shape[1] / 16000
                for speaker, ref in refs.items():
                    hyp = " ".join(w.text for w in sorted(words, key=lambda w: w.start)
                                   if speaker is None or w.speaker == speaker)
                    pairs.append((ref, hyp))
                    if not hyp.strip():
                        empty.append(f"{path.name}:{speaker}" if speaker else path.name)
                    if name.startswith("ravdess"):
                        groups.setdefault(intensity(path), []).append((ref, hyp))
            out["sets"][name] = {"files": len(sets[name]), "audio_s": round(audio_s, 1), "seconds": round(seconds, 1),
                                 "wer": round(wer(pairs), 4), "empty": empty,
                                 **{f"wer_{k}": round(wer(v), 4) for k, v in sorted(groups.items())}}
            if name == "samples":
                out["sets"][name]["hypotheses"] = [h for _, h in pairs]
            print(profile, name, out["sets"][name]["wer"], f"{seconds:.0f}s", file=sys.stderr, flush=True)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def _channels(audio, channel_map):
    from wocas.stages.transcribe import speaker_channels

    return speaker_channels(audio, channel_map)


def main() -> None:
    from wocas.config import ASR_PROFILES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--profiles", default=",".join(ASR_PROFILES))
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--name", default="asr_profiles", help="results file name (default asr_profiles)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: run one profile, print JSON
    parser.add_argument("--asr", default="{}", help=argparse.SUPPRESS)  # worker: a variant (JSON), not reported
    args = parser.parse_args()
    names = [s for s in args.sets.split(",") if s]
    if args.worker:
        print(json.dumps(run_profile(args.worker, names, args.data, json.loads(args.asr))))
        return
    results = {}
    for profile in [p for p in args.profiles.split(",") if p]:
        done = subprocess.run([sys.executable, "-m", "benchmarks.asr_profiles", "--worker", profile, "--sets",
                               args.sets, "--data", str(args.data)], capture_output=True, text=True, cwd=ROOT)
        sys.stderr.write(done.stderr[-2000:])
        results[profile] = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else \
            {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    base = results.get("fast", {}).get("sets", {})
    rows = []
    for profile, r in results.items():
        if "error" in r:
            rows.append({"profile": profile, "model": "-", "set": "-", "WER": None, "error": r["error"]})
            continue
        for name, s in r["sets"].items():
            ref = base.get(name)
            rows.append({"profile": profile, "model": r["model"], "set": name, "files": s["files"],
                         "audio (s)": s["audio_s"], "WER": s["wer"],
                         "WER strong / normal": (f"{s['wer_strong']:.3f} / {s['wer_normal']:.3f}"
                                                 if "wer_strong" in s else ""),
                         "empty": len(s["empty"]),
                         "x real time": round(s["audio_s"] / s["seconds"], 1) if s["seconds"] else None,
                         "time vs fast": round(s["seconds"] / ref["seconds"], 2) if ref and ref["seconds"] else None,
                         "WER vs fast": round(s["wer"] / ref["wer"], 2) if ref and ref["wer"] else None,
                         "peak RSS (MB)": r["peak_rss_mb"]})
    write_results(args.name, {"profiles": results}, rows, "ASR profiles: WER, speed and memory",
                  "Each profile in its own process, CPU, int8, beam 5, VAD on, transcribe stage only (decode "
                  "excluded from the time). x real time = audio seconds / ASR seconds; 'vs fast' are ratios against "
                  "tiny.en in the same run. WER: Whisper's English normaliser + jiwer (benchmarks/metrics.py). "
                  "*_ulaw8k: 8 kHz G.711 mu-law copies made by the benchmark; ravdess_line: the same with telephone-band "
                  f"line noise {LINE_SNR_DB:g} dB under the speech first. telephone_*: the 20 rendered calls of "
                  "benchmarks/telephone.py (espeak-ng, G.711, line noise; mono whole, stereo per channel). samples: the demo calls "
                  "against samples/truth.json (stereo per channel). The machine's cores were shared with other "
                  "jobs, so the x real time figures are low; the ratios are the comparable part.")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
