"""Fit the satisfaction band model (low / mid / high) on the team's written training calls.

The shipped models are now fitted by ``scripts/lowo.py --candidates words_blend --write words_blend``, whose
leave-one-writer-out figures (each writer's calls scored by models trained on the other writers)
are the primary ones; this script's within-writer folds overstate how it does on a new writer.
By default it reads the same sources (models/training/trust_calls*.txt and the challenge files
that joined training).

    .venv/bin/python scripts/fit_bands.py --records DIR/records.head.jsonl [--calls models/training/*.txt]
        [--model models/satisfaction/call_model.json]

The predicted satisfaction is a 1-5 score; the survey band it stands for was cut by hand at 2.5
and 3.5. Here the cut is fitted on the writers' band labels. The records are the training calls
as scripts/train_resolution.py --records finished them out of fold (trust read by a context head
trained without the call, resolution by a head trained without it); the satisfaction stage is run
again on them here, so the scores are the current call model's. Three band models, fixed before
any run, are compared by 5-fold cross-validation over calls grouped by customer:
  - the survey's cuts 2.5 / 3.5 (nothing fitted; the baseline);
  - two cut-points on the score, fitted (the pair with the best training accuracy);
  - a multinomial logistic regression (C 1, standardised) over the score, the closing trust, the
    resolution (state x confidence) and the cancel / leave signals (``call_model.BAND_FEATURES``).
The best of the fitted two by cross-validated accuracy is fitted on every call and stored in the
call model's file as ``band`` (only if it beats the survey cuts; else the survey cuts are stored),
the registry pin of the call model is rewritten, and the figures go to bands.json beside it
(models/satisfaction/bands.json). ``wocas calibrate --surveys`` refits go back to the survey cuts
(the refitted score stands for the centre's own 1-5 answer).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

SEED = 0


def fit_cuts(score: np.ndarray, y: np.ndarray) -> dict:
    """The two cut-points (between neighbouring scores) with the best accuracy; ties: the pair
    closest to the survey cuts."""
    from wocas.satisfaction.call_model import SURVEY_CUTS

    values = np.unique(np.round(score, 3))
    candidates = np.r_[values[0] - 0.01, (values[:-1] + values[1:]) / 2, values[-1] + 0.01]
    best, key = None, None
    for i, a in enumerate(candidates):
        low = score < a
        for b in candidates[i:]:
            pred = np.where(low, "low", np.where(score <= b, "mid", "high"))
            k = ((pred == y).mean(), -abs(a - SURVEY_CUTS[0]) - abs(b - SURVEY_CUTS[1]))
            if key is None or k > key:
                best, key = (float(a), float(b)), k
    return {"kind": "cuts", "cuts": [round(best[0], 4), round(best[1], 4)]}


def band_rows(scores, features) -> np.ndarray:
    from wocas.satisfaction.call_model import band_row

    return np.stack([band_row(s, f) for s, f in zip(scores, features)])


def fit_logistic(scores, features, y: np.ndarray) -> dict:
    from sklearn.linear_model import LogisticRegression

    from wocas.satisfaction.call_model import BAND_FEATURES

    X = band_rows(scores, features)
    mean = np.nanmean(X, axis=0)
    scale = np.nanstd(X, axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    Z = np.nan_to_num((X - mean) / scale, nan=0.0)
    lr = LogisticRegression(C=1.0, max_iter=5000).fit(Z, y)
    return {"kind": "logistic", "features": list(BAND_FEATURES), "classes": [str(c) for c in lr.classes_],
            "coef": lr.coef_.tolist(), "intercept": lr.intercept_.tolist(), "mean": mean.tolist(), "scale": scale.tolist()}


def predict(band: dict | None, scores, features) -> np.ndarray:
    from wocas.satisfaction.call_model import band_of

    return np.array([band_of(s, f, band) for s, f in zip(scores, features)])


def cross_validate(kind: str, scores, features, y, groups, folds: int) -> np.ndarray:
    from sklearn.model_selection import StratifiedGroupKFold

    pred = np.empty(len(y), dtype=object)
    for train, test in StratifiedGroupKFold(folds, shuffle=True, random_state=SEED).split(scores, y, groups):
        if kind == "cuts":
            band = fit_cuts(scores[train], y[train])
        else:
            band = fit_logistic(scores[train], [features[i] for i in train], y[train])
        pred[test] = predict(band, scores[test], [features[i] for i in test])
    return pred


def main(argv: list[str] | None = None) -> int:
    from fit_satisfaction import pin_registry
    from train_trust_context import default_calls, read_training, shown

    from wocas.config import load_config
    from wocas.models.text_encoder import TextEncoder
    from wocas.satisfaction import call_model as cm
    from wocas.schema import CallAnalysis
    from wocas.stages.satisfaction import SatisfactionStage

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=Path, required=True, help="records.head.jsonl (or .zero.jsonl) from train_resolution.py")
    parser.add_argument("--calls", type=Path, nargs="+", default=default_calls())
    parser.add_argument("--model", type=Path, default=cm.CALL_MODEL_FILE)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)

    calls = read_training(args.calls)
    records = {r.call_id: r for r in (CallAnalysis.from_json(json.loads(x)) for x in args.records.read_text().splitlines() if x)}
    missing = [c.call_id for c in calls if c.call_id not in records]
    if missing:
        raise SystemExit(f"{args.records}: no record of {', '.join(missing[:5])} ({len(missing)} calls)")
    config = load_config(overrides={"satisfaction": {"call_model": str(args.model)}})
    stage = SatisfactionStage(config.satisfaction, TextEncoder.from_config(config.text_encoder))
    done = stage.process_batch([records[c.call_id] for c in calls])
    scores = np.array([r.satisfaction.score for r in done])
    features = [dict(r.satisfaction.features) for r in done]
    y = np.array([c.labels["band"] for c in calls])
    groups = np.array([c.customer_id for c in calls])

    figures = {}
    survey = predict(None, scores, features)
    figures["survey cuts 2.5/3.5"] = float((survey == y).mean())
    oof = {}
    for kind in ("cuts", "logistic"):
        oof[kind] = cross_validate(kind, scores, features, y, groups, args.folds)
        figures[f"fitted {kind}"] = float((oof[kind] == y).mean())
    best = max(("cuts", "logistic"), key=lambda k: figures[f"fitted {k}"])
    if figures[f"fitted {best}"] > figures["survey cuts 2.5/3.5"]:
        band = fit_cuts(scores, y) if best == "cuts" else fit_logistic(scores, features, y)
        chosen = best
    else:
        band, chosen = {"kind": "cuts", "cuts": list(cm.SURVEY_CUTS)}, "survey cuts"
    band["fitted_on"] = (f"{len(calls)} training calls ({shown(args.calls)}), read out of fold; "
                         f"5-fold CV accuracy {figures[f'fitted {best}'] if chosen != 'survey cuts' else figures['survey cuts 2.5/3.5']:.3f}")
    params = json.loads(args.model.read_text())
    params["band"] = band
    args.model.write_text(json.dumps(params, indent=1))
    if args.model.resolve() == cm.CALL_MODEL_FILE.resolve():
        pin_registry({"satisfaction-call": args.model})
    result = {
        "calls": len(calls), "folds": args.folds, "records": args.records.name,
        "labels": dict(Counter(y.tolist())), "cv_accuracy": {k: round(v, 3) for k, v in figures.items()},
        "chosen": chosen, "band": band,
        "confusions_chosen": dict(Counter(f"{a}->{b}" for a, b in zip(y, oof.get(chosen, survey)) if a != b).most_common(6)),
        "note": "5-fold CV over calls grouped by customer; the three variants were fixed before any run; the "
                "records' trust and resolution are out of fold, the shape classifier (fitted on the same calls' "
                "out-of-fold readings) is not: a mild upper bound."}
    (args.model.parent / "bands.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
