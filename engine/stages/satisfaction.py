"""Predicted satisfaction per call: the score that stands where the post-call survey used to.

Reads what earlier stages found (the customer's trust trajectory, the resolution, defection
signals, talk metrics, effort in the call's metadata) and the text model's reading of the
customer's own words, and weighs them with the fitted call model
(``wocas.satisfaction.call_model``; a centre's refit from ``wocas calibrate`` when the run's
store has one). Writes a CSAT-like 1-5 score, the probability the customer would call themselves
satisfied, a confidence, the three facts that moved the score most, and the features, so a later
refit can rescore the call. Stages that did not run leave their facts missing, which lowers the
confidence rather than failing the call.

The survey band is the band model's; with ``[satisfaction] band_words`` (the default,
models/band-lexical) a lexical head also reads the band from the words of the whole call
(engine/text/lexical.py), its probabilities are kept in the features (``words:low`` ...), and the
band is the most probable under the mean of the two readings (a stored call rescored later blends
the same numbers). After a refit on a centre's surveys the band is the survey's own cut of the
refitted score, and the words' reading is kept but not used.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from wocas.config import SatisfactionConfig, model_file
from wocas.kinds import SignalKind
from wocas.models.text_encoder import TextEncoder
from wocas.satisfaction.call_model import (
    CALL_MODEL_FILE, WORDS, CallModel, call_features, drivers, load_call_model,
)
from wocas.satisfaction.model import (
    MODEL_FILE, CallFacts, Dialogue, SatisfactionModel, _telling_quote, embed_dialogues, lexical_features,
    load_model, with_trajectory,
)
from wocas.schema import CallAnalysis, Satisfaction
from wocas.stages.base import Stage, file_digest
from wocas.text.lexical import LexicalHead, load_lexical_head

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


def confidence_of(call: CallAnalysis, dialogue: Dialogue, p: float) -> float:
    """Evidence coverage (text, trajectory, resolution and signals, effort) times how decided the model is."""
    words = sum(len(text.split()) for text in dialogue.customer)
    coverage = 0.35 * min(1.0, words / 30)
    coverage += 0.25 if "customer" in call.trajectories else 0.0
    coverage += 0.2 if ("signals" in call.timings or call.resolution is not None) else 0.0
    coverage += 0.2 if call.metrics is not None and call.metrics.handle_time is not None else 0.0
    return round(coverage * (0.6 + 0.4 * abs(2 * p - 1)), 3)


def satisfaction_for(call: CallAnalysis, features: dict[str, float], model: CallModel) -> Satisfaction:
    """The call model's prediction for a call from its features (also how a refit rescores a stored call)."""
    dialogue = dialogue_of(call)
    p = model.predict(features)
    quote = _telling_quote(dialogue.customer, p.contributions.get("text_s", 0.0))
    return Satisfaction(score=round(p.score, 3), p_satisfied=round(p.p_satisfied, 4),
                        confidence=confidence_of(call, dialogue, p.p_satisfied), band=model.band(p.score, features),
                        drivers=drivers(p.contributions, features, call, quote),
                        features={k: round(v, 5) for k, v in features.items()}, model=model.version)


def _words_folder(section: SatisfactionConfig | None) -> Path | None:
    from wocas.models.registry import resolve

    name = (section or SatisfactionConfig()).band_words
    return resolve(name).path if name else None


class SatisfactionStage(Stage):
    name = "satisfaction"
    requires = frozenset({"turns", "roles", "metrics"})
    provides = frozenset({"satisfaction"})

    def __init__(self, config: SatisfactionConfig | None = None, encoder: TextEncoder | None = None):
        self.config = config or SatisfactionConfig()
        self.model: SatisfactionModel = load_model(model_file(self.config.model) or str(MODEL_FILE))
        self.call_model: CallModel = load_call_model(model_file(self.config.call_model) or str(CALL_MODEL_FILE))
        # the model's own encoder (named in its file), on the shared encoder's backend and device
        self.encoder = (encoder or TextEncoder()).variant(self.model.encoder)
        words = _words_folder(self.config)
        self.band_words: LexicalHead | None = load_lexical_head(str(words)) if words is not None else None

    @classmethod
    def identity(cls, section, encoder) -> str:
        section = section or SatisfactionConfig()
        path = Path(model_file(section.model) or MODEL_FILE)
        call_path = Path(model_file(section.call_model) or CALL_MODEL_FILE)
        model, call_model = load_model(str(path)), load_call_model(str(call_path))
        shared = encoder or TextEncoder()
        words = _words_folder(section)
        words = f"+words:{file_digest(words / 'head.npz')}" if words is not None else ""
        return (f"{model.version}:{file_digest(path)}+{call_model.version}:{file_digest(call_path)}"
                f"+{shared.variant(model.encoder).identity()}{words}")

    def version(self) -> str:
        return self.version_for(self.config, self.encoder)

    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        return self.process_batch([call])[0]

    def process_batch(self, calls: list[CallAnalysis]) -> list[CallAnalysis]:
        dialogues = [dialogue_of(c) for c in calls]
        emb_mean, emb_last = embed_dialogues(dialogues, self.encoder)  # (n, dim) each
        words = self.words_features(calls)
        out = []
        for i, (call, dialogue) in enumerate(zip(calls, dialogues)):
            if not dialogue.turns:
                out.append(call)  # nothing said: no prediction, not a failure
                continue
            features = call_features(call, self.text_s(call, dialogue, emb_mean[i], emb_last[i])) | words[i]
            out.append(call.replace(satisfaction=satisfaction_for(call, features, self.call_model)))
        return out

    def words_features(self, calls: list[CallAnalysis]) -> list[dict[str, float]]:
        """Per call, the lexical band head's probabilities as ``words:<band>`` features (none without the head)."""
        if self.band_words is None:
            return [{} for _ in calls]
        head = self.band_words
        p = head.probabilities([[(t.role.value, t.text) for t in c.turns] for c in calls])
        return [{f"{WORDS}{c}": round(float(v), 5) for c, v in zip(head.classes, row)} for row in p]

    def text_s(self, call: CallAnalysis, dialogue: Dialogue, emb_mean, emb_last) -> float | None:
        """The text model's S; none when the customer said nothing (the call model then leaves it out)."""
        if not dialogue.customer:
            return None
        lex = with_trajectory(lexical_features(dialogue), facts_of(call).trajectory)
        return self.model.text_contributions(lex, emb_mean, emb_last, dialogue)[0]
