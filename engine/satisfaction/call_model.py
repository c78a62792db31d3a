"""The fitted call model: predicted satisfaction from everything the pipeline found in a call.

The text model (``model.py``) reads the customer's words. This model puts its score beside the
call's trust trajectory (opening, closing, lowest, turnaround, shape), its resolution (state times
confidence), the defection signals (strongest strength per kind) and the customer's effort
(repeat contact, transfers, holds, handle time and silence when the call's times are measured),
and weighs them with a ridge regression fitted on STC-3's human ratings
(``scripts/fit_satisfaction.py``). Weights the ratings cannot teach (STC-3 has no times, holds or
transfers, and lacks some signals) stay at a documented prior until a centre's own surveys refit
them (``wocas calibrate --surveys``, :func:`refit`), which shrinks towards the shipped weights.

Each feature is stored with a call's prediction (``Satisfaction.features``), so a refit can
rescore stored calls without running the pipeline again. A feature that is missing (no trajectory,
times estimated) contributes nothing: it sits at the training mean.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from wocas.kinds import Resolution, Shape, SignalKind

if TYPE_CHECKING:
    from wocas.schema import CallAnalysis

CALL_MODEL_FILE = Path(__file__).resolve().parents[2] / "models" / "satisfaction" / "call_model.json"

TRUST = ("trust_opening", "trust_closing", "trust_lowest", "turnaround")
EFFORT = ("repeat_contact", "transfers", "holds", "handle_excess", "silence_excess")
CALL_FEATURES: tuple[str, ...] = (
    "text_s", *TRUST, "no_trajectory",
    *(f"shape:{s.value}" for s in Shape),
    *(f"resolution:{r.value}" for r in Resolution),
    *(f"signal:{k.value}" for k in SignalKind),
    *EFFORT,
)
# Features that can be unknown (then they contribute nothing); the others are 0 when absent.
MISSABLE = frozenset({"text_s", *TRUST, *EFFORT})

# Priors (S units per unit of the feature) for what STC-3 cannot teach: the hand-set
# adjustments this model replaces. A feature with variance in the training data is fitted instead.
PRIORS: dict[str, float] = {
    "signal:cancel_intent": -0.6, "signal:threat_to_leave": -0.6, "signal:legal_threat": -0.7,
    "signal:unresolved_end": -0.6, "signal:complaint": -0.4, "signal:escalation_request": -0.4,
    "signal:competitor": -0.3, "signal:repeat_contact": -0.3, "signal:sale_on_low_trust": -0.3,
    "resolution:partly_resolved": -0.3, "resolution:unresolved": -0.6, "resolution:transferred": -0.3,
    "resolution:callback_promised": -0.2, "resolution:customer_gave_up": -0.8,
    "repeat_contact": -0.3, "transfers": -0.2, "holds": -0.1, "handle_excess": -0.1, "silence_excess": -1.0,
}
HANDLE_FREE_MIN = 10.0  # handle_excess: 5-minute units beyond this, at most 4
SILENCE_FREE = 0.30  # silence_excess: share of the call beyond this, at most 0.3

PHRASES: dict[str, tuple[str, str]] = {  # (pushes up, pushes down)
    "trust_opening": ("customer opened calm", "customer opened upset"),
    "trust_closing": ("customer ended trusting", "customer ended without trust"),
    "trust_lowest": ("customer never hit a low", "customer hit a low point"),
    "turnaround": ("customer's trust rose during the call", "customer's trust fell during the call"),
    "no_trajectory": ("too little customer speech to read a trajectory",) * 2,
    "repeat_contact": ("not a repeat contact", "a repeat contact about the same problem"),
    "transfers": ("no transfer", "customer was transferred"),
    "holds": ("no hold", "customer was put on hold"),
    "handle_excess": ("short call", "long call"),
    "silence_excess": ("few silences", "long silences"),
}
RESOLUTION_PHRASES = {"resolved": "problem resolved", "partly_resolved": "problem only partly resolved",
                      "unresolved": "problem not resolved", "transferred": "customer was passed to another team",
                      "callback_promised": "customer left waiting for a callback",
                      "customer_gave_up": "customer gave up"}
SIGNAL_PHRASES = {
    "cancel_intent": "customer asked to cancel", "threat_to_leave": "customer threatened to leave",
    "legal_threat": "customer threatened legal action", "unresolved_end": "problem left unresolved",
    "complaint": "customer complained", "escalation_request": "customer asked for a manager",
    "competitor": "customer mentioned a competitor", "repeat_contact": "customer had called before about this",
    "sale_on_low_trust": "agent tried to sell to a frustrated customer",
}


BANDS = ("low", "mid", "high")
# The survey's own bands on its 1-5 scale (1-2 low, 3 mid, 4-5 high): the cut-points a model
# without a fitted band model uses, and the ones a refit on a centre's surveys goes back to.
SURVEY_CUTS = (2.5, 3.5)
BAND_FEATURES = ("score", "trust_closing", *(f"resolution:{r.value}" for r in Resolution),
                 "signal:cancel_intent", "signal:threat_to_leave")


WORDS = "words:"  # features ``words:<band>``: the lexical band head's probabilities (stages/satisfaction.py)


def band_row(score: float, features: dict[str, float]) -> np.ndarray:
    """The band model's inputs: the closing trust is unknown (NaN) without a trajectory; an absent
    resolution or signal is 0."""
    return np.array([score if name == "score" else features.get(name, math.nan if name == "trust_closing" else 0.0)
                     for name in BAND_FEATURES], dtype=float)


def band_of(score: float, features: dict[str, float], band: dict[str, Any] | None) -> str:
    """The survey band (low, mid, high) a predicted score stands for, by the model's band model:
    ``{"kind": "cuts", "cuts": [a, b]}`` (score < a low, score <= b mid, else high) or
    ``{"kind": "logistic", ...}`` (a multinomial logistic regression over ``BAND_FEATURES``). When the
    features hold the lexical band head's probabilities (``words:low`` ...), the logistic's
    probabilities are averaged with them."""
    if band is None or band.get("kind") == "cuts":
        low, high = band["cuts"] if band is not None else SURVEY_CUTS
        return "low" if score < low else "mid" if score <= high else "high"
    if band.get("kind") != "logistic" or tuple(band.get("features", ())) != BAND_FEATURES:
        raise CallModelError("satisfaction band model does not match this engine; refit it with scripts/fit_bands.py")
    row = band_row(score, features)
    z = np.nan_to_num((row - np.asarray(band["mean"])) / np.asarray(band["scale"]), nan=0.0)
    logits = np.asarray(band["coef"]) @ z + np.asarray(band["intercept"])
    p = np.exp(logits - logits.max())
    p /= p.sum()
    words = [features.get(f"{WORDS}{c}") for c in band["classes"]]
    if all(w is not None for w in words):  # the lexical band head's reading, stored with the call
        p = (p + np.asarray(words, dtype=float)) / 2
    return str(band["classes"][int(np.argmax(p))])


class CallModelError(ValueError):
    pass


def _int_or_none(value: Any) -> int | None:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "y"}
    return bool(value)


def call_features(call: CallAnalysis, text_s: float | None) -> dict[str, float]:
    """The call's features by name; a missable feature that is unknown is left out."""
    f: dict[str, float] = {}
    if text_s is not None:
        f["text_s"] = float(text_s)
    trajectory = call.trajectories.get("customer")
    if trajectory is not None:
        f.update(trust_opening=trajectory.opening, trust_closing=trajectory.closing,
                 trust_lowest=trajectory.lowest, turnaround=trajectory.closing - trajectory.opening)
        f[f"shape:{trajectory.shape}"] = 1.0
    else:
        f["no_trajectory"] = 1.0
    if call.resolution is not None:
        f[f"resolution:{call.resolution.state}"] = float(call.resolution.confidence)
    for s in call.signals:
        key = f"signal:{SignalKind.parse(s.kind).value}"
        f[key] = max(f.get(key, 0.0), max(0.0, min(1.0, float(s.strength))))
    meta = call.call.metadata
    prior = _int_or_none(meta.get("prior_contacts"))
    f["repeat_contact"] = float(_truthy(meta.get("repeat_contact")) or bool(prior))
    transfers = _int_or_none(meta.get("transfers"))
    if transfers is None:
        transfers = max(0, len({t.speaker for t in call.turns if t.role == "agent"}) - 1)
    f["transfers"] = float(min(3, transfers))
    holds = _int_or_none(meta.get("holds"))
    if holds is not None:
        f["holds"] = float(min(3, holds))
    m = call.metrics
    if m is not None and m.handle_time is not None:  # null when the times are estimated
        f["handle_excess"] = min(4.0, max(0.0, (m.handle_time / 60 - HANDLE_FREE_MIN) / 5))
    if m is not None and m.silence_share is not None:
        f["silence_excess"] = min(0.3, max(0.0, m.silence_share - SILENCE_FREE))
    return f


