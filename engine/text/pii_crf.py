"""A linear-chain CRF over the PII tagger's token features, decoded in pure numpy.

The logistic tagger (``wocas.text.pii_tagger.PiiTagger``) reads each token alone: a token's
neighbours enter only as features, never as decisions. A linear-chain CRF scores a whole turn's
label sequence at once: the same state features (``turn_features``) plus a weight for each pair of
adjacent labels, so an isolated "oh" among ordinary words and a run of digits are decided as
sequences. It is fitted with CRFsuite (``python-crfsuite``, only needed to fit:
scripts/train_pii_tagger.py); its weights are exported to ``head.npz`` (``state`` of shape
(features, labels), ``transitions`` of shape (labels, labels)) and decoded here with numpy:

- ``decode = "viterbi"``: the best label sequence; each run of non-O tokens is one span;
- ``decode = "marginal"``: a token is PII when its marginal P(not O) (forward-backward) reaches
  ``min_probability``, as the logistic tagger decodes.

Either way a run never starts or ends on a sign and takes the type with the most summed marginal
probability over the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from wocas.models.viterbi import best_path

from wocas.text.pii import PiiSpan
from wocas.text.pii_tagger import OUTSIDE, TurnTokens, conversation_rows, outside, run_spans

DECODES = ("viterbi", "marginal")
# The features are the logistic tagger's (features version 2); a CRF head is written as version 3
# ("model": "crf" in config.json) so that a loader older than this module refuses it clearly.
FEATURE_VERSION = 3


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = a.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))).squeeze(axis)


class CrfTagger:
    """The fitted CRF: labels, feature index, state weights and transition weights."""

    def __init__(self, classes: Sequence[str], features: Sequence[str], state: np.ndarray, transitions: np.ndarray,
                 decode: str = "viterbi", min_probability: float = 0.8):
        if decode not in DECODES:
            raise ValueError(f"CRF decode {decode!r}: one of {DECODES}")
        self.classes = list(classes)
        self.index = {f: k for k, f in enumerate(features)}
        self.state = np.asarray(state, dtype=np.float64)  # (n_features, n_labels)
        self.transitions = np.asarray(transitions, dtype=np.float64)  # (from, to)
        self.decode = decode
        self.min_probability = min_probability
        self.outside = self.classes.index(OUTSIDE)
        self.stacked = False

    def scores(self, token_features: list[list[str]]) -> np.ndarray:
        """The state score of each label at each token, (n_tokens, n_labels)."""
        out = np.zeros((len(token_features), len(self.classes)))
        for i, feats in enumerate(token_features):
            idx = [self.index[f] for f in feats if f in self.index]
            if idx:
                out[i] = self.state[idx].sum(axis=0)
        return out

    def viterbi(self, scores: np.ndarray) -> np.ndarray:
        """The label index of each token on the best-scoring sequence."""
        return best_path(scores, self.transitions)

    def marginals(self, scores: np.ndarray) -> np.ndarray:
        """P(label at token i | the turn), by forward-backward in log space, (n_tokens, n_labels)."""
        n, k = scores.shape
        alpha = np.zeros((n, k))
        beta = np.zeros((n, k))
        alpha[0] = scores[0]
        for i in range(1, n):
            alpha[i] = _logsumexp(alpha[i - 1][:, None] + self.transitions, axis=0) + scores[i]
        for i in range(n - 2, -1, -1):
            beta[i] = _logsumexp(self.transitions + (scores[i + 1] + beta[i + 1])[None, :], axis=1)
        log_z = _logsumexp(alpha[-1], axis=0)
        return np.exp(alpha + beta - log_z)

    def turn_spans(self, text: str, ti: int, toks: TurnTokens, token_features: list[list[str]]) -> list[PiiSpan]:
        """The spans of one turn (see the module's docstring for the two decodes)."""
        if not token_features:
            return []
        s = self.scores(token_features)
        p = self.marginals(s)
        if self.decode == "viterbi":
            pii = self.viterbi(s) != self.outside
        else:
            pii = (1.0 - p[:, self.outside]) >= self.min_probability
        return run_spans(text, ti, toks, pii, p, self.classes, self.outside)

    def tag(self, turns: Sequence[tuple[str, str]], rule_spans: Sequence[PiiSpan]) -> list[PiiSpan]:
        """Every span the CRF reads in the conversation."""
        return [x for ti, toks, feats in conversation_rows(turns, [])
                for x in self.turn_spans(turns[ti][1], ti, toks, feats)]

    def spans(self, turns: Sequence[tuple[str, str]], rule_spans: Sequence[PiiSpan], entities=None) -> list[PiiSpan]:
        """The CRF's spans that overlap none of the rules' spans (of the wanted ``entities``)."""
        wanted = set(entities) if entities is not None else None
        return outside(rule_spans, [x for x in self.tag(turns, rule_spans) if wanted is None or x.type in wanted])


def fit_crf(sequences: Sequence[tuple[list[list[str]], list[str]]], features: Sequence[str],
            c1: float = 0.1, c2: float = 0.1, max_iterations: int = 200, decode: str = "viterbi",
            min_probability: float = 0.8) -> CrfTagger:
    """Fit a CRF with CRFsuite on (token features, labels) sequences; only the ``features`` listed
    are used. Needs ``python-crfsuite`` (fitting only; decoding is numpy)."""
    import os
    import tempfile

    import pycrfsuite

    keep = set(features)
    trainer = pycrfsuite.Trainer(verbose=False)
    for feats, labels in sequences:
        if feats:
            trainer.append(pycrfsuite.ItemSequence([[f for f in tf if f in keep] for tf in feats]), labels)
    trainer.set_params({"c1": c1, "c2": c2, "max_iterations": max_iterations,
                        "feature.possible_transitions": True})
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "crf.model")
        trainer.train(path)
        tagger = pycrfsuite.Tagger()
        tagger.open(path)
        info = tagger.info()
        tagger.close()
    classes = sorted(set(info.labels) | {OUTSIDE})
    label_index = {c: k for k, c in enumerate(classes)}
    used = sorted({a for a, _ in info.state_features})
    feature_index = {f: k for k, f in enumerate(used)}
    state = np.zeros((len(used), len(classes)))
    for (attr, label), w in info.state_features.items():
        state[feature_index[attr], label_index[label]] = w
    transitions = np.zeros((len(classes), len(classes)))
    for (a, b), w in info.transitions.items():
        transitions[label_index[a], label_index[b]] = w
    return CrfTagger(classes, used, state, transitions, decode, min_probability)


def save_crf(folder: str | Path, tagger: CrfTagger, config: dict) -> None:
    """Write ``head.npz`` (state, transitions, classes, features) and ``config.json``."""
    import json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / "head.npz", state=tagger.state.astype(np.float32),
                        transitions=tagger.transitions.astype(np.float32), classes=np.array(tagger.classes),
                        features=np.array(list(tagger.index)))
    (folder / "config.json").write_text(json.dumps(
        {**config, "model": "crf", "decode": tagger.decode, "min_probability": tagger.min_probability,
         "feature_version": FEATURE_VERSION}, indent=1) + "\n")


def load_crf(folder: str | Path) -> CrfTagger:
    """The CRF in ``folder``; a clear error when a file is missing or it was built for other features."""
    from wocas.models.npz_head import read_npz_head

    config, arrays = read_npz_head(folder, "PII CRF tagger", FEATURE_VERSION,
                                   "refit it with scripts/train_pii_tagger.py --model crf")
    return CrfTagger([str(c) for c in arrays["classes"]], [str(f) for f in arrays["features"]], arrays["state"],
                     arrays["transitions"], str(config.get("decode", "marginal")),
                     float(config.get("min_probability", 0.8)))
