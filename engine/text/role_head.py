"""A fitted reading of who is speaking: each turn's log-odds of being the agent's, from its words.

The roles stage (engine/stages/roles.py) averages these over each speaker's turns. A logistic
regression over binary word and word-pair features (``turn_features``), fitted by
scripts/train_role_head.py on the team's written calls and STC-3's customer-helpdesk dialogues;
numpy only at run time. Card: models/role-head/CARD.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from wocas.models.npz_head import read_npz_head

FEATURE_VERSION = 1
_TOKEN = re.compile(r"[a-z0-9']+")


def _token(word: str) -> str:
    return "<num>" if any(ch.isdigit() for ch in word) else word


def turn_features(text: str) -> set[str]:
    """The turn's binary features: its words, its word pairs, and a coarse length."""
    words = [_token(w) for w in _TOKEN.findall(text.lower())]
    n = len(words)
    length = "len=1-3" if n < 4 else "len=4-11" if n < 12 else "len=12+"
    return {length} | {f"w={w}" for w in words} | {f"b={a}_{b}" for a, b in zip(words, words[1:])}


class RoleHead:
    """Log-odds that a turn is the agent's (positive) rather than the customer's (negative)."""

    def __init__(self, features: Sequence[str], weights: np.ndarray, bias: float):
        self.index = {f: k for k, f in enumerate(features)}
        self.weights = np.asarray(weights, dtype=np.float64)
        self.bias = float(bias)

    def turn_log_odds(self, texts: Sequence[str]) -> np.ndarray:
        out = np.full(len(texts), self.bias)
        for k, text in enumerate(texts):
            hits = [self.index[f] for f in turn_features(text) if f in self.index]
            if hits:
                out[k] += float(self.weights[hits].sum())
        return out


@lru_cache(maxsize=4)
def load_role_head(folder: str | Path) -> RoleHead:
    config, arrays = read_npz_head(folder, "role head", FEATURE_VERSION, "refit it with scripts/train_role_head.py")
    return RoleHead([str(f) for f in arrays["features"]], arrays["weights"], float(arrays["bias"]))


def save_role_head(folder: Path, features: Sequence[str], weights: np.ndarray, bias: float, config: dict) -> None:
    import json

    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / "head.npz", features=np.array(list(features)),
                        weights=np.asarray(weights, dtype=np.float32), bias=np.float32(bias))
    (folder / "config.json").write_text(json.dumps({"feature_version": FEATURE_VERSION, **config}, indent=1) + "\n")
