"""Train the resolution head (engine/resolution/head.py) on the team's written training calls.

The shipped models are now fitted by ``scripts/lowo.py --candidates words_blend --write words_blend``, whose
leave-one-writer-out figures (each writer's calls scored by models trained on the other writers)
are the primary ones; this script's within-writer folds overstate how it does on a new writer.
By default it reads the same sources (models/training/trust_calls*.txt and the challenge files
that joined training).

    .venv/bin/python scripts/train_resolution.py [--calls models/training/*.txt]
        [--out models/resolution-head] [--folds 5] [--cache FILE]

Each call is read by the whole default pipeline with a trust context head trained without it
(scripts/fit_shapes.py's out-of-fold runs, folds over customers), so the trust the head sees is
the trust it will see on new calls. The head's features come from the resolution stage's own
reading code. The call's label is the writer's ``resolution=``.

Cross-validation is over calls, grouped by customer (a customer's calls stay in one fold),
stratified by outcome, 5 folds. The regularisation C is chosen inside each training fold (an
inner 3-fold search), so the outer figure is not tuned on its own test calls. Two feature sets
are reported, both fixed before any run: the full head, and the same without the sentence
vectors. The zero-shot reader's accuracy on the same calls is the baseline. The final head is
the full one, fitted on every call with the C the whole-set search picks; it is written to
--out with metrics.json (every figure above). With --records DIR, each call is also finished
by the later stages (signals, trajectory, satisfaction...) with the head of its outer fold, and
with the zero-shot reader: scripts/fit_bands.py fits the satisfaction band on those.
``[resolution] model`` names the head.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

CS = (0.01, 0.03, 0.1, 0.3, 1.0)
SEED = 0


def classifier(c: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=5000))


def choose_c(X: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int = 3) -> tuple[float, dict]:
    """C by grouped cross-validation (accuracy) on these rows only."""
    from sklearn.model_selection import StratifiedGroupKFold

    scores = {}
    for c in CS:
        right = 0
        for train, test in StratifiedGroupKFold(folds, shuffle=True, random_state=SEED).split(X, y, groups):
            right += int((classifier(c).fit(X[train], y[train]).predict(X[test]) == y[test]).sum())
        scores[c] = right / len(y)
    return max(CS, key=lambda c: (scores[c], -c)), scores


def nested_cv(X: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int) -> tuple[np.ndarray, list[float]]:
    """Out-of-fold predictions, C chosen inside each outer training fold."""
    from sklearn.model_selection import StratifiedGroupKFold

    pred = np.empty(len(y), dtype=object)
    chosen = []
    for train, test in StratifiedGroupKFold(folds, shuffle=True, random_state=SEED).split(X, y, groups):
        c, _ = choose_c(X[train], y[train], groups[train])
        chosen.append(c)
        pred[test] = classifier(c).fit(X[train], y[train]).predict(X[test])
    return pred, chosen


def figures(y, pred) -> dict:
    from sklearn.metrics import f1_score

    y, pred = list(y), [str(p) for p in pred]
    return {"accuracy": round(float(np.mean([a == b for a, b in zip(y, pred)])), 3),
            "macro_f1": round(float(f1_score(y, pred, average="macro")), 3),
            "confusions": dict(Counter(f"{a}->{b}" for a, b in zip(y, pred) if a != b).most_common(8))}


def readings(records, encoder=None):
    """The resolution stage's reading of each record: (rows, zero-shot states)."""
    from wocas.config import ResolutionConfig
    from wocas.stages.resolution import ResolutionStage

    stage = ResolutionStage(ResolutionConfig(model=""), encoder)
    read = stage.read(records)
    missing = [r.call_id for r, x in zip(records, read) if x is None]
    if missing:
        raise SystemExit(f"calls with nothing said: {', '.join(missing[:5])}")
    return np.stack([x["reading"].row() for x in read]), [str(x["zero_shot"].state) for x in read], stage


LATER = ("resolution", "signals", "trajectory", "metrics", "satisfaction", "flags")


def later_stages(resolution_model: str):
    """The stages from resolution on, as the defaults build them (the shipped context head's
    folder names the shape classifier), with ``resolution_model`` as the resolution head."""
    from wocas.config import load_config
    from wocas.pipeline import build_stages

    config = load_config(overrides={"resolution": {"model": resolution_model}})
    return [s for s in build_stages(config) if s.name in LATER]


def rerun_later(records, resolution_model: str):
    """The records with every stage from resolution on run again."""
    for stage in later_stages(resolution_model):
        records = stage.process_batch(records)
    return records


