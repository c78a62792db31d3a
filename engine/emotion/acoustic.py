"""Acoustic arousal from prosody, relative to the same speaker's own baseline.

Loudness, pitch level and range, spectral brightness (tense voices put more energy in high
frequencies), speaking rate and pauses are measured per stretch of speech. None of them
means anything in absolute terms (a loud line, a high voice), so each becomes a z-score
against the speaker's own baseline: their other turns in the same call, or for acted
corpora their own neutral clips. The weighted mean z-score, squashed, is the arousal.

Pitch uses ``librosa.yin`` rather than ``pyin``: pyin costs 1-2 s per minute of audio,
which alone would break the emotion stage's budget of 10% of the spine's time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FEATURES = ("energy_db", "pitch_st", "pitch_range_st", "brightness", "rate_wps", "pause_share")
# How much each z-score counts towards arousal (pauses count against it).
WEIGHTS = {"energy_db": 0.35, "pitch_st": 0.25, "pitch_range_st": 0.1, "brightness": 0.3,
           "rate_wps": 0.15, "pause_share": -0.1}
# Smallest spread a baseline may claim, so a speaker with two identical turns does not
# turn a tiny difference into a huge z-score.
STD_FLOOR = {"energy_db": 3.0, "pitch_st": 1.5, "pitch_range_st": 1.5, "brightness": 0.15,
             "rate_wps": 0.5, "pause_share": 0.1}
FRAME, HOP = 1024, 512  # 64 ms windows every 32 ms at 16 kHz
PITCH_RATE = 8000  # yin runs on a 2x decimated copy: a quarter of the cost, same 65-450 Hz range


@dataclass(frozen=True)
class Prosody:
    """One stretch of speech. NaN = not measurable (too short, silent, no word timings)."""

    energy_db: float
    pitch_st: float  # median pitch, semitones above 55 Hz
    pitch_range_st: float  # 10th..90th percentile of pitch, semitones
    brightness: float  # median spectral centroid, log2 Hz
    rate_wps: float  # words per second of speech
    pause_share: float  # share of the turn spent between words
    voiced_seconds: float

    def vector(self) -> np.ndarray:
        return np.array([getattr(self, f) for f in FEATURES], dtype=np.float64)


def measure(samples: np.ndarray, sample_rate: int,
            word_spans: Sequence[tuple[float, float]] = ()) -> Prosody:
    """Prosody of one mono stretch (float32 samples); ``word_spans`` in seconds from its start."""
    import librosa

    y = np.asarray(samples, dtype=np.float32)
    rate, pauses = _rate_and_pauses(word_spans)
    if y.size < FRAME * 2:
        return Prosody(*(np.nan,) * 4, rate, pauses, 0.0)
    spec = np.abs(librosa.stft(y, n_fft=FRAME, hop_length=HOP, center=False))  # (513, frames)
    rms = np.sqrt(np.mean(spec ** 2, axis=0) * 2) / FRAME
    db = 20 * np.log10(np.maximum(rms, 1e-10))
    active = (db > db.max() - 30) & (db > -75)
    if active.sum() < 4:
        return Prosody(*(np.nan,) * 4, rate, pauses, 0.0)
    freqs = librosa.fft_frequencies(sr=sample_rate, n_fft=FRAME)
    power = spec[:, active] ** 2
    centroid = (freqs[:, None] * power).sum(0) / np.maximum(power.sum(0), 1e-12)
    f0 = _pitch(y, sample_rate)
    n = min(len(f0), len(db))
    # Loudest half of the active frames: mostly vowels, where yin's pitch is trustworthy.
    loud = active[:n] & (db[:n] >= np.median(db[:n][active[:n]]))
    semitones = 12 * np.log2(f0[:n][loud] / 55.0)
    pitch = float(np.median(semitones)) if semitones.size else np.nan
    spread = float(np.percentile(semitones, 90) - np.percentile(semitones, 10)) if semitones.size >= 4 else np.nan
    return Prosody(
        energy_db=float(np.percentile(db[active], 75)),
        pitch_st=pitch,
        pitch_range_st=spread,
        brightness=float(np.median(np.log2(np.maximum(centroid, 1.0)))),
        rate_wps=rate,
        pause_share=pauses,
        voiced_seconds=float(active.sum() * HOP / sample_rate),
    )


def _pitch(y: np.ndarray, sample_rate: int) -> np.ndarray:
    """yin f0 per frame, on the same 32 ms frame grid as the spectrum."""
    import librosa
    from scipy.signal import resample_poly

    factor = sample_rate // PITCH_RATE if sample_rate % PITCH_RATE == 0 else 1
    if factor > 1:
        y = resample_poly(y, 1, factor).astype(np.float32)
    rate = sample_rate // factor
    return librosa.yin(y, fmin=65, fmax=450, sr=rate, frame_length=FRAME // factor,
                       hop_length=HOP // factor, center=False)


def _rate_and_pauses(word_spans: Sequence[tuple[float, float]]) -> tuple[float, float]:
    if len(word_spans) < 2:
        return np.nan, np.nan
    spans = sorted(word_spans)
    total = spans[-1][1] - spans[0][0]
    if total <= 0.2:
        return np.nan, np.nan
    gaps = sum(max(0.0, b[0] - a[1]) for a, b in zip(spans, spans[1:]))
    return len(spans) / total, gaps / total


@dataclass(frozen=True)
class Baseline:
    mean: np.ndarray  # (len(FEATURES),)
    std: np.ndarray

    @classmethod
    def of(cls, measures: Sequence[Prosody]) -> "Baseline":
        """Median and spread of a speaker's measures; features never measured stay NaN."""
        m = np.array([p.vector() for p in measures]) if measures else np.full((1, len(FEATURES)), np.nan)
        with np.errstate(all="ignore"), _quiet_nan_warnings():
            centre = np.nanmedian(m, axis=0)
            spread = np.nanstd(m, axis=0)
        floor = np.array([STD_FLOOR[f] for f in FEATURES])
        return cls(centre, np.fmax(np.nan_to_num(spread, nan=0.0), floor))


class _quiet_nan_warnings:
    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)


def arousal(measure_: Prosody, baseline: Baseline) -> tuple[float, float]:
    """(arousal in [0, 1], confidence in [0, 1]) of one stretch against its speaker's baseline."""
    z = (measure_.vector() - baseline.mean) / baseline.std
    weights = np.array([WEIGHTS[f] for f in FEATURES])
    ok = np.isfinite(z)
    if not ok.any() or measure_.voiced_seconds < 0.3:
        return 0.5, 0.0
    z = np.clip(z[ok], -4, 4)
    score = float((weights[ok] * z).sum() / np.abs(weights[ok]).sum())
    confidence = float(min(1.0, measure_.voiced_seconds / 2.0) * np.abs(weights[ok]).sum() / np.abs(weights).sum())
    return float(1 / (1 + np.exp(-1.5 * score))), confidence


def arousal_many(measures: Sequence[Prosody], baseline: Baseline | None = None) -> list[tuple[float, float]]:
    """Arousal of each measure; the baseline defaults to the measures themselves (one speaker)."""
    base = baseline or Baseline.of(measures)
    return [arousal(m, base) for m in measures]
