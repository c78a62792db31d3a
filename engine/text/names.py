"""People's names in transcript text, from spaCy's English NER model plus what is said around them.

ASR writes lower case with little punctuation, where the NER model alone misses many names
("hi am i speaking with priya", "thanks olivia"). So a name is a PERSON entity the model finds,
or a word in a slot that holds a name in a call: after an introduction ("this is", "you're
speaking with", "you're through to", "my name is"), after a greeting or thanks at the start of
a turn ("hi tom", "thanks olivia"), or in answer to "who am I speaking with". A slot word must
not be a common English word (spaCy's stop words, or a word the tagger reads as a verb,
pronoun, determiner...).

The model ships in the optional ``pii`` extra; it is loaded once per process and its files are
checked against the sha256 digests pinned in ``models/registry.toml``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from functools import lru_cache
from pathlib import Path

from wocas.errors import ModelError

MODEL_NAME = "spacy-en-sm"

# "this is david", "you're speaking with priya", "you're through to sarah", "speaking to tom"
INTRO = re.compile(r"\b(?:this is|it's|its|it is|you're speaking (?:with|to)|you are speaking (?:with|to)|"
                   r"speaking (?:with|to)|you're through to|you are through to|through to|my name is|"
                   r"my name's|name is|i'm|i am)\s+", re.I)
# "hi tom", "thanks olivia", "no problem grace", "morning sarah" at the start of a turn or clause
GREETING = re.compile(r"(?:^|[,.!?]\s*)(?:(?:hi|hello|hey|morning|good morning|good afternoon|afternoon|"
                      r"thanks|thank you|cheers|no problem|okay|ok|sure|right)\s+)+", re.I)
ASKED = re.compile(r"\b(?:who (?:am i|i'm) speaking (?:to|with)|your (?:full |first )?name|who's calling|"
                   r"may i (?:take|have) your name)\b", re.I)
ANSWER = re.compile(r"^\W*(?:(?:yes|yeah|sure|ok|okay|um|uh)\W+)*(?:it's|it is|its|this is)?\s*", re.I)
# Word classes that are never a first name in these slots.
NOT_NAME_POS = {"VERB", "AUX", "PRON", "DET", "ADP", "CCONJ", "SCONJ", "PART", "NUM", "ADV", "INTJ", "ADJ", "PUNCT"}
EXTRA_COMMON = {"calling", "here", "speaking", "sorry", "again", "everyone", "there", "team", "guys", "mate",
                "love", "sir", "madam", "for", "the", "a", "an", "customer", "services", "service", "billing",
                "support", "about", "from", "just", "still", "really", "very", "so", "not", "trying", "having",
                "looking", "ringing", "phoning", "waiting", "afraid", "glad", "happy", "fine", "good", "great"}


class NerMissing(ModelError):
    """The optional NER model (or spaCy) is not installed or its files do not match their digests."""


def _spec() -> dict:
    from wocas.models.registry import _registry

    return _registry()[MODEL_NAME]


def available() -> bool:
    return importlib.util.find_spec("spacy") is not None and importlib.util.find_spec(_spec()["package"]) is not None


def check_installed() -> None:
    """One clear line naming the package and how to install it, instead of an ImportError later."""
    spec = _spec()
    if not available():
        raise NerMissing(f"[redact] names = \"ner\" needs spaCy and the package {spec['package']!r} "
                         f"(model {MODEL_NAME!r}): {spec['install']}")


@lru_cache(maxsize=1)
def load():
    import spacy

    check_installed()
    spec = _spec()
    base = Path(importlib.util.find_spec(spec["package"]).origin).parent / spec["folder"]
    for rel, digest in spec["files"].items():
        path = base / rel
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise NerMissing(f"model {MODEL_NAME!r}: {path} is missing or does not match its pinned sha256; "
                             f"reinstall it: {spec['install']}")
    return spacy.load(base, exclude=["lemmatizer"])


def _slot_word(doc, char: int):
    """The token starting at ``char`` if it can be a name, else None."""
    from spacy.lang.en.stop_words import STOP_WORDS

    for tok in doc:
        if tok.idx == char:
            low = tok.text.lower()
            if (not tok.is_alpha or low in STOP_WORDS or low in EXTRA_COMMON
                    or (tok.pos_ in NOT_NAME_POS and tok.ent_type_ != "PERSON")):
                return None
            return tok
        if tok.idx > char:
            return None
    return None


def _extend(doc, tok) -> tuple[int, int]:
    """The slot word and a following surname the model or the capital letters mark as part of it."""
    end = tok.idx + len(tok.text)
    nxt = doc[tok.i + 1] if tok.i + 1 < len(doc) else None
    if nxt is not None and nxt.is_alpha and (nxt.ent_type_ == "PERSON" or nxt.text[:1].isupper()) \
            and nxt.text.lower() not in EXTRA_COMMON:
        end = nxt.idx + len(nxt.text)
    return tok.idx, end


def find_names(texts: list[str], use_model: bool = True, use_cues: bool = True, asked: list[bool] | None = None
               ) -> list[list[tuple[int, int, str]]]:
    """(start, end, how) name spans per text; ``how`` is 'ner', 'intro', 'greeting' or 'answer'."""
    nlp = load()
    asked = asked or [False] * len(texts)
    out: list[list[tuple[int, int, str]]] = []
    for text, was_asked in zip(texts, asked):
        doc = nlp(text)
        spans: list[tuple[int, int, str]] = []
        if use_model:
            spans += [(e.start_char, e.end_char, "ner") for e in doc.ents if e.label_ == "PERSON"]
        cues = [(m.end(), "intro") for m in INTRO.finditer(text)] if use_cues else []
        cues += [(m.end(), "greeting") for m in GREETING.finditer(text)] if use_cues else []
        if was_asked and use_cues:
            m = ANSWER.match(text)
            if m:
                cues.append((m.end(), "answer"))
        for at, how in cues:
            tok = _slot_word(doc, at)
            if tok is not None:
                s, e = _extend(doc, tok)
                spans.append((s, e, how))
        merged: list[tuple[int, int, str]] = []
        for s, e, how in sorted(spans):
            if merged and s < merged[-1][1]:
                ps, pe, phow = merged[-1]
                merged[-1] = (ps, max(pe, e), phow)
            else:
                merged.append((s, e, how))
        out.append(merged)
    return out


def is_asked(text: str) -> bool:
    return bool(ASKED.search(text))
