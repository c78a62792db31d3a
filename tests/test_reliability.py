"""Exit codes and run records that tell the truth: an internal crash (exit 5, a 'crashed' run
row with the counts so far), a full disk at any point (exit 6, one line naming the path), a
refused run that writes nothing, and workers that die with their parent."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from wocas import cli
from wocas.errors import ExitCode
from wocas.store import Store

from tests.test_runners import LEAN_TOML, wocas, write_transcripts


def _setup(tmp_path: Path, data_dir: Path, n: int = 6) -> tuple[Path, Path, Path]:
    inputs = tmp_path / "in.jsonl"
    write_transcripts(inputs, data_dir, n)
    config = tmp_path / "lean.toml"
    config.write_text(LEAN_TOML + "[run]\nbatch_size = 2\n")
    return inputs, config, tmp_path / "out"


def _run(inputs: Path, out: Path, config: Path, *extra: str) -> int:
    return cli.main(["run", str(inputs), "--out", str(out), "--config", str(config), "--quiet", *extra])


def test_an_internal_crash_exits_5_and_leaves_a_crashed_row_with_the_counts(tmp_path, data_dir, monkeypatch, capsys):
    from wocas.runners import recording

    inputs, config, out = _setup(tmp_path, data_dir)
    real = recording.CallRecorder.record
    seen = {"n": 0}

    def record_then_break(self, results, summary):
        seen["n"] += 1
        if seen["n"] == 2:
            raise RuntimeError("a bug outside any call")
        real(self, results, summary)

    monkeypatch.setattr(recording.CallRecorder, "record", record_then_break)
    assert _run(inputs, out, config) == ExitCode.INTERNAL
    err = capsys.readouterr().err
    assert "internal error" in err and "a bug outside any call" in err and "Traceback" not in err
    with Store(out / "wocas.duckdb") as store:
        runs = store.query("SELECT status, calls_ok, calls_failed FROM runs")
    assert [(r["status"], r["calls_ok"], r["calls_failed"]) for r in runs] == [("crashed", 2, 0)]


def test_a_full_disk_gives_one_line_naming_the_path_at_every_point(tmp_path, data_dir, monkeypatch, capsys):
    from wocas.analytics import customers
    from wocas.runners import recording

    inputs, config, out = _setup(tmp_path, data_dir, n=2)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    # mid-run: the per-call files
    with monkeypatch.context() as m:
        m.setattr(recording, "write_call_files", full)
        assert _run(inputs, out, config) == ExitCode.DISK_FULL
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("wocas:")]
    assert len(err) == 1 and "disk full writing" in err[0] and str(out / "calls") in err[0], err
    with Store(out / "wocas.duckdb") as store:
        assert [r["status"] for r in store.query("SELECT status FROM runs")] == ["crashed"]

    # at the end: the customer exports (once passed silently with exit 0)
    with monkeypatch.context() as m:
        m.setattr(customers, "export", full)
        assert _run(inputs, out, config, "--force") == ExitCode.DISK_FULL
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("wocas:")]
    assert len(err) == 1 and str(out / "customers") in err[0], err

    # at the start: the resolved config
    real_write = Path.write_text

    def write_text(self, *args, **kwargs):
        if self.name == "config.resolved.toml":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(Path, "write_text", write_text)
        assert _run(inputs, out, config, "--force") == ExitCode.DISK_FULL
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("wocas:")]
    assert len(err) == 1 and str(out) in err[0], err


def test_a_run_refused_by_the_lock_writes_no_file(tmp_path, data_dir):
    inputs, config, out = _setup(tmp_path, data_dir, n=2)
    assert _run(inputs, out, config) == ExitCode.OK
    resolved = out / "config.resolved.toml"
    before = resolved.read_bytes()
    logs_before = sorted((out / "logs").iterdir())
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from wocas.store import Store; s = Store(sys.argv[1]); print('held', flush=True); "
        "time.sleep(60)"), str(out / "wocas.duckdb")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        code = _run(inputs, out, config, "--no-redact")  # would say redaction was off if written
        assert code == ExitCode.STORE_LOCKED
    finally:
        holder.kill()
        holder.wait()
    assert resolved.read_bytes() == before
    assert sorted((out / "logs").iterdir()) == logs_before


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_exit_when_their_parent_is_sigkilled(tmp_path, data_dir):
    inputs, config, out = _setup(tmp_path, data_dir, n=40)
    run = wocas("run", str(inputs), "--out", str(out), "--config", str(config), "--quiet", "--workers", "2")
    deadline = time.time() + 120
    workers: list[int] = []
    while len(workers) < 2:
        assert run.poll() is None, run.communicate()
        assert time.time() < deadline, "no worker processes started"
        workers = [p for p in _children(run.pid) if "wocas-parent" not in Path(f"/proc/{p}/cmdline").read_text()]
        workers = [p for p in workers if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()]
        time.sleep(0.1)
    time.sleep(1.0)  # let them arm the parent-death signal
    os.kill(run.pid, signal.SIGKILL)
    run.communicate(timeout=30)
    deadline = time.time() + 15
    while any(_alive(p) for p in workers) and time.time() < deadline:
        time.sleep(0.2)
    left = [p for p in workers if _alive(p)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert left == [], "worker processes outlived their SIGKILLed parent"


def _stored(out: Path, call_id: str) -> dict:
    with Store(out / "wocas.duckdb") as store:
        return store.query("SELECT content_hash, source, kind FROM calls WHERE call_id = ?", [call_id])[0]


def test_a_call_id_seen_again_with_other_content_is_refused_unless_replace(tmp_path, data_dir, samples_dir, capsys):
    night1, config, out = _setup(tmp_path, data_dir, n=2)
    ids = write_transcripts(night1, data_dir, 2)
    assert _run(night1, out, config) == ExitCode.OK
    first = _stored(out, ids[0])

    night2 = tmp_path / "night2.jsonl"  # the same ids, other dialogues
    lines = night1.read_text().splitlines()
    write_transcripts(night2, data_dir, 2, start=10)
    rows = [json.loads(line) for line in night2.read_text().splitlines()]
    rows[0]["call_id"] = ids[0]
    rows[1] = json.loads(lines[1])  # the same content again: skipped, not refused
    night2.write_text("".join(json.dumps(r) + "\n" for r in rows))
    capsys.readouterr()
    assert _run(night2, out, config) == ExitCode.CALLS_FAILED
    err = capsys.readouterr().err
    assert f"duplicate call_id '{ids[0]}', first from {night1}" in " ".join(err.split()), err
    assert _stored(out, ids[0]) == first  # the good call is not overwritten
    with Store(out / "wocas.duckdb") as store:
        assert store.query("SELECT calls_ok, calls_failed, calls_skipped FROM runs ORDER BY started_at")[-1] == {
            "calls_ok": 0, "calls_failed": 1, "calls_skipped": 1}

    # a recording whose name is a chat's id is the same rule
    audio = tmp_path / "audio" / f"{ids[1]}.flac"
    audio.parent.mkdir()
    audio.write_bytes((samples_dir / "delivery-mono-16k.flac").read_bytes())
    assert _run(audio.parent, out, config) == ExitCode.CALLS_FAILED
    assert _stored(out, ids[1])["kind"] != "audio"

    assert _run(night2, out, config, "--replace") == ExitCode.OK
    assert _stored(out, ids[0])["source"].startswith(str(night2))
    assert _stored(out, ids[0])["content_hash"] != first["content_hash"]


def test_a_stuck_call_fails_alone_at_its_time_limit(tmp_path, data_dir, monkeypatch):
    from wocas.stages.metrics import MetricsStage

    inputs, config, out = _setup(tmp_path, data_dir, n=4)
    config.write_text(LEAN_TOML + "[run]\nbatch_size = 4\ncall_time_limit_s = 1\n")
    stuck = json.loads(inputs.read_text().splitlines()[1])["call_id"]
    real = MetricsStage.process_call

    def process_call(self, call):
        while call.call_id == stuck:  # a stage caught in a loop on one input
            pass
        return real(self, call)

    monkeypatch.setattr(MetricsStage, "process_call", process_call)
    started = time.perf_counter()
    assert _run(inputs, out, config) == ExitCode.CALLS_FAILED
    assert time.perf_counter() - started < 30
    with Store(out / "wocas.duckdb") as store:
        rows = {r["call_id"]: r for r in store.query("SELECT call_id, status, error, failed_stage FROM calls")}
    assert len(rows) == 4 and [i for i, r in rows.items() if r["status"] != "ok"] == [stuck]
    assert rows[stuck]["failed_stage"] == "metrics"
    assert rows[stuck]["error"].endswith("exceeded time limit 1 s in stage metrics"), rows[stuck]["error"]
    assert str(inputs) in rows[stuck]["error"]


def test_the_default_time_limit_is_sized_to_the_call(samples_dir, tmp_path):
    from wocas.config import RunConfig
    from wocas.io.ingest import iter_calls
    from wocas.runners.limits import call_limit

    run = RunConfig()
    audio = next(iter(iter_calls([str(samples_dir / "delivery-mono-16k.flac")])))
    import soundfile

    seconds = soundfile.info(str(samples_dir / "delivery-mono-16k.flac")).duration
    assert call_limit(audio, run) == max(120.0, 3 * seconds)
    long = RunConfig(call_time_min_s=1.0)
    assert call_limit(audio, long) == 3 * seconds
    chat = tmp_path / "big.jsonl"
    chat.write_text(json.dumps({"call_id": "big", "turns": [{"speaker": "customer", "text": "word " * 400_000}]}) + "\n")
    (big,) = list(iter_calls([str(chat)]))
    if big.ok:  # a turn this long may be refused at ingest; if it is taken, its limit grows with it
        assert call_limit(big, long) >= 1000
