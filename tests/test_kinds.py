"""One spelling per kind, checked where records are read; and the QA flags stage end to end:
the flags `wocas run` stores are what the review app shows, the per-call JSON holds and the
report counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from wocas.analytics.report import write_report
from wocas.cli import main
from wocas.config import Config
from wocas.kinds import FlagKind, SignalKind, UnknownKind
from wocas.pipeline import build_stages, check_order
from wocas.review import create_app
from wocas.review.queries import SnapshotAccess, queue_calls
from wocas.satisfaction.model import CallFacts, SatisfactionModel
from wocas.schema import Call, CallAnalysis, Signal, Turn
from wocas.stages.flags import FlagsStage
from wocas.store.store import Store


def _record(kinds: list[str]) -> dict:
    call = CallAnalysis(call=Call(call_id="old-1", source="old-1.json", kind="transcript"),
                        turns=(Turn(index=0, speaker="customer", role="customer", start=0.0, end=3.0,
                                    text="I want a manager, this is not sorted"),))
    record = call.to_json()
    record["signals"] = [{"kind": k, "strength": 0.8, "turn_index": 0, "start": 0.0, "end": 3.0, "quote": "x"}
                         for k in kinds]
    return record


def test_a_misspelt_signal_kind_fails_validation():
    with pytest.raises(ValidationError, match="unknown signal kind 'escalaton'"):
        Signal(kind="escalaton", strength=0.5)
    with pytest.raises(ValidationError):
        CallAnalysis.from_json(_record(["cancel_intent", "sale_on_low_trus"]))
    with pytest.raises(UnknownKind):
        SignalKind.parse("Cancel_Intent")
    with pytest.raises(ValidationError):
        Turn(index=0, speaker="x", role="supervisor", start=0.0, end=1.0, text="")


def test_a_record_with_old_spellings_loads_to_the_one_spelling(tmp_path):
    old = _record(["escalation", "sale_to_frustrated", "unresolved", "complaint"])
    loaded = CallAnalysis.from_json(old)
    assert [s.kind for s in loaded.signals] == [SignalKind.ESCALATION_REQUEST, SignalKind.SALE_ON_LOW_TRUST,
                                                SignalKind.UNRESOLVED_END, SignalKind.COMPLAINT]
    assert loaded.to_json()["signals"][0]["kind"] == "escalation_request"
    # an old store: the record column still says "escalation"; Store.load reads the one spelling
    with Store(tmp_path / "old.duckdb") as store:
        store.write([loaded], run_id="r", pipeline_version="v")
        store.execute("UPDATE calls SET record = ? WHERE call_id = 'old-1'", [json.dumps(old)])
        assert store.load("old-1").signals[0].kind == "escalation_request"
    # the satisfaction model's hand-set weights answer to either spelling alike
    new = SatisfactionModel.fact_adjustments(CallFacts(signals={"escalation_request": (0.8, "x")}))
    assert SatisfactionModel.fact_adjustments(CallFacts(signals={"escalation": (0.8, "x")})) == new
    assert new["signal:escalation_request"][0] < 0


def test_the_flags_stage_runs_after_satisfaction():
    stages = build_stages(Config())
    names = [s.name for s in stages]
    assert names[-1] == "flags" and names.index("satisfaction") < names.index("flags")
    check_order(stages)


ANGRY = [
    ("agent", "Thanks for calling Northwind Energy, you are speaking with Sam, how can I help?"),
    ("customer", "This is the third time I am calling about the same double charge on my bill and I am furious."),
    ("agent", "I am sorry to hear that. While I have you, can I interest you in our premium bundle?"),
    ("customer", "Are you joking? This is unacceptable. I want to cancel my account and go to a competitor."),
    ("agent", "I understand. I have raised a ticket and someone will call you back."),
    ("customer", "That does not help at all. I will be reporting you to the ombudsman."),
]


@pytest.fixture(scope="module")
def run_out(tmp_path_factory, samples_dir: Path) -> Path:
    tmp = tmp_path_factory.mktemp("flags")
    angry = {"call_id": "angry-1", "customer_id": "C-9", "agent_id": "A-1", "started_at": "2026-11-03T09:00:00",
             "turns": [{"speaker": r, "text": t} for r, t in ANGRY]}
    inputs = tmp / "calls.jsonl"
    inputs.write_text(json.dumps(angry) + "\n" + (samples_dir / "chats.jsonl").read_text())
    out = tmp / "out"
    assert main(["run", str(inputs), "--out", str(out), "--quiet"]) == 0
    return out


def test_stored_flags_are_what_the_review_app_shows_the_json_holds_and_the_report_counts(run_out):
    with Store(run_out / "wocas.duckdb") as store:
        call = store.load("angry-1")
        happy = store.load("chat-0001")
        stored_kinds = store.query("SELECT flags FROM calls WHERE call_id = 'angry-1'")[0]["flags"]
        write_report(store, run_out / "report")
    kinds = [f.kind for f in call.flags]
    assert {FlagKind.DEFECTION_RISK, FlagKind.FRUSTRATED_SALE} <= set(kinds), call.flags
    assert happy.flags == ()
    assert stored_kinds == [k.value for k in kinds]
    # the stage is pure: running it again on the stored record gives the stored flags
    assert FlagsStage(Config().flags).process_call(call).flags == call.flags
    defection = next(f for f in call.flags if f.kind == FlagKind.DEFECTION_RISK)
    assert defection.turn_index is not None and call.turns[defection.turn_index].role == "customer"

    with SnapshotAccess(run_out / "wocas.duckdb").connect() as con:
        shown = {c["call_id"]: c["flags"] for c in queue_calls(con)}
    assert shown["angry-1"] == call.flags and shown["chat-0001"] == ()
    client = TestClient(create_app(run_out / "wocas.duckdb", None, allowed_hosts=("testserver",)))
    page = client.get("/calls/angry-1").text
    for f in call.flags:
        assert f'id="flag-{f.kind}"' in page and f.label in page
    assert "angry-1" in client.get("/?flag=defection_risk").text

    exported = json.loads((run_out / "calls" / "angry-1.json").read_text())
    assert exported["flags"] == [f.model_dump(mode="json") for f in call.flags]
    assert exported["flags"][0]["kind"] in {k.value for k in FlagKind}

    report = json.loads((run_out / "report" / "report.json").read_text())
    assert {r["flag"]: r["calls"] for r in report["flags"]} == {k.value: 1 for k in kinds}
    html = (run_out / "report" / "report.html").read_text()
    assert 'id="flags"' in html and "sale to a frustrated customer" in html
