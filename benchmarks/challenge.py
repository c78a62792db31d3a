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
import re
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.common import ROOT, write_results

CALLS = ROOT / "benchmarks" / "challenge" / "calls.txt"
# heldout2..heldout19: one file per later writer, each split named after its file
HELDOUT_FILES = tuple(ROOT / "benchmarks" / "challenge" / f"heldout{k}.txt" for k in range(2, 20))
HELDOUT2, HELDOUT3 = HELDOUT_FILES[:2]
SPLITS = ("tune", "heldout") + tuple(p.stem for p in HELDOUT_FILES)
# arm -> config TOML (None: defaults); "no context" is the earlier reading: per-turn trust, zero-shot resolution
ARMS = {"context": None, "no context": '[emotion]\ncontext_model = ""\n[resolution]\nmodel = ""\n'}
# --without-words adds the defaults less the lexical shape and band heads (the engine before them)
WITHOUT_WORDS = '[emotion]\nshape_words = ""\n[satisfaction]\nband_words = ""\n'
# --accurate-trust adds the opt-in profile (needs the mpnet encoder installed)
ACCURATE_TRUST = ROOT / "configs" / "accurate-trust.toml"


@dataclass(frozen=True)
class ChallengeCall:
    call_id: str
    customer_id: str
    started_at: str
    value: float
    labels: dict[str, str]
    turns: tuple[tuple[str, str], ...] = field(default=())
    # the writer's trust label of each turn, -2..2, for customer turns written ``C(n):``; else None
    turn_labels: tuple[int | None, ...] = field(default=())

    @property
    def split(self) -> str:
        return self.labels["split"]

    def transcript(self) -> dict:
        return {"call_id": self.call_id, "customer_id": self.customer_id, "started_at": self.started_at,
                "customer_value": self.value,
                "turns": [{"speaker": role, "text": text} for role, text in self.turns]}


TURN = re.compile(r"^(A|C)(?:\((-2|-1|0|1|2)\))?:")


def read_calls(path: Path = CALLS) -> list[ChallengeCall]:
    """Parse a calls file: a header line per call (``=== id | key=value | ...``), then ``A:``/``C:``
    turns; a customer turn may carry its trust label, ``C(-1):``."""
    calls: list[ChallengeCall] = []
    header: list[str] | None = None
    turns: list[tuple[str, str]] = []
    labels: list[int | None] = []

    def close() -> None:
        if header is None:
            return
        fields = dict(part.split("=", 1) for part in header[1:])
        calls.append(ChallengeCall(
            call_id=header[0], customer_id=fields.pop("customer"), started_at=fields.pop("at"),
            value=float(fields.pop("value")), labels=fields, turns=tuple(turns), turn_labels=tuple(labels)))

    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("=== "):
            close()
            header, turns, labels = [p.strip() for p in line[4:].split("|")], [], []
        elif (m := TURN.match(line)) and header is not None:
            turns.append(("agent" if m.group(1) == "A" else "customer", line[m.end():].strip()))
            labels.append(int(m.group(2)) if m.group(2) is not None else None)
        else:
            raise ValueError(f"{path}:{n}: expected '=== header' or an 'A:'/'C:' turn, got {line[:40]!r}")
    close()
    return calls


def satisfaction_band(score: float | None) -> str | None:
    """A 1-5 predicted CSAT as the survey band it stands for: 1-2 low, 3 mid, 4-5 high (for a
    record made before the call model had a band model; newer records carry their band)."""
    if score is None:
        return None
    return "low" if score < 2.5 else "mid" if score <= 3.5 else "high"


def analyse(calls: list[ChallengeCall], out: Path, config: str | None = None) -> dict[str, dict]:
    """Run ``wocas run`` on the calls (with a config's TOML text, if given); returns call_id -> what
    the engine said."""
    from wocas.cli import main as wocas_main

    out.mkdir(parents=True, exist_ok=True)
    inputs = out / "challenge.jsonl"
    inputs.write_text("".join(json.dumps(c.transcript()) + "\n" for c in calls))
    extra = []
    if config is not None:
        (out / "config.toml").write_text(config)
        extra = ["--config", str(out / "config.toml")]
    code = wocas_main(["run", str(inputs), "--out", str(out / "run"), "--quiet", "--force", *extra])
    if code not in (0, 1):
        raise RuntimeError(f"wocas run exited {code}")
    return read_run(out / "run")


