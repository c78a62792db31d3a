"""Fit the satisfaction call model on STC-3 and write models/satisfaction/call_model.json.

    PYTHONPATH=.pyshim .venv/bin/python scripts/fit_satisfaction.py [--data ../shared/data] [--config my.toml]

One command, re-runnable after any change to the text stages: it runs the pipeline's text stages
(roles, emotion + trajectory, resolution, signals, metrics: whatever engine/pipeline.py has now)
on every STC-3 dialogue, reads each call's features (``wocas.satisfaction.call_model``), and fits
the ridge against the mean of STC-3's 19 annotators' customer-satisfaction rating S (-2..+2).

The dialogues the text model holds out (``training.holdout_ids`` in models/satisfaction/model.json)
stay held out here too: they are neither fitted nor used to pick alpha, only scored at the end.
The text model's score on a training dialogue is taken out of fold (5 folds, the text model's own
alpha), so the call model does not learn to trust a score that has seen the dialogue's rating.
STC-3 is CC BY 4.0 (NTCIR-14 DCH-1, English translation).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np
from scipy.stats import spearmanr
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold

from benchmarks.common import DEFAULT_DATA, load_bench_config
from scripts.train_satisfaction import design as text_design
from scripts.train_satisfaction import load_stc3
from wocas.models.text_encoder import TextEncoder
from wocas.satisfaction import call_model as cm
from wocas.satisfaction.model import (
    LEXICAL_FEATURES, MODEL_FILE, Dialogue, SatisfactionModel, embed_dialogues, lexical_features, load_model,
    with_trajectory,
)

log = logging.getLogger("fit_satisfaction")


def run_text_stages(dialogues: list[Dialogue], config, batch: int = 32):
    """Every dialogue through the pipeline's text stages (satisfaction off): CallAnalysis records."""
    from wocas.io.ingest import transcript_to_call
    from wocas.pipeline import Pipeline, build_stages

    config = config.model_copy(update={"satisfaction": config.satisfaction.model_copy(update={"enabled": False})})
    stages = build_stages(config)
    pipeline = Pipeline(stages, config)
    calls = [transcript_to_call({"call_id": d.dialogue_id, "turns": [{"speaker": r, "text": t} for r, t in d.turns]},
                                "stc3", d.dialogue_id) for d in dialogues]
    out = []
    for i in range(0, len(calls), batch):
        out.extend(pipeline.process(calls[i:i + batch]))
    pipeline.close()
    return out, [s.name for s in stages if not s.audio_only]


def trajectory_of(call) -> dict[str, float] | None:
    t = call.trajectories.get("customer")
    if t is None:
        return None
    points = [v for _, v in t.points]
    return {"opening": t.opening, "closing": t.closing, "lowest": t.lowest,
            "mean": sum(points) / len(points) if points else (t.opening + t.closing) / 2}


WORDS_WEIGHT = 3.0  # the tf-idf block's scale in the design (benchmarks/results/satisfaction_words.md)


