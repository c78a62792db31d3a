"""Estimated times are marked: no timing figure and no subtitle/RTTM file from made-up times."""

import json
from pathlib import Path

from wocas.cli import main

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def test_untimed_and_timed_transcripts(tmp_path):
    untimed = json.loads((SAMPLES / "chats.jsonl").read_text().splitlines()[0])
    timed = dict(untimed, call_id="timed-1", turns=[
        dict(t, start=4.0 * i, end=4.0 * i + 3.0) for i, t in enumerate(untimed["turns"])])
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(untimed) + "\n" + json.dumps(timed) + "\n")
    out = tmp_path / "out"
    assert main(["run", str(src), "--out", str(out), "--quiet"]) == 0
    calls = out / "calls"
    est = json.loads((calls / f"{untimed['call_id']}.json").read_text())
    assert est["call"]["timing"] == "estimated"
    m = est["metrics"]
    assert m["handle_time"] is None and m["silence_share"] is None and m["overtalk_seconds"] is None
    assert m["talk_share"] == {} and sum(m["turns_per_role"].values()) == len(untimed["turns"])
    assert not any((calls / f"{untimed['call_id']}.{ext}").exists() for ext in ("srt", "vtt", "rttm"))
    given = json.loads((calls / "timed-1.json").read_text())
    assert given["call"]["timing"] == "given"
    assert given["metrics"]["handle_time"] == 4.0 * (len(timed["turns"]) - 1) + 3.0
    assert all((calls / f"timed-1.{ext}").exists() for ext in ("srt", "vtt", "rttm"))
