"""Runs operations can trust: kill-and-resume, one run per store, Ray equals local, --force,
config changes, worker pools, and long-call chunking of decode and ASR."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from wocas.config import load_config
from wocas.runners.local import LocalRunner
from wocas.store import Store

ROOT = Path(__file__).resolve().parent.parent
# The runner's guarantees do not depend on which analysis stages run: the text-model stages
# are switched off here to keep these tests quick (their own tests cover them).
LEAN = {name: {"enabled": False} for name in ("emotion", "jobs", "signals", "redact", "satisfaction")}
LEAN_TOML = "".join(f"[{name}]\nenabled = false\n" for name in LEAN)


def lean(**sections: dict):
    return load_config(None, {**LEAN, **sections})


def write_transcripts(path: Path, data_dir: Path, n: int, start: int = 0) -> list[str]:
    """``n`` real customer-helpdesk dialogues (STC-3) as wocas transcript JSONL; their ids."""
    dialogues = json.loads((data_dir / "text/stc3_customer_helpdesk/train_data_en.json").read_text())
    ids = []
    with path.open("w") as f:
        for d in dialogues[start:start + n]:
            turns = [{"speaker": "customer" if t["sender"] == "customer" else "agent",
                      "text": " ".join(t["utterances"])} for t in d["turns"]]
            ids.append(f"stc3-{d['id']}")
            f.write(json.dumps({"call_id": ids[-1], "customer_id": f"C-{d['id'][-4:]}", "turns": turns}) + "\n")
    return ids


def wocas(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "wocas.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def check_whole(store: Store) -> None:
    """No call is half-written and none is stored twice."""
    dup = store.query("SELECT call_id, count(*) AS n FROM calls GROUP BY call_id HAVING n > 1")
    assert dup == []
    partial = store.query("""
        SELECT c.call_id, c.n_turns, count(t.idx) AS stored FROM calls c
        LEFT JOIN turns t USING (call_id) GROUP BY c.call_id, c.n_turns HAVING c.n_turns != stored""")
    assert partial == []
    dup_turns = store.query("SELECT call_id, idx FROM turns GROUP BY call_id, idx HAVING count(*) > 1")
    assert dup_turns == []


def test_sigkill_then_rerun_finishes_the_rest_and_a_second_run_is_refused(tmp_path, data_dir):
    n = 600
    inputs = tmp_path / "helpdesk.jsonl"
    ids = write_transcripts(inputs, data_dir, n)
    config = tmp_path / "wocas.toml"
    config.write_text(LEAN_TOML + "[run]\nbatch_size = 1\n")  # one transaction per call: many chances to be cut
    out = tmp_path / "out"
    first = wocas("run", str(inputs), "--out", str(out), "--config", str(config), "--quiet")
    try:
        _kill_midway_and_check_lock(first, inputs, out, config)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    with Store(out / "wocas.duckdb", read_only=True) as store:
        done_before = store.query("SELECT count(*) AS n FROM calls")[0]["n"]
        check_whole(store)
    assert 0 < done_before < n

    rerun = wocas("run", str(inputs), "--out", str(out), "--config", str(config), "--quiet")
    _, err = rerun.communicate(timeout=180)
    assert rerun.returncode == 0, err
    with Store(out / "wocas.duckdb", read_only=True) as store:
        check_whole(store)
        stored = {r["call_id"] for r in store.query("SELECT call_id FROM calls WHERE status = 'ok'")}
        assert stored == set(ids)
        runs = store.query("SELECT * FROM runs ORDER BY started_at")
        assert [r["status"] for r in runs] == ["interrupted", "done"]
        killed, last = runs
        assert last["calls_skipped"] == done_before  # done ones are skipped, not redone
        assert last["calls_ok"] == n - done_before
        kept = store.query("SELECT count(*) AS n FROM calls WHERE run_id = ?", [killed["run_id"]])[0]["n"]
        assert kept == done_before
        assert Path(last["log_path"]).exists()
    for call_id in ids:  # every per-call file is whole JSON
        assert json.loads((out / "calls" / f"{call_id}.json").read_text())["call"]["call_id"] == call_id


def _kill_midway_and_check_lock(first: subprocess.Popen, inputs: Path, out: Path, config: Path) -> None:
    deadline = time.time() + 240
    while len(list((out / "calls").glob("*.json"))) < 5:
        assert first.poll() is None, f"the run ended before it could be killed: {first.communicate()}"
        assert time.time() < deadline, "the run made no progress"
        time.sleep(0.05)

    # A second run on the same store while the first holds it: refused, exit 3, clear reason.
    second = wocas("run", str(inputs), "--out", str(out), "--config", str(config), "--quiet")
    _, err = second.communicate(timeout=60)
    assert first.poll() is None, "the first run finished too soon for this test"
    assert second.returncode == 3, err
    assert "in use by another wocas process" in err

    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)


def test_force_and_a_changed_config_redo_the_calls(tmp_path, data_dir):
    inputs = tmp_path / "helpdesk.jsonl"
    ids = write_transcripts(inputs, data_dir, 12, start=500)
    config = lean()

    def run(cfg, run_id: str, force: bool = False):
        with Store(tmp_path / "wocas.duckdb") as store:
            summary = LocalRunner(cfg, tmp_path / "out", store, force=force).run([str(inputs)], run_id)
            versions = {r["pipeline_version"] for r in store.query("SELECT pipeline_version FROM calls")}
            rows = store.query("SELECT count(*) AS n FROM calls")[0]["n"]
        return summary, versions, rows

    first, v1, _ = run(config, "r1")
    assert (first.ok, first.skipped) == (len(ids), 0)
    again, _, _ = run(config, "r2")
    assert (again.ok, again.skipped) == (0, len(ids))
    forced, _, rows = run(config, "r3", force=True)
    assert (forced.ok, forced.skipped, rows) == (len(ids), 0, len(ids))
    changed = lean(roles={"min_confidence": 0.7})
    redone, v2, rows = run(changed, "r4")
    assert (redone.ok, redone.skipped, rows) == (len(ids), 0, len(ids))
    assert v1 != v2 and len(v2) == 1
    # how many workers run is not a result-changing setting
    more_workers = lean(roles={"min_confidence": 0.7}, run={"workers": 2})
    skipped, _, _ = run(more_workers, "r5")
    assert (skipped.ok, skipped.skipped) == (0, len(ids))


def test_two_workers_write_the_same_records_as_one(tmp_path, data_dir, caplog):
    inputs = tmp_path / "helpdesk.jsonl"
    write_transcripts(inputs, data_dir, 16, start=700)
    records = []
    caplog.set_level("INFO", logger="wocas.runners.local")
    for workers in (1, 2):
        config = lean(run={"workers": workers, "batch_size": 3})
        with Store(tmp_path / f"w{workers}.duckdb") as store:
            summary = LocalRunner(config, tmp_path / f"out{workers}", store).run([str(inputs)], f"w{workers}")
            assert (summary.ok, summary.failed) == (16, 0)
            records.append(_records(store))
    assert records[0] == records[1]
    # the pool's run says where its time went: each worker's start-up, batches, busy and CPU time
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("worker pool profile: "))
    profile = json.loads(line.split(": ", 1)[1])
    assert sum(w["calls"] for w in profile["workers"]) == 16 and sum(w["batches"] for w in profile["workers"]) == 6
    # a worker handed one short transcript may take under 5 ms, which rounds to 0.00: the sums must be positive
    assert all(w["cpu_s"] >= 0 and 0 <= w["busy_s"] <= profile["wall_s"] and w["ready_after_s"] is not None
               for w in profile["workers"]), profile
    assert sum(w["cpu_s"] for w in profile["workers"]) > 0 and sum(w["busy_s"] for w in profile["workers"]) > 0, profile


def test_auto_workers_one_per_core_within_memory(tmp_path, data_dir):
    from wocas.runners.local import auto_workers

    assert [auto_workers(cores, 64.0) for cores in (1, 2, 3, 4, 16)] == [1, 2, 3, 4, 16]
    assert auto_workers(16, 4.0) == 2 and auto_workers(16, 0.5) == 1  # memory caps it
    # a batch or less runs in this process: no pool to start, whatever the cores
    inputs = tmp_path / "few.jsonl"
    write_transcripts(inputs, data_dir, 2, start=900)
    before = set(_spawned_workers())  # an earlier test's pool may still be exiting
    with Store(tmp_path / "auto.duckdb") as store:
        summary = LocalRunner(lean(run={"workers": 0, "batch_size": 8}), tmp_path / "out", store).run(
            [str(inputs)], "auto")
    assert (summary.ok, summary.failed) == (2, 0) and not set(_spawned_workers()) - before


def _records(store: Store) -> dict[str, dict]:
    """Each call's record, less what legitimately differs between processes: stage timings (and
    their sum), the run id, and
    the ASR's word probabilities (int8 matrix products sum in another order with another thread
    count, so they move in the second or third decimal; the words and their times do not)."""
    out = {}
    for row in store.query("SELECT call_id, record FROM calls"):
        record = json.loads(row["record"])
        for key in ("timings", "processing_seconds", "run_id"):
            record.pop(key, None)
        out[row["call_id"]] = _without_word_probabilities(record)
    return out


def _without_word_probabilities(value):
    if isinstance(value, dict):
        return {k: _without_word_probabilities(v) for k, v in value.items()
                if not (k == "probability" and "start" in value and "text" in value)}
    if isinstance(value, list):
        return [_without_word_probabilities(v) for v in value]
    return value


def test_ray_runner_writes_the_same_records_as_the_local_runner(tmp_path, data_dir, samples_dir):
    ray = pytest.importorskip("ray")
    from wocas.runners.ray import RayRunner

    inputs = tmp_path / "helpdesk.jsonl"
    write_transcripts(inputs, data_dir, 6, start=900)
    audio = data_dir / "asr/faster_whisper/stereo_diarization.wav"
    sources = [str(inputs), str(samples_dir / "chats.jsonl"), str(audio)]
    config = lean(run={"batch_size": 2})
    with Store(tmp_path / "local.duckdb") as store:
        local = LocalRunner(config, tmp_path / "local", store).run(sources, "local")
        expected = _records(store)
        expected_words = store.query("SELECT call_id, idx, start, \"end\", text, speaker FROM words ORDER BY ALL")
    assert local.failed == 0 and local.ok == len(expected) >= 8

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with Store(tmp_path / "ray.duckdb") as store:
            summary = RayRunner(config, tmp_path / "ray", store).run(sources, "ray")
            got = _records(store)
            got_words = store.query("SELECT call_id, idx, start, \"end\", text, speaker FROM words ORDER BY ALL")
            check_whole(store)
    finally:
        ray.shutdown()
    assert (summary.ok, summary.failed, summary.audio_seconds) == (local.ok, 0, local.audio_seconds)
    assert got == expected
    assert got_words == expected_words and len(got_words) > 5


# ---- long calls --------------------------------------------------------------------------------

def test_streaming_decode_matches_the_one_shot_decode(data_dir):
    from wocas.io.audio import decode
    from wocas.stages.decode import decode_streaming

    for name in ("asr/faster_whisper/jfk.flac", "asr/faster_whisper/stereo_diarization.wav",
                 "calls_synthetic/dialogue_60s_stereo16k.flac"):
        path = str(data_dir / name)
        whole = decode(path)
        streamed = decode_streaming(path, 16000, max_duration=3600, min_rms_dbfs=-70)
        assert streamed.samples.shape == whole.samples.shape
        assert streamed.samples.flags["C_CONTIGUOUS"]
        if whole.original_sample_rate == 16000:  # nothing to resample: the same samples
            np.testing.assert_allclose(streamed.samples, whole.samples, atol=1e-6)
        else:  # 44.1 kHz: soxr and the one-shot decoder's resampler agree to about -70 dB
            error = np.sqrt(np.mean((streamed.samples - whole.samples) ** 2) / np.mean(whole.samples ** 2))
            assert error < 1e-3


def test_long_audio_is_transcribed_in_windows_cut_at_quiet_points(data_dir, monkeypatch):
    from wocas.io.audio import decode
    from wocas.config import AsrConfig
    from wocas.stages import transcribe
    from wocas.stages.transcribe import TranscribeStage, chunk_bounds

    audio = decode(data_dir / "calls_synthetic/dialogue_60s_mono16k.flac")
    samples = audio.samples[0]
    bounds = chunk_bounds(samples, 16000, chunk_seconds=20, search_seconds=3)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(samples) and len(bounds) == 3
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    loud = np.sqrt(np.mean(np.square(samples)))
    for _, cut in bounds[:-1]:  # each cut sits in a pause, far quieter than the call
        assert np.sqrt(np.mean(np.square(samples[cut - 800:cut + 800]))) < 0.2 * loud

    stage = TranscribeStage(AsrConfig())
    whole, _ = stage.transcribe(samples, None)
    monkeypatch.setattr(transcribe, "chunk_bounds", lambda s, sr: chunk_bounds(s, sr, 20.0, 3.0))
    pieces, _ = stage.transcribe(samples, None)
    assert [w.start for w in pieces] == sorted(w.start for w in pieces)
    assert pieces[-1].end > 40  # the last window's words are on the call's clock, not the window's

    def norm(words):
        return [w.text.lower().strip(".,?!") for w in words]

    from difflib import SequenceMatcher

    assert SequenceMatcher(None, norm(whole), norm(pieces)).ratio() > 0.9
    # matched words keep their times (within a word's length)
    shift = [abs(a.start - b.start) for a, b in zip(whole, pieces) if a.text == b.text]
    assert np.median(shift) < 0.5


def _spawned_workers() -> list[int]:
    """Pids of this process's multiprocessing spawn workers (not its resource tracker)."""
    pids = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except FileNotFoundError:
                continue
            if b"spawn_main" in cmd:
                pids.append(int(pid))
    return pids


