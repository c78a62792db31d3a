"""Identifiers by shape: typed recall, redacted recall and precision per writer and split, rules alone
and with a fitted tagger, with the identifier types' redacted recall beside the overall figures.

    PYTHONPATH=. .venv/bin/python -m benchmarks.pii_identifiers [--tagger pii-tagger-crf] [--names ner]
                                                                 [--splits dev] [--json out.json]

Sets: tests/data/pii_writer3..10.jsonl per split (dev, heldout), pii_lines.jsonl and pii_spoken.jsonl
(all their records: tuning data). ``--splits dev`` scores the tuning data only (what a candidate rule
is judged on); the held-out splits are scored only when asked for. Prints one row per set, split and
arm; ``--json`` writes them. ``--misses TYPE,...`` prints the dev splits' misses of those types and the dev
false alarms (never a held-out record: it refuses to run with ``--splits`` naming heldout).
``--sets`` limits the sets (e.g. ``pii_writer9``). An arm ``NAME:TYPE,TYPE`` adds only the tagger's spans of
those types (``[redact] tagger_types``); ``NAME:identifiers`` is ``wocas.text.pii.TAGGER_IDENTIFIER_TYPES``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.pii import evaluate, load_records
from wocas.models.registry import resolve
from wocas.text.name_verifier import load_verifier
from wocas.text.pii import ENTITY_TYPES, TAGGER_IDENTIFIER_TYPES
from wocas.text.pii_tagger import load_tagger

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
IDENTIFIER_TYPES = ("ID", "ACCOUNT", "SSN", "CARD", "PHONE", "POSTCODE", "IBAN", "SORT_CODE")
SETS = [f"pii_writer{k}" for k in range(3, 11)] + ["pii_lines", "pii_spoken"]
# Per-type recall reported beside the identifier figures.
SHOWN_TYPES = ("SSN", "PHONE", "ADDRESS", "NAME", "ID")


def row(result: dict) -> dict:
    per = result["per_type"]
    gold = sum(per[t]["gold"] for t in IDENTIFIER_TYPES)
    hidden = sum((per[t]["redaction_recall"] or 0) * per[t]["gold"] for t in IDENTIFIER_TYPES)
    typed = sum((per[t]["recall"] or 0) * per[t]["gold"] for t in IDENTIFIER_TYPES)
    o = result["overall"]
    return {"gold": o["gold"], "predicted": o["predicted"], "recall": o["recall"],
            "redaction_recall": o["redaction_recall"], "precision": o["precision"],
            "negative_lines": result["lines_without_pii"], "negative_lines_flagged": result["negative_lines_flagged"],
            "per_type_gold": {t: per[t]["gold"] for t in SHOWN_TYPES},
            "per_type_typed": {t: per[t]["recall"] for t in SHOWN_TYPES},
            "per_type_redacted": {t: per[t]["redaction_recall"] for t in SHOWN_TYPES},
            "id_gold": gold, "id_recall": round(typed / gold, 4) if gold else None,
            "id_redaction_recall": round(hidden / gold, 4) if gold else None,
            "by_type": {t: {k: per[t][k] for k in ("gold", "recall", "redaction_recall", "precision")}
                        for t in IDENTIFIER_TYPES if per[t]["gold"] or per[t]["predicted"]},
            "every_type": {t: {k: per[t][k] for k in ("gold", "predicted", "recall", "redaction_recall", "precision")}
                           for t in ENTITY_TYPES}}


def parse_arm(arm: str) -> tuple[str, tuple[str, ...] | None]:
    """'NAME' or 'NAME:TYPE,TYPE' (or 'NAME:identifiers') -> (tagger, tagger_types)."""
    if ":" not in arm:
        return arm, None
    name, types = arm.split(":", 1)
    chosen = TAGGER_IDENTIFIER_TYPES if types == "identifiers" else tuple(types.split(","))
    unknown = set(chosen) - set(ENTITY_TYPES)
    if unknown:
        raise SystemExit(f"arm {arm!r}: unknown types {sorted(unknown)}")
    return name, chosen


def measure(tagger_names: list[str], names: str, splits: list[str], sets=SETS, misses=None) -> list[dict]:
    rows = []
    for arm in tagger_names:
        tagger_arm, _, verifier_name = arm.partition("|verifier=")
        name, types = parse_arm(tagger_arm)
        tagger = load_tagger(resolve(name).path) if name else None
        verifier = load_verifier(resolve(verifier_name).path) if verifier_name else None
        for name in sets:
            records = load_records(DATA / f"{name}.jsonl")
            writer = name.startswith("pii_writer")
            for split in (splits if writer else ["dev"]):
                chosen = [r for r in records if r.get("split", "dev") == split] if writer else records
                if not chosen:
                    continue
                result = evaluate(chosen, names, tagger=tagger, tagger_types=types, name_verifier=verifier)
                if misses is not None and split == "dev":
                    for m in result["misses"]:
                        if m["type"] in misses:
                            print(f"MISS {name} {m['id']} {m['type']:8s} {m['text']!r} got={m['got']}")
                    for f in result["false_alarms"]:
                        print(f"FALSE {name} {f['id']} {f['type']:8s} {f['text']!r} | {f['line'][:120]!r}")
                rows.append({"set": name, "split": split, "tagger": arm or "none", "names": names, **row(result)})
    return rows


def pooled_dev(rows: list[dict], arm: str) -> dict:
    """The tuning data pooled (dev splits of writers 3-9, pii_lines, pii_spoken): the adoption rule's figures."""
    return pooled(rows, arm, "dev")


