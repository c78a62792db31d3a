"""The data model: what one call becomes as it flows through the stages.

Every type is a frozen pydantic model: stages never mutate, they return copies made with
``replace(...)``, which validates the change. Times are seconds from the start of the call.
Everything here serialises to JSON (``to_json``) and back (``from_json``), which is how the
store keeps the full record of a call and how ``wocas show`` reads it back. Words live in
one place in a record: inside their turn.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, Self

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, computed_field, model_validator

from wocas.io.spool import PcmFile
from wocas.kinds import CallKind, CallStatus, FlagKind, Resolution, Role, Shape, SignalKind

SCHEMA_VERSION = 3  # 2: words are held only inside turns (v1 also kept a call-level copy);
# 3: call.timing, run_id, redacted_spans, and the derived (read-only) fields: turn sentiment,
# sentiment_by_role, interruptions, non_talk, processing_seconds. ``wocas schema`` publishes it.

Seconds = float
# Old spellings of a signal kind load as the one spelling; an unknown kind fails validation.
SignalKindField = Annotated[SignalKind, BeforeValidator(SignalKind.parse)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` applied, built through the constructor: an unknown field or a
        value of the wrong type raises ``ValidationError`` (``model_copy(update=...)`` takes both
        silently). Cheap: the other fields go in as they are, and pydantic accepts nested models
        that are already instances without validating them again."""
        return type(self)(**{**self.__dict__, **changes})


class Word(Frozen):
    text: str
    start: Seconds
    end: Seconds
    probability: float = 1.0
    speaker: str | None = None

    @property
    def duration(self) -> Seconds:
        return self.end - self.start


class Emotion(Frozen):
    """One turn's emotion. ``trust`` is the mission's axis: -1 frustrated/angry, +1 trusting."""

    valence: float  # [-1, 1]
    arousal: float  # [0, 1]
    trust: float  # [-1, 1]
    confidence: float  # [0, 1]
    categories: dict[str, float] = Field(default_factory=dict)
    sources: tuple[str, ...] = ()


SentimentLabel = Literal["negative", "neutral", "positive"]
SENTIMENT_NEUTRAL_BAND = 0.15  # |trust| below this reads as neutral
NON_TALK_MIN_SECONDS = 2.0  # a stretch with nobody talking at least this long is a non-talk instance


def sentiment_label(trust: float) -> SentimentLabel:
    """The label of a trust score in [-1, 1] (the emotion stage's axis)."""
    if trust <= -SENTIMENT_NEUTRAL_BAND:
        return "negative"
    return "positive" if trust >= SENTIMENT_NEUTRAL_BAND else "neutral"


class Interval(Frozen):
    start: Seconds
    end: Seconds


class Interruption(Frozen):
    """One speaker starting while another still talks: the overlap, who cut in, who was cut."""

    start: Seconds
    end: Seconds
    speaker: str
    interrupted: str


class RedactedSpan(Frozen):
    """Where the redact stage put a tag: the turn, the entity type, the tag's character offsets
    in the turn's (redacted) text."""

    turn: int
    type: str
    start: int
    end: int


class Turn(Frozen):
    index: int
    speaker: str
    role: Role = Role.UNKNOWN
    start: Seconds
    end: Seconds
    text: str
    words: tuple[Word, ...] = ()
    channel: int | None = None
    emotion: Emotion | None = None

    @property
    def duration(self) -> Seconds:
        return self.end - self.start

    @computed_field  # derived, read-only in the JSON: dropped again on load
    @property
    def sentiment(self) -> SentimentLabel | None:
        return sentiment_label(self.emotion.trust) if self.emotion is not None else None


class SpeakerSegment(Frozen):
    """A stretch of audio attributed to one speaker (the diarizer's output, RTTM's unit)."""

    speaker: str
    start: Seconds
    end: Seconds


class Timing(StrEnum):
    """Where a call's times come from. Estimated times only keep the turns in order: the timing
    metrics of such a call are null and it gets no RTTM/SRT/VTT files."""

    MEASURED = "measured"  # audio: the ASR's and the diarizer's times
    GIVEN = "given"  # a transcript whose every turn has its start and end
    ESTIMATED = "estimated"  # a transcript without times: a nominal 5 s a turn


class TalkMetrics(Frozen):
    """Null timing figures (``None``) where the call's times are estimated, never invented ones."""

    handle_time: Seconds | None
    talk_share: dict[str, float]  # role -> share of handle time spent talking ({} when estimated)
    silence_share: float | None
    overtalk_seconds: Seconds | None
    longest_customer_monologue: Seconds | None
    turns_per_role: dict[str, int] = Field(default_factory=dict)


