"""The store package: schema version and migration from the previous release, the one open path
with its two errors, transactions, typed reads, and no raw DuckDB connection outside it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from wocas.errors import ExitCode, StoreError, StoreLocked, StoreMissing, UsageError
from wocas.store import Store, queries, schema
from wocas.store.rows import CallSummary, CustomerRow, RunRow

ROOT = Path(__file__).resolve().parent.parent
V1_SQL = Path(__file__).parent / "data" / "store_v1.sql"
LAZY_V1_TABLES = ("reviews", "satisfaction_calibrations", "outcomes", "outcome_validations", "insights_customers",
                  "insights_usage", "insights_chargeback", "insights_chargeback_reasons", "alerts", "insights_agents")


def _v1_store(path: Path, drop: tuple[str, ...] = ()) -> Path:
    """A store file exactly as the previous release left it (its DDL and rows, no version table)."""
    with duckdb.connect(str(path)) as con:
        con.execute(V1_SQL.read_text())
        for table in drop:
            con.execute(f"DROP TABLE {table}")
    return path


def _tables(store: Store) -> set[str]:
    return {r["table_name"] for r in store.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'")}


def _rows(store: Store, table: str) -> list[dict]:
    return store.query(f"SELECT * FROM {table} ORDER BY ALL")


def test_a_new_store_has_every_table_at_the_current_version(tmp_path):
    with Store(tmp_path / "new" / "wocas.duckdb") as store:
        assert store.version == schema.SCHEMA_VERSION
        assert _tables(store) == set(schema.TABLES) | {"schema_meta"}


def test_a_v1_store_is_upgraded_in_place_and_its_calls_still_load(tmp_path):
    path = _v1_store(tmp_path / "wocas.duckdb")
    with Store(path, read_only=True) as store:  # a read never writes: the file stays at version 1
        assert store.version == 1
        before = {t: _rows(store, t) for t in ("calls", "turns", "jobs", "signals", "customers", "runs", "reviews")}
        columns = {t: store.columns(t) for t in schema.TABLES if t != "verdicts"}  # v4's new table
    with Store(path) as store:
        assert store.version == schema.SCHEMA_VERSION
        assert _tables(store) == set(schema.TABLES) | {"schema_meta"}
        columns["calls"] += ["satisfaction_band", "resolution", "resolution_confidence"]  # later columns, added at the end
        columns["verdicts"] = ["id", "call_id", "flag", "verdict", "comment", "reviewer", "created_at", "imported_at"]
        assert {t: store.columns(t) for t in schema.TABLES} == columns  # same tables, same columns
        after = {t: _rows(store, t) for t in before}
        assert all(r.pop("resolution") is None and r.pop("resolution_confidence") is None
                   and r.pop("satisfaction_band") is None for r in after["calls"])
        assert after == before
        call = store.load("v1-angry")
        assert call is not None and call.call.customer_id == "C-1" and len(call.turns) == 4
        assert call.jobs[0].reason == "billing_error" and call.signals[0].kind == "cancel_intent"
        assert store.is_done("v1-fine", "", "pv1")
    with Store(path, read_only=True) as store:
        assert store.version == schema.SCHEMA_VERSION


def test_a_v1_store_gets_the_tables_it_never_needed_and_the_columns_older_ones_lack(tmp_path):
    path = _v1_store(tmp_path / "wocas.duckdb", drop=LAZY_V1_TABLES)
    with duckdb.connect(str(path)) as con:
        con.execute("ALTER TABLE jobs DROP COLUMN owner")
    with Store(path) as store:
        assert set(LAZY_V1_TABLES) <= _tables(store)
        assert "owner" in store.columns("jobs")
        assert [r["owner"] for r in store.query("SELECT owner FROM jobs")] == [None]
        assert store.query("SELECT flag FROM reviews") == []


def test_a_failed_migration_leaves_the_store_as_it_was(tmp_path, monkeypatch):
    path = _v1_store(tmp_path / "wocas.duckdb", drop=LAZY_V1_TABLES)

    def broken(con):
        schema.MIGRATIONS_ORIGINAL[1](con)  # does the whole upgrade, then fails
        raise RuntimeError("disk full")

    monkeypatch.setattr(schema, "MIGRATIONS_ORIGINAL", dict(schema.MIGRATIONS), raising=False)
    monkeypatch.setitem(schema.MIGRATIONS, 1, broken)
    with pytest.raises(RuntimeError, match="disk full"):
        Store(path)
    with Store(path, read_only=True) as store:
        assert store.version == 1 and not set(LAZY_V1_TABLES) & _tables(store)


def test_a_store_from_a_newer_release_is_refused(tmp_path):
    path = tmp_path / "wocas.duckdb"
    with Store(path) as store:
        store.execute("UPDATE schema_meta SET value = '99' WHERE key = 'version'")
    for read_only in (False, True):
        with pytest.raises(StoreError, match="newer"):
            Store(path, read_only=read_only)
    with duckdb.connect(str(path), read_only=True) as con:  # and it was not rewritten as an older version
        assert con.execute("SELECT value FROM schema_meta").fetchone()[0] == "99"


def test_a_second_process_gets_store_locked(tmp_path):
    path = tmp_path / "wocas.duckdb"
    Store(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from wocas.store import Store; s = Store(sys.argv[1]); "
                               "print('held', flush=True); time.sleep(30)", str(path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        for read_only in (False, True):
            with pytest.raises(StoreLocked, match="in use by another wocas process") as e:
                Store.open(path, read_only=read_only)
            assert e.value.exit_code == ExitCode.STORE_LOCKED == 3
    finally:
        holder.kill()
        holder.wait()
    with Store(path, read_only=True) as store:  # free again once the holder is gone
        assert store.version == schema.SCHEMA_VERSION


def test_reading_a_store_that_does_not_exist_is_store_missing(tmp_path):
    path = tmp_path / "nowhere" / "wocas.duckdb"
    for kwargs in ({"read_only": True}, {"create": False}):
        with pytest.raises(StoreMissing, match="no store at") as e:
            Store.open(path, **kwargs)
        assert isinstance(e.value, UsageError) and e.value.exit_code == ExitCode.USAGE
    assert not path.exists() and not path.parent.exists()


def test_replace_table_is_all_or_nothing(tmp_path):
    with Store(tmp_path / "wocas.duckdb") as store:
        store.replace_table("outcomes", [{"customer_id": "C-1", "churned": True}, {"customer_id": "C-2"}])
        assert [r["customer_id"] for r in _rows(store, "outcomes")] == ["C-1", "C-2"]
        with pytest.raises(Exception):  # the second row cannot be typed: nothing of the replacement lands
            store.replace_table("outcomes", [{"customer_id": "C-3"}, {"customer_id": "C-4", "churned": "maybe"}])
        assert [r["customer_id"] for r in _rows(store, "outcomes")] == ["C-1", "C-2"]
        with pytest.raises(RuntimeError):
            with store.transaction():
                store.append_rows("outcomes", [{"customer_id": "C-5"}])
                raise RuntimeError("stop")
        assert store.scalar("SELECT count(*) FROM outcomes") == 2


def test_typed_reads_of_runs_calls_and_customers(tmp_path):
    with Store(_v1_store(tmp_path / "wocas.duckdb")) as store:
        runs = queries.runs(store)
        assert runs == [RunRow(**{k: v for k, v in _rows(store, "runs")[0].items()})]
        assert runs[0].run_id == "run-v1" and runs[0].calls_ok == 2 and runs[0].status == "ok"
        calls = queries.call_summaries(store)
        assert [c.call_id for c in calls] == ["v1-angry", "v1-fine"] and all(isinstance(c, CallSummary) for c in calls)
        assert calls[0].meta == {"queue": "billing", "customer_value": "1000"} and calls[0].preventable is True
        assert [c.call_id for c in queries.call_summaries(store, "C-2")] == ["v1-fine"]
        customers = queries.customers(store)
        assert [c.customer_id for c in customers] == ["C-1", "C-2"] and isinstance(customers[0], CustomerRow)
        assert customers[0].risk_reasons and customers[0].value == 1000.0
        assert [c.customer_id for c in queries.customers(store, at_risk_only=True)] == ["C-1"]
        assert queries.customer(store, "C-2").value is None and queries.customer(store, "nobody") is None
        assert queries.satisfaction_scores(store, ["v1-fine", "nobody"]) == {"v1-fine": 4.6}
        totals = queries.risk_totals(store)
        assert (totals.at_risk, totals.customers, totals.value_at_risk) == (1, 2, customers[0].value_at_risk)


def test_no_code_outside_the_store_package_reaches_for_the_connection():
    pattern = re.compile(r"\.con\b|duckdb\.connect|import duckdb")
    offenders = []
    for folder in ("engine", "scripts", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if (ROOT / "engine" / "store") in path.parents:
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []


def test_a_v2_store_gains_the_resolution_columns_and_keeps_its_calls(tmp_path):
    path = tmp_path / "wocas.duckdb"
    with duckdb.connect(str(path)) as con:  # a v2 store: today's tables without the v3 columns
        for ddl in schema.TABLES.values():
            con.execute(ddl)
        con.execute("ALTER TABLE calls DROP COLUMN resolution")
        con.execute("ALTER TABLE calls DROP COLUMN resolution_confidence")
        con.execute("ALTER TABLE calls DROP COLUMN satisfaction_band")
        con.execute(schema.META_TABLE)
        con.execute("INSERT INTO schema_meta VALUES ('version', '2')")
        con.execute("INSERT INTO calls (call_id, status) VALUES ('old-call', 'ok')")
    with Store(path) as store:
        assert store.version == schema.SCHEMA_VERSION == 5
        assert store.has_table("verdicts")
        assert store.columns("calls")[-3:] == ["resolution", "resolution_confidence", "satisfaction_band"]
        assert store.query("SELECT call_id, resolution, resolution_confidence, satisfaction_band FROM calls") == [
            {"call_id": "old-call", "resolution": None, "resolution_confidence": None, "satisfaction_band": None}]
