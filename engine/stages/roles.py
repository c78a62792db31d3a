"""Stage 5: which speaker is the agent and which the customer.

A channel map (or transcript labels) decides outright. Otherwise each speaker is scored by
what they say: by default the fitted role head (engine/text/role_head.py), each turn's log-odds
of being the agent's averaged over the speaker's turns; with ``[roles] model = ""`` the hand-set
cues below (agents greet with the company name, offer help, ask for the account and close the
call; customers explain why they are calling). Who speaks first adds a little.

The highest-scoring speaker is the agent and the lowest the customer. Any other speaker (a
supervisor or another department after a transfer, a voice the diarizer split in two) takes the
side its score falls on: above 0 (more likely the agent's words than the customer's) with the
head, above the midpoint of the agent's and the customer's scores with the cues. The confidence is
a logistic squash of the margin between the two sides.

A recorded voice is not a party to the call. On a call with three or more speakers, a speaker
whose turns the head reads as recorded prompts (an IVR menu, "your call is important to us"; mean
log-odds above ``PROMPT_LOG_ODDS``) is ``Role.SYSTEM``, and the two sides are read among the
others; who speaks first then means the first live speaker. Later stages read only the agent's
and the customer's turns. The cues have no such reading: with ``[roles] model = ""`` a prompt
stays on the agent's side.
"""

from __future__ import annotations

import math
import re

from wocas.config import RolesConfig
from wocas.kinds import Role
from wocas.schema import CallAnalysis, Turn
from wocas.stages.base import Stage, file_digest
from wocas.text.role_head import load_role_head

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


def _head_folder(name: str):
    from wocas.models.registry import resolve

    return resolve(name).path


def agentness(turns: list[Turn]) -> float:
    text = " ".join(t.text.lower() for t in turns)
    words = max(1, len(text.split()))
    pronouns = (len(_WE.findall(text)) - len(_I.findall(text))) / words
    return (sum(w * len(p.findall(text)) for p, w in _AGENT)
            - sum(w * len(p.findall(text)) for p, w in _CUSTOMER)
            + PRONOUN_WEIGHT * pronouns)


FIRST_SPEAKER_LOG_ODDS = 0.5  # the same prior for the role head, on its mean log-odds scale


def speaker_means(turns: tuple[Turn, ...], values) -> dict[str, float]:
    """Each speaker's mean of a per-turn reading (``values``, one per turn)."""
    by_speaker: dict[str, list[float]] = {}
    for t, v in zip(turns, values):
        by_speaker.setdefault(t.speaker, []).append(float(v))
    return {s: sum(vs) / len(vs) for s, vs in by_speaker.items()}


def head_scores(turns: tuple[Turn, ...], head) -> dict[str, float]:
    """Each speaker's mean log-odds (role head) that their turns are the agent's."""
    return speaker_means(turns, head.turn_log_odds([t.text for t in turns]))


def assign_roles(scores: dict[str, float], boundary: float | None) -> tuple[dict[str, Role], float]:
    """(speaker -> role, confidence): the top score is the agent, the bottom the customer, any other
    speaker the agent's side when its score is above ``boundary`` (None: the midpoint of the two)."""
    ranked = sorted(scores, key=scores.get, reverse=True)
    if len(ranked) == 1:
        return {ranked[0]: Role.AGENT}, 0.5
    top, bottom = scores[ranked[0]], scores[ranked[-1]]
    cut = (top + bottom) / 2 if boundary is None else boundary
    roles = {s: Role.AGENT if s == ranked[0] or (s != ranked[-1] and scores[s] > cut) else Role.CUSTOMER
             for s in ranked}
    margin = (min(scores[s] for s in ranked if roles[s] == Role.AGENT)
              - max(scores[s] for s in ranked if roles[s] == Role.CUSTOMER))
    return roles, round(1 / (1 + math.exp(-margin)), 3)


PROMPT_LOG_ODDS = 0.0  # a speaker whose turns average above this reads as a recorded prompt
MIN_SPEAKERS_WITH_PROMPT = 3  # a prompt, an agent and a customer


def recorded_speakers(turns: tuple[Turn, ...], head) -> set[str]:
    """The speakers whose turns the head reads as recorded prompts (none on a call of fewer than
    three speakers, and never so many that fewer than two live speakers are left)."""
    speakers = list(dict.fromkeys(t.speaker for t in turns))
    if head is None or not head.reads_prompts or len(speakers) < MIN_SPEAKERS_WITH_PROMPT:
        return set()
    means = speaker_means(turns, head.prompt_log_odds([t.text for t in turns]))
    recorded = sorted((s for s in speakers if means[s] > PROMPT_LOG_ODDS), key=means.get, reverse=True)
    return set(recorded[:len(speakers) - 2])


def infer_roles(turns: tuple[Turn, ...], spoken: bool = True, head=None) -> tuple[dict[str, Role], float]:
    """(speaker -> role, confidence) from what each speaker says (the role head's reading, or the
    hand-set cues when ``head`` is None) and, on calls, who speaks first."""
    if not turns:
        return {}, 0.0
    recorded = recorded_speakers(turns, head)
    live = tuple(t for t in turns if t.speaker not in recorded)
    if head is not None:
        scores, bonus, boundary = head_scores(live, head), FIRST_SPEAKER_LOG_ODDS, 0.0
    else:
        by_speaker: dict[str, list[Turn]] = {}
        for t in live:
            by_speaker.setdefault(t.speaker, []).append(t)
        scores, bonus, boundary = {s: agentness(ts) for s, ts in by_speaker.items()}, FIRST_SPEAKER_BONUS, None
    if spoken:
        scores[live[0].speaker] += bonus
    roles, confidence = assign_roles(scores, boundary)
    return {**roles, **{s: Role.SYSTEM for s in recorded}}, confidence


class RolesStage(Stage):
    name = "roles"
    requires = frozenset({"turns"})
    provides = frozenset({"roles"})

    def __init__(self, options: RolesConfig):
        self.options = options

    @classmethod
    def identity(cls, section, encoder) -> str:
        model = (section or RolesConfig()).model
        return f"roles-3+head-{file_digest(_head_folder(model) / 'head.npz')}" if model else "roles-2"

    def version(self) -> str:
        return self.version_for(self.options)

    def head(self):
        return load_role_head(str(_head_folder(self.options.model))) if self.options.model else None

    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        speakers = {t.speaker for t in call.turns}
        mapped = {s: Role(s) for s in speakers if s in (Role.AGENT, Role.CUSTOMER)}
        if mapped and len(mapped) == len(speakers):
            roles, confidence = mapped, 1.0
        else:
            roles, confidence = infer_roles(call.turns, spoken=call.call.kind == "audio", head=self.head())
            if confidence < self.options.min_confidence:
                roles = {s: r if r == Role.SYSTEM else Role.UNKNOWN for s, r in roles.items()}
        turns = tuple(t.replace(role=roles.get(t.speaker, Role.UNKNOWN)) for t in call.turns)
        return call.replace(turns=turns, roles=roles, role_confidence=confidence)