def fit_text_model(dialogues, calls, target, share, train, holdout, emb_mean, emb_last, base,
                   folds: int = 5, words_weight: float = WORDS_WEIGHT) -> tuple[dict, np.ndarray]:
    """The text model refitted on the customer's trust as the stage reads it (the trajectory's, VADER
    where there is none), same features, encoder and held-out dialogues as ``base``; with
    ``words_weight`` > 0 the design also holds the dialogue's words (tf-idf, layout "thirds", its
    vocabulary fitted on the rows fitted), scaled by it. Returns its params and its S per dialogue:
    out of fold on the training dialogues, the model on the held-out ones."""
    from sklearn.linear_model import RidgeCV

    from scripts.train_satisfaction import fit_platt
    from wocas.text.lexical import Vocabulary, thirds_terms

    lex = np.array([[with_trajectory(lexical_features(d), trajectory_of(c))[k] for k in LEXICAL_FEATURES]
                    for d, c in zip(dialogues, calls)])
    lex_weight = base.params["training"]["lex_weight"]
    docs = [thirds_terms(d.turns) for d in dialogues]

    def design(rows, mu, sd, vocabulary):
        x = text_design(lex[rows], emb_mean[rows], emb_last[rows], mu, sd, lex_weight)
        if vocabulary is None:
            return x
        return np.hstack([x, vocabulary.vectors([docs[i] for i in rows]) * words_weight])

    def fitted(rows: np.ndarray, alpha: float | None = None):
        mu = lex[rows].mean(axis=0)
        sd = np.where(lex[rows].std(axis=0) > 1e-9, lex[rows].std(axis=0), 1.0)
        vocabulary = Vocabulary.fit([docs[i] for i in rows]) if words_weight > 0 else None
        x = design(rows, mu, sd, vocabulary)
        ridge = (Ridge(alpha=alpha) if alpha else RidgeCV(alphas=np.logspace(-2, 2, 17))).fit(x, target[rows])
        return ridge, mu, sd, vocabulary

    ridge, mu, sd, vocabulary = fitted(train)
    alpha = float(ridge.alpha_)
    s = np.full(len(dialogues), np.nan)
    for fold_train, fold_test in KFold(folds, shuffle=True, random_state=0).split(train):
        r, m, d, v = fitted(train[fold_train], alpha)
        rows = train[fold_test]
        s[rows] = r.predict(design(rows, m, d, v))
    k, dim = len(LEXICAL_FEATURES), emb_mean.shape[1]
    coef = ridge.coef_
    w_emb_mean, w_emb_last = coef[k:k + dim], coef[k + dim:k + 2 * dim]
    center_mean, center_last = emb_mean[train].mean(axis=0), emb_last[train].mean(axis=0)
    params = {**base.params, "version": f"stc3-ridge-stagetrust-seed{base.params['training']['seed']}",
              "lex_mean": mu.tolist(), "lex_scale": sd.tolist(), "w_lex": (coef[:k] * lex_weight).tolist(),
              "w_emb_mean": w_emb_mean.tolist(), "w_emb_last": w_emb_last.tolist(),
              "center_emb_mean": center_mean.tolist(), "center_emb_last": center_last.tolist(),
              "bias": float(ridge.intercept_ + center_mean @ w_emb_mean + center_last @ w_emb_last)}
    params.pop("words", None)
    if vocabulary is not None:
        w_words = coef[k + 2 * dim:] * words_weight
        center = float(np.mean(vocabulary.vectors([docs[i] for i in train]) @ w_words))
        params["version"] += "-words"
        params["bias"] += center
        params["words"] = {"layout": "thirds", "weight": words_weight, "terms": list(vocabulary.terms),
                           "idf": [round(float(v), 6) for v in vocabulary.idf],
                           "coef": [round(float(v), 7) for v in w_words], "center": center}
    params["training"] = {**base.params["training"], "alpha": alpha, "words_weight": words_weight,
                          "trust": "the pipeline's customer trajectory (VADER where the call has none)"}
    model = SatisfactionModel(params)
    train_dialogues, holdout_dialogues = [dialogues[i] for i in train], [dialogues[i] for i in holdout]
    s[holdout] = model.text_s(lex[holdout], emb_mean[holdout], emb_last[holdout], holdout_dialogues)
    s_train = model.text_s(lex[train], emb_mean[train], emb_last[train], train_dialogues)
    params["platt"] = list(fit_platt(s_train, share[train]))
    rho = lambda rows: round(float(spearmanr(s[rows], target[rows]).statistic), 4)  # noqa: E731
    params["training"].update(spearman_train=round(float(spearmanr(s_train, target[train]).statistic), 4),
                              spearman_train_out_of_fold=rho(train), spearman_holdout=rho(holdout),
                              mae_holdout_s=round(float(np.mean(np.abs(s[holdout] - target[holdout]))), 4))
    return params, s


def prepare(args):
    """STC-3 through the text stages: the call features, the targets, the split."""
    dialogues, target, share = load_stc3(args.data)
    text_model = load_model(str(MODEL_FILE))
    held = set(text_model.params["training"]["holdout_ids"])
    holdout = np.array([i for i, d in enumerate(dialogues) if d.dialogue_id in held])
    train = np.array([i for i, d in enumerate(dialogues) if d.dialogue_id not in held])
    log.info("STC-3: %d dialogues, %d to fit, %d held out (the text model's held-out set)",
             len(dialogues), len(train), len(holdout))

    if args.calls_cache and args.calls_cache.exists():
        from wocas.schema import CallAnalysis

        lines = args.calls_cache.read_text().splitlines()
        stage_names = json.loads(lines[0])
        calls = [CallAnalysis.from_json(json.loads(line)) for line in lines[1:]]
    else:
        calls, stage_names = run_text_stages(dialogues, load_bench_config(args.config))
        if args.calls_cache:
            args.calls_cache.write_text("\n".join([json.dumps(stage_names)] + [json.dumps(c.to_json()) for c in calls]))
    failed = [c.call_id for c in calls if not c.ok]
    if failed:
        log.warning("%d dialogues failed in the pipeline (left out): %s", len(failed), ", ".join(failed[:5]))
    log.info("text stages: %s", " > ".join(stage_names))

    emb_mean, emb_last = embed_dialogues(dialogues, TextEncoder(text_model.encoder))
    text_params, s_text = fit_text_model(dialogues, calls, target, share, train, holdout, emb_mean, emb_last,
                                         text_model, words_weight=args.words_weight)

    rows = [cm.call_features(c, None if not d.customer else float(v)) for c, d, v in zip(calls, dialogues, s_text)]
    x = cm.design(rows)
    ok = np.array([c.ok for c in calls])
    fit_rows = train[ok[train]]
    return dict(x=x, target=target, share=share, fit_rows=fit_rows, holdout=holdout, ok=ok, s_text=s_text,
                calls=calls, stage_names=stage_names, text_params=text_params)


