"""What the customer says, as the jobs and signals stages both read it: the customer's side of
a call, and the upstream failures they describe (each with the function that owns it)."""

from __future__ import annotations

import re

from wocas.schema import CallAnalysis, Turn

# Upstream failures in the customer's words -> the function that owns them.
PREVENTABLE_CUES: list[tuple[re.Pattern[str], str]] = [(re.compile(p), owner) for p, owner in (
    (r"\b(?:charged|billed|taken) (?:me )?(?:twice|two times|double)\b|\bdouble (?:charged|billed)\b", "billing"),
    (r"\bover ?charged\b|\bwrong (?:amount|charge|bill|price|rate)\b|\bbill is wrong\b|\bshouldnt have been charged\b", "billing"),
    (r"\b(?:never|still not|still hasnt|still havent|hasnt|hasnt yet|didnt|not yet) (?:been )?(?:arrived?|came|come|turned up|delivered|received (?:it|my|the|anything))\b", "logistics"),
    (r"\bstill waiting (?:for|on)\b|\b(?:late|lost|missing) (?:delivery|parcel|package|order|item)\b", "logistics"),
    (r"\bout of stock\b|\bwrong (?:item|size|colour|color|product|order)\b|\barrived (?:damaged|broken|smashed)\b", "logistics"),
    (r"\b(?:stopped|isnt|not|doesnt|wont|never) work(?:ing|ed|s)?\b|\bfaulty\b|\bdefective\b|\bbroken\b|\bkeeps (?:crashing|dropping|restarting|freezing|cutting out)\b", "product"),
    (r"\b(?:confusing|doesnt make (?:any )?sense|dont understand (?:why|the|what|how)|nobody (?:told|explained))\b", "policy"),
    (r"\b(?:you|they|he|she|your colleague|the agent) (?:said|promised|told me)\b.*\b(?:would|will|wasnt|didnt|never)\b", "service"),
    (r"\b(?:was|were) supposed to\b|\bnever (?:called|rang|got back)\b|\bdidnt (?:call|ring|get) (?:me )?back\b", "service"),
    (r"\b(?:second|third|fourth|fifth|two|three|four|five|several|multiple|many) (?:times?|calls?)\b|\bcalled (?:before|already|yesterday|last week)\b|\balready (?:called|rang|phoned|spoken)\b", "service"),
    (r"\bstill (?:not )?(?:fixed|resolved|sorted)\b|\bstill (?:isnt|hasnt been) (?:fixed|resolved|sorted)\b", "service"),
)]


def customer_side(call: CallAnalysis) -> tuple[Turn, ...]:
    """The customer's turns; when roles are unknown, every turn not marked agent."""
    turns = call.customer_turns()
    if not turns:
        turns = tuple(t for t in call.turns if t.role != "agent")
    return turns
