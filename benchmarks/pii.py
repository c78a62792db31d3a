"""Recall and precision of PII detection on the labelled transcript lines.

    .venv/bin/python -m benchmarks.pii [--data tests/data/pii_lines.jsonl]

Writes benchmarks/results/pii.json and pii.md. Three views of the same predictions:

- typed recall: a labelled span counts as found when a prediction of the same type overlaps
  it and the predictions together cover every letter and digit of it (nothing leaks);
- redaction recall: every letter and digit of it is covered by any prediction, whatever its
  type (what matters for privacy: the value is gone from the store);
- precision: a prediction is right when it overlaps a labelled span of the same type
  (typed) or of any type (redaction).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
from wocas.text.pii import ENTITY_TYPES, PiiSpan, find_pii_in_turns

DEFAULT_DATA = ROOT / "tests" / "data" / "pii_lines.jsonl"
# The held-out lines were written after the detector was tuned on the dev lines and measured once
# before any fix; the detector was then fixed on what they showed, so today's held-out figures
# are no longer held out. The first measurement is kept here as the honest generalisation figure.
HELDOUT_FIRST_RUN = {
    "lines": 132, "overall": {"recall": 0.8955, "redaction_recall": 0.9104, "precision": 0.9836},
    "CARD": {"gold": 14, "recall": 0.9286, "redaction_recall": 1.0, "precision": 1.0},
    "ACCOUNT": {"gold": 12, "recall": 1.0, "redaction_recall": 1.0, "precision": 0.9231},
    "misses": "expiry after 'expiring'/'exp'/'slash' (3 of 4), sort code after \"sort code's\", SSN after "
              "'social security number', a spelled e-mail local part containing 'i'; one card number "
              "mislabelled by hand (it failed Luhn; fixed in the data)",
}


def load_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _covered(text: str, start: int, end: int, preds: list[PiiSpan]) -> bool:
    return all(any(p.start <= i < p.end for p in preds) for i in range(start, end) if text[i].isalnum())


def evaluate(records: list[dict], names: str = "rules") -> dict:
    tp_rec, tp_red, n_gold = Counter(), Counter(), Counter()
    tp_prec, tp_prec_any, n_pred = Counter(), Counter(), Counter()
    misses, false_alarms = [], []
    lines = 0
    started = time.perf_counter()
    for rec in records:
        turns = rec["turns"]
        preds = find_pii_in_turns([(t["speaker"], t["text"]) for t in turns], names=names)
        for ti, turn in enumerate(turns):
            lines += 1
            mine = [p for p in preds if p.turn == ti]
            for g in turn["spans"]:
                n_gold[g["type"]] += 1
                hidden = _covered(turn["text"], g["start"], g["end"], mine)
                typed = hidden and any(p.type == g["type"] and p.start < g["end"] and g["start"] < p.end
                                       for p in mine)
                tp_red[g["type"]] += hidden
                tp_rec[g["type"]] += typed
                if not typed:
                    got = [(p.type, p.text) for p in mine if p.start < g["end"] and g["start"] < p.end]
                    misses.append({"id": rec["id"], "type": g["type"], "text": g["text"], "got": got})
            for p in mine:
                n_pred[p.type] += 1
                same = any(g["type"] == p.type and g["start"] < p.end and p.start < g["end"] for g in turn["spans"])
                anyt = any(g["start"] < p.end and p.start < g["end"] for g in turn["spans"])
                tp_prec[p.type] += same
                tp_prec_any[p.type] += anyt
                if not same:
                    false_alarms.append({"id": rec["id"], "type": p.type, "text": p.text, "line": turn["text"]})
    seconds = time.perf_counter() - started

    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 4) if b else None

    per_type = {}
    for t in ENTITY_TYPES:
        per_type[t] = {"gold": n_gold[t], "predicted": n_pred[t],
                       "recall": ratio(tp_rec[t], n_gold[t]), "redaction_recall": ratio(tp_red[t], n_gold[t]),
                       "precision": ratio(tp_prec[t], n_pred[t]),
                       "redaction_precision": ratio(tp_prec_any[t], n_pred[t])}
    total_gold, total_pred = sum(n_gold.values()), sum(n_pred.values())
    overall = {"gold": total_gold, "predicted": total_pred,
               "recall": ratio(sum(tp_rec.values()), total_gold),
               "redaction_recall": ratio(sum(tp_red.values()), total_gold),
               "precision": ratio(sum(tp_prec.values()), total_pred),
               "redaction_precision": ratio(sum(tp_prec_any.values()), total_pred)}
    return {"records": len(records), "lines": lines,
            "lines_without_pii": sum(1 for r in records for t in r["turns"] if not t["spans"]),
            "per_type": per_type, "overall": overall, "seconds": round(seconds, 3),
            "misses": misses, "false_alarms": false_alarms}


def to_markdown(result: dict, machine: str) -> str:
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    rows = ["| type | labelled | predicted | recall (typed) | recall (redacted) | precision (typed) | precision (any type) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for t, m in list(result["per_type"].items()) + [("**overall**", result["overall"])]:
        rows.append(f"| {t} | {m['gold']} | {m['predicted']} | {pct(m['recall'])} | {pct(m['redaction_recall'])} "
                    f"| {pct(m['precision'])} | {pct(m['redaction_precision'])} |")
    lines = [
        "# PII detection on the labelled transcript lines",
        "",
        f"{result['lines']} lines in {result['records']} records (tests/data/pii_lines.jsonl), "
        f"{result['lines_without_pii']} of them with no PII (prices, appointment dates, quantities, order "
        f"and reference numbers, times, percentages). Detection took {result['seconds']} s on {machine}.",
        "",
        *rows,
        "",
        "Typed recall: a prediction of the same type overlaps the labelled span and the predictions cover all "
        "its letters and digits. Redacted recall: all its letters and digits are covered by any prediction. "
        "Precision (typed): the prediction overlaps a labelled span of its type.",
        "",
        "The lines were written by the engineer who wrote the detector (no independent labelled set exists "
        "in shared/data), so these figures are an upper bound on what real ASR output would give.",
    ]
    first = HELDOUT_FIRST_RUN
    lines += ["", "## Per split", "", "| split | lines | recall (typed) | recall (redacted) | precision (typed) |",
              "| --- | ---: | ---: | ---: | ---: |"]
    for split, part in result.get("splits", {}).items():
        o = part["overall"]
        lines.append(f"| {split} | {part['lines']} | {pct(o['recall'])} | {pct(o['redaction_recall'])} "
                     f"| {pct(o['precision'])} |")
    lines.append(f"| heldout, first measurement (before fixes) | {first['lines']} | "
                 f"{first['overall']['recall']:.3f} | {first['overall']['redaction_recall']:.3f} | "
                 f"{first['overall']['precision']:.3f} |")
    lines += ["", f"Held-out first measurement: CARD recall {first['CARD']['recall']:.3f} typed / "
              f"{first['CARD']['redaction_recall']:.3f} redacted ({first['CARD']['gold']} spans), ACCOUNT recall "
              f"{first['ACCOUNT']['recall']:.3f} ({first['ACCOUNT']['gold']} spans), precision "
              f"{first['ACCOUNT']['precision']:.3f}. What it missed: {first['misses']}."]
    if result["misses"]:
        lines += ["", "## Misses", ""] + [f"- {m['id']} {m['type']}: `{m['text']}` (got {m['got']})"
                                          for m in result["misses"]]
    if result["false_alarms"]:
        lines += ["", "## False alarms", ""] + [f"- {f['id']} {f['type']}: `{f['text']}` in \"{f['line']}\""
                                                for f in result["false_alarms"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    records = load_records(args.data)
    result = evaluate(records)
    result["splits"] = {}
    for split in sorted({r.get("split", "dev") for r in records}):
        part = evaluate([r for r in records if r.get("split", "dev") == split])
        result["splits"][split] = {k: part[k] for k in ("records", "lines", "per_type", "overall")}
    machine = (f"{platform.machine()}, {os.cpu_count()} CPU cores shared with other jobs "
               f"({platform.system()}, Python {platform.python_version()})")
    result["machine"] = machine
    args.out.mkdir(parents=True, exist_ok=True)
    result["heldout_first_run"] = HELDOUT_FIRST_RUN
    (args.out / "pii.json").write_text(json.dumps(result, indent=1))
    (args.out / "pii.md").write_text(to_markdown(result, machine))
    for split, part in result["splits"].items():
        o = part["overall"]
        print(f"{split}: {part['lines']} lines, recall {o['recall']} precision {o['precision']}")
    o = result["overall"]
    print(f"overall recall {o['recall']} (redacted {o['redaction_recall']}) precision {o['precision']}"
          f" (any type {o['redaction_precision']})")
    for t, m in result["per_type"].items():
        print(f"  {t:10s} gold {m['gold']:3d} pred {m['predicted']:3d} recall {m['recall']} precision {m['precision']}")


if __name__ == "__main__":
    main()
