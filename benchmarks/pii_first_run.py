"""A new PII writer's set scored once, before anything is fitted or fixed on it: the rules alone
(the default) and the rules with the shipped tagger, per split and over all spans.

    PYTHONPATH=. .venv/bin/python -m benchmarks.pii_first_run tests/data/pii_writer8.jsonl

Writes benchmarks/results/<set>_first_run.json. Run it once per set: the point of a first run
is that nothing was chosen on it; benchmarks/pii.py keeps scoring the set after that.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
from pathlib import Path

from benchmarks.pii import evaluate, load_records
from wocas.models.registry import resolve
from wocas.text.pii_tagger import load_tagger

ROOT = Path(__file__).resolve().parents[1]


def figures(records: list[dict], tagger) -> dict:
    r = evaluate(records, "ner", tagger=tagger)
    return {"lines": r["lines"], "negative_lines_flagged": r["negative_lines_flagged"], "overall": r["overall"],
            "recall": {t: v["recall"] for t, v in r["per_type"].items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set", type=Path, help="a labelled PII set (JSON lines, tests/data/README.md's format)")
    parser.add_argument("--tagger", default="pii-tagger", help="the fitted tagger of the second arm")
    args = parser.parse_args()
    records = load_records(args.set)
    tagger = load_tagger(resolve(args.tagger).path)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    out = {"file": str(args.set), "commit": commit.stdout.strip(), "names": "ner", "tagger": args.tagger,
           "note": "measured once, before anything was fitted or fixed on this set; dev / heldout / all = rules "
                   "+ the tagger; rules_alone = [redact] tagger = '' (the default)",
           "machine": f"{platform.machine()}, Python {platform.python_version()}", "rules_alone": {}}
    for split in ("dev", "heldout", "all"):
        part = records if split == "all" else [r for r in records if r.get("split", "dev") == split]
        out[split] = figures(part, tagger)
        out["rules_alone"][split] = figures(part, None)
        for arm, block in (("rules", out["rules_alone"][split]), ("rules + tagger", out[split])):
            o = block["overall"]
            print(f"{split:8s} {arm:15s} spans {o['gold']}: typed recall {o['recall']:.3f} "
                  f"(redacted {o['redaction_recall']:.3f}), precision {o['precision']:.3f}")
    path = ROOT / "benchmarks" / "results" / f"{args.set.stem}_first_run.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
