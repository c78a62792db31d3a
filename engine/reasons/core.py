"""Contact reasons: the editable taxonomy, the classifiers, discovery of emerging reasons,
and the per-run ``reasons`` summary.

A taxonomy is a TOML file (``models/taxonomy/contact-reasons.toml``) that a business edits
without code. Two classifiers put an utterance on it, both over the shared MiniLM encoder:

- ``ExampleClassifier`` compares the utterance with each reason's example utterances. Its
  confidence is calibrated on the taxonomy itself: every example is classified against the
  others (leave-one-out) and a logistic regression maps (best similarity, margin to the
  runner-up) to the probability of being right. Below ``other_threshold`` the answer is
  ``other``.
- ``HeadClassifier`` is a supervised head trained by ``scripts/train_intents.py`` on labelled
  data (``models/intents-banking77`` ships one); its labels map onto taxonomy reasons.

Also here: the utterance text helpers that the jobs and signals stages share (normalising ASR
output: fillers, stutters, numbers, case, punctuation; and mapping a match back to a quote
with its start and end time).
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from wocas.schema import Turn
from wocas.errors import ConfigError

log = logging.getLogger(__name__)

OTHER = "other"


class TaxonomyError(ConfigError):
    pass


# ---- taxonomy -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Reason:
    id: str
    description: str
    preventable: bool
    owner: str | None
    examples: tuple[str, ...]


@dataclass(frozen=True)
class Taxonomy:
    name: str
    version: str
    reasons: tuple[Reason, ...]
    path: str = ""

    def get(self, reason_id: str) -> Reason | None:
        return self.by_id.get(reason_id)

    @property
    def by_id(self) -> dict[str, Reason]:
        return {r.id: r for r in self.reasons}

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.reasons]


def load_taxonomy(name_or_path: str) -> Taxonomy:
    """Read a taxonomy by registry name or path; errors name the file and the bad reason."""
    from wocas.models.registry import resolve

    path = resolve(name_or_path).path
    try:
        data = tomllib.loads(Path(path).read_text())
    except tomllib.TOMLDecodeError as e:
        raise TaxonomyError(f"taxonomy {path} is not valid TOML: {e}") from e
    raw = data.get("reason")
    if not isinstance(raw, list) or not raw:
        raise TaxonomyError(f"taxonomy {path} has no [[reason]] entries")
    reasons: list[Reason] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        rid = item.get("id")
        where = f"taxonomy {path}, reason #{i + 1} ({rid or 'no id'})"
        if not isinstance(rid, str) or not re.fullmatch(r"[a-z0-9_]+", rid) or rid == OTHER:
            raise TaxonomyError(f"{where}: id must be snake_case and not {OTHER!r}")
        if rid in seen:
            raise TaxonomyError(f"{where}: id {rid!r} appears twice")
        seen.add(rid)
        examples = item.get("examples", [])
        if not isinstance(examples, list) or not examples or not all(isinstance(x, str) and x.strip() for x in examples):
            raise TaxonomyError(f"{where}: needs a non-empty list of example utterances")
        unknown = set(item) - {"id", "description", "preventable", "owner", "examples"}
        if unknown:
            raise TaxonomyError(f"{where}: unknown keys {sorted(unknown)}")
        reasons.append(Reason(rid, str(item.get("description", "")), bool(item.get("preventable", False)),
                              item.get("owner"), tuple(examples)))
    return Taxonomy(str(data.get("name", Path(path).stem)), str(data.get("version", "1")), tuple(reasons), str(path))


# ---- embeddings ---------------------------------------------------------------------------
_CACHE: OrderedDict[tuple[str, str, str, str], np.ndarray] = OrderedDict()  # (model, backend, adapter, text)
_CACHE_SIZE = 8192


def embed(texts: list[str], adapter: str | None = None, encoder: str | None = None) -> np.ndarray:
    """Sentence embeddings from the shared encoder (MiniLM, 384-d, unless configured otherwise),
    with a small cache: the jobs and signals stages read the same customer turns, so the second
    stage pays nothing for them. With ``adapter`` (a LoRA adapter file), from the encoder
    fine-tuned by it; with ``encoder`` (a registry name or path), from that encoder instead of
    the shared one: both are a head's own encoder."""
    from wocas.models.text_encoder import active, encode

    model, backend = active()
    model = encoder or model
    if not texts:
        return encode([], model, adapter=adapter)
    keys = [(model, backend, adapter or "", t) for t in texts]
    found = {k: _CACHE[k] for k in dict.fromkeys(keys) if k in _CACHE}
    missing = [k for k in dict.fromkeys(keys) if k not in found]
    if missing:
        found.update(zip(missing, encode([k[-1] for k in missing], model, adapter=adapter)))
    for k, vector in found.items():  # most recently used last; a batch larger than the cache keeps its tail
        _CACHE[k] = vector
        _CACHE.move_to_end(k)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return np.stack([found[k] for k in keys])


