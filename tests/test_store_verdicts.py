"""The review app's verdicts (their own SQLite file) reach the store's ``verdicts`` table at each run.

Verdicts are written by the review app's own code (``Verdicts.add``, what the verdict form calls)
into a real SQLite file in WAL mode, and copied into a real DuckDB store.
"""

from __future__ import annotations

import gc
import json
import sqlite3
from pathlib import Path

import pytest

from wocas.cli import main
from wocas.review.verdicts import Verdicts, verdicts_path
from wocas.schema import Call, CallAnalysis, Flag, Turn
from wocas.store import Store, queries
from wocas.store import verdicts as store_verdicts
from wocas.store.verdicts import import_verdicts

LEAN = ("[emotion]\nenabled = false\n[jobs]\nenabled = false\n[signals]\nenabled = false\n"
        "[satisfaction]\nenabled = false\n")


def _flagged(call_id: str, *kinds: str) -> CallAnalysis:
    turn = Turn(index=0, speaker="customer", role="customer", start=0.0, end=3.0, text="I am leaving.")
    return CallAnalysis(call=Call(call_id=call_id, source=f"{call_id}.json", kind="transcript"), turns=(turn,),
                        duration=3.0, flags=tuple(Flag(kind=k, severity=50.0, reason="test") for k in kinds))


def _stored(store: Store) -> list[tuple]:
    return [tuple(r.values()) for r in store.query(
        "SELECT id, call_id, flag, verdict, comment, reviewer FROM verdicts ORDER BY id")]


def test_new_and_changed_verdicts_are_copied_once(tmp_path):
    path = tmp_path / "wocas.duckdb"
    reviewers = Verdicts(verdicts_path(path))
    reviewers.add("c-1", "defection_risk", "confirm", "said so twice", "ann")
    reviewers.add("c-2", "low_satisfaction", "reject", "", "bob")
    with Store(path) as store:
        first = import_verdicts(store)
        assert (first.read, first.copied, first.warning) == (2, 2, None)
        assert _stored(store) == [(1, "c-1", "defection_risk", "confirm", "said so twice", "ann"),
                                  (2, "c-2", "low_satisfaction", "reject", "", "bob")]
        stamps = store.query("SELECT created_at, imported_at FROM verdicts ORDER BY id")
        assert all(r["created_at"] is not None and r["imported_at"] >= r["created_at"] for r in stamps)

        assert import_verdicts(store).copied == 0  # idempotent
        assert len(_stored(store)) == 2

        reviewers.add("c-1", "defection_risk", "reject", "misheard", "cat")  # a new verdict
        with sqlite3.connect(reviewers.path) as con:  # and an edited one
            con.execute("UPDATE reviews SET comment = 'hold music' WHERE id = 2")
        again = import_verdicts(store)
        assert (again.read, again.copied) == (3, 2)
        assert _stored(store)[1:] == [(2, "c-2", "low_satisfaction", "reject", "hold music", "bob"),
                                      (3, "c-1", "defection_risk", "reject", "misheard", "cat")]


def test_a_missing_locked_or_broken_file_is_a_warning_and_keeps_what_was_copied(tmp_path, monkeypatch):
    path = tmp_path / "wocas.duckdb"
    with Store(path) as store:
        assert import_verdicts(store).warning is None  # no review app used yet: nothing to say
        Verdicts(verdicts_path(path)).add("c-1", "deteriorated", "confirm", "", "ann")
        assert import_verdicts(store).copied == 1

        monkeypatch.setattr(store_verdicts, "READ_TIMEOUT_S", 0.2)
        gc.collect()  # the app's connection above closes with its Verdicts
        holder = sqlite3.connect(verdicts_path(path), isolation_level=None, timeout=1)
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")  # a writer that keeps the file to itself (exclusive locking mode)
        holder.execute("DELETE FROM reviews")
        try:
            locked = store_verdicts.sync_for_run(store)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert "could not read the verdicts file" in locked.warning and "locked" in locked.warning

        verdicts_path(path).unlink()
        for extra in tmp_path.glob("wocas.verdicts.sqlite-*"):
            extra.unlink()
        missing = import_verdicts(store)
        assert "is missing" in missing.warning and "1 verdicts copied earlier are kept" in missing.warning

        verdicts_path(path).write_bytes(b"not a database, " * 64)
        broken = store_verdicts.sync_for_run(store)
        assert "could not read the verdicts file" in broken.warning
        assert _stored(store) == [(1, "c-1", "deteriorated", "confirm", "", "ann")]


