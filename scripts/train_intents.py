"""Train a supervised intent head over the shared MiniLM encoder (or another one).

    python scripts/train_intents.py --data train.csv --out models/my-head [--reason-map map.json]
    wocas train intents --data train.csv --out models/my-head [--finetune --epochs 6]
    wocas train intents --data train.csv --out models/my-head --encoder mpnet

The data is a CSV with a ``text`` column and a ``label`` (or ``category``/``intent``)
column, or a JSONL file of {"text": ..., "label": ...}. The head is two logistic regressions,
one on the MiniLM embedding and one on TF-IDF character and word n-grams, mixed as a weighted
geometric mean; what is saved is the head only (float16 weights, the n-gram vocabularies, a
card), never the encoder. Point ``[jobs] head`` at the folder to use
it instead of the taxonomy's examples; ``--reason-map`` maps its labels onto taxonomy reasons.

With ``--finetune`` the encoder is first adapted to the labels (``wocas.models.finetune``): a
LoRA adapter and the embedding part are trained together on all but ``--dev-share`` of the
texts, and that share chooses the n-gram weight. ``adapter.safetensors`` is saved beside the
head, which then embeds its texts with the adapted encoder.

With ``--encoder`` (a registry name such as ``mpnet``, or a sentence-transformers folder) the
head is fitted over that encoder's embeddings instead, and runs that encoder itself on the
texts it classifies: more accurate with a stronger encoder, at the cost of its pass.

The training code lives in ``wocas.reasons.train_intents``; this script is its command line.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from wocas.errors import WocasError
from wocas.models.finetune import add_arguments, settings_from
from wocas.reasons.train_intents import holdout_indices, read_labelled, train

__all__ = ["holdout_indices", "main", "read_labelled", "train"]
log = logging.getLogger("train_intents")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="CSV (text,label) or JSONL")
    parser.add_argument("--out", type=Path, required=True, help="folder for head.npz, head.json, README.md")
    parser.add_argument("--reason-map", type=Path, help="JSON {label: taxonomy reason}")
    parser.add_argument("--no-lexical", action="store_true", help="embeddings only (no TF-IDF n-grams)")
    parser.add_argument("--C", type=float, default=30.0, help="inverse regularisation strength")
    parser.add_argument("--mix", type=float, help="weight of the embedding part (default: chosen by 5-fold CV)")
    parser.add_argument("--embeddings", type=Path, help=".npy of the texts' embeddings by the head's encoder, in file order (optional cache)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        out = train(args.data, args.out, args.reason_map, not args.no_lexical, args.C, embeddings=args.embeddings,
                    mix=args.mix, finetune=settings_from(args), dev_share=args.dev_share, device=args.device,
                    encoder=args.encoder)
    except WocasError as e:
        print(f"error: {e}", file=sys.stderr)
        return int(e.exit_code)
    log.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
