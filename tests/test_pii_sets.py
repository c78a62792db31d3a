"""The labelled PII sets under tests/data: every span's offsets hold its text, its type is one the
scorer knows, and each writer's set keeps its dev / heldout split."""

from pathlib import Path

import pytest

from benchmarks.pii import load_records

DATA = Path(__file__).parent / "data"
TYPES = {"NAME", "ID", "ACCOUNT", "SSN", "PHONE", "EMAIL", "ADDRESS", "POSTCODE", "DOB", "CARD", "CVV", "EXPIRY",
         "IBAN", "SORT_CODE"}


@pytest.mark.parametrize("path", sorted(DATA.glob("pii_writer*.jsonl")), ids=lambda p: p.stem)
def test_writer_set_spans_hold_their_text(path):
    records = load_records(path)
    assert len(records) >= 100
    assert {r["split"] for r in records} == {"dev", "heldout"}
    for r in records:
        for turn in r["turns"]:
            for span in turn["spans"]:
                assert turn["text"][span["start"]:span["end"]] == span["text"], (r["id"], span)
                assert span["type"] in TYPES, (r["id"], span["type"])
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids))

