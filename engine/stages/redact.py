"""Stage 6: personal data out of every text the later stages and the store will see.

Runs right after roles, so emotion, jobs, signals (and their quotes), the store and the
exports only ever see tags such as ``[CARD]``. Each word inside a PII span becomes the tag
and keeps its timing (turns are the only home of words, so redacting them is enough), and a
turn built from words stays the words joined by spaces (the turn invariant); a transcript
turn without words gets one tag per span. Values that analytics need to match records (an
account number, an e-mail) are kept only as keyed hashes (HMAC-SHA256, key from the
environment) in ``call.metadata["pii_hashes"]``.

With ``audio`` on, a copy of the recording with the PII words silenced on every channel is
written as ``<audio_dir>/<call id>.redacted.wav``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from wocas.config import RedactConfig
from wocas.io.exports import safe_name
from wocas.text.pii import PiiSpan, find_pii_in_turns, keyed_hash, redact_text
from wocas.schema import Audio, CallAnalysis, Turn, Word, RedactedSpan
from wocas.stages.base import Stage

log = logging.getLogger(__name__)

DETECTOR_VERSION = "8"  # 4: the fitted tagger's spans join the rules'; 5: one tag word per span; 6: digit homophones; 7: also in longer runs; 8: names after sign-offs and in person fields, addresses with their locality
AUDIO_VERSION = "2"  # the redacted copy of the audio; 2: the silence covers the gaps between a span's words


def word_offsets(text: str, words: tuple[Word, ...]) -> list[tuple[int, int]] | None:
    """Where each word sits in the turn text; None when the words do not spell the text."""
    offsets, cursor = [], 0
    for w in words:
        at = text.find(w.text, cursor)
        if at < 0:
            return None
        offsets.append((at, at + len(w.text)))
        cursor = at + len(w.text)
    return offsets


def redact_word(word: Word, start: int, spans: list[PiiSpan]) -> Word:
    """The word with the part of it inside a span replaced by the tag ('6467,' -> '[CARD],')."""
    end = start + len(word.text)
    hit = [s for s in spans if s.start < end and start < s.end]
    if not hit:
        return word
    first, last = min(hit, key=lambda s: s.start), max(hit, key=lambda s: s.end)
    head = word.text[:max(0, first.start - start)]
    tail = word.text[max(0, last.end - start):] if last.end < end else ""
    return word.replace(text=f"{head}[{first.type}]{tail}")


def redact_turn(turn: Turn, spans: list[PiiSpan]) -> Turn:
    if not spans:
        return turn
    offsets = word_offsets(turn.text, turn.words) if turn.words else None
    if offsets is None:
        if turn.words:  # words and text disagree: blank every word of the turn rather than leak one
            log.warning("turn %d: words do not match the text; redacting all its words", turn.index)
            words = tuple(w.replace(text="[REDACTED]") for w in turn.words)
            return turn.replace(text=redact_text(turn.text, spans), words=words)
        return turn.replace(text=redact_text(turn.text, spans))
    words = merge_tag_runs([(redact_word(w, start, spans), *span_touch(start, start + len(w.text), spans))
                            for w, (start, _) in zip(turn.words, offsets)])
    joined = " ".join(w.text for w in turn.words) == turn.text
    text = " ".join(w.text for w in words) if joined else redact_text(turn.text, spans)
    return turn.replace(text=text, words=words)


def span_touch(start: int, end: int, spans: list[PiiSpan]) -> tuple[int | None, bool, bool]:
    """The index of the one span this word touches (None if none or several), and whether the word
    starts and ends inside it ("-7," of "4 -4 -7," ends after the span: its comma stays)."""
    hit = [i for i, s in enumerate(spans) if s.start < end and start < s.end]
    if len(hit) != 1:
        return None, False, False
    s = spans[hit[0]]
    return hit[0], s.start <= start, end <= s.end


def merge_tag_runs(words: list[tuple[Word, int | None, bool, bool]]) -> tuple[Word, ...]:
    """Words of one span become one tag word from the first's start to the last's end, so a
    spoken account number reads '[ACCOUNT]' once, not once per digit, and the text keeps one
    tag per span as ``tag_spans`` counts them. A word that starts inside the span joins the tag
    before it with what it has after the span ('[ACCOUNT]' + '-7,' -> '[ACCOUNT],')."""
    out: list[Word] = []
    previous: int | None = None
    previous_ends_inside = False
    for word, span, starts_inside, ends_inside in words:
        if span is not None and span == previous and previous_ends_inside and starts_inside:
            tail = word.text[word.text.index("]") + 1:] if "]" in word.text else ""
            out[-1] = out[-1].replace(text=out[-1].text + tail, end=word.end,
                                      probability=min(out[-1].probability, word.probability))
        else:
            out.append(word)
        previous, previous_ends_inside = span, ends_inside
    return tuple(out)


def redacted_ranges(turn: Turn, spans: list[PiiSpan]) -> list[tuple[float, float]]:
    """The (start, end) seconds of the audio to silence: each run of consecutive words that spans
    touch, from its first word's start to its last word's end, so the gaps ASR leaves between the
    words of one spoken number (where its digits often are) are silenced with them and the silence
    covers exactly what the tag word's times say."""
    offsets = word_offsets(turn.text, turn.words) if turn.words and spans else None
    if offsets is None:
        return [(turn.words[0].start, turn.words[-1].end)] if spans and turn.words else []
    ranges: list[tuple[float, float]] = []
    previous_touched = False
    for w, (a, b) in zip(turn.words, offsets):
        touched = any(s.start < b and a < s.end for s in spans)
        if touched and previous_touched:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], w.end))
        elif touched:
            ranges.append((w.start, w.end))
        previous_touched = touched
    return ranges


