"""Speech detection without torch: silero's ONNX model run on numpy (wocas.diarizers.vad) must
give the timestamps silero's own functions give, and its model file must match its pin."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from wocas.diarizers.vad import load_vad, speech_probs, speech_regions, speech_timestamps
from wocas.models import registry
from wocas.models.registry import ModelDamaged, ModelNotFound, pinned_package_file


def channels(samples_dir):
    for name in ("delivery-mono-16k.flac", "billing-stereo-8k.flac"):
        audio, rate = sf.read(samples_dir / name, dtype="float32")
        for channel in ([audio] if audio.ndim == 1 else [audio[:, 0], audio[:, 1]]):
            yield name, channel, rate


@pytest.mark.parametrize("threshold,min_speech", [(0.5, 0.2), (0.35, 0.1), (0.2, 0.25), (0.8, 0.5)])
def test_timestamps_from_probabilities_are_silero_s(samples_dir, threshold, min_speech):
    from silero_vad import get_speech_timestamps_from_probs

    for name, channel, rate in channels(samples_dir):
        probs = speech_probs(load_vad().session, channel, rate)
        expected = get_speech_timestamps_from_probs(
            probs, sampling_rate=rate, threshold=threshold, min_speech_duration_ms=int(min_speech * 1000),
            min_silence_duration_ms=100, return_seconds=True, audio_length_samples=len(channel))
        got = speech_timestamps(probs, len(channel), rate, threshold, min_speech)
        assert got == [(s["start"], s["end"]) for s in expected], name
        assert len(got) >= 3


def test_speech_regions_are_silero_s_get_speech_timestamps(samples_dir):
    """End to end against silero's own path (its torch wrapper over the same ONNX file)."""
    import torch
    from silero_vad import get_speech_timestamps, load_silero_vad

    audio, rate = sf.read(samples_dir / "delivery-mono-16k.flac", dtype="float32")
    expected = get_speech_timestamps(torch.from_numpy(audio), load_silero_vad(onnx=True), threshold=0.5,
                                     sampling_rate=rate, min_speech_duration_ms=200, min_silence_duration_ms=100,
                                     return_seconds=True)
    assert speech_regions(audio, rate) == [(s["start"], s["end"]) for s in expected]


def test_silence_and_a_pure_tone_hold_no_speech():
    rate = 16000
    t = np.arange(5 * rate) / rate
    assert speech_regions(np.zeros(5 * rate, dtype=np.float32), rate) == []
    assert speech_regions((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate) == []


def test_other_rates_are_resampled_first(samples_dir):
    import librosa

    audio, rate = sf.read(samples_dir / "delivery-mono-16k.flac", dtype="float32")
    at_22k = librosa.resample(audio, orig_sr=rate, target_sr=22050)
    a, b = speech_regions(audio, rate), speech_regions(at_22k, 22050)
    assert abs(len(a) - len(b)) <= 1
    assert abs(sum(e - s for s, e in a) - sum(e - s for s, e in b)) < 1.0


def test_a_packaged_weight_is_checked_against_its_pin(tmp_path, monkeypatch):
    package = tmp_path / "fake_vad_pkg"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("raise ImportError('never imported')\n")
    (package / "data" / "model.onnx").write_bytes(b"weights")
    monkeypatch.syspath_prepend(str(tmp_path))
    import hashlib

    good = hashlib.sha256(b"weights").hexdigest()
    entries = {"ok": {"kind": "vad", "package": "fake_vad_pkg", "files": {"data/model.onnx": good}},
               "bad": {"kind": "vad", "package": "fake_vad_pkg", "files": {"data/model.onnx": "0" * 64}},
               "gone": {"kind": "vad", "package": "no_such_pkg_here", "files": {"data/model.onnx": good}},
               "lost": {"kind": "vad", "package": "fake_vad_pkg", "files": {"data/other.onnx": good}},
               "unpinned": {"kind": "vad", "package": "fake_vad_pkg"}}
    monkeypatch.setattr(registry, "_registry", lambda: entries)
    monkeypatch.setenv("WOCAS_CACHE", str(tmp_path / "cache"))
    assert pinned_package_file("ok", "data/model.onnx") == package / "data" / "model.onnx"
    with pytest.raises(ModelDamaged, match="not the pinned"):
        pinned_package_file("bad", "data/model.onnx")
    with pytest.raises(ModelNotFound, match="'no_such_pkg_here' is not installed"):
        pinned_package_file("gone", "data/model.onnx")
    with pytest.raises(ModelNotFound, match="is missing"):
        pinned_package_file("lost", "data/other.onnx")
    with pytest.raises(ModelDamaged, match="no sha256 pin"):
        pinned_package_file("unpinned", "data/model.onnx")
