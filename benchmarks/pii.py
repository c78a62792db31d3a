"""Recall and precision of PII detection on the labelled transcript lines.

    .venv/bin/python -m benchmarks.pii [--data tests/data/pii_lines.jsonl] [--spoken tests/data/pii_spoken.jsonl]
                                       [--names rules|ner]

``--writer3`` and ``--writer4`` are sets by two independent writers (labels written before any
detector ran on them): each scored per split, dev and held-out, beside its first measurement;
only the dev split's misses and false alarms are written out.

``tests/data/pii_lines.jsonl`` labels an order / reference number in digits alone as no PII; it is
scored under both ``[redact] digit_ids`` settings (the config's own setting scores the rest).

``--spoken`` is the second labelled set: ASR-style lines (lower case, little punctuation) with
identifiers spelled in answer to an ID question and people's names; it is also scored with
each name detector (rules, the NER model alone, call cues alone, both).

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
from wocas.models.registry import resolve
from wocas.text.pii import ENTITY_TYPES, PiiSpan, find_pii_in_turns
from wocas.text.pii_tagger import load_tagger

DEFAULT_DATA = ROOT / "tests" / "data" / "pii_lines.jsonl"
DEFAULT_SPOKEN = ROOT / "tests" / "data" / "pii_spoken.jsonl"
DEFAULT_WRITER3 = ROOT / "tests" / "data" / "pii_writer3.jsonl"
DEFAULT_WRITER4 = ROOT / "tests" / "data" / "pii_writer4.jsonl"
# pii_writer4.jsonl measured once (names=ner, commit b83cf60) before any change made because of it.
WRITER4_FIRST_RUN_FILE = ROOT / "benchmarks" / "results" / "pii_writer4_first_run.json"
DEFAULT_WRITER5 = ROOT / "tests" / "data" / "pii_writer5.jsonl"
# pii_writer5.jsonl measured once (names=ner, commit 3868d7b, after the writer4 fixes) before any change made because of it.
WRITER5_FIRST_RUN_FILE = ROOT / "benchmarks" / "results" / "pii_writer5_first_run.json"
DEFAULT_WRITER6 = ROOT / "tests" / "data" / "pii_writer6.jsonl"
# pii_writer6.jsonl measured once (names=ner, rules alone and rules + the fitted tagger, after the
# tagger was fitted and pinned) before any change made because of it.
WRITER6_FIRST_RUN_FILE = ROOT / "benchmarks" / "results" / "pii_writer6_first_run.json"
DEFAULT_WRITER7 = ROOT / "tests" / "data" / "pii_writer7.jsonl"
# pii_writer7.jsonl measured once (names=ner, rules alone and rules + the tagger refitted with
# writer6, after it was pinned) before any change made because of it.
WRITER7_FIRST_RUN_FILE = ROOT / "benchmarks" / "results" / "pii_writer7_first_run.json"
# pii_writer3.jsonl measured once (names=ner) before any change made because of it
# (benchmarks/results/pii_writer3_first_run.json): typed recall per type (labelled spans) and overall.
WRITER3_FIRST_RUN = {
    "dev": {"lines": 298, "negative_lines_flagged": "1 of 181",
            "overall": {"gold": 132, "recall": 0.6212, "redaction_recall": 0.6364, "precision": 0.9247},
            "recall": {"CARD": 0.8889, "ACCOUNT": 0.8235, "CVV": 1.0, "EXPIRY": 1.0, "IBAN": 1.0, "SORT_CODE": 1.0,
                       "SSN": 0.0, "EMAIL": 0.5, "PHONE": 0.9, "POSTCODE": 0.7143, "ADDRESS": 0.1429, "DOB": 0.7,
                       "NAME": 0.5667, "ID": 0.45}},
    "heldout": {"lines": 148, "negative_lines_flagged": "1 of 89",
                "overall": {"gold": 67, "recall": 0.5522, "redaction_recall": 0.6269, "precision": 0.8636},
                "recall": {"CARD": 0.25, "ACCOUNT": 0.875, "CVV": 1.0, "EXPIRY": 1.0, "IBAN": 1.0, "SORT_CODE": 0.0,
                           "SSN": 0.75, "EMAIL": 1.0, "PHONE": 1.0, "POSTCODE": 1.0, "ADDRESS": 0.25, "DOB": 0.3333,
                           "NAME": 0.3333, "ID": 0.125}},
}
NAME_VARIANTS = ("rules", "ner-only", "cues", "ner")
# pii_spoken.jsonl: labels written before any detector ran on it; its held-out third was measured
# once (below) after the detector had been built on the dev part, then the dev part alone was used
# to fix misses (false names on fillers and keywords, names repeated later in the call).
SPOKEN_HELDOUT_FIRST_RUN = {
    "lines": 51, "ID": {"gold": 7, "recall": 0.7143, "precision": 1.0},
    "ACCOUNT": {"gold": 8, "recall": 0.875, "precision": 1.0},
    "NAME": {"gold": 13, "recall": {"rules": 0.3846, "ner-only": 0.6154, "cues": 0.7692, "ner": 0.7692},
             "precision": {"rules": 1.0, "ner-only": 1.0, "cues": 1.0, "ner": 1.0}},
}
# That held-out third then showed three ID misses (lower-case "a" / "i" read as letters of a code), fixed
# with a general rule, so it is no longer held out. "heldout2" (18 records, 35 lines) was written and
# labelled before that fix and measured once after it (detector "ner"); one label there had its offset
# on the wrong "t" (the builder searched the substring; fixed), with which both figures are 1.0.
SPOKEN_HELDOUT2_FIRST_RUN = {"lines": 35, "ID": {"gold": 13, "recall": 1.0, "precision": 1.0},
                             "NAME": {"gold": 7, "recall": 1.0, "precision": 1.0}, "negatives_flagged": "0 of 16"}
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


def find_sets(data: Path) -> list[Path]:
    """A labelled-lines file, or every ``*pii*.jsonl`` under a folder (one JSON record a line:
    {id, split?, turns: [{speaker, text, spans: [{type, start, end, text}]}]})."""
    return [data] if data.is_file() else sorted(data.rglob("*pii*.jsonl"))


def evaluate(records: list[dict], names: str = "rules", entities=ENTITY_TYPES, digit_ids: bool = True,
             tagger=None, tagger_types=None, name_verifier=None) -> dict:
    started = time.perf_counter()
    predictions = [find_pii_in_turns([(t["speaker"], t["text"]) for t in rec["turns"]], entities, names=names,
                                     digit_ids=digit_ids, tagger=tagger, tagger_types=tagger_types,
                                     name_verifier=name_verifier)
                   for rec in records]
    return score(records, predictions, time.perf_counter() - started)


def score(records: list[dict], predictions: list[list[PiiSpan]], seconds: float = 0.0) -> dict:
    """Typed recall, redaction recall and precision of ``predictions`` (one list of spans per record)."""
    tp_rec, tp_red, n_gold = Counter(), Counter(), Counter()
    tp_prec, tp_prec_any, n_pred = Counter(), Counter(), Counter()
    misses, false_alarms = [], []
    lines = 0
    for rec, preds in zip(records, predictions):
        turns = rec["turns"]
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
    negatives = [(r["id"], t) for r in records for ti, t in enumerate(r["turns"]) if not t["spans"]]
    flagged_negatives = sum(1 for rid, t in negatives
                            if any(f["id"] == rid and f["line"] == t["text"] for f in false_alarms))
    return {"records": len(records), "lines": lines, "negative_lines_flagged": flagged_negatives,
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
        f"and reference numbers, times, percentages). Detection took {result['seconds']} s on {machine}, "
        f"with `[redact] digit_ids = {str(result.get('digit_ids', True)).lower()}` (the set's labels follow "
        "`false`: both settings are compared below).",
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


def by_split(records: list[dict], names: str, entities=ENTITY_TYPES, digit_ids: bool = True, tagger=None) -> dict:
    out = {}
    for split in sorted({r.get("split", "dev") for r in records}):
        part = evaluate([r for r in records if r.get("split", "dev") == split], names, entities, digit_ids, tagger)
        out[split] = {k: part[k] for k in ("records", "lines", "lines_without_pii", "negative_lines_flagged",
                                           "per_type", "overall")}
    return out


def spoken_markdown(spoken: dict) -> list[str]:
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    lines = ["", "## ASR-style lines: spelled identifiers and names (tests/data/pii_spoken.jsonl)", "",
             f"{spoken['lines']} lines in {spoken['records']} records, a third held out; "
             f"{spoken['lines_without_pii']} lines without PII (prices, dates, times, quantities, product codes, "
             f"companies, places), of which {spoken['negative_lines_flagged']} got a prediction "
             f"(name detector `{spoken['names']}`).", "",
             "| split | type | labelled | recall (typed) | recall (redacted) | precision (typed) |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    for split, part in spoken["splits"].items():
        for t, m in list(part["per_type"].items()) + [("overall", part["overall"])]:
            if m["gold"] or m["predicted"]:
                lines.append(f"| {split} | {t} | {m['gold']} | {pct(m['recall'])} | {pct(m['redaction_recall'])} "
                             f"| {pct(m['precision'])} |")
    lines += ["", "Names by detector (typed recall / precision):", "",
              "| detector | dev recall | dev precision | heldout recall | heldout precision "
              "| heldout first run recall | pii_lines recall | pii_lines precision |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    first = SPOKEN_HELDOUT_FIRST_RUN["NAME"]["recall"]
    for v, r in spoken["name_variants"].items():
        lines.append(f"| {v} | {pct(r['dev']['recall'])} | {pct(r['dev']['precision'])} | "
                     f"{pct(r['heldout']['recall'])} | {pct(r['heldout']['precision'])} | {first[v]:.3f} | "
                     f"{pct(r['pii_lines']['recall'])} | {pct(r['pii_lines']['precision'])} |")
    f = SPOKEN_HELDOUT_FIRST_RUN
    lines += ["", f"Held-out first run (before any fix made on what the dev part showed): ID recall "
              f"{f['ID']['recall']:.3f} ({f['ID']['gold']} spans), ACCOUNT {f['ACCOUNT']['recall']:.3f}; "
              "rules: the name patterns that need a capital or \"my name is\"; ner-only: spaCy en_core_web_sm "
              "PERSON entities on the lower-case text; cues: a word after an introduction, a greeting or the "
              "answer to \"who am I speaking with\", kept when the tagger reads it as a proper noun once it "
              "is capitalised; ner: both. The first held-out third was then used to fix a general rule (lower-case "
              "\"a\" / \"i\" inside a code), so its figures above are no longer held out; `heldout2` was written "
              "before that fix and measured once after it: ID recall "
              f"{SPOKEN_HELDOUT2_FIRST_RUN['ID']['recall']:.3f} ({SPOKEN_HELDOUT2_FIRST_RUN['ID']['gold']} spans), "
              f"NAME {SPOKEN_HELDOUT2_FIRST_RUN['NAME']['recall']:.3f} ({SPOKEN_HELDOUT2_FIRST_RUN['NAME']['gold']}), "
              f"negative lines flagged {SPOKEN_HELDOUT2_FIRST_RUN['negatives_flagged']}. These sets are small "
              "and written by the detector's author: upper bounds for real calls."]
    if spoken["misses"]:
        lines += ["", "Misses:", ""] + [f"- {m['id']} {m['type']}: `{m['text']}` (got {m['got']})"
                                        for m in spoken["misses"]]
    if spoken["false_alarms"]:
        lines += ["", "False alarms:", ""] + [f"- {x['id']} {x['type']}: `{x['text']}` in \"{x['line']}\""
                                              for x in spoken["false_alarms"]]
    return lines


def load_first_run(path: Path) -> dict:
    """A set's first measurement as ``{split: {"overall": ..., "recall": {type: ...}, "lines": ...}}``."""
    data = json.loads(path.read_text())
    return {split: data[split] for split in ("dev", "heldout") if split in data}


