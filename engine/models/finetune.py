"""Fine-tune a sentence encoder (the shared MiniLM, or a head's own: ``--encoder``) for a
labelled task with a LoRA adapter.

A frozen encoder misses cues that no single embedding direction holds. Letting the encoder
adapt to the labels helps there: a complaint head goes from 0.791 to 0.841 F1 in 10-fold
cross-validation. On banking77 it did not beat the frozen head with its n-gram part (0.934
against 0.939; benchmarks/results/intents.md).

What is trained is a low-rank adapter on the encoder's linear layers
(``engine/emotion/lora.py``) plus a linear head, with cross-entropy, on CPU or GPU. What
ships is the adapter (fp16, about 1.3 MB at rank 16) and the head. At load time the adapter
is merged into the packaged encoder's weights, so inference costs one plain pass of it
(``text_encoder.load_encoder(..., adapter=...)``).

Used by ``wocas train intents --finetune`` (scripts/train_intents.py).
"""

from __future__ import annotations

import argparse
import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinetuneSettings:
    rank: int = 16
    alpha: float = 32.0
    lr: float = 1e-3
    head_lr: float = 3e-3
    epochs: int = 6
    batch_size: int = 32
    max_length: int = 64
    dropout: float = 0.1
    seed: int = 13

    @property
    def scale(self) -> float:
        return self.alpha / self.rank


@dataclass
class FinetuneResult:
    adapter: dict  # {module.lora_A / module.lora_B: tensor}, keys relative to the encoder
    coef: np.ndarray  # (labels, hidden): the trained head, on L2-normalised embeddings
    intercept: np.ndarray  # (labels,)
    settings: FinetuneSettings
    labels: list[str]
    seconds: float
    history: list[dict] = field(default_factory=list)  # per epoch: loss, dev accuracy when a dev set was given


def _set_seed(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def finetune(texts: list[str], labels: list[str], encoder_dir: Path, settings: FinetuneSettings = FinetuneSettings(),
             dev: tuple[list[str], list[str]] | None = None, device: str = "cpu",
             progress: Callable[[int, int], None] | None = None) -> FinetuneResult:
    """Train a LoRA adapter and a linear head on ``texts``/``labels``; ``dev`` (texts, labels)
    is scored after each epoch.

    Batches are formed from texts of similar length, so little of each batch is padding, and
    are taken in random order.
    """
    from wocas.models.libraries import prepare_model_libraries

    prepare_model_libraries()
    import torch
    from torch import nn
    from transformers import AutoModel, AutoTokenizer

    from wocas.models.lora import add_lora, lora_state

    if len(texts) != len(labels) or not texts:
        raise ValueError(f"fine-tuning needs as many labels as texts (got {len(texts)} texts, {len(labels)} labels)")
    if len(set(labels)) < 2:
        raise ValueError(f"fine-tuning needs at least two labels (got {sorted(set(labels))})")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"fine-tuning device {device!r}: this machine's torch sees no CUDA GPU (use cpu)")
    _set_seed(settings.seed)
    classes = sorted(set(labels))
    index = {c: i for i, c in enumerate(classes)}
    y = torch.tensor([index[label] for label in labels])
    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir))
    encoder = AutoModel.from_pretrained(str(encoder_dir))
    for p in encoder.parameters():
        p.requires_grad_(False)
    add_lora(encoder, settings.rank, settings.alpha, dropout=settings.dropout)
    model = _classifier(encoder, len(classes), settings.dropout).to(device)
    optim = torch.optim.AdamW([
        {"params": [p for p in model.encoder.parameters() if p.requires_grad], "lr": settings.lr},
        {"params": model.head.parameters(), "lr": settings.head_lr}], weight_decay=0.01)
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=settings.max_length)["input_ids"]]
    steps_per_epoch = len(_length_batches(lengths, settings.batch_size, np.random.default_rng(0)))
    total = steps_per_epoch * settings.epochs
    warmup = max(1, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (total - s) / max(1, total - warmup)))
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(settings.seed)
    history: list[dict] = []
    started = time.perf_counter()
    step = 0
    model.train()
    for epoch in range(1, settings.epochs + 1):
        losses = []
        for batch in _length_batches(lengths, settings.batch_size, rng):
            enc = tokenizer([texts[i] for i in batch], padding=True, truncation=True,
                            max_length=settings.max_length, return_tensors="pt").to(device)
            loss = loss_fn(model(enc["input_ids"], enc["attention_mask"]), y[batch].to(device))
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            sched.step()
            losses.append(loss.item())
            step += 1
            if progress:
                progress(step, total)
        record = {"epoch": epoch, "loss": round(float(np.mean(losses)), 4),
                  "seconds": round(time.perf_counter() - started, 1)}
        if dev is not None:
            pred = _predict(model, tokenizer, dev[0], settings.max_length, device)
            record["dev_accuracy"] = round(float(np.mean([classes[p] == t for p, t in zip(pred, dev[1])])), 4)
        log.info("fine-tune epoch %s", record)
        history.append(record)
    adapter = {k[len("encoder."):]: v.half().contiguous() for k, v in lora_state(model).items()}
    coef = (model.head.weight.detach().cpu().numpy() * HEAD_SCALE).astype(np.float32)
    intercept = model.head.bias.detach().cpu().numpy().astype(np.float32)
    return FinetuneResult(adapter, coef, intercept, settings, classes, round(time.perf_counter() - started, 1),
                          history)


