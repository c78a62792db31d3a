"""Lexical heads: a call-level label read from the words of the call.

Each turn's words and word pairs become terms marked with the side that said them
(``a:refund``, ``c:still not``), so "I'll call you back" from the agent and from the customer are
different evidence. Terms are weighted tf-idf (sublinear counts, smoothed idf, unit length), and a
multinomial logistic regression (balanced classes) maps them to the head's classes. Which turns
are read, and how they are marked, is the head's layout:

- ``closing`` (the resolution head, models/resolution-lexical): the call's last ``WINDOW`` turns;
- ``thirds`` (the shape and band heads, models/shape-lexical and models/band-lexical): every
  turn, each term also marked with the third of the call it falls in (``o`` opening, ``m``
  middle, ``e`` end: ``ec:forget it``), so "calm at first, angry at the end" and the reverse
  are different documents.

Why words and not the sentence encoder's vectors: the outcome of a call is said in a handful of
plain phrases ("put you through", "ring you back", "can't", "forget it"), which a mean sentence
vector blurs. Leave-one-writer-out over the team's written calls, this head alone read 0.80 of
the calls right where the vector head (engine/resolution/head.py) read 0.67
(``benchmarks/results/trust_lowo.md``).

Training and run time share ``call_terms`` and ``Vocabulary``, so the terms cannot drift
apart; fitted by ``scripts/lowo.py --write`` (cards: models/*-lexical/CARD.md). Only numpy at
run time.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from wocas.models.npz_head import read_npz_head

FEATURE_VERSION = 1
KIND = "lexical"
CLOSING, THIRDS = "closing", "thirds"
LAYOUTS = (CLOSING, THIRDS)
WINDOW = 8  # the closing: the call's last 8 turns, both sides
MIN_DF = 2  # a term must appear in two training calls
WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")  # "can't" and "didn't" stay one word: they carry the outcome

SaidTurn = tuple[str, str]  # (role, text): role "agent" or "customer"
NOT_A_PARTY = "system"  # a recorded prompt's turns (Role.SYSTEM): the heads were fitted on the two parties' words


def says(role: str, text: str) -> bool:
    """Whether a turn counts for the heads: a party's turn with words in it."""
    return role != NOT_A_PARTY and bool(text.strip())


def turn_terms(role: str, text: str) -> list[str]:
    """The words and adjacent word pairs of one turn, each marked with the side that said it."""
    side = "a" if role == "agent" else "c"
    words = WORD.findall(text.lower().replace("\u2019", "'"))
    return [f"{side}:{w}" for w in words] + [f"{side}:{a} {b}" for a, b in zip(words, words[1:])]


def closing_turns(turns: Sequence[SaidTurn], window: int = WINDOW) -> list[SaidTurn]:
    """The last ``window`` turns that say something."""
    return [(r, t) for r, t in turns if says(r, t)][-window:]


def closing_terms(turns: Sequence[SaidTurn], window: int = WINDOW) -> list[str]:
    return [term for role, text in closing_turns(turns, window) for term in turn_terms(role, text)]


def thirds_terms(turns: Sequence[SaidTurn]) -> list[str]:
    """Every turn's terms, each marked with the third of the call (by turn) it falls in."""
    said = [(r, t) for r, t in turns if says(r, t)]
    n = len(said)
    return [f"{'ome'[min(2, 3 * i // n)]}{term}" for i, (role, text) in enumerate(said)
            for term in turn_terms(role, text)]


def call_terms(turns: Sequence[SaidTurn], layout: str = CLOSING, window: int = WINDOW) -> list[str]:
    if layout == THIRDS:
        return thirds_terms(turns)
    return closing_terms(turns, window)


class Vocabulary:
    """The terms kept and their smoothed idf (sklearn's ``TfidfVectorizer(sublinear_tf=True)``)."""

    def __init__(self, terms: Sequence[str], idf: np.ndarray):
        self.terms = tuple(terms)
        self.idf = np.asarray(idf, dtype=np.float32)
        self.index = {t: i for i, t in enumerate(self.terms)}

    @classmethod
    def fit(cls, documents: Sequence[Sequence[str]], min_df: int = MIN_DF) -> "Vocabulary":
        df = Counter(term for doc in documents for term in set(doc))
        terms = sorted(t for t, n in df.items() if n >= min_df)
        n = len(documents)
        return cls(terms, np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in terms]))

    def vectors(self, documents: Sequence[Sequence[str]]) -> np.ndarray:
        """(documents, terms): 1 + log(count), times idf, scaled to unit length; unknown terms dropped."""
        index = self.index
        out = np.zeros((len(documents), len(self.terms)), dtype=np.float32)
        for row, doc in enumerate(documents):
            for term, count in Counter(t for t in doc if t in index).items():
                out[row, index[term]] = 1.0 + math.log(count)
        out *= self.idf
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)


