"""Leave-one-writer-out (LOWO) evaluation of the trust / outcome models (issue 19).

    .venv/bin/python scripts/lowo.py [--cache DIR] [--out benchmarks/results/trust_lowo]

The trust, shape, resolution and band models are trained on calls written by a handful of
writers; within-writer cross-validation rewards learning a writer's habits. Here every source
file is one writer (one group): ``benchmarks/challenge/calls.txt``, ``heldout2.txt``,
``heldout3.txt`` and every ``models/training/trust_calls*.txt``. Each writer's calls are scored
by models trained on the OTHER writers only, through the whole chain, each level stacked on the
previous level's out-of-writer outputs:

  1. the per-turn context head (ridge; strength chosen by an inner leave-one-writer-out over the
     training writers) reads the held-out writer's customer turns;
  2. the resolution head (C chosen inside) reads the calls' closings;
  3. signals and the trajectory run with that resolution; the shape classifier (its settings
     chosen inside) gives the shape;
  4. the satisfaction stage scores the call with that shape; the band model gives the band.

Customers are never split (a customer belongs to one writer's file). The chain is run once
per call up to the emotion stage (cached with ``--cache``); the later levels are cheap.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

CHALLENGE = ROOT / "benchmarks" / "challenge"
TRAINING = ROOT / "models" / "training"
# The challenge files that are training data now; heldout4 (and any later held-out file) is never read.
CHALLENGE_SOURCES = ("calls.txt", "heldout2.txt", "heldout3.txt")
CONTEXT_ALPHAS = (1.0, 3.0, 10.0, 30.0)
RESOLUTION_CS = (0.01, 0.03, 0.1, 0.3)
SHAPE_WEIGHTS = (0.0, 0.35)
SHAPE_CS = (0.1, 0.3, 1.0)
BAND_CS = (1.0,)
TARGETS = ("shape", "band", "resolution")


def default_sources() -> list[Path]:
    """Every writer's file: the challenge files that joined training and models/training/trust_calls*.txt."""
    return [CHALLENGE / name for name in CHALLENGE_SOURCES if (CHALLENGE / name).is_file()] + sorted(
        TRAINING.glob("trust_calls*.txt"))


def writer_of(path: Path) -> str:
    return path.stem


def read_sources(paths: list[Path]):
    """(calls, writer per call); a call id or customer in two files is refused (customers never split)."""
    from benchmarks.challenge import read_calls

    calls, writers = [], []
    for p in paths:
        if "heldout4" in p.name:
            raise SystemExit(f"{p}: the final held-out set is never read here")
        part = read_calls(p)
        calls += part
        writers += [writer_of(p)] * len(part)
    ids = [c.call_id for c in calls]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise SystemExit(f"call ids in more than one file: {', '.join(twice[:5])}")
    owner: dict[str, str] = {}
    for c, w in zip(calls, writers):
        if owner.setdefault(c.customer_id, w) != w:
            raise SystemExit(f"customer {c.customer_id} appears in {owner[c.customer_id]} and {w}")
    return calls, np.array(writers)


# ---------------------------------------------------------------------------------------------
# level 0: the text pipeline up to the per-turn emotion (and jobs), once per call, cached


def base_config():
    from wocas.config import load_config

    return load_config(overrides={"emotion": {"context_model": ""}, "resolution": {"model": ""}})


def emotion_records(calls, cache: Path | None):
    """Each call after the stages up to emotion (+ jobs), as the default pipeline runs them."""
    from wocas.io.ingest import transcript_to_call
    from wocas.pipeline import Pipeline, build_stages
    from wocas.schema import CallAnalysis

    config = base_config()
    stages = [s for s in build_stages(config) if s.name in
              ("decode", "transcribe", "diarize", "turns", "roles", "redact", "emotion", "jobs")]
    pipeline = Pipeline(stages, config)
    version = json.dumps(pipeline.stage_versions, sort_keys=True)
    key = {c.call_id: hashlib.sha1((json.dumps(c.transcript(), sort_keys=True) + version).encode()).hexdigest()
           for c in calls}
    stored: dict[str, dict] = {}
    if cache is not None and (cache / "emotion.jsonl").is_file():
        for line in (cache / "emotion.jsonl").read_text().splitlines():
            row = json.loads(line)
            stored[row["key"]] = row["record"]
    todo = [c for c in calls if key[c.call_id] not in stored]
    if todo:
        print(f"emotion stage: {len(todo)} calls to run ({len(calls) - len(todo)} cached)", flush=True)
        for start in range(0, len(todo), 64):
            part = todo[start:start + 64]
            done = pipeline.process([transcript_to_call(c.transcript(), "training", c.call_id) for c in part])
            for c, d in zip(part, done):
                if not d.ok:
                    raise SystemExit(f"{c.call_id}: {d.error}")
                stored[key[c.call_id]] = d.to_json()
                if cache is not None:
                    cache.mkdir(parents=True, exist_ok=True)
                    with open(cache / "emotion.jsonl", "a") as f:
                        f.write(json.dumps({"key": key[c.call_id], "record": stored[key[c.call_id]]}) + "\n")
            print(f"  {start + len(part)}/{len(todo)}", flush=True)
    return [CallAnalysis.from_json(stored[key[c.call_id]]) for c in calls]


