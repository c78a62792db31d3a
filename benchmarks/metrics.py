"""The field's scoring, in one place: WER as the Open ASR leaderboard computes it (Whisper's
English normaliser, then jiwer over the whole corpus)."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _normaliser():
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


def normalise(text: str) -> str:
    return " ".join(_normaliser()(text).split())


def wer(pairs: list[tuple[str, str]]) -> float:
    """Corpus WER over (reference, hypothesis) pairs after Whisper's English normaliser: errors
    summed over all pairs / reference words. Pairs whose reference normalises to nothing are
    left out (jiwer refuses an empty reference)."""
    import jiwer

    refs, hyps = [], []
    for ref, hyp in pairs:
        ref = normalise(ref)
        if ref:
            refs.append(ref)
            hyps.append(normalise(hyp))
    if not refs:
        return 0.0
    return float(jiwer.wer(refs, hyps))
