"""Stage 3: who spoke when. On stereo with separate channels each channel is one party:
its speech timeline is that channel's own speech detection, with the other party's leak
(echo, crosstalk) removed (``diarizers/channels.py``), and the words (labelled by channel in
the transcribe stage) attach to it. Mono goes to a diarizer, and each word takes the speaker
that covers most of it."""

from __future__ import annotations

from wocas.config import DiarizationConfig
from wocas.diarizers import Diarizer
from wocas.diarizers.channels import ChannelTimelineOptions, attach_words, channel_timeline
from wocas.schema import CallAnalysis, SpeakerSegment, Word
from wocas.stages.base import Stage
from wocas.stages.transcribe import speaker_channels


def load_diarizer(options: DiarizationConfig) -> Diarizer:
    if options.backend == "pyannote":
        from wocas.diarizers.pyannote import PyannoteDiarizer

        if not options.pyannote_path:
            raise ValueError("diarization.backend = 'pyannote' needs diarization.pyannote_path")
        return PyannoteDiarizer(options.pyannote_path, num_speakers=options.num_speakers or None,
                                min_speakers=options.min_speakers, max_speakers=options.max_speakers)
    from wocas.diarizers.embedded import EmbeddedDiarizer, EmbeddedDiarizerOptions

    return EmbeddedDiarizer(EmbeddedDiarizerOptions(
        num_speakers=options.num_speakers or None, min_speakers=options.min_speakers,
        max_speakers=options.max_speakers))


def segments_from_words(words: tuple[Word, ...], max_gap: float = 0.5) -> list[SpeakerSegment]:
    """Speech stretches per speaker from word timings (stereo's timeline before the channels'
    own speech detection; kept for ``benchmarks/stereo_timeline.py``'s comparison)."""
    segments: list[SpeakerSegment] = []
    last: dict[str, SpeakerSegment] = {}
    for w in sorted(words, key=lambda w: w.start):
        speaker = w.speaker or "unknown"
        prev = last.get(speaker)
        if prev is not None and w.start - prev.end <= max_gap:
            merged = prev.replace(end=max(prev.end, w.end))
            segments[segments.index(prev)] = merged
            last[speaker] = merged
        else:
            seg = SpeakerSegment(speaker=speaker, start=w.start, end=w.end)
            segments.append(seg)
            last[speaker] = seg
    return sorted(segments, key=lambda s: s.start)


def assign_speakers(words: tuple[Word, ...], segments: list[SpeakerSegment]) -> tuple[Word, ...]:
    """Give each word the speaker whose segments overlap it most (nearest segment if none)."""
    if not segments:
        return tuple(w.replace(speaker="SPEAKER_00") for w in words)
    out = []
    for w in words:
        overlap: dict[str, float] = {}
        for s in segments:
            if s.end > w.start and s.start < w.end:
                overlap[s.speaker] = overlap.get(s.speaker, 0.0) + min(s.end, w.end) - max(s.start, w.start)
        if overlap:
            speaker = max(overlap, key=overlap.get)
        else:
            mid = (w.start + w.end) / 2
            speaker = min(segments, key=lambda s: min(abs(s.start - mid), abs(s.end - mid))).speaker
        out.append(w.replace(speaker=speaker))
    return tuple(out)


def snap_to_words(segments: list[SpeakerSegment], words: tuple[Word, ...]) -> list[SpeakerSegment]:
    """Move speaker boundaries that cut through a word to that word's edge.

    ``words`` carry the speaker ``assign_speakers`` gave them: the owner's segment is stretched
    over the whole word and every other speaker's segment is trimmed off it. A speaker's
    segments that then touch are merged, so the result stays sorted and non-overlapping per
    speaker.
    """
    spans: dict[str, list[list[float]]] = {}
    for seg in segments:
        spans.setdefault(seg.speaker, []).append([seg.start, seg.end])
    for w in words:
        if w.speaker is None or w.end <= w.start:
            continue
        for speaker, items in spans.items():
            for span in items:
                if not (span[0] < w.end and span[1] > w.start):
                    continue
                if speaker == w.speaker:
                    span[0], span[1] = min(span[0], w.start), max(span[1], w.end)
                elif span[0] >= w.start and span[1] <= w.end:
                    span[1] = span[0]  # wholly inside another speaker's word: drop
                elif span[1] < w.end:
                    span[1] = w.start  # ends inside the word
                elif span[0] > w.start:
                    span[0] = w.end  # starts inside the word
    out: list[SpeakerSegment] = []
    for speaker, items in spans.items():
        merged: list[list[float]] = []
        for start, end in sorted(items):
            if end - start <= 0:
                continue
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        out.extend(SpeakerSegment(speaker=speaker, start=round(a, 3), end=round(b, 3)) for a, b in merged)
    return sorted(out, key=lambda s: (s.start, s.end, s.speaker))


class DiarizeStage(Stage):
    name = "diarize"
    requires = frozenset({"audio", "asr_words"})
    provides = frozenset({"speaker_segments"})
    audio_only = True

    def __init__(self, options: DiarizationConfig, snap_words: bool = False):
        self.options = options
        # Off by default: with tiny.en word timings (often stretched over the pauses around a
        # word) snapping raised DER on both reference calls (benchmarks/diarization.py).
        self.snap_words = snap_words
        self.channel_options = ChannelTimelineOptions()
        self._diarizer: Diarizer | None = None

    @classmethod
    def identity(cls, section, encoder) -> str:
        # v3: stereo timelines from each channel's speech detection, not from the words
        return f"{section.backend}:v3" if section is not None else "diarize:v3"

    def version(self) -> str:
        return self.version_for(self.options) + (":snap" if self.snap_words else "")

    def warm_up(self) -> None:
        diarizer = self.diarizer
        if hasattr(diarizer, "warm_up"):
            diarizer.warm_up()

    def prefetch(self, calls: list[CallAnalysis]) -> None:
        """Load the diarizer while ASR runs, when some call in the batch is mono (a stereo
        call's channels are its speakers); for stereo calls, the speech detector their
        channel timelines use (silero's ONNX session)."""
        if any(c.audio is not None and c.audio.num_channels == 1 for c in calls):
            self.warm_up()
            if self.options.backend != "pyannote":  # the embedded diarizer's clustering libraries (~0.5 s)
                import scipy.linalg  # noqa: F401
                import sklearn.cluster  # noqa: F401
        elif any(c.audio is not None and c.audio.num_channels > 1 for c in calls):
            from wocas.diarizers.vad import load_vad

            load_vad()

    @property
    def diarizer(self) -> Diarizer:
        if self._diarizer is None:  # loaded on first mono call: stereo-only nights never pay for it
            self._diarizer = load_diarizer(self.options)
        return self._diarizer

    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        assert call.audio is not None
        speakers = [speaker for speaker, _ in speaker_channels(call.audio, call.call.channels)]
        if all(s is not None for s in speakers):  # stereo: a channel per party
            views = [call.audio.channel(c) for c in range(call.audio.num_channels)]  # int16, read in blocks
            segments = channel_timeline(views, call.audio.sample_rate, speakers, self.channel_options)
            return call.replace(speaker_segments=tuple(segments), asr_words=attach_words(call.asr_words, segments))
        segments = self.diarizer(call.audio.mix(), call.audio.sample_rate)  # read in blocks, never whole
        words = assign_speakers(call.asr_words, segments)
        if self.snap_words:
            segments = snap_to_words(segments, words)
        return call.replace(speaker_segments=tuple(segments), asr_words=words)
