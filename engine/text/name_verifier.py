"""A fitted check on every NAME span before it is redacted, and the uncommon words it may add.

The name finders (the rules' capitals and cues, spaCy's NER on the text as written and truecased,
the call cues of ``wocas.text.names``) each see a little of a turn. Together they over-read: in
ASR text an ordinary word in a name slot ("my sim is blocked", "hi my parcel is stuck"), a foreign
greeting ("boa tarde", "dzien dobry") or a company ("desert valley power") comes out as a name, and
a name found once is then redacted wherever it is said. They also miss names no cue introduces
("and you are marcus bell", "le atiende ricardo").

The verifier is a logistic regression over each candidate span and what is around it: whether its
words are common English words (and which), their tags in the English lexicon, their spelling
(prefix and suffix letters), capitals, the words before and after, the speaker, whether the
previous turn asked for a name, and its place on its line (starts or fills a line, follows a
sign-off or a person's field label: where letters and forms put names). ``propose`` adds every run of uncommon words (no English word, no
filler, no spelling-alphabet word) as a candidate too, so a name with no cue can be found; the
same model decides. It is fitted on the team's labelled PII sets by scripts/train_name_verifier.py
(card: models/name-verifier/CARD.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from wocas.models.npz_head import read_npz_head

FEATURE_VERSION = 2  # 2: the candidate's place on its line (written correspondence)
WORD = re.compile(r"[^\W\d_][^\W\d_'’-]*")


@dataclass(frozen=True)
class Candidate:
    """A span that may be a name: its turn, its characters, and whether a name finder found it
    (False: an uncommon word that only ``propose`` put forward)."""
    turn: int
    start: int
    end: int
    found: bool = True


def _words_around(text: str, start: int, end: int) -> tuple[list[str], list[str]]:
    before = [w.lower() for w in WORD.findall(text[:start])][-2:]
    after = [w.lower() for w in WORD.findall(text[end:])][:1]
    return before, after


def _word_kind(word: str) -> str:
    """A coarse reading of one word: its lexicon tag, or what keeps it out of the lexicon."""
    from wocas.text.names import EXTRA_COMMON, word_tag
    from wocas.text.pii import NATO

    low = word.lower()
    if low in NATO:
        return "nato"
    if low in EXTRA_COMMON:
        return "common"
    tag = word_tag(low)
    return tag[:2] if tag else "none"


def turn_words(turns: Sequence[tuple[str, str]]) -> list[set[str]]:
    """The lower-case words of each turn (for ``said_elsewhere``), computed once per conversation."""
    return [set(re.findall(r"\w+", text.lower())) for _, text in turns]


def line_features(text: str, start: int, end: int) -> dict[str, float]:
    """Where a span sits on its line: what written correspondence says about names (a signature line
    after a sign-off, a labelled field, a line of its own)."""
    from wocas.text.names import PERSON_FIELD, SIGN_OFF_INLINE, SIGN_OFF_LINE

    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    before, after = text[line_start:start], text[end:line_end]
    f = {}
    if "\n" in text:
        f["multiline"] = 1.0
    if not before.strip(" \t>*-"):
        f["line_start"] = 1.0
        earlier = [x for x in text[:line_start].split("\n") if x.strip()]
        if earlier and SIGN_OFF_LINE.match(earlier[-1]):
            f["after_signoff"] = 1.0
    elif (m := SIGN_OFF_INLINE.match(text, line_start)) and m.end() == start:
        f["after_signoff"] = 1.0
    elif (m := PERSON_FIELD.match(text, line_start)) and m.end() == start:
        f["after_person_field"] = 1.0
    elif before.rstrip().endswith(":"):
        f["after_colon"] = 1.0
    if not after.strip(" \t.,;!"):
        f["line_end"] = 1.0
    return f


def span_features(turns: Sequence[tuple[str, str]], cand: Candidate, asked: bool,
                  words_by_turn: list[set[str]] | None = None) -> dict[str, float]:
    """The features of one candidate span (names of binary features, value 1)."""
    from spacy.lang.en.stop_words import STOP_WORDS

    from wocas.text.names import word_tag

    speaker, text = turns[cand.turn]
    span = text[cand.start:cand.end]
    words = WORD.findall(span) or [span]
    before, after = _words_around(text, cand.start, cand.end)
    asr = not any(c.isupper() for c in text)
    f = {"bias": 1.0, "found" if cand.found else "proposed": 1.0, "asr" if asr else "cased": 1.0,
         f"n_words={min(len(words), 3)}": 1.0, f"role={speaker if speaker in ('agent', 'customer') else 'other'}": 1.0}
    if asked:
        f["asked"] = 1.0
    if cand.turn == 0:
        f["first_turn"] = 1.0
    if not asr:
        f["capital" if words[0][:1].isupper() else "lower"] = 1.0
        if span.isupper():
            f["all_caps"] = 1.0
        if not before or re.search(r"[.!?]\s*$", text[:cand.start]):
            f["sentence_start"] = 1.0
    for k, w in enumerate(words[:3]):
        low = w.lower()
        kind = _word_kind(w)
        f[f"kind={kind}"] = 1.0
        if k == 0:
            f[f"first_kind={kind}"] = 1.0
        if kind != "none" or low in STOP_WORDS:
            f[f"word={low}"] = 1.0  # an English word: its own weight ("sim", "parcel", "patient")
        if low in STOP_WORDS:
            f["stop_word"] = 1.0
        f[f"len={min(len(low), 9)}"] = 1.0
        f[f"suf3={low[-3:]}"] = 1.0
        f[f"suf2={low[-2:]}"] = 1.0
        f[f"pre2={low[:2]}"] = 1.0
    for k, w in enumerate(reversed(before)):
        f[f"prev{k + 1}={w}"] = 1.0
    if before:
        f[f"prev_kind={_word_kind(before[-1])}"] = 1.0
        if len(before) == 2:
            f[f"prev12={before[0]} {before[1]}"] = 1.0
    else:
        f["prev1=^"] = 1.0
    if after:
        f[f"next1={after[0]}"] = 1.0
        f[f"next_kind={_word_kind(after[0])}"] = 1.0
        tag = word_tag(after[0])
        if tag and tag.startswith("NN"):
            f["next_noun"] = 1.0
    else:
        f["next1=$"] = 1.0
    if re.match(r"\s*\d", text[cand.end:]) or re.search(r"\d\s*$", text[:cand.start]):
        f["digit_near"] = 1.0
    f.update(line_features(text, cand.start, cand.end))
    words_by_turn = words_by_turn if words_by_turn is not None else turn_words(turns)
    first = words[0].lower()
    if len(first) >= 3 and (
            any(first in ws for i, ws in enumerate(words_by_turn) if i != cand.turn) if re.fullmatch(r"\w+", first)
            else any(re.search(rf"(?<!\w){re.escape(first)}(?!\w)", t.lower())
                     for i, (_, t) in enumerate(turns) if i != cand.turn)):
        f["said_elsewhere"] = 1.0
    return f


def propose(turns: Sequence[tuple[str, str]], taken: dict[int, list[tuple[int, int]]]) -> list[Candidate]:
    """Runs of uncommon words (at most two) that no span covers yet: ``Candidate(found=False)``."""
    from spacy.lang.en.stop_words import STOP_WORDS

    from wocas.text.names import EXTRA_COMMON, word_tag
    from wocas.text.pii import NATO

    out = []
    for ti, (_, text) in enumerate(turns):
        run: list[re.Match] = []
        spans = taken.get(ti, [])

        def close():
            if run:
                out.append(Candidate(ti, run[0].start(), run[-1].end(), found=False))
            run.clear()

        for m in WORD.finditer(text):
            low = m.group().lower()
            plain = (len(low) >= 3 and low not in STOP_WORDS and low not in EXTRA_COMMON and low not in NATO
                     and word_tag(low) is None and not m.group().isupper()
                     and not any(s < m.end() and m.start() < e for s, e in spans))
            adjacent = run and re.fullmatch(r"\s+", text[run[-1].end():m.start()])
            if plain and (not run or adjacent) and len(run) < 2:
                run.append(m)
            else:
                close()
                if plain:
                    run.append(m)
        close()
    return out


class NameVerifier:
    """A fitted logistic regression over ``span_features``: P(name) for each candidate."""

    def __init__(self, features: Sequence[str], weights: np.ndarray, threshold: float = 0.5, proposes: bool = True):
        self.index = {f: k for k, f in enumerate(features)}
        self.weights = np.asarray(weights, dtype=np.float64)
        self.threshold = threshold
        self.proposes = proposes

    def probabilities(self, turns: Sequence[tuple[str, str]], candidates: Sequence[Candidate],
                      asked: Sequence[bool]) -> np.ndarray:
        scores = np.zeros(len(candidates))
        words_by_turn = turn_words(turns)
        for k, cand in enumerate(candidates):
            for name, value in span_features(turns, cand, asked[cand.turn], words_by_turn).items():
                j = self.index.get(name)
                if j is not None:
                    scores[k] += self.weights[j] * value
        return 1.0 / (1.0 + np.exp(-scores))

    def names(self, turns: Sequence[tuple[str, str]], found: Sequence[Candidate],
              taken: dict[int, list[tuple[int, int]]], asked: Sequence[bool]) -> list[Candidate]:
        """The candidates kept as names: those found by the name finders, and (``proposes``) the
        uncommon words outside ``taken`` (every span found so far, names included), that reach the
        threshold."""
        candidates = list(found) + (propose(turns, taken) if self.proposes else [])
        if not candidates:
            return []
        p = self.probabilities(turns, candidates, asked)
        return [c for c, pk in zip(candidates, p) if pk >= self.threshold]

    def save(self, folder: str | Path, about: dict | None = None) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        features = sorted(self.index, key=self.index.get)
        np.savez_compressed(folder / "head.npz", features=np.array(features), weights=self.weights)
        config = {"feature_version": FEATURE_VERSION, "threshold": self.threshold, "proposes": self.proposes,
                  **(about or {})}
        (folder / "config.json").write_text(json.dumps(config, indent=1) + "\n")


@lru_cache(maxsize=4)
def load_verifier(folder: str | Path) -> NameVerifier:
    config, arrays = read_npz_head(folder, "name verifier", FEATURE_VERSION,
                                   "refit it with scripts/train_name_verifier.py")
    return NameVerifier([str(f) for f in arrays["features"]], arrays["weights"],
                        float(config.get("threshold", 0.5)), bool(config.get("proposes", True)))
