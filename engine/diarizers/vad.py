"""Speech detection: silero-vad's packaged ONNX model, run by ONNX Runtime without torch.

The ``silero_vad`` package imports torch (about 2 s of a cold start on a 2-core machine)
although its ONNX model and its timestamp logic need none. So the model file is found in the
installed package without importing it, checked against its pin in ``models/registry.toml``,
and run on numpy arrays; the per-window probabilities turn into speech timestamps with
silero's own rules (``speech_timestamps``). tests/test_vad.py holds both to silero's functions
on real calls: the probabilities and the timestamps are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from wocas.models.registry import pinned_package_file
from wocas.schema import AudioView

VAD_MODEL = "silero-vad"
VAD_FILE = "data/silero_vad.onnx"  # the file silero's load_silero_vad(onnx=True) opens
VAD_BLOCK_WINDOWS = 1875  # silero windows read per block: 60 s at 16 kHz
SPEECH_PAD_MS = 30  # silero's default padding of each speech region


@dataclass(frozen=True)
class SileroVad:
    session: object  # onnxruntime.InferenceSession


@lru_cache(maxsize=1)
def load_vad() -> SileroVad:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # one 512-sample window per run: threads only add overhead
    options.inter_op_num_threads = 1
    path = pinned_package_file(VAD_MODEL, VAD_FILE)
    return SileroVad(ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]))


def speech_probs(session, samples: np.ndarray | AudioView, sample_rate: int) -> list[float]:
    """Silero's per-window speech probabilities at 8 or 16 kHz: its ONNX session run directly
    on numpy arrays, with the state and context its ``OnnxWrapper`` keeps (the last 64 or 32
    samples before each window, the last window zero-padded), so the inputs, and the
    probabilities, are the wrapper's. The audio is read a minute at a time."""
    window = 512 if sample_rate == 16000 else 256
    context_size = 64 if sample_rate == 16000 else 32
    state = np.zeros((2, 1, 128), dtype=np.float32)
    x = np.zeros((1, context_size + window), dtype=np.float32)  # [context | window]
    rate = np.array(sample_rate, dtype="int64")
    total = len(samples)
    probs: list[float] = []
    for start in range(0, total, window * VAD_BLOCK_WINDOWS):
        block = np.ascontiguousarray(samples[start:start + window * VAD_BLOCK_WINDOWS], dtype=np.float32)
        for i in range(0, len(block), window):
            chunk = block[i:i + window]
            x[0, :context_size] = x[0, -context_size:]
            x[0, context_size:context_size + len(chunk)] = chunk
            x[0, context_size + len(chunk):] = 0.0
            out, state = session.run(None, {"input": x, "state": state, "sr": rate})
            probs.append(out.item())
    return probs


def speech_timestamps(probs: list[float], audio_length: int, sample_rate: int, threshold: float,
                      min_speech: float, min_silence: float = 0.1) -> list[tuple[float, float]]:
    """Speech regions in seconds from per-window probabilities, by silero's rules (its
    ``get_speech_timestamps_from_probs`` with no maximum speech length): speech starts at a
    window >= ``threshold``, ends after ``min_silence`` s below ``threshold - 0.15``; regions of
    at most ``min_speech`` s are dropped; each is padded by 30 ms (half the gap when two are
    closer than 60 ms) and rounded to 0.1 s."""
    window = 512 if sample_rate == 16000 else 256
    min_speech_samples = sample_rate * int(min_speech * 1000) / 1000
    min_silence_samples = sample_rate * int(min_silence * 1000) / 1000
    pad = sample_rate * SPEECH_PAD_MS / 1000
    neg_threshold = max(threshold - 0.15, 0.01)
    regions: list[list[int]] = []
    start: int | None = None
    silence_from = 0
    for i, p in enumerate(probs):
        here = window * i
        if p >= threshold:
            silence_from = 0
            if start is None:
                start = here
                continue
        if p < neg_threshold and start is not None:
            if not silence_from:
                silence_from = here
            if here - silence_from < min_silence_samples:
                continue
            if silence_from - start > min_speech_samples:
                regions.append([start, silence_from])
            start, silence_from = None, 0
    if start is not None and audio_length - start > min_speech_samples:
        regions.append([start, audio_length])
    for i, region in enumerate(regions):
        if i == 0:
            region[0] = int(max(0, region[0] - pad))
        if i < len(regions) - 1:
            gap = regions[i + 1][0] - region[1]
            if gap < 2 * pad:
                region[1] += int(gap // 2)
                regions[i + 1][0] = int(max(0, regions[i + 1][0] - gap // 2))
            else:
                region[1] = int(min(audio_length, region[1] + pad))
                regions[i + 1][0] = int(max(0, regions[i + 1][0] - pad))
        else:
            region[1] = int(min(audio_length, region[1] + pad))
    seconds = audio_length / sample_rate
    return [(max(round(a / sample_rate, 1), 0), min(round(b / sample_rate, 1), seconds)) for a, b in regions]


def speech_regions(samples: np.ndarray | AudioView, sample_rate: int, threshold: float = 0.5,
                   min_speech: float = 0.2) -> list[tuple[float, float]]:
    """Silero's speech timestamps, in seconds, for 8 or 16 kHz audio (other rates are resampled
    to 16 kHz first). Computed as ``get_speech_timestamps`` does (512-sample windows, one model
    state across the call) but reading the audio a minute at a time: no whole-call copy."""
    if sample_rate not in (8000, 16000):
        import librosa

        samples = librosa.resample(np.asarray(samples, dtype=np.float32), orig_sr=sample_rate, target_sr=16000)
        sample_rate = 16000
    probs = speech_probs(load_vad().session, samples, sample_rate)
    return speech_timestamps(probs, len(samples), sample_rate, threshold, min_speech)