# ---------------------------------------------------------------------------------------------
# folds


def spearman(a, b) -> float | None:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic) if len(a) > 2 else None


def inner_pick(grid, score_fold, writers: np.ndarray):
    """The setting in ``grid`` with the best pooled score over leave-one-writer-out folds of
    these (training) writers only; ``score_fold(setting, train_mask, test_mask)`` returns
    (number right or a per-row prediction array, ...) -- see callers."""
    best, key = None, None
    for setting in grid:
        value = score_fold(setting, writers)
        if key is None or value > key:
            best, key = setting, value
    return best


def pooled_accuracy(make, X, y, writers) -> float:
    """Accuracy of ``make()`` over leave-one-writer-out folds of these rows."""
    right = 0
    for g in np.unique(writers):
        test = writers == g
        right += int((make().fit(X[~test], y[~test]).predict(X[test]) == y[test]).sum())
    return right / len(y)


def lowo_classify(make_for, grid, X, y, writers):
    """Each writer's rows predicted by a classifier trained on the other writers, its setting
    chosen by an inner leave-one-writer-out over those writers. Returns (labels, probabilities
    (n, classes), classes, setting per writer)."""
    classes = np.unique(y)
    pred = np.empty(len(y), dtype=object)
    proba = np.zeros((len(y), len(classes)))
    chosen = {}
    for g in np.unique(writers):
        test = writers == g
        setting = grid[0] if len(grid) == 1 else max(
            grid, key=lambda s: pooled_accuracy(lambda: make_for(s), X[~test], y[~test], writers[~test]))
        model = make_for(setting).fit(X[~test], y[~test])
        pred[test] = model.predict(X[test])
        p = model.predict_proba(X[test])
        for j, c in enumerate(model.classes_):
            proba[test, list(classes).index(c)] = p[:, j]
        chosen[str(g)] = setting
    return pred, proba, [str(c) for c in classes], chosen


def logistic(c: float, balanced: bool = False):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(
        C=c, max_iter=5000, class_weight="balanced" if balanced else None))


# ---------------------------------------------------------------------------------------------
# level 1: the per-turn context head


@dataclass
class Turns:
    contexts: list  # per call: its customer_contexts
    X: np.ndarray  # one row per context (all calls, in order)
    y: np.ndarray  # label / 2, NaN when the turn has none
    call: np.ndarray  # call index per row
    dim: int


def turn_rows(calls, records, encoder) -> Turns:
    from wocas.emotion.context import customer_contexts, feature_matrix, texts_needed

    per_call = [customer_contexts(r) for r in records]
    flat = [c for cs in per_call for c in cs]
    texts = texts_needed(flat)
    vectors = dict(zip(texts, encoder.encode(texts)))
    dim = next(iter(vectors.values())).shape[0]
    X = feature_matrix(flat, vectors, dim)
    y, row_call = [], []
    for k, (call, cs) in enumerate(zip(calls, per_call)):
        for c in cs:
            label = call.turn_labels[c.turn.index] if c.turn.index < len(call.turn_labels) else None
            y.append(np.nan if label is None else label / 2.0)
            row_call.append(k)
    return Turns(per_call, X, np.array(y, dtype=np.float32), np.array(row_call), dim)


def context_lowo(turns: Turns, writers: np.ndarray, alphas=CONTEXT_ALPHAS):
    """Each writer's customer turns read by a ridge head fitted on the other writers' labelled
    turns; the strength chosen by an inner leave-one-writer-out (pooled Spearman)."""
    from train_trust_context import fit, predict

    from wocas.emotion.context import SCALARS

    n = len(SCALARS)
    row_writer = writers[turns.call]
    labelled = ~np.isnan(turns.y)
    out = np.zeros(len(turns.y), dtype=np.float32)
    chosen = {}
    for g in np.unique(writers):
        train = labelled & (row_writer != g)

        def inner(alpha):
            pred = np.zeros(int(train.sum()))
            w = row_writer[train]
            Xt, yt = turns.X[train], turns.y[train]
            for h in np.unique(w):
                t = w == h
                pred[t] = predict(Xt[t], *fit(Xt[~t], yt[~t], alpha, n), n)
            return spearman(yt, pred)

        alpha = alphas[0] if len(alphas) == 1 else max(alphas, key=inner)
        chosen[str(g)] = alpha
        test = row_writer == g
        out[test] = predict(turns.X[test], *fit(turns.X[train], turns.y[train], alpha, n), n)
    return out, chosen


