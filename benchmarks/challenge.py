"""The trust challenge set (benchmarks/challenge/): does the call's outcome come out right?

    .venv/bin/python -m benchmarks.challenge [--out DIR]

Runs the whole default text pipeline (``wocas run`` on the calls as transcripts, then the
customer roll-up) and scores, per split, what the labels in ``benchmarks/challenge/calls.txt``
say: the customer's trajectory shape, the satisfaction band, the resolution (when the pipeline
gives one) and whether the customers who are leaving are ranked first by defection risk.
The ``heldout`` split is never used to choose anything: its figures are the honest ones.

Writes benchmarks/results/challenge.json and challenge.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import ROOT, write_results

CALLS = ROOT / "benchmarks" / "challenge" / "calls.txt"
SPLITS = ("tune", "heldout")


@dataclass(frozen=True)
class ChallengeCall:
    call_id: str
    customer_id: str
    started_at: str
    value: float
    labels: dict[str, str]
    turns: tuple[tuple[str, str], ...] = field(default=())

    @property
    def split(self) -> str:
        return self.labels["split"]

    def transcript(self) -> dict:
        return {"call_id": self.call_id, "customer_id": self.customer_id, "started_at": self.started_at,
                "customer_value": self.value,
                "turns": [{"speaker": role, "text": text} for role, text in self.turns]}


def read_calls(path: Path = CALLS) -> list[ChallengeCall]:
    """Parse calls.txt: a header line per call (``=== id | key=value | ...``), then ``A:``/``C:`` turns."""
    calls: list[ChallengeCall] = []
    header: list[str] | None = None
    turns: list[tuple[str, str]] = []

    def close() -> None:
        if header is None:
            return
        fields = dict(part.split("=", 1) for part in header[1:])
        calls.append(ChallengeCall(
            call_id=header[0], customer_id=fields.pop("customer"), started_at=fields.pop("at"),
            value=float(fields.pop("value")), labels=fields, turns=tuple(turns)))

    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("=== "):
            close()
            header, turns = [p.strip() for p in line[4:].split("|")], []
        elif line[:2] in ("A:", "C:") and header is not None:
            turns.append(("agent" if line[0] == "A" else "customer", line[2:].strip()))
        else:
            raise ValueError(f"{path}:{n}: expected '=== header' or an 'A:'/'C:' turn, got {line[:40]!r}")
    close()
    return calls


def satisfaction_band(score: float | None) -> str | None:
    """A 1-5 predicted CSAT as the survey band it stands for: 1-2 low, 3 mid, 4-5 high."""
    if score is None:
        return None
    return "low" if score < 2.5 else "mid" if score <= 3.5 else "high"


def analyse(calls: list[ChallengeCall], out: Path) -> dict[str, dict]:
    """Run ``wocas run`` on the calls; returns call_id -> what the engine said."""
    from wocas.cli import main as wocas_main
    from wocas.store import Store

    inputs = out / "challenge.jsonl"
    inputs.write_text("".join(json.dumps(c.transcript()) + "\n" for c in calls))
    code = wocas_main(["run", str(inputs), "--out", str(out / "run"), "--quiet", "--force"])
    if code not in (0, 1):
        raise RuntimeError(f"wocas run exited {code}")
    with Store(out / "run" / "wocas.duckdb", read_only=True) as store:
        rows = store.query("SELECT call_id, customer_id, trajectory_shape, satisfaction_score, record FROM calls")
        risk = {r["customer_id"]: r["defection_risk"]
                for r in store.query("SELECT customer_id, defection_risk FROM customers")}
    said = {}
    for r in rows:
        record = json.loads(r["record"])
        said[r["call_id"]] = {
            "shape": r["trajectory_shape"],
            "band": satisfaction_band(r["satisfaction_score"]),
            "resolution": (record.get("resolution") or {}).get("state") if isinstance(record.get("resolution"), dict)
            else record.get("resolution"),
            "risk": risk.get(r["customer_id"]),
        }
    return said


def score(calls: list[ChallengeCall], said: dict[str, dict]) -> dict[str, dict]:
    by_split: dict[str, dict] = {}
    for split in SPLITS:
        part = [c for c in calls if c.split == split]
        result: dict = {"calls": len(part)}
        for label in ("shape", "band", "resolution"):
            pairs = [(c.labels[label], said[c.call_id][label]) for c in part]
            given = [(t, p) for t, p in pairs if p is not None]
            result[label] = round(sum(t == p for t, p in given) / len(part), 3) if given else None
            result[f"{label}_confusions"] = dict(Counter(f"{t}->{p}" for t, p in pairs if t != p).most_common(6))
        # leavers first: of the k customers who are leaving, how many are among the k riskiest
        customers: dict[str, tuple[bool, float]] = {}
        for c in part:
            leaving = customers.get(c.customer_id, (False, 0.0))[0] or c.labels["leaving"] == "yes"
            customers[c.customer_id] = (leaving, said[c.call_id]["risk"] or 0.0)
        k = sum(leaving for leaving, _ in customers.values())
        ranked = sorted(customers.values(), key=lambda lr: -lr[1])[:k]
        result["leavers"] = k
        result["leavers_in_top_k"] = sum(leaving for leaving, _ in ranked)
        by_split[split] = result
    return by_split


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="keep the run here (default: a temporary folder)")
    args = parser.parse_args(argv)
    calls = read_calls()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        said = analyse(calls, out)
        wall = time.perf_counter() - start
    results = score(calls, said)
    rows = [{"split": split, "calls": r["calls"], "shape": r["shape"], "satisfaction band": r["band"],
             "resolution": r["resolution"] if r["resolution"] is not None else "not produced",
             "leavers in top k": f"{r['leavers_in_top_k']} of {r['leavers']}"} for split, r in results.items()]
    notes = ("Labels were written before any model was run on the set. `tune` figures are upper bounds "
             "(settings may be chosen on them); `heldout` is never used for tuning. Satisfaction band: "
             "predicted score < 2.5 low, <= 3.5 mid, else high. Leavers in top k: of the k customers "
             "labelled leaving in the split, how many are among the k with the highest defection risk. "
             f"Whole run (text pipeline + roll-ups) took {wall:.1f} s for {len(calls)} calls.")
    write_results("challenge", {"splits": results, "wall_seconds": round(wall, 2),
                                "predictions": said}, rows, "Trust challenge set", notes)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
