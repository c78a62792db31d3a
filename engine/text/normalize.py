"""The one text normaliser: lowercase, no apostrophes or punctuation, numbers as words and,
for matching phrases in speech, no hesitation fillers; plus WER over its output.

Its two uses differ on purpose, as parameters of ``normalise_words``:

- Phrase matching (``wocas.text.utterance``: jobs, signals, discovery) keeps each written word
  one token, so a match maps back to the words said: punctuation inside a word is dropped
  ("e-mail" stays one token), only small numbers become words ("2 times" reads as "two
  times", "the 3rd time" as "the third time", but "24 hours" stays) and fillers go.
- Scoring ASR (``normalize``, ``wer``) splits at punctuation and hyphens and writes every
  number as words, so "twenty-five" and "25" score the same; fillers stay (they were said).

The number words here are the only ones: ``wocas.text.pii`` reads them back into digits.
"""

from __future__ import annotations

import re

# Hesitation sounds: never words, so phrase matching drops them ("i um want to cancel").
FILLERS = frozenset({"um", "umm", "uh", "uhh", "uhm", "er", "erm", "ah", "ahh", "eh", "hmm", "hm", "mm", "mhm",
                     "uh-huh"})

ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen").split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
ORDINALS = {"1st": "first", "2nd": "second", "3rd": "third", "4th": "fourth", "5th": "fifth", "6th": "sixth"}

SMALL_NUMBERS = 10  # phrase matching: 1 to 10 as words, larger numbers stay digits
ALL_NUMBERS = 999_999_999  # scoring: every number up to nine digits as words


def number_to_words(n: int) -> str:
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + number_to_words(rest))
    for size, name in ((10**9, "billion"), (10**6, "million"), (1000, "thousand")):
        if n >= size:
            rest = n % size
            return number_to_words(n // size) + f" {name}" + ("" if rest == 0 else " " + number_to_words(rest))
    raise ValueError(n)


def _spelled(digits: str, up_to: int) -> str | None:
    """``digits`` as words when they are at most ``up_to``, else None."""
    if len(digits) > len(str(up_to)) or int(digits) > up_to:
        return None
    return number_to_words(int(digits))


def _spelled_apart(digits: str, up_to: int) -> str:
    """Digits inside a text, as words set apart by spaces ("3pm" -> " three pm"), or as written."""
    words = _spelled(digits, up_to)
    return f" {words} " if words else digits


def normalise_words(text: str, *, split: bool = False, numbers: int = SMALL_NUMBERS,
                    drop_fillers: bool = True) -> list[str]:
    """The normalised tokens of ``text``, word by word (whitespace split).

    ``split``: punctuation, hyphens and anything outside a-z/0-9 break a word into tokens, and
    thousands commas go ("1,200"); without it, they are dropped and the word stays one token
    (a leading or trailing hyphen goes). ``numbers``: the largest number written as words;
    without ``split`` only a whole-word number or ordinal ("3", "3rd") is. ``drop_fillers``:
    leave out ``FILLERS``."""
    out: list[str] = []
    for word in text.split():
        w = word.lower()
        if split:
            w = re.sub(r"(?<=\d),(?=\d{3})", "", w.replace("-", " "))
            w = re.sub(r"\d+", lambda m: _spelled_apart(m.group(), numbers), w)
            tokens = re.sub(r"[^a-z0-9' ]+", " ", w).replace("'", "").split()
        else:
            w = re.sub(r"[^\w\-]+", "", w.replace("\u2019", "'").replace("'", "")).strip("-_")
            if w.isascii() and w.isdigit() and not w.startswith("0"):  # "0" and "07" stay as written
                w = _spelled(w, numbers) or w
            elif w in ORDINALS:
                w = ORDINALS[w]
            tokens = w.split()
        out.extend(t for t in tokens if not (drop_fillers and t in FILLERS))
    return out


def normalize(text: str) -> str:
    """The form ASR output and references are compared in (see ``normalise_words``)."""
    return " ".join(normalise_words(text, split=True, numbers=ALL_NUMBERS, drop_fillers=False))


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(edit distance in words, reference length) after normalisation."""
    ref, hyp = normalize(reference).split(), normalize(hypothesis).split()
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1], len(ref)


def wer(pairs: list[tuple[str, str]]) -> float:
    """Corpus WER over (reference, hypothesis) pairs."""
    errors = total = 0
    for ref, hyp in pairs:
        e, n = word_errors(ref, hyp)
        errors, total = errors + e, total + n
    return errors / total if total else 0.0
