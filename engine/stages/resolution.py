"""Stage: how the customer's problem stood when the call ended (``CallAnalysis.resolution``).

Zero-shot over the shared sentence encoder: each closing turn (the agent's and the customer's
last few) is compared with short descriptions of what each outcome sounds like on that side
(``AGENT_PROTOTYPES``, ``CUSTOMER_PROTOTYPES``), and with a null class of ritual talk ("anything
else?", "thanks, bye") that says nothing about the outcome. Each turn spreads one vote over the
classes (a softmax of its best similarity per class), weighted by how late it comes; ritual
votes are dropped. The state is the class with most votes; its confidence is its share, and
its evidence is the turn that voted for it most.

The descriptions are written in general terms and are not taken from any evaluation set.

With ``[resolution] model`` a fitted head decides instead. The default, ``resolution-lexical``
(engine/text/lexical.py), reads the words of the last eight turns; its confidence is its
probability and its evidence the closing turn whose words pushed most toward the state it chose.
``resolution-head`` (engine/resolution/head.py) reads these votes, the closing turns' sentence
vectors, the customer's trust as read in context and where the turns fall; its evidence is the
closing turn that voted most for the state it chose. ``model = ""`` keeps the zero-shot reader.
"""

from __future__ import annotations

import numpy as np

from wocas.config import ResolutionConfig
from wocas.models.text_encoder import TextEncoder, check_dimension
from wocas.resolution.head import (
    AGENT_TURNS, CUSTOMER_SCAN, CUSTOMER_TURNS, CallReading, ResolutionHead, load_resolution_head, place_numbers,
    trust_numbers,
)
from wocas.text.lexical import LexicalHead, is_lexical, load_lexical_head, says
from wocas.schema import CallAnalysis, Resolution, ResolutionState, Turn
from wocas.stages.base import Stage, file_digest
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


def _head_folder(name: str):
    if not name:
        return None
    from wocas.models.registry import resolve

    return resolve(name).path


