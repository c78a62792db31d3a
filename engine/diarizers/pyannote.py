"""pyannote.audio diarization from a local pipeline checkpoint (an optional extra).

pyannote.audio is imported only when a diarizer is built, so the engine runs without it;
the checkpoint is read from a local path and nothing is ever downloaded.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from engine.schema import SpeakerSegment

log = logging.getLogger(__name__)


class PyannoteDiarizer:
    def __init__(self, checkpoint_path: str | Path, num_speakers: int | None = None,
                 min_speakers: int | None = None, max_speakers: int | None = None):
        path = Path(checkpoint_path).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"pyannote checkpoint not found: {path} (diarization.pyannote_path "
                                    "must name a local pipeline directory or config.yaml)")
        try:
            from pyannote.audio import Pipeline
        except ImportError as e:
            raise ImportError("diarization.backend = 'pyannote' needs the optional pyannote.audio package "
                              "(install the project's 'pyannote' extra), or use backend = 'embedded'") from e
        self.num_speakers = num_speakers
        self.min_speakers = min_speakers
        self.max_speakers = max_speakers
        self.pipeline = Pipeline.from_pretrained(str(path))
        if self.pipeline is None:  # older pyannote versions return None instead of raising
            raise RuntimeError(f"pyannote.audio could not load a pipeline from {path}")

    def __call__(self, samples: np.ndarray, sample_rate: int) -> list[SpeakerSegment]:
        import torch

        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"pyannote diarizer needs mono samples, got shape {samples.shape}")
        waveform = torch.from_numpy(samples).unsqueeze(0)  # (1, n)
        kwargs = {}
        if self.num_speakers is not None:
            kwargs["num_speakers"] = self.num_speakers
        else:
            if self.min_speakers is not None:
                kwargs["min_speakers"] = self.min_speakers
            if self.max_speakers is not None:
                kwargs["max_speakers"] = self.max_speakers
        output = self.pipeline({"waveform": waveform, "sample_rate": sample_rate}, **kwargs)
        # pyannote.audio 4 returns a DiarizeOutput; 3.x returns the Annotation itself
        annotation = getattr(output, "exclusive_speaker_diarization", None) or getattr(
            output, "speaker_diarization", output)
        segments = [SpeakerSegment(speaker=str(label), start=round(turn.start, 3), end=round(turn.end, 3))
                    for turn, _, label in annotation.itertracks(yield_label=True)]
        return sorted(segments, key=lambda s: (s.start, s.end))
