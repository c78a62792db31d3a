"""A new PII writer scored once: rules alone (the default) and rules + the shipped tagger.

    PYTHONPATH=. .venv/bin/python benchmarks/pii_first_run.py   (writes pii_writer8_first_run.json)
"""
import json, platform, subprocess
from pathlib import Path
from benchmarks.pii import load_records, evaluate
from wocas.models.registry import resolve
from wocas.text.pii_tagger import load_tagger

records = load_records(Path("tests/data/pii_writer8.jsonl"))
tagger = load_tagger(resolve("pii-tagger").path)
out = {"file": "tests/data/pii_writer8.jsonl",
       "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip(),
       "names": "ner", "tagger": "pii-tagger (v2, fitted on pii_lines, pii_spoken, writers 3-6)",
       "note": "measured once, before anything was fitted or fixed on this set; dev/heldout/all = rules + the shipped tagger; rules_alone = [redact] tagger = '' (the default)",
       "machine": f"{platform.machine()}, Python {platform.python_version()}"}
def part(recs, tg):
    r = evaluate(recs, "ner", tagger=tg)
    return {"lines": r["lines"], "negative_lines_flagged": r["negative_lines_flagged"], "overall": r["overall"],
            "recall": {t: v["recall"] for t, v in r["per_type"].items()} if isinstance(r["per_type"], dict) else r["per_type"]}
rules = {}
for split in ("dev", "heldout", "all"):
    recs = records if split == "all" else [r for r in records if r["split"] == split]
    out[split] = part(recs, tagger)
    rules[split] = part(recs, None)
out["rules_alone"] = rules
Path("benchmarks/results/pii_writer8_first_run.json").write_text(json.dumps(out, indent=1) + "\n")
for arm, d in (("rules", rules), ("rules+tagger", out)):
    for split in ("dev", "heldout", "all"):
        o = d[split]["overall"]
        print(arm, split, o["gold"], o["recall"], o["redaction_recall"], o["precision"], d[split]["negative_lines_flagged"])