def test_a_killed_worker_costs_no_call(tmp_path, data_dir, caplog):
    import threading

    inputs = tmp_path / "helpdesk.jsonl"
    ids = write_transcripts(inputs, data_dir, 60, start=300)
    config = lean(run={"workers": 2, "batch_size": 2})
    killed: list[int] = []
    earlier = set(_spawned_workers())  # an earlier test's pool may still be exiting

    def kill_one_worker() -> None:
        deadline = time.time() + 120
        while not killed and time.time() < deadline:
            pids = [p for p in _spawned_workers() if p not in earlier]
            if len(list((tmp_path / "out" / "calls").glob("*.json"))) >= 4 and pids:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.02)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    with Store(tmp_path / "wocas.duckdb") as store:
        summary = LocalRunner(config, tmp_path / "out", store).run([str(inputs)], "r1")
        killer.join()
        check_whole(store)
        stored = {r["call_id"] for r in store.query("SELECT call_id FROM calls WHERE status = 'ok'")}
    assert killed, "the run finished before a worker could be killed"
    assert (summary.ok, summary.failed) == (len(ids), 0)
    assert stored == set(ids)
    assert any("worker process died" in r.message for r in caplog.records)


def test_a_worker_that_cannot_load_the_pipeline_stops_the_run_with_the_reason(tmp_path, monkeypatch, capsys) -> None:
    """An unwritable ONNX cache (a file where the folder should be) is a setup error: fresh
    worker processes cannot export the encoder, and the run exits 2 naming the reason instead
    of failing every call as 'worker died'. (In this process the encoder may already be
    loaded by earlier tests, so only spawned workers are sure to meet the cache.)"""
    workers = 2
    from wocas.cli import main

    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("")
    monkeypatch.setenv("WOCAS_CACHE", str(blocker))
    calls = tmp_path / "calls.jsonl"
    calls.write_text(json.dumps({"call_id": "a", "turns": [{"speaker": "agent", "text": "hello, how can I help?"},
                                                          {"speaker": "customer", "text": "my card was charged twice"}]}) + "\n")
    code = main(["run", str(calls), "--out", str(tmp_path / "out"), "--quiet", "--workers", str(workers)])
    err = capsys.readouterr().err
    assert code == 2
    assert "cannot write the ONNX cache" in err and "cache-is-a-file" in err
    assert "a worker could not load the pipeline: OnnxExportError" in err


def test_an_in_process_run_gives_the_process_its_thread_settings_back(tmp_path, data_dir):
    """A run with one thread per worker pins the numeric libraries while it runs and restores
    them after: ASR results depend on the BLAS thread count, so a run must not change it for
    whatever the process does next."""
    import torch
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    inputs = tmp_path / "t.jsonl"
    write_transcripts(inputs, data_dir, 2)
    before = (torch.get_num_threads(), blas_threads())
    seen = []
    config = lean(run={"workers": 1, "threads_per_worker": 1})
    with Store(tmp_path / "s.duckdb") as store:
        summary = LocalRunner(config, tmp_path / "out", store,
                              on_call=lambda call, skipped: seen.append((torch.get_num_threads(), blas_threads()))
                              ).run([str(inputs)], "r")
    assert summary.ok == 2
    assert all(t == 1 and all(n == 1 for n in b) for t, b in seen)  # pinned while it ran
    assert (torch.get_num_threads(), blas_threads()) == before  # and given back