def silence(audio: Audio, spans: list[tuple[float, float]], start: int = 0, end: int | None = None) -> np.ndarray:
    """int16 samples ``start``..``end``, shape (channels, samples), with each (start, end)
    second range zeroed (a copy; the call's audio is left as it is)."""
    end = audio.num_samples if end is None else min(end, audio.num_samples)
    samples = audio.pcm[:, start:end].copy()
    for a_s, b_s in spans:
        a = max(start, int(np.floor(a_s * audio.sample_rate)))
        b = min(end, int(np.ceil(b_s * audio.sample_rate)))
        if b > a:
            samples[:, a - start:b - start] = 0
    return samples


WRITE_BLOCK_SECONDS = 60.0  # the redacted copy is written a block at a time


def tag_spans(by_turn: dict[int, list[PiiSpan]]) -> tuple[RedactedSpan, ...]:
    """Where each tag sits in the redacted text (the same walk as ``redact_text``)."""
    out = []
    for turn, spans in sorted(by_turn.items()):
        cursor, shift = 0, 0
        for span in sorted(spans, key=lambda x: x.start):
            if span.start < cursor:
                continue
            tag = len(span.type) + 2
            out.append(RedactedSpan(turn=turn, type=span.type, start=span.start + shift,
                                    end=span.start + shift + tag))
            shift += tag - (span.end - span.start)
            cursor = span.end
    return tuple(out)


@lru_cache(maxsize=4)
def _weights_digest(tagger: str) -> str:
    """A short digest of a fitted head's weights (the tagger's, the name verifier's): a refit is a new
    redaction version."""
    from wocas.models.registry import resolve

    return hashlib.sha256((resolve(tagger).path / "head.npz").read_bytes()).hexdigest()[:12]