def pin_registry(files: dict[str, Path], registry: Path = ROOT / "models" / "registry.toml") -> None:
    """Rewrite the sha256 pins of the registry entries named in ``files``."""
    import hashlib
    import re

    text = registry.read_text()
    for name, path in files.items():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        text, n = re.subn(rf'(\[models\."{re.escape(name)}"\][^\[]*?sha256 = ")[0-9a-f]+(")', rf"\g<1>{digest}\2", text)
        if n != 1:
            raise SystemExit(f"{registry}: no sha256 pin for [models.\"{name}\"] to update")
    registry.write_text(text)
    log.info("pinned %s in %s", ", ".join(files), registry)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--config", type=Path, help="wocas TOML config (the text stages)")
    parser.add_argument("--out", type=Path, default=cm.CALL_MODEL_FILE)
    parser.add_argument("--words-weight", type=float, default=WORDS_WEIGHT,
                        help="scale of the dialogue's words (tf-idf) in the text model's design; 0 leaves them out")
    parser.add_argument("--calls-cache", type=Path,
                        help="JSONL of the pipeline's records: read when it exists, else written (for trying model changes)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    p = prepare(args)
    x, target, share, fit_rows, holdout, ok, s_text, stage_names, text_params = (
        p[k] for k in ("x", "target", "share", "fit_rows", "holdout", "ok", "s_text", "stage_names", "text_params"))
    params, ridge_alpha = cm.fit(x[fit_rows], target[fit_rows], share[fit_rows])
    model = cm.CallModel(params)
    pred = model.s(x)
    test_rows = holdout[ok[holdout]]
    figures = {
        "spearman_holdout": round(float(spearmanr(pred[test_rows], target[test_rows]).statistic), 4),
        "spearman_holdout_text_only": round(float(spearmanr(s_text[test_rows], target[test_rows]).statistic), 4),
        "mae_holdout_s": round(float(np.mean(np.abs(pred[test_rows] - target[test_rows]))), 4),
        "spearman_train": round(float(spearmanr(pred[fit_rows], target[fit_rows]).statistic), 4),
    }
    params = {**params, "version": f"stc3-call-ridge-{datetime.now(timezone.utc):%Y%m%d}",
              "text_model": text_params["version"],
              "training": {"data": "text/stc3_customer_helpdesk/train_data_en.json (CC BY 4.0)",
                           "target": "mean annotator S (-2..+2)", "n_train": int(len(fit_rows)),
                           "n_holdout": int(len(test_rows)), "holdout": "the text model's training.holdout_ids",
                           "alpha": ridge_alpha, "text_s": "out of fold (5 folds) on the training dialogues",
                           "stages": stage_names, **figures}}
    cm.CallModel(params).save(args.out)
    text_out = args.out.parent / "model.json"
    text_out.write_text(json.dumps(text_params, separators=(",", ":")))
    log.info("text model refitted on the stage's trust: held-out Spearman %.3f; wrote %s",
             text_params["training"]["spearman_holdout"], text_out)
    if args.out.resolve() == cm.CALL_MODEL_FILE.resolve():
        pin_registry({"satisfaction-text": text_out, "satisfaction-call": args.out})
    fitted = {n: round(w, 3) for n, w, f in zip(cm.CALL_FEATURES, params["weight"], params["fitted"]) if f}
    log.info("alpha %.3g; fitted weights (per SD for text_s and trust, per unit otherwise): %s", ridge_alpha, json.dumps(fitted))
    log.info("held-out Spearman %.3f (text model alone %.3f), MAE %.3f S; train %.3f",
             figures["spearman_holdout"], figures["spearman_holdout_text_only"], figures["mae_holdout_s"],
             figures["spearman_train"])
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
