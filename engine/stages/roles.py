"""Stage 5: which speaker is the agent and which the customer.

A channel map (or transcript labels) decides outright. Otherwise each speaker is scored by
what they say: agents greet with the company name, offer help, ask for the account and
close the call; customers explain why they are calling. Who speaks first adds a little.
The confidence is a logistic squash of the score margin between the two best speakers.
"""

from __future__ import annotations

import math
import re

from wocas.config import RolesConfig
from wocas.kinds import Role
from wocas.schema import CallAnalysis, Turn
from wocas.stages.base import Stage

AGENT_CUES: dict[str, float] = {
    r"thank(s| you) for (calling|contacting|holding|waiting)": 3.0,
    r"how (can|may|could) i (help|assist)": 3.0,
    r"(what|how) can i do for you": 2.5,
    r"my name is \w+": 1.0,
    r"(speaking|you'?re through to|you are through to)": 1.5,
    r"(can|could|may) i (have|get|take) (your|the) (account|name|phone|postcode|date of birth|card|order)": 2.5,
    r"(verify|confirm) (your|the) (identity|account|details|address)": 2.0,
    r"is there anything else": 2.5,
    r"(have|enjoy) a (great|good|nice|lovely) (day|evening|afternoon)": 1.0,
    r"let me (check|look|see|pull up|transfer)": 1.5,
    r"i (can|will|'ll) (see|refund|credit|waive|arrange|send|transfer)": 1.0,
    r"(sorry|apologi[sz]e) (to hear|for the (inconvenience|wait|trouble))": 1.5,
    r"i understand": 0.5,
    r"one moment": 0.5,
    r"on the account": 0.5,
    r"\bwe (are|will|have|can|'ll|'re|'ve|apologi[sz]e|suggest)\b": 1.0,
    r"\bplease (send|provide|contact|check|call|tell|confirm|try|visit|hold)\b": 1.0,
    r"\b(private message|direct message|dm us)\b": 1.0,
    r"\bsorry for (the|your|any)\b": 1.0,
    r"\byou (are|were) (suggested|advised|welcome)\b": 1.0,
}
CUSTOMER_CUES: dict[str, float] = {
    r"i('m| am) calling (because|about|to|regarding)": 3.0,
    r"\bmy (bill|account|card|order|package|parcel|phone|internet|payment|refund|contract)\b": 1.0,
    r"\bi (want|need|would like|'d like) to\b": 1.0,
    r"\b(cancel|close) (my|the)\b": 1.0,
    r"\b(ridiculous|unacceptable|frustrat\w*|annoy\w*|fed up|disappointed)\b": 1.0,
    r"\bi (never|didn'?t|did not) (use|order|receive|get|authori[sz]e)\b": 1.0,
    r"\bsecond time\b|\bcalled (before|already|last week)\b": 1.0,
    r"\b(can|could) you (also )?(help|cancel|fix|check|tell)\b": 1.0,
    r"\bthat('s| is) (a relief|great|all)\b": 0.5,
    r"\b(rubbish|terrible|awful|useless|worst|scam|no one|nobody)\b": 1.0,
    r"\bwhat is wrong\b|\bwhy (is|does|do|did|can't|won't)\b": 0.5,
}
FIRST_SPEAKER_BONUS = 1.0  # calls: the agent usually answers first; chats carry no such prior
PRONOUN_WEIGHT = 10.0  # agents speak for the company ("we", "our"), customers for themselves ("I", "my")
_WE = re.compile(r"\b(we|our|ours|us)\b")
_I = re.compile(r"\b(i|my|mine|me|i'm|i've|i'd)\b")
_AGENT = [(re.compile(p), w) for p, w in AGENT_CUES.items()]
_CUSTOMER = [(re.compile(p), w) for p, w in CUSTOMER_CUES.items()]


def agentness(turns: list[Turn]) -> float:
    text = " ".join(t.text.lower() for t in turns)
    words = max(1, len(text.split()))
    pronouns = (len(_WE.findall(text)) - len(_I.findall(text))) / words
    return (sum(w * len(p.findall(text)) for p, w in _AGENT)
            - sum(w * len(p.findall(text)) for p, w in _CUSTOMER)
            + PRONOUN_WEIGHT * pronouns)


def infer_roles(turns: tuple[Turn, ...], spoken: bool = True) -> tuple[dict[str, Role], float]:
    """(speaker -> role, confidence) from what each speaker says and, on calls, who speaks first."""
    by_speaker: dict[str, list[Turn]] = {}
    for t in turns:
        by_speaker.setdefault(t.speaker, []).append(t)
    if not by_speaker:
        return {}, 0.0
    scores = {s: agentness(ts) for s, ts in by_speaker.items()}
    if spoken:
        scores[turns[0].speaker] += FIRST_SPEAKER_BONUS
    ranked = sorted(scores, key=scores.get, reverse=True)
    agent = ranked[0]
    roles = {s: (Role.AGENT if s == agent else Role.CUSTOMER) for s in by_speaker}
    if len(ranked) == 1:
        return roles, 0.5
    margin = scores[ranked[0]] - scores[ranked[1]]
    return roles, round(1 / (1 + math.exp(-margin)), 3)


class RolesStage(Stage):
    name = "roles"
    requires = frozenset({"turns"})
    provides = frozenset({"roles"})

    def __init__(self, options: RolesConfig):
        self.options = options

    def version(self) -> str:
        return self.version_for(self.options)

    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        speakers = {t.speaker for t in call.turns}
        mapped = {s: Role(s) for s in speakers if s in (Role.AGENT, Role.CUSTOMER)}
        if mapped and len(mapped) == len(speakers):
            roles, confidence = mapped, 1.0
        else:
            roles, confidence = infer_roles(call.turns, spoken=call.call.kind == "audio")
            if confidence < self.options.min_confidence:
                roles = {s: Role.UNKNOWN for s in roles}
        turns = tuple(t.replace(role=roles.get(t.speaker, Role.UNKNOWN)) for t in call.turns)
        return call.replace(turns=turns, roles=roles, role_confidence=confidence)