def out_of_fold_records(records, X, y, groups, chosen, folds, encoder_model, dim):
    """Each record finished by the later stages with a head fitted without its fold (the outer
    folds and Cs of ``nested_cv``): what the band model is fitted on."""
    import tempfile

    from sklearn.model_selection import StratifiedGroupKFold

    from wocas.resolution.head import save_head

    out = list(records)
    splits = StratifiedGroupKFold(folds, shuffle=True, random_state=SEED).split(X, y, groups)
    for (train, test), c in zip(splits, chosen):
        model = classifier(c).fit(X[train], y[train])
        scaler, lr = model.named_steps["standardscaler"], model.named_steps["logisticregression"]
        with tempfile.TemporaryDirectory() as tmp:
            save_head(Path(tmp), lr.coef_, lr.intercept_, scaler.mean_, np.where(scaler.scale_ > 1e-9, scaler.scale_, 1.0),
                      {"classes": [str(k) for k in lr.classes_], "encoder": encoder_model, "embedding_dim": int(dim)})
            for i, r in zip(test, rerun_later([records[i] for i in test], tmp)):
                out[i] = r
    return out


def pin_registry(name: str, folder: Path, files: tuple[str, ...] = ("head.npz", "config.json"),
                 registry: Path = ROOT / "models" / "registry.toml") -> None:
    """Rewrite the sha256 pins of ``[models."name".files]`` in the registry."""
    import hashlib
    import re

    text = registry.read_text()
    for file in files:
        digest = hashlib.sha256((folder / file).read_bytes()).hexdigest()
        text, n = re.subn(rf'(\[models\."{re.escape(name)}"\.files\][^\[]*?"{re.escape(file)}" = ")[0-9a-f]+(")',
                          rf"\g<1>{digest}\2", text)
        if n != 1:
            raise SystemExit(f"{registry}: no sha256 pin of {file} under [models.\"{name}\".files] to update")
    registry.write_text(text)


def main(argv: list[str] | None = None) -> int:
    import argparse

    from fit_shapes import out_of_fold_calls
    from train_trust_context import read_training, shown, training_args

    from wocas.resolution.head import AGENT_TURNS, CUSTOMER_TURNS, save_head

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="JSONL of the out-of-fold records (read when it holds these calls)")
    parser.add_argument("--records", type=Path, help="write the finished out-of-fold records here (JSONL, for "
                        "scripts/fit_bands.py): with the head (records.head.jsonl) and the zero-shot reader (.zero.jsonl)")
    args = training_args(__doc__.splitlines()[0], argv, out=ROOT / "models" / "resolution-head", parser=parser)
    start = time.perf_counter()
    calls = read_training(args.calls)
    done = out_of_fold_calls(calls, args.folds, args.cache)
    records = [done[c.call_id] for c in calls]
    X, zero_shot, stage = readings(records)
    y = np.array([c.labels["resolution"] for c in calls])
    groups = np.array([c.customer_id for c in calls])
    dim = stage.encoder.encode(["x"]).shape[1]
    n_votes_scalars = X.shape[1] - 2 * dim

    variants = {"head": X, "head without sentence vectors": X[:, :n_votes_scalars]}
    cv = {"zero-shot reader": figures(y, zero_shot)}
    oof, oof_chosen = None, None
    for name, Xv in variants.items():
        pred, chosen = nested_cv(Xv, y, groups, args.folds)
        cv[name] = {**figures(y, pred), "C_per_fold": chosen}
        if oof is None:
            oof, oof_chosen = pred, chosen
        print(f"{name}: {cv[name]}", flush=True)
    print(f"zero-shot reader: {cv['zero-shot reader']}", flush=True)

    c, grid = choose_c(X, y, groups, args.folds)
    model = classifier(c).fit(X, y)
    scaler, lr = model.named_steps["standardscaler"], model.named_steps["logisticregression"]
    save_head(args.out, lr.coef_, lr.intercept_, scaler.mean_, np.where(scaler.scale_ > 1e-9, scaler.scale_, 1.0), {
        "classes": [str(k) for k in lr.classes_], "encoder": stage.encoder.model, "embedding_dim": int(dim),
        "C": c, "agent_turns": AGENT_TURNS, "customer_turns": CUSTOMER_TURNS,
        "trained_on": shown(args.calls), "target": "the writer's call-level resolution label"})
    metrics = {
        "calls": len(calls), "customers": int(len(set(groups))), "folds": args.folds,
        "labels": dict(Counter(y.tolist())), "C": c, "C_grid_accuracy_all_calls": {str(k): round(v, 3) for k, v in grid.items()},
        "cross_validated": cv,
        "note": "outer 5-fold CV over calls grouped by customer, stratified by outcome; C chosen inside each "
                "training fold (nested). Each call's trust read by a context head trained without its fold. "
                "The two feature sets were fixed before any run.",
        "seconds": round(time.perf_counter() - start, 1)}
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    if args.out.resolve() == (ROOT / "models" / "resolution-head").resolve():
        pin_registry("resolution-head", args.out)
    if args.records is not None:
        args.records.mkdir(parents=True, exist_ok=True)
        finished = {"head": out_of_fold_records(records, X, y, groups, oof_chosen, args.folds, stage.encoder.model, dim),
                    "zero": rerun_later(records, "")}
        for name, recs in finished.items():
            (args.records / f"records.{name}.jsonl").write_text(
                "".join(json.dumps(r.to_json()) + "\n" for r in recs))
        print(f"wrote {args.records}/records.{{head,zero}}.jsonl", flush=True)
    print(json.dumps({k: v for k, v in metrics.items() if k != "cross_validated"}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
