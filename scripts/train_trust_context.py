"""Train the trust context head (engine/emotion/context.py) on calls labelled turn by turn.

The shipped models are now fitted by ``scripts/lowo.py --candidates words_blend --write words_blend``, whose
leave-one-writer-out figures (each writer's calls scored by models trained on the other writers)
are the primary ones; this script's within-writer folds overstate how it does on a new writer.
By default it reads the same sources (models/training/trust_calls*.txt and the challenge files
that joined training).

    .venv/bin/python scripts/train_trust_context.py [--calls FILE...]
        [--out models/trust-context] [--folds 5]

The calls are run through the default text pipeline up to the emotion stage (as ``wocas run``
would: roles, redaction, per-turn emotion), each customer turn is given its context features,
and a ridge regression is fitted to the writer's label (-2..2, scaled to -1..1). The ridge
strength is chosen by cross-validation over whole calls (no call in two folds). Writes
head.npz, config.json and the cross-validated figures into the card's data file (metrics.json).
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
sys.path.insert(0, str(ROOT / "scripts"))

ALPHAS = (0.3, 1.0, 3.0, 10.0, 30.0)


def analysed_calls(calls, config_overrides: dict | None = None, upto: str = "emotion"):
    """The calls (benchmarks.challenge.ChallengeCall) as the pipeline sees them after stage
    ``upto``, in the same order."""
    from wocas.config import load_config
    from wocas.io.ingest import transcript_to_call
    from wocas.pipeline import Pipeline, build_stages

    config = load_config(overrides={"emotion": {"context_model": ""}, **(config_overrides or {})})
    pipeline = Pipeline(build_stages(config, until=upto), config)
    items = [transcript_to_call(c.transcript(), "training", c.call_id) for c in calls]
    return pipeline.process(items), pipeline


def labelled_turns(calls, analysed):
    """(contexts, labels in [-1, 1], call index per row) over every labelled customer turn."""
    from wocas.emotion.context import customer_contexts

    contexts, labels, groups = [], [], []
    for g, (call, done) in enumerate(zip(calls, analysed)):
        if not done.ok:
            raise SystemExit(f"{call.call_id}: {done.error}")
        for ctx in customer_contexts(done):
            label = call.turn_labels[ctx.turn.index]
            if label is None:
                continue
            contexts.append(ctx)
            labels.append(label / 2.0)
            groups.append(g)
    return contexts, np.array(labels, dtype=np.float32), np.array(groups)


def features(contexts, encoder):
    from wocas.emotion.context import feature_matrix, texts_needed

    texts = texts_needed(contexts)
    vectors = dict(zip(texts, encoder.encode(texts)))
    dim = next(iter(vectors.values())).shape[0]
    return feature_matrix(contexts, vectors, dim), dim


def standardise_fit(X: np.ndarray, n_scalars: int) -> tuple[np.ndarray, np.ndarray]:
    mean = X[:, -n_scalars:].mean(axis=0)
    scale = X[:, -n_scalars:].std(axis=0)
    return mean, np.where(scale < 1e-6, 1.0, scale)


def fit(X: np.ndarray, y: np.ndarray, alpha: float, n_scalars: int):
    from sklearn.linear_model import Ridge

    mean, scale = standardise_fit(X, n_scalars)
    Z = X.copy()
    Z[:, -n_scalars:] = (Z[:, -n_scalars:] - mean) / scale
    model = Ridge(alpha=alpha).fit(Z, y)
    return model.coef_.astype(np.float32), float(model.intercept_), mean, scale


def predict(X, coef, intercept, mean, scale, n_scalars):
    Z = X.copy()
    Z[:, -n_scalars:] = (Z[:, -n_scalars:] - mean) / scale
    return np.clip(Z @ coef + intercept, -1, 1)


def cross_validate(X, y, groups, alpha, n_scalars, folds):
    from sklearn.model_selection import GroupKFold

    out = np.zeros_like(y)
    for train, test in GroupKFold(n_splits=folds).split(X, y, groups):
        coef, b, mean, scale = fit(X[train], y[train], alpha, n_scalars)
        out[test] = predict(X[test], coef, b, mean, scale, n_scalars)
    return out


def figures(y, pred) -> dict:
    from scipy.stats import spearmanr

    sign = lambda v: np.where(v > 0.25, 1, np.where(v < -0.25, -1, 0))  # noqa: E731
    return {"spearman": round(float(spearmanr(y, pred).statistic), 3),
            "mae": round(float(np.abs(y - pred).mean()), 3),
            "sign_accuracy": round(float((sign(y) == sign(pred)).mean()), 3)}


TRAINING = ROOT / "models" / "training"


def default_calls() -> list[Path]:
    """Every writer's labelled file: models/training/trust_calls*.txt and the challenge files that
    joined training (scripts/lowo.py's sources; the final held-out file is never among them)."""
    from lowo import default_sources

    return default_sources()


def training_args(description: str, argv: list[str] | None, out: Path = ROOT / "models" / "trust-context",
                  parser: argparse.ArgumentParser | None = None) -> argparse.Namespace:
    """--calls (labelled call files; default every models/training/*.txt), --out (the model's
    folder), --folds: shared with fit_shapes.py and train_resolution.py."""
    parser = parser or argparse.ArgumentParser(description=description)
    parser.add_argument("--calls", type=Path, nargs="+", default=default_calls())
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--folds", type=int, default=5)
    return parser.parse_args(argv)


def read_training(paths: list[Path]):
    """Every labelled call of every file, in file order; a call id seen twice is refused."""
    from benchmarks.challenge import read_calls

    calls = [c for p in paths for c in read_calls(p)]
    ids = [c.call_id for c in calls]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise SystemExit(f"call ids in more than one place: {', '.join(twice[:5])}")
    return calls


def shown(path: Path | list[Path]) -> str:
    """A path (or paths) as written into a model's files: relative to the project when inside it."""
    if isinstance(path, list):
        return ", ".join(shown(p) for p in path)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv: list[str] | None = None) -> int:
    from wocas.emotion.context import SCALARS, save_head
    from wocas.models.text_encoder import TextEncoder

    args = training_args(__doc__.splitlines()[0], argv)

    start = time.perf_counter()
    calls = read_training(args.calls)
    analysed, _ = analysed_calls(calls)
    contexts, y, groups = labelled_turns(calls, analysed)
    encoder = TextEncoder()
    X, dim = features(contexts, encoder)
    n = len(SCALARS)
    base = np.array([c.scalars[0] for c in contexts])
    cv = {}
    for alpha in ALPHAS:
        cv[alpha] = figures(y, cross_validate(X, y, groups, alpha, n, args.folds))
        print(f"alpha {alpha}: {cv[alpha]}", flush=True)
    best = max(ALPHAS, key=lambda a: cv[a]["spearman"])
    coef, intercept, mean, scale = fit(X, y, best, n)
    metrics = {
        "calls": len(calls), "customer_turns": int(len(y)), "alpha": best,
        "cross_validated": cv[best], "per_turn_head_alone": figures(y, base),
        "alphas": {str(a): f for a, f in cv.items()}, "folds": args.folds,
        "seconds": round(time.perf_counter() - start, 1),
    }
    save_head(args.out, coef, intercept, mean, scale, {
        "encoder": encoder.model, "embedding_dim": dim, "alpha": best,
        "trained_on": shown(args.calls),
        "target": "writer's per-turn trust label -2..2, divided by 2"})
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")
    print(json.dumps(metrics, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