def read_run(run: Path, with_turns: bool = False) -> dict[str, dict]:
    """call_id -> what a ``wocas run`` output folder says: shape, band, resolution, the customer's
    defection risk, each turn's trust (and with ``with_turns`` each turn's role and text)."""
    from wocas.store import Store

    with Store(run / "wocas.duckdb", read_only=True) as store:
        rows = store.query("SELECT call_id, customer_id, trajectory_shape, satisfaction_score, record FROM calls")
        risk = {r["customer_id"]: r["defection_risk"]
                for r in store.query("SELECT customer_id, defection_risk FROM customers")}
    said = {}
    for r in rows:
        record = json.loads(r["record"])
        said[r["call_id"]] = {
            "shape": r["trajectory_shape"],
            "band": ((record.get("satisfaction") or {}).get("band") or satisfaction_band(r["satisfaction_score"])),
            "resolution": (record.get("resolution") or {}).get("state") if isinstance(record.get("resolution"), dict)
            else record.get("resolution"),
            "risk": risk.get(r["customer_id"]),
            "customer_trust": [t["emotion"]["trust"] if t.get("emotion") else None
                               for t in record.get("turns", [])],
        }
        if with_turns:
            said[r["call_id"]]["turns"] = [(t.get("role"), t.get("text", "")) for t in record.get("turns", [])]
    return said


def turn_spearman(part: list[ChallengeCall], said: dict[str, dict]) -> tuple[float | None, int]:
    """Spearman of the engine's customer-turn trust against the writer's per-turn labels."""
    from scipy.stats import spearmanr

    pairs = [(label, trust) for c in part for label, trust in zip(c.turn_labels, said[c.call_id]["customer_trust"])
             if label is not None and trust is not None]
    if len(pairs) < 3:
        return None, len(pairs)
    labels, trust = zip(*pairs)
    return round(float(spearmanr(labels, trust).statistic), 3), len(pairs)


def by_kind(part: list[ChallengeCall], said: dict[str, dict]) -> dict[str, dict]:
    """Per kind of call the writer said it is (angry_won_over, sarcasm, ...): calls and each label's accuracy."""
    out: dict[str, dict] = {}
    for kind in sorted({c.labels.get("kind", "") for c in part}):
        mine = [c for c in part if c.labels.get("kind", "") == kind]
        out[kind] = {"calls": len(mine), **{label: round(sum(c.labels[label] == said[c.call_id][label] for c in mine)
                                                         / len(mine), 3) for label in ("shape", "band", "resolution")}}
    return out


