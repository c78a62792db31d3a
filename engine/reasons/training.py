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


MIX_GRID = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


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
               fixed: LinearPart | None = None) -> TrainedHead:
    """Fit the embedding head (and the n-gram head beside it when ``lexical``). Without a
    ``mix``, the weight of the embedding part is chosen by ``folds``-fold cross-validation on
    the training texts themselves (see ``choose_mix``). With ``fixed``, that is the embedding
    part and only the n-gram part is fitted here (give ``mix``: see ``choose_mix_on_holdout``)."""
    if len(texts) != len(labels) or not texts:
        raise ValueError(f"training needs as many labels as texts (got {len(texts)} texts, {len(labels)} labels)")
    emb, lex, vectorizers = _fit_parts(texts, labels, embeddings, lexical, C, min_df, fit_embedding=fixed is None)
    classes, (coef, intercept) = (fixed.labels, (fixed.coef, fixed.intercept)) if fixed else \
        (list(emb.classes_), _softmax_form(emb))
    if lex is None:
        return TrainedHead(classes, coef, intercept, 1.0)
    if list(lex.classes_) != list(classes):
        raise ValueError("the n-gram part and the given embedding part have different labels")
    if mix is None:
        if fixed is not None:
            raise ValueError("a fixed embedding part needs a mix (choose it on held-out texts)")
        mix = choose_mix(texts, labels, embeddings, C, min_df, folds).mix
    word, char = vectorizers
    vocab = lambda v: [w for w, _ in sorted(v.vocabulary_.items(), key=lambda kv: kv[1])]  # noqa: E731
    lex_coef, lex_intercept = _softmax_form(lex)
    return TrainedHead(classes, coef, intercept, mix, {
        "word_vocabulary": vocab(word), "char_vocabulary": vocab(char), "idf_word": word.idf_,
        "idf_char": char.idf_, "coef": lex_coef, "intercept": lex_intercept})


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


def choose_mix(texts: list[str], labels: list[str], embeddings: np.ndarray, C: float = 30.0, min_df: int = 2,
               folds: int = 5, grid: tuple[float, ...] = MIX_GRID) -> MixChoice:
    """The embedding weight with the best cross-validated accuracy on the training data (the
    test split never takes part). Folds are stratified; a label with fewer examples than
    folds only ever sits in training folds."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(labels)
    counts = {label: int(n) for label, n in zip(*np.unique(y, return_counts=True))}
    k = max(2, min(folds, max(counts.values())))
    correct = {m: 0 for m in grid}
    for train_idx, test_idx in StratifiedKFold(k, shuffle=True, random_state=0).split(embeddings, y):
        for m, n in _mix_correct(texts, y, embeddings, train_idx, test_idx, C, min_df, grid).items():
            correct[m] += n
    accuracy = {m: round(c / len(y), 4) for m, c in correct.items()}
    return MixChoice(max(grid, key=lambda m: (accuracy[m], m)), accuracy)


def choose_mix_on_holdout(texts: list[str], labels: list[str], embeddings: np.ndarray, holdout: np.ndarray,
                          C: float = 30.0, min_df: int = 2, grid: tuple[float, ...] = MIX_GRID,
                          fixed: LinearPart | None = None) -> MixChoice:
    """The embedding weight with the best accuracy on the rows in ``holdout`` (indices), the
    head fitted on the others. For a fine-tuned encoder (and its ``fixed`` head), which knows
    its own training texts too well for cross-validation over them to be fair, ``holdout``
    is the texts it did not train on."""
    y = np.asarray(labels)
    train_idx = np.setdiff1d(np.arange(len(y)), holdout)
    correct = _mix_correct(texts, y, embeddings, train_idx, np.asarray(holdout), C, min_df, grid, fixed)
    accuracy = {m: round(c / len(holdout), 4) for m, c in correct.items()}
    return MixChoice(max(grid, key=lambda m: (accuracy[m], m)), accuracy)


def _mix_correct(texts: list[str], y: np.ndarray, embeddings: np.ndarray, train_idx: np.ndarray,
                 test_idx: np.ndarray, C: float, min_df: int, grid: tuple[float, ...],
                 fixed: LinearPart | None = None) -> dict[float, int]:
    """How many ``test_idx`` rows each weight gets right, the parts fitted on ``train_idx``
    (the embedding part is ``fixed`` when given)."""
    emb, lex, vectorizers = _fit_parts([texts[i] for i in train_idx], list(y[train_idx]), embeddings[train_idx],
                                       True, C, min_df, fit_embedding=fixed is None)
    if fixed is not None:
        if list(lex.classes_) != list(fixed.labels):
            raise ValueError("every label needs training texts outside the held-out ones")
        log_e = fixed.log_proba(embeddings[test_idx])
    else:
        log_e = np.log(np.clip(emb.predict_proba(embeddings[test_idx]), 1e-12, None))
    log_l = np.log(np.clip(lex.predict_proba(lexical_features(vectorizers, [texts[i] for i in test_idx])),
                           1e-12, None))
    return {m: int(np.sum(lex.classes_[(m * log_e + (1 - m) * log_l).argmax(axis=1)] == y[test_idx]))
            for m in grid}


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
    if head.lexical is not None:
        lex = head.lexical
        arrays |= {"lex_coef": lex["coef"].astype(np.float16), "lex_intercept": lex["intercept"].astype(np.float32),
                   "idf_word": lex["idf_word"].astype(np.float32), "idf_char": lex["idf_char"].astype(np.float32)}
        meta["lexical"] = {"word_vocabulary": lex["word_vocabulary"], "char_vocabulary": lex["char_vocabulary"]}
    np.savez_compressed(folder / "head.npz", **arrays)
    (folder / "head.json").write_text(json.dumps({**meta, "labels": head.labels}))
    return folder
