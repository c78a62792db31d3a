"""A fitted token tagger beside the PII rules: it reads each token with its neighbours, the
question the other party just asked and how long a run of code-like tokens it sits in, and names
the PII type the token belongs to (or none). Its spans are added to the rules' spans where the
rules found nothing.

The rules (``wocas.text.pii``) were written against a few writers' lines and carry over to a new
writer's lines only in part; the tagger learns from every labelled set at once. It is a
multinomial logistic regression over sparse binary features (about 6,000), so it is small (one
``head.npz``) and runs in pure numpy.

It can also read the rules' own types as features (``stacked``). The shipped one does not: the
rules were fixed on the training writers' lines, so a stacked tagger learns to trust them
and, on a writer left out, added 0.0-0.2 points of recall (benchmarks/results/pii_tagger.md).

    tagger = load_tagger("models/pii-tagger")
    spans = tagger.spans(turns, rule_spans)        # PiiSpans where the rules found nothing

``load_tagger`` also loads the linear-chain CRF over the same features (``wocas.text.pii_crf``,
models/pii-tagger-crf): the more precise of the two on writers left out
(benchmarks/results/pii_tagger_crf.md).

Fitting: ``scripts/train_pii_tagger.py`` (leave-one-writer-out figures in
benchmarks/results/pii_tagger.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from wocas.models.npz_head import read_npz_head
from wocas.text.pii import NATO, TEENS, TENS, UNITS, PiiSpan

FEATURE_VERSION = 2  # 2: a written e-mail address is one token; runs never start or end on a sign
OUTSIDE = "O"
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
TOKEN_RE = re.compile(EMAIL_RE.pattern + r"|[^\W_]+(?:['’][^\W_]+)*|[^\w\s]")
NUMBER_WORDS = set(UNITS) | set(TEENS) | set(TENS) | {"hundred", "thousand", "double", "triple", "treble", "zero"}
# Words that say what the other party asked for, or what a value in this turn is.
CUE_WORDS = {
    "order", "claim", "reference", "ref", "policy", "account", "member", "membership", "customer", "ticket",
    "case", "booking", "tracking", "confirmation", "complaint", "registration", "reg", "passport", "licence",
    "license", "name", "surname", "first", "last", "spell", "spelling", "called", "postcode", "zip", "eircode",
    "address", "street", "road", "email", "e-mail", "mail", "phone", "mobile", "number", "contact", "birth",
    "dob", "born", "sort", "code", "card", "expiry", "expires", "security", "cvv", "social", "insurance", "ni",
    "sin", "iban", "routing", "meter", "mprn", "digits", "four", "id", "pin", "who", "speaking", "husband", "wife",
    "son", "daughter", "mum", "mother", "dad", "father", "partner", "colleague", "spoke", "manager", "mr", "mrs",
    "ms", "miss", "mister", "doctor", "dr", "price", "cost", "pounds", "dollars", "euros", "rand", "rupees",
    "press", "option", "flight", "store", "model", "version", "error", "seat", "train", "platform", "at", "dot",
}


def word_class(word: str) -> str:
    """A token's kind: digits, a number word, a single letter, a spelling-alphabet word, a word, a sign."""
    lower = word.lower()
    if "@" in word:
        return "email"
    if word.isdigit():
        return "dig"
    if lower in NUMBER_WORDS:
        return "numw"
    if len(word) == 1 and word.isalpha():
        return "let"
    if lower in NATO:
        return "nato"
    if any(c.isdigit() for c in word):
        return "alnum"
    if word[0].isalpha():
        return "Cap" if word[0].isupper() else "word"
    return "sign"


def shape(word: str) -> str:
    """'Xxxx' -> 'Xx', 'AB12' -> 'Ad': runs of upper, lower, digit collapsed."""
    out = []
    for c in word:
        k = "A" if c.isupper() else "a" if c.isalpha() else "d" if c.isdigit() else c
        if not out or out[-1] != k:
            out.append(k)
    return "".join(out)[:6]


@dataclass(frozen=True)
class TurnTokens:
    spans: list[tuple[int, int]]  # character offsets of each token
    words: list[str]


def tokens_of(text: str) -> TurnTokens:
    matches = list(TOKEN_RE.finditer(text))
    return TurnTokens([(m.start(), m.end()) for m in matches], [m.group() for m in matches])


def _cues(words: Iterable[str]) -> set[str]:
    return {w.lower() for w in words if w.lower() in CUE_WORDS}