def design(rows: list[dict[str, float]]) -> np.ndarray:
    """Raw feature matrix (n, k), NaN where a missable feature is unknown."""
    return np.array([[row.get(name, math.nan if name in MISSABLE else 0.0) for name in CALL_FEATURES]
                     for row in rows], dtype=float).reshape(len(rows), len(CALL_FEATURES))


def _sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))


@dataclass(frozen=True)
class CallPrediction:
    s: float
    score: float
    p_satisfied: float
    contributions: dict[str, float]


class CallModel:
    """s = bias + sum_i weight_i * (x_i - mean_i) / scale_i, a missing x_i counting as its mean."""

    def __init__(self, params: dict[str, Any]):
        if params.get("features") != list(CALL_FEATURES):
            raise CallModelError("satisfaction call model does not match this engine's features; "
                                 "refit it with scripts/fit_satisfaction.py")
        self.params = params
        self.version = str(params["version"])
        self.mean = np.asarray(params["mean"], dtype=float)
        self.scale = np.asarray(params["scale"], dtype=float)
        self.weight = np.asarray(params["weight"], dtype=float)
        self.bias = float(params["bias"])
        self.platt = (float(params["platt"][0]), float(params["platt"][1]))

    @classmethod
    def load(cls, path: str | Path = CALL_MODEL_FILE) -> "CallModel":
        path = Path(path)
        if path.is_dir():
            path = path / "call_model.json"
        if not path.exists():
            raise FileNotFoundError(f"satisfaction call model {path} does not exist; "
                                    "fit it with scripts/fit_satisfaction.py")
        return cls(json.loads(path.read_text()))

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.params, indent=1))
        return path

    def z(self, x: np.ndarray) -> np.ndarray:
        return np.nan_to_num((x - self.mean) / self.scale, nan=0.0)

    def s(self, x: np.ndarray) -> np.ndarray:
        """S (-2..+2 scale) for a raw design (n, k)."""
        return self.bias + self.z(x) @ self.weight

    def p_satisfied(self, s: np.ndarray | float) -> np.ndarray:
        a, b = self.platt
        return _sigmoid(a * np.asarray(s) + b)

    def band(self, score: float, features: dict[str, float]) -> str:
        """The survey band of a predicted score (``band_of`` with this model's band model)."""
        return band_of(score, features, self.params.get("band"))

    def predict(self, features: dict[str, float]) -> CallPrediction:
        x = design([features])
        parts = self.z(x)[0] * self.weight
        s = float(self.bias + parts.sum())
        return CallPrediction(s=s, score=float(min(5.0, max(1.0, 3.0 + s))),
                              p_satisfied=float(self.p_satisfied(s)),
                              contributions={n: float(v) for n, v in zip(CALL_FEATURES, parts) if abs(v) > 1e-9})


