"""Training a supervised intent head from a labelled file (``wocas train intents``, ``scripts/train_intents.py``).

The data is a CSV with a ``text`` column and a ``label`` (or ``category``/``intent``)
column, or a JSONL file of {"text": ..., "label": ...}. The head is two logistic regressions,
one on the encoder's embedding and one on TF-IDF character and word n-grams, mixed as a
weighted geometric mean; what is saved is the head only (float16 weights, the n-gram
vocabularies, a card), never the encoder. Point ``[jobs] head`` at the folder to use it
instead of the taxonomy's examples; ``reason_map`` maps its labels onto taxonomy reasons.

With ``finetune`` the encoder is first adapted to the labels (``wocas.models.finetune``): a
LoRA adapter and the embedding part are trained together on all but ``dev_share`` of the
texts, and that share chooses the n-gram weight. ``adapter.safetensors`` is saved beside the
head, which then embeds its texts with the adapted encoder.

With ``encoder`` (a registry name such as ``mpnet``, or a sentence-transformers folder) the
head is fitted over that encoder's embeddings instead, and runs that encoder itself.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from wocas.errors import UsageError
from wocas.models.finetune import FinetuneSettings
from wocas.models.finetune import finetune as run_finetune, save_adapter
from wocas.reasons.training import (MIX_GRID, OTHER_KEEP, LinearPart, choose_mix, choose_mix_on_holdout, save_head,
                                    train_head)

log = logging.getLogger(__name__)
LABEL_COLUMNS = ("label", "category", "intent")
NO_HOLDOUT = ("with --finetune and --dev-share 0, give --mix (or --no-lexical): no texts are left out of "
              "fine-tuning to choose the n-gram weight on")


def read_labelled(path: Path) -> tuple[list[str], list[str]]:
    """Texts and labels from a CSV (text + label/category/intent) or JSONL file."""
    if not path.exists():
        raise UsageError(f"training data {path} does not exist")
    texts, labels = [], []
    if path.suffix == ".jsonl":
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            if line.strip():
                row = json.loads(line)
                if "text" not in row or not any(k in row for k in LABEL_COLUMNS):
                    raise UsageError(f"{path} line {n} needs 'text' and 'label'")
                texts.append(str(row["text"]))
                labels.append(str(next(row[k] for k in LABEL_COLUMNS if k in row)))
        return texts, labels
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        label_col = next((c for c in LABEL_COLUMNS if c in (reader.fieldnames or [])), None)
        if "text" not in (reader.fieldnames or []) or label_col is None:
            raise UsageError(f"{path} needs a 'text' column and one of {LABEL_COLUMNS} (has {reader.fieldnames})")
        for row in reader:
            texts.append(row["text"])
            labels.append(row[label_col])
    return texts, labels


def train(data: Path, out: Path, reason_map: Path | None = None, lexical: bool = True, C: float = 30.0,
          name: str | None = None, embeddings: Path | None = None, mix: float | None = None,
          finetune: FinetuneSettings | None = None, dev_share: float = 0.1, device: str = "cpu",
          encoder: str | None = None, other_keep: float = OTHER_KEEP) -> Path:
    """Train a head on ``data`` into ``out``, over the shared encoder or over ``encoder`` (a
    registry name or path, which the head then runs itself). With ``finetune``, first a LoRA
    adapter for the encoder on all but a stratified ``dev_share`` of the data (that share
    chooses the n-gram weight, since the adapted encoder knows its own training texts too well
    for cross-validation over them to be fair); the head is then fitted on all of it.

    The `other` threshold stored in the head keeps ``other_keep`` of the in-scope texts, by
    their top-class probability out of fold (or, with ``finetune``, on the held-out share);
    no out-of-scope example is needed."""
    import numpy as np

    from wocas.models.text_encoder import DEFAULT_MODEL, TextEncoder

    texts, labels = read_labelled(data)
    log.info("training on %d texts, %d labels", len(texts), len(set(labels)))
    if finetune is not None and lexical and mix is None and dev_share <= 0:
        raise UsageError(NO_HOLDOUT)
    encoder = encoder or DEFAULT_MODEL
    text_encoder = TextEncoder(encoder)
    backend = text_encoder.backend
    adapter_note, holdout, tuned = "", np.zeros(0, dtype=int), None
    if finetune is not None:
        from wocas.models.registry import resolve

        holdout = holdout_indices(labels, dev_share, finetune.seed)
        keep = np.setdiff1d(np.arange(len(texts)), holdout)
        log.info("fine-tuning %s with a LoRA adapter on %d texts (%d held out), %d epochs, on %s",
                 encoder, len(keep), len(holdout), finetune.epochs, device)
        with tqdm(desc="fine-tune", unit="step", disable=None) as bar:
            def progress(step: int, total: int) -> None:
                bar.total = total
                bar.update(step - bar.n)

            dev = ([texts[i] for i in holdout], [labels[i] for i in holdout]) if len(holdout) else None
            tuned = run_finetune([texts[i] for i in keep], [labels[i] for i in keep], resolve(encoder).path,
                                 finetune, dev=dev, device=device, progress=progress)
        adapter = save_adapter(out / "adapter.safetensors", tuned)
        vectors = text_encoder.variant(adapter=str(adapter)).encode(texts)
        adapter_note = (f" The encoder is fine-tuned by `adapter.safetensors` with the embedding head beside it"
                        f" (LoRA rank {finetune.rank}, "
                        f"{finetune.epochs} epochs on {len(keep)} texts, {tuned.seconds:.0f} s on {device}; "
                        f"per epoch: {tuned.history}).")
    else:
        vectors = np.load(embeddings).astype(np.float32) if embeddings else text_encoder.encode(texts)
    if len(vectors) != len(texts):
        raise UsageError(f"{embeddings} has {len(vectors)} rows for {len(texts)} texts")
    fixed = LinearPart(tuned.labels, tuned.coef, tuned.intercept) if tuned is not None else None
    cv, other = "", None
    choose = lexical and mix is None
    grid = MIX_GRID if choose else ((mix if lexical else 1.0),)
    if len(holdout):
        log.info("choosing the embedding weight and the `other` threshold on the %d held-out texts", len(holdout))
        choice = choose_mix_on_holdout(texts, labels, vectors, holdout, C, grid=grid, fixed=fixed, lexical=lexical,
                                       keep=other_keep)
        if choose:
            cv = f" The weight was chosen on the {len(holdout)} texts held out of fine-tuning: {choice.accuracy}."
        mix, other = choice.mix, choice.other
    elif fixed is not None and choose:
        raise UsageError(NO_HOLDOUT)
    elif fixed is None:
        log.info("choosing the embedding weight and the `other` threshold by 5-fold cross-validation on the training data")
        choice = choose_mix(texts, labels, vectors, C, grid=grid, lexical=lexical, keep=other_keep)
        if choose:
            cv = f" The weight was chosen by 5-fold cross-validation on the training data: {choice.accuracy}."
        mix, other = choice.mix, choice.other
    if other is not None:
        cv += (f" Below a top-class probability of {other['threshold']:.3f} the head answers `other`: the level that"
               f" keeps {other['keep']:.0%} of the training texts by their {other['method'].split('(')[-1].rstrip(')')}"
               f" probabilities (no out-of-scope example used).")
    trained = train_head(texts, labels, vectors, lexical=lexical, C=C, mix=mix, fixed=fixed, other=other)
    mapping = json.loads(reason_map.read_text()) if reason_map else {}
    meta = {"name": name or out.name, "version": "1", "encoder": encoder, "encoder_backend": backend,
            "trained_on": data.name, "n_train": len(texts), "C": C, "reason_map": mapping}
    if tuned is not None:
        meta["finetune"] = {**asdict(tuned.settings), "n_texts": len(texts) - len(holdout),
                            "n_held_out": len(holdout), "seconds": tuned.seconds, "device": device,
                            "history": tuned.history}
    save_head(out, trained, meta)
    (out / "README.md").write_text(
        f"# {meta['name']}\n\nLogistic-regression intent head over the `{encoder}` encoder's sentence embeddings"
        f" ({backend} backend)"
        f"{' mixed with one over TF-IDF char 2-5-grams and word 1-2-grams (weight %.1f on the embedding)' % trained.mix if lexical else ''},"
        f" trained by `wocas train intents` on `{data.name}` ({len(texts)} texts, {len(set(labels))} labels,"
        f" C={C}). Only the head{' and the adapter are' if tuned else ' is'} stored (float16); the encoder is the"
        f" packaged `{encoder}`.{adapter_note}{cv}\n")
    return out


def holdout_indices(labels: list[str], share: float, seed: int) -> "np.ndarray":
    """A stratified ``share`` of the rows (labels with a single example always stay in training)."""
    import numpy as np

    if share <= 0:
        return np.zeros(0, dtype=int)
    if not 0 < share < 1:
        raise UsageError(f"--dev-share must be in [0, 1) (got {share})")
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    out: list[int] = []
    for rows in by_label.values():
        if len(rows) >= 2:
            out.extend(rng.choice(rows, size=max(1, round(share * len(rows))), replace=False).tolist())
    return np.sort(np.asarray(out, dtype=int))
