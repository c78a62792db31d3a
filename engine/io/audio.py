"""Decode any recording to float32 at 16 kHz, keeping its channels apart.

Mono and stereo go through faster-whisper's own decoder (PyAV), so ASR sees exactly what
bare faster-whisper would; recordings with more channels go through soundfile + soxr. Every
failure is an ``AudioError`` that names the file and says what is wrong with it.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from wocas.errors import InputError
from wocas.schema import Audio
from wocas.errors import InputError

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".mp4", ".webm"})
MIN_SAMPLE_RATE = 4000
NOT_AUDIO = "not a decodable audio file (corrupt, truncated or not audio at all)"
# A recording whose decoded length falls short of what its header declares by more than this
# is called truncated (MP3s without a Xing header only estimate their length, hence the slack).
TRUNCATION_TOLERANCE = (0.5, 0.02)  # seconds, share of the declared length


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
        rate, channels, duration = info.samplerate, info.channels, info.duration
    except Exception:
        import av

        try:
            with av.open(str(path)) as container:
                stream = container.streams.audio[0]
                duration = float(container.duration or 0) / 1e6
                rate, channels = stream.rate, stream.channels
        except Exception as e:
            raise AudioError(path, f"{NOT_AUDIO}, could not be decoded ({type(e).__name__})") from e
    if not rate or not channels or rate < 0 or channels < 0:
        # random bytes can pass a demuxer's probe and come back as a stream of 0 Hz, 0 channels
        raise AudioError(path, f"{NOT_AUDIO}: no audio stream found in it")
    return rate, channels, duration


def _wav_data_seconds(path: Path) -> tuple[float, float] | None:
    """(declared, present) seconds of a PCM WAV's data chunk from its header, or None when the
    header does not say (not a RIFF/WAVE file, or a size left unknown by a streaming recorder).
    libsndfile quietly clamps a truncated WAV to the bytes present, so the header is read here."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        byte_rate = 0
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            kind, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if kind == b"fmt ":
                fmt = f.read(length + (length & 1))
                if len(fmt) < 12:
                    return None
                byte_rate = struct.unpack("<I", fmt[8:12])[0]
            elif kind == b"data":
                if not byte_rate or length in (0, 0xFFFFFFFF):
                    return None
                present = min(length, size - f.tell())
                return length / byte_rate, present / byte_rate
            else:
                f.seek(length + (length & 1), 1)


def declared_duration(path: str | Path) -> float | None:
    """The length a recording's header declares, in seconds, or None when it declares none."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".wav":
            wav = _wav_data_seconds(path)
            if wav is not None:
                return wav[0]
        return read_info(path)[2] or None
    except (OSError, AudioError):
        return None


def truncation_warning(path: str | Path, decoded_seconds: float) -> str | None:
    """A warning when fewer seconds were decoded than the header declares (a file cut short by a
    crashed recorder or an interrupted copy), else None. The call is still analysed."""
    declared = declared_duration(path)
    if declared is None:
        return None
    slack, share = TRUNCATION_TOLERANCE
    if declared - decoded_seconds > max(slack, share * declared):
        return (f"{path}: truncated audio: the header declares {declared:.2f} s "
                f"but only {decoded_seconds:.2f} s could be decoded")
    return None


def check_float_samples(path: Path, block_frames: int = 1 << 20) -> None:
    """Refuse NaN or infinite samples in a float file. The PyAV path converts to 16-bit integers,
    where a NaN becomes an ordinary number, so float files are checked before that, block by block."""
    try:
        info = sf.info(str(path))
    except Exception:
        return
    if info.subtype not in ("FLOAT", "DOUBLE"):
        return  # integer formats cannot hold NaN
    with sf.SoundFile(str(path)) as f:
        for block in f.blocks(block_frames, dtype="float32", always_2d=True):
            if not np.isfinite(block).all():
                raise AudioError(path, "recording contains NaN or infinite samples")


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
    audio = np.frombuffer(buffer.getbuffer(), dtype=np.int16).astype(np.float32)
    del buffer
    audio *= 1.0 / 32768.0  # in place: one float32 copy of the call, not two
    if channels == 2:
        return np.ascontiguousarray(audio.reshape(-1, 2).T)
    return audio[None, :]


def rms_of(samples: np.ndarray, block: int = 1 << 20) -> float:
    """Root mean square over all channels, block by block: a float64 square of a whole call
    would be four times the size of the decoded call itself."""
    flat = samples.reshape(-1)
    energy = sum(float(np.dot(flat[i:i + block].astype(np.float64), flat[i:i + block].astype(np.float64)))
                 for i in range(0, len(flat), block))
    return float(np.sqrt(energy / max(len(flat), 1)))


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
    if channels <= 2:
        check_float_samples(path)
    try:
        if channels <= 2:
            samples, rate = _decode_pyav(path, channels, sample_rate), sample_rate
        else:
            samples, rate = _decode_soundfile(path)
    except Exception as e:
        raise AudioError(path, f"{NOT_AUDIO}, could not be decoded ({type(e).__name__}: {e})") from e
    if samples.shape[1] == 0:
        raise AudioError(path, "recording has zero length (no samples)")
    if not np.isfinite(samples).all():
        raise AudioError(path, "recording contains NaN or infinite samples")
    rms = rms_of(samples)
    if rms <= 10 ** (min_rms_dbfs / 20):
        raise AudioError(path, f"recording is silent (RMS {20 * np.log10(max(rms, 1e-12)):.0f} dBFS)")
    if rate != sample_rate:
        samples = soxr.resample(samples.T, rate, sample_rate, quality="HQ").T.astype(np.float32)
    return Audio(samples=np.ascontiguousarray(samples), sample_rate=sample_rate, original_sample_rate=original_rate)
