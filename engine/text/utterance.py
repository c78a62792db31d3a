"""A turn's text for phrase matching, shared by the jobs and signals stages and discovery:
normalised tokens (``wocas.text.normalize``: fillers, numbers, case, punctuation; here also
stutters and "gonna") that remember the word each came from, so a match maps back to a quote
with its start and end time."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from wocas.schema import Turn
from wocas.text.normalize import normalise_words

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
        for w in normalise_words(word):  # one token at most, or none for a filler
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
