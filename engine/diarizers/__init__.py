"""Diarizers: who spoke when, from a mono waveform.

A diarizer is any callable ``(samples, sample_rate) -> list[SpeakerSegment]``; the embedded
one needs only packaged models, the pyannote one loads a local checkpoint. ``samples`` is a
float32 array or an ``AudioView`` (the call's int16 audio, read as float32 in slices); the embedded
diarizer reads an AudioView block by block, and ``np.asarray(view)`` gives a whole copy.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from wocas.schema import SpeakerSegment


class Diarizer(Protocol):
    def __call__(self, samples: np.ndarray, sample_rate: int) -> list[SpeakerSegment]:
        ...
