"""Stage 2: VAD + ASR with faster-whisper, word timestamps, one pass per speaker channel.

Stereo calls with distinct channels are transcribed channel by channel, so every word
already knows its speaker; near-identical stereo (a mono recording saved as two channels)
and mono calls are transcribed once and left to the diarizer.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache

import numpy as np

from engine.config import AsrConfig
from engine.registry import resolve
from engine.schema import Audio, CallAnalysis, Word
from engine.stages.base import Stage

log = logging.getLogger(__name__)


def pick_device(device: str) -> str:
    if device != "auto":
        return device
    try:
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except Exception:
        return "cpu"


def pick_compute_type(compute_type: str, device: str) -> str:
    if compute_type != "auto":
        return compute_type
    return "float16" if device == "cuda" else "int8"


@lru_cache(maxsize=4)
def load_whisper(path: str, device: str, compute_type: str, cpu_threads: int):
    from faster_whisper import WhisperModel

    return WhisperModel(path, device=device, compute_type=compute_type, cpu_threads=cpu_threads)


def speaker_channels(audio: Audio, channel_map: tuple[str, ...]) -> list[tuple[str | None, np.ndarray]]:
    """[(speaker, samples)] to transcribe: one per distinct channel, or one mono mix (speaker None)."""
    if audio.num_channels == 1:
        return [(None, audio.samples[0])]
    if not channel_map and channels_are_duplicates(audio.samples):
        return [(None, audio.mono())]
    labels = channel_map or tuple(f"ch{i}" for i in range(audio.num_channels))
    return [(labels[i], audio.samples[i]) for i in range(audio.num_channels)]


def channels_are_duplicates(samples: np.ndarray, threshold: float = 0.9) -> bool:
    """True when every channel is (nearly) the same signal, e.g. mono saved as stereo."""
    ref = samples[0] - samples[0].mean()
    for other in samples[1:]:
        other = other - other.mean()
        denom = float(np.linalg.norm(ref) * np.linalg.norm(other))
        if denom == 0 or float(np.dot(ref, other)) / denom < threshold:
            return False
    return True


class TranscribeStage(Stage):
    name = "transcribe"
    requires = frozenset({"audio"})
    provides = frozenset({"words"})
    audio_only = True

    def __init__(self, options: AsrConfig):
        self.options = options
        self.entry = resolve(options.model)
        self.device = pick_device(options.device)
        self.compute_type = pick_compute_type(options.compute_type, self.device)
        threads = options.cpu_threads or int(os.environ.get("WOCAS_THREADS", "0"))
        self.model = load_whisper(str(self.entry.path), self.device, self.compute_type, threads)
        self.batched = None
        if options.batch_size > 0:
            from faster_whisper import BatchedInferencePipeline

            self.batched = BatchedInferencePipeline(self.model)

    def version(self) -> str:
        return f"{self.entry.name}:{self.compute_type}:beam{self.options.beam_size}"

    def transcribe(self, samples: np.ndarray, speaker: str | None) -> tuple[list[Word], str | None]:
        opts = self.options
        kwargs = dict(language=opts.language, beam_size=opts.beam_size, word_timestamps=True,
                      vad_filter=opts.vad_filter)
        if self.batched is not None:
            segments, info = self.batched.transcribe(samples, batch_size=opts.batch_size, **kwargs)
        else:
            segments, info = self.model.transcribe(
                samples, condition_on_previous_text=opts.condition_on_previous_text, **kwargs)
        words = [
            Word(text=w.word.strip(), start=round(w.start, 3), end=round(max(w.end, w.start), 3),
                 probability=round(w.probability, 4), speaker=speaker)
            for segment in segments for w in (segment.words or []) if w.word.strip()
        ]
        return words, info.language

    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        assert call.audio is not None
        words: list[Word] = []
        language = None
        for speaker, samples in speaker_channels(call.audio, call.call.channels):
            channel_words, language = self.transcribe(samples, speaker)
            words.extend(channel_words)
        words.sort(key=lambda w: (w.start, w.end))
        return call.model_copy(update={"words": tuple(words), "language": language})
