"""Identifiers by shape: typed recall, redacted recall and precision per writer and split, rules alone
and with a fitted tagger, with the identifier types' redacted recall beside the overall figures.

    PYTHONPATH=. .venv/bin/python -m benchmarks.pii_identifiers [--tagger pii-tagger-crf] [--names ner]
                                                                 [--splits dev] [--json out.json]

Sets: tests/data/pii_writer3..8.jsonl per split (dev, heldout), pii_lines.jsonl and pii_spoken.jsonl
(all their records: tuning data). ``--splits dev`` scores the tuning data only (what a candidate rule
is judged on); the held-out splits are printed only when asked for. Prints one row per set, split and
arm; ``--json`` writes them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.pii import evaluate, load_records
from wocas.models.registry import resolve
from wocas.text.pii_tagger import load_tagger

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
IDENTIFIER_TYPES = ("ID", "ACCOUNT", "SSN", "CARD", "PHONE", "POSTCODE", "IBAN", "SORT_CODE")
SETS = [f"pii_writer{k}" for k in range(3, 9)] + ["pii_lines", "pii_spoken"]


def row(result: dict) -> dict:
    per = result["per_type"]
    gold = sum(per[t]["gold"] for t in IDENTIFIER_TYPES)
    hidden = sum((per[t]["redaction_recall"] or 0) * per[t]["gold"] for t in IDENTIFIER_TYPES)
    typed = sum((per[t]["recall"] or 0) * per[t]["gold"] for t in IDENTIFIER_TYPES)
    o = result["overall"]
    return {"gold": o["gold"], "predicted": o["predicted"], "recall": o["recall"],
            "redaction_recall": o["redaction_recall"], "precision": o["precision"],
            "id_gold": gold, "id_recall": round(typed / gold, 4) if gold else None,
            "id_redaction_recall": round(hidden / gold, 4) if gold else None,
            "by_type": {t: {k: per[t][k] for k in ("gold", "recall", "redaction_recall", "precision")}
                        for t in IDENTIFIER_TYPES if per[t]["gold"] or per[t]["predicted"]}}


def measure(tagger_names: list[str], names: str, splits: list[str]) -> list[dict]:
    rows = []
    for arm in tagger_names:
        tagger = load_tagger(resolve(arm).path) if arm else None
        for name in SETS:
            records = load_records(DATA / f"{name}.jsonl")
            writer = name.startswith("pii_writer")
            for split in (splits if writer else ["dev"]):
                chosen = [r for r in records if r.get("split", "dev") == split] if writer else records
                if not chosen:
                    continue
                rows.append({"set": name, "split": split, "tagger": arm or "none", "names": names,
                             **row(evaluate(chosen, names, tagger=tagger))})
    return rows


def pooled_dev(rows: list[dict], arm: str) -> dict:
    """The tuning data pooled (dev splits of writers 3-8, pii_lines, pii_spoken): the adoption rule's figures."""
    mine = [r for r in rows if r["tagger"] == arm and r["split"] == "dev"]
    gold = sum(r["gold"] for r in mine)
    pred = sum(r["predicted"] for r in mine)
    id_gold = sum(r["id_gold"] for r in mine)
    return {"gold": gold, "predicted": pred,
            "recall": round(sum(r["recall"] * r["gold"] for r in mine) / gold, 4),
            "redaction_recall": round(sum(r["redaction_recall"] * r["gold"] for r in mine) / gold, 4),
            "precision": round(sum((r["precision"] or 0) * r["predicted"] for r in mine) / pred, 4),
            "id_gold": id_gold,
            "id_recall": round(sum((r["id_recall"] or 0) * r["id_gold"] for r in mine) / id_gold, 4),
            "id_redaction_recall": round(sum((r["id_redaction_recall"] or 0) * r["id_gold"] for r in mine) / id_gold,
                                         4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tagger", action="append", default=None,
                    help="arm(s): '' = rules alone (always run), or a fitted tagger's registry name")
    ap.add_argument("--names", default="rules", choices=("rules", "ner"))
    ap.add_argument("--splits", default="dev", help="comma-separated: dev, heldout")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    arms = [""] + [t for t in (args.tagger or []) if t]
    rows = measure(arms, args.names, args.splits.split(","))
    print(f"{'set':12s} {'split':8s} {'tagger':15s} {'gold':>5s} {'typed':>6s} {'redact':>6s} {'prec':>6s} "
          f"{'idgold':>6s} {'idtyp':>6s} {'idred':>6s}")
    for r in rows:
        print(f"{r['set']:12s} {r['split']:8s} {r['tagger']:15s} {r['gold']:5d} {r['recall']:6.3f} "
              f"{r['redaction_recall']:6.3f} {r['precision'] or 0:6.3f} {r['id_gold']:6d} "
              f"{r['id_recall'] or 0:6.3f} {r['id_redaction_recall'] or 0:6.3f}")
    pooled = {arm or "none": pooled_dev(rows, arm or "none") for arm in arms} if "dev" in args.splits else {}
    for arm, p in pooled.items():
        print(f"dev pooled {arm}: {p}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "dev_pooled": pooled}, indent=1))


if __name__ == "__main__":
    main()