class Trajectory(Frozen):
    """How one side's trust moved through the call."""

    role: Role
    opening: float
    closing: float
    turnaround: float  # closing - opening
    lowest: float
    lowest_at: Seconds
    shape: Shape
    points: tuple[tuple[Seconds, float], ...] = ()
    resolution_at: Seconds | None = None  # when the turn that shows the call's resolution started


class Job(Frozen):
    """What the customer was trying to get done, in their words, and why they called."""

    statement: str  # the customer's own words
    phrase: str  # short normalised form
    reason: str  # contact reason from the taxonomy, or "other"
    reason_confidence: float
    preventable: bool = False
    owner: str | None = None  # upstream function that owns the reason
    turn_index: int | None = None
    start: Seconds | None = None
    end: Seconds | None = None


class Signal(Frozen):
    """A sign that the customer may leave, with the evidence for it."""

    kind: SignalKindField
    strength: float  # [0, 1]
    turn_index: int | None = None
    start: Seconds | None = None
    end: Seconds | None = None
    quote: str = ""


Level = Literal["high", "medium", "low"]


def severity_level(severity: float) -> Level:
    if severity >= 75:
        return "high"
    if severity >= 50:
        return "medium"
    return "low"


class Flag(Frozen):
    """A QA flag for a reviewer, with why it was raised and where in the call the evidence is."""

    kind: FlagKind
    severity: float  # 0..100
    reason: str
    turn_index: int | None = None
    at: Seconds | None = None  # seconds into the call, when known

    @property
    def label(self) -> str:
        return self.kind.label

    @property
    def level(self) -> Level:
        return severity_level(self.severity)


class Satisfaction(Frozen):
    score: float  # CSAT-like, 1..5
    p_satisfied: float
    confidence: float
    band: str | None = None  # low / mid / high, the survey band the score stands for (the call model's band model)
    drivers: tuple[str, ...] = ()
    # The call model's inputs by name (a refit rescores stored calls from them) and its version.
    features: dict[str, float] = Field(default_factory=dict)
    model: str = ""


class ResolutionState(Frozen):
    """The call's outcome for the customer's problem, with the turn that shows it."""

    state: Resolution
    confidence: float  # [0, 1]
    turn_index: int | None = None
    quote: str = ""


class Call(Frozen):
    """Where a call comes from and what we know about it before looking inside."""

    call_id: str
    source: str  # path of the audio or transcript file
    kind: CallKind
    content_hash: str = ""
    customer_id: str | None = None
    agent_id: str | None = None
    started_at: str | None = None
    channels: tuple[str, ...] = ()  # channel map, e.g. ("agent", "customer") for stereo
    metadata: dict[str, Any] = Field(default_factory=dict)
    timing: Timing = Timing.MEASURED


PCM_SCALE = 1.0 / 32768.0  # int16 -> float32 in [-1, 1), as faster-whisper's own decoder scales


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """float samples in [-1, 1] as int16 PCM (rounded, clipped): the form audio is held in."""
    out = np.empty(samples.shape, dtype=np.int16)
    step = 1 << 20
    flat_in, flat_out = samples.reshape(-1), out.reshape(-1)
    for i in range(0, flat_in.size, step):  # block by block: no whole-call float64 temporary
        block = np.rint(np.asarray(flat_in[i:i + step], dtype=np.float32) * 32768.0)
        np.clip(block, -32768, 32767, out=block)
        flat_out[i:i + step] = block
    return out


