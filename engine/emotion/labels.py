"""Where each emotion label sits on the two axes the engine uses.

Valence in [-1, 1] (unpleasant .. pleasant) and arousal in [0, 1] (calm .. intense), placed
by hand from Russell's circumplex and the NRC VAD lexicon's values for the label words,
then nudged for a contact centre: gratitude and relief are the strongest signs of trust,
annoyance and disappointment the commonest signs of frustration, and remorse is nearly
neutral because on a call it is almost always an apology ("sorry to hear that"), not distress. Model outputs become
(valence, arousal) as the probability-weighted mean of their labels' places.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from wocas.errors import ConfigError

# GoEmotions' 28 labels (ids 0..27 in emotions.txt order).
GOEMOTIONS: dict[str, tuple[float, float]] = {
    "admiration": (0.7, 0.5), "amusement": (0.6, 0.6), "anger": (-0.9, 0.9), "annoyance": (-0.7, 0.65),
    "approval": (0.5, 0.35), "caring": (0.6, 0.4), "confusion": (-0.3, 0.5), "curiosity": (0.1, 0.5),
    "desire": (0.3, 0.6), "disappointment": (-0.7, 0.4), "disapproval": (-0.6, 0.5),
    "disgust": (-0.85, 0.7), "embarrassment": (-0.5, 0.55), "excitement": (0.7, 0.85),
    "fear": (-0.7, 0.8), "gratitude": (0.9, 0.45), "grief": (-0.9, 0.4), "joy": (0.85, 0.7),
    "love": (0.85, 0.6), "nervousness": (-0.5, 0.7), "optimism": (0.6, 0.5), "pride": (0.6, 0.55),
    "realization": (0.1, 0.45), "relief": (0.75, 0.3), "remorse": (-0.1, 0.35), "sadness": (-0.75, 0.3),
    "surprise": (0.1, 0.8), "neutral": (0.0, 0.25),
}

# Labels common in other text/speech emotion models (MELD/Ekman, RAVDESS-style SER, sentiment).
COMMON: dict[str, tuple[float, float]] = {
    **GOEMOTIONS,
    "happy": (0.8, 0.65), "happiness": (0.8, 0.65), "angry": (-0.9, 0.9), "sad": (-0.75, 0.3),
    "fearful": (-0.7, 0.8), "surprised": (0.1, 0.8), "calm": (0.3, 0.1), "disgusted": (-0.85, 0.7),
    "frustrated": (-0.75, 0.7), "frustration": (-0.75, 0.7), "excited": (0.7, 0.85),
    "positive": (0.7, 0.5), "negative": (-0.7, 0.55), "neu": (0.0, 0.25), "hap": (0.8, 0.65),
    "ang": (-0.9, 0.9), "sad_": (-0.75, 0.3), "fea": (-0.7, 0.8), "sur": (0.1, 0.8), "dis": (-0.85, 0.7),
}


class LabelMapError(ConfigError, KeyError):
    pass


def resolve_label_map(labels: list[str], overrides: Mapping[str, tuple[float, float]] | None,
                      model: str) -> np.ndarray:
    """(n_labels, 2) array of (valence, arousal) for a model's labels; unknown labels are an error."""
    table = {**COMMON, **{k.lower(): tuple(v) for k, v in (overrides or {}).items()}}
    rows, missing = [], []
    for label in labels:
        key = label.lower()
        if key not in table:
            missing.append(label)
            continue
        valence, arousal = table[key]
        rows.append((float(valence), float(arousal)))
    if missing:
        raise LabelMapError(
            f"model {model}: no valence/arousal for labels {missing}; add them to the config's "
            "label map, e.g. [emotion.text_label_map] LABEL = [valence, arousal]")
    return np.asarray(rows, dtype=np.float32)


def project(probs: np.ndarray, places: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Probability-weighted (valence, arousal) per row; ``probs`` (n, k), ``places`` (k, 2)."""
    weights = probs / np.clip(probs.sum(axis=1, keepdims=True), 1e-9, None)
    va = weights @ places  # (n, 2)
    return va[:, 0], va[:, 1]
