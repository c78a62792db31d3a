"""Predicted satisfaction per call: the score that stands where the post-call survey used to.

Reads what earlier stages found (the customer's trust trajectory, defection signals including
``unresolved_end``, talk metrics) and the customer's own words, and writes a CSAT-like 1-5 score,
the probability the customer would call themselves satisfied, a confidence, and the three
facts that moved the score most. Stages that did not run simply leave their facts missing,
which lowers the confidence rather than failing the call.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from wocas.config import SatisfactionConfig
from wocas.kinds import SignalKind
from wocas.models.text_encoder import TextEncoder
from wocas.satisfaction.model import (
    MODEL_FILE, CallFacts, Dialogue, SatisfactionModel, embed_dialogues, load_model,
)
from wocas.schema import CallAnalysis, Satisfaction
from wocas.stages.base import Stage, file_digest

log = logging.getLogger(__name__)


def dialogue_of(call: CallAnalysis) -> Dialogue:
    """The call's turns as (role, text); with no turn known to be the customer's, every
    non-agent turn is taken as the customer's (the confidence already reflects weak roles)."""
    have_customer = any(t.role == "customer" for t in call.turns)
    turns = []
    for t in call.turns:
        role = t.role if have_customer or t.role == "agent" else "customer"
        turns.append((role, t.text))
    return Dialogue(turns=tuple(turns), dialogue_id=call.call_id)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "y"}
    return bool(value)


def facts_of(call: CallAnalysis) -> CallFacts:
    trajectory = call.trajectories.get("customer")
    traj = None
    if trajectory is not None:
        points = [v for _, v in trajectory.points]
        traj = {"opening": trajectory.opening, "closing": trajectory.closing, "lowest": trajectory.lowest,
                "mean": sum(points) / len(points) if points else (trajectory.opening + trajectory.closing) / 2}
    signals: dict[SignalKind, tuple[float, str]] = {}
    for s in call.signals:
        if s.kind not in signals or s.strength > signals[s.kind][0]:
            signals[s.kind] = (s.strength, s.quote)
    meta = call.call.metadata
    transfers = meta.get("transfers")
    if transfers is None:
        agents = {t.speaker for t in call.turns if t.role == "agent"}
        transfers = max(0, len(agents) - 1)
    try:
        transfers = int(transfers)
    except (TypeError, ValueError):
        transfers = None
    prior = meta.get("prior_contacts")
    repeat = _truthy(meta.get("repeat_contact")) or (str(prior).isdigit() and int(prior) > 0)
    metrics = call.metrics
    return CallFacts(
        trajectory=traj, signals=signals, signals_checked="signals" in call.timings,
        transfers=transfers,
        silence_share=metrics.silence_share if metrics else None,
        handle_time=metrics.handle_time if metrics else None,
        repeat_contact=repeat,
        resolution=(str(call.resolution.state), call.resolution.confidence) if call.resolution else None,
    )


class SatisfactionStage(Stage):
    name = "satisfaction"
    requires = frozenset({"turns", "roles", "metrics"})
    provides = frozenset({"satisfaction"})

    def __init__(self, config: SatisfactionConfig | None = None, encoder: TextEncoder | None = None):
        self.config = config or SatisfactionConfig()
        self.model: SatisfactionModel = load_model(self.config.model or str(MODEL_FILE))
        # the model's own encoder (named in its file), on the shared encoder's backend and device
        self.encoder = (encoder or TextEncoder()).variant(self.model.encoder)

    @classmethod
    def identity(cls, section, encoder) -> str:
        path = Path((section or SatisfactionConfig()).model or MODEL_FILE)
        model = load_model(str(path))
        shared = encoder or TextEncoder()
        return f"{model.version}:{file_digest(path)}+{shared.variant(model.encoder).identity()}"

    def version(self) -> str:
        return self.version_for(self.config, self.encoder)

    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        return self.process_batch([call])[0]

    def process_batch(self, calls: list[CallAnalysis]) -> list[CallAnalysis]:
        dialogues = [dialogue_of(c) for c in calls]
        emb_mean, emb_last = embed_dialogues(dialogues, self.encoder)  # (n, dim) each
        out = []
        for i, (call, dialogue) in enumerate(zip(calls, dialogues)):
            if not dialogue.turns:
                out.append(call)  # nothing said: no prediction, not a failure
                continue
            p = self.model.predict(dialogue, facts_of(call), emb_mean[i], emb_last[i])
            sat = Satisfaction(score=p.score, p_satisfied=p.p_satisfied, confidence=p.confidence,
                               drivers=p.drivers)
            out.append(call.replace(satisfaction=sat))
        return out
