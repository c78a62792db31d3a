"""Train the satisfaction text model on STC-3 and write models/satisfaction/model.json.

STC-3 (NTCIR-14 DCH-1, English translation, CC BY 4.0): 19 annotators rate each
customer-helpdesk dialogue's customer satisfaction S on -2..+2; the target is their mean.
A seeded share of dialogues is held out (their ids are written into the model file so the
benchmark scores exactly those); the shipped model is the one fitted without them.

    .venv/bin/python scripts/train_satisfaction.py [--data ../shared/data] [--seed 13]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
from scipy.optimize import minimize
from scipy.stats import spearmanr
from sklearn.linear_model import RidgeCV

ROOT = Path(__file__).resolve().parent.parent
from wocas.models.text_encoder import TextEncoder
from wocas.satisfaction.model import (
    LEXICAL_FEATURES, MODEL_DIR, Dialogue, SatisfactionModel, embed_dialogues, lexical_features,
)

log = logging.getLogger("train_satisfaction")
STC3 = Path("text/stc3_customer_helpdesk/train_data_en.json")
ENCODER = "minilm"


def load_stc3(data: Path) -> tuple[list[Dialogue], np.ndarray, np.ndarray]:
    """Dialogues, mean annotator S (n,), and the share of annotators with S > 0 (n,)."""
    path = data / STC3
    if not path.exists():
        raise SystemExit(f"STC-3 not found at {path} (pass --data)")
    items = json.loads(path.read_text())
    dialogues, mean_s, share_pos = [], [], []
    for item in items:
        turns = tuple(("customer" if t["sender"] == "customer" else "agent", " ".join(t["utterances"]))
                      for t in item["turns"])
        ratings = [a["quality"]["S"] for a in item["annotations"]]
        dialogues.append(Dialogue(turns=turns, dialogue_id=str(item["id"])))
        mean_s.append(float(np.mean(ratings)))
        share_pos.append(float(np.mean([r > 0 for r in ratings])))
    return dialogues, np.array(mean_s), np.array(share_pos)


def fit_platt(s: np.ndarray, share: np.ndarray) -> tuple[float, float]:
    """Logistic curve p = sigmoid(a*s + b) fitted to soft labels (share of positive raters)."""
    def loss(ab: np.ndarray) -> float:
        p = 1 / (1 + np.exp(-(ab[0] * s + ab[1])))
        p = np.clip(p, 1e-6, 1 - 1e-6)
        return float(-np.mean(share * np.log(p) + (1 - share) * np.log(1 - p)))

    result = minimize(loss, np.array([2.0, 0.0]), method="Nelder-Mead")
    return float(result.x[0]), float(result.x[1])


def design(lex: np.ndarray, emb_mean: np.ndarray, emb_last: np.ndarray, lex_mean: np.ndarray,
           lex_scale: np.ndarray, lex_weight: float) -> np.ndarray:
    return np.hstack([(lex - lex_mean) / lex_scale * lex_weight, emb_mean, emb_last])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--holdout", type=float, default=0.2, help="share of dialogues held out")
    parser.add_argument("--lex-weight", type=float, default=0.3,
                        help="scale of the standardised named features against the embeddings")
    parser.add_argument("--out", type=Path, default=MODEL_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    dialogues, target, share = load_stc3(args.data)
    order = list(range(len(dialogues)))
    random.Random(args.seed).shuffle(order)
    n_test = round(args.holdout * len(order))
    test, train = sorted(order[:n_test]), sorted(order[n_test:])
    log.info("STC-3: %d dialogues, %d train, %d held out", len(dialogues), len(train), len(test))

    lex = np.array([[lexical_features(d)[k] for k in LEXICAL_FEATURES] for d in dialogues])
    emb_mean, emb_last = embed_dialogues(dialogues, TextEncoder(ENCODER))

    lex_mean = lex[train].mean(axis=0)
    lex_scale = np.where(lex[train].std(axis=0) > 1e-9, lex[train].std(axis=0), 1.0)
    x = design(lex, emb_mean, emb_last, lex_mean, lex_scale, args.lex_weight)
    ridge = RidgeCV(alphas=np.logspace(-2, 2, 17)).fit(x[train], target[train])
    log.info("ridge alpha %.3g", ridge.alpha_)

    k, dim = len(LEXICAL_FEATURES), emb_mean.shape[1]
    coef = ridge.coef_
    w_lex = coef[:k] * args.lex_weight
    w_emb_mean, w_emb_last = coef[k:k + dim], coef[k + dim:]
    center_mean, center_last = emb_mean[train].mean(axis=0), emb_last[train].mean(axis=0)
    bias = float(ridge.intercept_ + center_mean @ w_emb_mean + center_last @ w_emb_last)
    platt = fit_platt(ridge.predict(x[train]), share[train])

    params = {
        "version": f"stc3-ridge-seed{args.seed}",
        "encoder": ENCODER,
        "feature_names": list(LEXICAL_FEATURES),
        "lex_mean": lex_mean.tolist(), "lex_scale": lex_scale.tolist(),
        "w_lex": w_lex.tolist(), "w_emb_mean": w_emb_mean.tolist(), "w_emb_last": w_emb_last.tolist(),
        "center_emb_mean": center_mean.tolist(), "center_emb_last": center_last.tolist(),
        "bias": bias, "platt": list(platt),
        "training": {"data": str(STC3), "seed": args.seed, "n_train": len(train), "n_holdout": len(test),
                     "alpha": float(ridge.alpha_), "lex_weight": args.lex_weight,
                     "holdout_ids": [dialogues[i].dialogue_id for i in test]},
    }
    model = SatisfactionModel(params)
    pred = model.text_s(lex, emb_mean, emb_last)
    rho_train = spearmanr(pred[train], target[train]).statistic
    rho_test = spearmanr(pred[test], target[test]).statistic
    mae_test = float(np.mean(np.abs(pred[test] - target[test])))
    params["training"].update({"spearman_train": round(float(rho_train), 4),
                               "spearman_holdout": round(float(rho_test), 4),
                               "mae_holdout_s": round(mae_test, 4)})
    log.info("Spearman train %.3f, held out %.3f; MAE held out %.3f (S units)", rho_train, rho_test, mae_test)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "model.json").write_text(json.dumps(params, separators=(",", ":")))
    log.info("wrote %s", args.out / "model.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