# ---- classifiers --------------------------------------------------------------------------
@dataclass(frozen=True)
class Prediction:
    reason: str  # a taxonomy id or "other"
    confidence: float  # calibrated probability that ``best`` is right
    best: str  # the top reason even when it fell below the threshold


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

    def __init__(self, taxonomy: Taxonomy, other_threshold: float = 0.35, top_k: int = 2):
        self.taxonomy = taxonomy
        self.other_threshold = other_threshold
        self.top_k = top_k
        texts, owners = [], []
        for j, r in enumerate(taxonomy.reasons):
            for t in (*r.examples, r.description) if r.description else r.examples:
                texts.append(t)
                owners.append(j)
        self._owner = np.array(owners)
        self._vectors = embed(texts)  # (n_examples, 384)
        self._calibrator = self._calibrate()

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
        _, off_top, off_margin = _top_two(self._scores(embed(list(OFF_TOPIC)) @ self._vectors.T))
        x = np.r_[np.c_[top, margin], np.c_[off_top, off_margin]]
        y = np.r_[correct, np.zeros(len(OFF_TOPIC), dtype=int)]
        return LogisticRegression(C=10.0).fit(x, y)

    def predict(self, texts: list[str], embeddings: np.ndarray) -> list[Prediction]:
        if len(embeddings) == 0:
            return []
        best, top, margin = _top_two(self._scores(embeddings @ self._vectors.T))
        conf = self._calibrator.predict_proba(np.c_[top, margin])[:, 1]
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
    """

    def __init__(self, folder: str | Path, other_threshold: float | None = None):
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
        self.encoder: str | None = meta.get("encoder")
        if self.has_own_encoder() and self.encoder:
            from wocas.models.registry import ModelNotFound, resolve

            try:
                resolve(self.encoder)  # a missing encoder fails here, at load, not on every call
            except ModelNotFound as e:
                raise TaxonomyError(f"intent head {folder} reads its texts with encoder {self.encoder!r}: {e}") from e
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
        self.other_threshold = float(other_threshold if other_threshold is not None else meta.get("other_threshold", 0.0))
        if self.coef.shape[0] != len(self.labels) or self.intercept.shape != (len(self.labels),):
            raise TaxonomyError(f"intent head {folder}: coef/intercept shapes do not match {len(self.labels)} labels")

    def probabilities(self, texts: list[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        """(n, labels). ``embeddings`` are the shared encoder's (computed here when not given);
        a head with its own encoder (an adapter, or another model) ignores them."""
        if self.has_own_encoder():
            embeddings = embed(texts, adapter=self.adapter, encoder=self.encoder)
        elif embeddings is None:
            embeddings = embed(texts)
        logp = self.mix * _log_softmax(embeddings @ self.coef.T + self.intercept)
        if self.lexical is not None and self.mix < 1.0:
            x = _lexical_features(self.lexical, texts)
            logp = logp + (1.0 - self.mix) * _log_softmax(np.asarray(x @ self.lex_coef.T) + self.lex_intercept)
        return np.exp(_log_softmax(logp))

    def has_own_encoder(self) -> bool:
        from wocas.models.text_encoder import active

        return self.adapter is not None or self.encoder not in (None, active()[0])

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


def _log_softmax(logits: np.ndarray) -> np.ndarray:
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


def _lexical_features(vectorizers, texts: list[str]):
    from scipy import sparse

    word, char = vectorizers
    return sparse.hstack([word.transform(texts), char.transform(texts)]).tocsr()


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
        return _log_softmax(embeddings @ self.coef.T + self.intercept)


def train_head(texts: list[str], labels: list[str], embeddings: np.ndarray | None = None, lexical: bool = True,
               C: float = 30.0, mix: float | None = None, min_df: int = 2, folds: int = 5,
               fixed: LinearPart | None = None) -> TrainedHead:
    """Fit the embedding head (and the n-gram head beside it when ``lexical``). Without a
    ``mix``, the weight of the embedding part is chosen by ``folds``-fold cross-validation on
    the training texts themselves (see ``choose_mix``). With ``fixed``, that is the embedding
    part and only the n-gram part is fitted here (give ``mix``: see ``choose_mix_on_holdout``)."""
    if len(texts) != len(labels) or not texts:
        raise ValueError(f"training needs as many labels as texts (got {len(texts)} texts, {len(labels)} labels)")
    if embeddings is None:
        embeddings = embed(texts)
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
    lex = LogisticRegression(C=C, max_iter=3000).fit(_lexical_features((word, char), texts), labels)
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
    log_l = np.log(np.clip(lex.predict_proba(_lexical_features(vectorizers, [texts[i] for i in test_idx])),
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


# ---- utterance text (shared by the jobs and signals stages) -------------------------------
FILLERS = frozenset({"um", "umm", "uh", "uhh", "uhm", "er", "erm", "ah", "ahh", "hmm", "mm", "mhm", "uh-huh"})
_NUMBERS = {"1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven",
            "8": "eight", "9": "nine", "10": "ten", "1st": "first", "2nd": "second", "3rd": "third",
            "4th": "fourth", "5th": "fifth", "6th": "sixth"}
_EXPAND = {"gonna": ("going", "to"), "wanna": ("want", "to"), "gotta": ("got", "to")}


@dataclass(frozen=True)
class Utterance:
    """A turn's text as words, plus a normalised token stream that remembers where each token
    came from, so a pattern found in the normalised text maps back to the original quote."""

    words: tuple[str, ...]  # original words (whitespace split)
    tokens: tuple[str, ...]  # normalised: lowercase, no punctuation/apostrophes, no fillers/stutters
    origin: tuple[int, ...]  # token index -> word index
    sentence: tuple[int, ...]  # word index -> sentence number
    text: str = field(default="")  # " ".join(tokens)
    offsets: tuple[int, ...] = ()  # token index -> char offset in ``text``

    def token_at(self, char: int) -> int:
        """The token index that contains char offset ``char`` of ``text``."""
        return max(0, int(np.searchsorted(self.offsets, char, side="right")) - 1)


def normalise_word(word: str) -> str:
    w = word.lower().replace("\u2019", "'").replace("'", "")
    w = re.sub(r"[^\w\-]+", "", w).strip("-_")
    return _NUMBERS.get(w, w)


@lru_cache(maxsize=4096)
def parse_utterance(text: str) -> Utterance:
    words = tuple(text.split())
    tokens: list[str] = []
    origin: list[int] = []
    sentence: list[int] = []
    n_sentence = 0
    for i, word in enumerate(words):
        sentence.append(n_sentence)
        if re.search(r"[.?!]+[\"')\]]*$", word):
            n_sentence += 1
        w = normalise_word(word)
        if not w or w in FILLERS:
            continue
        if tokens and w == tokens[-1] and len(w) <= 4:  # ASR stutter: "i i want", "the the"
            continue
        for part in _EXPAND.get(w, (w,)):
            tokens.append(part)
            origin.append(i)
    offsets, pos = [], 0
    for t in tokens:
        offsets.append(pos)
        pos += len(t) + 1
    return Utterance(words, tuple(tokens), tuple(origin), tuple(sentence), " ".join(tokens), tuple(offsets))


def normalise_text(text: str) -> str:
    return parse_utterance(text).text


def quote_for(utt: Utterance, char_start: int, char_end: int, max_words: int = 30) -> tuple[int, int]:
    """Word range [first, last] of the sentence that holds a match, trimmed around the match."""
    if not utt.tokens:
        return 0, max(0, len(utt.words) - 1)
    a = utt.origin[utt.token_at(char_start)]
    b = utt.origin[utt.token_at(max(char_start, char_end - 1))]
    first = a
    while first > 0 and utt.sentence[first - 1] == utt.sentence[a]:
        first -= 1
    last = b
    while last + 1 < len(utt.words) and utt.sentence[last + 1] == utt.sentence[b]:
        last += 1
    if last - first + 1 > max_words:  # no punctuation (ASR): a window around the match
        half = max(0, (max_words - (b - a + 1)) // 2)
        first = max(first, a - half)
        last = min(last, max(b, first + max_words - 1))
    return first, last


def span_times(turn: Turn, first: int, last: int, n_words: int) -> tuple[float, float]:
    """Start and end time of words [first, last] of a turn: from word timestamps when they
    line up with the text, else interpolated over the turn."""
    if turn.words and len(turn.words) == n_words:
        return turn.words[first].start, turn.words[last].end
    if n_words == 0:
        return turn.start, turn.end
    duration = turn.end - turn.start
    return (round(turn.start + duration * first / n_words, 3),
            round(turn.start + duration * (last + 1) / n_words, 3))


# ---- discovery ----------------------------------------------------------------------------
STOPWORDS = frozenset("""a about above after again against all am an and any are as at be because been before being
below between both but by can cant could did didnt do does doesnt doing dont down during each few for from further
had has have having he her here hers him his how i id if ill im in into is isnt it its itself ive just me more most
my myself no nor not now of off on once only or other our out over own same she should so some such than that thats
the their them then there these they this those through to too under until up very was wasnt we were what when where
which while who whom why will with would you your youre yours yes yeah okay ok oh hi hello please thanks thank
want need like trying calling call called get got going know just really well also still actually think one two
hey sorry mean sure right""".split())


@dataclass(frozen=True)
class EmergingReason:
    label: str
    count: int
    examples: tuple[str, ...]
    members: tuple[int, ...]  # indices into the statements given


def label_from_words(texts: list[str], n_words: int = 3) -> str:
    """A cluster's label: its most widespread content words (in how many members they occur)."""
    df: Counter[str] = Counter()
    for t in texts:
        df.update({w for w in normalise_text(t).split() if w not in STOPWORDS and len(w) > 2 and not w.isdigit()})
    words = [w for w, _ in sorted(df.items(), key=lambda kv: (-kv[1], kv[0]))[:n_words]]
    return " ".join(words) if words else "unlabelled"