def score_writer(records: list[dict], names: str, entities=ENTITY_TYPES, digit_ids: bool = True,
                 tagger=None) -> dict:
    """An independent writer's set: aggregate figures per split, and the dev split's misses and false
    alarms only (a held-out split's are never written out), with the dev split's type confusions."""
    dev = evaluate([r for r in records if r.get("split", "dev") == "dev"], names, entities, digit_ids, tagger)
    confusions = Counter(f"{m['type']} -> {g[0]}" for m in dev["misses"] for g in m["got"][:1] if g[0] != m["type"])
    return {"names": names, "digit_ids": digit_ids, "splits": by_split(records, names, entities, digit_ids, tagger),
            "dev_misses": dev["misses"], "dev_false_alarms": dev["false_alarms"],
            "dev_confusions": dict(confusions.most_common())}


def writer_markdown(w: dict, title: str, path: str, first: dict, about: str) -> list[str]:
    """One independent writer's set: per split, today's figures beside the first measurement."""
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    lines = ["", f"## {title} ({path})", "",
             about + " The first measurement (before any change made because of this set) is kept beside "
             "today's. The detector was then fixed on the dev split only; the held-out split is scored once "
             "at the end.", "",
             "| split | lines | negative lines flagged | recall (typed) | recall (redacted) | precision (typed) "
             "| first run: recall (typed) / (redacted) / precision |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for split, part in w["splits"].items():
        o, f = part["overall"], first.get(split, {}).get("overall")
        was = f"{f['recall']:.3f} / {f['redaction_recall']:.3f} / {f['precision']:.3f}" if f else "-"
        lines.append(f"| {split} | {part['lines']} | {part['negative_lines_flagged']} of {part['lines_without_pii']} "
                     f"| {pct(o['recall'])} | {pct(o['redaction_recall'])} | {pct(o['precision'])} | {was} |")
        other = w.get("other_arm", {})
        alone = other.get("splits", {}).get(split)
        if alone:
            a = alone["overall"]
            arm = "rules alone (no tagger)" if other["tagger"] == "none" else "with the tagger pii-tagger"
            lines.append(f"| {split}, {arm} | {alone['lines']} | {alone['negative_lines_flagged']} of "
                         f"{alone['lines_without_pii']} | {pct(a['recall'])} | {pct(a['redaction_recall'])} "
                         f"| {pct(a['precision'])} | |")
    lines += ["", "| type | dev labelled | dev recall (first run) | dev precision | heldout labelled "
              "| heldout recall (first run) | heldout precision |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    dev, held = w["splits"].get("dev"), w["splits"].get("heldout")
    for t in ENTITY_TYPES:
        cells = []
        for split, part in (("dev", dev), ("heldout", held)):
            m = part["per_type"][t] if part else None
            if m is None or not (m["gold"] or m["predicted"]):
                cells += ["0", "-", "-"]
                continue
            was = first.get(split, {}).get("recall", {}).get(t)
            cells += [str(m["gold"]), f"{pct(m['recall'])} ({pct(was)})", pct(m["precision"])]
        if any(c not in ("0", "-") for c in cells):
            lines.append(f"| {t} | " + " | ".join(cells) + " |")
    if w.get("dev_confusions"):
        lines += ["", "Dev type confusions (labelled -> found, the value redacted under another tag): "
                  + ", ".join(f"{k}: {v}" for k, v in w["dev_confusions"].items()) + "."]
    if w["dev_misses"]:
        lines += ["", "Dev misses:", ""] + [f"- {m['id']} {m['type']}: `{m['text']}` (got {m['got']})"
                                            for m in w["dev_misses"]]
    if w["dev_false_alarms"]:
        lines += ["", "Dev false alarms:", ""] + [f"- {x['id']} {x['type']}: `{x['text']}` in \"{x['line']}\""
                                                  for x in w["dev_false_alarms"]]
    return lines


WRITER3_ABOUT = "150 records by another writer, labels written before any detector ran; every third record held out."
WRITER4_ABOUT = ("150 records by a fourth writer (a contact-centre QA lead's view: spoken identifiers, sort codes and "
                 "account numbers said many ways, agents' and third parties' names), labels written before any "
                 "detector ran; every third record held out. It labels policy, membership and customer numbers ID; "
                 "the detector, like the other three sets, calls them ACCOUNT (see the type confusions).")


WRITER5_ABOUT = ("120 records by a fifth writer (half US / Indian / Australian, half UK / Irish contact centres), "
                 "labels written before any detector ran; every third record held out. Measured first with the "
                 "detector as it stood after the writer4 fixes, so its first run is the truest figure of this "
                 "detector on a writer nobody had seen.")


WRITER6_ABOUT = ("120 records by a sixth writer (UK, Irish, US, Canadian, South African, Australian, Indian and "
                 "Nigerian contact centres), written blind (no WOCAS code run on it); every third record held out. "
                 "Measured first once the fitted tagger was pinned, with and without it: the truest figure of the "
                 "detector on a writer nobody has fitted or fixed anything on.")


WRITER7_ABOUT = ("120 records by a seventh writer (longer phone exchanges with values given in pieces, corrected "
                 "and read back; names of many origins and names that are common words), written blind; every "
                 "third record held out. Measured first once the tagger refitted with writer6 was pinned, with "
                 "and without it.")


def digit_ids_markdown(both: dict) -> list[str]:
    """pii_lines under both ``[redact] digit_ids`` settings."""
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    lines = ["", "## tests/data/pii_lines.jsonl under both `[redact] digit_ids` settings", "",
             "That set labels an order, reference, ticket or tracking number in digits alone as no PII "
             "(`digit_ids = false`); the two independent writers and issue 18 count one given as an identifier "
             "as a leak (`digit_ids = true`, the default). The difference is only ID predictions on those lines.", "",
             "| digit_ids | split | recall (typed) | recall (redacted) | precision (typed) | negative lines flagged "
             "| ID predicted |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for setting, splits in both.items():
        for split, part in splits.items():
            o = part["overall"]
            lines.append(f"| {setting} | {split} | {pct(o['recall'])} | {pct(o['redaction_recall'])} | "
                         f"{pct(o['precision'])} | {part['negative_lines_flagged']} of {part['lines_without_pii']} | "
                         f"{part['per_type']['ID']['predicted']} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--spoken", type=Path, default=DEFAULT_SPOKEN)
    parser.add_argument("--writer3", type=Path, default=DEFAULT_WRITER3)
    parser.add_argument("--writer4", type=Path, default=DEFAULT_WRITER4)
    parser.add_argument("--writer5", type=Path, default=DEFAULT_WRITER5)
    parser.add_argument("--writer6", type=Path, default=DEFAULT_WRITER6)
    parser.add_argument("--writer7", type=Path, default=DEFAULT_WRITER7)
    parser.add_argument("--tagger", default=None,
                        help="fitted PII tagger, registry name or folder (default: the config's [redact] tagger; '' = none)")
    parser.add_argument("--names", choices=("rules", "ner"), default=None,
                        help="name detector (default: ner when spaCy's model is installed, else rules)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--config", type=Path, help="wocas TOML config (its [redact] entities are detected)")
    args = parser.parse_args()
    from benchmarks.common import load_bench_config
    from wocas.text import names as ner

    config = load_bench_config(args.config)
    names = args.names or ("ner" if ner.available() else "rules")
    files = find_sets(args.data) or [DEFAULT_DATA]
    records = [r for f in files for r in load_records(f)]
    entities, digit_ids = config.redact.entities, config.redact.digit_ids
    tagger_name = config.redact.tagger if args.tagger is None else args.tagger
    tagger = load_tagger(resolve(tagger_name).path) if tagger_name else None
    result = evaluate(records, names, entities, digit_ids, tagger)
    result["files"] = [str(f) for f in files]
    result["models"] = [{"field": "redact.entities", "name": f"{names} (wocas.text.pii)", "entities": list(entities)},
                        {"field": "redact.tagger", "name": tagger_name or "none"}]
    result["names"] = names
    result["tagger"] = tagger_name
    result["digit_ids"] = digit_ids
    result["splits"] = by_split(records, names, entities, digit_ids, tagger)
    result["pii_lines_digit_ids"] = {str(v).lower(): by_split(records, names, entities, v, tagger) for v in (True, False)}
    if args.spoken.exists():
        spoken_records = load_records(args.spoken)
        spoken = evaluate(spoken_records, names, entities, digit_ids, tagger)
        spoken.update(names=names, splits=by_split(spoken_records, names, entities, digit_ids, tagger), name_variants={})
        for v in NAME_VARIANTS if ner.available() else ("rules",):
            row = {}
            for split in ("dev", "heldout"):
                row[split] = evaluate([r for r in spoken_records if r.get("split", "dev") == split],
                                      v)["per_type"]["NAME"]
            row["pii_lines"] = evaluate(records, v)["per_type"]["NAME"]
            spoken["name_variants"][v] = row
        result["spoken"] = spoken
        result["spoken_heldout_first_run"] = SPOKEN_HELDOUT_FIRST_RUN
        result["spoken_heldout2_first_run"] = SPOKEN_HELDOUT2_FIRST_RUN
    for writer, path in (("writer3", args.writer3), ("writer4", args.writer4), ("writer5", args.writer5),
                         ("writer6", args.writer6), ("writer7", args.writer7)):
        if path.exists():
            writer_records = load_records(path)
            result[writer] = score_writer(writer_records, names, entities, digit_ids, tagger)
            other = None if tagger is not None else load_tagger(resolve("pii-tagger").path)
            result[writer]["other_arm"] = {"tagger": "none" if other is None else "pii-tagger",
                                           "splits": by_split(writer_records, names, entities, digit_ids, other)}
    result["writer3_first_run"] = WRITER3_FIRST_RUN
    for writer, path in (("writer4", WRITER4_FIRST_RUN_FILE), ("writer5", WRITER5_FIRST_RUN_FILE),
                         ("writer6", WRITER6_FIRST_RUN_FILE), ("writer7", WRITER7_FIRST_RUN_FILE)):
        if path.exists():
            result[f"{writer}_first_run"] = load_first_run(path)
    machine = (f"{platform.machine()}, {os.cpu_count()} CPU cores shared with other jobs "
               f"({platform.system()}, Python {platform.python_version()})")
    result["machine"] = machine
    args.out.mkdir(parents=True, exist_ok=True)
    result["heldout_first_run"] = HELDOUT_FIRST_RUN
    (args.out / "pii.json").write_text(json.dumps(result, indent=1))
    md = to_markdown(result, machine)
    md += (f"\n**Tagger: {tagger_name or 'none'}** (`[redact] tagger`; the writers' sets also show a row with "
           f"{'the rules alone' if tagger is not None else 'the fitted tagger `pii-tagger` on'}). "
           "The tagger was fitted on every record of pii_lines, pii_spoken and writers 3-6, their held-out thirds "
           "included, so with it those sets' figures are in-sample (not so the rules alone). "
           "Each later writer's first run (pii_writer6_first_run.json before writer6 joined the tagger's "
           "training, pii_writer7_first_run.json) is the honest figure.\n")
    if "spoken" in result:
        md += "\n".join(spoken_markdown(result["spoken"])) + "\n"
    md += "\n".join(digit_ids_markdown(result["pii_lines_digit_ids"])) + "\n"
    if "writer3" in result:
        md += "\n".join(writer_markdown(result["writer3"], "An independent writer's set", "tests/data/pii_writer3.jsonl",
                                         WRITER3_FIRST_RUN, WRITER3_ABOUT)) + "\n"
    if "writer4" in result:
        md += "\n".join(writer_markdown(result["writer4"], "A fourth writer's set", "tests/data/pii_writer4.jsonl",
                                         result["writer4_first_run"], WRITER4_ABOUT)) + "\n"
    if "writer5" in result:
        md += "\n".join(writer_markdown(result["writer5"], "A fifth writer's set", "tests/data/pii_writer5.jsonl",
                                         result["writer5_first_run"], WRITER5_ABOUT)) + "\n"
    if "writer6" in result:
        md += "\n".join(writer_markdown(result["writer6"], "A sixth writer's set", "tests/data/pii_writer6.jsonl",
                                         result.get("writer6_first_run", {}), WRITER6_ABOUT)) + "\n"
    if "writer7" in result:
        md += "\n".join(writer_markdown(result["writer7"], "A seventh writer's set", "tests/data/pii_writer7.jsonl",
                                         result.get("writer7_first_run", {}), WRITER7_ABOUT)) + "\n"
    (args.out / "pii.md").write_text(md)
    for split, part in result["splits"].items():
        o = part["overall"]
        print(f"{split}: {part['lines']} lines, recall {o['recall']} precision {o['precision']}")
    o = result["overall"]
    print(f"overall recall {o['recall']} (redacted {o['redaction_recall']}) precision {o['precision']}"
          f" (any type {o['redaction_precision']})")
    if "spoken" in result:
        for split, part in result["spoken"]["splits"].items():
            pt = part["per_type"]
            print(f"spoken {split}: ID recall {pt['ID']['recall']} NAME recall {pt['NAME']['recall']} "
                  f"precision {part['overall']['precision']}")
    for setting, splits in result["pii_lines_digit_ids"].items():
        print("pii_lines digit_ids=" + setting + ": " + ", ".join(
            f"{split} recall {p['overall']['recall']} precision {p['overall']['precision']}" for split, p in splits.items()))
    for writer, split, part in [(w, split, part) for w in ("writer3", "writer4", "writer5", "writer6", "writer7")
                                for split, part in result.get(w, {}).get("splits", {}).items()]:
        o = part["overall"]
        print(f"{writer} {split}: recall {o['recall']} (redacted {o['redaction_recall']}) precision {o['precision']}, "
              f"negative lines flagged {part['negative_lines_flagged']} of {part['lines_without_pii']}")
        print("   " + " ".join(f"{t}={m['recall']}" for t, m in part["per_type"].items() if m["gold"]))
    for t, m in result["per_type"].items():
        print(f"  {t:10s} gold {m['gold']:3d} pred {m['predicted']:3d} recall {m['recall']} precision {m['precision']}")


if __name__ == "__main__":
    main()
