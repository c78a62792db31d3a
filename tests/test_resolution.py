"""The call's resolution (zero-shot over the shared encoder) and a closing state that follows the
outcome rather than the politeness; real models, calls written here (not from the challenge set)."""

from __future__ import annotations

import pytest

from wocas.config import EmotionConfig
from wocas.schema import CallAnalysis, Resolution
from wocas.stages.emotion import EmotionStage
from wocas.stages.resolution import ResolutionStage
from wocas.stages.signals import SignalsStage
from wocas.stages.trajectory import TrajectoryStage

from tests.test_emotion import transcript_call

CALLS = {
    Resolution.RESOLVED: [
        ("customer", "My direct debit was taken twice this month."),
        ("agent", "I can see that. I've refunded the second payment, it'll be back in your account by tonight."),
        ("customer", "Brilliant, that's sorted then. Thank you."),
    ],
    Resolution.PARTLY_RESOLVED: [
        ("customer", "I was overcharged forty pounds and my router is broken."),
        ("agent", "I can refund half of the charge today, but I can't do anything about the router until next month."),
        ("customer", "Well, it's better than nothing I suppose."),
    ],
    Resolution.TRANSFERRED: [
        ("customer", "I need to change the name on my mortgage."),
        ("agent", "That's handled by our mortgage team, I'll put you through to them now, please hold."),
        ("customer", "Okay, put me through."),
    ],
    Resolution.CALLBACK_PROMISED: [
        ("customer", "The heating engineer never came today."),
        ("agent", "I'm sorry. The scheduling team will phone you back tomorrow morning to rebook."),
        ("customer", "Alright, I'll wait for their call."),
    ],
    Resolution.UNRESOLVED: [
        ("customer", "Why was I charged a late fee when I paid on time?"),
        ("agent", "I'm afraid I can't remove it, the decision is final."),
        ("customer", "So nothing's going to change then."),
    ],
    Resolution.CUSTOMER_GAVE_UP: [
        ("customer", "I've been trying to get my parcel redelivered for a week."),
        ("agent", "I'd need the reference number from the card they left."),
        ("customer", "Forget it. I'll sort it out myself, there's no point."),
    ],
}
POLITE_AFTER_REFUSAL = [
    ("customer", "My claim was rejected and nobody will tell me why."),
    ("agent", "I'm afraid I can't see the reason, and I can't reopen it."),
    ("customer", "That's ridiculous, I've paid you for ten years."),
    ("agent", "I'm sorry, there's nothing more I can do."),
    ("customer", "Right. Okay. Thanks anyway."),
    ("agent", "Is there anything else?"),
    ("customer", "No. Thanks, bye."),
]


@pytest.fixture(scope="module")
def resolution() -> ResolutionStage:
    return ResolutionStage()


@pytest.mark.parametrize("state", list(CALLS))
def test_each_outcome_is_read_with_its_evidence_turn(resolution, state):
    out = resolution.process_call(transcript_call(CALLS[state], call_id=str(state)))
    assert out.resolution is not None and out.resolution.state == state
    assert 0 < out.resolution.confidence <= 1
    evidence = out.turns[out.resolution.turn_index]
    assert out.resolution.quote == evidence.text


def test_a_call_with_nothing_said_gets_no_resolution(resolution):
    call = transcript_call([])
    assert resolution.process_call(call).resolution is None


def _full(lines: list[tuple[str, str]], resolution: ResolutionStage) -> CallAnalysis:
    call = EmotionStage(EmotionConfig()).process_call(transcript_call(lines))
    call = SignalsStage().process_call(call)
    call = resolution.process_call(call)
    return TrajectoryStage(EmotionConfig()).process_call(call)


def test_a_polite_goodbye_after_a_refusal_is_not_a_recovery(resolution):
    out = _full(POLITE_AFTER_REFUSAL, resolution)
    assert out.resolution.state == Resolution.UNRESOLVED
    customer = out.trajectories["customer"]
    assert customer.shape not in ("recovered", "steady-positive")
    assert customer.closing < 0
    assert customer.resolution_at == out.turns[out.resolution.turn_index].start


def test_one_customer_turn_is_not_enough_to_shape(resolution):
    out = _full([("agent", "Hello, how can I help?"), ("customer", "Just checking my balance, thanks.")], resolution)
    assert "customer" not in out.trajectories
    assert out.trajectory_state == "not_enough_customer_speech"
    assert out.trajectories["agent"].shape  # the agent side is still shaped