def discover_reasons(statements: list[str], embeddings: np.ndarray | None = None, min_count: int = 2,
                     max_distance: float = 0.55, n_examples: int = 3) -> list[EmergingReason]:
    """Cluster statements that matched no reason into emerging reasons, largest first.

    Average-linkage agglomerative clustering on cosine distance: no number of clusters to
    guess, and a statement joins a cluster only if it is close to the cluster as a whole.
    """
    if len(statements) < min_count:
        return []
    if embeddings is None:
        embeddings = embed(statements)
    if len(statements) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        from sklearn.cluster import AgglomerativeClustering

        labels = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                         distance_threshold=max_distance).fit_predict(embeddings)
    found = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < min_count:
            continue
        centre = embeddings[members].mean(axis=0)
        order = members[np.argsort(-(embeddings[members] @ centre))]
        texts = [statements[i] for i in members]
        found.append(EmergingReason(label_from_words(texts), len(members),
                                    tuple(dict.fromkeys(statements[i] for i in order))[:n_examples],
                                    tuple(int(i) for i in members)))
    return sorted(found, key=lambda r: (-r.count, r.label))


# ---- the run summary ----------------------------------------------------------------------
def reasons_summary(store, run_id: str | None = None, n_examples: int = 3, min_count: int = 2) -> dict[str, Any]:
    """Contact reasons of the calls in a store (or one run): counts, share preventable, owner,
    example quotes, plus emerging reasons discovered among the ``other`` statements."""
    where = "c.status = 'ok'" + (" AND c.run_id = ?" if run_id else "")
    params = [run_id] if run_id else []
    total = store.query(f"SELECT count(*) AS n FROM calls c WHERE {where}", params)[0]["n"]
    rows = store.query(f"""
        SELECT c.contact_reason AS reason, count(*) AS calls,
               avg(CASE WHEN c.preventable THEN 1.0 ELSE 0.0 END) AS share_preventable,
               any_value(j.owner) AS owner
        FROM calls c LEFT JOIN jobs j ON j.call_id = c.call_id AND j.idx = 0
        WHERE {where} AND c.contact_reason IS NOT NULL
        GROUP BY c.contact_reason ORDER BY calls DESC, reason""", params)
    quotes = store.query(f"""
        SELECT j.reason, j.statement, j.call_id FROM jobs j JOIN calls c ON c.call_id = j.call_id
        WHERE {where} ORDER BY j.reason_confidence DESC, j.call_id""", params)
    by_reason: dict[str, list[str]] = {}
    for q in quotes:
        lst = by_reason.setdefault(q["reason"], [])
        if len(lst) < n_examples and q["statement"] not in lst:
            lst.append(q["statement"])
    reasons = [{"reason": r["reason"], "calls": int(r["calls"]),
                "share_of_calls": round(r["calls"] / total, 4) if total else 0.0,
                "share_preventable": round(float(r["share_preventable"]), 4), "owner": r["owner"],
                "examples": by_reason.get(r["reason"], [])} for r in rows]
    preventable = store.query(f"SELECT avg(CASE WHEN c.preventable THEN 1.0 ELSE 0.0 END) AS p FROM calls c "
                              f"WHERE {where} AND c.contact_reason IS NOT NULL", params)[0]["p"]
    others = [q["statement"] for q in quotes if q["reason"] == OTHER]
    emerging = discover_reasons(others, min_count=min_count)
    return {"run_id": run_id, "calls": int(total),
            "share_preventable": round(float(preventable), 4) if preventable is not None else None,
            "reasons": reasons,
            "emerging": [{"label": e.label, "count": e.count, "examples": list(e.examples)} for e in emerging]}


def summary_markdown(summary: dict[str, Any]) -> str:
    lines = [f"# Contact reasons ({summary['calls']} calls"
             + (f", run {summary['run_id']}" if summary["run_id"] else "") + ")", "",
             f"Share preventable: {summary['share_preventable']}", "",
             "| reason | calls | share | preventable | owner | example |", "|---|---|---|---|---|---|"]
    for r in summary["reasons"]:
        ex = (r["examples"][0] if r["examples"] else "").replace("|", "/")
        lines.append(f"| {r['reason']} | {r['calls']} | {r['share_of_calls']:.1%} | {r['share_preventable']:.0%} "
                     f"| {r['owner'] or '-'} | {ex} |")
    if summary["emerging"]:
        lines += ["", "## Emerging reasons (among `other`)", "", "| label | count | examples |", "|---|---|---|"]
        for e in summary["emerging"]:
            lines.append(f"| {e['label']} | {e['count']} | {' / '.join(x.replace('|', '/') for x in e['examples'])} |")
    return "\n".join(lines) + "\n"
