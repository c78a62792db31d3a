"""Operations: the census behind the progress total, and machine-readable run logs."""

import json
from pathlib import Path

from wocas.cli import main
from wocas.io.audio import declared_duration
from wocas.io.census import census

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def test_census_counts_manifest_rows_and_header_hours():
    found = census([str(SAMPLES / "manifest.csv")])
    rows = [line for line in (SAMPLES / "manifest.csv").read_text().splitlines()[1:] if line.strip()]
    assert found.calls == len(rows)
    flacs = sum(declared_duration(p) for p in SAMPLES.glob("*.flac"))
    assert found.audio_seconds > 0 and found.audio_seconds <= flacs + 1e-6


def test_census_of_a_folder_and_a_chat_file():
    chats = [line for line in (SAMPLES / "chats.jsonl").read_text().splitlines() if line.strip()]
    assert census([str(SAMPLES / "chats.jsonl")]).calls == len(chats)
    folder = census([str(SAMPLES)])
    assert folder.calls >= 2 + len(chats)


def test_json_log_format_one_object_a_line(tmp_path, capsys):
    rc = main(["run", str(SAMPLES / "chats.jsonl"), "--out", str(tmp_path), "--log-format", "json"])
    assert rc == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    calls = [e for e in events if e["event"] == "call"]
    assert calls and calls[-1]["n"] == calls[-1]["total"]
    summary = events[-1]
    assert summary["event"] == "summary" and summary["ok"] == len(calls) and summary["run_id"]


def test_verbose_log_lines_are_json_too(tmp_path, capsys):
    rc = main(["run", str(SAMPLES / "chats.jsonl"), "--out", str(tmp_path), "--log-format", "json", "-v"])
    assert rc == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    events = [json.loads(line) for line in lines]  # -v's log lines are objects as well, not text
    logs = [e for e in events if e["event"] == "log"]
    assert logs and all({"time", "level", "logger", "message"} <= set(e) for e in logs)
    assert any(e["level"] == "INFO" and e["logger"].startswith("wocas") for e in logs)
    assert events[-1]["event"] == "summary"
    # the run's log file stays plain text
    log_file = next((tmp_path / "logs").glob("*.log")).read_text().splitlines()
    assert log_file and not log_file[0].startswith("{")


def test_piped_text_lines_do_not_wrap(tmp_path, capsys):
    out = tmp_path / ("a-long-output-folder-name-" * 4)
    assert main(["run", str(SAMPLES / "chats.jsonl"), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    store_lines = [line for line in err.splitlines() if "store=" in line]
    assert len(store_lines) == 1 and str(out / "wocas.duckdb") in store_lines[0]
    assert any(line.startswith("call 1/") for line in err.splitlines())


def test_runs_fit_80_columns_with_id_and_status_whole(tmp_path, capsys):
    assert main(["run", str(SAMPLES / "chats.jsonl"), "--out", str(tmp_path), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["runs", "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert all(len(line) <= 80 for line in lines)
    from wocas.store import Store

    with Store(tmp_path / "wocas.duckdb", read_only=True) as store:
        run = store.query("SELECT run_id, status FROM runs")[0]
    assert run["run_id"] in lines[1] and f" {run['status']} " in lines[1]


def test_runner_ray_without_the_extra_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` does where it is not installed
    rc = main(["run", str(SAMPLES / "chats.jsonl"), "--out", str(tmp_path / "o"), "--runner", "ray"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "wocas[ray]" in err[0]
    assert not (tmp_path / "o").exists()


def test_ray_core_worker_lines_are_silenced_unless_the_operator_asks(monkeypatch):
    import os

    from wocas.runners.ray import quiet_ray

    monkeypatch.delenv("RAY_BACKEND_LOG_LEVEL", raising=False)
    quiet_ray()
    assert os.environ["RAY_BACKEND_LOG_LEVEL"] == "fatal"  # before ray.init: no core_worker.cc lines
    monkeypatch.setenv("RAY_BACKEND_LOG_LEVEL", "info")
    quiet_ray()
    assert os.environ["RAY_BACKEND_LOG_LEVEL"] == "info"  # the operator's own value wins