class Audio(BaseModel):
    """Decoded audio at ``sample_rate``, held as int16 PCM of shape (channels, samples): half
    the memory of float32, and exactly what a 16-bit recording (or faster-whisper's s16
    decoder) gives. Stages read float32 only in windows (``window``, or an ``AudioView`` from
    ``channel``/``mix``), so no whole-call float copy exists. ``Audio(samples=float_array)``
    is accepted and converted; ``samples`` gives the whole call as float32 (a full copy, for
    tests and small tools). A long call's ``pcm`` is a ``PcmFile`` (spooled to disk, read by
    positioned reads: see ``wocas.io.spool``), sliced the same way; ``release`` gives its disk
    space back when the call is done."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    pcm: np.ndarray | PcmFile  # int16, (channels, samples)
    sample_rate: int
    original_sample_rate: int

    @model_validator(mode="before")
    @classmethod
    def _from_float(cls, data: Any) -> Any:
        if isinstance(data, dict) and "samples" in data:
            data = dict(data)
            samples = np.asarray(data.pop("samples"))
            data["pcm"] = samples.astype(np.int16) if samples.dtype == np.int16 else to_pcm16(samples)
        if isinstance(data, dict) and isinstance(data.get("pcm"), np.ndarray):
            pcm = data["pcm"]
            if pcm.dtype != np.int16 or pcm.ndim != 2:
                raise ValueError(f"Audio.pcm must be int16 of shape (channels, samples), got {pcm.dtype} {pcm.shape}")
        return data

    @property
    def spooled(self) -> bool:
        return isinstance(self.pcm, PcmFile)

    def release(self) -> None:
        """Delete a spooled call's temporary file (in-memory audio: nothing to do)."""
        if isinstance(self.pcm, PcmFile):
            self.pcm.close()

    @property
    def num_channels(self) -> int:
        return int(self.pcm.shape[0])

    @property
    def num_samples(self) -> int:
        return int(self.pcm.shape[1])

    @property
    def duration(self) -> Seconds:
        return self.pcm.shape[1] / self.sample_rate

    def window(self, start: int = 0, end: int | None = None, channel: int | None = None) -> np.ndarray:
        """float32 samples ``start``..``end`` of one channel, or of the channels' mean
        (``channel=None``; a mono call's only channel)."""
        if channel is not None or self.num_channels == 1:
            out = self.pcm[channel or 0, start:end].astype(np.float32)
            out *= np.float32(PCM_SCALE)
            return out
        part = self.pcm[:, start:end].astype(np.float32)
        part *= np.float32(PCM_SCALE)
        return part.mean(axis=0)

    def channel(self, index: int) -> AudioView:
        return AudioView(self, index)

    def mix(self) -> AudioView:
        """The channels' mean (a mono call's channel), read in windows."""
        return AudioView(self, None)

    @property
    def samples(self) -> np.ndarray:
        """The whole call as float32, shape (channels, samples): a full copy."""
        out = np.asarray(self.pcm).astype(np.float32)
        out *= np.float32(PCM_SCALE)
        return out

    def mono(self) -> np.ndarray:
        """The whole call's channel mean as float32: a full copy (stages use ``mix()``)."""
        return self.window()


class AudioView:
    """One channel (or the channels' mean) of an ``Audio`` as a read-only 1-D float32
    sequence: ``len``, ``shape`` and slicing work as on an array, and each slice is converted
    when read, so a stage can walk a two-hour call holding one window at a time.
    ``np.asarray(view)`` gives the whole of it (a full copy)."""

    ndim = 1
    dtype = np.dtype(np.float32)

    def __init__(self, audio: Audio, channel: int | None):
        self.audio, self.channel_index = audio, channel

    def __len__(self) -> int:
        return self.audio.num_samples

    @property
    def shape(self) -> tuple[int]:
        return (self.audio.num_samples,)

    @property
    def size(self) -> int:
        return self.audio.num_samples

    def __getitem__(self, key: slice) -> np.ndarray:
        if not isinstance(key, slice):
            raise TypeError("an AudioView is read in slices")
        start, stop, step = key.indices(len(self))
        out = self.audio.window(start, max(start, stop), self.channel_index)
        return out if step == 1 else out[::step]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self.audio.window(0, None, self.channel_index)
        return out if dtype is None else out.astype(dtype, copy=False)

    def blocks(self, size: int):
        """(start, float32 samples) for consecutive windows of ``size`` samples."""
        for start in range(0, len(self), size):
            yield start, self[start:start + size]