def score_of(s: np.ndarray) -> np.ndarray:
    """CSAT-like 1..5 from S (S's five points map onto CSAT's five)."""
    return np.clip(3.0 + np.asarray(s, dtype=float), 1.0, 5.0)


def describe(name: str, delta: float, features: dict[str, float], call: CallAnalysis | None,
             quote: str = "") -> str:
    """How a feature's push is said in a driver line."""
    if name == "text_s":
        return "what the customer said" + (f': "{quote}"' if quote else "")
    kind, _, value = name.partition(":")
    if kind == "shape":
        return f"customer's trust {value}"
    if kind == "resolution":
        return RESOLUTION_PHRASES.get(value, value)
    if kind == "signal":
        said = ""
        if call is not None:
            quotes = [s.quote for s in call.signals if SignalKind.parse(s.kind).value == value and s.quote]
            said = f': "{quotes[0][:80]}"' if quotes else ""
        return SIGNAL_PHRASES.get(value, value) + said
    up, down = PHRASES.get(name, (name, name))
    text = up if delta >= 0 else down
    if name in TRUST and name in features:
        text += f" (trust {features[name]:+.2f})"
    return text


def drivers(contributions: dict[str, float], features: dict[str, float], call: CallAnalysis | None,
            quote: str = "", n: int = 3) -> tuple[str, ...]:
    top = sorted(contributions.items(), key=lambda kv: -abs(kv[1]))[:n]
    return tuple(f"{'+' if d >= 0 else '-'} {describe(name, d, features, call, quote)}" for name, d in top)


# ---- fitting ----------------------------------------------------------------------------------
ALPHAS = np.logspace(-2, 2, 9)
CONTINUOUS = frozenset({"text_s", *TRUST})  # standardised; indicators and strengths keep their units
# The direction each weight may take: the text score and trust push up; bad shapes, unhappy
# outcomes, defection signals and effort push down. The data only sets the size.
SIGNS: dict[str, float] = {
    **{n: 1.0 for n in ("text_s", *TRUST, "shape:recovered", "shape:steady-positive", "resolution:resolved")},
    **{n: -1.0 for n in ("no_trajectory", "shape:deteriorated", "shape:steady-negative", "shape:volatile")},
    **{n: -1.0 for n in PRIORS},
}


