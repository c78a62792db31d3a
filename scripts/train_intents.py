"""Train a supervised intent head over the shared MiniLM encoder.

    python scripts/train_intents.py --data train.csv --out models/my-head [--reason-map map.json]
    wocas train intents --data train.csv --out models/my-head

The data is a CSV with a ``text`` column and a ``label`` (or ``category``/``intent``)
column, or a JSONL file of {"text": ..., "label": ...}. The head is two logistic regressions,
one on the MiniLM embedding and one on TF-IDF character and word n-grams, mixed as a weighted
geometric mean; what is saved is the head only (float16 weights, the n-gram vocabularies, a
card), never the encoder. Point ``[jobs] head`` at the folder to use
it instead of the taxonomy's examples; ``--reason-map`` maps its labels onto taxonomy reasons.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.reasons import choose_mix, embed, save_head, train_head  # noqa: E402

log = logging.getLogger("train_intents")
LABEL_COLUMNS = ("label", "category", "intent")


def read_labelled(path: Path) -> tuple[list[str], list[str]]:
    """Texts and labels from a CSV (text + label/category/intent) or JSONL file."""
    if not path.exists():
        raise SystemExit(f"error: training data {path} does not exist")
    texts, labels = [], []
    if path.suffix == ".jsonl":
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            if line.strip():
                row = json.loads(line)
                if "text" not in row or not any(k in row for k in LABEL_COLUMNS):
                    raise SystemExit(f"error: {path} line {n} needs 'text' and 'label'")
                texts.append(str(row["text"]))
                labels.append(str(next(row[k] for k in LABEL_COLUMNS if k in row)))
        return texts, labels
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        label_col = next((c for c in LABEL_COLUMNS if c in (reader.fieldnames or [])), None)
        if "text" not in (reader.fieldnames or []) or label_col is None:
            raise SystemExit(f"error: {path} needs a 'text' column and one of {LABEL_COLUMNS} (has {reader.fieldnames})")
        for row in reader:
            texts.append(row["text"])
            labels.append(row[label_col])
    return texts, labels


def train(data: Path, out: Path, reason_map: Path | None = None, lexical: bool = True, C: float = 30.0,
          name: str | None = None, embeddings: Path | None = None, mix: float | None = None) -> Path:
    import numpy as np

    from engine.text_encoder import active

    texts, labels = read_labelled(data)
    log.info("training on %d texts, %d labels", len(texts), len(set(labels)))
    vectors = np.load(embeddings).astype(np.float32) if embeddings else embed(texts)
    if len(vectors) != len(texts):
        raise SystemExit(f"error: {embeddings} has {len(vectors)} rows for {len(texts)} texts")
    cv = ""
    if lexical and mix is None:
        log.info("choosing the embedding weight by 5-fold cross-validation on the training data")
        choice = choose_mix(texts, labels, vectors, C)
        mix = choice.mix
        cv = f" The weight was chosen by 5-fold cross-validation on the training data: {choice.accuracy}."
    trained = train_head(texts, labels, vectors, lexical=lexical, C=C, mix=mix)
    mapping = json.loads(reason_map.read_text()) if reason_map else {}
    encoder, backend = active()
    meta = {"name": name or out.name, "version": "1", "encoder": encoder, "encoder_backend": backend,
            "trained_on": data.name, "n_train": len(texts), "C": C, "reason_map": mapping}
    save_head(out, trained, meta)
    (out / "README.md").write_text(
        f"# {meta['name']}\n\nLogistic-regression intent head over all-MiniLM-L6-v2 sentence embeddings"
        f" ({backend} backend)"
        f"{' mixed with one over TF-IDF char 2-5-grams and word 1-2-grams (weight %.1f on the embedding)' % trained.mix if lexical else ''},"
        f" trained by `scripts/train_intents.py` on `{data.name}` ({len(texts)} texts, {len(set(labels))} labels,"
        f" C={C}). Only the head is stored (float16); the encoder is the packaged `minilm`.{cv}\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="CSV (text,label) or JSONL")
    parser.add_argument("--out", type=Path, required=True, help="folder for head.npz, head.json, README.md")
    parser.add_argument("--reason-map", type=Path, help="JSON {label: taxonomy reason}")
    parser.add_argument("--no-lexical", action="store_true", help="embeddings only (no TF-IDF n-grams)")
    parser.add_argument("--C", type=float, default=30.0, help="inverse regularisation strength")
    parser.add_argument("--mix", type=float, help="weight of the embedding part (default: chosen by 5-fold CV)")
    parser.add_argument("--embeddings", type=Path, help=".npy of the texts' MiniLM embeddings, in file order (optional cache)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = train(args.data, args.out, args.reason_map, not args.no_lexical, args.C, embeddings=args.embeddings,
                mix=args.mix)
    log.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
