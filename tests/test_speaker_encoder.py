"""The speaker encoder through ONNX Runtime: the export must give resemblyzer's d-vectors (on a
random-weight network built here and on the shipped weights), be cached, and leave a later
process's mono diarization free of torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wocas.diarizers import speaker_encoder
from wocas.diarizers.embedded import mel_frames
from wocas.diarizers.speaker_encoder import EMBEDDING_SIZE, MEL_CHANNELS, SpeakerEncoder, export_voice_encoder

ROOT = Path(__file__).resolve().parent.parent


def resemblyzer_vectors(weights, mels: np.ndarray) -> np.ndarray:
    import torch
    from resemblyzer import VoiceEncoder

    encoder = VoiceEncoder(device="cpu", verbose=False, weights_fpath=weights).eval()
    with torch.inference_mode():
        return encoder(torch.from_numpy(mels)).numpy()


def test_the_constants_are_resemblyzer_s():
    from resemblyzer import hparams

    assert (MEL_CHANNELS, EMBEDDING_SIZE) == (hparams.mel_n_channels, hparams.model_embedding_size)


def test_a_random_weight_encoder_exports_with_the_same_output(tmp_path):
    import torch
    from resemblyzer import VoiceEncoder

    torch.manual_seed(0)
    weights = tmp_path / "random.pt"
    net = VoiceEncoder(device="cpu", verbose=False, weights_fpath=speaker_encoder.pinned_package_file(
        "resemblyzer", "pretrained.pt"))
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.2)
    torch.save({"model_state": net.state_dict()}, weights)
    export_voice_encoder(weights, tmp_path / "random.onnx")
    mels = np.random.default_rng(1).random((3, 137, MEL_CHANNELS), dtype=np.float32)  # frames unlike the trace's
    got = SpeakerEncoder(tmp_path / "random.onnx").embed(mels)
    assert got.shape == (3, EMBEDDING_SIZE)
    np.testing.assert_allclose(got, resemblyzer_vectors(weights, mels), atol=1e-4)
    assert not np.allclose(got, SpeakerEncoder(speaker_encoder.export_path()).embed(mels), atol=1e-2)


def test_the_shipped_encoder_gives_resemblyzer_s_vectors_on_speech(samples_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("WOCAS_CACHE", str(tmp_path))
    path = speaker_encoder.export_path()
    assert path.parent == tmp_path / "onnx"
    stamp = path.stat().st_mtime_ns
    assert speaker_encoder.export_path() == path and path.stat().st_mtime_ns == stamp  # cached, not exported again
    audio, rate = sf.read(samples_dir / "delivery-mono-16k.flac", dtype="float32")
    mel = mel_frames(audio * 10)
    mels = np.stack([mel[s:s + 160] for s in range(100, 2000, 160)])
    got = SpeakerEncoder(path).embed(mels)
    expected = resemblyzer_vectors(speaker_encoder.pinned_package_file("resemblyzer", "pretrained.pt"), mels)
    assert np.abs(got - expected).max() < 1e-4
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


MONO_DIARIZATION = """
import json, sys
import soundfile as sf
from wocas.diarizers.embedded import EmbeddedDiarizer
audio, rate = sf.read(sys.argv[1], dtype="float32")
segments = EmbeddedDiarizer()(audio, rate)
print(json.dumps({"speakers": sorted({s.speaker for s in segments}),
                  "modules": sorted(m for m in ("torch", "resemblyzer", "silero_vad") if m in sys.modules)}))
"""


def test_a_mono_call_is_diarized_without_torch_once_the_graph_is_cached(samples_dir):
    speaker_encoder.export_path()  # the test process's cache is the subprocess's
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.run([sys.executable, "-c", MONO_DIARIZATION, str(samples_dir / "delivery-mono-16k.flac")],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["modules"] == []
    assert len(result["speakers"]) == 2


def test_an_unwritable_cache_is_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("WOCAS_CACHE", str(blocker))
    with pytest.raises(speaker_encoder.OnnxExportError, match="WOCAS_CACHE"):
        speaker_encoder.export_path()
