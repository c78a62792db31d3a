"""Fit the trajectory stage's shape classifier on the labelled training calls, out of fold.

The shipped models are now fitted by ``scripts/lowo.py --candidates words_blend --write words_blend``, whose
leave-one-writer-out figures (each writer's calls scored by models trained on the other writers)
are the primary ones; this script's within-writer folds overstate how it does on a new writer.
By default it reads the same sources (models/training/trust_calls*.txt and the challenge files
that joined training).

    .venv/bin/python scripts/fit_shapes.py [--calls models/training/*.txt] [--folds 5]

The per-turn context head is trained on these same calls, so its readings of them are too
good. Here each fold's calls are run through the whole default pipeline with a head trained on
the OTHER folds only, and the shape classifier (engine/stages/trajectory.py) is fitted on those
out-of-fold readings: a logistic regression over the trajectory numbers, its strength and the
outcome's pull on the closing chosen by cross-validation. Writes shape.npz and shape.json next
to the head, and benchmarks/results/trust_fit.json (with the rules' accuracy for comparison).
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

OUTCOME_WEIGHTS = (0.0, 0.2, 0.35, 0.5)
CS = (0.1, 0.3, 1.0, 3.0)


def out_of_fold_calls(calls, folds: int, cache: Path | None = None):
    """Every call analysed by the whole pipeline with a context head that never saw it (folds
    over customers: a customer's calls stay together). The resolution stage is the zero-shot
    reader here (its fitted head is trained on these records). With ``cache``, the records are
    read from that JSONL file when it holds exactly these calls, else written there."""
    from sklearn.model_selection import GroupKFold
    from train_trust_context import analysed_calls, features, fit, labelled_turns

    from wocas.config import load_config
    from wocas.emotion.context import SCALARS, save_head
    from wocas.io.ingest import transcript_to_call
    from wocas.models.text_encoder import TextEncoder
    from wocas.pipeline import Pipeline

    from wocas.schema import CallAnalysis

    key = json.dumps([c.call_id for c in calls] + [folds])
    if cache is not None and cache.is_file():
        lines = cache.read_text().splitlines()
        if lines and lines[0] == key:
            return {r.call_id: r for r in (CallAnalysis.from_json(json.loads(x)) for x in lines[1:])}
    analysed, _ = analysed_calls(calls)
    contexts, y, groups = labelled_turns(calls, analysed)
    encoder = TextEncoder()
    X, dim = features(contexts, encoder)
    done: dict[str, object] = {}
    index = np.arange(len(calls))
    customers = [c.customer_id for c in calls]
    for k, (train, test) in enumerate(GroupKFold(n_splits=folds).split(index, index, customers)):
        rows = np.isin(groups, train)
        coef, b, mean, scale = fit(X[rows], y[rows], 1.0, len(SCALARS))
        with tempfile.TemporaryDirectory() as tmp:
            save_head(Path(tmp), coef, b, mean, scale, {"encoder": encoder.model, "embedding_dim": dim})
            config = load_config(overrides={"emotion": {"context_model": tmp}, "resolution": {"model": ""}})
            pipeline = Pipeline.from_config(config)
            part = [calls[i] for i in test]
            items = [transcript_to_call(c.transcript(), "training", c.call_id) for c in part]
            for c, a in zip(part, pipeline.process(items)):
                done[c.call_id] = a
        print(f"fold {k + 1}/{folds}: {len(test)} calls", flush=True)
    if cache is not None:
        cache.write_text("\n".join([key] + [json.dumps(done[c.call_id].to_json()) for c in calls]) + "\n")
    return done


def rule_shape(call) -> str | None:
    """The shape by the stage's rules with their default settings (for comparison)."""
    from wocas.stages.trajectory import outcome_trust, trajectory

    tr = trajectory([t for t in call.turns if t.role == "customer"], "customer", outcome=outcome_trust(call))
    return tr.shape if tr is not None else None


def feature_rows(calls, done, outcome_weight: float) -> np.ndarray:
    from wocas.stages.trajectory import outcome_trust, shape_features, trajectory

    rows = []
    for c in calls:
        call = done[c.call_id]
        outcome = outcome_trust(call)
        tr = trajectory([t for t in call.turns if t.role == "customer"], "customer", outcome=outcome,
                        outcome_weight=outcome_weight)
        rows.append(shape_features(tr, outcome, call))
    return np.stack(rows)


def classifier(c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))


def main(argv: list[str] | None = None) -> int:
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    import argparse

    from benchmarks.challenge import satisfaction_band
    from wocas.stages.trajectory import SHAPE_FEATURES

    from train_trust_context import read_training, shown, training_args

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="JSONL of the out-of-fold records (read when it holds these calls)")
    args = training_args(__doc__.splitlines()[0], argv, parser=parser)
    calls = read_training(args.calls)
    done = out_of_fold_calls(calls, args.folds, args.cache)
    y = np.array([c.labels["shape"] for c in calls])
    folds = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=0)
    scores = {}
    for w in OUTCOME_WEIGHTS:
        X = feature_rows(calls, done, w)
        for c in CS:
            scores[(w, c)] = float((cross_val_predict(classifier(c), X, y, cv=folds) == y).mean())
    (w, c), acc = max(scores.items(), key=lambda kv: kv[1])
    model = classifier(c).fit(feature_rows(calls, done, w), y)
    scaler, lr = model.named_steps["standardscaler"], model.named_steps["logisticregression"]
    np.savez(args.out / "shape.npz", coef=lr.coef_.astype(np.float32), intercept=lr.intercept_.astype(np.float32),
             mean=scaler.mean_.astype(np.float32), scale=scaler.scale_.astype(np.float32))
    (args.out / "shape.json").write_text(json.dumps({
        "classes": [str(k) for k in lr.classes_], "features": list(SHAPE_FEATURES), "outcome_weight": w, "C": c,
        "fitted_on": "out-of-fold context readings of " + shown(args.calls)},
        indent=1) + "\n")
    rules = [rule_shape(done[k.call_id]) for k in calls]
    resolution = [(done[k.call_id].resolution.state if done[k.call_id].resolution else None) for k in calls]
    sat = [done[k.call_id].satisfaction for k in calls]
    band = [(s.band or satisfaction_band(s.score)) if s is not None else None for s in sat]
    result = {
        "calls": len(calls), "folds": args.folds, "outcome_weight": w, "C": c,
        "shape_classifier_cv_accuracy": round(acc, 3),
        "shape_rules_accuracy": round(float(np.mean([r == t for r, t in zip(rules, y)])), 3),
        "grid": {f"w={k[0]} C={k[1]}": round(v, 3) for k, v in scores.items()},
        "rule_confusions": dict(Counter(f"{t}->{r}" for r, t in zip(rules, y) if r != t).most_common(8)),
        "resolution_accuracy": round(float(np.mean([r == k.labels["resolution"] for r, k in zip(resolution, calls)])), 3),
        "band_accuracy": round(float(np.mean([b == k.labels["band"] for b, k in zip(band, calls)])), 3),
        "note": "every call read by a context head trained without it; the classifier's accuracy is "
                "cross-validated over calls, but its two settings were chosen on the same folds: an upper bound"}
    print(json.dumps(result, indent=1))
    (ROOT / "benchmarks" / "results" / "trust_fit.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
