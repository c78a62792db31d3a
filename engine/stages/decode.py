"""Stage 1: decode the recording, resample to 16 kHz, keep channels apart.

Long recordings are read and resampled block by block into one preallocated int16 array, so
a two-hour call never exists whole as float, nor at its original rate (about 2.5 GB for
stereo float32 at 44.1 kHz); only the 16 kHz int16 result does (0.23 GB per channel-hour).
Short ones take the one-shot path, which also writes int16 straight into the call's array.
Calls longer than ``[run] spool_audio_minutes`` are written to a temporary file in the run's
work area instead of memory (``wocas.io.spool``), so memory stays flat in call length.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from wocas.io.audio import (AUDIO_SUFFIXES, MIN_SAMPLE_RATE, AudioError, PcmBuffer, decode, read_info,
                            truncation_warning)
from wocas.config import AudioConfig, RunConfig
from wocas.kinds import FlagKind
from wocas.schema import Audio, CallAnalysis, Flag
from wocas.stages.base import Stage

log = logging.getLogger(__name__)

STREAM_OVER_SECONDS = 20 * 60.0  # decode longer recordings block by block
BLOCK_SECONDS = 30.0


def decode_streaming(path: str, sample_rate: int, max_duration: float, min_rms_dbfs: float,
                     spool: str | Path | None = None) -> Audio | None:
    """Block-wise decode + resample of a long file libsndfile can read; None if it cannot.
    With ``spool`` (a folder) the samples go to a temporary file there, not to memory."""
    import soundfile as sf

    try:
        info = sf.info(path)
    except Exception:
        return None
    if info.duration > max_duration:
        raise AudioError(path, f"recording is {info.duration / 3600:.1f} h long, over the "
                               f"{max_duration / 3600:.1f} h limit (audio.max_duration_hours)")
    rate, channels = info.samplerate, info.channels
    if rate < MIN_SAMPLE_RATE:
        raise AudioError(path, f"sample rate {rate} Hz is too low (minimum {MIN_SAMPLE_RATE} Hz)")
    out = PcmBuffer(channels, int(np.ceil(info.frames * sample_rate / rate)) + sample_rate, spool)
    try:
        return _stream_into(path, out, rate, channels, sample_rate, min_rms_dbfs)
    except BaseException:
        out.close()
        raise


def _stream_into(path: str, out: PcmBuffer, rate: int, channels: int, sample_rate: int,
                 min_rms_dbfs: float) -> Audio:
    import soundfile as sf
    import soxr

    stream = soxr.ResampleStream(rate, sample_rate, channels, dtype="float32", quality="HQ") \
        if rate != sample_rate else None
    energy = 0.0
    with sf.SoundFile(path) as f:
        while True:
            block = f.read(int(BLOCK_SECONDS * rate), dtype="float32", always_2d=True)  # (samples, channels)
            last = len(block) == 0
            if stream is not None:
                block = stream.resample_chunk(block, last=last)
            if len(block):
                if not np.isfinite(block).all():
                    raise AudioError(path, "recording contains NaN or infinite samples")
                energy += float(np.square(block, dtype=np.float64).sum())
                out.append(block)
            if last:
                break
    if out.filled == 0:
        raise AudioError(path, "recording has zero length (no samples)")
    rms = float(np.sqrt(energy / (out.filled * channels)))
    if rms <= 10 ** (min_rms_dbfs / 20):
        raise AudioError(path, f"recording is silent (RMS {20 * np.log10(max(rms, 1e-12)):.0f} dBFS)")
    return Audio(pcm=out.result(), sample_rate=sample_rate, original_sample_rate=rate)


def declared_seconds(path: str) -> float:
    """The recording's length from its header; 0 when it cannot be read (the one-shot path
    then gives the precise error)."""
    p = Path(path)
    if not p.is_file() or p.stat().st_size == 0 or p.suffix.lower() not in AUDIO_SUFFIXES:
        return 0.0
    try:
        return read_info(p)[2]
    except AudioError:
        return 0.0


def spool_folder(run: RunConfig | None) -> Path:
    """Where spooled calls' temporary files go: ``[run] spool_dir``, else the system's temp folder."""
    import tempfile

    return Path(run.spool_dir) if run is not None and run.spool_dir else Path(tempfile.gettempdir())


class DecodeStage(Stage):
    name = "decode"
    requires = frozenset({"call"})
    provides = frozenset({"audio"})
    audio_only = True

    def __init__(self, options: AudioConfig, run: RunConfig | None = None):
        self.options = options
        self.run = run  # spooling settings (they change no result, so no version)

    def version(self) -> str:
        return self.version_for(self.options)

    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        max_duration = self.options.max_duration_hours * 3600
        audio = None
        seconds = declared_seconds(call.call.source)
        spool_minutes = self.run.spool_audio_minutes if self.run is not None else 0.0
        spool = spool_folder(self.run) if spool_minutes and seconds > spool_minutes * 60 else None
        if seconds > STREAM_OVER_SECONDS:
            audio = decode_streaming(call.call.source, self.options.sample_rate, max_duration,
                                     self.options.min_rms_dbfs, spool)
        if audio is None:
            audio = decode(call.call.source, self.options.sample_rate, max_duration=max_duration,
                           min_rms_dbfs=self.options.min_rms_dbfs, spool=spool)
        try:
            return self._checked(call, audio)
        except BaseException:
            audio.release()
            raise

    def _checked(self, call: CallAnalysis, audio: Audio) -> CallAnalysis:
        channels = call.call.channels
        if channels and len(channels) != audio.num_channels and audio.num_channels > 1:
            raise AudioError(call.call.source, f"the channel map names {len(channels)} channels "
                                               f"({','.join(channels)}) but the recording has {audio.num_channels}")
        warnings: list[Flag] = []
        truncated = truncation_warning(call.call.source, audio.duration)
        if truncated:
            warnings.append(Flag(kind=FlagKind.TRUNCATED_AUDIO, severity=40, reason=truncated))
        if channels and audio.num_channels == 1:
            warnings.append(Flag(kind=FlagKind.CHANNEL_MAP_IGNORED, severity=30, reason=(
                f"{call.call.source}: the channel map ({','.join(channels)}) was ignored: the "
                f"recording is mono, so speakers and roles are inferred from the audio")))
        warnings += silent_channels(call.call.source, audio, channels, self.options.min_rms_dbfs)
        return with_warnings(call, warnings).replace(
            audio=audio, duration=audio.duration, num_channels=audio.num_channels,
            sample_rate=audio.original_sample_rate,
        )


def silent_channels(source: str, audio: Audio, channels: tuple[str, ...], min_rms_dbfs: float) -> list[Flag]:
    """A warning for each channel of a multi-channel recording with no sound in it (the file as
    a whole has some, or decoding would have refused it)."""
    if audio.num_channels < 2:
        return []
    out = []
    for i in range(audio.num_channels):
        view = audio.channel(i)  # read a minute at a time: a long call is never copied whole
        power = sum(float(np.square(block, dtype=np.float64).sum()) for _, block in view.blocks(60 * audio.sample_rate))
        rms = float(np.sqrt(power / len(view))) if len(view) else 0.0
        if rms <= 10 ** (min_rms_dbfs / 20):
            name = f"channel {i + 1}" + (f" ({channels[i]})" if i < len(channels) else "")
            out.append(Flag(kind=FlagKind.SILENT_CHANNEL, severity=40, reason=(
                f"{source}: {name} is silent (RMS {20 * np.log10(max(rms, 1e-12)):.0f} dBFS): one party "
                f"was not recorded, so only the other channel is analysed")))
    return out


def with_warnings(call: CallAnalysis, warnings: list[Flag]) -> CallAnalysis:
    """The call with each warning recorded: as a flag (the review queue shows it), its message
    in the call's ``metadata["warnings"]`` and in ``error`` (``calls.error``: why the analysis
    is limited). The call stays ok."""
    if not warnings:
        return call
    for flag in warnings:
        log.warning("call %s: %s", call.call_id, flag.reason)
    metadata = {**call.call.metadata,
                "warnings": [*call.call.metadata.get("warnings", []), *(f.reason for f in warnings)]}
    error = "; ".join([*([call.error] if call.error else []), *(f.reason for f in warnings)])
    return call.replace(call=call.call.replace(metadata=metadata), flags=(*call.flags, *warnings), error=error)