def with_trust(records, turns: Turns, trust: np.ndarray):
    """The records with each customer turn's trust replaced (as the context stage does)."""
    out, k = [], 0
    for r, cs in zip(records, turns.contexts):
        new = {}
        for c in cs:
            new[c.turn.index] = float(trust[k])
            k += 1
        out.append(r.replace(turns=tuple(
            t.replace(emotion=t.emotion.model_copy(update={"trust": round(new[t.index], 4),
                                                            "sources": t.emotion.sources + ("context",)}))
            if t.index in new else t for t in r.turns)) if new else r)
    return out


# ---------------------------------------------------------------------------------------------
# level 2: resolution


def resolution_rows(stage, records, variant: str = "base"):
    """(rows, reads) of the resolution stage's reading; ``variant`` names a candidate feature set."""
    reads = stage.read(records)
    missing = [r.call_id for r, x in zip(records, reads) if x is None]
    if missing:
        raise SystemExit(f"calls with nothing said: {', '.join(missing[:5])}")
    X = np.stack([x["reading"].row() for x in reads])
    return X, reads


def apply_resolution(stage, records, reads, proba, classes):
    from types import SimpleNamespace

    stage._head = SimpleNamespace(classes=classes)
    out = [r.replace(resolution=stage.decide_with_head(x, p)) for r, x, p in zip(records, reads, proba)]
    stage._head = None
    return out


# ---------------------------------------------------------------------------------------------
# level 3: shape


def shape_rows(records, weight: float, variant: str = "base", extra: np.ndarray | None = None):
    from wocas.stages.trajectory import outcome_trust, shape_features, trajectory

    rows, trs = [], []
    for r in records:
        outcome = outcome_trust(r)
        tr = trajectory([t for t in r.turns if t.role == "customer"], "customer", outcome=outcome,
                        outcome_weight=weight, resolution_at=None)
        rows.append(shape_features(tr, outcome))
        trs.append(tr)
    X = np.stack(rows)
    if extra is not None:
        X = np.hstack([X, extra])
    return X, trs


# ---------------------------------------------------------------------------------------------
# the chain


@dataclass
class Chain:
    calls: list
    writers: np.ndarray
    records0: list
    encoder: object
    stages: dict = field(default_factory=dict)
    turns: Turns | None = None


def load_chain(paths: list[Path], cache: Path | None) -> Chain:
    from wocas.pipeline import build_stages

    calls, writers = read_sources(paths)
    records = emotion_records(calls, cache)
    config = base_config()
    stages = {s.name: s for s in build_stages(config)}
    chain = Chain(calls, writers, records, stages["resolution"].encoder, stages)
    chain.turns = turn_rows(calls, records, chain.encoder)
    return chain


