"""Per-customer records over several nights of transcripts run through the real pipeline
(`wocas run` in-process, the embedded models), then `wocas customers` and the roll-up."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from wocas.cli import main
from wocas.config import load_config
from wocas.analytics.customers import Factor, defection_risk
from wocas.pipeline import build_stages


def _call(call_id, customer, started_at, turns, **meta):
    return {"call_id": call_id, "customer_id": customer, "agent_id": "agent-7", "started_at": started_at,
            "turns": [{"speaker": role, "text": text} for role, text in turns], **meta}


NIGHT_1 = [
    _call("n1-alice", "alice", "2024-03-04T09:10:00", [
        ("agent", "Good morning, you're through to billing, how can I help?"),
        ("customer", "You have charged me twice for my March bill. I was billed forty pounds two times."),
        ("agent", "I'm sorry about that. I can see two payments. I have raised a ticket with the billing team."),
        ("customer", "So it's not fixed? I want my money back, this is really annoying."),
        ("agent", "The billing team will look at it within five working days."),
        ("customer", "Not good enough. I'm not happy at all."),
    ], customer_value=1200, disposition="billing", resolved="false"),
    _call("n1-bob", "bob", "2024-03-04T10:00:00", [
        ("agent", "Hello, how can I help today?"),
        ("customer", "Hi, I've moved house and I'd like to change my address please."),
        ("agent", "Of course, I've updated your address now. Anything else?"),
        ("customer", "No, that's perfect. Thank you so much, great service!"),
    ], customer_value=300, disposition="address change", resolved="true"),
    _call("n1-carol", "carol", "2024-03-04T11:30:00", [
        ("agent", "Hello, you're through to deliveries."),
        ("customer", "My parcel is a week late, this is ridiculous and terrible, I'm furious."),
        ("agent", "I'm sorry. I've found it: it was held at the depot. It will be delivered tomorrow "
                  "morning and I've refunded your delivery charge."),
        ("customer", "Oh wonderful, thank you, that's great. I really appreciate your help, you've been brilliant."),
    ], customer_value=800, disposition="delivery", resolved="true"),
    _call("n1-dave", "dave", "2024-03-04T15:00:00", [
        ("agent", "Hello, how can I help?"),
        ("customer", "I want to complain. Your engineer was rude and never turned up on Tuesday. "
                     "This is unacceptable and I'm thinking of switching to another provider."),
        ("agent", "I understand. I can book another engineer visit for Friday."),
        ("customer", "Fine, but I'm not happy about it and I'll leave if it happens again."),
    ], customer_value=500, disposition="engineer visit", resolved="true"),
]
NIGHT_2 = [
    _call("n2-alice", "alice", "2024-03-06T09:40:00", [
        ("agent", "Hello, you're through to billing."),
        ("customer", "I called two days ago because you charged me twice for March. It is still not refunded."),
        ("agent", "I'm sorry, the ticket is still open with the billing team."),
        ("customer", "This is the second time I've called. It's ridiculous. If it isn't sorted I'm cancelling "
                     "and going to another provider."),
        ("agent", "I understand your frustration."),
        ("customer", "Still not resolved. Terrible."),
    ], customer_value=1200, disposition="billing", resolved="false"),
    _call("n2-bob", "bob", "2024-03-06T12:00:00", [
        ("agent", "Hello, how can I help?"),
        ("customer", "Hi, I'd like to upgrade my broadband to the faster package."),
        ("agent", "Done: you're on the faster package from tomorrow."),
        ("customer", "Brilliant, thanks a lot!"),
    ], customer_value=300, disposition="upgrade", resolved="true"),
]
NIGHT_3 = [
    _call("n3-bob", "bob", "2024-03-20T12:00:00", [
        ("agent", "Hello, how can I help?"),
        ("customer", "Hi, could you tell me when my contract ends?"),
        ("agent", "It ends on the first of September."),
        ("customer", "Great, thank you!"),
    ], customer_value=300, disposition="contract question", resolved="true"),
]


def _write(path: Path, calls: list[dict]) -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in calls))
    return path


def _customers(out: Path) -> dict[str, dict]:
    con = duckdb.connect(str(out / "wocas.duckdb"), read_only=True)
    try:
        cursor = con.execute("SELECT * FROM customers")
        cols = [d[0] for d in cursor.description]
        return {row[0]: dict(zip(cols, row)) for row in cursor.fetchall()}
    finally:
        con.close()


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    """Three nightly runs into one store; the customers table after each."""
    tmp = tmp_path_factory.mktemp("nights")
    out = tmp / "out"
    snapshots = []
    for i, calls in enumerate((NIGHT_1, NIGHT_2, NIGHT_3), 1):
        source = _write(tmp / f"night{i}.jsonl", calls)
        assert main(["run", str(source), "--out", str(out), "--quiet"]) == 0
        snapshots.append(_customers(out))
    return out, snapshots


def _stage_names() -> set[str]:
    return {type(s).name for s in build_stages(load_config())}


def test_records_cover_every_run_in_the_store(nights):
    _, (n1, n2, n3) = nights
    assert set(n1) == {"alice", "bob", "carol", "dave"}
    assert n3["bob"]["contacts"] == 3 and n3["bob"]["usage"] == "heavy"
    assert n3["alice"]["contacts"] == 2 and n3["alice"]["usage"] == "light"
    assert str(n3["bob"]["first_contact"]).startswith("2024-03-04")
    assert str(n3["bob"]["last_contact"]).startswith("2024-03-20")
    assert json.loads(n3["bob"]["contacts_by_channel"]) == {"text": 3}


def test_repeat_contact_about_the_same_problem_raises_risk(nights):
    _, (n1, n2, _) = nights
    assert n1["alice"]["repeat_contacts"] == 0
    assert n2["alice"]["repeat_contacts"] == 1
    assert n2["alice"]["defection_risk"] > n1["alice"]["defection_risk"]
    assert any("repeat contact" in r for r in n2["alice"]["risk_reasons"])
    # bob's second call is about something else and his first was resolved: not a repeat
    assert n2["bob"]["repeat_contacts"] == 0
    jobs = {j["reason"]: j["status"] for j in json.loads(n2["alice"]["jobs"])}
    assert "open" in jobs.values()
    assert n2["alice"]["open_jobs"]


# Was a strict xfail (#19): the heads trained on long, outcome-balanced calls read this two-turn info call as
# unresolved. Fixed by training on ordinary traffic (models/training/trust_calls6.txt: 60 short calls).
def test_a_happy_customer_with_a_plain_question_is_not_at_risk(nights):
    _, (_, _, n3) = nights
    assert not n3["bob"]["at_risk"]


def test_risk_ordering_and_value_at_risk(nights):
    _, (_, _, n3) = nights
    risk = {c: n3[c]["defection_risk"] for c in n3}
    assert all(0.0 <= r <= 1.0 for r in risk.values())
    assert risk["alice"] > risk["bob"] and risk["alice"] > risk["carol"]
    assert risk["dave"] > risk["bob"]
    assert n3["alice"]["at_risk"]
    for c in n3:
        assert n3[c]["value_at_risk"] == pytest.approx(n3[c]["defection_risk"] * n3[c]["value"], abs=0.01)
    assert n3["alice"]["value_at_risk"] > n3["bob"]["value_at_risk"]
    # the happy customer's emotion does not fall; the unhappy one's never rises above neutral
    assert n3["alice"]["emotion_last"] < n3["bob"]["emotion_last"]


# Strict xfail since 2026-12-06 (issue 19): the context head reads carol's warm thanks right after a
# furious opening as neutral (-0.07; a longer warm closing after the same opening reads -0.73, and
# +0.41 after a calm one): it leans on the customer's running state. The twelve-writer chain hid this
# with an outcome weight of 0.5 on the closing (closing 0.24); the fifteen-writer refit chose 0.2
# (closing 0.02, under rescue_to). The same weakness is in both sets of heads.
@pytest.mark.xfail(strict=True, reason="context head: an abrupt turn from fury to warm thanks reads neutral")
def test_value_rescued_when_frustration_turns_to_trust(nights):
    if "emotion" not in _stage_names():
        pytest.skip("no emotion stage in the pipeline yet: no trajectory to see a turnaround in")
    _, (_, _, n3) = nights
    assert n3["carol"]["rescued_calls"] == 1
    assert n3["carol"]["value_rescued"] == pytest.approx(800)
    assert n3["alice"]["value_rescued"] == 0


def test_unlogged_complaint_is_listed(nights):
    if "signals" not in _stage_names():
        pytest.skip("no signals stage in the pipeline yet: complaints are not detected")
    from wocas.analytics.customers import rollup
    from wocas.config import CustomersConfig
    from wocas.store import Store

    out, (_, _, n3) = nights
    assert n3["dave"]["unlogged_complaint"]
    assert not n3["bob"]["unlogged_complaint"]
    # the fitted weights (churn-risk) weigh an unlogged complaint 0; the hand-set ones list it
    with Store(out / "wocas.duckdb") as store:
        hand_set = {r["customer_id"]: r for r in rollup(store, CustomersConfig(risk_weights=""))}
    assert any("no complaint was logged" in r for r in hand_set["dave"]["risk_reasons"])


def test_cli_lists_riskiest_first_and_exports(nights, capsys):
    out, _ = nights
    assert main(["customers", "--out", str(out), "--top", "2"]) == 0
    printed = capsys.readouterr().out
    assert "alice" in printed and "bob" not in printed.split("exports:")[0]
    assert (out / "customers" / "customers.parquet").exists()
    csv_lines = (out / "customers" / "customers.csv").read_text().splitlines()
    assert csv_lines[0].startswith("customer_id,") and len(csv_lines) == 5
    periods = (out / "customers" / "customers_per_period.csv").read_text().splitlines()
    assert periods[0] == "period,unique_customers,contacts"
    assert [line.split(",")[1:] for line in periods[1:]] == [["4", "6"], ["1", "1"]]  # weeks of 4 and 18 March


def test_noisy_or_is_bounded_and_monotone():
    base = [Factor(0.3, "a"), Factor(0.5, "b")]
    risk, reasons = defection_risk(base)
    assert risk == pytest.approx(1 - 0.7 * 0.5)
    assert reasons == ["b [+0.50]", "a [+0.30]"]  # strongest first, each with its push
    more, _ = defection_risk(base + [Factor(0.2, "c")])
    assert risk < more <= 1.0
    assert defection_risk([Factor(1.5, "x")])[0] == 1.0


def test_repeat_window_is_configurable(nights):
    from wocas.config import CustomersConfig
    from wocas.analytics.customers import rollup
    from wocas.store import Store

    out, _ = nights
    with Store(out / "wocas.duckdb") as store:
        narrow = {r["customer_id"]: r for r in rollup(store, CustomersConfig(repeat_window_days=1.0))}
        wide = {r["customer_id"]: r for r in rollup(store, CustomersConfig())}
    assert narrow["alice"]["repeat_contacts"] == 0  # her second call came two days later
    assert wide["alice"]["repeat_contacts"] == 1
    assert narrow["alice"]["defection_risk"] < wide["alice"]["defection_risk"]


def test_the_inputs_are_read_without_writing_and_the_empty_weights_are_the_hand_set_risk(nights):
    from wocas.analytics.customers import HAND_SET_WEIGHTS, risk_factors, risk_inputs, rollup
    from wocas.config import CustomersConfig
    from wocas.store import Store

    out, _ = nights
    with Store(out / "wocas.duckdb") as store:
        store.execute("DELETE FROM customers")
        inputs = risk_inputs(store)
        assert store.query("SELECT count(*) AS n FROM customers")[0]["n"] == 0  # nothing written
        rows = {r["customer_id"]: r for r in rollup(store, CustomersConfig(risk_weights=""))}
    assert set(inputs) == set(rows)
    for cid, row in rows.items():
        risk, reasons = defection_risk(risk_factors(inputs[cid], HAND_SET_WEIGHTS))
        assert (row["defection_risk"], row["risk_reasons"]) == (risk, reasons)
