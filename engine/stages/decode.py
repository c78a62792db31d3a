"""Stage 1: decode the recording, resample to 16 kHz, keep channels apart."""

from __future__ import annotations

from engine.audio import decode
from engine.config import AudioConfig
from engine.schema import CallAnalysis
from engine.stages.base import Stage


class DecodeStage(Stage):
    name = "decode"
    requires = frozenset({"call"})
    provides = frozenset({"audio"})
    audio_only = True

    def __init__(self, options: AudioConfig):
        self.options = options

    def version(self) -> str:
        return f"sr{self.options.sample_rate}"

    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        audio = decode(call.call.source, self.options.sample_rate,
                       max_duration=self.options.max_duration_hours * 3600,
                       min_rms_dbfs=self.options.min_rms_dbfs)
        channels = call.call.channels
        if channels and len(channels) != audio.num_channels and audio.num_channels > 1:
            raise ValueError(f"{call.call.source}: the channel map names {len(channels)} channels "
                             f"({','.join(channels)}) but the recording has {audio.num_channels}")
        return call.model_copy(update={
            "audio": audio, "duration": audio.duration, "num_channels": audio.num_channels,
            "sample_rate": audio.original_sample_rate,
        })
