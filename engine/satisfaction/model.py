"""Predicted satisfaction: the features of a conversation and the model that scores them.

Two parts, kept apart on purpose:

* a **text model** fitted on STC-3 (customer-helpdesk dialogues, 19 annotators rate customer
  satisfaction S on -2..+2): ridge regression over MiniLM embeddings of the customer's turns,
  a handful of named features (customer trust at the opening, the close, the lowest point;
  agent apologies and promises; how the dialogue ended) and, when its file holds them, the
  dialogue's words (tf-idf of every turn's words and word pairs, marked by side and third of the
  dialogue: engine/text/lexical.py). Its output is on the S scale.
* **call facts** the text data cannot teach (defection signals, unresolved, transfers, long
  silences, handle time, repeat contact): fixed, documented adjustments on the same scale,
  set by hand (see ``models/satisfaction/README.md``), which ``wocas calibrate`` can check
  against a business's real surveys.

The CSAT-like score is ``3 + S`` clipped to 1..5 (S's five points map onto CSAT's five), and
the probability of "satisfied" is a logistic curve fitted to the share of annotators who
rated the dialogue positively. Every prediction carries the three facts that moved it most.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from wocas.kinds import SignalKind
from wocas.text.lexical import Vocabulary, thirds_terms

if TYPE_CHECKING:
    from wocas.models.text_encoder import TextEncoder

MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "satisfaction"
MODEL_FILE = MODEL_DIR / "model.json"

# Named (non-embedding) features, in the order they are stored.
LEXICAL_FEATURES = (
    "trust_opening", "trust_closing", "trust_lowest", "trust_mean", "turnaround",
    "customer_turns", "customer_words", "exclaim_rate", "question_last", "thanks_last",
    "agent_apology", "agent_promise", "customer_has_last_word", "angry_words",
)

# How each named feature is said when it is a driver: (when above average, when below).
FEATURE_PHRASES = {
    "trust_opening": ("customer opened calm", "customer opened upset"),
    "trust_closing": ("customer ended positive", "customer ended negative"),
    "trust_lowest": ("customer never hit a low", "customer hit a low point"),
    "trust_mean": ("customer's tone positive overall", "customer's tone negative overall"),
    "turnaround": ("customer's mood improved during the call", "customer's mood worsened during the call"),
    "customer_turns": ("many back-and-forths", "few back-and-forths"),
    "customer_words": ("customer had a lot to explain", "customer needed few words"),
    "exclaim_rate": ("customer used many exclamations", "customer used few exclamations"),
    "question_last": ("customer still asking at the end", "customer's questions answered by the end"),
    "thanks_last": ("customer thanked the agent at the end", "customer did not thank the agent at the end"),
    "agent_apology": ("agent apologised repeatedly", "agent did not need to apologise"),
    "agent_promise": ("agent promised a fix, refund or callback", "agent promised no fix or refund"),
    "customer_has_last_word": ("customer had the last word", "agent closed the conversation"),
    "angry_words": ("customer used angry or abusive words", "customer used no angry words"),
}

# Hand-set adjustments (S units, -2..+2 scale) for facts the STC-3 text cannot teach.
SIGNAL_WEIGHTS: dict[SignalKind, float] = {
    SignalKind.CANCEL_INTENT: -0.6, SignalKind.THREAT_TO_LEAVE: -0.6, SignalKind.LEGAL_THREAT: -0.7,
    SignalKind.UNRESOLVED_END: -0.6, SignalKind.COMPLAINT: -0.4, SignalKind.ESCALATION_REQUEST: -0.4,
    SignalKind.COMPETITOR: -0.3, SignalKind.REPEAT_CONTACT: -0.3, SignalKind.SALE_ON_LOW_TRUST: -0.3,
}
SIGNAL_PHRASES: dict[SignalKind, str] = {
    SignalKind.CANCEL_INTENT: "customer asked to cancel", SignalKind.THREAT_TO_LEAVE: "customer threatened to leave",
    SignalKind.LEGAL_THREAT: "customer threatened legal action", SignalKind.UNRESOLVED_END: "problem left unresolved",
    SignalKind.COMPLAINT: "customer complained", SignalKind.ESCALATION_REQUEST: "customer asked for a manager",
    SignalKind.COMPETITOR: "customer mentioned a competitor",
    SignalKind.REPEAT_CONTACT: "customer had called before about this",
    SignalKind.SALE_ON_LOW_TRUST: "agent tried to sell to a frustrated customer",
}
MAX_SIGNAL_PENALTY = -1.5
# Grievances voiced during a call that the customer ended trusting (closing trust at least
# this) were heard and answered: they weigh half.
SETTLED_CLOSING = 0.2
SETTLED_KINDS = frozenset({SignalKind.COMPLAINT, SignalKind.ESCALATION_REQUEST, SignalKind.REPEAT_CONTACT})
TRANSFER_WEIGHT, MAX_TRANSFER_PENALTY = -0.2, -0.6
SILENCE_FREE, SILENCE_WEIGHT, MAX_SILENCE_PENALTY = 0.30, -1.0, -0.3
HANDLE_FREE_S, HANDLE_WEIGHT_PER_5MIN, MAX_HANDLE_PENALTY = 600.0, -0.1, -0.4
REPEAT_METADATA_PENALTY = -0.3
# The call's resolution (S units, times its confidence): an outcome the text alone can read as polite.
RESOLUTION_WEIGHTS = {"resolved": 0.0, "partly_resolved": -0.3, "unresolved": -0.6, "transferred": -0.3,
                      "callback_promised": -0.2, "customer_gave_up": -0.8}
RESOLUTION_PHRASES = {"partly_resolved": "problem only partly resolved", "unresolved": "problem not resolved",
                      "transferred": "customer was passed to another team",
                      "callback_promised": "customer left waiting for a callback",
                      "customer_gave_up": "customer gave up"}

_THANKS = re.compile(r"\b(thanks?|thank you|thx|appreciate|great|perfect|solved|works now)\b", re.I)
_APOLOGY = re.compile(r"\b(sorry|apologi[sz]e|apologies|inconvenience)\b", re.I)
_PROMISE = re.compile(r"\b(refund|compensat\w*|credit|replace\w*|reimburs\w*|call you back|callback|"
                      r"fix(ed)?|resolved?|sort(ed)? (it|this) out|waive\w*)\b", re.I)
_ANGRY = re.compile(r"\b(shit|damn|fuck\w*|hell|rubbish|useless|ridiculous|disgust\w*|terrible|worst|"
                    r"cheat\w*|liars?|scam|angry|furious|never again|unacceptable|awful)\b", re.I)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Dialogue:
    """The conversation as the model sees it: (role, text) in order, roles agent/customer."""

    turns: tuple[tuple[str, str], ...]
    dialogue_id: str = ""

    @property
    def customer(self) -> list[str]:
        return [text for role, text in self.turns if role == "customer" and text.strip()]

    @property
    def agent(self) -> list[str]:
        return [text for role, text in self.turns if role == "agent" and text.strip()]


@dataclass(frozen=True)
class CallFacts:
    """What the pipeline knows about a call beyond its text; every field may be missing."""

    trajectory: dict[str, float] | None = None  # opening, closing, lowest, turnaround, mean
    signals: dict[SignalKind, tuple[float, str]] = field(default_factory=dict)  # kind -> (strength, quote)
    signals_checked: bool = False  # a signals stage ran (so no signals means none were found)
    transfers: int | None = None
    silence_share: float | None = None
    handle_time: float | None = None
    repeat_contact: bool | None = None
    resolution: tuple[str, float] | None = None  # (state, confidence)


@dataclass(frozen=True)
class Prediction:
    s: float  # on STC-3's -2..+2 scale, after adjustments
    score: float  # CSAT-like 1..5
    p_satisfied: float
    confidence: float
    drivers: tuple[str, ...]


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def tone(text: str) -> float:
    """VADER compound in [-1, 1]: the text-only stand-in for trust when no emotion stage ran."""
    from wocas.emotion.text import vader_scores  # capped: VADER is quadratic in a turn's words

    return float(vader_scores(text, _vader())["compound"])


def lexical_features(dialogue: Dialogue) -> dict[str, float]:
    customer, agent = dialogue.customer, dialogue.agent
    tones = [tone(t) for t in customer] or [0.0]
    last = customer[-1] if customer else ""
    words = sum(len(_WORD.findall(t)) for t in customer)
    last_role = next((role for role, text in reversed(dialogue.turns) if text.strip()), "")
    return {
        "trust_opening": tones[0],
        "trust_closing": tones[-1],
        "trust_lowest": min(tones),
        "trust_mean": float(np.mean(tones)),
        "turnaround": tones[-1] - tones[0],
        "customer_turns": math.log1p(len(customer)),
        "customer_words": math.log1p(words),
        "exclaim_rate": min(3.0, sum(t.count("!") for t in customer) / max(1, len(customer))),
        "question_last": float("?" in last),
        "thanks_last": float(bool(_THANKS.search(last))),
        "agent_apology": math.log1p(sum(len(_APOLOGY.findall(t)) for t in agent)),
        "agent_promise": float(any(_PROMISE.search(t) for t in agent)),
        "customer_has_last_word": float(last_role == "customer"),
        "angry_words": math.log1p(sum(len(_ANGRY.findall(t)) for t in customer)),
    }


def with_trajectory(lex: dict[str, float], trajectory: dict[str, float] | None) -> dict[str, float]:
    """The emotion stage's customer trajectory, when there is one, stands in for the text tone."""
    if not trajectory:
        return lex
    out = dict(lex)
    for key in ("opening", "closing", "lowest", "mean"):
        if trajectory.get(key) is not None:
            out[f"trust_{key}"] = float(trajectory[key])
    out["turnaround"] = out["trust_closing"] - out["trust_opening"]
    return out


