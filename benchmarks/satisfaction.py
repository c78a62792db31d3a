"""Predicted satisfaction against human satisfaction ratings.

    .venv/bin/python -m benchmarks.satisfaction [--data ../shared/data] [--config my.toml] [--no-stages]

Sets are found by layout under --data (benchmarks/README.md): STC-3 files (``*_data_en.json``)
and User Satisfaction Simulation files (``*.txt`` with ``USER<TAB>OVERALL`` lines). A missing
set is skipped with its reason.

- STC-3 (CC BY 4.0): the dialogues held out from training (their ids are in the model file)
  when the data holds them; every other STC-3 dialogue found is scored as its own row (for the
  shipped model those were trained on: an upper bound); Spearman between predicted S and the mean of 19 annotators' S, MAE on S's -2..+2 scale.
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
from benchmarks.common import DEFAULT_DATA, load_bench_config, model_digest, models_used, write_results
from wocas.satisfaction.model import (
    LEXICAL_FEATURES, Dialogue, embed_dialogues, lexical_features, load_model,
)

log = logging.getLogger("bench_satisfaction")
_ENCODERS: dict = {}  # the model's own encoder, loaded once
USS = Path("text/user_satisfaction_simulation")


def find_stc3(data: Path) -> list[Path]:
    return sorted(data.rglob("*_data_en.json"))


def find_uss(data: Path) -> list[Path]:
    out = []
    for path in sorted(data.rglob("*.txt")):
        with open(path, encoding="utf-8", errors="replace") as f:
            if any(line.startswith("USER\tOVERALL") for line, _ in zip(f, range(5000))):
                out.append(path)
    return out


def read_stc3(path: Path) -> tuple[list[Dialogue], np.ndarray]:
    """STC-3 dialogues and the mean of their annotators' S (n,)."""
    import json

    dialogues, mean_s = [], []
    for item in json.loads(path.read_text()):
        turns = tuple(("customer" if t["sender"] == "customer" else "agent", " ".join(t["utterances"]))
                      for t in item["turns"])
        dialogues.append(Dialogue(turns=turns, dialogue_id=str(item["id"])))
        mean_s.append(float(np.mean([a["quality"]["S"] for a in item["annotations"]])))
    return dialogues, np.array(mean_s)


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


def text_predictions(dialogues: list[Dialogue], model) -> tuple[np.ndarray, np.ndarray]:
    """Predicted S and p_satisfied from the text model alone, shape (n,) each."""
    from wocas.models.text_encoder import TextEncoder

    encoder = _ENCODERS.setdefault(model.encoder, TextEncoder(model.encoder))
    lex = np.array([[lexical_features(d)[k] for k in LEXICAL_FEATURES] for d in dialogues])
    emb_mean, emb_last = embed_dialogues(dialogues, encoder)
    s = model.text_s(lex, emb_mean, emb_last)
    return s, np.array([model.p_satisfied(v) for v in s])


def stage_predictions(dialogues: list[Dialogue], config) -> tuple[np.ndarray, list[str]]:
    """Predicted CSAT (1-5) from the real text stages of the pipeline, then the satisfaction stage."""
    from wocas.io.ingest import transcript_to_call
    from wocas.pipeline import Pipeline, build_stages

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
    parser.add_argument("--config", type=Path, help="wocas TOML config ([satisfaction] model and the text stages)")
    parser.add_argument("--max-dialogues", type=int, help="score only the first N dialogues of each set")
    parser.add_argument("--no-stages", action="store_true", help="text model only (skip the pipeline run)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from wocas.satisfaction.model import MODEL_FILE

    config = load_bench_config(args.config)
    model_path = config.satisfaction.model or str(MODEL_FILE)
    model = load_model(model_path)
    models = [{"field": "satisfaction.model", "name": model.version, "path": str(Path(model_path).resolve()),
               "sha256": model_digest(model_path)},
              *models_used(config, (("text_encoder", "model"), ("emotion", "text_model"), ("jobs", "head")))]
    rows, results = [], {"model": model.version, "models": models,
                         "training": {k: v for k, v in model.params["training"].items() if k != "holdout_ids"},
                         "skipped": {}}
    cap = (lambda xs: xs[:args.max_dialogues] if args.max_dialogues else xs)

    stc3_files = find_stc3(args.data)
    if not stc3_files:
        results["skipped"]["stc3"] = f"no STC-3 file (*_data_en.json) under {args.data}"
    ids = set(model.params["training"].get("holdout_ids", []))
    for path in stc3_files:
        dialogues, mean_s = read_stc3(path)
        held_out = np.array([d.dialogue_id in ids for d in dialogues])
        for part, mask in (("held out", held_out), ("other (may be training data)", ~held_out)):
            keep = cap(list(np.flatnonzero(mask)))
            if not keep:
                continue
            chosen, truth = [dialogues[i] for i in keep], mean_s[keep]
            key = f"stc3_{path.stem}" + ("" if part == "held out" else "_other")
            started = time.perf_counter()
            s, p = text_predictions(chosen, model)
            stc3 = {"n": len(chosen), "spearman": float(spearmanr(s, truth).statistic),
                    "mae_s": float(np.mean(np.abs(s - truth))), "seconds": round(time.perf_counter() - started, 1),
                    "positive_vs_negative": binary(truth + 3, p)}
            results[f"{key}_text_model"] = stc3
            rows.append({"set": f"STC-3 {path.stem} {part}", "scored by": "text model", "dialogues": len(chosen),
                         "Spearman": stc3["spearman"], "MAE (S, -2..2)": stc3["mae_s"]})
            if not args.no_stages and part == "held out":
                started = time.perf_counter()
                scores, names = stage_predictions(chosen, config)
                ok = ~np.isnan(scores)
                full = {"n": int(ok.sum()), "stages": names,
                        "spearman": float(spearmanr(scores[ok], truth[ok]).statistic),
                        "mae_s": float(np.mean(np.abs((scores[ok] - 3) - truth[ok]))),
                        "seconds": round(time.perf_counter() - started, 1)}
                results[f"{key}_pipeline"] = full
                rows.append({"set": f"STC-3 {path.stem} {part}", "scored by": "pipeline: " + " > ".join(names),
                             "dialogues": full["n"], "Spearman": full["spearman"], "MAE (S, -2..2)": full["mae_s"]})

    uss_files = find_uss(args.data)
    if not uss_files:
        results["skipped"]["uss"] = f"no User Satisfaction Simulation file (USER<TAB>OVERALL lines) under {args.data}"
    for path in uss_files:
        dialogues, overall = load_uss(path)
        dialogues, overall = cap(dialogues), cap(overall)
        started = time.perf_counter()
        s, p = text_predictions(dialogues, model)
        res = {"n": len(dialogues), "spearman": float(spearmanr(s, overall).statistic),
               **binary(overall, p), "seconds": round(time.perf_counter() - started, 1)}
        results[f"uss_{path.stem.lower()}_text_model"] = res
        rows.append({"set": f"USS {path.stem}", "scored by": "text model", "dialogues": len(dialogues),
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
