"""Stage: how the customer's problem stood when the call ended (``CallAnalysis.resolution``).

Zero-shot over the shared sentence encoder: each closing turn (the agent's and the customer's
last few) is compared with short descriptions of what each outcome sounds like on that side
(``AGENT_PROTOTYPES``, ``CUSTOMER_PROTOTYPES``), and with a null class of ritual talk ("anything
else?", "thanks, bye") that says nothing about the outcome. Each turn spreads one vote over the
classes (a softmax of its best similarity per class), weighted by how late it comes; ritual
votes are dropped. The state is the class with most votes; its confidence is its share, and
its evidence is the turn that voted for it most.

The descriptions are written in general terms and are not taken from any evaluation set.
"""

from __future__ import annotations

import numpy as np

from wocas.models.text_encoder import TextEncoder
from wocas.schema import CallAnalysis, Resolution, ResolutionState, Turn
from wocas.stages.base import Stage
from wocas.text.utterance import parse_utterance

R = Resolution
RITUAL = "ritual"

AGENT_PROTOTYPES: dict[str, tuple[str, ...]] = {
    R.RESOLVED: (
        "I've refunded the payment, it will be back in your account today",
        "that's all fixed for you now",
        "I've corrected the bill and removed the charge",
        "your replacement has been ordered and will arrive in two days",
        "the change has gone through on your account",
        "I've cancelled it as you asked and sent the confirmation",
        "done, you should see it working now",
        "I've applied the credit to your account",
    ),
    R.PARTLY_RESOLVED: (
        "I can sort part of it today but not the rest",
        "I can only offer a partial refund",
        "the earliest appointment I can book is in a few weeks",
        "that's the most I can do for you today",
        "I can reduce the fee but I can't remove it",
        "I've done what I can, the rest will have to wait",
    ),
    R.UNRESOLVED: (
        "I'm afraid there's nothing I can do about that",
        "I can't change that, it's our policy",
        "I can't see why that happened on my system",
        "unfortunately I'm not able to help with that",
        "I've noted your comments on the file",
        "that decision is final and can't be changed",
        "I can't promise anything, I'm sorry",
        "it's still open with the team, there's no update yet",
        "it's still being looked into, I can't tell you when it will be done",
    ),
    R.TRANSFERRED: (
        "I'll transfer you to the right department now",
        "please hold while I put you through",
        "I'm connecting you to my colleague in another team",
        "you need to speak to a different team, I'll pass you over",
    ),
    R.CALLBACK_PROMISED: (
        "someone will call you back tomorrow",
        "the team will ring you within twenty four hours",
        "I'll call you back this afternoon with an update",
        "a specialist will phone you by the end of the week",
    ),
    RITUAL: (
        "is there anything else I can help you with",
        "you're welcome", "thank you for calling, have a good day", "take care, goodbye",
        "hello, how can I help you today", "can I take your account number please",
    ),
}

CUSTOMER_PROTOTYPES: dict[str, tuple[str, ...]] = {
    R.RESOLVED: (
        "great, that's sorted then", "that fixes it, thank you", "it's working now",
        "brilliant, that's exactly what I needed", "that's a relief, the problem is solved",
    ),
    R.PARTLY_RESOLVED: (
        "well, that's something I suppose", "it's better than nothing",
        "that helps a bit, but it's not really fixed", "fine, book it then, if that's the earliest",
    ),
    R.UNRESOLVED: (
        "so it's still not fixed", "that doesn't solve my problem", "so nothing is going to change",
        "I still don't know why this happened", "so you can't do anything",
    ),
    R.TRANSFERRED: ("okay, put me through then", "fine, transfer me"),
    R.CALLBACK_PROMISED: ("okay, I'll wait for their call", "please make sure someone rings me back"),
    R.CUSTOMER_GAVE_UP: (
        "forget it, I'll sort it out myself", "never mind, there's no point", "I give up",
        "I can't be bothered any more, just leave it", "don't worry about it, I'll go elsewhere",
    ),
    RITUAL: (
        "thanks, bye", "okay", "no, that's all, thank you", "have a nice day", "thank you for your help",
        "hi, I'm calling about my account", "yes, that's right",
    ),
}

STATES = tuple(Resolution)
CLOSING_TURNS = 3  # per side
RECENCY = 0.8  # each turn further from the end counts this much less
TEMPERATURE = 0.05  # of the softmax over a turn's class similarities


