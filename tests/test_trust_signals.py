"""Complaint and defection signals respect the outcome: a thank-you after a fix is not a
complaint, a polite cancellation is still a cancellation; real encoder, calls written here."""

from __future__ import annotations

import pytest

from wocas.kinds import SignalKind
from wocas.stages.signals import SignalsStage

from tests.test_emotion import transcript_call

THANKED_AFTER_FIX = [
    ("agent", "Thanks for calling, how can I help?"),
    ("customer", "Hi, I was charged twice for my order last week."),
    ("agent", "I can see that. I've refunded the second payment, it will be back in your account tonight."),
    ("customer", "Brilliant, that's great."),
    ("agent", "Is there anything else I can help with?"),
    ("customer", "No, nothing more. Thanks for sorting it out."),
]
POLITE_CANCELLATION = [
    ("agent", "Good morning, how can I help?"),
    ("customer", "Hello, I'd like to cancel my broadband contract please, thank you."),
    ("agent", "Of course, I've cancelled it and sent the confirmation."),
    ("customer", "Lovely, thanks so much, have a nice day."),
]
COMPLAINT_LEFT_UNSOLVED = [
    ("agent", "How can I help?"),
    ("customer", "The engineer never came and nobody has called me back in two weeks."),
    ("agent", "I'm afraid I can't see any booking on my system."),
    ("customer", "So I've waited in all week for nothing and you can't even tell me why."),
]


@pytest.fixture(scope="module")
def stage() -> SignalsStage:
    return SignalsStage()


def _kinds(stage: SignalsStage, lines, turn: int | None = None) -> set[str]:
    out = stage.process_call(transcript_call(lines))
    return {s.kind for s in out.signals if turn is None or s.turn_index == turn}


def test_thanks_after_the_fix_is_not_a_complaint(stage):
    assert SignalKind.COMPLAINT not in _kinds(stage, THANKED_AFTER_FIX, turn=5)


def test_a_polite_cancellation_is_still_a_cancellation(stage):
    assert SignalKind.CANCEL_INTENT in _kinds(stage, POLITE_CANCELLATION, turn=1)


def test_a_complaint_left_unsolved_is_still_found(stage):
    assert SignalKind.COMPLAINT in _kinds(stage, COMPLAINT_LEFT_UNSOLVED)
