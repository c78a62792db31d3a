"""SIGKILL at five moments of nightly runs on one store (before the first call is stored,
just after it, mid-run, near the end, and after the last call while the run finishes):
after each kill the store holds no half-written or duplicated call, and the run that
follows finishes the rest: 0 lost, 0 duplicated."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from wocas.store import Store

from tests.test_runners import LEAN_TOML, check_whole, wocas, write_transcripts


def _files(out: Path) -> int:
    return len(list((out / "calls").glob("*.json"))) if (out / "calls").exists() else 0


def test_sigkill_at_five_moments_loses_and_duplicates_nothing(tmp_path, data_dir):
    n = 150
    inputs = tmp_path / "night.jsonl"
    ids = write_transcripts(inputs, data_dir, n)
    config = tmp_path / "wocas.toml"
    config.write_text(LEAN_TOML + "[run]\nbatch_size = 1\n")
    out = tmp_path / "out"
    # when to kill: (what the moment is, a predicate on (files written before this run, now))
    moments = [
        ("before the first call is stored", lambda before, now: (out / "logs").exists()
         and len(list((out / "logs").glob("*.log"))) >= 1),
        ("just after the first call", lambda before, now: now >= before + 1),
        ("mid-run", lambda before, now: now >= before + 25),
        ("near the end", lambda before, now: now >= n - 3),
        ("after the last call, while the run finishes", lambda before, now: now >= n),
    ]
    killed_at = []
    for what, ready in moments:
        before = _files(out)
        logs_before = len(list((out / "logs").glob("*.log"))) if (out / "logs").exists() else 0
        run = wocas("run", str(inputs), "--out", str(out), "--config", str(config), "--quiet")
        deadline = time.time() + 180
        while run.poll() is None and time.time() < deadline:
            now = _files(out)
            if what.startswith("before") and len(list((out / "logs").glob("*.log"))) > logs_before:
                break
            if not what.startswith("before") and ready(before, now):
                break
            time.sleep(0.01)
        if run.poll() is None:
            run.send_signal(signal.SIGKILL)
            killed_at.append(what)
        run.communicate(timeout=60)
        with Store(out / "wocas.duckdb", read_only=True) as store:
            check_whole(store)
    assert len(killed_at) >= 4, killed_at  # the last moment may be too short to hit on a fast machine

    final = wocas("run", str(inputs), "--out", str(out), "--config", str(config), "--quiet")
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    with Store(out / "wocas.duckdb", read_only=True) as store:
        check_whole(store)
        stored = [r["call_id"] for r in store.query("SELECT call_id FROM calls WHERE status = 'ok'")]
        runs = [r["status"] for r in store.query("SELECT status FROM runs ORDER BY started_at")]
    assert sorted(stored) == sorted(ids)  # 0 lost, 0 duplicated
    # every killed run that got as far as its row is marked interrupted (a kill before the row has none)
    assert runs[-1] == "done" and set(runs[:-1]) <= {"interrupted"} and len(killed_at) - 1 <= len(runs) - 1
    print(f"SIGKILL at {len(killed_at)} moments ({'; '.join(killed_at)}): 0 lost, 0 duplicated")
