"""`wocas bench` runs a suite script, collects its figures, and compares two result files."""

from __future__ import annotations

import json

from wocas.bench import flatten
from wocas.cli import main


def test_bench_runs_a_suite_and_compares(tmp_path, data_dir, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["bench", "--suite", "pii", "--data", str(data_dir), "--out", str(a)]) == 0
    assert main(["bench", "--suite", "pii", "--data", str(data_dir), "--out", str(b)]) == 0
    collected = json.loads((a / "bench.json").read_text())
    metrics = collected["suites"]["pii"]
    recalls = [v for k, v in metrics.items() if "recall" in k]
    assert recalls and all(0.0 <= v <= 1.0 for v in recalls)
    assert (a / "pii.json").exists() and (a / "bench.md").read_text().startswith("# wocas bench")
    capsys.readouterr()
    assert main(["bench", "--compare", str(a / "bench.json"), str(b / "bench.json")]) == 0
    table = capsys.readouterr().out
    assert "| pii |" in table and "+0 |" in table  # same figures twice: every delta is zero
    assert collected["wall_seconds"]["pii"] > 0 and len(collected["load_average"]["start"]) == 3
    wall_a = collected["wall_seconds"]["pii"]
    wall_b = json.loads((b / "bench.json").read_text())["wall_seconds"]["pii"]
    assert f"| pii | {wall_a} | {wall_b} | {wall_b / wall_a:.2f} |" in table  # suite time, B / A


def test_unknown_suite_is_a_usage_error(tmp_path):
    assert main(["bench", "--suite", "astrology", "--out", str(tmp_path)]) == 2


def test_flatten_keeps_numbers_and_drops_machine():
    assert flatten({"machine": {"cores": 2}, "a": {"b": 1, "c": [1, 2], "d": True, "e": 0.5}}) == {"a.b": 1.0, "a.e": 0.5}