def score(calls: list[ChallengeCall], said: dict[str, dict]) -> dict[str, dict]:
    by_split: dict[str, dict] = {}
    for split in SPLITS:
        part = [c for c in calls if c.split == split]
        if not part:
            continue
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
        result["turn_spearman"], result["labelled_turns"] = turn_spearman(part, said)
        result["by_kind"] = by_kind(part, said)
        by_split[split] = result
    return by_split


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--split", action="append", choices=SPLITS,
                        help="score only these splits (repeatable; default: all)")
    parser.add_argument("--name", default="challenge", help="results file name (default challenge)")
    parser.add_argument("--accurate-trust", action="store_true",
                        help="also score the opt-in profile configs/accurate-trust.toml (needs the mpnet encoder)")
    parser.add_argument("--without-words", action="store_true",
                        help="also score the defaults without the lexical shape and band heads")
    args = parser.parse_args(argv)
    arms = dict(ARMS)
    if args.without_words:
        arms["context, no words"] = WITHOUT_WORDS
    if args.accurate_trust:
        arms["accurate trust (mpnet)"] = ACCURATE_TRUST.read_text()
    calls = read_calls() + [c for path in HELDOUT_FILES if path.exists() for c in read_calls(path)]
    if args.split:
        calls = [c for c in calls if c.split in args.split]
    results, walls, predictions = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        for arm, config in arms.items():
            start = time.perf_counter()
            said = analyse(calls, out / arm.replace(" ", "_"), config)
            walls[arm] = round(time.perf_counter() - start, 2)
            results[arm] = score(calls, said)
            predictions[arm] = said
    rows = [{"arm": arm, "split": split, "calls": r["calls"], "shape": r["shape"], "satisfaction band": r["band"],
             "resolution": r["resolution"] if r["resolution"] is not None else "not produced",
             "leavers in top k": f"{r['leavers_in_top_k']} of {r['leavers']}",
             "turn Spearman": r["turn_spearman"] if r["turn_spearman"] is not None else "no turn labels"}
            for arm, by_split in results.items() for split, r in by_split.items()]
    notes = ("Labels were written before any model was run on the set. `tune` figures are upper bounds "
             "(settings were chosen on them); `heldout` (21 calls) was never tuned on but has been looked at "
             "after earlier changes; `heldout2` (benchmarks/challenge/heldout2.txt, 60 calls by another writer, "
             "with per-turn labels) was scored once, after the context head and shape classifier were fixed, and is looked at again here; "
             "`heldout3` (benchmarks/challenge/heldout3.txt, 60 calls by a third writer) was scored once, after the "
             "resolution head, band model and retrained heads (390 training calls) were fixed; "
             "since then calls.txt, heldout2 and heldout3 are TRAINING data of the heads (their figures here are in-sample). "
             "`heldout4` (benchmarks/challenge/heldout4.txt, 60 calls by a fourth writer) was scored once, after the heads "
             "were retrained on seven writers' calls; "
             "`heldout5` (benchmarks/challenge/heldout5.txt, 60 calls by a fifth writer, mixed like a real week with 15 "
             "short calls) was scored once, after the heads were retrained on twelve writers' calls (1,247 calls; trust_calls6-9 added); "
             "`heldout6` (benchmarks/challenge/heldout6.txt, 60 calls by a sixth writer who read no other call file, mixed "
             "like a real week) was scored once with the twelve-writer heads and once with the heads retrained on fifteen "
             "writers (trust_calls10-12 added; decided before either run that the fifteen-writer heads ship). "
             "`heldout7` (benchmarks/challenge/heldout7.txt, 60 calls by a seventh writer who read no repository file, "
             "8 of them angry customers won over abruptly) was scored once, with the fifteen-writer heads, after two "
             "candidate changes were rejected by leave-one-writer-out. "
             "`heldout8` (benchmarks/challenge/heldout8.txt, 60 calls by an eighth writer who read no repository file, "
             "mixed like a real week with 15 short calls) was scored once, after the lexical resolution head was "
             "adopted by leave-one-writer-out and fitted. "
             "`heldout9` (benchmarks/challenge/heldout9.txt, 60 calls by a ninth writer who read no project file, "
             "committed before any model ran on it) was scored once, after the lexical shape and band heads were "
             "adopted by leave-one-writer-out and fitted, with them and without them (`context, no words`) in one run. "
             "`heldout10` and `heldout11` (60 calls each by a tenth and an eleventh writer who read no project file, "
             "committed before any model ran on them) were scored once, with the fifteen-writer and the twenty-writer "
             "chain in one session (benchmarks/results/trust_writers20.md); since then heldout4-8 are TRAINING data "
             "of the heads too (their figures here are in-sample), and heldout9-11 are the unseen writers. "
             "`heldout12` and `heldout13` (two more blind writers) were scored once, with the twenty- and the "
             "twenty-four-writer chain (trust_writers24.md); `heldout14` and `heldout15` (two more) once, with the "
             "twenty-four- and the twenty-eight-writer chain (trust_writers28.md); `heldout16` and `heldout17` (two more) "
             "once, with the twenty-eight- and the thirty-five-writer chain (trust_writers35.md), after which heldout9-15 "
             "are training writers if that chain is adopted. "
             "Arms, in one run: `context` = the defaults (customer turns read in context by models/trust-context, "
             "shape from its fitted classifier averaged with the lexical shape head, band from the band model averaged with "
             "the lexical band head); `no context` = `[emotion] context_model = \"\"` and "
             "`[resolution] model = \"\"` (per-turn scores, the shape rules and the zero-shot resolution, as before); "
             "`accurate trust (mpnet)` (with --accurate-trust) = configs/accurate-trust.toml, the opt-in chain over "
             "all-mpnet-base-v2; `context, no words` (with --without-words) = the defaults with `[emotion] shape_words = \"\"` "
             "and `[satisfaction] band_words = \"\"` (shape and band without the lexical heads). Satisfaction band: the band the satisfaction stage gives "
             "(the call model's fitted band model, scripts/fit_bands.py). Leavers in top k: of the k customers "
             "labelled leaving in the split, how many are among "
             "the k with the highest defection risk. Turn Spearman: customer-turn trust against the writer's "
             "-2..2 label. Wall time for all calls (text pipeline + roll-ups): "
             + ", ".join(f"{arm} {w:.1f} s" for arm, w in walls.items()) + f" for {len(calls)} calls.")
    write_results(args.name, {"arms": results, "wall_seconds": walls, "predictions": predictions}, rows,
                  "Trust challenge set", notes)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
