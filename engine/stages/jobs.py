"""Jobs-to-be-done, contact reason and preventable contacts.

The job is the customer's own statement of what they are trying to get done, found in their
turns by the phrases people use to say it ("I'm trying to...", "I need to...", "I'm calling
about..."), or else their first substantive turn. Each candidate statement is put on the
contact-reason taxonomy; the call's reason is that of its first job. A contact is
*preventable* when its reason is marked so in the taxonomy, or when the customer describes an
upstream failure (a billing error, a late delivery, a defect, a broken promise, a confusing
policy, a repeat of an open issue); the statement that says so is kept as a job, its evidence.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from wocas.config import JobsConfig
from wocas.models.text_encoder import TextEncoder
from wocas.reasons.classify import ExampleClassifier, HeadClassifier, Prediction, ReasonClassifier
from wocas.reasons.statements import PREVENTABLE_CUES, customer_side
from wocas.reasons.taxonomy import Taxonomy, load_taxonomy
from wocas.schema import CallAnalysis, Job, Turn
from wocas.stages.base import Stage, file_digest
from wocas.text.utterance import Utterance, parse_utterance, quote_for, span_times

log = logging.getLogger(__name__)

# What people say when they state their job; group "job" starts the normalised phrase.
JOB_CUES = [re.compile(p) for p in (
    r"\b(?:im|i am|we are|were|i was|we were) (?:just )?(?:trying|hoping|looking|wanting|planning|meaning) to (?P<job>.+)",
    r"\b(?:i|we) (?:really |just |urgently )?(?:want|need|needed|wanted|would like|d like|wish|have) to (?P<job>.+)",
    r"\b(?:id|wed|i would|we would) (?:really |just )?like to (?P<job>.+)",
    r"\b(?:i|we) (?:was|were|am|are) (?:hoping|wondering) (?:if|whether|to) (?:you could |i could |i can |we can )?(?P<job>.+)",
    r"\b(?:im|i am|were|we are) (?:calling|ringing|phoning|contacting you|getting in touch) (?:about|because|regarding|to|as) (?P<job>.+)",
    r"\b(?:the reason (?:im|i am) calling|reason for my call) (?:is )?(?:that |because )?(?P<job>.+)",
    r"\b(?:can|could) (?:you|someone) (?:please )?help me (?:to |with )?(?P<job>.+)",
    r"\b(?:im|i am|were|we are) (?:buying|moving|selling|getting married|going abroad|travelling|traveling|starting) (?P<job>.*)",
    r"\bhow (?:do|can) (?:i|we) (?P<job>.+)",
)]

_NOT_A_JOB = re.compile(r"(?:speak|talk|be put through|be transferred) (?:to|with) (?:a |the |your )?(?:manager|supervisor|someone|somebody|team leader|boss)|complain\b|make a complaint")
_SKIP_OPENERS = re.compile(r"^(?:hi|hello|hey|yes|yeah|yep|no|okay|ok|sure|right|thanks|thank you|good morning|good afternoon|bye)\b")


@dataclass(frozen=True)
class Candidate:
    turn: Turn
    utt: Utterance
    first: int  # word range of the statement in the turn
    last: int
    phrase: str
    cue: int  # 2 job cue, 1 preventable cue, 0 none
    preventable_owner: str | None
    order: int  # position among the customer's turns

    @property
    def statement(self) -> str:
        return " ".join(self.utt.words[self.first:self.last + 1])


def short_phrase(text: str, max_words: int = 10) -> str:
    """A short normalised form: lowercase, no fillers, cut at the first clause break."""
    words = text.split()
    for i, w in enumerate(words[1:], start=1):
        if w in {"but", "because", "and", "so", "cause", "which", "though", "although"} and i >= 3:
            words = words[:i]
            break
    words = words[:max_words]
    while words and words[-1] in {"the", "a", "an", "to", "and", "my", "of", "for", "with", "on", "in", "at", "it", "is",
                                   "even", "just", "really", "that"}:
        words.pop()
    return " ".join(words)


def find_candidates(turns: tuple[Turn, ...], max_turns: int) -> list[Candidate]:
    """Statements in the customer's turns that could be the job: one per cue found, plus each
    early turn's first substantive sentence."""
    found: list[Candidate] = []
    for order, turn in enumerate(turns):
        utt = parse_utterance(turn.text)
        if not utt.tokens:
            continue
        early = order < max_turns
        prev_owner = None
        prev_match = None
        for pattern, owner in PREVENTABLE_CUES:
            m = pattern.search(utt.text)
            if m:
                prev_owner, prev_match = owner, m
                break
        job_match = None
        for pattern in JOB_CUES:
            m = pattern.search(utt.text)
            if m and len(m.group("job").split()) >= 1:
                job_match = m
                break
        if job_match is not None and _NOT_A_JOB.match(job_match.group("job")):
            job_match = None  # "I want to speak to a manager" is an escalation, not a job
        if job_match is not None and (early or prev_match is not None):
            first, last = quote_for(utt, job_match.start(), job_match.end())
            found.append(Candidate(turn, utt, first, last, short_phrase(job_match.group("job")), 2, prev_owner, order))
        if prev_match is not None:
            first, last = quote_for(utt, prev_match.start(), prev_match.end())
            sentence = " ".join(utt.tokens[i] for i, o in enumerate(utt.origin) if first <= o <= last)
            found.append(Candidate(turn, utt, first, last, short_phrase(sentence), 1, prev_owner, order))
        if job_match is None and prev_match is None and early:
            content = [t for t in utt.tokens if len(t) > 2]
            if len(content) >= 3 and not (_SKIP_OPENERS.match(utt.text) and len(utt.tokens) <= 4):
                first, last = quote_for(utt, 0, len(utt.text))
                found.append(Candidate(turn, utt, first, last, short_phrase(utt.text), 0, None, order))
    return found


