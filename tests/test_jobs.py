"""Jobs-to-be-done, contact reasons and preventable contacts on written call transcripts."""

from __future__ import annotations

import pytest

from wocas.config import JobsConfig
from wocas.pipeline import check_order
from wocas.schema import Call, CallAnalysis, Turn
from wocas.stages.jobs import JobsStage, short_phrase
from wocas.store import Store


def make_call(lines: list[tuple[str, str]], call_id: str = "c1") -> CallAnalysis:
    turns, t = [], 0.0
    for i, (role, text) in enumerate(lines):
        d = 0.3 * len(text.split())
        turns.append(Turn(index=i, speaker="S0" if role == "agent" else "S1", role=role, start=round(t, 3),
                          end=round(t + d, 3), text=text))
        t += d + 0.4
    return CallAnalysis(call=Call(call_id=call_id, source=f"{call_id}.json", kind="transcript"), turns=tuple(turns))


@pytest.fixture(scope="module")
def stage() -> JobsStage:
    return JobsStage(JobsConfig())


def test_the_job_in_the_customers_words(stage: JobsStage) -> None:
    call = make_call([("agent", "Hello, how can I help?"),
                      ("customer", "Hi. I'm trying to pay off the card before I travel, but the payment keeps failing."),
                      ("agent", "Let me look into that.")])
    [out] = stage.process_batch([call])
    job = out.jobs[0]
    assert job.phrase == "pay off the card before i travel"
    assert job.statement.startswith("I'm trying to pay off the card")
    assert job.turn_index == 1
    assert out.turns[1].start <= job.start < job.end <= out.turns[1].end
    assert job.reason == out.contact_reason
    assert job.reason in {"card_payment_problem", "make_payment"}
    assert 0.0 <= job.reason_confidence <= 1.0


@pytest.mark.parametrize("text, reason, preventable, owner", [
    ("My parcel never arrived and it says it was delivered.", "delivery_late_or_missing", True, "logistics"),
    ("I'd like to change the address on my account, we've moved house.", "update_personal_details", False, "account"),
    ("I've been charged twice for the same order.", "double_charge", True, "billing"),
    ("um yeah hi i i wanna uh cancel my subscription please", "cancel_subscription", False, "account"),
    ("my internet keeps dropping out every evening", "service_outage", True, "IT"),
])
def test_reasons_preventable_and_owner(stage: JobsStage, text: str, reason: str, preventable: bool, owner: str) -> None:
    [out] = stage.process_batch([make_call([("agent", "How can I help?"), ("customer", text)])])
    assert out.contact_reason == reason, out.jobs
    assert out.preventable is preventable
    assert out.jobs[0].owner == owner


def test_preventable_from_what_is_said(stage: JobsStage) -> None:
    """The reason (closing the account) is not preventable; the lost parcel behind it is."""
    text = "yeah hi i need to close my account its the 2nd time i rang about a parcel that never arrived"
    [out] = stage.process_batch([make_call([("agent", "how can i help"), ("customer", text)])])
    assert out.contact_reason == "close_account"
    assert out.preventable is True
    assert out.jobs[0].owner == "logistics"


def test_out_of_taxonomy_is_other(stage: JobsStage) -> None:
    text = "Do you know if the whales are migrating past the lighthouse this weekend?"
    [out] = stage.process_batch([make_call([("agent", "Hello?"), ("customer", text)])])
    assert out.contact_reason == "other"
    assert out.jobs[0].reason_confidence < stage.classifier.other_threshold


def test_no_customer_speech_no_job(stage: JobsStage) -> None:
    [out] = stage.process_batch([make_call([("agent", "Hello? Is anyone there?"), ("agent", "I'll hang up now.")])])
    assert out.jobs == () and out.contact_reason is None and out.preventable is None


def test_short_phrase() -> None:
    assert short_phrase("pay off the card before i travel but the payment fails") == "pay off the card before i travel"
    assert short_phrase("save for the deposit on our first house and also") == "save for the deposit on our first house"


def test_supervised_head_replaces_the_examples() -> None:
    stage = JobsStage(JobsConfig(head="intents-banking77"))
    [out] = stage.process_batch([make_call([("customer", "I am still waiting on my card, it has been two weeks.")])])
    assert out.contact_reason == "card_delivery"
    assert out.preventable is True and out.jobs[0].owner == "logistics"


def test_pipeline_order_and_store_tables(stage: JobsStage, tmp_path) -> None:
    from wocas.stages.signals import SignalsStage

    signals_stage = SignalsStage()
    check_order([stage, signals_stage], initial=frozenset({"call", "turns", "roles"}))

    call = make_call([("agent", "How can I help?"),
                      ("customer", "My order is two weeks late. This is the third time I've called.")])
    [out] = signals_stage.process_batch(stage.process_batch([call]))
    with Store(tmp_path / "w.duckdb") as store:
        store.write([out], "run1", "v1")
        jobs = store.query("SELECT reason, preventable, turn_idx, statement FROM jobs")
        signals = store.query("SELECT kind, turn_idx, quote, start, \"end\" FROM signals ORDER BY idx")
        assert store.load("c1").jobs == out.jobs
    assert jobs[0]["turn_idx"] == 1 and jobs[0]["preventable"] is True
    assert any(s["kind"] == "repeat_contact" and "third time" in s["quote"] for s in signals)
