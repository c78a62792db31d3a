"""QA flags derived from what the stages stored, each with a severity and a reason.

The queue must work whatever the stages wrote into ``calls.flags``, so the review app
derives its own flags from the stored fields (signals, trajectory, jobs, satisfaction, talk
metrics) with the thresholds in ``FlagRules``. A flag the pipeline stored under a name these
rules do not derive is kept too, at a middling severity, so nothing the engine raised is
hidden from reviewers.

Signal kinds are matched by keyword rather than by exact name because the signals stage
owns its vocabulary (``cancel_intent``, ``competitor_mention``, ``threat_to_leave``,
``legal_threat``, ``repeat_contact``, ``sale_on_low_trust`` ...): a new kind that says
"cancel" or "competitor" still counts as a defection signal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FLAG_KINDS: dict[str, str] = {
    "defection_risk": "defection risk",
    "frustrated_sale": "sale to a frustrated customer",
    "deteriorated": "deteriorated trajectory",
    "preventable_repeat": "preventable repeat contact",
    "low_satisfaction": "low predicted satisfaction",
    "silence_overtalk": "long silence or overtalk",
}
DEFECTION_WORDS = ("cancel", "competitor", "leave", "leaving", "switch", "churn", "close_account", "legal")
REPEAT_WORDS = ("repeat",)
SALE_WORDS = ("sale", "sell", "upsell", "cross_sell", "offer")
FRUSTRATED_WORDS = ("frustrat", "low_trust", "angry")  # a sale kind that already says the customer was upset
# Stored flags that describe processing, not something a reviewer should judge.
IGNORED_STORED_FLAGS = frozenset({"skipped", "redacted"})

Level = Literal["high", "medium", "low"]


@dataclass(frozen=True)
class FlagRules:
    """Thresholds for the derived flags (tune them against reviewer agreement on /insights)."""

    min_signal_strength: float = 0.3  # weaker defection signals are shown but do not flag
    deteriorated_turnaround: float = -0.4  # turnaround at or below this flags even without a shape
    frustrated_trust: float = -0.3  # customer trust at or below this counts as frustrated
    repeat_window_days: float = 7.0  # an earlier contact this recent makes this one a repeat
    low_satisfaction_score: float = 2.5  # CSAT-like 1..5
    low_p_satisfied: float = 0.35
    long_silence_share: float = 0.4
    overtalk_share: float = 0.1  # overtalk seconds / handle time
    overtalk_seconds: float = 8.0


@dataclass(frozen=True)
class SignalFact:
    kind: str
    strength: float
    start: float | None = None
    quote: str = ""


@dataclass(frozen=True)
class CallFacts:
    """The stored fields of one call that the flag rules read; any of them may be missing."""

    call_id: str
    trajectory_shape: str | None = None
    turnaround: float | None = None
    trust_lowest: float | None = None
    trust_lowest_at: float | None = None
    preventable: bool | None = None
    contact_reason: str | None = None
    satisfaction_score: float | None = None
    p_satisfied: float | None = None
    silence_share: float | None = None
    overtalk_seconds: float | None = None
    handle_time: float | None = None
    days_since_previous_contact: float | None = None
    stored_flags: tuple[str, ...] = ()
    signals: tuple[SignalFact, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Flag:
    kind: str
    severity: float  # 0..100
    reason: str
    at: float | None = None  # seconds into the call where the evidence is, when known

    @property
    def label(self) -> str:
        return FLAG_KINDS.get(self.kind, self.kind.replace("_", " "))

    @property
    def level(self) -> Level:
        return severity_level(self.severity)


def severity_level(severity: float) -> Level:
    if severity >= 75:
        return "high"
    if severity >= 50:
        return "medium"
    return "low"


def _clip01(x: float) -> float:
    return max(0.0, min(1.0, x))


def _matches(kind: str, words: tuple[str, ...]) -> bool:
    k = kind.lower()
    return any(w in k for w in words)


def _normalise(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def derive_flags(facts: CallFacts, rules: FlagRules = FlagRules()) -> list[Flag]:
    """Every flag the rules raise for one call, most severe first."""
    flags: list[Flag] = []
    signals = sorted(facts.signals, key=lambda s: -s.strength)

    defection = [s for s in signals if _matches(s.kind, DEFECTION_WORDS) and s.strength >= rules.min_signal_strength]
    if defection:
        top = defection[0]
        bonus = 10.0 if any("legal" in s.kind.lower() for s in defection) else 0.0
        severity = min(100.0, 60 + 30 * _clip01(top.strength) + 5 * (len(defection) - 1) + bonus)
        kinds = ", ".join(sorted({s.kind.replace("_", " ") for s in defection}))
        quote = f': "{top.quote}"' if top.quote else ""
        flags.append(Flag("defection_risk", severity, f"{kinds}{quote}", top.start))

    sale = [s for s in signals if _matches(s.kind, SALE_WORDS)]
    if sale:
        top = sale[0]
        frustrated = any(w in top.kind.lower() for w in FRUSTRATED_WORDS) or (
            facts.trust_lowest is not None and facts.trust_lowest <= rules.frustrated_trust)
        if frustrated:
            quote = f': "{top.quote}"' if top.quote else ""
            flags.append(Flag("frustrated_sale", 60 + 30 * _clip01(top.strength),
                              f"sale attempted while the customer was frustrated{quote}", top.start))

    turnaround = facts.turnaround
    if facts.trajectory_shape == "deteriorated" or (
            turnaround is not None and turnaround <= rules.deteriorated_turnaround):
        drop = _clip01(-(turnaround or 0.0))
        shown = f"turnaround {turnaround:+.2f}" if turnaround is not None else "trust fell through the call"
        flags.append(Flag("deteriorated", 55 + 40 * drop, f"customer trust deteriorated ({shown})",
                          facts.trust_lowest_at))

    repeat_signal = next((s for s in signals if _matches(s.kind, REPEAT_WORDS)), None)
    recent = (facts.days_since_previous_contact is not None
              and facts.days_since_previous_contact <= rules.repeat_window_days)
    if (repeat_signal or recent) and facts.preventable is not False:
        why = []
        if recent:
            why.append(f"previous contact {facts.days_since_previous_contact:.1f} days earlier")
        if repeat_signal:
            why.append(f'customer: "{repeat_signal.quote}"' if repeat_signal.quote else "customer says they called before")
        if facts.preventable:
            reason = f"preventable ({facts.contact_reason or 'reason unknown'}); " + "; ".join(why)
            severity = 70.0 + (10.0 if recent and repeat_signal else 0.0)
        else:
            reason = "repeat contact, preventability unknown; " + "; ".join(why)
            severity = 45.0
        flags.append(Flag("preventable_repeat", severity, reason, repeat_signal.start if repeat_signal else None))

    low_score = facts.satisfaction_score is not None and facts.satisfaction_score <= rules.low_satisfaction_score
    low_p = facts.p_satisfied is not None and facts.p_satisfied < rules.low_p_satisfied
    if low_score or low_p:
        if facts.p_satisfied is not None:
            depth = _clip01((rules.low_p_satisfied - facts.p_satisfied) / rules.low_p_satisfied)
        else:
            depth = _clip01((rules.low_satisfaction_score - facts.satisfaction_score) / 1.5)  # type: ignore[operator]
        parts = []
        if facts.satisfaction_score is not None:
            parts.append(f"score {facts.satisfaction_score:.1f}/5")
        if facts.p_satisfied is not None:
            parts.append(f"P(satisfied) {facts.p_satisfied:.0%}")
        flags.append(Flag("low_satisfaction", 50 + 35 * depth, "predicted " + ", ".join(parts)))

    talk = []
    excess = 0.0
    if facts.silence_share is not None and facts.silence_share >= rules.long_silence_share:
        talk.append(f"silence {facts.silence_share:.0%} of the call")
        excess = max(excess, _clip01((facts.silence_share - rules.long_silence_share) / 0.4))
    if facts.overtalk_seconds is not None:
        share = facts.overtalk_seconds / facts.handle_time if facts.handle_time else 0.0
        if facts.overtalk_seconds >= rules.overtalk_seconds or share >= rules.overtalk_share:
            talk.append(f"overtalk {facts.overtalk_seconds:.1f} s ({share:.0%})")
            excess = max(excess, _clip01(share / (2 * rules.overtalk_share)))
    if talk:
        flags.append(Flag("silence_overtalk", 35 + 30 * excess, "; ".join(talk)))

    have = {f.kind for f in flags}
    for name in facts.stored_flags:
        kind = _normalise(name)
        if kind in IGNORED_STORED_FLAGS or kind in have:
            continue
        have.add(kind)
        flags.append(Flag(kind, 50.0, "raised by the pipeline"))
    return sorted(flags, key=lambda f: -f.severity)


def call_severity(flags: list[Flag]) -> float:
    """Rank calls by their worst flag; more flags break ties."""
    if not flags:
        return 0.0
    return max(f.severity for f in flags) + 0.5 * (len(flags) - 1)
