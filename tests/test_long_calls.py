"""Long calls in bounded memory: the diarizer's embeddings are computed block by block with
the same result as in one piece, and the count estimate and clustering run on a bounded
sample, so their memory does not grow with the number of windows."""

from __future__ import annotations

import tracemalloc

import numpy as np
import soundfile as sf

from wocas.diarizers.embedded import (EmbeddedDiarizerOptions, cluster, embed_call, embed_windows, mel_frames,
                                      speech_gain, speech_regions, window_spans)


def test_streamed_embeddings_match_the_whole_call(data_dir):
    samples, sr = sf.read(data_dir / "calls_synthetic/dialogue_60s_mono16k.flac", dtype="float32")
    regions = speech_regions(samples, sr)
    spans = window_spans(regions, 1.2, 0.2, 0.4)
    gain = speech_gain(samples, regions)
    whole = embed_windows(mel_frames((samples * gain).astype(np.float32)), spans)
    streamed = embed_call(samples, spans, gain, block=7.0)
    assert len(spans) > 100
    np.testing.assert_allclose(streamed, whole, atol=2e-4)


def windows(n: int, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n unit vectors around k speaker centres, in runs of 30 (one speech region each)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, 256))
    truth = np.repeat(rng.integers(0, k, size=n // 30 + 1), 30)[:n]
    emb = (centres[truth] + 0.6 * rng.normal(size=(n, 256))).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    return emb, truth, np.arange(n) // 30


def peak_bytes(n: int) -> tuple[int, np.ndarray, np.ndarray]:
    emb, truth, groups = windows(n)
    tracemalloc.start()
    labels = cluster(emb, EmbeddedDiarizerOptions(num_speakers=None, max_cluster_windows=1500), groups)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, labels, truth


def test_count_and_clustering_memory_does_not_grow_with_the_call():
    small, _, _ = peak_bytes(6_000)
    large, labels, truth = peak_bytes(48_000)  # ~3 h of speech at one window per 0.2 s
    per_window = 256 * 8 * 3  # a few O(n) arrays (scores against centroids, labels) are fine
    assert large < small + (48_000 - 6_000) * per_window, (small, large)
    assert len(np.unique(labels)) == 3
    agreement = sum(np.bincount(labels[truth == t]).max() for t in range(3)) / len(truth)
    assert agreement > 0.98
