"""Decode any recording to 16 kHz int16 PCM, keeping its channels apart.

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
from wocas.io.spool import PcmFile
from wocas.schema import PCM_SCALE, Audio, to_pcm16

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


def compact(buffer: np.ndarray, filled: int) -> np.ndarray:
    """(channels, filled) C-contiguous view of a (channels, capacity) buffer, its rows moved
    in place block by block: a copy of a stereo two-hour call would double its memory."""
    channels, capacity = buffer.shape
    if channels == 1 or filled == capacity:
        return buffer[:, :filled]
    flat = buffer.reshape(-1)
    step = 1 << 20
    for c in range(1, channels):
        for i in range(0, filled, step):
            n = min(step, filled - i)
            flat[c * filled + i:c * filled + i + n] = flat[c * capacity + i:c * capacity + i + n]
    return flat[: channels * filled].reshape(channels, filled)


class PcmBuffer:
    """int16 samples (channels, n) appended block by block into one array sized from the
    declared length (grown if the file runs longer), so no second whole-call copy exists.
    With ``spool`` (a folder) the blocks go to a ``PcmFile`` there instead of memory."""

    def __init__(self, channels: int, expected: int, spool: str | Path | None = None):
        self.file = PcmFile(channels, spool) if spool is not None else None
        self.data = np.empty((channels, max(expected, 1) if self.file is None else 0), dtype=np.int16)
        self.filled = 0

    def close(self) -> None:
        """Drop a spooled buffer's file (decoding failed)."""
        if self.file is not None:
            self.file.close()

    def append(self, block: np.ndarray) -> None:
        """``block``: (samples, channels), int16 or float in [-1, 1]."""
        n = len(block)
        if self.file is not None:
            self.file.append(block if block.dtype == np.int16 else to_pcm16(block))
            self.filled += n
            return
        if self.filled + n > self.data.shape[1]:
            grown = np.empty((self.data.shape[0], max(self.filled + n, int(self.data.shape[1] * 1.5))), np.int16)
            grown[:, :self.filled] = self.data[:, :self.filled]
            self.data = grown
        if block.dtype != np.int16:
            block = to_pcm16(block)
        self.data[:, self.filled:self.filled + n] = block.T
        self.filled += n

    def result(self) -> np.ndarray | PcmFile:
        if self.file is not None:
            return self.file
        if self.filled < self.data.shape[1] // 2:  # far shorter than declared: do not hold the rest
            return np.ascontiguousarray(self.data[:, :self.filled])
        return compact(self.data, self.filled)


def _decode_pyav(path: Path, channels: int, sample_rate: int, expected_seconds: float = 0.0,
                 spool: str | Path | None = None) -> np.ndarray | PcmFile:
    """Decode with PyAV exactly as faster-whisper's ``decode_audio`` does (s16, resampled to
    16 kHz, mono or stereo), so ASR sees what bare faster-whisper sees; the int16 samples go
    straight into the call's buffer, shape (channels, samples). faster-whisper ends each
    decode with a full ``gc.collect()``, which costs ~0.2 s per file in a process holding torch
    and transformers; a young-generation collection frees the resampler's cycles just as well.
    With ``spool`` (a folder) the samples go to a ``PcmFile`` there."""
    width = 2 if channels == 2 else 1
    layout = "stereo" if width == 2 else "mono"
    out = PcmBuffer(width, int(expected_seconds * sample_rate) + sample_rate, spool)
    try:
        _pyav_into(path, out, width, layout, sample_rate)
    except BaseException:
        out.close()
        raise
    return out.result()


def _pyav_into(path: Path, out: PcmBuffer, width: int, layout: str, sample_rate: int) -> None:
    import gc
    import itertools

    import av

    resampler = av.audio.resampler.AudioResampler(format="s16", layout=layout, rate=sample_rate)
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
            for resampled in resampler.resample(frame):
                out.append(resampled.to_ndarray().reshape(-1, width))
    del resampler
    gc.collect(1)


def rms_of(samples: np.ndarray, block: int = 1 << 20) -> float:
    """Root mean square over all channels (int16 PCM read as [-1, 1)), block by block: a
    float64 square of a whole call would be four times the size of the call itself."""
    if isinstance(samples, PcmFile):
        energy = sum(float(np.dot(part, part)) for b in samples.blocks(block)
                     for part in [b.reshape(-1).astype(np.float64)])
        return float(np.sqrt(energy / max(samples.size, 1))) * PCM_SCALE
    flat = samples.reshape(-1)
    scale = PCM_SCALE if samples.dtype == np.int16 else 1.0
    energy = 0.0
    for i in range(0, len(flat), block):
        part = flat[i:i + block].astype(np.float64)
        energy += float(np.dot(part, part))
    return float(np.sqrt(energy / max(len(flat), 1))) * scale


def decode(path: str | Path, sample_rate: int = 16000, max_duration: float | None = None,
           min_rms_dbfs: float = -70.0, spool: str | Path | None = None) -> Audio:
    """Decode, check and resample one recording. Raises ``AudioError`` on bad input. With
    ``spool`` (a folder) the int16 result is kept in a ``PcmFile`` there, not in memory."""
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
            samples, rate = _decode_pyav(path, channels, sample_rate, duration, spool), sample_rate
        else:
            samples, rate = _decode_soundfile(path)
    except Exception as e:
        raise AudioError(path, f"{NOT_AUDIO}, could not be decoded ({type(e).__name__}: {e})") from e
    try:
        return _checked(path, samples, rate, sample_rate, original_rate, min_rms_dbfs, spool)
    except BaseException:
        if isinstance(samples, PcmFile):
            samples.close()
        raise


def _checked(path: Path, samples: np.ndarray | PcmFile, rate: int, sample_rate: int, original_rate: int,
             min_rms_dbfs: float, spool: str | Path | None) -> Audio:
    if samples.shape[1] == 0:
        raise AudioError(path, "recording has zero length (no samples)")
    if samples.dtype != np.int16 and not np.isfinite(samples).all():  # int16 cannot hold NaN
        raise AudioError(path, "recording contains NaN or infinite samples")
    rms = rms_of(samples)
    if rms <= 10 ** (min_rms_dbfs / 20):
        raise AudioError(path, f"recording is silent (RMS {20 * np.log10(max(rms, 1e-12)):.0f} dBFS)")
    if rate != sample_rate:
        samples = soxr.resample(samples.T, rate, sample_rate, quality="HQ").T
    if isinstance(samples, PcmFile):
        return Audio(pcm=samples, sample_rate=sample_rate, original_sample_rate=original_rate)
    pcm = samples if samples.dtype == np.int16 else to_pcm16(np.ascontiguousarray(samples))
    if spool is not None:  # many channels, decoded whole by soundfile: spooled once checked
        out = PcmFile(pcm.shape[0], spool)
        for start in range(0, pcm.shape[1], 1 << 20):
            out.append(pcm[:, start:start + (1 << 20)].T)
        return Audio(pcm=out, sample_rate=sample_rate, original_sample_rate=original_rate)
    return Audio(pcm=np.ascontiguousarray(pcm), sample_rate=sample_rate, original_sample_rate=original_rate)