def run(chain: Chain, options: dict | None = None, log=print) -> dict:
    """The whole chain, leave-one-writer-out; returns per-call predictions and the settings chosen."""
    options = options or {}
    calls, writers = chain.calls, chain.writers
    t0 = time.perf_counter()
    trust, alphas = context_lowo(chain.turns, writers, options.get("context_alphas", CONTEXT_ALPHAS))
    records = with_trust(chain.records0, chain.turns, trust)
    log(f"  context {time.perf_counter() - t0:.0f} s", flush=True)

    stage = chain.stages["resolution"]
    X, reads = resolution_rows(stage, records, options.get("resolution", "base"))
    y_res = np.array([c.labels["resolution"] for c in calls])
    res, res_p, res_classes, res_c = lowo_classify(lambda c: logistic(c, balanced=True),
                                                   options.get("resolution_cs", RESOLUTION_CS), X, y_res, writers)
    records = apply_resolution(stage, records, reads, res_p, res_classes)
    records = chain.stages["signals"].process_batch(records)
    records = chain.stages["trajectory"].process_batch(records)  # rules; the customer's shape is replaced below
    log(f"  resolution {time.perf_counter() - t0:.0f} s", flush=True)

    from fit_shapes import CS as SHAPE_CS_ALL, OUTCOME_WEIGHTS

    y_shape = np.array([c.labels["shape"] for c in calls])
    weights = options.get("shape_weights", OUTCOME_WEIGHTS)
    cs = options.get("shape_cs", SHAPE_CS_ALL)
    feats = {w: shape_rows(records, w) for w in weights}
    grid = [(w, c) for w in weights for c in cs]
    shape, shape_p, shape_classes, shape_set = lowo_classify(
        lambda s: _Columns(feats, s[0], logistic(s[1])), grid, np.arange(len(calls))[:, None], y_shape, writers)
    out = []
    for k, r in enumerate(records):
        w = shape_set[str(writers[k])][0]
        tr = feats[w][1][k].model_copy(update={"shape": shape[k]})
        customer = r.trajectories.get("customer")
        if customer is None:
            out.append(r)
            continue
        tr = tr.model_copy(update={"resolution_at": customer.resolution_at})
        out.append(r.replace(trajectories={**r.trajectories, "customer": tr}))
    records = chain.stages["metrics"].process_batch(out)
    records = chain.stages["satisfaction"].process_batch(records)
    log(f"  shape + satisfaction {time.perf_counter() - t0:.0f} s", flush=True)

    from fit_bands import fit_logistic, predict as band_predict

    scores = np.array([r.satisfaction.score for r in records])
    features = [dict(r.satisfaction.features) for r in records]
    y_band = np.array([c.labels["band"] for c in calls])
    band = np.empty(len(calls), dtype=object)
    for g in np.unique(writers):
        test = writers == g
        model = fit_logistic(scores[~test], [f for f, t in zip(features, test) if not t], y_band[~test])
        band[test] = band_predict(model, scores[test], [f for f, t in zip(features, test) if t])
    log(f"  band {time.perf_counter() - t0:.0f} s", flush=True)
    return {"shape": shape, "band": band, "resolution": res, "trust": trust, "records": records,
            "chosen": {"context_alpha": alphas, "resolution_C": res_c,
                       "shape_w_C": {g: list(s) for g, s in shape_set.items()}}}


class _Columns:
    """A classifier over the shape rows of one outcome weight (rows are picked by call index)."""

    def __init__(self, feats, weight, model):
        self.feats, self.weight, self.model = feats, weight, model

    def _x(self, index):
        return self.feats[self.weight][0][index[:, 0]]

    def fit(self, index, y):
        self.model.fit(self._x(index), y)
        self.classes_ = self.model.classes_
        return self

    def predict(self, index):
        return self.model.predict(self._x(index))

    def predict_proba(self, index):
        return self.model.predict_proba(self._x(index))


def score(chain: Chain, result: dict) -> dict:
    """Per writer and mean over writers: shape, band, resolution accuracy, per-turn Spearman."""
    calls, writers, turns = chain.calls, chain.writers, chain.turns
    row_writer = writers[turns.call]
    per = {}
    for g in np.unique(writers):
        m = writers == g
        row = {"calls": int(m.sum())}
        for target in TARGETS:
            truth = np.array([c.labels[target] for c, keep in zip(calls, m) if keep])
            row[target] = round(float((result[target][m] == truth).mean()), 3)
        t = (row_writer == g) & ~np.isnan(turns.y)
        row["turn_spearman"] = round(spearman(turns.y[t], result["trust"][t]), 3) if t.sum() > 2 else None
        row["labelled_turns"] = int(t.sum())
        per[str(g)] = row
    mean = {k: round(float(np.mean([r[k] for r in per.values() if r[k] is not None])), 3)
            for k in (*TARGETS, "turn_spearman")}
    return {"per_writer": per, "mean": mean}


# ---------------------------------------------------------------------------------------------
# candidates and the adoption rule

ADOPTION_RULE = ("A change is adopted only if its leave-one-writer-out mean accuracy on its target (shape, band "
                 "or resolution) rises by >= 2 points over the baseline on the same writers, and neither of the "
                 "other two falls by more than 2 points. Fixed before any candidate was run.")
# name -> (target, what it changes, run() options)
CANDIDATES: dict[str, tuple[str, str, dict]] = {
    "baseline": ("-", "the shipped methods: ridge context head (alpha by inner LOWO), resolution head "
                      "(logistic, C by inner LOWO), shape classifier over the 10 trajectory numbers "
                      "(outcome weight and C by inner LOWO), band logistic over score + closing + "
                      "resolution + cancel/leave signals", {}),
}


