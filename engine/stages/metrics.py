"""Stage 6: talk metrics per call: talk share per role, silence, overtalk, monologues."""

from __future__ import annotations

from wocas.schema import CallAnalysis, SpeakerSegment, TalkMetrics, Timing
from wocas.stages.base import Stage


def union_length(spans: list[tuple[float, float]]) -> float:
    total, cur_start, cur_end = 0.0, None, None
    for start, end in sorted(spans):
        if cur_end is None or start > cur_end:
            if cur_end is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_end is not None:
        total += cur_end - cur_start
    return total


def overlap_seconds(segments: list[SpeakerSegment]) -> float:
    """Seconds where two or more speakers talk at once."""
    events = sorted([(s.start, 1) for s in segments] + [(s.end, -1) for s in segments])
    active, last, total = 0, 0.0, 0.0
    for time, delta in events:
        if active >= 2:
            total += time - last
        active += delta
        last = time
    return total


def talk_metrics(call: CallAnalysis) -> TalkMetrics:
    turns_per_role: dict[str, int] = {}
    for t in call.turns:
        turns_per_role[t.role] = turns_per_role.get(t.role, 0) + 1
    if call.call.timing == Timing.ESTIMATED:  # times made up to keep order: no timing figure
        return TalkMetrics(handle_time=None, talk_share={}, silence_share=None, overtalk_seconds=None,
                           longest_customer_monologue=None, turns_per_role=turns_per_role)
    handle = call.duration or (call.turns[-1].end if call.turns else 0.0)
    segments = list(call.speaker_segments) or [
        SpeakerSegment(speaker=t.speaker, start=t.start, end=t.end) for t in call.turns]
    role_of = call.roles
    per_role: dict[str, list[tuple[float, float]]] = {}
    for s in segments:
        per_role.setdefault(role_of.get(s.speaker, "unknown"), []).append((s.start, s.end))
    talk_share = {role: round(union_length(spans) / handle, 4) if handle else 0.0
                  for role, spans in per_role.items()}
    speech = union_length([(s.start, s.end) for s in segments])
    customer_turns = [t.duration for t in call.turns if t.role == "customer"]
    return TalkMetrics(
        handle_time=round(handle, 3),
        talk_share=talk_share,
        silence_share=round(max(0.0, 1 - speech / handle), 4) if handle else 0.0,
        overtalk_seconds=round(overlap_seconds(segments), 3),
        longest_customer_monologue=round(max(customer_turns, default=0.0), 3),
        turns_per_role=turns_per_role,
    )


class MetricsStage(Stage):
    name = "metrics"
    requires = frozenset({"turns", "roles"})
    provides = frozenset({"metrics"})

    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        return call.replace(metrics=talk_metrics(call))