def turn_features(turns: Sequence[tuple[str, str]], ti: int, toks: TurnTokens,
                  rule_types: list[str]) -> list[list[str]]:
    """The binary features of every token of turn ``ti`` (``rule_types``: the rules' type of each
    token, ``O`` for none)."""
    speaker = turns[ti][0]
    asked: set[str] = set()
    for tj in range(ti - 1, max(-1, ti - 3), -1):  # the other party's last turn, and anything between
        asked |= _cues(tokens_of(turns[tj][1]).words)
        if turns[tj][0] != speaker:
            break
    words = toks.words
    lower = [w.lower() for w in words]
    classes = [word_class(w) for w in words]
    n = len(words)
    runs = code_runs(classes)
    feats = []
    for i in range(n):
        c = classes[i]
        run = runs[i]
        f = ["b", f"w={lower[i]}", f"c={c}", f"s={shape(words[i])}", f"r={rule_types[i]}",
             f"r={rule_types[i]}|c={c}", f"spk={speaker}|c={c}", f"run={run}", f"run={run}|c={c}"]
        for d in (-2, -1, 1, 2):
            j = i + d
            if 0 <= j < n:
                f += [f"w{d}={lower[j]}", f"c{d}={classes[j]}", f"r{d}={rule_types[j]}"]
            else:
                f.append(f"w{d}=<edge>")
        f.append(f"c-1c+1={classes[i - 1] if i else '<'}_{classes[i + 1] if i + 1 < n else '>'}")
        for cue in asked:
            f += [f"ask={cue}", f"ask={cue}|c={c}", f"ask={cue}|run={run}"]
        for cue in _cues(lower[max(0, i - 5):i]):
            f.append(f"left={cue}|c={c}")
        if i == 0:
            f.append("first")
        feats.append(f)
    return feats


CODE_CLASSES = {"dig", "numw", "let", "nato", "alnum"}


def code_runs(classes: Sequence[str]) -> list[str]:
    """How long a run of code-like tokens (digits, number words, letters, spelling words) each token
    sits in, bucketed: a reference number is a long run, a price or a time a short one."""
    out, i = [], 0
    while i < len(classes):
        if classes[i] not in CODE_CLASSES:
            out.append("0")
            i += 1
            continue
        j = i
        while j < len(classes) and classes[j] in CODE_CLASSES:
            j += 1
        size = j - i
        out += [str(size) if size < 4 else "4-6" if size <= 6 else "7+"] * size
        i = j
    return out


def rule_types_of(toks: TurnTokens, spans: Iterable[PiiSpan]) -> list[str]:
    types = [OUTSIDE] * len(toks.words)
    for x in spans:
        for k, (s, e) in enumerate(toks.spans):
            if s < x.end and x.start < e:
                types[k] = x.type
    return types


def conversation_rows(turns: Sequence[tuple[str, str]], rule_spans: Sequence[PiiSpan]
                      ) -> list[tuple[int, TurnTokens, list[list[str]]]]:
    """(turn index, tokens, features per token) of every turn."""
    rows = []
    for ti, (_, text) in enumerate(turns):
        toks = tokens_of(text)
        rules = rule_types_of(toks, (x for x in rule_spans if x.turn == ti))
        rows.append((ti, toks, turn_features(turns, ti, toks, rules)))
    return rows


def run_spans(text: str, ti: int, toks: TurnTokens, pii: np.ndarray, p: np.ndarray, classes: Sequence[str],
              outside_index: int) -> list[PiiSpan]:
    """Each run of tokens flagged in ``pii`` as one span of turn ``ti``, trimmed so that it never
    starts or ends on a sign, of the type with the most probability ``p`` summed over the run."""
    out, k = [], 0
    while k < len(pii):
        if not pii[k]:
            k += 1
            continue
        j = k
        while j + 1 < len(pii) and pii[j + 1]:
            j += 1
        first, last = k, j
        k = j + 1
        while first <= last and not any(c.isalnum() for c in toks.words[first]):  # no run starts or
            first += 1                                                           # ends on a sign
        while last >= first and not any(c.isalnum() for c in toks.words[last]):
            last -= 1
        if first > last:
            continue
        mass = p[first:last + 1].sum(axis=0)
        mass[outside_index] = -1.0
        s, e = toks.spans[first][0], toks.spans[last][1]
        out.append(PiiSpan(classes[int(mass.argmax())], ti, s, e, text[s:e], text[s:e].lower()))
    return out