def test_the_report_counts_the_latest_verdict_on_flags_the_calls_still_carry(tmp_path):
    path = tmp_path / "wocas.duckdb"
    reviewers = Verdicts(verdicts_path(path))
    reviewers.add("c-1", "defection_risk", "confirm", "", "ann")
    reviewers.add("c-2", "defection_risk", "confirm", "", "ann")
    reviewers.add("c-2", "defection_risk", "reject", "changed my mind", "ann")  # the latest counts
    reviewers.add("c-2", "deteriorated", "confirm", "", "bob")  # c-2 does not carry this flag
    with Store(path) as store:
        store.write([_flagged("c-1", "defection_risk", "low_satisfaction"), _flagged("c-2", "defection_risk"),
                     _flagged("c-3", "defection_risk")], run_id="r", pipeline_version="p")
        assert {r["flag"]: r for r in queries.flag_reviews(store)}["defection_risk"]["reviewed"] == 0
        import_verdicts(store)
        found = {r["flag"]: r for r in queries.flag_reviews(store)}
    assert found == {
        "defection_risk": {"flag": "defection_risk", "calls": 3, "reviewed": 2, "confirmed": 1, "rejected": 1},
        "low_satisfaction": {"flag": "low_satisfaction", "calls": 1, "reviewed": 0, "confirmed": 0, "rejected": 0}}


def test_each_run_copies_the_verdicts_and_a_lost_file_is_rebuilt_from_the_snapshot(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "chat.json").write_text(json.dumps({"call_id": "chat", "turns": [
        {"speaker": "customer", "text": "My card was declined."},
        {"speaker": "agent", "text": "I have unblocked it."}]}))
    config, out = tmp_path / "c.toml", tmp_path / "out"
    config.write_text(LEAN)
    run = ["run", str(inputs), "--out", str(out), "--config", str(config), "--quiet"]
    assert main(run) == 0  # no verdicts file yet: the run goes on
    reviewers = Verdicts(verdicts_path(out / "wocas.duckdb"))
    assert reviewers.path == out / "wocas.verdicts.sqlite"
    reviewers.add("chat", "low_satisfaction", "confirm", "", "ann")
    assert main(run) == 0
    assert main(run) == 0  # a second copy adds nothing
    with Store(out / "wocas.duckdb", read_only=True) as store:
        assert _stored(store) == [(1, "chat", "low_satisfaction", "confirm", "", "ann")]
    logs = "".join(p.read_text() for p in sorted((out / "logs").glob("*.log")))
    assert "1 new or changed copied" in logs and "0 new or changed copied" in logs

    # The file is lost: the review app starts a new one from the newest snapshot, ids kept.
    for p in out.glob("wocas.verdicts.sqlite*"):
        p.unlink()
    assert main(run) == 0
    assert "the 1 verdicts copied earlier are kept" in "".join(p.read_text() for p in (out / "logs").glob("*.log"))
    from wocas.review import create_app

    create_app(out / "wocas.duckdb", token=None)
    rebuilt = Verdicts(verdicts_path(out / "wocas.duckdb")).all()
    assert [(r["call_id"], r["flag"], r["verdict"], r["reviewer"]) for r in rebuilt] == [
        ("chat", "low_satisfaction", "confirm", "ann")]
    Verdicts(verdicts_path(out / "wocas.duckdb")).add("chat", "low_satisfaction", "reject", "", "bob")
    assert main(run) == 0
    with Store(out / "wocas.duckdb", read_only=True) as store:
        assert [r[0] for r in _stored(store)] == [1, 2]
