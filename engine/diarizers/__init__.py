"""Diarizers: who spoke when, from a mono waveform.

A diarizer is any callable ``(samples, sample_rate) -> list[SpeakerSegment]``; the embedded
one needs only packaged models, the pyannote one loads a local checkpoint.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from wocas.schema import SpeakerSegment


class Diarizer(Protocol):
    def __call__(self, samples: np.ndarray, sample_rate: int) -> list[SpeakerSegment]:
        ...