def pooled(rows: list[dict], arm: str, split: str) -> dict:
    """One split pooled over the sets (pii_lines and pii_spoken count as dev)."""
    mine = [r for r in rows if r["tagger"] == arm and r["split"] == split]
    gold = sum(r["gold"] for r in mine)
    pred = sum(r["predicted"] for r in mine)
    id_gold = sum(r["id_gold"] for r in mine)
    return {"gold": gold, "predicted": pred,
            "recall": round(sum(r["recall"] * r["gold"] for r in mine) / gold, 4),
            "redaction_recall": round(sum(r["redaction_recall"] * r["gold"] for r in mine) / gold, 4),
            "precision": round(sum((r["precision"] or 0) * r["predicted"] for r in mine) / pred, 4),
            "negative_lines": sum(r["negative_lines"] for r in mine),
            "negative_lines_flagged": sum(r["negative_lines_flagged"] for r in mine),
            "per_type_gold": {t: sum(r["per_type_gold"][t] for r in mine) for t in SHOWN_TYPES},
            "per_type_typed": {t: _mean(mine, "per_type_typed", t) for t in SHOWN_TYPES},
            "per_type_redacted": {t: _mean(mine, "per_type_redacted", t) for t in SHOWN_TYPES},
            "every_type": {t: _pool_type(mine, t) for t in ENTITY_TYPES},
            "id_gold": id_gold,
            "id_recall": round(sum((r["id_recall"] or 0) * r["id_gold"] for r in mine) / id_gold, 4),
            "id_redaction_recall": round(sum((r["id_redaction_recall"] or 0) * r["id_gold"] for r in mine) / id_gold,
                                         4)}


def _pool_type(rows: list[dict], t: str) -> dict:
    """One type's gold, predictions, typed and redacted recall and precision, pooled over rows."""
    per = [r["every_type"][t] for r in rows]
    gold, pred = sum(x["gold"] for x in per), sum(x["predicted"] for x in per)
    def weighted(key: str, weight: str, total: int) -> float | None:
        return round(sum((x[key] or 0) * x[weight] for x in per) / total, 4) if total else None

    return {"gold": gold, "predicted": pred, "recall": weighted("recall", "gold", gold),
            "redaction_recall": weighted("redaction_recall", "gold", gold),
            "precision": weighted("precision", "predicted", pred)}


def _mean(rows: list[dict], key: str, t: str) -> float | None:
    gold = sum(r["per_type_gold"][t] for r in rows)
    return round(sum((r[key][t] or 0) * r["per_type_gold"][t] for r in rows) / gold, 4) if gold else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tagger", action="append", default=None,
                    help="arm(s): '' = rules alone (always run), or a fitted tagger's registry name; "
                    "'ARM|verifier=NAME' adds a name verifier (registry name or folder) to that arm")
    ap.add_argument("--names", default="rules", choices=("rules", "ner", "cues"))
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated set names")
    ap.add_argument("--misses", default=None, help="comma-separated types: print their dev misses and dev false alarms")
    ap.add_argument("--splits", default="dev", help="comma-separated: dev, heldout")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    arms = [""] + [t for t in (args.tagger or []) if t]
    splits = args.splits.split(",")
    if args.misses is not None and splits != ["dev"]:
        ap.error("--misses reads dev records only: use it with --splits dev")
    misses = set(args.misses.split(",")) if args.misses is not None else None
    rows = measure(arms, args.names, splits, args.sets.split(","), misses)
    print(f"{'set':12s} {'split':8s} {'tagger':15s} {'gold':>5s} {'typed':>6s} {'redact':>6s} {'prec':>6s} "
          f"{'idgold':>6s} {'idtyp':>6s} {'idred':>6s}")
    for r in rows:
        print(f"{r['set']:12s} {r['split']:8s} {r['tagger']:15s} {r['gold']:5d} {r['recall']:6.3f} "
              f"{r['redaction_recall']:6.3f} {r['precision'] or 0:6.3f} {r['id_gold']:6d} "
              f"{r['id_recall'] or 0:6.3f} {r['id_redaction_recall'] or 0:6.3f}")
    pools = {split: {arm or "none": pooled(rows, arm or "none", split) for arm in arms} for split in splits}
    for split, by_arm in pools.items():
        for arm, p in by_arm.items():
            print(f"{split} pooled {arm}: {json.dumps(p)}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "dev_pooled": pools.get("dev", {}),
                                         "pooled": pools}, indent=1))


if __name__ == "__main__":
    main()
