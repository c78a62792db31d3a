"""Stage: the shape of the call, per side: how trust moved from the first turn to the last.

Each turn counts by its confidence times its substance: a turn that is ritual politeness
("Okay. Thanks, bye.") says little about trust, so it weighs ``1 - ritual``, where ritual is
the emotion head's polite-category probability (gratitude, approval, caring) times how
little the turn says (under ``FULL_TURN_WORDS`` words). Opening is the weighted mean of the
first turns (a third of them rounded up, at most three). The customer's closing is read from
their last *substantive* turns (walking back until that much substance is found) and then
pulled towards the call's outcome: the resolution state, and leaving (a cancellation or a
threat to leave), so a polite cancellation still closes low. The lowest point is the side's
lowest-scored turn, and when it started.
Shape, in order of precedence:
  recovered       closing - opening >= T, the side was negative at some point, and it ends positive
  deteriorated    opening - closing >= T and it ends negative
  volatile        mean |step| between turns >= V, with both clearly positive and negative turns
  steady-positive / steady-negative   by the sign of a mix of the weighted mean and the closing
A customer with fewer than two scored turns gets no trajectory and
``trajectory_state = "not_enough_customer_speech"``.

When the customer's turns were read in context (the context stage ran with ``[emotion]
context_model``), the customer's shape comes instead from the shape classifier fitted with that head (``shape.npz`` in its
folder, by scripts/fit_shapes.py): a logistic regression over the same trajectory numbers
(``shape_features``), fitted on the head's out-of-fold readings of the labelled training calls,
so its thresholds match what the head actually outputs. With ``[emotion] shape_words`` (the
default, models/shape-lexical) a lexical head also reads the shape from the words of the whole
call, each word marked with the side and the third of the call it was said in (engine/text/lexical.py),
and the shape is the most probable under the mean of the two readings: the trajectory numbers see
how trust moved, the words see what was said at the start and at the end. The rules above stay for
the agent side and for calls read without context.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from wocas.config import EmotionConfig
from wocas.kinds import Shape, SignalKind
from wocas.schema import CallAnalysis, Resolution, Trajectory, Turn
from wocas.stages.base import Stage, file_digest
from wocas.text.lexical import LexicalHead, load_lexical_head

SIDES = ("customer", "agent")
CLEAR = 0.25  # |trust| beyond which a turn clearly leans one way
POLITE = ("gratitude", "approval", "caring")
FULL_TURN_WORDS = 15  # a turn this long carries full information
MIN_CUSTOMER_TURNS = 2
# Where each outcome leaves the customer's trust, and how much the outcome weighs in the closing.
OUTCOME_TRUST = {
    Resolution.RESOLVED: 0.5, Resolution.PARTLY_RESOLVED: -0.1, Resolution.UNRESOLVED: -0.5,
    Resolution.TRANSFERRED: -0.3, Resolution.CALLBACK_PROMISED: 0.0, Resolution.CUSTOMER_GAVE_UP: -0.6,
}
LEAVING_KINDS = frozenset({SignalKind.CANCEL_INTENT, SignalKind.THREAT_TO_LEAVE})
LEAVING_TRUST, LEAVING_STRENGTH = -0.6, 0.7
OUTCOME_WEIGHT = 0.7  # chosen on the challenge set's tune split (0.3, 0.5, 0.7 tried)
STEADY_CLOSING_SHARE = 0.5  # a steady call's sign: this much closing, the rest the weighted mean


def _ends(n: int) -> int:
    return max(1, min(3, -(-n // 3)))  # ceil(n / 3), 1..3


def ritual(turn: Turn) -> float:
    """How much a turn is ritual politeness rather than content, in [0, 1]."""
    if turn.emotion is None:
        return 0.0
    polite = min(1.0, sum(turn.emotion.categories.get(c, 0.0) for c in POLITE))
    info = min(1.0, len(turn.text.split()) / FULL_TURN_WORDS)
    return polite * (1.0 - info)


def outcome_trust(call: CallAnalysis) -> float | None:
    """Where the call's outcome leaves the customer: the resolution's trust, lowered to
    ``LEAVING_TRUST`` when they clearly said they are leaving; None when nothing is known."""
    value = OUTCOME_TRUST[call.resolution.state] if call.resolution is not None else None
    if any(s.kind in LEAVING_KINDS and s.strength >= LEAVING_STRENGTH for s in call.signals):
        value = LEAVING_TRUST if value is None else min(value, LEAVING_TRUST)
    return value


def trajectory(turns: list[Turn], role: str, turnaround_threshold: float = 0.3,
               volatility_threshold: float = 0.5, outcome: float | None = None,
               outcome_weight: float = OUTCOME_WEIGHT, resolution_at: float | None = None,
               steady_closing_share: float = STEADY_CLOSING_SHARE) -> Trajectory | None:
    """One side's trajectory from its turns (which must carry emotion); None if it has none.
    ``outcome`` (a trust value the call's outcome stands for) pulls the closing towards it."""
    scored = [t for t in turns if t.emotion is not None]
    if not scored:
        return None
    trust = np.array([t.emotion.trust for t in scored])
    substance = np.array([1.0 - ritual(t) for t in scored])
    weight = np.array([max(t.emotion.confidence, 0.05) for t in scored]) * np.maximum(substance, 0.05)
    k = _ends(len(scored))
    opening = float(np.average(trust[:k], weights=weight[:k]))
    # the last turns holding k turns' worth of substance; the earliest of them counts in part
    back = substance[::-1]
    before = np.concatenate([[0.0], np.cumsum(back)[:-1]])
    share = np.clip(k - before, 0.0, back) / np.maximum(back, 1e-9)
    share[:k] = np.maximum(share[:k], 1e-3)  # the last k turns always count a little
    closing = float(np.average(trust[::-1], weights=weight[::-1] * share))
    if outcome is not None:
        closing = (1.0 - outcome_weight) * closing + outcome_weight * outcome
    low = int(np.argmin(trust))
    turnaround = closing - opening
    steps = np.abs(np.diff(trust)).mean() if len(trust) > 1 else 0.0
    overall = (1 - steady_closing_share) * float(np.average(trust, weights=weight)) + steady_closing_share * closing
    if turnaround >= turnaround_threshold and float(trust.min()) < 0 and closing > 0:
        shape = "recovered"
    elif turnaround <= -turnaround_threshold and closing < 0:
        shape = "deteriorated"
    elif steps >= volatility_threshold and trust.max() > CLEAR and trust.min() < -CLEAR:
        shape = "volatile"
    elif overall >= 0:
        shape = "steady-positive"
    else:
        shape = "steady-negative"
    return Trajectory(
        role=role, opening=round(opening, 4), closing=round(closing, 4), turnaround=round(turnaround, 4),
        lowest=round(float(trust[low]), 4), lowest_at=round(scored[low].start, 3), shape=shape,
        points=tuple((round((t.start + t.end) / 2, 3), round(t.emotion.trust, 4)) for t in scored),
        resolution_at=resolution_at,
    )


OUTCOME_COLUMNS = (*(f"resolution:{r.value}" for r in Resolution), "signal:cancel_intent", "signal:threat_to_leave")
SHAPE_FEATURES = ("opening", "closing", "turnaround", "lowest", "highest", "mean_step", "mean", "outcome",
                  "first", "last", *OUTCOME_COLUMNS)


def outcome_columns(call: CallAnalysis) -> list[float]:
    """The call's outcome as the shape classifier reads it: per resolution state its confidence
    when it is the call's state (else 0), then the strongest cancel-intent and threat-to-leave signals."""
    r = call.resolution
    row = [float(r.confidence) if r is not None and r.state == s else 0.0 for s in Resolution]
    for kind in (SignalKind.CANCEL_INTENT, SignalKind.THREAT_TO_LEAVE):
        row.append(max([float(x.strength) for x in call.signals if x.kind == kind] or [0.0]))
    return row


def shape_features(tr: Trajectory, outcome: float | None, call: CallAnalysis) -> np.ndarray:
    """The numbers a fitted shape classifier reads: the trajectory's and its turns' trust, and the
    call's outcome (``outcome_columns``)."""
    trust = np.array([v for _, v in tr.points])
    steps = float(np.abs(np.diff(trust)).mean()) if len(trust) > 1 else 0.0
    return np.array([tr.opening, tr.closing, tr.turnaround, tr.lowest, float(trust.max()), steps, float(trust.mean()),
                     outcome if outcome is not None else 0.0, float(trust[0]), float(trust[-1]),
                     *outcome_columns(call)], dtype=np.float32)


class ShapeClassifier:
    """Multinomial logistic regression over ``shape_features`` (``shape.npz`` + ``shape.json``)."""

    def __init__(self, folder: Path):
        config = json.loads((folder / "shape.json").read_text())
        if tuple(config["features"]) != SHAPE_FEATURES:
            raise ValueError(f"shape classifier {folder}: features {config['features']}, this code reads "
                             f"{list(SHAPE_FEATURES)}; refit it with scripts/fit_shapes.py")
        self.classes = list(config["classes"])
        self.outcome_weight = float(config["outcome_weight"])
        with np.load(folder / "shape.npz") as w:
            self.coef, self.intercept = w["coef"], w["intercept"]
            self.mean, self.scale = w["mean"], w["scale"]

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        z = ((features - self.mean) / self.scale) @ self.coef.T + self.intercept
        z = np.exp(z - z.max())
        return z / z.sum()

    def shape(self, features: np.ndarray, words: np.ndarray | None = None) -> str:
        """The most probable shape; ``words`` (the lexical head's probabilities over ``self.classes``)
        are averaged in when given."""
        p = self.probabilities(features)
        if words is not None:
            p = (p + words) / 2
        return self.classes[int(np.argmax(p))]


def words_reading(head: LexicalHead, call: CallAnalysis, classes: list[str]) -> np.ndarray:
    """The lexical head's probabilities for the call, in the order of ``classes``."""
    if sorted(head.classes) != sorted(classes):
        raise ValueError(f"lexical shape head: classes {head.classes}, the shape classifier's are {classes}")
    p = head.probabilities([[(t.role.value, t.text) for t in call.turns]])[0]
    return p[[head.classes.index(c) for c in classes]]


@lru_cache(maxsize=2)
def load_shape_classifier(folder: str) -> ShapeClassifier | None:
    """The classifier fitted with a context head, or None when its folder has none."""
    path = Path(folder)
    return ShapeClassifier(path) if (path / "shape.npz").is_file() else None


def _context_folder(name: str) -> Path | None:
    from wocas.models.registry import resolve

    return resolve(name).path if name else None


def _words_folder(section) -> Path | None:
    return _context_folder((section or EmotionConfig()).shape_words)


class TrajectoryStage(Stage):
    name = "trajectory"
    requires = frozenset({"turns", "roles", "emotion"})
    provides = frozenset({"trajectories"})

    def __init__(self, options: EmotionConfig):
        self.options = options
        self._fitted: tuple[ShapeClassifier | None] | None = None  # looked up once, on first use
        self._words: tuple[LexicalHead | None] | None = None

    @classmethod
    def results_settings(cls, section) -> dict:
        """Only the shape thresholds of the ``[emotion]`` section it shares with the emotion stage."""
        return {"shape_turnaround": section.shape_turnaround, "shape_volatility": section.shape_volatility,
                "context_model": section.context_model, "shape_words": section.shape_words} if section is not None else {}

    def version(self) -> str:
        return self.version_for(self.options)

    @classmethod
    def identity(cls, section, encoder) -> str:
        folder = _context_folder((section or EmotionConfig()).context_model)
        shape = file_digest(folder / "shape.npz") if folder is not None else "rules"
        words = _words_folder(section)
        words = f"+words:{file_digest(words / 'head.npz')}" if words is not None and folder is not None else ""
        return f"trajectory-4:{OUTCOME_WEIGHT}:{FULL_TURN_WORDS}:{shape}{words}"

    def shape_classifier(self) -> ShapeClassifier | None:
        if self._fitted is None:
            folder = _context_folder(self.options.context_model)
            self._fitted = (load_shape_classifier(str(folder)) if folder is not None else None,)
        return self._fitted[0]

    def words_head(self) -> LexicalHead | None:
        """The lexical shape head, read only with a fitted shape classifier (it refines its reading)."""
        if self._words is None:
            folder = _words_folder(self.options)
            self._words = (load_lexical_head(str(folder)) if folder is not None else None,)
        return self._words[0]

    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        trajectories = {}
        state = None
        for role in SIDES:
            turns = [t for t in call.turns if t.role == role]
            outcome = resolution_at = None
            if role == "customer":
                if sum(t.emotion is not None for t in turns) < MIN_CUSTOMER_TURNS:
                    state = "not_enough_customer_speech"
                    continue
                outcome = outcome_trust(call)
                resolution_at = _resolution_time(call)
            read_in_context = role == "customer" and any(
                t.emotion is not None and "context" in t.emotion.sources for t in turns)
            fitted = self.shape_classifier() if read_in_context else None
            tr = trajectory(turns, role, self.options.shape_turnaround, self.options.shape_volatility,
                            outcome=outcome, resolution_at=resolution_at,
                            outcome_weight=fitted.outcome_weight if fitted is not None else OUTCOME_WEIGHT)
            if tr is not None and fitted is not None:
                head = self.words_head()
                words = words_reading(head, call, fitted.classes) if head is not None else None
                tr = tr.model_copy(update={"shape": Shape(fitted.shape(shape_features(tr, outcome, call), words))})
            if tr is not None:
                trajectories[role] = tr
        return call.replace(trajectories={**call.trajectories, **trajectories}, trajectory_state=state)


def _resolution_time(call: CallAnalysis) -> float | None:
    """When the resolution's evidence turn started (the trust picture marks it)."""
    if call.resolution is None or call.resolution.turn_index is None:
        return None
    turn = next((t for t in call.turns if t.index == call.resolution.turn_index), None)
    return round(turn.start, 3) if turn is not None else None