class PiiTagger:
    """The fitted tagger: classes, feature index and weights (from ``head.npz``)."""

    def __init__(self, classes: Sequence[str], features: Sequence[str], coef: np.ndarray, intercept: np.ndarray,
                 min_probability: float = 0.5, stacked: bool = False):
        self.classes = list(classes)
        self.index = {f: k for k, f in enumerate(features)}
        self.coef = np.asarray(coef, dtype=np.float32)  # (n_features, n_classes)
        self.intercept = np.asarray(intercept, dtype=np.float32)
        self.min_probability = min_probability
        self.outside = self.classes.index(OUTSIDE)
        self.stacked = stacked  # whether it reads the rules' types (else it tags on its own)

    def probabilities(self, token_features: list[list[str]]) -> np.ndarray:
        scores = np.tile(self.intercept, (len(token_features), 1))
        for i, feats in enumerate(token_features):
            idx = [self.index[f] for f in feats if f in self.index]
            if idx:
                scores[i] += self.coef[idx].sum(axis=0)
        scores -= scores.max(axis=1, keepdims=True)
        p = np.exp(scores)
        return p / p.sum(axis=1, keepdims=True)

    def turn_spans(self, text: str, ti: int, toks: TurnTokens, token_features: list[list[str]]) -> list[PiiSpan]:
        """The spans of one turn: runs of tokens whose probability of being PII at all reaches
        ``min_probability``, each run one span, of the type with the most probability over the
        run (a code read out as letters then digits is one value, not two)."""
        if not token_features:
            return []
        p = self.probabilities(token_features)
        return run_spans(text, ti, toks, (1.0 - p[:, self.outside]) >= self.min_probability, p, self.classes,
                         self.outside)

    def tag(self, turns: Sequence[tuple[str, str]], rule_spans: Sequence[PiiSpan]) -> list[PiiSpan]:
        """Every span the tagger reads in the conversation."""
        return [x for ti, toks, feats in conversation_rows(turns, rule_spans if self.stacked else [])
                for x in self.turn_spans(turns[ti][1], ti, toks, feats)]

    def spans(self, turns: Sequence[tuple[str, str]], rule_spans: Sequence[PiiSpan],
              entities: Iterable[str] | None = None) -> list[PiiSpan]:
        """The tagger's spans that overlap none of the rules' spans (of the wanted ``entities``)."""
        wanted = set(entities) if entities is not None else None
        return outside(rule_spans, [x for x in self.tag(turns, rule_spans) if wanted is None or x.type in wanted])


def outside(taken: Sequence[PiiSpan], spans: Iterable[PiiSpan]) -> list[PiiSpan]:
    """The ``spans`` that overlap none of the ``taken`` ones (same turn)."""
    by_turn: dict[int, list[tuple[int, int]]] = {}
    for x in taken:
        by_turn.setdefault(x.turn, []).append((x.start, x.end))
    return [x for x in spans if not any(s < x.end and x.start < e for s, e in by_turn.get(x.turn, []))]


def save_tagger(folder: str | Path, classes: Sequence[str], features: Sequence[str], coef: np.ndarray,
                intercept: np.ndarray, config: dict) -> None:
    import json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / "head.npz", coef=np.asarray(coef, dtype=np.float32),
                        intercept=np.asarray(intercept, dtype=np.float32),
                        classes=np.array(list(classes)), features=np.array(list(features)))
    (folder / "config.json").write_text(json.dumps({**config, "feature_version": FEATURE_VERSION}, indent=1) + "\n")


@lru_cache(maxsize=4)
def load_tagger(folder: str | Path):
    """The tagger in ``folder`` (config.json + head.npz): this logistic ``PiiTagger``, or a
    ``wocas.text.pii_crf.CrfTagger`` where config.json says ``"model": "crf"``; a clear error when a
    file is missing or it was fitted for other features."""
    import json

    config_path = Path(folder) / "config.json"
    if config_path.is_file() and json.loads(config_path.read_text()).get("model") == "crf":
        from wocas.text.pii_crf import load_crf

        return load_crf(folder)
    config, arrays = read_npz_head(folder, "PII tagger", FEATURE_VERSION,
                                   "refit it with scripts/train_pii_tagger.py")
    return PiiTagger([str(c) for c in arrays["classes"]], [str(f) for f in arrays["features"]],
                     arrays["coef"], arrays["intercept"], float(config.get("min_probability", 0.5)),
                     bool(config.get("stacked", False)))
