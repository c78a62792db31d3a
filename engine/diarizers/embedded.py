"""The embedded diarizer: silero-vad speech regions, resemblyzer d-vectors on short sliding
windows, clustering into speakers, and frame-level smoothing."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from engine.schema import SpeakerSegment

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbeddedDiarizerOptions:
    num_speakers: int | None = 2
    min_speakers: int = 1
    max_speakers: int = 4
    frame: float = 0.1  # seconds per decision frame
    rate: float = 4.0  # resemblyzer partial windows per second
    min_speech: float = 0.25


@lru_cache(maxsize=1)
def load_vad():
    import torch
    threads = torch.get_num_threads()
    from silero_vad import load_silero_vad

    model = load_silero_vad(onnx=True)
    torch.set_num_threads(threads)  # importing silero_vad pins torch to one thread
    return model


@lru_cache(maxsize=1)
def load_encoder():
    from resemblyzer import VoiceEncoder

    return VoiceEncoder(device="cpu", verbose=False)


def speech_regions(samples: np.ndarray, sample_rate: int) -> list[tuple[float, float]]:
    import torch
    from silero_vad import get_speech_timestamps

    stamps = get_speech_timestamps(torch.from_numpy(samples.astype(np.float32)), load_vad(),
                                   sampling_rate=sample_rate, return_seconds=True)
    return [(float(s["start"]), float(s["end"])) for s in stamps]


class EmbeddedDiarizer:
    def __init__(self, options: EmbeddedDiarizerOptions = EmbeddedDiarizerOptions()):
        self.options = options

    def __call__(self, samples: np.ndarray, sample_rate: int) -> list[SpeakerSegment]:
        opts = self.options
        regions = [r for r in speech_regions(samples, sample_rate) if r[1] - r[0] >= opts.min_speech]
        if not regions:
            return []
        encoder = load_encoder()
        _, partials, slices = encoder.embed_utterance(samples.astype(np.float32), return_partials=True,
                                                      rate=opts.rate, min_coverage=0.5)
        # slices are in mel frames of 10 ms; window centre times in seconds
        centres = np.array([(s.start + s.stop) / 2 * 0.01 for s in slices])
        labels = self.cluster(partials)
        n_frames = int(np.ceil(len(samples) / sample_rate / opts.frame))
        times = (np.arange(n_frames) + 0.5) * opts.frame
        nearest = np.abs(times[:, None] - centres[None, :]).argmin(axis=1)
        frame_labels = labels[nearest]
        speech = np.zeros(n_frames, dtype=bool)
        for start, end in regions:
            speech[int(start / opts.frame):int(np.ceil(end / opts.frame))] = True
        return frames_to_segments(frame_labels, speech, opts.frame)

    def cluster(self, embeddings: np.ndarray) -> np.ndarray:
        from sklearn.cluster import AgglomerativeClustering

        n = self.options.num_speakers or 2
        if len(embeddings) <= n:
            return np.arange(len(embeddings))
        return AgglomerativeClustering(n_clusters=n, metric="cosine", linkage="average").fit_predict(embeddings)


def frames_to_segments(labels: np.ndarray, speech: np.ndarray, frame: float) -> list[SpeakerSegment]:
    segments: list[SpeakerSegment] = []
    current, start = None, 0
    for i in range(len(labels) + 1):
        label = labels[i] if i < len(labels) and speech[i] else None
        if label != current:
            if current is not None:
                segments.append(SpeakerSegment(speaker=f"SPEAKER_{int(current):02d}",
                                               start=round(start * frame, 3), end=round(i * frame, 3)))
            current, start = label, i
    return segments
