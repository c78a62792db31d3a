"""The fitted resolution head: a call's outcome read from its closing, by a small classifier.

The zero-shot reader (engine/stages/resolution.py) votes each closing turn against written
descriptions of each outcome. This head reads, per call (``FEATURES`` below, fixed before any
cross-validation):
  - the zero-shot reader's tallies: each side's recency-weighted vote share per class (ritual
    included) and the overall share per outcome;
  - minilm vectors: the mean of the agent's last 3 turns and of the customer's last 2
    substantive turns (not ritual "thanks, bye");
  - the customer's trust as the context stage read it: last turn, last three (mean, lowest),
    the whole call (mean, lowest);
  - where the turns fall: how many turns, how long the last agent and last substantive customer
    turns are, how late the last substantive customer turn comes, whether it is negated.
A multinomial logistic regression (balanced classes, standardised features) maps them to the
six outcomes. Trained by ``scripts/train_resolution.py`` on the team's written training calls
(models/training/*.txt); card: models/resolution-head/CARD.md. Only numpy at run time.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from wocas.models.npz_head import read_npz_head

FEATURE_VERSION = 1
AGENT_TURNS, CUSTOMER_TURNS, CUSTOMER_SCAN = 3, 2, 5  # vectors: last 3 agent, last 2 substantive of the last 5
TRUST = ("trust_last", "trust_closing_mean", "trust_closing_min", "trust_mean", "trust_min")
PLACE = ("log_turns", "log_words_agent", "log_words_customer", "customer_place", "negated")


@dataclass(frozen=True)
class CallReading:
    """What the head reads of one call, before it becomes a row of numbers."""

    agent_votes: np.ndarray  # recency-weighted mean vote per agent-side class
    customer_votes: np.ndarray  # same, customer side
    shares: np.ndarray  # the zero-shot reader's share per outcome (STATES order)
    agent_vector: np.ndarray
    customer_vector: np.ndarray
    scalars: np.ndarray  # TRUST + PLACE

    def row(self) -> np.ndarray:
        return np.concatenate([self.agent_votes, self.customer_votes, self.shares, self.scalars,
                               self.agent_vector, self.customer_vector]).astype(np.float32)


def trust_numbers(trust: list[float], closing: int = 3) -> list[float]:
    """TRUST from the customer's per-turn trust in call order (zeros when there is none)."""
    if not trust:
        return [0.0] * len(TRUST)
    last = trust[-closing:]
    return [trust[-1], float(np.mean(last)), float(min(last)), float(np.mean(trust)), float(min(trust))]


def place_numbers(n_turns: int, agent_words: int, customer_words: int, customer_at: float,
                  negated: bool) -> list[float]:
    return [math.log1p(n_turns), math.log1p(agent_words), math.log1p(customer_words), customer_at, float(negated)]


class ResolutionHead:
    """Standardise, then a multinomial logistic regression: probabilities over ``classes``."""

    def __init__(self, folder: str | Path):
        self.config, w = read_npz_head(folder, "resolution head", FEATURE_VERSION,
                                       "retrain it with scripts/train_resolution.py")
        self.coef = w["coef"].astype(np.float32)
        self.intercept = w["intercept"].astype(np.float32)
        self.mean = w["mean"].astype(np.float32)
        self.scale = w["scale"].astype(np.float32)
        self.classes = [str(c) for c in self.config["classes"]]
        self.encoder = str(self.config.get("encoder", "minilm"))
        self.dim = int(self.config.get("embedding_dim", 0))  # 0: an old head that does not say
        k = self.mean.shape[0]
        if self.coef.shape != (len(self.classes), k) or self.intercept.shape != (len(self.classes),):
            raise ValueError(f"resolution head {folder}: weights of shape {self.coef.shape}, expected "
                             f"({len(self.classes)}, {k})")

    @property
    def n_features(self) -> int:
        return int(self.mean.shape[0])

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """(n, classes) for (n, features) rows."""
        if rows.shape[1] != self.n_features:
            raise ValueError(f"resolution head: {rows.shape[1]} features, it was trained on {self.n_features}")
        z = ((rows - self.mean) / self.scale) @ self.coef.T + self.intercept
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)


def save_head(folder: Path, coef: np.ndarray, intercept: np.ndarray, mean: np.ndarray, scale: np.ndarray,
              config: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "head.npz", coef=coef.astype(np.float32), intercept=intercept.astype(np.float32),
             mean=mean.astype(np.float32), scale=scale.astype(np.float32))
    (folder / "config.json").write_text(json.dumps({**config, "feature_version": FEATURE_VERSION}, indent=1) + "\n")


@lru_cache(maxsize=4)
def load_resolution_head(folder: str) -> ResolutionHead:
    return ResolutionHead(folder)
