"""Decode any recording to float32 at 16 kHz, keeping its channels apart.

Mono and stereo go through faster-whisper's own decoder (PyAV), so ASR sees exactly what
bare faster-whisper would; recordings with more channels go through soundfile + soxr. Every
failure is an ``AudioError`` that names the file and says what is wrong with it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from wocas.schema import Audio
from wocas.errors import InputError

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".mp4", ".webm"})
MIN_SAMPLE_RATE = 4000


class AudioError(InputError):
    """A recording that cannot be analysed; the message names the file and the reason."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def read_info(path: Path) -> tuple[int, int, float]:
    """(sample_rate, channels, duration) without decoding, for the size checks."""
    try:
        info = sf.info(str(path))
        return info.samplerate, info.channels, info.duration
    except Exception:
        import av

        try:
            with av.open(str(path)) as container:
                stream = container.streams.audio[0]
                duration = float(container.duration or 0) / 1e6
                return stream.rate, stream.channels, duration
        except Exception as e:
            raise AudioError(path, f"corrupt or truncated audio, could not be decoded ({type(e).__name__})") from e


def _decode_soundfile(path: Path) -> tuple[np.ndarray, int]:
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)  # (samples, channels)
    return data.T, rate


def _decode_pyav(path: Path, channels: int, sample_rate: int) -> np.ndarray:
    """Decode with PyAV exactly as faster-whisper's ``decode_audio`` does (s16, resampled to
    16 kHz, mono or stereo), so ASR sees what bare faster-whisper sees. faster-whisper ends each
    decode with a full ``gc.collect()``, which costs ~0.2 s per file in a process holding torch
    and transformers; a young-generation collection frees the resampler's cycles just as well."""
    import gc
    import io
    import itertools

    import av

    layout = "stereo" if channels == 2 else "mono"
    resampler = av.audio.resampler.AudioResampler(format="s16", layout=layout, rate=sample_rate)
    buffer = io.BytesIO()
    with av.open(str(path), mode="r", metadata_errors="ignore") as container:
        fifo = av.audio.fifo.AudioFifo()

        def grouped():
            for frame in container.decode(audio=0):
                frame.pts = None
                fifo.write(frame)
                if fifo.samples >= 500_000:
                    yield fifo.read()
            if fifo.samples > 0:
                yield fifo.read()

        for frame in itertools.chain(grouped(), [None]):
            for out in resampler.resample(frame):
                buffer.write(out.to_ndarray())
    del resampler
    gc.collect(1)
    audio = np.frombuffer(buffer.getbuffer(), dtype=np.int16).astype(np.float32) / 32768.0
    if channels == 2:
        return np.stack([audio[0::2], audio[1::2]])
    return audio[None, :]


def decode(path: str | Path, sample_rate: int = 16000, max_duration: float | None = None,
           min_rms_dbfs: float = -70.0) -> Audio:
    """Decode, check and resample one recording. Raises ``AudioError`` on bad input."""
    path = Path(path)
    if not path.exists():
        raise AudioError(path, "file does not exist")
    if path.stat().st_size == 0:
        raise AudioError(path, "file is empty (0 bytes)")
    suffix = path.suffix.lower()
    if suffix not in AUDIO_SUFFIXES:
        raise AudioError(path, f"unsupported file type {suffix or '(none)'!r}; "
                               f"expected one of {', '.join(sorted(AUDIO_SUFFIXES))}")
    rate, channels, duration = read_info(path)
    if max_duration is not None and duration > max_duration:
        raise AudioError(path, f"recording is {duration / 3600:.1f} h long, over the "
                               f"{max_duration / 3600:.1f} h limit (audio.max_duration_hours)")
    if rate < MIN_SAMPLE_RATE:
        raise AudioError(path, f"sample rate {rate} Hz is too low (minimum {MIN_SAMPLE_RATE} Hz)")
    original_rate = rate
    try:
        if channels <= 2:
            samples, rate = _decode_pyav(path, channels, sample_rate), sample_rate
        else:
            samples, rate = _decode_soundfile(path)
    except Exception as e:
        raise AudioError(path, f"corrupt or truncated audio, could not be decoded ({type(e).__name__}: {e})") from e
    if samples.shape[1] == 0:
        raise AudioError(path, "recording has zero length (no samples)")
    if not np.isfinite(samples).all():
        raise AudioError(path, "recording contains NaN or infinite samples")
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    if rms <= 10 ** (min_rms_dbfs / 20):
        raise AudioError(path, f"recording is silent (RMS {20 * np.log10(max(rms, 1e-12)):.0f} dBFS)")
    if rate != sample_rate:
        samples = soxr.resample(samples.T, rate, sample_rate, quality="HQ").T.astype(np.float32)
    return Audio(samples=np.ascontiguousarray(samples), sample_rate=sample_rate, original_sample_rate=original_rate)
