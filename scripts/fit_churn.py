"""Fit the defection risk's factor weights on the team's written calls, leave-one-writer-out (issue 19, item 5).

    PYTHONPATH=.pyshim:. .venv/bin/python scripts/fit_churn.py --cache DIR --records FILE [--evaluate] [--write]

The risk stays the noisy-OR of named factors (``wocas.analytics.customers``): each factor's raw value
x in [0, 1] times its named weight w, P(leave) = 1 - prod(1 - w x). Here the weights are fitted by
maximum likelihood (``wocas.analytics.risk_fit``: L-BFGS-B, each w in [0, 0.95], an L2 pull of 1.0
toward the hand-set weights) on who left: a customer is a leaver if any of their calls says
``leaving=yes``. Those labels are the writers'; there are no others.

The factors are read from out-of-writer records: ``scripts/lowo.py``'s chain with the shipped
candidate (``words_blend``), so each writer's calls carry a resolution, signals, trajectory and
satisfaction read by heads trained on the other writers. The records are written to a temporary
DuckDB store and the customers' risk inputs are read from it as the roll-up reads them.
``--records FILE`` keeps them (read when it exists, else written): the chain runs once.

``--evaluate``: for each writer (one source file of ``lowo.default_sources()``), fit on the other writers' customers and score that
writer's, hand-set and fitted weights in the same run: ROC-AUC and leavers in top k; writes
benchmarks/results/churn_lowo.json and .md. ``--write``: fit on every writer and write
models/churn-risk/weights.json, rewriting its sha256 pin in models/registry.toml.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from wocas.analytics.customers import (HAND_SET_WEIGHTS, WEIGHTS_KIND, RiskInputs, defection_risk,  # noqa: E402
                                       raw_values, risk_factors, risk_inputs)
from wocas.analytics.risk_fit import L2, UPPER, fit_weights  # noqa: E402

NAMES = tuple(HAND_SET_WEIGHTS)
PRIOR = np.array([HAND_SET_WEIGHTS[n] for n in NAMES])
CANDIDATE = "words_blend"  # the shipped chain (scripts/lowo.py)
RESULT = ROOT / "benchmarks" / "results" / "churn_lowo"
WEIGHTS_FILE = ROOT / "models" / "churn-risk" / "weights.json"
REGISTRY_NAME = "churn-risk"
ADOPTION_RULE = ("Fitted weights are adopted only if the mean over writers of the ROC-AUC rises by at least 0.02 "
                 "over the hand-set weights AND the leavers in top k summed over writers does not fall. "
                 "Fixed and committed before the first evaluation run.")


@dataclass
class Customers:
    ids: list[str]
    writer: np.ndarray  # per customer
    left: np.ndarray  # 1 = a leaver
    inputs: list[RiskInputs]
    X: np.ndarray  # raw factor values, customers x NAMES


def out_of_writer_records(cache: Path, records_file: Path | None) -> list[dict]:
    """[{writer, leaving, customer, record}] per call: lowo's chain with the shipped candidate's options."""
    from wocas.schema import CallAnalysis

    if records_file is not None and records_file.is_file():
        rows = [json.loads(line) for line in records_file.read_text().splitlines()]
    else:
        import lowo

        chain = lowo.load_chain(lowo.default_sources(), cache)
        result = lowo.run(chain, lowo.CANDIDATES[CANDIDATE][2])
        rows = [{"writer": str(w), "leaving": c.labels["leaving"], "customer": c.customer_id, "record": r.to_json()}
                for c, w, r in zip(chain.calls, chain.writers, result["records"])]
        if records_file is not None:
            records_file.parent.mkdir(parents=True, exist_ok=True)
            records_file.write_text("".join(json.dumps(row) + "\n" for row in rows))
    for row in rows:
        row["record"] = CallAnalysis.from_json(row["record"])
    return rows


def customer_inputs(records: list) -> dict[str, RiskInputs]:
    """The customers' risk inputs as the roll-up reads them, from a temporary store of ``records``."""
    from wocas.store import Store

    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "churn.duckdb") as store:
        store.write(records, run_id="fit-churn", pipeline_version="lowo")
        return risk_inputs(store)


def customer_table(rows: list[dict]) -> Customers:
    inputs = customer_inputs([r["record"] for r in rows])
    writer: dict[str, str] = {}
    left: dict[str, bool] = {}
    for r in rows:
        writer[r["customer"]] = r["writer"]
        left[r["customer"]] = left.get(r["customer"], False) or r["leaving"] == "yes"
    missing = sorted(set(writer) - set(inputs))
    if missing:
        raise SystemExit(f"customers missing from the store: {missing[:5]}")
    ids = sorted(writer)
    raw = [raw_values(inputs[c]) for c in ids]
    X = np.array([[r[n] for n in NAMES] for r in raw])
    return Customers(ids, np.array([writer[c] for c in ids]), np.array([left[c] for c in ids], dtype=float),
                     [inputs[c] for c in ids], X)


