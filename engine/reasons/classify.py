"""The classifiers that put an utterance on the taxonomy, both over the shared MiniLM encoder:

- ``ExampleClassifier`` compares the utterance with each reason's example utterances. Its
  confidence is calibrated on the taxonomy itself: every example is classified against the
  others (leave-one-out) and a logistic regression maps (best similarity, margin to the
  runner-up) to the probability of being right. Below ``other_threshold`` the answer is
  ``other``.
- ``HeadClassifier`` is a supervised head trained by ``scripts/train_intents.py`` on labelled
  data (``models/intents-banking77`` ships one; see ``wocas.reasons.training``); its labels
  map onto taxonomy reasons.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from wocas.reasons.taxonomy import OTHER, Taxonomy, TaxonomyError

if TYPE_CHECKING:
    from wocas.models.text_encoder import TextEncoder


@dataclass(frozen=True)
class Prediction:
    reason: str  # a taxonomy id or "other"
    confidence: float  # calibrated probability that ``best`` is right
    best: str  # the top reason even when it fell below the threshold


# The `other` threshold of the taxonomy's examples, and of a head saved without one of its own.
DEFAULT_OTHER_THRESHOLD = 0.35


class ReasonClassifier(Protocol):
    def predict(self, texts: list[str], embeddings: np.ndarray) -> list[Prediction]: ...

    def version(self) -> str: ...


def _top_two(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index of the best column, its score and the margin to the runner-up; scores (n, k)."""
    order = np.argsort(-scores, axis=1)
    rows = np.arange(len(scores))
    best = scores[rows, order[:, 0]]
    second = scores[rows, order[:, 1]] if scores.shape[1] > 1 else np.zeros(len(scores))
    return order[:, 0], best, best - second


# Things no contact centre is called about: in calibration they stand for out-of-scope
# speech (always "wrong"), so the confidence falls when nothing in the taxonomy is close.
OFF_TOPIC = (
    "what's the weather going to be like tomorrow", "who won the football last night", "tell me a joke",
    "how do you make banana bread", "what's the capital of australia", "play some jazz music",
    "how tall is mount everest", "what time is sunset today", "recommend a good film to watch",
    "how do I say thank you in japanese", "are whales mammals", "what's a good name for a puppy",
    "set an alarm for seven", "how many calories are in an apple", "who wrote pride and prejudice",
    "what's the best way to learn guitar", "is it going to snow at christmas", "translate hello into french",
    "how far away is the moon", "what should I cook for dinner tonight", "my cat keeps sleeping on the keyboard",
    "the traffic on the motorway was terrible this morning", "we went to the beach at the weekend",
    "do you like pizza", "how long do you boil an egg", "what rhymes with orange",
)


class ExampleClassifier:
    """Nearest reason by similarity to its examples (and description), calibrated on the
    taxonomy's own examples by leave-one-out."""

    def __init__(self, taxonomy: Taxonomy, encoder: TextEncoder, other_threshold: float | None = None,
                 top_k: int = 2):
        self.taxonomy = taxonomy
        self.encoder = encoder
        self.other_threshold = DEFAULT_OTHER_THRESHOLD if other_threshold is None else other_threshold
        self.top_k = top_k
        texts, owners = [], []
        for j, r in enumerate(taxonomy.reasons):
            for t in (*r.examples, r.description) if r.description else r.examples:
                texts.append(t)
                owners.append(j)
        self._owner = np.array(owners)
        # The examples' vectors and the calibration depend only on the encoder and the
        # taxonomy: computed once and cached on disk, so a new process starts without them.
        from wocas.models.array_cache import cached_arrays, key_of

        key = key_of(encoder.fingerprint(), repr(texts), repr(owners), repr(OFF_TOPIC), str(top_k), "C=10")
        fitted = cached_arrays("examples", key, lambda: self._fit(texts))
        self._vectors = fitted["vectors"]  # (n_examples, 384)
        self._coef, self._intercept = fitted["coef"], fitted["intercept"]  # the calibrator: (1, 2), (1,)

    def _fit(self, texts: list[str]) -> dict[str, np.ndarray]:
        self._vectors = self.encoder.encode(texts)
        calibrator = self._calibrate()
        return {"vectors": self._vectors, "coef": calibrator.coef_, "intercept": calibrator.intercept_}

    def _scores(self, sims: np.ndarray) -> np.ndarray:
        """Per-reason score: mean of the top-k similarities among its examples; sims (n, n_examples)."""
        out = np.full((len(sims), len(self.taxonomy.reasons)), -1.0, dtype=np.float32)
        for j in range(len(self.taxonomy.reasons)):
            cols = sims[:, self._owner == j]
            top = -np.sort(-cols, axis=1)[:, : self.top_k]
            top = np.where(np.isfinite(top), top, np.nan)
            with np.errstate(all="ignore"):
                out[:, j] = np.nan_to_num(np.nanmean(top, axis=1), nan=-1.0)
        return out

    def _calibrate(self):
        from sklearn.linear_model import LogisticRegression

        sims = self._vectors @ self._vectors.T
        np.fill_diagonal(sims, -np.inf)  # leave each example out of its own vote
        best, top, margin = _top_two(self._scores(sims))
        correct = (best == self._owner).astype(int)
        _, off_top, off_margin = _top_two(self._scores(self.encoder.encode(list(OFF_TOPIC)) @ self._vectors.T))
        x = np.r_[np.c_[top, margin], np.c_[off_top, off_margin]]
        y = np.r_[correct, np.zeros(len(OFF_TOPIC), dtype=int)]
        return LogisticRegression(C=10.0).fit(x, y)

    def predict(self, texts: list[str], embeddings: np.ndarray) -> list[Prediction]:
        if len(embeddings) == 0:
            return []
        best, top, margin = _top_two(self._scores(embeddings @ self._vectors.T))
        # the logistic calibrator's probability of class 1 (sklearn's predict_proba, to 1e-16)
        conf = 1.0 / (1.0 + np.exp(-(np.c_[top, margin] @ self._coef.T + self._intercept)[:, 0]))
        ids = self.taxonomy.ids
        return [Prediction(ids[b] if c >= self.other_threshold else OTHER, float(c), ids[b])
                for b, c in zip(best, conf)]

    def version(self) -> str:
        return f"examples:{self.taxonomy.name}@{self.taxonomy.version}"