class CallAnalysis(Frozen):
    """The one container every stage receives and returns (like spaCy's ``Doc``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    schema_version: int = SCHEMA_VERSION
    call: Call
    status: CallStatus = CallStatus.OK
    error: str | None = None
    failed_stage: str | None = None
    duration: Seconds = 0.0
    num_channels: int = 0
    sample_rate: int | None = None
    language: str | None = None
    speaker_segments: tuple[SpeakerSegment, ...] = ()
    turns: tuple[Turn, ...] = ()
    roles: dict[str, Role] = Field(default_factory=dict)  # speaker -> role
    role_confidence: float = 0.0
    metrics: TalkMetrics | None = None
    trajectories: dict[str, Trajectory] = Field(default_factory=dict)  # role -> trajectory
    # Why the customer has no trajectory although the emotion stage ran (too little said to shape).
    trajectory_state: Literal["not_enough_customer_speech"] | None = None
    jobs: tuple[Job, ...] = ()
    contact_reason: str | None = None
    preventable: bool | None = None
    signals: tuple[Signal, ...] = ()
    satisfaction: Satisfaction | None = None
    resolution: ResolutionState | None = None
    flags: tuple[Flag, ...] = ()  # QA flags (the flags stage), most severe first
    redacted: bool = False
    redacted_spans: tuple[RedactedSpan, ...] = ()
    run_id: str | None = None  # the run that recorded this call
    timings: dict[str, float] = Field(default_factory=dict)  # stage -> seconds
    versions: dict[str, str] = Field(default_factory=dict)
    # Transient, never serialised: decoded audio travels between the audio stages, and the
    # recogniser's words (speakers filled in by diarize) wait here until the turns stage moves
    # them into turns, their one home in a record, and clears this.
    audio: Audio | None = Field(default=None, exclude=True, repr=False)
    asr_words: tuple[Word, ...] = Field(default=(), exclude=True, repr=False)

    @property
    def call_id(self) -> str:
        return self.call.call_id

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def failed(self, stage: str, reason: str) -> "CallAnalysis":
        return self.replace(status=CallStatus.FAILED, error=reason, failed_stage=stage, audio=None, asr_words=())

    def customer_turns(self) -> tuple[Turn, ...]:
        return tuple(t for t in self.turns if t.role == Role.CUSTOMER)

    def turn_words(self) -> tuple[Word, ...]:
        """Every word of the call, turn by turn (turns hold the record's words)."""
        return tuple(w for t in self.turns for w in t.words)

    @computed_field
    @property
    def processing_seconds(self) -> float:
        return round(sum(self.timings.values()), 3)

    @computed_field
    @property
    def sentiment_by_role(self) -> dict[str, SentimentLabel]:
        """Per role, the label of its turns' mean trust (roles whose turns have no emotion: none)."""
        scores: dict[str, list[float]] = {}
        for t in self.turns:
            if t.emotion is not None:
                scores.setdefault(str(t.role), []).append(t.emotion.trust)
        return {role: sentiment_label(sum(v) / len(v)) for role, v in scores.items()}

    def _spans(self) -> list[tuple[float, float, str]]:
        if self.speaker_segments:
            return sorted((s.start, s.end, s.speaker) for s in self.speaker_segments)
        return sorted((t.start, t.end, t.speaker) for t in self.turns)

    @computed_field
    @property
    def interruptions(self) -> list[Interruption] | None:
        """Each start inside another speaker's stretch; null when the times are estimated."""
        if self.call.timing == "estimated":
            return None
        out, active = [], []
        for start, end, speaker in self._spans():
            active = [a for a in active if a[1] > start]
            for a_start, a_end, a_speaker in active:
                if a_speaker != speaker and a_start < start:
                    out.append(Interruption(start=start, end=round(min(a_end, end), 3),
                                            speaker=speaker, interrupted=a_speaker))
                    break
            active.append((start, end, speaker))
        return out

    @computed_field
    @property
    def non_talk(self) -> list[Interval] | None:
        """Stretches of at least NON_TALK_MIN_SECONDS with nobody talking (from the start of the
        call to its end); null when the times are estimated."""
        if self.call.timing == "estimated" or not self.ok:
            return None
        out, cursor = [], 0.0
        for start, end, _ in self._spans():
            if start - cursor >= NON_TALK_MIN_SECONDS:
                out.append(Interval(start=round(cursor, 3), end=round(start, 3)))
            cursor = max(cursor, end)
        if self.duration - cursor >= NON_TALK_MIN_SECONDS:
            out.append(Interval(start=round(cursor, 3), end=round(self.duration, 3)))
        return out

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "CallAnalysis":
        if data.get("schema_version", 1) < 2:
            # v1 layout: a top-level "words" key held a copy of the words already in the turns
            data = {k: v for k, v in data.items() if k != "words"} | {"schema_version": SCHEMA_VERSION}
        # derived fields are written for readers and computed again here
        data = {k: v for k, v in data.items() if k not in cls.model_computed_fields}
        if data.get("turns"):
            data["turns"] = [{k: v for k, v in t.items() if k not in Turn.model_computed_fields}
                             if isinstance(t, dict) else t for t in data["turns"]]
        return cls.model_validate(data)


class CustomerRecord(Frozen):
    customer_id: str
    contacts: int
    first_contact: str | None = None
    last_contact: str | None = None
    repeat_contacts: int = 0
    open_jobs: tuple[str, ...] = ()
    emotion_trend: float | None = None
    preventable_contacts: int = 0
    defection_risk: float = 0.0
    risk_reasons: tuple[str, ...] = ()
    value: float | None = None
    value_at_risk: float | None = None
    value_rescued: float | None = None