class ResolutionStage(Stage):
    name = "resolution"
    requires = frozenset({"turns", "roles"})
    provides = frozenset({"resolution"})

    def __init__(self, section: ResolutionConfig | None = None, encoder: TextEncoder | None = None) -> None:
        self.options = section if section is not None else ResolutionConfig(model="")
        self.folder = _head_folder(self.options.model)
        self.encoder = encoder or TextEncoder()
        self._sides: dict[str, _Prototypes] | None = None
        self._head: ResolutionHead | None = None
        self._lexical: LexicalHead | None = None
        if self.folder is not None and is_lexical(self.folder):
            self._lexical = load_lexical_head(str(self.folder))
        elif self.folder is not None:
            self._head = load_resolution_head(str(self.folder))
            self.encoder = self.encoder.variant(model=self._head.encoder)

    @classmethod
    def identity(cls, section, encoder) -> str:
        folder = _head_folder(section.model) if section is not None else None
        head = f"+head:{file_digest(folder / 'head.npz')}" if folder is not None else ""
        return f"resolution-3:{CLOSING_TURNS}:{RECENCY}:{TEMPERATURE}{head}+{(encoder or TextEncoder()).identity()}"

    def version(self) -> str:
        return self.version_for(self.options, self.encoder)

    def warm_up(self) -> None:
        if self._lexical is None:
            self._prototypes()

    def _prototypes(self) -> dict[str, _Prototypes]:
        if self._sides is None:
            self._sides = {"agent": _Prototypes(AGENT_PROTOTYPES, self.encoder),
                           "customer": _Prototypes(CUSTOMER_PROTOTYPES, self.encoder)}
        return self._sides

    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        return self.process_batch([call])[0]

    def process_batch(self, calls: list[CallAnalysis]) -> list[CallAnalysis]:
        if self._lexical is not None:
            return self.read_words(calls, self._lexical)
        readings = self.read(calls)
        out = []
        for call, r in zip(calls, readings):
            if r is None:
                out.append(call)  # nothing said: no outcome to read
                continue
            state = r["zero_shot"]
            if self._head is not None:
                state = self.decide_with_head(r, self._head.probabilities(r["reading"].row()[None, :])[0])
            out.append(call.replace(resolution=state))
        return out

    @staticmethod
    def read_words(calls: list[CallAnalysis], head: LexicalHead) -> list[CallAnalysis]:
        """The lexical head's state for each call; a call with nothing said keeps none."""
        sides = [[(t.role.value, t.text) for t in c.turns] for c in calls]
        said = [k for k, s in enumerate(sides) if any(says(role, text) for role, text in s)]
        out = list(calls)
        if not said:
            return out
        spoken = [sides[k] for k in said]
        x = head.vectors(spoken)  # once: the probabilities and each call's evidence read the same rows
        for row, vector, k in zip(head.probabilities(spoken, x), x, said):
            best = int(np.argmax(row))
            turn = calls[k].turns[head.evidence(sides[k], best, vector)]
            out[k] = calls[k].replace(resolution=_state(Resolution(head.classes[best]), float(row[best]), turn))
        return out

    def read(self, calls: list[CallAnalysis]) -> list[dict | None]:
        """Per call, what both readers need: the zero-shot state, its tallies, and the head's
        ``CallReading``; None for a call with nothing said."""
        sides = self._prototypes()
        picked = [{"agent": closing_turns(c, "agent", AGENT_TURNS),
                   "customer": closing_turns(c, "customer", CUSTOMER_SCAN)} for c in calls]
        texts = list(dict.fromkeys(t.text for p in picked for role in sides for t in p[role]))
        vectors = dict(zip(texts, self.encoder.encode(texts))) if texts else {}
        dim = next(iter(vectors.values())).shape[0] if vectors else 0
        if self._head is not None and vectors:
            check_dimension("resolution head", self.folder, self._head.encoder, self._head.dim, self.encoder.model,
                            dim, "[resolution] model")
        out: list[dict | None] = []
        for call, turns in zip(calls, picked):
            if not any(turns.values()):
                out.append(None)
                continue
            vecs = {role: np.array([vectors[t.text] for t in turns[role]]).reshape(len(turns[role]), dim)
                    for role in sides}
            votes = {role: sides[role].votes(v) if len(v) else np.zeros((0, len(sides[role].classes)))
                     for role, v in vecs.items()}
            closing = {"agent": turns["agent"][-CLOSING_TURNS:], "customer": turns["customer"][-CLOSING_TURNS:]}
            closing_votes = {role: votes[role][len(turns[role]) - len(closing[role]):] for role in sides}
            state, total, best = self.tally(closing, closing_votes)
            out.append({"zero_shot": state, "best": best,
                        "reading": self._reading(call, turns, vecs, votes, closing_votes, total, dim)})
        return out

    def _reading(self, call, turns, vecs, votes, closing_votes, total, dim) -> CallReading:
        sides = self._prototypes()
        side_votes = {}
        for role in sides:
            v = closing_votes[role]
            if len(v):
                w = RECENCY ** np.arange(len(v) - 1, -1, -1)
                side_votes[role] = (w[:, None] * v).sum(axis=0) / w.sum()
            else:
                side_votes[role] = np.zeros(len(sides[role].classes))
        mass = sum(total.values())
        shares = np.array([total[s] / mass if mass > 1e-9 else 0.0 for s in STATES])
        ritual = sides["customer"].classes.index(RITUAL)
        customer = turns["customer"]
        substantive = [k for k in range(len(customer)) if votes["customer"][k, ritual] < 0.5][-CUSTOMER_TURNS:]
        if not substantive:
            substantive = list(range(len(customer)))[-CUSTOMER_TURNS:]
        zero = np.zeros(dim, dtype=np.float32)
        agent_vector = vecs["agent"].mean(axis=0) if len(vecs["agent"]) else zero
        customer_vector = vecs["customer"][substantive].mean(axis=0) if substantive else zero
        trust = [t.emotion.trust for t in call.turns
                 if t.role == "customer" and t.emotion is not None and t.text.strip()]
        n = max(1, len(call.turns))
        last_customer = customer[substantive[-1]] if substantive else None
        scalars = trust_numbers(trust) + place_numbers(
            len(call.turns), len(turns["agent"][-1].text.split()) if turns["agent"] else 0,
            len(last_customer.text.split()) if last_customer else 0,
            (call.turns.index(last_customer) + 1) / n if last_customer else 0.0,
            _negates(last_customer.text) if last_customer else False)
        return CallReading(side_votes["agent"], side_votes["customer"], shares, agent_vector, customer_vector,
                           np.array(scalars, dtype=np.float32))

    def decide_with_head(self, r: dict, p: np.ndarray) -> ResolutionState:
        k = int(np.argmax(p))
        state = Resolution(self._head.classes[k])
        best = r["best"].get(state)
        if best is None:  # the head chose a state no closing turn voted for: the zero-shot evidence
            zero = r["zero_shot"]
            return ResolutionState(state=state, confidence=round(float(p[k]), 3), turn_index=zero.turn_index,
                                   quote=zero.quote)
        return _state(state, float(p[k]), best[1])

    def tally(self, turns: dict[str, list[Turn]], votes: dict[str, np.ndarray]):
        """The zero-shot state, the votes per outcome, and each outcome's strongest (vote, turn)."""
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
            return ResolutionState(state=Resolution.UNRESOLVED, confidence=0.0), total, best
        return _state(state, total[state] / mass, best[state][1]), total, best

    def decide(self, turns: dict[str, list[Turn]], votes: dict[str, np.ndarray]) -> ResolutionState:
        return self.tally(turns, votes)[0]


def _state(state: Resolution, confidence: float, turn: Turn) -> ResolutionState:
    quote = " ".join(turn.text.split())
    return ResolutionState(state=state, confidence=round(confidence, 3), turn_index=turn.index,
                           quote=quote if len(quote) <= 120 else quote[:117] + "...")