class RedactStage(Stage):
    name = "redact"
    requires = frozenset({"turns"})
    provides = frozenset({"redacted"})

    def __init__(self, options: RedactConfig):
        self.options = options
        key = os.environ.get(options.hash_key_env, "")
        self._key = key.encode() if key else None
        if self._key is None and options.hash_entities:
            log.info("%s is not set: no keyed hashes of PII values are kept", options.hash_key_env)
        if options.audio and not options.audio_dir:
            raise ValueError("redact.audio is on but redact.audio_dir is not set (where should the copy go?)")

    @classmethod
    def identity(cls, section, encoder) -> str:
        tagger = getattr(section, "tagger", "")
        verifier = getattr(section, "name_verifier", "")
        return (f"pii{DETECTOR_VERSION}" + (f"+tagger-{_weights_digest(tagger)}" if tagger else "")
                + (f"+names-{_weights_digest(verifier)}" if verifier else "")
                + (f"+audio{AUDIO_VERSION}" if getattr(section, "audio", False) else ""))

    @classmethod
    def results_settings(cls, section) -> dict:
        """The section's settings, less ``tagger_types`` where it changes nothing (no tagger, or empty:
        every type), and ``name_verifier`` where it is off, so that a store redacted before those fields existed
        keeps its version."""
        settings = super().results_settings(section)
        if not settings.get("name_verifier"):
            settings.pop("name_verifier", None)
        if not settings.get("tagger") or not settings.get("tagger_types"):
            settings.pop("tagger_types", None)
        else:  # a set of types: their order changes nothing
            settings["tagger_types"] = sorted(set(settings["tagger_types"]))
        return settings

    def version(self) -> str:
        return self.version_for(self.options)

    def process_batch(self, calls: list[CallAnalysis]) -> list[CallAnalysis]:
        """The NER model reads every turn of the batch in one pass (it costs most when fed a turn at a time)."""
        if not self._uses_ner():
            return super().process_batch(calls)
        from wocas.text import names

        docs = iter(names.parse([t.text for call in calls for t in call.turns]))
        return [self.process_call(call, [next(docs) for _ in call.turns]) for call in calls]

    def _tagger(self):
        if not self.options.tagger:
            return None
        from wocas.models.registry import resolve
        from wocas.text.pii_tagger import load_tagger

        return load_tagger(resolve(self.options.tagger).path)

    def _name_verifier(self):
        if not self.options.name_verifier or "NAME" not in self.options.entities:
            return None
        from wocas.models.registry import resolve
        from wocas.text.name_verifier import load_verifier

        return load_verifier(resolve(self.options.name_verifier).path)

    def _uses_ner(self) -> bool:
        return self.options.names != "rules" and "NAME" in self.options.entities

    def prefetch(self, calls: list[CallAnalysis]) -> None:
        """Load the NER model (spaCy's import and the pinned files' check: about a second) while
        ASR runs, for a batch with audio (a text-only batch has no ASR to hide it behind).
        ``names.load`` hides torch from spaCy's import in this thread only, so the main thread
        may import torch meanwhile."""
        if not self._uses_ner() or not any(c.audio is not None for c in calls):
            return
        from wocas.text import names as ner

        if ner.available():
            ner.load()

    def process_call(self, call: CallAnalysis, name_docs: list | None = None) -> CallAnalysis:
        spans = find_pii_in_turns([(t.speaker, t.text) for t in call.turns], self.options.entities,
                                  names=self.options.names, agent_names=self.options.agent_names,
                                  roles=[t.role.value for t in call.turns], name_docs=name_docs,
                                  digit_ids=self.options.digit_ids, tagger=self._tagger(),
                                  tagger_types=self.options.tagger_types, name_verifier=self._name_verifier())
        by_turn: dict[int, list[PiiSpan]] = {}
        for span in spans:
            by_turn.setdefault(span.turn, []).append(span)
        turns = tuple(redact_turn(t, by_turn.get(i, [])) for i, t in enumerate(call.turns))
        update: dict = {"turns": turns, "redacted": True, "redacted_spans": tag_spans(by_turn)}
        hashes = self._hashes(spans)
        if hashes:
            metadata = {**call.call.metadata, "pii_hashes": hashes}
            update["call"] = call.call.replace(metadata=metadata)

        if self.options.audio and call.audio is not None and spans:
            self._write_audio(call, [r for i, t in enumerate(call.turns) for r in redacted_ranges(t, by_turn.get(i, []))])
        return call.replace(**update)

    def _hashes(self, spans: list[PiiSpan]) -> dict[str, list[str]]:
        if self._key is None:
            return {}
        out: dict[str, list[str]] = {}
        for span in spans:
            if span.type in self.options.hash_entities and span.value:
                digest = keyed_hash(f"{span.type}:{span.value}", self._key)
                if digest not in out.setdefault(span.type, []):
                    out[span.type].append(digest)
        return out

    def _write_audio(self, call: CallAnalysis, ranges: list[tuple[float, float]]) -> Path:
        import soundfile as sf

        assert call.audio is not None and self.options.audio_dir
        audio = call.audio
        folder = Path(self.options.audio_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{safe_name(call.call_id)}.redacted.wav"
        tmp = path.with_suffix(".tmp.wav")
        block = int(WRITE_BLOCK_SECONDS * audio.sample_rate)
        # The int16 samples are written as they are (no float round trip), a block at a time.
        with sf.SoundFile(tmp, "w", samplerate=audio.sample_rate, channels=audio.num_channels,
                          subtype="PCM_16", format="WAV") as out:
            for start in range(0, audio.num_samples, block):
                out.write(silence(audio, ranges, start, start + block).T)  # soundfile wants (samples, channels)
        tmp.replace(path)
        log.info("call %s: redacted audio (%d spans silenced) written to %s", call.call_id, len(ranges), path)
        return path
