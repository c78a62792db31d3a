"""The ASR stage's speech regions: silero's, widened over the voiced sound next to them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from wocas.config import AsrConfig
from wocas.stages.asr_speech import speech_regions, transcribe_regions, widen_regions

RATE = 16000


def voiced(seconds: float, db: float, seed: int = 0) -> np.ndarray:
    """A buzz with a pitch and harmonics at ``db`` dBFS mean power: loud like a voice, not a voice."""
    t = np.arange(int(seconds * RATE)) / RATE
    x = sum(np.sin(2 * np.pi * f0 * t) / k for k, f0 in enumerate((140, 280, 420, 560), start=1))
    x = x / np.sqrt(np.mean(x ** 2)) * 10 ** (db / 20)
    return (x + np.random.default_rng(seed).normal(0, 1e-5, len(x))).astype(np.float32)


def silence(seconds: float, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1e-5, int(seconds * RATE)).astype(np.float32)  # -100 dBFS


def test_a_region_is_widened_over_the_loud_sound_just_before_it_and_no_further():
    audio = np.concatenate([silence(1.0), voiced(1.5, -20), voiced(1.0, -20, seed=3), silence(1.0)])
    region = [{"start": int(2.0 * RATE), "end": int(3.5 * RATE)}]  # silero caught only the last 1.5 s
    widened = widen_regions(audio, region)
    assert len(widened) == 1 and region[0]["end"] <= widened[0]["end"] <= 3.95 * RATE  # the sound ends at 3.5 s
    assert 0.55 * RATE <= widened[0]["start"] <= 1.0 * RATE  # it starts at 1.0 s; 0.4 s of margin
    # a loud sound after a long pause is not pulled in: loudness alone never starts speech
    far = np.concatenate([voiced(0.5, -20), silence(1.5), voiced(1.5, -20)])
    region = [{"start": int(2.0 * RATE), "end": len(far)}]
    assert widen_regions(far, region) == region


def test_nothing_is_widened_in_noise_or_when_nothing_was_found():
    noisy = voiced(3.0, -20) + np.random.default_rng(2).normal(0, 10 ** (-30 / 20), int(3.0 * RATE)).astype(np.float32)
    region = [{"start": int(2.0 * RATE), "end": int(3.0 * RATE)}]
    assert widen_regions(noisy, region) == region  # floor within 25 dB of the speech: the noise may be the sound
    assert widen_regions(voiced(2.0, -20), []) == []


def test_overlapping_widened_regions_merge():
    audio = np.concatenate([silence(0.5), voiced(3.0, -20), silence(0.5)])
    regions = [{"start": int(0.8 * RATE), "end": int(1.2 * RATE)}, {"start": int(2.5 * RATE), "end": int(3.0 * RATE)}]
    [merged] = widen_regions(audio, regions)
    assert abs(merged["start"] - 0.1 * RATE) <= 512 and abs(merged["end"] - 3.9 * RATE) <= 1024


def sad_strong_clip(data_dir: Path) -> np.ndarray:
    """'Dogs are sitting by the door', sad, strong intensity, actor 4: silero scores its first
    second of speech 0.1-0.25, under its 0.5 threshold."""
    x, rate = sf.read(data_dir / "emotion/ravdess_subset/03-01-04-02-02-01-04.wav", dtype="float32")
    return soxr.resample(x, rate, RATE).astype(np.float32)


def test_the_words_silero_misses_at_the_start_are_transcribed(data_dir: Path):
    from wocas.stages.transcribe import TranscribeStage

    samples = sad_strong_clip(data_dir)
    text = lambda widen: " ".join(w.text for w in TranscribeStage(  # noqa: E731
        AsrConfig(device="cpu", vad_widen=widen)).transcribe(samples, None)[0]).lower()
    assert "dogs" not in text(False) and "by the door" in text(False)  # the failure: the first words lost
    assert "dogs are sitting by the door" in text(True)


def test_where_nothing_is_widened_the_words_are_the_vad_filters(data_dir: Path):
    from wocas.stages.transcribe import TranscribeStage

    x, rate = sf.read(data_dir / "asr/ljspeech_coqui/LJ001-0002.flac", dtype="float32")
    samples = soxr.resample(x, rate, RATE).astype(np.float32)
    assert speech_regions(samples) == speech_regions(samples, widen=False)
    model = TranscribeStage(AsrConfig(device="cpu")).model
    options = dict(language="en", beam_size=5, word_timestamps=True)
    ours, _ = transcribe_regions(model, samples, speech_regions(samples), **options)
    theirs, _ = model.transcribe(samples, vad_filter=True, **options)
    as_words = lambda segments: [(w.word, round(w.start, 3), round(w.end, 3)) for s in segments for w in s.words]  # noqa: E731
    assert as_words(ours) == as_words(list(theirs)) and as_words(ours)


def test_vad_widen_counts_in_the_asr_version_only_when_on():
    from wocas.stages.transcribe import TranscribeStage

    assert AsrConfig().vad_widen is False  # opt-in: its adoption rule failed (benchmarks/results/asr_vad_widen.md)
    assert TranscribeStage.version_for(AsrConfig(vad_widen=True)) != TranscribeStage.version_for(AsrConfig())
    # off, the words are the VAD filter's: a store transcribed before the field existed keeps its version
    assert "vad_widen" not in TranscribeStage.results_settings(AsrConfig())
