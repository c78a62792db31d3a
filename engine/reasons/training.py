"""Training a ``HeadClassifier``: the embedding head, the n-gram head beside it, the weight
that mixes them, and the files they are saved as (``wocas train intents``,
``scripts/train_intents.py``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wocas.reasons.classify import lexical_features, log_softmax


@dataclass(frozen=True)
class TrainedHead:
    labels: list[str]
    coef: np.ndarray
    intercept: np.ndarray
    mix: float
    lexical: dict[str, Any] | None = None  # vocabularies, idf, coef, intercept of the n-gram part
    other: dict[str, Any] | None = None  # the `other` threshold and how it was chosen (see other_threshold)


MIX_GRID = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# Share of in-scope texts the `other` threshold keeps: the 95%-true-positive-rate operating point
# that out-of-distribution detection reports by convention, fixed before any test figure.
OTHER_KEEP = 0.95


@dataclass(frozen=True)
class LinearPart:
    """An embedding head trained elsewhere (with the encoder, by ``wocas.models.finetune``)."""

    labels: list[str]
    coef: np.ndarray  # (labels, dim)
    intercept: np.ndarray  # (labels,)

    def log_proba(self, embeddings: np.ndarray) -> np.ndarray:
        return log_softmax(embeddings @ self.coef.T + self.intercept)


def train_head(texts: list[str], labels: list[str], embeddings: np.ndarray, lexical: bool = True,
               C: float = 30.0, mix: float | None = None, min_df: int = 2, folds: int = 5,
               fixed: LinearPart | None = None, other: dict[str, Any] | None = None,
               keep: float = OTHER_KEEP) -> TrainedHead:
    """Fit the embedding head (and the n-gram head beside it when ``lexical``). Without a
    ``mix``, the weight of the embedding part is chosen by ``folds``-fold cross-validation on
    the training texts themselves (see ``choose_mix``). With ``fixed``, that is the embedding
    part and only the n-gram part is fitted here (give ``mix``: see ``choose_mix_on_holdout``).
    ``other`` is the `other` threshold to store (``MixChoice.other``); without it, it comes
    from the same cross-validation, keeping ``keep`` of the in-scope texts (from a separate one
    when ``mix`` is given; none with ``fixed``, which needs held-out texts for it)."""
    if len(texts) != len(labels) or not texts:
        raise ValueError(f"training needs as many labels as texts (got {len(texts)} texts, {len(labels)} labels)")
    emb, lex, vectorizers = _fit_parts(texts, labels, embeddings, lexical, C, min_df, fit_embedding=fixed is None)
    classes, (coef, intercept) = (fixed.labels, (fixed.coef, fixed.intercept)) if fixed else \
        (list(emb.classes_), _softmax_form(emb))
    # out-of-fold probabilities need two texts of some label; without them no threshold is stored
    cross_validate = other is None and fixed is None and max(labels.count(x) for x in set(labels)) >= 2
    if lex is None:
        if cross_validate:
            other = choose_mix(texts, labels, embeddings, C, min_df, folds, (1.0,), False, keep).other
        return TrainedHead(classes, coef, intercept, 1.0, other=other)
    if list(lex.classes_) != list(classes):
        raise ValueError("the n-gram part and the given embedding part have different labels")
    if mix is None:
        if fixed is not None:
            raise ValueError("a fixed embedding part needs a mix (choose it on held-out texts)")
        choice = choose_mix(texts, labels, embeddings, C, min_df, folds, keep=keep)
        mix, other = choice.mix, other or choice.other
    elif cross_validate:
        other = choose_mix(texts, labels, embeddings, C, min_df, folds, (mix,), keep=keep).other
    word, char = vectorizers
    vocab = lambda v: [w for w, _ in sorted(v.vocabulary_.items(), key=lambda kv: kv[1])]  # noqa: E731
    lex_coef, lex_intercept = _softmax_form(lex)
    return TrainedHead(classes, coef, intercept, mix, {
        "word_vocabulary": vocab(word), "char_vocabulary": vocab(char), "idf_word": word.idf_,
        "idf_char": char.idf_, "coef": lex_coef, "intercept": lex_intercept}, other)


def _fit_parts(texts: list[str], labels: list[str], embeddings: np.ndarray, lexical: bool, C: float, min_df: int,
               fit_embedding: bool = True):
    """The two logistic regressions (the n-gram one is None without ``lexical``, the embedding
    one without ``fit_embedding``) and the vectorizers."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    emb = LogisticRegression(C=C, max_iter=3000).fit(embeddings, labels) if fit_embedding else None
    if not lexical:
        return emb, None, None
    word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df).fit(texts)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=min_df).fit(texts)
    lex = LogisticRegression(C=C, max_iter=3000).fit(lexical_features((word, char), texts), labels)
    assert emb is None or list(lex.classes_) == list(emb.classes_)
    return emb, lex, (word, char)