def risks(inputs: list[RiskInputs], weights: dict[str, float]) -> np.ndarray:
    """Each customer's defection risk as the roll-up computes it."""
    return np.array([defection_risk(risk_factors(i, weights))[0] for i in inputs])


def leavers_in_top_k(left: np.ndarray, risk: np.ndarray) -> float:
    """Of the k leavers, how many are among the k riskiest; customers tied at the cut share the places
    left (the expected count under a random order of the ties)."""
    k = int(left.sum())
    if k == 0:
        return 0.0
    cut = np.sort(risk)[::-1][k - 1]
    above, tied = risk > cut, risk == cut
    places = k - int(above.sum())
    return float(left[above].sum() + left[tied].sum() * places / tied.sum())


def as_weights(w: np.ndarray) -> dict[str, float]:
    return {n: round(float(v), 4) for n, v in zip(NAMES, w)}


def scores(left: np.ndarray, risk: np.ndarray) -> dict:
    from sklearn.metrics import roc_auc_score

    auc = float(roc_auc_score(left, risk)) if 0 < left.sum() < len(left) else None
    return {"roc_auc": None if auc is None else round(auc, 4), "leavers_in_top_k": round(leavers_in_top_k(left, risk), 2)}


def evaluate(table: Customers) -> dict:
    """Per writer: fit on the other writers, score this one, hand-set and fitted side by side."""
    per_writer, fitted_risk, hand_risk, fits = {}, np.zeros(len(table.ids)), np.zeros(len(table.ids)), {}
    for g in sorted(set(table.writer)):
        test = table.writer == g
        w = as_weights(fit_weights(table.X[~test], table.left[~test], PRIOR))
        fits[g] = w
        test_inputs = [i for i, t in zip(table.inputs, test) if t]
        hand_risk[test] = risks(test_inputs, HAND_SET_WEIGHTS)
        fitted_risk[test] = risks(test_inputs, w)
        per_writer[g] = {"customers": int(test.sum()), "leavers": int(table.left[test].sum()),
                         "hand_set": scores(table.left[test], hand_risk[test]),
                         "fitted": scores(table.left[test], fitted_risk[test])}
        print(f"  {g}: {json.dumps(per_writer[g])}", flush=True)
    summary = {}
    for arm, risk in (("hand_set", hand_risk), ("fitted", fitted_risk)):
        aucs = [r[arm]["roc_auc"] for r in per_writer.values() if r[arm]["roc_auc"] is not None]
        summary[arm] = {"mean_roc_auc": round(float(np.mean(aucs)), 4),
                        "pooled_roc_auc": scores(table.left, risk)["roc_auc"],
                        "leavers_in_top_k_summed": round(sum(r[arm]["leavers_in_top_k"] for r in per_writer.values()), 2)}
    rise = summary["fitted"]["mean_roc_auc"] - summary["hand_set"]["mean_roc_auc"]
    kept = summary["fitted"]["leavers_in_top_k_summed"] >= summary["hand_set"]["leavers_in_top_k_summed"]
    return {"per_writer": per_writer, "summary": summary, "weights_per_fold": fits,
            "adopted": bool(rise >= 0.02 and kept), "mean_roc_auc_rise": round(rise, 4)}


def write_weights(table: Customers, figures: dict | None, path: Path = WEIGHTS_FILE) -> dict[str, float]:
    weights = as_weights(fit_weights(table.X, table.left, PRIOR))
    present = {n: int((table.X[:, j] > 0).sum()) for j, n in enumerate(NAMES)}
    data = {"kind": WEIGHTS_KIND, "version": 1, "weights": weights, "hand_set": dict(HAND_SET_WEIGHTS),
            "fit": {"method": "maximum likelihood of the noisy-OR, L-BFGS-B", "upper": UPPER,
                    "l2_toward_hand_set": L2},
            "training": {"writers": len(set(table.writer)), "customers": len(table.ids),
                         "leavers": int(table.left.sum()), "customers_with_factor": present,
                         "records": f"scripts/lowo.py candidate {CANDIDATE}, out of writer"},
            "lowo": figures}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")
    pin_registry(REGISTRY_NAME, path)
    return weights


