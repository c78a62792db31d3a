"""A minimal LoRA (low-rank adapter) for the linear layers of a BERT or MPNet encoder.

Written here rather than taken from peft so that training (scripts/train_emotion_head.py)
and inference share one tiny, dependency-free definition, and so that the shipped adapter
is a plain safetensors file of ``A``/``B`` matrices: at load time they are merged into the
packaged encoder's weights (``W += scale * B @ A``), which makes inference exactly as fast
as the plain encoder.
"""

from __future__ import annotations

import math

import torch
from torch import nn

# The linear layers of BERT (MiniLM) and MPNet, by the suffix of their module name: BERT's attention
# is query/key/value/attention.output.dense, MPNet's attn.q/k/v/o; both share the feed-forward names.
DEFAULT_TARGETS = ("query", "key", "value", "attention.output.dense", "attn.q", "attn.k", "attn.v", "attn.o",
                   "intermediate.dense", "output.dense")


class LoRALinear(nn.Module):
    """``base(x) + scale * (dropout(x) @ A.T @ B.T)`` with ``base`` frozen."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float, dropout: float = 0.0):
        super().__init__()
        self.base = base
        self.rank = rank
        self.scale = alpha / rank
        self.lora_A = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.dropout = nn.Dropout(dropout)
        for p in self.base.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * (self.dropout(x) @ self.lora_A.T @ self.lora_B.T)

    def delta(self) -> torch.Tensor:
        return self.scale * (self.lora_B @ self.lora_A)


def _matches(name: str, targets: tuple[str, ...]) -> bool:
    # "attention.output.dense" must not be taken for the FFN's "output.dense" and vice versa.
    if name.endswith("attention.output.dense"):
        return "attention.output.dense" in targets
    return any(name.endswith(t) for t in targets if t != "attention.output.dense")


def target_names(model: nn.Module, targets: tuple[str, ...] = DEFAULT_TARGETS) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and _matches(n, targets)]


def add_lora(model: nn.Module, rank: int, alpha: float, dropout: float = 0.0,
             targets: tuple[str, ...] = DEFAULT_TARGETS) -> list[str]:
    """Wrap the target linears of ``model`` in place; returns the wrapped module names."""
    names = target_names(model, targets)
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, LoRALinear(getattr(parent, child), rank, alpha, dropout))
    return names


def lora_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The adapter's weights only: ``{module}.lora_A`` / ``{module}.lora_B``."""
    return {k: v.detach().cpu() for k, v in model.state_dict().items() if ".lora_" in k}


def merge_lora(model: nn.Module, state: dict[str, torch.Tensor], scale: float) -> int:
    """Add ``scale * B @ A`` to each target linear of a plain (unwrapped) model; returns how many."""
    merged = 0
    modules = dict(model.named_modules())
    for key in state:
        if not key.endswith(".lora_A"):
            continue
        name = key[: -len(".lora_A")]
        base_name = name[: -len(".base")] if name.endswith(".base") else name
        linear = modules.get(base_name)
        if not isinstance(linear, nn.Linear):
            raise KeyError(f"adapter names {base_name!r}, which is not a linear layer of the encoder")
        a = state[key].float()
        b = state[f"{name}.lora_B"].float()
        with torch.no_grad():
            linear.weight += scale * (b @ a)
        merged += 1
    return merged
