"""Every closed vocabulary of the engine, as string enums: one spelling per kind.

A value of one of these enums is a ``str`` (``SignalKind.COMPLAINT == "complaint"``), so it
stores, serialises and compares as its text. Signal kinds once had other spellings; they are
mapped here and nowhere else (``SignalKind.parse``), when a stored record or a model file is
read, so an old store still loads. An unknown kind is an error at that boundary.
"""

from __future__ import annotations

from enum import StrEnum

from wocas.errors import WocasError


class UnknownKind(WocasError, ValueError):
    """A kind that is not one of its enum's values (nor an old spelling of one)."""


class SignalKind(StrEnum):
    """What the signals stage can find: a sign that the customer may leave."""

    CANCEL_INTENT = "cancel_intent"
    THREAT_TO_LEAVE = "threat_to_leave"
    COMPETITOR = "competitor"
    COMPLAINT = "complaint"
    REPEAT_CONTACT = "repeat_contact"
    ESCALATION_REQUEST = "escalation_request"
    LEGAL_THREAT = "legal_threat"
    SALE_ON_LOW_TRUST = "sale_on_low_trust"  # an agent pitched while the customer's trust was below zero
    UNRESOLVED_END = "unresolved_end"

    @classmethod
    def parse(cls, value: object) -> "SignalKind":
        """The kind a stored or written name means, old spellings included; UnknownKind otherwise."""
        if isinstance(value, cls):
            return value
        name = str(value)
        try:
            return cls(LEGACY_SIGNAL_KINDS.get(name, name))
        except ValueError:
            known = ", ".join(k.value for k in cls)
            raise UnknownKind(f"unknown signal kind {name!r}; known: {known}") from None

    def spellings(self) -> tuple[str, ...]:
        """This kind's name and its old names: what SQL over an old store's signals table must match."""
        return (self.value, *sorted(old for old, new in LEGACY_SIGNAL_KINDS.items() if new == self.value))


# Older records and model files spelt these kinds differently (old name -> the one name).
LEGACY_SIGNAL_KINDS: dict[str, str] = {
    "escalation": "escalation_request",
    "sale_to_frustrated": "sale_on_low_trust",
    "unresolved": "unresolved_end",
}


class FlagKind(StrEnum):
    """QA flags the flags stage raises for a reviewer to confirm or reject."""

    DEFECTION_RISK = "defection_risk"
    FRUSTRATED_SALE = "frustrated_sale"
    DETERIORATED = "deteriorated"
    PREVENTABLE_REPEAT = "preventable_repeat"
    LOW_SATISFACTION = "low_satisfaction"
    SILENCE_OVERTALK = "silence_overtalk"
    # input quality, raised by the decode stage: the call was analysed, but check the recording
    TRUNCATED_AUDIO = "truncated_audio"
    CHANNEL_MAP_IGNORED = "channel_map_ignored"
    ASR_NO_WORDS = "asr_no_words"  # a channel with speech energy gave no word
    SILENT_CHANNEL = "silent_channel"  # one channel of a stereo call holds no sound: one party is missing

    @property
    def label(self) -> str:
        return FLAG_LABELS[self]


FLAG_LABELS: dict[FlagKind, str] = {
    FlagKind.DEFECTION_RISK: "defection risk",
    FlagKind.FRUSTRATED_SALE: "sale to a frustrated customer",
    FlagKind.DETERIORATED: "deteriorated trajectory",
    FlagKind.PREVENTABLE_REPEAT: "preventable repeat contact",
    FlagKind.LOW_SATISFACTION: "low predicted satisfaction",
    FlagKind.SILENCE_OVERTALK: "long silence or overtalk",
    FlagKind.TRUNCATED_AUDIO: "recording shorter than its header says",
    FlagKind.CHANNEL_MAP_IGNORED: "channel map ignored (mono recording)",
    FlagKind.ASR_NO_WORDS: "speech with no words transcribed",
    FlagKind.SILENT_CHANNEL: "a silent channel (one party not recorded)",
}


class Role(StrEnum):
    AGENT = "agent"
    CUSTOMER = "customer"
    SYSTEM = "system"  # a recorded or automated voice (an IVR menu, a hold message): neither party
    UNKNOWN = "unknown"


class Shape(StrEnum):
    """How one side's trust moved through a call (see stages/trajectory.py)."""

    RECOVERED = "recovered"
    DETERIORATED = "deteriorated"
    STEADY_POSITIVE = "steady-positive"
    STEADY_NEGATIVE = "steady-negative"
    VOLATILE = "volatile"


class CallStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"


class CallKind(StrEnum):
    AUDIO = "audio"
    TRANSCRIPT = "transcript"


class Resolution(StrEnum):
    """How the customer's problem stood when the call ended."""

    RESOLVED = "resolved"
    PARTLY_RESOLVED = "partly_resolved"
    UNRESOLVED = "unresolved"
    TRANSFERRED = "transferred"
    CALLBACK_PROMISED = "callback_promised"
    CUSTOMER_GAVE_UP = "customer_gave_up"