def pin_registry(name: str, path: Path, registry: Path = ROOT / "models" / "registry.toml") -> None:
    """Rewrite the sha256 pin of ``[models."name"]``."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    text, n = re.subn(rf'(\[models\."{re.escape(name)}"\][^\[]*?sha256 = ")[0-9a-f]+(")', rf"\g<1>{digest}\2",
                      registry.read_text())
    if n != 1:
        raise SystemExit(f"{registry}: no sha256 pin for [models.\"{name}\"] to update")
    registry.write_text(text)


def write_report(data: dict, path: Path = RESULT) -> None:
    from benchmarks.common import machine

    data["machine"] = machine()
    path.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
    s = data["summary"]
    lines = ["# Defection risk: hand-set against fitted weights, leave-one-writer-out", "",
             "The risk is the noisy-OR of named factors (`engine/analytics/customers.py`). Fitted: each factor's "
             "weight by maximum likelihood (L-BFGS-B, each in [0, 0.95], an L2 pull of 1.0 toward the hand-set "
             "weight; `engine/analytics/risk_fit.py`). Labels: a customer is a leaver if any of their calls says "
             "`leaving=yes`; the writers' labels on written calls are the only labels. Each writer's customers are "
             "scored by weights fitted on the other writers' customers, from factors read out of writer "
             f"(`scripts/lowo.py`, candidate `{CANDIDATE}`), both arms in the same run (`scripts/fit_churn.py "
             "--evaluate`). Leavers in top k: of a writer's k leavers, how many are among its k riskiest "
             "customers (customers tied at the cut share the places left, so it may be fractional). "
             "Its writers are scripts/lowo.py's training sources; heldout16 and later sets are never read.", "",
             f"**Adoption rule.** {ADOPTION_RULE}", "",
             "| writer | customers | leavers | ROC-AUC hand-set | ROC-AUC fitted | top k hand-set | top k fitted |",
             "|---|---|---|---|---|---|---|"]
    for g, r in data["per_writer"].items():
        auc = [f"{r[a]['roc_auc']:.3f}" if r[a]["roc_auc"] is not None else "-" for a in ("hand_set", "fitted")]
        lines.append(f"| {g} | {r['customers']} | {r['leavers']} | {auc[0]} | {auc[1]} | "
                     f"{r['hand_set']['leavers_in_top_k']:g} | {r['fitted']['leavers_in_top_k']:g} |")
    total = sum(r["leavers"] for r in data["per_writer"].values())
    lines += [f"| **mean over writers** | | | {s['hand_set']['mean_roc_auc']:.3f} | {s['fitted']['mean_roc_auc']:.3f} | | |",
              f"| **pooled** (top k: summed over writers) | {sum(r['customers'] for r in data['per_writer'].values())} | {total} | "
              f"{s['hand_set']['pooled_roc_auc']:.3f} | {s['fitted']['pooled_roc_auc']:.3f} | "
              f"{s['hand_set']['leavers_in_top_k_summed']:g} | {s['fitted']['leavers_in_top_k_summed']:g} |", "",
              f"Mean ROC-AUC rise {data['mean_roc_auc_rise']:+.3f}; adopted: **{'yes' if data['adopted'] else 'no'}**.", ""]
    if data.get("final_weights"):
        lines += [f"Weights fitted on all {len(data['per_writer'])} writers (hand-set in brackets):", "",
                  ", ".join(f"`{n}` {data['final_weights'][n]:.3f} ({HAND_SET_WEIGHTS[n]:g})" for n in NAMES), ""]
    m = data["machine"]
    lines += [f"Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}; {m['date']}."]
    path.with_suffix(".md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="lowo's emotion-stage records (scripts/lowo.py --cache)")
    parser.add_argument("--records", type=Path, help="the out-of-writer records: read when it exists, else written")
    parser.add_argument("--evaluate", action="store_true", help="leave-one-writer-out, hand-set against fitted")
    parser.add_argument("--write", action="store_true", help="fit on every writer and write the weights file")
    args = parser.parse_args(argv)
    table = customer_table(out_of_writer_records(args.cache, args.records))
    print(f"{len(table.ids)} customers, {int(table.left.sum())} leavers, {len(set(table.writer))} writers", flush=True)
    figures = None
    if args.evaluate:
        figures = evaluate(table)
    if args.write:
        figures = figures or json.loads(RESULT.with_suffix(".json").read_text())
        figures["final_weights"] = write_weights(table, {"summary": figures["summary"], "adopted": figures["adopted"]})
    if figures is not None:
        write_report(figures)
        print(json.dumps(figures["summary"]), "adopted" if figures["adopted"] else "not adopted")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
