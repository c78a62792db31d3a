"""Trust in context: a customer turn read with what it answers and where the call stands.

A per-turn text head scores "Thanks, bye" the same after a refund and after a refusal. This
head sees, for each customer turn:
  - the turn itself, the agent turn it answers, and the customer's earlier turns (mean), each
    as a sentence-encoder vector;
  - the per-turn emotion (trust, valence, arousal, confidence, how polite it is);
  - where it stands: its place among the customer's turns, its length, and the customer's
    trust over the rest of the call (the call is read whole, after the fact).
A ridge regression over these gives the turn's trust in [-1, 1] (or, for a head whose config says
``"reading": "ordinal"``, the expected label of four cumulative logistic maps, divided by 2). It is trained by
``scripts/train_trust_context.py`` on calls written and labelled turn by turn by the team
(``models/training/trust_calls.txt``); the card is ``models/trust-context/CARD.md``.
Only numpy at run time.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from wocas.models.npz_head import read_npz_head
from wocas.schema import CallAnalysis, Turn

FEATURE_VERSION = 1
POLITE = ("gratitude", "approval", "caring")
SCALARS = ("trust", "valence", "arousal", "confidence", "polite", "place", "first", "last", "log_words",
           "mean_other", "min_before", "prev_trust", "next_trust")


@dataclass(frozen=True)
class TurnContext:
    """Where one customer turn sits: its own text, the agent text it answers, the earlier customer texts."""

    turn: Turn
    answers: str  # the agent turn just before it ("" when none)
    customer_texts: tuple[str, ...]  # all the customer's scored turns in the call (one tuple per call)
    position: int  # this turn's place among them
    scalars: np.ndarray  # (len(SCALARS),)

    @property
    def earlier(self) -> tuple[str, ...]:
        return self.customer_texts[:self.position]


def _polite(turn: Turn) -> float:
    cats = turn.emotion.categories if turn.emotion is not None else {}
    return min(1.0, sum(cats.get(c, 0.0) for c in POLITE))


def customer_contexts(call: CallAnalysis) -> list[TurnContext]:
    """One ``TurnContext`` per customer turn that has an emotion, in call order."""
    scored = [(i, t) for i, t in enumerate(call.turns) if t.role == "customer" and t.emotion is not None
              and t.text.strip()]
    if not scored:
        return []
    trust = np.array([t.emotion.trust for _, t in scored], dtype=np.float64)
    m = len(scored)
    answered, last_agent = {}, ""  # each customer turn's index -> the agent text before it, in one pass
    for t in call.turns:
        if t.role == "customer":
            answered[t.index] = last_agent
        elif t.text.strip():
            last_agent = t.text
    texts = tuple(t.text for _, t in scored)
    out = []
    for j, (i, turn) in enumerate(scored):
        answers = answered[turn.index]
        others = np.delete(trust, j)
        e = turn.emotion
        scalars = np.array([
            e.trust, e.valence, e.arousal, e.confidence, _polite(turn),
            j / (m - 1) if m > 1 else 1.0, float(j == 0), float(j == m - 1),
            math.log1p(len(turn.text.split())),
            float(others.mean()) if others.size else 0.0,
            float(trust[:j + 1].min()),
            float(trust[j - 1]) if j > 0 else 0.0,
            float(trust[j + 1]) if j + 1 < m else 0.0,
        ], dtype=np.float32)
        out.append(TurnContext(turn, answers, texts, j, scalars))
    return out


def feature_matrix(contexts: list[TurnContext], vectors: dict[str, np.ndarray], dim: int) -> np.ndarray:
    """(n, 3 * dim + len(SCALARS)): turn vector, answered agent turn's vector, mean of the earlier
    customer turns' vectors, then the scalars. ``vectors`` maps each text to its embedding."""
    zero = np.zeros(dim, dtype=np.float32)
    rows = []
    running, count = zero, 0  # sum of the earlier turns' vectors, kept while a call's turns follow in order
    previous: TurnContext | None = None
    for c in contexts:
        if previous is not None and c.customer_texts is previous.customer_texts and c.position == count + 1:
            running, count = running + vectors[previous.turn.text], count + 1
        else:
            running = np.sum([vectors[t] for t in c.earlier], axis=0) if c.earlier else zero
            count = len(c.earlier)
        earlier = running / count if count else zero
        previous = c
        rows.append(np.concatenate([vectors[c.turn.text], vectors[c.answers] if c.answers else zero, earlier,
                                    c.scalars]))
    return np.asarray(rows, dtype=np.float32).reshape(len(contexts), 3 * dim + len(SCALARS))


