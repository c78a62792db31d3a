"""Defection signals, each with its evidence: the turn, its start and end time, and the quote.

Kinds: ``cancel_intent``, ``competitor``, ``threat_to_leave``, ``complaint``,
``repeat_contact``, ``escalation_request``, ``legal_threat``, ``sale_on_low_trust`` (an agent
pitches while the customer's trust is below zero; needs the emotion stage) and
``unresolved_end``.

Phrase patterns run on normalised text (lowercase, no punctuation or apostrophes, no fillers
or stutters, small numbers as words), so ASR output and typed chat read the same. A
complaint is explicit (the customer says so, or uses the words people complain with) or
implicit: a MiniLM similarity to complaint and non-complaint prototypes, combined with VADER
negativity and the upstream-failure phrases, gives a score in [0, 1].
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np

from wocas.config import SignalsConfig
from wocas.emotion.text import vader_scores
from wocas.kinds import SignalKind
from wocas.models.text_encoder import TextEncoder
from wocas.reasons.statements import PREVENTABLE_CUES, customer_side
from wocas.schema import CallAnalysis, Resolution, Signal, Turn
from wocas.stages.base import Stage, file_digest
from wocas.stages.resolution import ResolutionStage
from wocas.text.utterance import Utterance, parse_utterance, quote_for, span_times

log = logging.getLogger(__name__)

NEGATORS = frozenset({"not", "dont", "never", "wont", "no", "didnt", "doesnt", "without", "wouldnt", "isnt", "arent"})


@dataclass(frozen=True)
class Rule:
    kind: SignalKind
    pattern: re.Pattern[str]
    strength: float
    negatable: bool = True  # a negator just before the match ("i dont want to cancel") cancels it


def _rules(kind: SignalKind, negatable: bool, *pairs: tuple[str, float]) -> list[Rule]:
    return [Rule(kind, re.compile(p), s, negatable) for p, s in pairs]


_THING = r"(?:account|accounts|subscription|contract|service|membership|card|policy|plan|package|broadband|line|insurance|direct debit|mortgage|loan|order|booking|everything)"

CUSTOMER_RULES: list[Rule] = [
    *_rules(SignalKind.CANCEL_INTENT, True,
            (rf"\b(?:cancel|close|terminate|end|stop|shut) (?:down )?(?:my|our|the|this|all my|all of my|your) (?:\w+ )?{_THING}\b", 0.9),
            (rf"\b(?:cancel|close|terminate) (?:it|everything)\b", 0.7),
            (r"\b(?:want|like|need|going|looking|planning) to (?:cancel|close|terminate|leave)\b", 0.85),
            (r"\bcancell?ation (?:form|fee|process|request|notice)\b|\bhow (?:do|can) i cancel\b", 0.7),
            (r"\bport (?:my|our) number\b|\bpac code\b", 0.8)),
    *_rules(SignalKind.THREAT_TO_LEAVE, True,
            (r"\b(?:ill|i will|im going to|im going|i am going to|we will|well) (?:just )?(?:leave|switch|move|go elsewhere|take my business)\b", 0.85),
            (r"\btake (?:my|our) (?:business|money|custom) (?:elsewhere|somewhere else)\b", 0.9),
            (r"\b(?:thinking|think) (?:about|of) (?:leaving|switching|cancelling|canceling|moving|going elsewhere)\b", 0.7),
            (r"\b(?:youre|you are|you will|youll) (?:going to |about to )?lose (?:me|a customer|my business|us)\b", 0.9),
            (r"\bnever (?:use|shop|buy|fly|bank|order|deal)\b.{0,30}\bagain\b", 0.8),
            (r"\b(?:done|finished) with (?:you|your|this company)\b|\bhad enough of (?:you|your|this)\b", 0.8),
            (r"\b(?:last|final) (?:chance|straw)\b", 0.7)),
    *_rules(SignalKind.COMPETITOR, True,
            (r"\b(?:another|a different|other|a new) (?:provider|bank|company|supplier|network|carrier|airline|insurer|retailer|shop|store|broadband)s?\b", 0.6),
            (r"\bcompetitors?\b|\bsomewhere else\b|\belsewhere\b", 0.5),
            (r"\b(?:cheaper|better) (?:deal|offer|price|rate|tariff)s? (?:elsewhere|somewhere else|with|from|at)\b", 0.75),
            (r"\b(?:they|someone else|somebody else|others?) (?:offered|are offering|is offering|offer|gave) me\b", 0.65),
            (r"\b\w+ (?:offered|are offering|is offering|gave|quoted) me (?:a |an )?(?:better|cheaper|lower|bigger)\b", 0.75),
            (r"\b(?:switch|switching|move|moving|go|going) (?:over )?to (?:a )?(?:cheaper|better) (?:one|provider|deal|company|bank)\b", 0.75)),
    *_rules(SignalKind.COMPLAINT, False,
            (r"\b(?:make|making|file|filing|log|raise|lodge|register) (?:a |an )?(?:formal |official )?complaint\b", 0.95),
            (r"\bi (?:want|wish|would like|d like) to complain\b|\bcomplain(?:ing)? about\b", 0.9),
            (r"\b(?:unacceptable|ridiculous|disgraceful|disgusting|outrageous|appalling|pathetic|shocking|useless|incompetent)\b", 0.8),
            (r"\b(?:terrible|awful|horrible|worst|poor|bad|rubbish) (?:service|experience|customer service|company)\b", 0.85),
            (r"\bfed up\b|\bsick (?:and tired )?of\b|\bwaste of (?:my )?time\b|\bnot good enough\b|\bnot happy\b", 0.75)),
    *_rules(SignalKind.REPEAT_CONTACT, False,
            # "the second time", "three calls"; a bare "two times" ("billed two times") is no contact
            (r"\b(?:second|third|fourth|fifth|sixth|umpteenth) (?:time|call)\b", 0.85),
            (r"\b(?:two|three|four|five|six|seven|ten|several|multiple|many|umpteen|countless) calls\b", 0.85),
            (r"\b(?:called|rang|phoned|contacted|chatted|emailed|written|spoken|spoke)(?: to)?(?: you| someone| them| you guys)? "
             r"(?:two|three|four|five|six|seven|ten|several|multiple|many|umpteen|countless) times\b", 0.85),
            (r"\b(?:called|rang|phoned|contacted you|chatted)(?: you| here| in)? (?:\w+ ){0,2}(?:days?|weeks?|hours?) ago\b", 0.8),
            (r"\b(?:called|rang|phoned|contacted you|spoken to you|spoke to (?:someone|you)|been on the phone) (?:already|before|yesterday|last week|last month|earlier|twice|again)\b", 0.8),
            (r"\b(?:already|i have|ive) (?:called|rang|phoned|spoken|contacted)\b", 0.7),
            (r"\b(?:calling|ringing|phoning) (?:back )?again\b|\bkeep (?:calling|ringing|phoning)\b|\bevery time i (?:call|ring)\b|\b(?:once|yet) again\b", 0.75)),
    *_rules(SignalKind.ESCALATION_REQUEST, True,
            (r"\b(?:speak|talk|put me through|transfer me|get me|want|need) (?:to |with )?(?:a |the |your |someone )?(?:supervisor|manager|team leader|someone senior|someone in charge|boss)\b", 0.9),
            (r"\b(?:supervisor|manager|team leader) please\b|\bescalate (?:this|it|my)\b", 0.85),
            (r"\b(?:someone|somebody) (?:else|more senior|higher up)\b", 0.6)),
    *_rules(SignalKind.LEGAL_THREAT, True,
            (r"\b(?:lawyer|lawyers|solicitor|solicitors|attorney|legal action|take you to court|small claims|sue|suing|lawsuit)\b", 0.9),
            (r"\b(?:ombudsman|regulator|fca|ofcom|ofgem|ofwat|cfpb|ftc|fcc|trading standards|better business bureau|bbb|consumer protection)\b", 0.85),
            (r"\breport (?:you|this|your company) to\b", 0.8)),
]

COMPLAINT_PROTOTYPES = (
    "this is unacceptable", "I've been waiting for weeks and nothing has happened", "you charged me twice",
    "my order never arrived", "the product broke after two days", "nobody has called me back",
    "your service is terrible", "I was promised a refund and never got it", "the app keeps crashing",
    "I've been on hold for an hour", "the engineer didn't turn up", "this is the third time I've called",
    "my internet has been down all week", "the item arrived damaged", "you cancelled my flight without telling me",
    "still no response to my email", "why is this so hard", "the staff were rude to me",
    "I'm really disappointed with how this was handled", "thanks for nothing",
)
NEUTRAL_PROTOTYPES = (
    "can you tell me my balance", "I'd like to change my address", "what time do you open", "thank you so much",
    "that's great, thanks for your help", "how do I reset my password", "I want to buy a new phone",
    "do you deliver on Sundays", "can I book an appointment for tomorrow", "is this available in blue",
    "great service today, well done", "what's the price of the premium plan", "I'd like to upgrade",
    "how long does shipping take", "I love the new update", "please send me the form",
    "good morning, I have a question about my account", "yes that's correct", "could you check my order number",
    "happy new year to the team",
)

SALES_CUES = re.compile(
    r"\b(?:upgrade|special offer|promotion|promo|deal for you|offer you|can i interest you|would you be interested"
    r"|add (?:on|a|an)|premium|bundle|sign you up|take out a|new (?:plan|package|card|product)|while i have you)\b")

UNRESOLVED_CUES = re.compile(
    r"\b(?:still|its still|thats still) (?:not|doesnt|isnt|hasnt|wont|broken)\b|\bnot (?:resolved|fixed|sorted)\b"
    r"|\b(?:that|this|which) (?:doesnt|didnt|does not|did not|isnt) help\b|\bno help\b|\bnothing (?:you|i|we) can do\b"
    r"|\b(?:ill|i will|i guess ill|ill have to) (?:just )?(?:call|ring|phone) (?:back|again)\b"
    r"|\b(?:cant|cannot|can not|unable to) (?:do|help|fix|resolve|sort) (?:anything|that|this|it)\b"
    r"|\b(?:raise|raised|log|logged|open|opened|escalate|escalated) (?:a|an|the|this|your) (?:ticket|case|complaint|request)\b"
    r"|\b(?:someone|a specialist|the team|they|we) will (?:call|get back|contact|be in touch)\b"
    r"|\bwithin (?:one|two|three|five|seven|ten|24|48|72) (?:working |business )?(?:days|hours)\b|\bwaste of (?:my )?time\b")
RESOLVED_CUES = re.compile(
    r"\b(?:thats|that is|its|it is|all|problem|everything) (?:now )?(?:fixed|sorted|resolved|working|done|sorted out)\b"
    r"|\bthat (?:worked|works|fixed it|did it)\b|\b(?:perfect|brilliant|fantastic|excellent|wonderful|great) (?:thanks|thank you)\b"
    r"|\b(?:youve|you have) been (?:very |really |so |ever so )?helpful\b|\bthanks? (?:so|very) much\b"
    r"|\bthats (?:great|perfect|brilliant|fantastic|wonderful|lovely)\b|\bproblem solved\b")


# Words that may sit between a negator and what it negates ("dont really want to cancel").
_BRIDGE = frozenset({"want", "to", "going", "plan", "planning", "intend", "i", "we", "really", "be", "have", "need",
                     "ever", "actually", "wanna", "gonna", "like", "would", "will", "even"})


def _negated(utt: Utterance, char_start: int, window: int = 4) -> bool:
    """A negator right before the match, or before it across only bridging words; a negator
    that belongs to an earlier clause ("if it isnt sorted ill leave") does not count."""
    i = utt.token_at(char_start)
    for t in reversed(utt.tokens[max(0, i - window):i]):
        if t in NEGATORS:
            return True
        if t not in _BRIDGE:
            return False
    return False


class ComplaintScorer:
    """Implicit complaint score in [0, 1] from meaning (prototypes), tone (VADER) and
    upstream-failure phrases; fixed weights, not fitted to any evaluation set."""

    def __init__(self, encoder: TextEncoder) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.vader = SentimentIntensityAnalyzer()
        self.encoder = encoder
        self.complaint = encoder.encode(list(COMPLAINT_PROTOTYPES))
        self.neutral = encoder.encode(list(NEUTRAL_PROTOTYPES))

    def score(self, texts: list[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        """Scores in [0, 1]. Only the texts that could be complaints are embedded (when no
        ``embeddings`` are given): a very short or plainly happy turn ("ok thanks, perfect") scores 0."""
        if not texts:
            return np.zeros(0)
        tone = np.array([vader_scores(t, self.vader)["compound"] for t in texts])  # [-1, 1]
        failure = np.array([any(p.search(parse_utterance(t).text) for p, _ in PREVENTABLE_CUES) for t in texts])
        worth = [i for i, t in enumerate(texts) if failure[i] or (tone[i] < 0.5 and len(parse_utterance(t).tokens) >= 4)]
        if embeddings is None:
            embeddings = np.zeros((len(texts), self.complaint.shape[1]), dtype=np.float32)
            if worth:
                embeddings[worth] = self.encoder.encode([texts[i] for i in worth])
        top = lambda m: -np.sort(-m, axis=1)[:, :3].mean(axis=1)  # noqa: E731
        meaning = top(embeddings @ self.complaint.T) - top(embeddings @ self.neutral.T)  # about [-0.4, 0.4]
        z = 12.0 * meaning - 1.2 * tone + 1.0 * failure - 0.3
        scores = 1.0 / (1.0 + np.exp(-z))
        mask = np.zeros(len(texts), dtype=bool)
        mask[worth] = True
        return np.where(mask, scores, 0.0)


class ComplaintHeadScorer:
    """The complaint score from a supervised head (``[signals] complaint_head``): the
    probability of its ``complaint`` label (or ``1`` for 0/1-labelled data)."""

    POSITIVE = ("complaint", "1", "true", "yes")

    def __init__(self, head: str, encoder: TextEncoder):
        from wocas.reasons.classify import HeadClassifier
        from wocas.models.registry import resolve

        self.head = HeadClassifier(resolve(head).path, encoder)
        found = [label for label in self.head.labels if label.lower() in self.POSITIVE]
        if len(self.head.labels) < 2 or not found:
            raise ValueError(f"complaint head {head}: needs a 'complaint' (or '1') label and at least one other "
                             f"label; it has {self.head.labels}")
        self.positive = self.head.labels.index(found[0])

    def score(self, texts: list[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        if not texts:
            return np.zeros(0)
        scores = self.head.probabilities(texts, embeddings)[:, self.positive]  # embeds only what the head needs
        return np.where([bool(parse_utterance(t).tokens) for t in texts], scores, 0.0)


class SignalsStage(Stage):
    name = "signals"
    requires = frozenset({"turns", "roles"})
    provides = frozenset({"signals"})

    def __init__(self, config: SignalsConfig | None = None, encoder: TextEncoder | None = None):
        self.config = config or SignalsConfig()
        self.encoder = encoder or TextEncoder()  # the pipeline passes the one the text stages share
        head = self.config.complaint_head
        self.complaints = ComplaintHeadScorer(head, self.encoder) if head else ComplaintScorer(self.encoder)
        self._outcome: ResolutionStage | None = None  # only for calls the resolution stage has not seen
        names = [re.escape(n.lower().replace("'", "")) for n in self.config.competitors if n.strip()]
        self.competitor_names = re.compile(r"\b(?:" + "|".join(names) + r")\b") if names else None

    @classmethod
    def identity(cls, section, encoder) -> str:
        from wocas.models.registry import resolve

        section = section or SignalsConfig()
        scorer = "prototypes"
        if section.complaint_head:
            folder = resolve(section.complaint_head).path
            scorer = f"complaints:head:{folder.name}:{file_digest(folder / 'head.json')}{file_digest(folder / 'head.npz')}"
        return f"signals-2+{scorer}+{(encoder or TextEncoder()).identity()}"

    def version(self) -> str:
        return self.version_for(self.config, self.encoder)

    def _outcomes(self, calls: list[CallAnalysis]) -> list:
        """The outcome an implicit complaint must respect: the resolution stage's, which runs
        before this one in the pipeline; read here only for a call it has not seen."""
        missing = [c for c in calls if c.resolution is None]
        if missing:
            if self._outcome is None:
                self._outcome = ResolutionStage(encoder=self.encoder)
            read = iter(self._outcome.process_batch(missing))
            calls = [next(read) if c.resolution is None else c for c in calls]
        return [c.resolution for c in calls]

    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        return self.process_batch([call])[0]

    def process_batch(self, calls: list[CallAnalysis]) -> list[CallAnalysis]:
        sides = [customer_side(c) for c in calls]
        texts = [t.text for turns in sides for t in turns]
        scores = iter(self.complaints.score(texts))
        outcomes = self._outcomes(calls)
        out = []
        for call, turns, outcome in zip(calls, sides, outcomes):
            complaint_scores = {t.index: float(next(scores)) for t in turns}
            if outcome is not None and outcome.state == Resolution.RESOLVED and outcome.turn_index is not None:
                # Once the problem is solved, what the customer says from the fix on answers the fix
                # ("No, nothing more. Thanks for sorting it out."): an implicit complaint read from
                # tone and meaning there is the closing ritual, not a grievance. Explicit complaint
                # phrases and every other signal (a polite cancellation) are still found.
                for index in complaint_scores:
                    if index >= outcome.turn_index:
                        complaint_scores[index] = 0.0
            signals = self.detect(call, turns, complaint_scores)
            out.append(call.replace(signals=tuple(signals)))
        return out

    def detect(self, call: CallAnalysis, customer: tuple[Turn, ...], complaint_scores: dict[int, float]) -> list[Signal]:
        found: list[Signal] = []
        for turn in customer:
            utt = parse_utterance(turn.text)
            if not utt.tokens:
                continue
            kinds: set[SignalKind] = set()
            for rule in CUSTOMER_RULES:
                if rule.kind in kinds:
                    continue
                for m in rule.pattern.finditer(utt.text):
                    if rule.negatable and _negated(utt, m.start()):
                        continue
                    found.append(_signal(rule.kind, rule.strength, turn, utt, m.start(), m.end()))
                    kinds.add(rule.kind)
                    break
            if self.competitor_names is not None and SignalKind.COMPETITOR not in kinds:
                m = self.competitor_names.search(utt.text)
                if m:
                    found.append(_signal(SignalKind.COMPETITOR, 0.9, turn, utt, m.start(), m.end()))
            score = complaint_scores.get(turn.index, 0.0)
            if SignalKind.COMPLAINT not in kinds and score >= self.config.complaint_threshold:
                found.append(_signal(SignalKind.COMPLAINT, round(score, 3), turn, utt, 0, len(utt.text)))
        found += self._sales_on_low_trust(call)
        found += self._unresolved_end(call)
        return sorted(found, key=lambda s: (s.start or 0.0, s.kind))

    def _sales_on_low_trust(self, call: CallAnalysis) -> list[Signal]:
        out = []
        trust = None  # the customer's latest trust, as the agent speaks
        for turn in call.turns:
            if turn.role == "customer":
                if turn.emotion is not None:
                    trust = turn.emotion.trust
                continue
            if turn.role != "agent" or trust is None or trust >= self.config.low_trust:
                continue
            utt = parse_utterance(turn.text)
            m = SALES_CUES.search(utt.text)
            if m:
                out.append(_signal(SignalKind.SALE_ON_LOW_TRUST, round(min(1.0, 0.5 + abs(trust) / 2), 3), turn, utt,
                                   m.start(), m.end()))
        return out

    def _unresolved_end(self, call: CallAnalysis) -> list[Signal]:
        """The call ends unresolved when an unresolved phrase falls in its last turns and no
        resolution is said after it; the customer's closing trust, when known, adds strength."""
        closing = [t for t in call.turns if t.text.strip()][-self.config.closing_turns:]
        evidence = None
        for turn in closing:
            utt = parse_utterance(turn.text)
            m = UNRESOLVED_CUES.search(utt.text)
            if m:
                evidence = (turn, utt, m)
            elif evidence is not None and RESOLVED_CUES.search(utt.text):
                evidence = None
        if evidence is None:
            return []
        turn, utt, m = evidence
        strength = 0.7
        last_customer = [t for t in call.customer_turns() if t.emotion is not None]
        if last_customer and last_customer[-1].emotion is not None:
            strength = 0.6 + 0.3 * max(0.0, -last_customer[-1].emotion.trust)
        return [_signal(SignalKind.UNRESOLVED_END, round(strength, 3), turn, utt, m.start(), m.end())]


def _signal(kind: SignalKind, strength: float, turn: Turn, utt: Utterance, start: int, end: int) -> Signal:
    first, last = quote_for(utt, start, end)
    t0, t1 = span_times(turn, first, last, len(utt.words))
    return Signal(kind=kind, strength=float(strength), turn_index=turn.index, start=t0, end=t1,
                  quote=" ".join(utt.words[first:last + 1]))