class HeadClassifier:
    """A supervised head over MiniLM embeddings (``head.npz`` + ``head.json``, from ``train_head``).

    Two logistic regressions, one on the embedding and one on TF-IDF character and word
    n-grams, mixed as a weighted geometric mean of their probabilities: the embedding knows
    paraphrase, the n-grams know the exact product words ("top up", "PIN", "apple pay").

    A head folder that also holds ``adapter.safetensors`` (``wocas train intents --finetune``)
    reads its embeddings from MiniLM fine-tuned by that LoRA adapter rather than from the
    shared encoder: one more MiniLM pass over the texts it classifies. A head trained over
    another encoder (``wocas train intents --encoder mpnet``; ``head.json`` names it) embeds
    its texts with that encoder in the same way.

    Below ``other_threshold`` (given, else the one ``train_head`` stored in ``head.json``: the
    top-class probability that keeps 95% of in-scope training texts out of fold) the answer
    is ``other``.
    """

    def __init__(self, folder: str | Path, encoder: TextEncoder, other_threshold: float | None = None):
        folder = Path(folder)
        try:
            meta = json.loads((folder / "head.json").read_text())
            arrays = np.load(folder / "head.npz")
        except FileNotFoundError as e:
            raise TaxonomyError(f"intent head {folder} needs head.json and head.npz ({e.filename} is missing)") from e
        self.folder = folder
        self.meta = meta
        adapter = folder / "adapter.safetensors"
        self.adapter = str(adapter) if adapter.exists() else None
        own_model: str | None = meta.get("encoder")
        if own_model and own_model != encoder.model:
            from wocas.models.registry import ModelNotFound, resolve

            try:
                resolve(own_model)  # a missing encoder fails here, at load, not on every call
            except ModelNotFound as e:
                raise TaxonomyError(f"intent head {folder} reads its texts with encoder {own_model!r}: {e}") from e
        self.shared = encoder
        self.encoder = encoder.variant(own_model, self.adapter)  # the shared one unless the head has its own
        self.labels: list[str] = list(meta["labels"])
        self.coef = arrays["coef"].astype(np.float32)  # (n_labels, encoder dim)
        self.intercept = arrays["intercept"].astype(np.float32)  # (n_labels,)
        self.mix = float(meta.get("mix", 1.0))  # weight of the embedding part
        self.lexical = None
        if "lexical" in meta:
            self.lexical = _vectorizers(meta["lexical"], arrays["idf_word"], arrays["idf_char"])
            self.lex_coef = arrays["lex_coef"].astype(np.float32)  # (n_labels, vocabulary)
            self.lex_intercept = arrays["lex_intercept"].astype(np.float32)
        # A head's labels become taxonomy reasons through its mapping (unmapped labels stay as they are).
        self.mapping: dict[str, str] = dict(meta.get("reason_map", {}))
        self.other_threshold = float(other_threshold if other_threshold is not None
                                     else meta.get("other_threshold", DEFAULT_OTHER_THRESHOLD))
        if self.coef.shape[0] != len(self.labels) or self.intercept.shape != (len(self.labels),):
            raise TaxonomyError(f"intent head {folder}: coef/intercept shapes do not match {len(self.labels)} labels")

    def probabilities(self, texts: list[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        """(n, labels). ``embeddings`` are the shared encoder's (computed here when not given);
        a head with its own encoder (an adapter, or another model) ignores them."""
        if self.has_own_encoder() or embeddings is None:
            embeddings = self.encoder.encode(texts)
        logp = self.mix * log_softmax(embeddings @ self.coef.T + self.intercept)
        if self.lexical is not None and self.mix < 1.0:
            x = lexical_features(self.lexical, texts)
            logp = logp + (1.0 - self.mix) * log_softmax(np.asarray(x @ self.lex_coef.T) + self.lex_intercept)
        return np.exp(log_softmax(logp))

    def has_own_encoder(self) -> bool:
        return self.encoder is not self.shared

    def predict(self, texts: list[str], embeddings: np.ndarray) -> list[Prediction]:
        if len(embeddings) == 0:
            return []
        p = self.probabilities(texts, embeddings)
        out = []
        for b, row in zip(p.argmax(axis=1), p):
            label = self.mapping.get(self.labels[b], self.labels[b])
            conf = float(row[b])
            out.append(Prediction(label if conf >= self.other_threshold else OTHER, conf, label))
        return out

    def version(self) -> str:
        return f"head:{self.folder.name}@{self.meta.get('version', '1')}"


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _vectorizers(spec: dict[str, Any], idf_word: np.ndarray, idf_char: np.ndarray):
    from sklearn.feature_extraction.text import TfidfVectorizer

    word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True,
                           vocabulary={w: i for i, w in enumerate(spec["word_vocabulary"])})
    word.idf_ = np.asarray(idf_word, dtype=np.float64)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                           vocabulary={w: i for i, w in enumerate(spec["char_vocabulary"])})
    char.idf_ = np.asarray(idf_char, dtype=np.float64)
    return word, char


def lexical_features(vectorizers, texts: list[str]):
    from scipy import sparse

    word, char = vectorizers
    return sparse.hstack([word.transform(texts), char.transform(texts)]).tocsr()