@dataclass(frozen=True)
class MixChoice:
    mix: float
    accuracy: dict[float, float]  # cross-validated accuracy per weight tried
    other: dict[str, Any]  # the `other` threshold for that weight (see other_threshold)


def other_threshold(confidence: np.ndarray, keep: float = OTHER_KEEP, source: str = "") -> dict[str, Any]:
    """The `other` threshold from in-scope confidences the head did not train on (out-of-fold or
    held out): the one that keeps ``keep`` of them. No out-of-scope example takes part, so the
    threshold does not depend on a few such examples, as one tuned on them does."""
    if not 0 < keep <= 1:
        raise ValueError(f"the share of in-scope texts to keep must be in (0, 1] (got {keep})")
    return {"threshold": round(float(np.quantile(confidence, 1 - keep)), 6), "keep": keep,
            "method": f"quantile of top-class probability of in-scope texts the head did not train on ({source})",
            "n": int(len(confidence))}


def choose_mix(texts: list[str], labels: list[str], embeddings: np.ndarray, C: float = 30.0, min_df: int = 2,
               folds: int = 5, grid: tuple[float, ...] = MIX_GRID, lexical: bool = True,
               keep: float = OTHER_KEEP) -> MixChoice:
    """The embedding weight with the best cross-validated accuracy on the training data (the
    test split never takes part), and the `other` threshold from the same out-of-fold
    probabilities. Folds are stratified; a label with fewer examples than folds only ever sits
    in training folds."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(labels)
    counts = {label: int(n) for label, n in zip(*np.unique(y, return_counts=True))}
    k = max(2, min(folds, max(counts.values())))
    correct = {m: 0 for m in grid}
    confidence = {m: np.zeros(len(y)) for m in grid}
    for train_idx, test_idx in StratifiedKFold(k, shuffle=True, random_state=0).split(embeddings, y):
        for m, (n, conf) in _mix_correct(texts, y, embeddings, train_idx, test_idx, C, min_df, grid,
                                         lexical=lexical).items():
            correct[m] += n
            confidence[m][test_idx] = conf
    accuracy = {m: round(c / len(y), 4) for m, c in correct.items()}
    mix = max(grid, key=lambda m: (accuracy[m], m))
    return MixChoice(mix, accuracy, other_threshold(confidence[mix], keep, f"{k}-fold out-of-fold"))


def choose_mix_on_holdout(texts: list[str], labels: list[str], embeddings: np.ndarray, holdout: np.ndarray,
                          C: float = 30.0, min_df: int = 2, grid: tuple[float, ...] = MIX_GRID,
                          fixed: LinearPart | None = None, lexical: bool = True,
                          keep: float = OTHER_KEEP) -> MixChoice:
    """The embedding weight with the best accuracy on the rows in ``holdout`` (indices), the
    head fitted on the others, and the `other` threshold from their probabilities. For a
    fine-tuned encoder (and its ``fixed`` head), which knows its own training texts too well
    for cross-validation over them to be fair, ``holdout`` is the texts it did not train on."""
    y = np.asarray(labels)
    train_idx = np.setdiff1d(np.arange(len(y)), holdout)
    result = _mix_correct(texts, y, embeddings, train_idx, np.asarray(holdout), C, min_df, grid, fixed, lexical)
    accuracy = {m: round(n / len(holdout), 4) for m, (n, _) in result.items()}
    mix = max(grid, key=lambda m: (accuracy[m], m))
    return MixChoice(mix, accuracy, other_threshold(result[mix][1], keep, f"{len(holdout)} held-out texts"))


def _mix_correct(texts: list[str], y: np.ndarray, embeddings: np.ndarray, train_idx: np.ndarray,
                 test_idx: np.ndarray, C: float, min_df: int, grid: tuple[float, ...],
                 fixed: LinearPart | None = None, lexical: bool = True) -> dict[float, tuple[int, np.ndarray]]:
    """For each weight, how many ``test_idx`` rows it gets right and their top-class
    probabilities as the saved head computes them, the parts fitted on ``train_idx`` (the
    embedding part is ``fixed`` when given; without ``lexical`` there is no n-gram part)."""
    emb, lex, vectorizers = _fit_parts([texts[i] for i in train_idx], list(y[train_idx]), embeddings[train_idx],
                                       lexical, C, min_df, fit_embedding=fixed is None)
    classes = np.asarray(fixed.labels if fixed is not None else emb.classes_)
    if lex is not None and list(lex.classes_) != list(classes):
        raise ValueError("every label needs training texts outside the held-out ones")
    if fixed is not None:
        log_e = fixed.log_proba(embeddings[test_idx])
    else:
        log_e = np.log(np.clip(emb.predict_proba(embeddings[test_idx]), 1e-12, None))
    log_l = 0.0 if lex is None else np.log(np.clip(
        lex.predict_proba(lexical_features(vectorizers, [texts[i] for i in test_idx])), 1e-12, None))
    out = {}
    for m in grid:
        p = np.exp(log_softmax(m * log_e + (1 - m) * log_l))  # as HeadClassifier.probabilities
        out[m] = (int(np.sum(classes[p.argmax(axis=1)] == y[test_idx])), p.max(axis=1))
    return out


def _softmax_form(model) -> tuple[np.ndarray, np.ndarray]:
    """One row of weights per label; a two-label model's single row w becomes (-w/2, w/2),
    whose softmax is the model's sigmoid."""
    coef = model.coef_.toarray() if hasattr(model.coef_, "toarray") else np.asarray(model.coef_)
    if len(model.classes_) == 2 and coef.shape[0] == 1:
        return np.r_[-coef / 2, coef / 2], np.r_[-model.intercept_ / 2, model.intercept_ / 2]
    return coef, np.asarray(model.intercept_)


def save_head(folder: str | Path, head: TrainedHead, meta: dict[str, Any]) -> Path:
    """Write a head as head.npz (float16 weights) + head.json (labels, vocabularies, card data)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"coef": head.coef.astype(np.float16), "intercept": head.intercept.astype(np.float32)}
    meta = {**meta, "mix": head.mix}
    if head.other is not None:
        meta |= {"other_threshold": head.other["threshold"], "other_rule": head.other}
    if head.lexical is not None:
        lex = head.lexical
        arrays |= {"lex_coef": lex["coef"].astype(np.float16), "lex_intercept": lex["intercept"].astype(np.float32),
                   "idf_word": lex["idf_word"].astype(np.float32), "idf_char": lex["idf_char"].astype(np.float32)}
        meta["lexical"] = {"word_vocabulary": lex["word_vocabulary"], "char_vocabulary": lex["char_vocabulary"]}
    np.savez_compressed(folder / "head.npz", **arrays)
    (folder / "head.json").write_text(json.dumps({**meta, "labels": head.labels}))
    return folder
