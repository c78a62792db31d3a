"""Stage: the shape of the call, per side: how trust moved from the first turn to the last.

Opening and closing are confidence-weighted means of a side's first and last turns (a
third of them rounded up, at most three), so one flat "Sure." does not decide them.
The lowest point is the side's lowest-scored turn, and when it started.
Shape, in order of precedence:
  recovered       closing - opening >= T and the side was negative at some point
  deteriorated    opening - closing >= T and it ends negative
  volatile        mean |step| between turns >= V, with both clearly positive and negative turns
  steady-positive / steady-negative   by the sign of the confidence-weighted mean
"""

from __future__ import annotations

import numpy as np

from wocas.config import EmotionConfig
from wocas.schema import CallAnalysis, Trajectory, Turn
from wocas.stages.base import Stage

SIDES = ("customer", "agent")
CLEAR = 0.25  # |trust| beyond which a turn clearly leans one way


def _ends(n: int) -> int:
    return max(1, min(3, -(-n // 3)))  # ceil(n / 3), 1..3


def trajectory(turns: list[Turn], role: str, turnaround_threshold: float = 0.3,
               volatility_threshold: float = 0.5) -> Trajectory | None:
    """One side's trajectory from its turns (which must carry emotion); None if it has none."""
    scored = [t for t in turns if t.emotion is not None]
    if not scored:
        return None
    trust = np.array([t.emotion.trust for t in scored])
    weight = np.array([max(t.emotion.confidence, 0.05) for t in scored])
    k = _ends(len(scored))
    opening = float(np.average(trust[:k], weights=weight[:k]))
    closing = float(np.average(trust[-k:], weights=weight[-k:]))
    low = int(np.argmin(trust))
    turnaround = closing - opening
    steps = np.abs(np.diff(trust)).mean() if len(trust) > 1 else 0.0
    if turnaround >= turnaround_threshold and float(trust.min()) < 0:
        shape = "recovered"
    elif turnaround <= -turnaround_threshold and closing < 0:
        shape = "deteriorated"
    elif steps >= volatility_threshold and trust.max() > CLEAR and trust.min() < -CLEAR:
        shape = "volatile"
    elif np.average(trust, weights=weight) >= 0:
        shape = "steady-positive"
    else:
        shape = "steady-negative"
    return Trajectory(
        role=role, opening=round(opening, 4), closing=round(closing, 4), turnaround=round(turnaround, 4),
        lowest=round(float(trust[low]), 4), lowest_at=round(scored[low].start, 3), shape=shape,
        points=tuple((round((t.start + t.end) / 2, 3), round(t.emotion.trust, 4)) for t in scored),
    )


class TrajectoryStage(Stage):
    name = "trajectory"
    requires = frozenset({"turns", "roles", "emotion"})
    provides = frozenset({"trajectories"})

    def __init__(self, options: EmotionConfig):
        self.options = options

    @classmethod
    def results_settings(cls, section) -> dict:
        """Only the shape thresholds of the ``[emotion]`` section it shares with the emotion stage."""
        return {"shape_turnaround": section.shape_turnaround, "shape_volatility": section.shape_volatility} \
            if section is not None else {}

    def version(self) -> str:
        return self.version_for(self.options)

    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        trajectories = {}
        for role in SIDES:
            tr = trajectory([t for t in call.turns if t.role == role], role,
                            self.options.shape_turnaround, self.options.shape_volatility)
            if tr is not None:
                trajectories[role] = tr
        return call.replace(trajectories={**call.trajectories, **trajectories})
