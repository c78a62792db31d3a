"""Resolution respects negation: a fix the customer denies is not a resolution (real encoder)."""

from __future__ import annotations

from wocas.schema import Resolution
from wocas.stages.resolution import ResolutionStage

from tests.test_emotion import transcript_call

ASKED = [
    ("customer", "My broadband keeps dropping every evening."),
    ("agent", "I have reset the line from our end, that should sort it out. Is it working now?"),
]
DENIED = ("No, that didn't fix it, thanks anyway.", "No, it is not working, thank you.",
          "That didn't solve it. Okay, thanks, bye.")


def test_a_fix_the_customer_denies_politely_is_not_resolved_and_a_confirmed_one_is():
    stage = ResolutionStage()
    for reply in DENIED:
        assert stage.process_call(transcript_call(ASKED + [("customer", reply)])).resolution.state != Resolution.RESOLVED, reply
    confirmed = stage.process_call(transcript_call(ASKED + [("customer", "Yes, that fixed it, it's working now. Thanks.")]))
    assert confirmed.resolution.state == Resolution.RESOLVED