def texts_needed(contexts: list[TurnContext]) -> list[str]:
    """Every distinct text the features embed."""
    calls = {id(c.customer_texts): c.customer_texts for c in contexts}  # each call's customer texts once
    seen = dict.fromkeys([*(t for texts in calls.values() for t in texts), *(c.answers for c in contexts if c.answers)])
    return list(seen)


def ordinal_reading(standardised: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """The ordinal head's reading: ``coef`` (cuts, p) and ``intercept`` (cuts,) give, per cut, the
    probability that the label (-2..2) lies above it; the reading is the expected label
    (-2 + their sum) divided by 2, in [-1, 1]."""
    above = 1.0 / (1.0 + np.exp(-np.clip(standardised @ coef.T + intercept, -50.0, 50.0)))
    return np.clip((-2.0 + above.sum(axis=1)) / 2.0, -1.0, 1.0).astype(np.float32)


class ContextHead:
    """The fitted head: standardise the scalars, then either a linear map clipped to [-1, 1]
    (``reading`` "regression", the older heads) or, for ``reading`` "ordinal", one logistic map
    per cut between the labels -2..2 and the expected label / 2 (``ordinal_reading``)."""

    def __init__(self, folder: str | Path):
        self.config, w = read_npz_head(folder, "trust context head", FEATURE_VERSION, "retrain it")
        self.reading = str(self.config.get("reading", "regression"))
        if self.reading not in ("regression", "ordinal"):
            raise ValueError(f"trust context head {folder}: unknown reading {self.reading!r}")
        self.coef = w["coef"].astype(np.float32)
        self.intercept = w["intercept"].astype(np.float32)
        self.scalar_mean = w["scalar_mean"].astype(np.float32)
        self.scalar_scale = w["scalar_scale"].astype(np.float32)
        self.dim = int(self.config["embedding_dim"])
        expected = 3 * self.dim + len(SCALARS)
        if self.reading == "ordinal":
            cuts = len(self.config.get("cuts", ()))
            shapes_ok = cuts > 0 and self.coef.shape == (cuts, expected) and self.intercept.shape == (cuts,)
        else:
            shapes_ok = self.coef.shape == (expected,) and self.intercept.size == 1
            self.intercept = np.float32(self.intercept.reshape(-1)[0])
        if not shapes_ok or self.scalar_mean.shape != (len(SCALARS),):
            raise ValueError(f"trust context head {folder}: weights of shape {self.coef.shape}, expected "
                             f"{'(cuts, ' if self.reading == 'ordinal' else '('}{expected},)")
        self.encoder = str(self.config.get("encoder", "minilm"))

    def standardise(self, features: np.ndarray) -> np.ndarray:
        out = features.copy()
        out[:, -len(SCALARS):] = (out[:, -len(SCALARS):] - self.scalar_mean) / self.scalar_scale
        return out

    def predict(self, features: np.ndarray) -> np.ndarray:
        if features.shape[0] == 0:
            return np.zeros(0, dtype=np.float32)
        if self.reading == "ordinal":
            return ordinal_reading(self.standardise(features), self.coef, self.intercept)
        return np.clip(self.standardise(features) @ self.coef + self.intercept, -1.0, 1.0).astype(np.float32)


def save_head(folder: Path, coef: np.ndarray, intercept, scalar_mean: np.ndarray, scalar_scale: np.ndarray,
              config: dict) -> None:
    """``coef`` (p,) with one intercept for a regression head; (cuts, p) with one intercept per cut
    and ``config["reading"] = "ordinal"`` for an ordinal one."""
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "head.npz", coef=np.asarray(coef, dtype=np.float32),
             intercept=np.asarray(intercept, dtype=np.float32),
             scalar_mean=scalar_mean.astype(np.float32), scalar_scale=scalar_scale.astype(np.float32))
    (folder / "config.json").write_text(json.dumps({**config, "feature_version": FEATURE_VERSION,
                                                     "scalars": list(SCALARS)}, indent=1) + "\n")


@lru_cache(maxsize=2)
def load_context_head(folder: str) -> ContextHead:
    return ContextHead(folder)
