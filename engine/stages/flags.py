"""Stage: QA flags for reviewers, each with a severity, a reason and where the evidence is.

Runs last, over what the earlier stages found (signals, the customer's trust trajectory,
jobs, predicted satisfaction, talk metrics); any of them may be missing, and a missing fact
raises no flag. The result is stored on the record (``CallAnalysis.flags``, and their kinds in
``calls.flags``), so the review app, the per-call JSON and the report all read the same flags.

A call sees only itself: "an earlier contact within ``repeat_window_days``" comes from the
call's metadata (``days_since_previous_contact``, a CRM column), not from other calls in the store.
The repeat FIGURE (``wocas customers``, the report, the app) is ``wocas.store.queries.REPEATS_SQL``,
which reads the same ``repeat_contact`` signal and CRM column and also the earlier calls stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wocas.config import FlagsConfig
from wocas.kinds import FlagKind, Role, Shape, SignalKind
from wocas.satisfaction.call_model import SURVEY_CUTS
from wocas.schema import CallAnalysis, Flag, Signal
from wocas.stages.base import Stage

DEFECTION_SIGNALS = frozenset({SignalKind.CANCEL_INTENT, SignalKind.COMPETITOR, SignalKind.THREAT_TO_LEAVE,
                               SignalKind.LEGAL_THREAT})
SALE_SIGNALS = frozenset({SignalKind.SALE_ON_LOW_TRUST})
FRUSTRATED_SALE_SIGNALS = frozenset({SignalKind.SALE_ON_LOW_TRUST})  # the kind already says the customer was upset
REPEAT_SIGNALS = frozenset({SignalKind.REPEAT_CONTACT})


@dataclass(frozen=True)
class CallFacts:
    """The fields of one call that the flag rules read; any of them may be missing."""

    call_id: str
    trajectory_shape: Shape | None = None
    turnaround: float | None = None
    trust_lowest: float | None = None
    trust_lowest_at: float | None = None
    trust_lowest_turn: int | None = None
    preventable: bool | None = None
    contact_reason: str | None = None
    satisfaction_score: float | None = None
    p_satisfied: float | None = None
    satisfaction_band: str | None = None  # low / mid / high, from the fitted band model
    silence_share: float | None = None
    overtalk_seconds: float | None = None
    handle_time: float | None = None
    days_since_previous_contact: float | None = None
    signals: tuple[Signal, ...] = field(default_factory=tuple)


def _float_or_none(value: object) -> float | None:
    try:
        return float(value) if value not in (None, "") else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def facts_of(call: CallAnalysis) -> CallFacts:
    customer = call.trajectories.get(Role.CUSTOMER)
    m, s = call.metrics, call.satisfaction
    lowest_turn = None
    if customer is not None:
        lowest_turn = next((t.index for t in call.turns if t.role == Role.CUSTOMER
                            and round(t.start, 3) == customer.lowest_at), None)
    return CallFacts(
        call_id=call.call_id,
        trajectory_shape=customer.shape if customer else None,
        turnaround=customer.turnaround if customer else None,
        trust_lowest=customer.lowest if customer else None,
        trust_lowest_at=customer.lowest_at if customer else None,
        trust_lowest_turn=lowest_turn,
        preventable=call.preventable, contact_reason=call.contact_reason,
        satisfaction_score=s.score if s else None, p_satisfied=s.p_satisfied if s else None,
        satisfaction_band=s.band if s else None,
        silence_share=m.silence_share if m else None, overtalk_seconds=m.overtalk_seconds if m else None,
        handle_time=m.handle_time if m else None,
        days_since_previous_contact=_float_or_none(call.call.metadata.get("days_since_previous_contact")),
        signals=call.signals,
    )


def _clip01(x: float) -> float:
    return max(0.0, min(1.0, x))


def _said(kind: SignalKind) -> str:
    return kind.value.replace("_", " ")


def derive_flags(facts: CallFacts, rules: FlagsConfig = FlagsConfig()) -> list[Flag]:
    """Every flag the rules raise for one call, most severe first."""
    flags: list[Flag] = []
    signals = sorted(facts.signals, key=lambda s: -s.strength)

    defection = [s for s in signals if s.kind in DEFECTION_SIGNALS and s.strength >= rules.min_signal_strength]
    if defection:
        top = defection[0]
        bonus = 10.0 if any(s.kind == SignalKind.LEGAL_THREAT for s in defection) else 0.0
        severity = min(100.0, 60 + 30 * _clip01(top.strength) + 5 * (len(defection) - 1) + bonus)
        kinds = ", ".join(sorted({_said(s.kind) for s in defection}))
        quote = f': "{top.quote}"' if top.quote else ""
        flags.append(Flag(kind=FlagKind.DEFECTION_RISK, severity=severity, reason=f"{kinds}{quote}",
                          turn_index=top.turn_index, at=top.start))

    sale = [s for s in signals if s.kind in SALE_SIGNALS]
    if sale:
        top = sale[0]
        frustrated = top.kind in FRUSTRATED_SALE_SIGNALS or (
            facts.trust_lowest is not None and facts.trust_lowest <= rules.frustrated_trust)
        if frustrated:
            quote = f': "{top.quote}"' if top.quote else ""
            flags.append(Flag(kind=FlagKind.FRUSTRATED_SALE, severity=60 + 30 * _clip01(top.strength),
                              reason=f"sale attempted while the customer was frustrated{quote}",
                              turn_index=top.turn_index, at=top.start))

    turnaround = facts.turnaround
    if facts.trajectory_shape == Shape.DETERIORATED or (
            turnaround is not None and turnaround <= rules.deteriorated_turnaround):
        drop = _clip01(-(turnaround or 0.0))
        shown = f"turnaround {turnaround:+.2f}" if turnaround is not None else "trust fell through the call"
        flags.append(Flag(kind=FlagKind.DETERIORATED, severity=55 + 40 * drop,
                          reason=f"customer trust deteriorated ({shown})",
                          turn_index=facts.trust_lowest_turn, at=facts.trust_lowest_at))

    repeat_signal = next((s for s in signals if s.kind in REPEAT_SIGNALS), None)
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
        flags.append(Flag(kind=FlagKind.PREVENTABLE_REPEAT, severity=severity, reason=reason,
                          turn_index=repeat_signal.turn_index if repeat_signal else None,
                          at=repeat_signal.start if repeat_signal else None))

    low_band = facts.satisfaction_band == "low"
    low_score = (rules.low_satisfaction_score is not None and facts.satisfaction_score is not None
                 and facts.satisfaction_score <= rules.low_satisfaction_score)
    low_p = facts.p_satisfied is not None and facts.p_satisfied < rules.low_p_satisfied
    if low_band or low_score or low_p:
        if facts.p_satisfied is not None:
            depth = _clip01((rules.low_p_satisfied - facts.p_satisfied) / rules.low_p_satisfied)
        elif facts.satisfaction_score is not None:
            depth = _clip01((SURVEY_CUTS[0] - facts.satisfaction_score) / 1.5)
        else:
            depth = 0.0
        parts = []
        if facts.satisfaction_score is not None:
            parts.append(f"score {facts.satisfaction_score:.1f}/5")
        if facts.satisfaction_band is not None:
            parts.append(f"band {facts.satisfaction_band}")
        if facts.p_satisfied is not None:
            parts.append(f"P(satisfied) {facts.p_satisfied:.0%}")
        flags.append(Flag(kind=FlagKind.LOW_SATISFACTION, severity=50 + 35 * depth,
                          reason="predicted " + ", ".join(parts)))

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
        flags.append(Flag(kind=FlagKind.SILENCE_OVERTALK, severity=35 + 30 * excess, reason="; ".join(talk)))
    return sorted(flags, key=lambda f: -f.severity)


def call_severity(flags: tuple[Flag, ...] | list[Flag]) -> float:
    """Rank calls by their worst flag; more flags break ties."""
    if not flags:
        return 0.0
    return max(f.severity for f in flags) + 0.5 * (len(flags) - 1)


INPUT_FLAGS = frozenset({FlagKind.TRUNCATED_AUDIO, FlagKind.CHANNEL_MAP_IGNORED, FlagKind.ASR_NO_WORDS,
                         FlagKind.SILENT_CHANNEL})


class FlagsStage(Stage):
    name = "flags"
    # signals, trajectories, jobs and satisfaction are read when their (optional) stages ran
    requires = frozenset({"turns", "roles", "metrics"})
    provides = frozenset({"flags"})

    def __init__(self, rules: FlagsConfig = FlagsConfig()):
        self.rules = rules

    def version(self) -> str:
        return self.version_for(self.rules)

    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        derived = derive_flags(facts_of(call), self.rules)
        earlier = tuple(f for f in call.flags if f.kind in INPUT_FLAGS)  # raised by earlier stages
        return call.replace(flags=(*sorted(derived + list(earlier), key=lambda f: -f.severity),))