def embed_dialogues(dialogues: Sequence[Dialogue], encoder: TextEncoder) -> tuple[np.ndarray, np.ndarray]:
    """Mean and last customer-turn embeddings, each shape (n, dim)."""
    texts: list[str] = []
    spans: list[tuple[int, int]] = []
    for d in dialogues:
        customer = d.customer or [""]
        spans.append((len(texts), len(texts) + len(customer)))
        texts.extend(customer)
    # shape (n_turns, dim); the shared cache: the context stage has already encoded these turns, and a
    # text's vector is the same cached or not (the int8 encoder runs one sentence at a time)
    vectors = encoder.encode(texts)
    means = np.stack([vectors[a:b].mean(axis=0) for a, b in spans])
    means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-9)
    lasts = np.stack([vectors[b - 1] for _, b in spans])
    return means.astype(np.float32), lasts.astype(np.float32)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, x))))


class SatisfactionModel:
    """The fitted text model plus the hand-set call-fact adjustments."""

    def __init__(self, params: dict[str, Any]):
        if params.get("feature_names") != list(LEXICAL_FEATURES):
            raise ValueError("satisfaction model file does not match this engine's features "
                             f"(expected {list(LEXICAL_FEATURES)}); retrain with scripts/train_satisfaction.py")
        self.params = params
        self.version = str(params["version"])
        self.encoder = str(params.get("encoder", "minilm"))
        self.lex_mean = np.asarray(params["lex_mean"], dtype=np.float64)
        self.lex_scale = np.asarray(params["lex_scale"], dtype=np.float64)
        self.w_lex = np.asarray(params["w_lex"], dtype=np.float64)
        self.w_emb_mean = np.asarray(params["w_emb_mean"], dtype=np.float64)
        self.w_emb_last = np.asarray(params["w_emb_last"], dtype=np.float64)
        self.center_emb_mean = np.asarray(params["center_emb_mean"], dtype=np.float64)
        self.center_emb_last = np.asarray(params["center_emb_last"], dtype=np.float64)
        self.bias = float(params["bias"])
        self.platt = (float(params["platt"][0]), float(params["platt"][1]))
        # optional: the dialogue's words (tf-idf, engine/text/lexical.py layout "thirds") and their weights
        words = params.get("words")
        self.words_vocabulary = Vocabulary(words["terms"], np.asarray(words["idf"])) if words else None
        self.w_words = np.asarray(words["coef"], dtype=np.float32) if words else None
        self.center_words = float(words["center"]) if words else 0.0

    @classmethod
    def load(cls, path: str | Path = MODEL_FILE) -> "SatisfactionModel":
        path = Path(path)
        if path.is_dir():
            path = path / "model.json"
        if not path.exists():
            raise FileNotFoundError(f"satisfaction model {path} does not exist; "
                                    "train it with scripts/train_satisfaction.py")
        return cls(json.loads(path.read_text()))

    # ---- the text part ---------------------------------------------------------------------
    def words_s(self, dialogues: Sequence[Dialogue] | None) -> np.ndarray:
        """Each dialogue's push from its words, away from the training average (a model fitted with words)."""
        if dialogues is None:
            raise ValueError(f"satisfaction model {self.version} also reads the words: pass the dialogues")
        x = self.words_vocabulary.vectors([thirds_terms(d.turns) for d in dialogues])
        return x @ self.w_words - self.center_words

    def text_contributions(self, lex: dict[str, float], emb_mean: np.ndarray, emb_last: np.ndarray,
                           dialogue: Dialogue | None = None) -> tuple[float, dict[str, float]]:
        """S from the text, and each named feature's (and the wording's: vectors and words) push
        away from average."""
        x = np.array([lex[name] for name in LEXICAL_FEATURES])
        z = (x - self.lex_mean) / self.lex_scale
        parts = {name: float(w * v) for name, w, v in zip(LEXICAL_FEATURES, self.w_lex, z)}
        words = 0.0 if self.w_words is None else float(self.words_s(None if dialogue is None else [dialogue])[0])
        parts["wording"] = float(self.w_emb_mean @ (emb_mean - self.center_emb_mean)
                                 + self.w_emb_last @ (emb_last - self.center_emb_last) + words)
        return self.bias + sum(parts.values()), parts

    def text_s(self, lex: np.ndarray, emb_mean: np.ndarray, emb_last: np.ndarray,
               dialogues: Sequence[Dialogue] | None = None) -> np.ndarray:
        """Vectorised S for many dialogues: lex (n, k), embeddings (n, dim); ``dialogues`` for a model
        that also reads the words."""
        z = (lex - self.lex_mean) / self.lex_scale
        s = (self.bias + z @ self.w_lex + (emb_mean - self.center_emb_mean) @ self.w_emb_mean
             + (emb_last - self.center_emb_last) @ self.w_emb_last)
        return s if self.w_words is None else s + self.words_s(dialogues)

    def p_satisfied(self, s: float) -> float:
        a, b = self.platt
        return _sigmoid(a * s + b)

    # ---- the call facts ----------------------------------------------------------------------
    @staticmethod
    def fact_adjustments(facts: CallFacts) -> dict[str, tuple[float, str]]:
        """Each call fact's adjustment in S units and how to say it (strongest signal per kind)."""
        out: dict[str, tuple[float, str]] = {}
        signal_total = 0.0
        for name, (strength, quote) in facts.signals.items():
            kind = SignalKind.parse(name)
            weight = SIGNAL_WEIGHTS.get(kind)
            if weight is None:
                continue
            if kind in SETTLED_KINDS and facts.trajectory and facts.trajectory.get("closing", 0) >= SETTLED_CLOSING:
                weight /= 2
            delta = max(MAX_SIGNAL_PENALTY - signal_total, weight * max(0.0, min(1.0, strength)))
            signal_total += delta
            said = f': "{quote[:80]}"' if quote else ""
            out[f"signal:{kind}"] = (delta, f"{SIGNAL_PHRASES.get(kind, kind)}{said}")
        if facts.transfers:
            out["transfers"] = (max(MAX_TRANSFER_PENALTY, TRANSFER_WEIGHT * facts.transfers),
                                f"transferred {facts.transfers} time(s)")
        if facts.silence_share is not None and facts.silence_share > SILENCE_FREE:
            delta = max(MAX_SILENCE_PENALTY, SILENCE_WEIGHT * (facts.silence_share - SILENCE_FREE))
            out["silence"] = (delta, f"long silences ({facts.silence_share:.0%} of the call)")
        if facts.handle_time is not None and facts.handle_time > HANDLE_FREE_S:
            delta = max(MAX_HANDLE_PENALTY, HANDLE_WEIGHT_PER_5MIN * (facts.handle_time - HANDLE_FREE_S) / 300)
            out["handle_time"] = (delta, f"long call ({facts.handle_time / 60:.0f} min)")
        if facts.resolution is not None:
            state, confidence = facts.resolution
            weight = RESOLUTION_WEIGHTS.get(state, 0.0)
            # the unresolved_end signal says the same thing: count the stronger of the two only
            if weight < 0:
                delta = weight * max(0.5, min(1.0, confidence * 2))
                if "signal:unresolved" in out and state == "unresolved":
                    delta = min(delta, out.pop("signal:unresolved")[0])
                out["resolution"] = (delta, RESOLUTION_PHRASES.get(state, state))
        if facts.repeat_contact and "signal:repeat_contact" not in out:
            out["repeat_contact"] = (REPEAT_METADATA_PENALTY, "a repeat contact about the same problem")
        return out

    # ---- the whole prediction ------------------------------------------------------------------
    def predict(self, dialogue: Dialogue, facts: CallFacts, emb_mean: np.ndarray,
                emb_last: np.ndarray) -> Prediction:
        lex = with_trajectory(lexical_features(dialogue), facts.trajectory)
        text_s, parts = self.text_contributions(lex, emb_mean, emb_last, dialogue)
        adjustments = self.fact_adjustments(facts)
        s = text_s + sum(delta for delta, _ in adjustments.values())
        score = min(5.0, max(1.0, 3.0 + s))
        p = self.p_satisfied(s)
        drivers = self._drivers(parts, lex, adjustments, dialogue, facts)
        return Prediction(s=round(s, 4), score=round(score, 3), p_satisfied=round(p, 4),
                          confidence=round(self._confidence(dialogue, facts, p), 3), drivers=drivers)

    def _drivers(self, parts: dict[str, float], lex: dict[str, float],
                 adjustments: dict[str, tuple[float, str]], dialogue: Dialogue,
                 facts: CallFacts) -> tuple[str, ...]:
        described: list[tuple[float, str]] = []
        for name, delta in parts.items():
            if name == "wording":
                quote = _telling_quote(dialogue.customer, delta)
                text = "what the customer said" + (f': "{quote}"' if quote else "")
            else:
                i = LEXICAL_FEATURES.index(name)
                above, below = FEATURE_PHRASES[name]
                text = above if lex[name] >= self.lex_mean[i] else below
                if name.startswith("trust_") or name == "turnaround":
                    text += f" ({'trust' if facts.trajectory else 'tone'} {lex[name]:+.2f})"
            described.append((delta, text))
        described.extend(adjustments.values())
        top = sorted(described, key=lambda item: -abs(item[0]))[:3]
        return tuple(f"{'+' if delta >= 0 else '-'} {text}" for delta, text in top if abs(delta) > 1e-6)

    @staticmethod
    def _confidence(dialogue: Dialogue, facts: CallFacts, p: float) -> float:
        """Evidence coverage (text, trajectory, signals, effort) times how decided the model is."""
        words = sum(len(_WORD.findall(t)) for t in dialogue.customer)
        coverage = 0.35 * min(1.0, words / 30)
        coverage += 0.25 if facts.trajectory else 0.0
        coverage += 0.2 if facts.signals_checked else 0.0
        coverage += 0.2 if facts.handle_time is not None else 0.0
        return coverage * (0.6 + 0.4 * abs(2 * p - 1))


def _telling_quote(customer: list[str], delta: float) -> str:
    """The customer turn whose tone most agrees with the direction of the push."""
    if not customer:
        return ""
    pick = max(customer, key=lambda t: tone(t)) if delta >= 0 else min(customer, key=lambda t: tone(t))
    pick = " ".join(pick.split())
    return pick if len(pick) <= 80 else pick[:77] + "..."


@lru_cache(maxsize=2)
def load_model(path: str = str(MODEL_FILE)) -> SatisfactionModel:
    return SatisfactionModel.load(path)
