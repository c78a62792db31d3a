"""Predicted satisfaction against human satisfaction ratings.

    .venv/bin/python -m benchmarks.satisfaction [--data ../shared/data] [--no-stages]

- STC-3 (CC BY 4.0): the dialogues held out from training (their ids are in the shipped model
  file); Spearman between predicted S and the mean of 19 annotators' S, MAE on S's -2..+2 scale.
  Scored three ways: the text model alone; the whole satisfaction stage after the pipeline's
  text stages (emotion + trajectory, jobs, signals: whichever exist), so the hand-set call-fact
  adjustments are checked against human ratings too.
- User Satisfaction Simulation, MWOZ and SGD (no licence: evaluation only, never trained on):
  dialogue-level Spearman with the mean ``OVERALL`` rating, and accuracy on satisfied (mean
  OVERALL >= 4) against dissatisfied (<= 2), predicting "satisfied" when p_satisfied >= 0.5.
  Balanced accuracy and ROC AUC are given too, because these sets hold few dissatisfied dialogues.

Writes benchmarks/results/satisfaction.json and satisfaction.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
from benchmarks.common import DEFAULT_DATA, write_results
from wocas.satisfaction.model import (
    LEXICAL_FEATURES, Dialogue, embed_dialogues, lexical_features, load_model,
)
from scripts.train_satisfaction import load_stc3

log = logging.getLogger("bench_satisfaction")
USS = Path("text/user_satisfaction_simulation")


def load_uss(path: Path) -> tuple[list[Dialogue], np.ndarray]:
    """Dialogues (USER -> customer, SYSTEM -> agent) and their mean OVERALL rating (1-5)."""
    dialogues, overall = [], []
    turns: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            turns = []
            continue
        parts = line.split("\t")
        role, text = parts[0].strip(), parts[1].strip() if len(parts) > 1 else ""
        if role == "USER" and text == "OVERALL":
            ratings = [float(x) for x in parts[3].split(",") if x.strip()]
            dialogues.append(Dialogue(turns=tuple(turns), dialogue_id=f"{path.stem}-{len(dialogues)}"))
            overall.append(float(np.mean(ratings)))
            turns = []
        elif role in ("USER", "SYSTEM"):
            turns.append(("customer" if role == "USER" else "agent", text))
    return dialogues, np.array(overall)


def text_predictions(dialogues: list[Dialogue]) -> tuple[np.ndarray, np.ndarray]:
    """Predicted S and p_satisfied from the text model alone, shape (n,) each."""
    model = load_model()
    lex = np.array([[lexical_features(d)[k] for k in LEXICAL_FEATURES] for d in dialogues])
    emb_mean, emb_last = embed_dialogues(dialogues, model.encoder)
    s = model.text_s(lex, emb_mean, emb_last)
    return s, np.array([model.p_satisfied(v) for v in s])


def stage_predictions(dialogues: list[Dialogue]) -> tuple[np.ndarray, list[str]]:
    """Predicted CSAT (1-5) from the real text stages of the pipeline, then the satisfaction stage."""
    from wocas.config import load_config
    from wocas.io.ingest import transcript_to_call
    from wocas.pipeline import Pipeline, build_stages

    config = load_config()
    stages = build_stages(config)  # audio-only stages pass transcripts through untouched
    names = [s.name for s in stages if not s.audio_only]
    pipeline = Pipeline(stages, config)
    calls = [transcript_to_call({"call_id": d.dialogue_id, "turns": [{"speaker": r, "text": t} for r, t in d.turns]},
                                "bench", d.dialogue_id) for d in dialogues]
    scores = []
    for i in range(0, len(calls), 32):
        for call in pipeline.process(calls[i:i + 32]):
            scores.append(call.satisfaction.score if call.ok and call.satisfaction else np.nan)
    pipeline.close()
    return np.array(scores), names


def binary(overall: np.ndarray, p: np.ndarray) -> dict:
    sat, dis = overall >= 4, overall <= 2
    keep = sat | dis
    truth, guess = sat[keep], p[keep] >= 0.5
    acc_sat, acc_dis = float(np.mean(guess[truth])), float(np.mean(~guess[~truth]))
    return {"n_satisfied": int(sat.sum()), "n_dissatisfied": int(dis.sum()),
            "accuracy": float(np.mean(truth == guess)), "balanced_accuracy": (acc_sat + acc_dis) / 2,
            "auc": float(roc_auc_score(truth, p[keep])) if 0 < truth.sum() < len(truth) else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--no-stages", action="store_true", help="text model only (skip the pipeline run)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    model = load_model()
    rows, results = [], {"model": model.version, "training": {k: v for k, v in model.params["training"].items()
                                                             if k != "holdout_ids"}}

    dialogues, mean_s, _ = load_stc3(args.data)
    ids = set(model.params["training"]["holdout_ids"])
    keep = [i for i, d in enumerate(dialogues) if d.dialogue_id in ids]
    held, truth = [dialogues[i] for i in keep], mean_s[keep]
    started = time.perf_counter()
    s, p = text_predictions(held)
    seconds = time.perf_counter() - started
    stc3 = {"n": len(held), "spearman": float(spearmanr(s, truth).statistic),
            "mae_s": float(np.mean(np.abs(s - truth))), "seconds": round(seconds, 1),
            "positive_vs_negative": binary(truth + 3, p)}
    results["stc3_text_model"] = stc3
    rows.append({"set": "STC-3 held out", "scored by": "text model", "dialogues": len(held),
                 "Spearman": stc3["spearman"], "MAE (S, -2..2)": stc3["mae_s"], "sat/dissat accuracy": None,
                 "balanced acc.": None, "AUC": None})
    if not args.no_stages:
        started = time.perf_counter()
        scores, names = stage_predictions(held)
        ok = ~np.isnan(scores)
        full = {"n": int(ok.sum()), "stages": names,
                "spearman": float(spearmanr(scores[ok], truth[ok]).statistic),
                "mae_s": float(np.mean(np.abs((scores[ok] - 3) - truth[ok]))),
                "seconds": round(time.perf_counter() - started, 1)}
        results["stc3_pipeline"] = full
        rows.append({"set": "STC-3 held out", "scored by": "pipeline: " + " > ".join(names), "dialogues": full["n"],
                     "Spearman": full["spearman"], "MAE (S, -2..2)": full["mae_s"]})

    for name in ("MWOZ", "SGD"):
        dialogues, overall = load_uss(args.data / USS / f"{name}.txt")
        started = time.perf_counter()
        s, p = text_predictions(dialogues)
        res = {"n": len(dialogues), "spearman": float(spearmanr(s, overall).statistic),
               **binary(overall, p), "seconds": round(time.perf_counter() - started, 1)}
        results[f"uss_{name.lower()}_text_model"] = res
        rows.append({"set": f"USS {name}", "scored by": "text model", "dialogues": len(dialogues),
                     "Spearman": res["spearman"], "sat/dissat accuracy": res["accuracy"],
                     "balanced acc.": res["balanced_accuracy"], "AUC": res["auc"],
                     "n sat / dissat": f"{res['n_satisfied']} / {res['n_dissatisfied']}"})
    for row in rows:  # one set of columns for the table
        for col in ("Spearman", "MAE (S, -2..2)", "sat/dissat accuracy", "balanced acc.", "AUC", "n sat / dissat"):
            row.setdefault(col, None)
    notes = ("STC-3 goal: Spearman >= 0.60 on held-out dialogues. USS: published dialogue-level models reach "
             "about 0.70 correlation and 79% accuracy on other data; ours is trained on STC-3 only (USS has no "
             "licence, so it is evaluation only) and predicts 'satisfied' at p_satisfied >= 0.5 with no tuning "
             "on USS. The pipeline row runs the text stages present in engine/pipeline.py at the time of the run.")
    path = write_results("satisfaction", results, rows, "Predicted satisfaction against human ratings", notes)
    log.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
