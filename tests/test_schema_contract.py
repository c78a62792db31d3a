"""The published contract (``wocas schema``) holds for real output: per-call JSON and store rows."""

import json

import pytest

from wocas.cli import main
from wocas.schema import SCHEMA_VERSION, CallAnalysis, sentiment_label
from wocas.store import Store

CALL = {"call_id": "k1", "customer_id": "C1", "started_at": "2026-11-02T09:14:00", "turns": [
    {"speaker": "agent", "text": "Hello, how can I help you today?", "start": 0.0, "end": 3.0},
    {"speaker": "customer", "text": "My card 4111 1111 1111 1111 was charged twice and I am furious.",
     "start": 2.5, "end": 8.0},
    {"speaker": "agent", "text": "I am sorry, I have refunded the second charge now.", "start": 11.0, "end": 15.0},
    {"speaker": "customer", "text": "Thank you, that is great.", "start": 15.5, "end": 17.0}]}


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    work = tmp_path_factory.mktemp("contract")
    (work / "in.json").write_text(json.dumps(CALL))
    assert main(["run", str(work / "in.json"), "--out", str(work / "out"), "--quiet"]) == 0
    assert main(["schema", "--out", str(work / "schema")]) == 0
    return work


def test_call_json_has_the_new_fields_and_matches_the_schema(ran):
    record = json.loads((ran / "out/calls/k1.json").read_text())
    schema = json.loads((ran / "schema/call.schema.json").read_text())
    assert schema["x-schema-version"] == record["schema_version"] == SCHEMA_VERSION
    with Store(ran / "out/wocas.duckdb", read_only=True) as store:
        run_id = store.scalar("SELECT run_id FROM runs")
    assert record["run_id"] == run_id and record["processing_seconds"] > 0
    assert record["call"]["timing"] == "given"
    # the customer starts at 2.5 s while the agent talks until 3.0 s; nobody talks 8-11 s
    assert record["interruptions"] == [{"start": 2.5, "end": 3.0, "speaker": "customer", "interrupted": "agent"}]
    assert record["non_talk"] == [{"start": 8.0, "end": 11.0}]
    span = record["redacted_spans"][0]
    text = record["turns"][span["turn"]]["text"]
    assert text[span["start"]:span["end"]] == f"[{span['type']}]" and "4111" not in text
    for turn in record["turns"]:
        assert turn["sentiment"] == sentiment_label(turn["emotion"]["trust"])
    assert set(record["sentiment_by_role"]) == {"agent", "customer"}
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(record, schema)
    # the record loads back whole (derived fields are computed again)
    assert CallAnalysis.from_json(record).to_json() == record


def test_store_rows_match_the_store_schema(ran):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ran / "schema/store.schema.json").read_text())
    with Store(ran / "out/wocas.duckdb", read_only=True) as store:
        for table in ("calls", "turns", "runs"):
            rows = json.loads(json.dumps(store.query(f"SELECT * FROM {table}"), default=str))
            assert rows
            for row in rows:
                jsonschema.validate(row, schema["$defs"][table])


def test_schema_rejects_a_record_missing_its_call(ran):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ran / "schema/call.schema.json").read_text())
    record = json.loads((ran / "out/calls/k1.json").read_text())
    del record["call"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(record, schema)
