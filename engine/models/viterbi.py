"""The best-scoring label path through per-step scores and label-to-label transition scores."""

from __future__ import annotations

import numpy as np


def best_path(scores: np.ndarray, transitions: np.ndarray) -> np.ndarray:
    """Viterbi: ``scores`` (steps, labels), ``transitions`` (from, to), added; the label per step."""
    n = len(scores)
    back = np.zeros((n, scores.shape[1]), dtype=np.int64)
    best = scores[0].copy()
    for i in range(1, n):
        cand = best[:, None] + transitions
        back[i] = cand.argmax(axis=0)
        best = cand.max(axis=0) + scores[i]
    path = np.zeros(n, dtype=np.int64)
    path[-1] = int(best.argmax())
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path