def shortlist(cands: list[Candidate], max_jobs: int) -> list[Candidate]:
    """The candidates worth classifying: stated jobs and described failures in the order said
    (a few more than are kept, since failures in a job's turn merge into it); else the first
    substantive statement."""
    cued = sorted((c for c in cands if c.cue > 0), key=lambda c: (-c.cue, c.order))
    if cued:
        return cued[: 2 * max_jobs]
    return cands[:1]


def build_classifier(config: JobsConfig, taxonomy: Taxonomy, encoder: TextEncoder) -> ReasonClassifier:
    if config.head:
        from wocas.models.registry import resolve

        return HeadClassifier(resolve(config.head).path, encoder, config.other_threshold)
    return ExampleClassifier(taxonomy, encoder, config.other_threshold)


class JobsStage(Stage):
    name = "jobs"
    requires = frozenset({"turns", "roles"})
    provides = frozenset({"jobs", "contact_reason", "preventable"})

    def __init__(self, config: JobsConfig | None = None, encoder: TextEncoder | None = None):
        self.config = config or JobsConfig()
        self.encoder = encoder or TextEncoder()  # the pipeline passes the one the text stages share
        self.taxonomy = load_taxonomy(self.config.taxonomy)
        self.classifier = build_classifier(self.config, self.taxonomy, self.encoder)

    @classmethod
    def identity(cls, section, encoder) -> str:
        from wocas.models.registry import resolve

        section = section or JobsConfig()
        taxonomy = resolve(section.taxonomy).path
        model = f"examples:{taxonomy.stem}:{file_digest(taxonomy)}"
        if section.head:
            folder = resolve(section.head).path
            model += f"+head:{folder.name}:{file_digest(folder / 'head.json')}{file_digest(folder / 'head.npz')}"
        return f"jobs-1+{model}+{(encoder or TextEncoder()).identity()}"

    def version(self) -> str:
        return self.version_for(self.config, self.encoder)

    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        return self.process_batch([call])[0]

    def process_batch(self, calls: list[CallAnalysis]) -> list[CallAnalysis]:
        per_call = [shortlist(find_candidates(customer_side(c), self.config.max_customer_turns), self.config.max_jobs)
                    for c in calls]
        # The whole turn is classified (the statement is its evidence): the signals stage embeds
        # the same customer turns, so the shared encoder's cache pays for each turn once.
        texts = [cand.turn.text for cands in per_call for cand in cands]
        predictions = iter(self.classifier.predict(texts, self.encoder.encode(texts)))
        out = []
        for call, cands in zip(calls, per_call):
            preds = [next(predictions) for _ in cands]
            jobs = self._choose(cands, preds)
            out.append(call.replace(
                jobs=tuple(jobs),
                contact_reason=jobs[0].reason if jobs else None,
                preventable=any(j.preventable for j in jobs) if jobs else None,
            ))
        return out

    def _choose(self, cands: list[Candidate], preds: list[Prediction]) -> list[Job]:
        """The stated jobs first (in the order said), then the failures described; the
        customer's first substantive statement when they state neither."""
        ranked = list(zip(cands, preds))  # already in order: see shortlist
        jobs: list[Job] = []
        seen_turns: set[tuple[int, int]] = set()
        for cand, pred in ranked:
            key = (cand.turn.index, cand.first)
            if key in seen_turns:
                continue
            seen_turns.add(key)
            if cand.cue == 1 and any(j.turn_index == cand.turn.index for j in jobs):
                # the failure is in a turn that is already a job: it is that job's evidence
                jobs = [j.replace(preventable=True, owner=j.owner or cand.preventable_owner)
                        if j.turn_index == cand.turn.index else j for j in jobs]
                continue
            reason = self.taxonomy.get(pred.reason)
            preventable = bool(reason and reason.preventable) or cand.preventable_owner is not None
            owner = reason.owner if reason else None
            if cand.preventable_owner and not (reason and reason.preventable):
                owner = cand.preventable_owner
            start, end = span_times(cand.turn, cand.first, cand.last, len(cand.utt.words))
            jobs.append(Job(statement=cand.statement, phrase=cand.phrase or pred.best.replace("_", " "),
                            reason=pred.reason, reason_confidence=round(pred.confidence, 4),
                            preventable=preventable, owner=owner, turn_index=cand.turn.index,
                            start=start, end=end))
            if len(jobs) >= self.config.max_jobs:
                break
        return jobs