def _signed_ridge(z: np.ndarray, y: np.ndarray, sign: np.ndarray, alphas: np.ndarray):
    """Ridge with each weight kept on its sign's side, alpha by 5-fold cross-validation."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import cross_val_score

    def model(alpha: float) -> Ridge:
        return Ridge(alpha=alpha, positive=True)

    folds = min(5, len(y))
    scores = [cross_val_score(model(a), z * sign, y, cv=folds, scoring="neg_mean_squared_error").mean()
              for a in alphas]
    alpha = float(alphas[int(np.argmax(scores))])
    ridge = model(alpha).fit(z * sign, y)
    return ridge.coef_ * sign, float(ridge.intercept_), alpha


def fit(x: np.ndarray, y: np.ndarray, share_positive: np.ndarray | None = None,
        alphas: np.ndarray = ALPHAS) -> tuple[dict[str, Any], float]:
    """A sign-constrained ridge over the features with variance in ``x``; the others keep their
    prior (mean 0, scale 1). Returns the params (no version or training notes) and the alpha."""
    k = len(CALL_FEATURES)
    mean, scale, weight = np.zeros(k), np.ones(k), np.array([PRIORS.get(n, 0.0) for n in CALL_FEATURES])
    varied = np.array([bool(np.isfinite(x[:, j]).any()) and np.nanstd(x[:, j]) > 1e-9 for j in range(k)])
    for j, name in enumerate(CALL_FEATURES):  # indicators and strengths stay uncentred: absent adds nothing
        if varied[j] and name in CONTINUOUS:
            mean[j], scale[j] = np.nanmean(x[:, j]), np.nanstd(x[:, j])
    z = np.nan_to_num((x - mean) / scale, nan=0.0)
    sign = np.array([SIGNS.get(n, 1.0) for n in CALL_FEATURES])
    coef, intercept, alpha = _signed_ridge(z[:, varied], y, sign[varied], alphas)
    weight[varied] = coef
    params = {"version": "unfitted", "features": list(CALL_FEATURES), "mean": mean.tolist(), "scale": scale.tolist(),
              "weight": weight.tolist(), "fitted": [bool(v) for v in varied],
              "bias": intercept, "platt": [2.0, 0.0]}
    if share_positive is not None:
        params["platt"] = list(fit_platt(CallModel(params).s(x), share_positive))
    return params, alpha


def fit_platt(s: np.ndarray, share_positive: np.ndarray, c: float = 1e4) -> tuple[float, float]:
    """p = sigmoid(a*s + b) fitted to soft labels (the share of raters who were satisfied):
    each row counts as satisfied with weight share and as not with weight 1 - share."""
    from sklearn.linear_model import LogisticRegression

    s = np.asarray(s, dtype=float).reshape(-1, 1)
    share = np.asarray(share_positive, dtype=float)
    xs, ys, ws = np.vstack([s, s]), np.r_[np.ones(len(s)), np.zeros(len(s))], np.r_[share, 1 - share]
    if ws[ys == 1].sum() <= 0 or ws[ys == 0].sum() <= 0:
        return 2.0, 0.0
    lr = LogisticRegression(C=c).fit(xs, ys, sample_weight=ws)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def refit(base: CallModel, x: np.ndarray, y_s: np.ndarray, alphas: np.ndarray = np.logspace(-1, 3, 9)
          ) -> tuple[dict[str, Any], float]:
    """The base model refitted on a centre's surveys (``y_s`` on the S scale): a ridge on the
    residual, so the weights shrink towards the base weights and a feature the surveyed calls
    do not vary keeps its base weight. Returns the new params and the chosen alpha."""
    from sklearn.linear_model import RidgeCV

    z = base.z(x)
    ridge = RidgeCV(alphas=alphas).fit(z, y_s - base.s(x))
    params = dict(base.params)
    params["weight"] = (base.weight + ridge.coef_).tolist()
    params["bias"] = float(base.bias + ridge.intercept_)
    satisfied = (y_s > 0.5).astype(float)  # 4-5 on a 1-5 survey
    if 0 < satisfied.sum() < len(satisfied):
        params["platt"] = list(fit_platt(CallModel(params).s(x), satisfied, c=1.0))
    # the refitted score stands for the centre's own 1-5 answer, so its bands are the survey's:
    # the band model fitted on the team's calls (for the shipped score) is replaced by the survey cuts
    params["band"] = {"kind": "cuts", "cuts": list(SURVEY_CUTS), "fitted_on": "refit: the survey's own bands"}
    return params, float(ridge.alpha_)


def load_call_model(path: str = str(CALL_MODEL_FILE)) -> CallModel:
    """Cached per file version: a refit rewrites its file in place."""
    p = Path(path)
    file = p / "call_model.json" if p.is_dir() else p
    stat = file.stat() if file.exists() else None
    return _load_cached(str(p), stat.st_mtime_ns if stat else 0, stat.st_size if stat else 0)


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int, size: int) -> CallModel:
    return CallModel.load(path)
