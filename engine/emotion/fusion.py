"""Fusion: one turn's text and sound into ``trust`` in [-1, 1] with a confidence.

Text carries the direction (valence: is this frustration or relief?); sound carries the
intensity (arousal: how strongly is it felt?). So trust is the text valence, its magnitude
scaled up for turns said with more energy than the speaker's usual and down for flatter
ones. Lexicons temper the head: where VADER and the head disagree on sign, confidence drops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FusionWeights:
    lexicon_weight: float = 0.25  # share of VADER's compound in the text valence
    intensity_gain: float = 0.8  # how far sound can stretch or shrink |valence|
    text_arousal_weight: float = 0.5  # share of text arousal when sound is measured


def text_valence(head_valence: np.ndarray, vader_compound: np.ndarray, weights: FusionWeights) -> np.ndarray:
    return (1 - weights.lexicon_weight) * head_valence + weights.lexicon_weight * vader_compound


def fuse(valence: float, text_arousal: float, text_confidence: float, vader: float,
         acoustic_arousal: float | None, acoustic_confidence: float, n_words: int,
         weights: FusionWeights) -> tuple[float, float, float, float]:
    """(valence, arousal, trust, confidence) of one turn."""
    if acoustic_arousal is None or acoustic_confidence <= 0:
        arousal, intensity = text_arousal, 0.0
    else:
        w = weights.text_arousal_weight
        arousal = w * text_arousal + (1 - w) * acoustic_arousal
        intensity = acoustic_confidence * (acoustic_arousal - 0.5) * 2  # -1 flat .. +1 intense
    gain = 1.0 + weights.intensity_gain * 0.5 * intensity
    trust = float(np.tanh(1.6 * valence * gain))  # tanh keeps it in (-1, 1) without a hard edge
    agree = 1.0 if (abs(vader) < 0.05 or np.sign(vader) == np.sign(valence)) else 0.5
    length = min(1.0, 0.4 + n_words / 10)  # "Sure." says little
    confidence = float(np.clip((0.6 * text_confidence + 0.4 * agree) * length
                               + 0.1 * acoustic_confidence, 0.0, 1.0))
    return float(np.clip(valence, -1, 1)), float(np.clip(arousal, 0, 1)), trust, confidence