class _Prototypes:
    """One side's prototypes embedded once: (classes, their embeddings, class index per row)."""

    def __init__(self, table: dict[str, tuple[str, ...]], encoder: TextEncoder):
        self.classes = list(table)
        texts = [t for c in self.classes for t in table[c]]
        self.owner = np.array([i for i, c in enumerate(self.classes) for _ in table[c]])
        self.vectors = encoder.encode(texts)

    def votes(self, vectors: np.ndarray) -> np.ndarray:
        """Per turn, a softmax over the classes of its best similarity to each class: (n, classes)."""
        sims = vectors @ self.vectors.T
        best = np.stack([sims[:, self.owner == i].max(axis=1) for i in range(len(self.classes))], axis=1)
        z = (best - best.max(axis=1, keepdims=True)) / TEMPERATURE
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)


NEGATORS = frozenset({"not", "dont", "didnt", "doesnt", "isnt", "wasnt", "hasnt", "havent", "wont", "cant",
                      "cannot", "never"})


def _negates(text: str) -> bool:
    """The customer's turn says something did not happen; a leading "no" alone answers a question
    ("no, that's all, thanks") and does not count."""
    return any(t in NEGATORS for t in parse_utterance(text).tokens)


def closing_turns(call: CallAnalysis, role: str, n: int = CLOSING_TURNS) -> list[Turn]:
    return [t for t in call.turns if t.role == role and t.text.strip()][-n:]


class ResolutionStage(Stage):
    name = "resolution"
    requires = frozenset({"turns", "roles"})
    provides = frozenset({"resolution"})

    def __init__(self, section: None = None, encoder: TextEncoder | None = None) -> None:
        self.encoder = encoder or TextEncoder()
        self._sides: dict[str, _Prototypes] | None = None

    @classmethod
    def identity(cls, section, encoder) -> str:
        return f"resolution-3:{CLOSING_TURNS}:{RECENCY}:{TEMPERATURE}+{(encoder or TextEncoder()).identity()}"

    def version(self) -> str:
        return self.version_for(None, self.encoder)

    def warm_up(self) -> None:
        self._prototypes()

    def _prototypes(self) -> dict[str, _Prototypes]:
        if self._sides is None:
            self._sides = {"agent": _Prototypes(AGENT_PROTOTYPES, self.encoder),
                           "customer": _Prototypes(CUSTOMER_PROTOTYPES, self.encoder)}
        return self._sides

    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        return self.process_batch([call])[0]

    def process_batch(self, calls: list[CallAnalysis]) -> list[CallAnalysis]:
        sides = self._prototypes()
        picked = [{role: closing_turns(c, role) for role in sides} for c in calls]
        texts = [t.text for p in picked for role in sides for t in p[role]]
        vectors = iter(self.encoder.encode(texts)) if texts else iter(())
        out = []
        for call, turns in zip(calls, picked):
            if not any(turns.values()):
                out.append(call)  # nothing said: no outcome to read
                continue
            per_side = {role: np.array([next(vectors) for _ in turns[role]]) for role in sides}
            state = self.decide(turns, {role: sides[role].votes(v) if len(v) else np.zeros((0, 0))
                                        for role, v in per_side.items()})
            out.append(call.replace(resolution=state))
        return out

    def decide(self, turns: dict[str, list[Turn]], votes: dict[str, np.ndarray]) -> ResolutionState:
        sides = self._prototypes()
        total = dict.fromkeys(STATES, 0.0)
        best: dict[Resolution, tuple[float, Turn]] = {}
        for role, side_turns in turns.items():
            classes = sides[role].classes
            for k, turn in enumerate(side_turns):
                weight = RECENCY ** (len(side_turns) - 1 - k)
                negated = role == "customer" and _negates(turn.text)
                for j, cls in enumerate(classes):
                    if cls == RITUAL:
                        continue
                    state = Resolution(cls)
                    if negated and state == Resolution.RESOLVED:
                        # the encoder barely tells "that fixed it" from "no, that didn't fix it":
                        # a customer's negated fix votes for the opposite outcome
                        state = Resolution.UNRESOLVED
                    v = weight * float(votes[role][k, j])
                    total[state] += v
                    if v > best.get(state, (-1.0, turn))[0]:
                        best[state] = (v, turn)
        mass = sum(total.values())
        state = max(STATES, key=lambda s: total[s])
        if mass <= 1e-9 or state not in best:
            return ResolutionState(state=Resolution.UNRESOLVED, confidence=0.0)
        turn = best[state][1]
        quote = " ".join(turn.text.split())
        return ResolutionState(state=state, confidence=round(total[state] / mass, 3), turn_index=turn.index,
                               quote=quote if len(quote) <= 120 else quote[:117] + "...")