class LexicalHead:
    """Probabilities over ``classes`` for calls given as (role, text) turns."""

    def __init__(self, vocabulary: Vocabulary, coef: np.ndarray, intercept: np.ndarray, classes: Sequence[str],
                 window: int = WINDOW, layout: str = CLOSING):
        if layout not in LAYOUTS:
            raise ValueError(f"lexical head: layout {layout!r}, expected one of {list(LAYOUTS)}")
        self.vocabulary, self.window, self.layout = vocabulary, window, layout
        self.coef = np.asarray(coef, dtype=np.float32)
        self.intercept = np.asarray(intercept, dtype=np.float32)
        self.classes = [str(c) for c in classes]
        if self.coef.shape != (len(self.classes), len(vocabulary.terms)):
            raise ValueError(f"lexical head: weights of shape {self.coef.shape}, expected "
                             f"({len(self.classes)}, {len(vocabulary.terms)})")

    @classmethod
    def load(cls, folder: str | Path) -> "LexicalHead":
        config, w = read_npz_head(folder, "lexical head", FEATURE_VERSION,
                                  "refit it with scripts/lowo.py --write")
        if config.get("kind") != KIND:
            raise ValueError(f"{folder}: not a lexical head (kind {config.get('kind')!r})")
        return cls(Vocabulary([str(t) for t in w["terms"]], w["idf"]), w["coef"], w["intercept"],
                   config["classes"], int(config.get("window", WINDOW)), str(config.get("layout", CLOSING)))

    def vectors(self, calls: Sequence[Sequence[SaidTurn]]) -> np.ndarray:
        """(calls, terms): the tf-idf of each call's terms (its closing, or every turn by thirds)."""
        return self.vocabulary.vectors([call_terms(turns, self.layout, self.window) for turns in calls])

    def probabilities(self, calls: Sequence[Sequence[SaidTurn]], x: np.ndarray | None = None) -> np.ndarray:
        """(calls, classes); ``x`` is ``vectors(calls)`` when the caller has it already."""
        x = self.vectors(calls) if x is None else x
        z = x @ self.coef.T + self.intercept
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def evidence(self, turns: Sequence[SaidTurn], k: int, x: np.ndarray | None = None) -> int | None:
        """The position in ``turns`` of the closing turn whose terms push most toward class ``k``;
        ``x`` is the call's row of ``vectors`` when the caller has it already."""
        if self.layout != CLOSING:
            raise ValueError(f"lexical head: evidence turns are read only by a {CLOSING!r} head, not {self.layout!r}")
        closing = [i for i, (r, t) in enumerate(turns) if says(r, t)][-self.window:]
        if not closing:
            return None
        x = self.vectors([turns])[0] if x is None else x
        index = self.vocabulary.index
        push = [sum(x[index[t]] * self.coef[k, index[t]] for t in set(turn_terms(*turns[i])) if t in index)
                for i in closing]
        return closing[int(np.argmax(push))]


def save_lexical_head(folder: Path, vocabulary: Vocabulary, coef: np.ndarray, intercept: np.ndarray,
                      config: dict, layout: str = CLOSING) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / "head.npz", terms=np.array(vocabulary.terms), idf=vocabulary.idf.astype(np.float32),
             coef=coef.astype(np.float32), intercept=intercept.astype(np.float32))
    (folder / "config.json").write_text(json.dumps(
        {**config, "kind": KIND, "layout": layout, "window": WINDOW, "min_df": MIN_DF, "feature_version": FEATURE_VERSION},
        indent=1) + "\n")


def is_lexical(folder: str | Path) -> bool:
    config = Path(folder) / "config.json"
    return config.is_file() and json.loads(config.read_text()).get("kind") == KIND


@lru_cache(maxsize=4)
def load_lexical_head(folder: str) -> LexicalHead:
    return LexicalHead.load(folder)