def adopted(candidate: dict, baseline: dict, target: str) -> bool:
    rise = candidate[target] - baseline[target]
    falls = [baseline[t] - candidate[t] for t in TARGETS if t != target]
    return rise >= 0.02 - 1e-9 and all(f <= 0.02 + 1e-9 for f in falls)


RESULT = ROOT / "benchmarks" / "results" / "trust_lowo"


def write_report(data: dict, path: Path = RESULT) -> None:
    from benchmarks.common import machine

    data["machine"] = machine()
    path.with_suffix(".json").write_text(json.dumps(data, indent=1, default=str) + "\n")
    lines = ["# Trust / outcome models, leave-one-writer-out", "",
             "Each writer's calls (one source file = one writer) are scored by models trained on the other "
             "writers only, through the whole chain (context head -> resolution head -> shape classifier -> "
             "satisfaction band), every setting chosen by an inner leave-one-writer-out over the training "
             "writers (scripts/lowo.py). The mean is over writers (unweighted). Per-turn Spearman: the "
             "customer-turn trust against the writer's -2..2 label (calls.txt has no per-turn labels). "
             "benchmarks/challenge/heldout4.txt is never read.", "",
             f"**Adoption rule.** {ADOPTION_RULE}", ""]
    for run_name, block in data["runs"].items():
        lines += [f"## {run_name}", "", block.get("note", ""), "",
                  "| candidate | target | shape | band | resolution | turn Spearman | adopted |",
                  "|---|---|---|---|---|---|---|"]
        base = block["candidates"].get("baseline")
        for name, c in block["candidates"].items():
            m = c["mean"]
            cells = []
            for t in (*TARGETS, "turn_spearman"):
                d = f" ({m[t] - base['mean'][t]:+.3f})" if base is not None and name != "baseline" else ""
                cells.append(f"{m[t]:.3f}{d}")
            verdict = "-" if name == "baseline" or base is None else ("yes" if c.get("adopted") else "no")
            lines.append(f"| {name} | {c['target']} | " + " | ".join(cells) + f" | {verdict} |")
        lines += ["", "Candidates: " + "; ".join(f"`{n}`: {c['what']}" for n, c in block["candidates"].items()), ""]
        for name in block.get("per_writer_tables", ["baseline"]):
            c = block["candidates"].get(name)
            if c is None:
                continue
            lines += [f"Per writer, `{name}`:", "", "| writer | calls | shape | band | resolution | turn Spearman |",
                      "|---|---|---|---|---|---|"]
            for w, r in c["per_writer"].items():
                sp = f"{r['turn_spearman']:.3f}" if r["turn_spearman"] is not None else "no labels"
                lines.append(f"| {w} | {r['calls']} | {r['shape']:.3f} | {r['band']:.3f} | {r['resolution']:.3f} | {sp} |")
            lines.append("")
    m = data["machine"]
    lines += [f"Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}; {m['date']}."]
    path.with_suffix(".md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="folder for the emotion-stage records (reused when the calls match)")
    parser.add_argument("--candidates", default="baseline", help="comma-separated names (see CANDIDATES)")
    parser.add_argument("--run-name", default=None, help="the block of the report these go in (default: the writers)")
    parser.add_argument("--note", default="")
    args = parser.parse_args(argv)
    paths = default_sources()
    start = time.perf_counter()
    chain = load_chain(paths, args.cache)
    writers = sorted(set(chain.writers.tolist()))
    run_name = args.run_name or f"{len(chain.calls)} calls, {len(writers)} writers: {', '.join(writers)}"
    data = json.loads(RESULT.with_suffix(".json").read_text()) if RESULT.with_suffix(".json").is_file() else {}
    data.setdefault("runs", {})
    block = data["runs"].setdefault(run_name, {"candidates": {}})
    if args.note:
        block["note"] = args.note
    for name in args.candidates.split(","):
        target, what, options = CANDIDATES[name]
        t = time.perf_counter()
        print(f"{name}:", flush=True)
        result = run(chain, options)
        s = score(chain, result)
        entry = {"target": target, "what": what, **s, "chosen": result["chosen"],
                 "seconds": round(time.perf_counter() - t, 1)}
        base = block["candidates"].get("baseline")
        if name != "baseline" and base is not None:
            entry["adopted"] = adopted(s["mean"], base["mean"], target)
        block["candidates"][name] = entry
        print(json.dumps(s["mean"]), flush=True)
        write_report(data)
    print(f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "emotion":
        sys.argv.pop(1)
        emotion_records(read_sources(default_sources())[0], Path(sys.argv[sys.argv.index("--cache") + 1]))
        raise SystemExit(0)
    raise SystemExit(main())
