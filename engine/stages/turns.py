"""Stage 4: the recogniser's words, with speakers, become speaker turns (and live there from now on)."""

from __future__ import annotations

from wocas.diarizers.channels import turn_bounds
from wocas.schema import CallAnalysis, SpeakerSegment, Turn, Word
from wocas.stages.base import Stage

MAX_PAUSE_IN_TURN = 3.0  # seconds of silence that end a turn even without a speaker change


def words_to_turns(words: tuple[Word, ...], channel_map: tuple[str, ...] = (),
                   timeline: tuple[SpeakerSegment, ...] = ()) -> tuple[Turn, ...]:
    """Runs of one speaker's words. With a ``timeline`` (a stereo call's per-channel speech) a
    turn starts and ends where the speech it falls in does, not where its words do (a turn
    that shares its stretch with another of the speaker's turns keeps its words' edge there)."""
    runs: list[list[Word]] = []
    for w in sorted(words, key=lambda w: (w.start, w.end)):
        if runs and (w.speaker != runs[-1][-1].speaker or w.start - runs[-1][-1].end > MAX_PAUSE_IN_TURN):
            runs.append([])
        if not runs:
            runs.append([])
        runs[-1].append(w)
    turns: list[Turn] = []
    for i, run in enumerate(runs):
        speaker = run[0].speaker or "unknown"
        channel = channel_map.index(speaker) if speaker in channel_map else None
        start, end = run[0].start, run[-1].end
        if timeline:
            wide_start, wide_end = turn_bounds(start, end, speaker, list(timeline))
            before = [r[-1].end for r in runs[:i] if r[0].speaker == run[0].speaker]
            after = [r[0].start for r in runs[i + 1:] if r[0].speaker == run[0].speaker]
            # the speech stretch is widened into only where it holds no other turn of the speaker
            start = start if before and before[-1] > wide_start else wide_start
            end = end if after and after[0] < wide_end else wide_end
        turns.append(Turn(index=i, speaker=speaker, start=start, end=end,
                          text=" ".join(w.text for w in run), words=tuple(run), channel=channel))
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