def _length_batches(lengths: list[int], batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Indices in batches of similar token length, the batches in random order."""
    jitter = rng.random(len(lengths))  # random order among equal lengths
    order = np.lexsort((jitter, lengths))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


# The head sees the L2-normalised embedding (what the engine's encoders return) times this
# fixed scale, so its weights times the scale are a head over the engine's embeddings.
HEAD_SCALE = 20.0


def _classifier(encoder, n_labels: int, dropout: float):
    """Mean-pooled, L2-normalised encoder output -> dropout -> linear, one logit per label."""
    import torch
    from torch import nn

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder
            self.dropout = nn.Dropout(dropout)
            self.head = nn.Linear(encoder.config.hidden_size, n_labels)

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return self.head(self.dropout(HEAD_SCALE * nn.functional.normalize(pooled, dim=1)))

    return Classifier()


def _predict(model, tokenizer, texts: list[str], max_length: int, device: str, batch_size: int = 128) -> list[int]:
    import torch

    model.eval()
    out: list[int] = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(texts[i:i + batch_size], padding=True, truncation=True, max_length=max_length,
                            return_tensors="pt").to(device)
            out.extend(model(enc["input_ids"], enc["attention_mask"]).argmax(dim=1).tolist())
    model.train()
    return out


def save_adapter(path: Path, result: FinetuneResult) -> Path:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(result.adapter, str(path), metadata={"lora_scale": str(result.settings.scale),
                                                   "lora_rank": str(result.settings.rank)})
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The encoder options of ``wocas train intents`` and ``scripts/train_intents.py``: which
    encoder the head reads, and whether to fine-tune it first."""
    defaults = FinetuneSettings()
    parser.add_argument("--encoder", help="the head's encoder, a registry name or a path (default: the shared "
                        "minilm); e.g. mpnet, which is slower but reads intents better")
    parser.add_argument("--finetune", action="store_true",
                        help="fine-tune the encoder with a LoRA adapter first (a few MB, saved beside the head)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="fine-tuning epochs")
    parser.add_argument("--rank", type=int, default=defaults.rank, help="LoRA rank (alpha is twice the rank)")
    parser.add_argument("--lr", type=float, default=defaults.lr, help="LoRA learning rate")
    parser.add_argument("--dev-share", type=float, default=0.1,
                        help="share of the data held out of fine-tuning to choose the n-gram weight (0: none)")
    parser.add_argument("--device", default="cpu", help="where to fine-tune: cpu or cuda")
    parser.add_argument("--seed", type=int, default=defaults.seed)


def settings_from(args: argparse.Namespace) -> FinetuneSettings | None:
    if not args.finetune:
        return None
    return FinetuneSettings(rank=args.rank, alpha=2.0 * args.rank, lr=args.lr, epochs=args.epochs, seed=args.seed)
