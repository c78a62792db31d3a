"""Stage 4: the recogniser's words, with speakers, become speaker turns (and live there from now on)."""

from __future__ import annotations

from wocas.diarizers.channels import turn_bounds
from wocas.schema import CallAnalysis, SpeakerSegment, Turn, Word
from wocas.stages.base import Stage

MAX_PAUSE_IN_TURN = 3.0  # seconds of silence that end a turn even without a speaker change


def words_to_turns(words: tuple[Word, ...], channel_map: tuple[str, ...] = (),
                   timeline: tuple[SpeakerSegment, ...] = ()) -> tuple[Turn, ...]:
    """Runs of one speaker's words. With a ``timeline`` (a stereo call's per-channel speech) a
    turn starts and ends where the speech it falls in does, not where its words do."""
    turns: list[Turn] = []
    run: list[Word] = []

    def flush() -> None:
        if run:
            speaker = run[0].speaker or "unknown"
            channel = channel_map.index(speaker) if speaker in channel_map else None
            start, end = turn_bounds(run[0].start, run[-1].end, speaker, timeline) if timeline else (run[0].start, run[-1].end)
            before = [t.end for t in turns if t.speaker == speaker]
            if before:  # widened, a turn never reaches back over the speaker's previous one
                start = max(start, before[-1])
            turns.append(Turn(index=len(turns), speaker=speaker, start=start, end=end,
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
        timeline = call.speaker_segments if call.num_channels > 1 and is_channel_timeline(call) else ()
        return call.replace(turns=words_to_turns(call.asr_words, call.call.channels, timeline), asr_words=())


def is_channel_timeline(call: CallAnalysis) -> bool:
    """True when the speaker segments are the channels' own speech (stereo with a party per channel)."""
    labels = set(call.call.channels or (f"ch{i}" for i in range(call.num_channels)))
    return bool(call.speaker_segments) and all(s.speaker in labels for s in call.speaker_segments)
