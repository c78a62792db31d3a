"""Fit the name verifier (wocas.text.name_verifier) on the team's labelled PII sets, and measure it
leave-one-writer-out.

    .venv/bin/python scripts/train_name_verifier.py --lowo --json benchmarks/results/name_verifier_lowo.json
    .venv/bin/python scripts/train_name_verifier.py --write models/name-verifier

Each record is read once by the redaction as shipped (rules, NER names, the CRF tagger kept to
identifiers) with a recording verifier: every NAME span found and every uncommon word proposed
becomes a candidate, labelled a name when it overlaps a labelled NAME span. ``--lowo`` fits one
model per writer on the others' candidates (pii_lines and pii_spoken, the team's own sets, are in
every fold's training data) and scores that writer's records with it, every split, beside the
redaction without a verifier: NAME recall and precision, overall precision, identifier recall.
``--write`` fits on every set and saves the model. The arms of --lowo: ``filter`` (found names
only) and ``propose`` (found names and proposed words).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.pii import load_records, score  # noqa: E402
from benchmarks.pii_identifiers import row  # noqa: E402
from wocas.models.registry import resolve  # noqa: E402
from wocas.text.name_verifier import NameVerifier, propose, span_features  # noqa: E402
from wocas.text.pii import TAGGER_IDENTIFIER_TYPES, find_pii_in_turns  # noqa: E402
from wocas.text.pii_tagger import load_tagger  # noqa: E402

DATA = ROOT / "tests" / "data"
WRITERS = [f"pii_writer{k}" for k in range(3, 19)]  # 12-13 joined: pii_writer14.md; 14-16: pii_writer17.md;
# 17-18: pii_writer19.md
TEAM = ["pii_lines", "pii_spoken"]
C = 1.0


class Recorder:
    """Stands in for a verifier: records every candidate's features and keeps every found name."""

    def __init__(self):
        self.proposes = True
        self.rows: list[tuple[dict, bool]] = []  # (features, found by a name finder)
        self.where: list[tuple[int, int, int]] = []

    def names(self, turns, found, taken, asked):
        for cand in list(found) + propose(turns, taken):
            self.rows.append((span_features(turns, cand, asked[cand.turn]), cand.found))
            self.where.append((cand.turn, cand.start, cand.end))
        return list(found)


def tagger():
    return load_tagger(resolve("pii-tagger-crf").path)


def predict(records: list[dict], verifier=None) -> list:
    tag = tagger()
    return [find_pii_in_turns([(t["speaker"], t["text"]) for t in rec["turns"]], names="ner", tagger=tag,
                              tagger_types=TAGGER_IDENTIFIER_TYPES, name_verifier=verifier) for rec in records]


def candidates(records: list[dict]) -> tuple[list[dict], np.ndarray, np.ndarray]:
    """Every candidate of ``records``: features, label (a labelled name overlaps it), found or proposed."""
    feats, labels, found = [], [], []
    tag = tagger()
    for rec in records:
        rec_turns = [(t["speaker"], t["text"]) for t in rec["turns"]]
        recorder = Recorder()
        find_pii_in_turns(rec_turns, names="ner", tagger=tag, tagger_types=TAGGER_IDENTIFIER_TYPES,
                          name_verifier=recorder)
        for (f, was_found), (ti, s, e) in zip(recorder.rows, recorder.where):
            gold = rec["turns"][ti]["spans"]
            feats.append(f)
            labels.append(any(g["type"] == "NAME" and g["start"] < e and s < g["end"] for g in gold))
            found.append(was_found)
    return feats, np.array(labels, dtype=bool), np.array(found, dtype=bool)


def fit(feats: list[dict], labels: np.ndarray, proposes: bool) -> NameVerifier:
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = DictVectorizer()
    x = vec.fit_transform(feats)
    model = LogisticRegression(C=C, fit_intercept=False, max_iter=3000).fit(x, labels)
    return NameVerifier(list(vec.get_feature_names_out()), model.coef_[0], 0.5, proposes)


def names_row(result: dict) -> dict:
    per = result["per_type"]["NAME"]
    return {"name_gold": per["gold"], "name_predicted": per["predicted"], "name_redacted": per["redaction_recall"],
            "name_precision": per["precision"], **row(result)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lowo", action="store_true")
    ap.add_argument("--arm", choices=("filter", "propose"), default="propose", help="the arm --write fits")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--write", type=Path)
    ap.add_argument("--thresholds", default=[0.5], type=lambda v: [float(x) for x in v.split(",")],
                    help="comma-separated P(name) thresholds to score in --lowo (the first is written)")
    args = ap.parse_args()
    started = time.perf_counter()
    sets = {name: load_records(DATA / f"{name}.jsonl") for name in WRITERS + TEAM}
    cands = {}
    for name, records in sets.items():
        cands[name] = candidates(records)
        print(f"{name}: {len(cands[name][0])} candidates, {int(cands[name][1].sum())} names "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
    out = {"c": C, "writers": {}, "seconds": None}
    if args.lowo:
        for held in WRITERS:
            records = sets[held]
            result = {"none": names_row(score(records, predict(records)))}
            for arm, proposes in (("filter", False), ("propose", True)):
                feats, labels = [], []
                for name, (f, y, found) in cands.items():
                    if name == held:
                        continue
                    keep = found if not proposes else np.ones(len(f), dtype=bool)
                    feats += [x for x, k in zip(f, keep) if k]
                    labels.append(y[keep])
                model = fit(feats, np.concatenate(labels), proposes)
                for threshold in args.thresholds:
                    model.threshold = threshold
                    key = arm if len(args.thresholds) == 1 else f"{arm}@{threshold:g}"
                    result[key] = names_row(score(records, predict(records, model)))
            out["writers"][held] = result
            print(held, {arm: (r["name_redacted"], r["name_precision"], r["precision"], r["id_redaction_recall"])
                         for arm, r in result.items()}, flush=True)
    if args.write:
        feats, labels = [], []
        for f, y, _ in cands.values():
            feats += f
            labels.append(y)
        model = fit(feats, np.concatenate(labels), args.arm == "propose")
        model.threshold = args.thresholds[0]
        model.save(args.write, {"fitted_on": WRITERS + TEAM, "c": C,
                                "candidates": len(feats), "names": int(np.concatenate(labels).sum())})
        print(f"wrote {args.write}")
    out["seconds"] = round(time.perf_counter() - started)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
