"""Stage 2: VAD + ASR with faster-whisper, word timestamps, one pass per speaker channel.

Stereo calls with distinct channels are transcribed channel by channel, so every word
already knows its speaker; near-identical stereo (a mono recording saved as two channels)
and mono calls are transcribed once and left to the diarizer.

Long recordings are transcribed in windows of about ``CHUNK_SECONDS``, cut at the quietest
moment near each boundary, with word times offset back onto the call's clock: faster-whisper
computes the features of everything it is given at once, which for a two-hour call is
gigabytes. Audio shorter than a window goes through in one piece, exactly as before.
On CUDA, ``batch_size = 0`` picks a batch size for faster-whisper's batched pipeline from
the GPU memory that is free when the model loads.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np

from wocas.config import AsrConfig
from wocas.models.registry import resolve
from wocas.kinds import FlagKind
from wocas.schema import Audio, AudioView, CallAnalysis, Flag, Word
from wocas.stages.asr_speech import speech_regions, transcribe_regions
from wocas.stages.base import Stage, file_digest

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


CHUNK_SECONDS = 300.0  # windows of about this length: faster-whisper's features cost ~0.85 MB per second of window
CUT_SEARCH_SECONDS = 10.0  # look this far either side of a window boundary for a quiet cut
MAX_AUTO_BATCH = 64


def free_gpu_bytes() -> int | None:
    """Free memory on the current CUDA device, or None when it cannot be read."""
    try:
        import torch

        if torch.cuda.is_available():
            return int(torch.cuda.mem_get_info()[0])
    except Exception:
        pass
    try:
        import subprocess

        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.free", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        return int(out.split()[0]) * 1024 * 1024
    except Exception:
        return None


def pick_batch_size(free_bytes: int | None, model_bytes: int, beam_size: int) -> int:
    """Windows per GPU batch that fit in free memory: each window in flight holds the
    encoder output and the decoder caches for every beam, which grow with the model. A tenth
    of the weights per beam is conservative: on an H100, large-v3 (float16, beam 5) chose 31
    and peaked at 18 GB of 80 (benchmarks/results/gpu_throughput.md), leaving room for a
    second ASR worker on the same GPU."""
    if not free_bytes:
        return 8
    usable = free_bytes * 0.7 - model_bytes  # weights, CUDA context and allocator slack
    per_window = max(64 << 20, int(model_bytes * 0.1 * max(1, beam_size)))
    return int(max(1, min(MAX_AUTO_BATCH, usable // per_window)))


def chunk_bounds(samples: np.ndarray | AudioView, sample_rate: int, chunk_seconds: float = CHUNK_SECONDS,
                 search_seconds: float = CUT_SEARCH_SECONDS) -> list[tuple[int, int]]:
    """[(start, end)] sample ranges of about ``chunk_seconds`` that cover the audio, each cut
    at the quietest 100 ms near its nominal boundary so no word is split."""
    n = samples.shape[-1]
    size = int(chunk_seconds * sample_rate)
    if n <= size * 1.25:  # a short tail is not worth its own window
        return [(0, n)]
    hop = sample_rate // 10
    bounds, start = [], 0
    while n - start > size * 1.25:
        lo = max(start + hop, start + size - int(search_seconds * sample_rate))
        hi = min(n - hop, start + size + int(search_seconds * sample_rate))
        region = samples[lo:hi]
        frames = region[: (len(region) // hop) * hop].reshape(-1, hop)
        energy = np.square(frames, dtype=np.float64).mean(axis=1)
        cut = lo + int(np.argmin(energy)) * hop + hop // 2
        bounds.append((start, cut))
        start = cut
    bounds.append((start, n))
    return bounds


SPEECH_LEVEL_DBFS = -45.0  # loudest frames above this: the audio has energy worth transcribing
FALLBACK_PEAK = 0.5  # the level the no-VAD retry brings a piece to (Whisper and silero like ~-6 dBFS peaks)


def speech_level_dbfs(samples: np.ndarray | AudioView, sample_rate: int = 16000, block_seconds: float = 60.0) -> float:
    """The level of the loudest 5 % of 30 ms frames, in dBFS: high for any audio with speech
    in it, however much silence surrounds it; low for silence and faint line noise. Read a
    minute at a time, so a whole channel of a long call is never converted at once."""
    hop = max(1, int(0.03 * sample_rate))
    usable = (len(samples) // hop) * hop
    if usable == 0:
        return -120.0
    size = hop * max(1, int(block_seconds * sample_rate) // hop)
    rms = np.concatenate([
        np.sqrt(np.mean(np.square(np.asarray(samples[i:min(i + size, usable)]).reshape(-1, hop).astype(np.float64)),
                        axis=1))
        for i in range(0, usable, size)])
    return float(20 * np.log10(max(float(np.quantile(rms, 0.95)), 1e-6)))


def at_level(samples: np.ndarray, peak: float = FALLBACK_PEAK) -> np.ndarray:
    """``samples`` scaled so their peak is ``peak`` (clipped audio stays clipped, but no quieter)."""
    top = float(np.max(np.abs(samples))) if samples.size else 0.0
    return (samples * (peak / top)).astype(np.float32) if top > 0 else samples


@lru_cache(maxsize=4)
def load_whisper(path: str, device: str, compute_type: str, cpu_threads: int):
    from wocas.models.libraries import prepare_model_libraries

    prepare_model_libraries(torchaudio=False)  # CTranslate2: no torch, no torchaudio
    from faster_whisper import WhisperModel

    return WhisperModel(path, device=device, compute_type=compute_type, cpu_threads=cpu_threads)


def speaker_channels(audio: Audio, channel_map: tuple[str, ...]) -> list[tuple[str | None, AudioView]]:
    """[(speaker, samples)] to transcribe: one per distinct channel, or one mono mix (speaker
    None). Each is an ``AudioView``: float32 is produced window by window as ASR reads it."""
    if audio.num_channels == 1:
        return [(None, audio.channel(0))]
    if not channel_map and channels_are_duplicates(audio.pcm):
        return [(None, audio.mix())]
    labels = channel_map or tuple(f"ch{i}" for i in range(audio.num_channels))
    return [(labels[i], audio.channel(i)) for i in range(audio.num_channels)]


def channels_are_duplicates(samples: np.ndarray, threshold: float = 0.9, max_points: int = 2_000_000) -> bool:
    """True when every channel is (nearly) the same signal, e.g. mono saved as stereo.

    Judged on an evenly strided subsample: full-length centred copies of a two-hour
    recording would cost ~0.5 GB for a yes/no answer."""
    step = max(1, samples.shape[1] // max_points)
    view = samples[:, ::step].astype(np.float64)
    ref = view[0] - view[0].mean()
    for other in view[1:]:
        other = other - other.mean()
        denom = float(np.linalg.norm(ref) * np.linalg.norm(other))
        if denom == 0 or float(np.dot(ref, other)) / denom < threshold:
            return False
    return True


class TranscribeStage(Stage):
    name = "transcribe"
    requires = frozenset({"audio"})
    provides = frozenset({"asr_words"})
    audio_only = True

    def __init__(self, options: AsrConfig, threads: int = 0):
        self.options = options
        self.threads = options.cpu_threads or threads  # both 0: CTranslate2 decides
        self.entry = resolve(options.model)
        self.device = pick_device(options.device)
        self.compute_type = pick_compute_type(options.compute_type, self.device)
        self.batch_size = options.batch_size
        self._model = None
        self.batched = None

    @property
    def model(self):
        """The Whisper model, loaded on first use: a worker that only ever sees transcripts
        (or a Ray task that runs other stages) never pays for it."""
        if self._model is None:
            self._model = load_whisper(str(self.entry.path), self.device, self.compute_type, self.threads)
            if self.batch_size == 0 and self.device == "cuda":
                model_bytes = sum(f.stat().st_size for f in self.entry.path.glob("*.bin"))
                self.batch_size = pick_batch_size(free_gpu_bytes(), model_bytes, self.options.beam_size)
                log.info("ASR batch size %d chosen from free GPU memory", self.batch_size)
            if self.batch_size > 0:
                from faster_whisper import BatchedInferencePipeline

                self.batched = BatchedInferencePipeline(self._model)
        return self._model

    def warm_up(self) -> None:
        self.model  # noqa: B018 - the property loads the model

    # ``device`` and ``compute_type`` count through their resolved values (in ``identity``): "auto"
    # and "cpu" on a CPU machine are the same run. ``batch_size`` stays: the batched pipeline
    # segments audio differently from the sequential one.
    scheduling = frozenset({"cpu_threads", "device", "compute_type"})

    @classmethod
    def identity(cls, section, encoder) -> str:
        section = section or AsrConfig()
        entry = resolve(section.model)
        device = pick_device(section.device)
        compute_type = pick_compute_type(section.compute_type, device)
        return f"{entry.name}:{file_digest(entry.path / 'config.json')}:{device}:{compute_type}"

    @classmethod
    def results_settings(cls, section) -> dict:
        """The section's settings, less ``vad_widen`` when off: the words are then the VAD filter's,
        so a store transcribed before the field existed keeps its version."""
        settings = super().results_settings(section)
        if not settings.get("vad_widen"):
            settings.pop("vad_widen", None)
        return settings

    def version(self) -> str:
        return self.version_for(self.options)

    def transcribe(self, samples: np.ndarray | AudioView, speaker: str | None,
                   sample_rate: int = 16000) -> tuple[list[Word], str | None]:
        """Words of one channel, window by window for long audio, on the call's clock (only
        the window being transcribed exists as float32)."""
        words: list[Word] = []
        language = None
        for start, end in chunk_bounds(samples, sample_rate):
            chunk_words, language = self._transcribe_piece(samples[start:end], speaker, start / sample_rate)
            words.extend(chunk_words)
        return words, language

    def _transcribe_piece(self, samples: np.ndarray, speaker: str | None,
                          offset: float) -> tuple[list[Word], str | None]:
        model = self.model
        opts = self.options
        kwargs = dict(language=opts.language, beam_size=opts.beam_size, word_timestamps=True,
                      vad_filter=opts.vad_filter)
        if self.batched is not None:
            segments, info = self.batched.transcribe(samples, batch_size=self.batch_size, **kwargs)
        elif opts.vad_filter and opts.vad_widen:  # silero's regions widened over the sound next to them
            segments, info = transcribe_regions(model, samples, speech_regions(samples),
                                                condition_on_previous_text=opts.condition_on_previous_text, **kwargs)
        else:
            segments, info = model.transcribe(
                samples, condition_on_previous_text=opts.condition_on_previous_text, **kwargs)
        words = self._words(segments, speaker, offset)
        level = speech_level_dbfs(samples) if not words and opts.vad_filter and opts.vad_fallback else None
        if level is not None and level > SPEECH_LEVEL_DBFS:
            # Silero keeps nothing of some shouted, clipped, whispered or 8 kHz speech (its
            # probability never reaches the threshold), and faster-whisper then returns no
            # segment at all, silently. Retry the piece whole, at a standard level, with
            # Whisper's own no-speech and log-probability checks as the only gate.
            log.info("VAD kept no speech in a piece at %.0f dBFS; transcribing it without VAD", level)
            segments, info = model.transcribe(at_level(samples), condition_on_previous_text=False,
                                              **{**kwargs, "vad_filter": False})
            words = self._words(segments, speaker, offset)
        return words, info.language

    @staticmethod
    def _words(segments, speaker: str | None, offset: float) -> list[Word]:
        return [
            Word(text=w.word.strip(), start=round(w.start + offset, 3), end=round(max(w.end, w.start) + offset, 3),
                 probability=round(w.probability, 4), speaker=speaker)
            for segment in segments for w in (segment.words or []) if w.word.strip()
        ]

    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        assert call.audio is not None
        words: list[Word] = []
        language = None
        unheard: list[str] = []  # channels with speech energy that gave no word
        for speaker, samples in speaker_channels(call.audio, call.call.channels):
            channel_words, language = self.transcribe(samples, speaker, call.audio.sample_rate)
            words.extend(channel_words)
            if not channel_words and speech_level_dbfs(samples, call.audio.sample_rate) > SPEECH_LEVEL_DBFS:
                unheard.append(speaker or "mono")
        words.sort(key=lambda w: (w.start, w.end))
        if unheard:  # never silent: the reviewer sees that words may be missing
            reason = f"no words from {', '.join(unheard)}, which has speech energy"
            log.warning("call %s: %s", call.call_id, reason)
            call = call.replace(flags=(*call.flags, Flag(kind=FlagKind.ASR_NO_WORDS, severity=45, reason=reason)))
        return call.replace(asr_words=tuple(words), language=language)
