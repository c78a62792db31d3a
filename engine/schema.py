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
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from wocas.kinds import CallKind, CallStatus, FlagKind, Resolution, Role, Shape, SignalKind

SCHEMA_VERSION = 2  # 2: words are held only inside turns (v1 also kept a call-level copy)

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
    drivers: tuple[str, ...] = ()




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


class Audio(BaseModel):
    """Decoded audio: float32 samples at ``sample_rate``, shape (channels, samples)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    samples: np.ndarray
    sample_rate: int
    original_sample_rate: int

    @property
    def num_channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration(self) -> Seconds:
        return self.samples.shape[1] / self.sample_rate

    def mono(self) -> np.ndarray:
        return self.samples.mean(axis=0) if self.num_channels > 1 else self.samples[0]


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

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "CallAnalysis":
        if data.get("schema_version", 1) < 2:
            # v1 layout: a top-level "words" key held a copy of the words already in the turns
            data = {k: v for k, v in data.items() if k != "words"} | {"schema_version": SCHEMA_VERSION}
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
