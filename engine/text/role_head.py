"""A fitted reading of who is speaking: each turn's log-odds of being the agent's, from its words.

The roles stage (engine/stages/roles.py) averages these over each speaker's turns. A logistic
regression over binary word and word-pair features (``turn_features``), fitted by
scripts/train_role_head.py on the team's written calls and STC-3's customer-helpdesk dialogues;
numpy only at run time. Card: models/role-head/CARD.md.

A head may carry a second reading over the same features: each turn's log-odds of being a
recorded prompt (an IVR menu, a hold message) rather than a live person's words. A head without
it reads every speaker as a live one.
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
    """Log-odds that a turn is the agent's (positive) rather than the customer's (negative), and,
    with ``prompt_weights``, that it is a recorded prompt rather than a live person's words."""

    def __init__(self, features: Sequence[str], weights: np.ndarray, bias: float,
                 prompt_weights: np.ndarray | None = None, prompt_bias: float = 0.0):
        self.index = {f: k for k, f in enumerate(features)}
        self.weights = np.asarray(weights, dtype=np.float64)
        self.bias = float(bias)
        self.prompt_weights = None if prompt_weights is None else np.asarray(prompt_weights, dtype=np.float64)
        self.prompt_bias = float(prompt_bias)

    @property
    def reads_prompts(self) -> bool:
        return self.prompt_weights is not None

    def _linear(self, texts: Sequence[str], weights: np.ndarray, bias: float) -> np.ndarray:
        out = np.full(len(texts), bias)
        for k, text in enumerate(texts):
            hits = [self.index[f] for f in turn_features(text) if f in self.index]
            if hits:
                out[k] += float(weights[hits].sum())
        return out

    def turn_log_odds(self, texts: Sequence[str]) -> np.ndarray:
        return self._linear(texts, self.weights, self.bias)

    def prompt_log_odds(self, texts: Sequence[str]) -> np.ndarray:
        """Each turn's log-odds of being a recorded prompt; a head without that reading refuses."""
        if self.prompt_weights is None:
            raise ValueError("this role head has no recorded-prompt reading (refit it with scripts/train_role_head.py)")
        return self._linear(texts, self.prompt_weights, self.prompt_bias)


@lru_cache(maxsize=4)
def load_role_head(folder: str | Path) -> RoleHead:
    config, arrays = read_npz_head(folder, "role head", FEATURE_VERSION, "refit it with scripts/train_role_head.py")
    prompt = arrays["prompt_weights"] if "prompt_weights" in arrays else None
    return RoleHead([str(f) for f in arrays["features"]], arrays["weights"], float(arrays["bias"]),
                    prompt, float(arrays["prompt_bias"]) if prompt is not None else 0.0)


def save_role_head(folder: Path, features: Sequence[str], weights: np.ndarray, bias: float, config: dict,
                   prompt_weights: np.ndarray | None = None, prompt_bias: float = 0.0) -> None:
    import json

    folder.mkdir(parents=True, exist_ok=True)
    prompt = {} if prompt_weights is None else {"prompt_weights": np.asarray(prompt_weights, dtype=np.float32),
                                                "prompt_bias": np.float32(prompt_bias)}
    np.savez_compressed(folder / "head.npz", features=np.array(list(features)),
                        weights=np.asarray(weights, dtype=np.float32), bias=np.float32(bias), **prompt)
    (folder / "config.json").write_text(json.dumps({"feature_version": FEATURE_VERSION, **config}, indent=1) + "\n")
