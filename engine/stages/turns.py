"""Stage 4: the recogniser's words, with speakers, become speaker turns (and live there from now on)."""

from __future__ import annotations

from wocas.schema import CallAnalysis, Turn, Word
from wocas.stages.base import Stage

MAX_PAUSE_IN_TURN = 3.0  # seconds of silence that end a turn even without a speaker change


def words_to_turns(words: tuple[Word, ...], channel_map: tuple[str, ...] = ()) -> tuple[Turn, ...]:
    turns: list[Turn] = []
    run: list[Word] = []

    def flush() -> None:
        if run:
            speaker = run[0].speaker or "unknown"
            channel = channel_map.index(speaker) if speaker in channel_map else None
            turns.append(Turn(index=len(turns), speaker=speaker, start=run[0].start, end=run[-1].end,
                              text=" ".join(w.text for w in run), words=tuple(run), channel=channel))

    for w in sorted(words, key=lambda w: (w.start, w.end)):
        if run and (w.speaker != run[-1].speaker or w.start - run[-1].end > MAX_PAUSE_IN_TURN):
            flush()
            run = []
        run.append(w)
    flush()
    return tuple(turns)


class TurnsStage(Stage):
    name = "turns"
    requires = frozenset({"asr_words", "speaker_segments"})
    provides = frozenset({"turns"})
    audio_only = True

    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        # the turns become the words' one home in the record: the transient copy goes
        return call.replace(turns=words_to_turns(call.asr_words, call.call.channels), asr_words=())
