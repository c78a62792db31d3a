"""A model folder's fast tokenizer, read straight from its ``tokenizer.json`` with the
``tokenizers`` library: the ONNX encoders need only token ids, and importing transformers
to get them costs about a second at start-up (it pulls in torch).

``load_tokenizer(folder)`` returns the same ids and attention masks as
``AutoTokenizer.from_pretrained(folder)(texts, padding=True, truncation=True,
max_length=n, return_tensors="np")`` (tests/test_startup.py compares them on real text); a
folder without ``tokenizer.json`` gets transformers' own tokenizer.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from wocas.models.libraries import prepare_model_libraries


class FastTokenizer:
    """``tokenizer(texts, padding=True, truncation=True, max_length=n, return_tensors="np")``
    -> {"input_ids", "attention_mask"} as int64 arrays padded to the batch's longest text."""

    def __init__(self, path: Path):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        settings_file = path / "tokenizer_config.json"
        settings = json.loads(settings_file.read_text()) if settings_file.exists() else {}
        self.model_max_length = int(settings.get("model_max_length", 512))
        pad_token = settings.get("pad_token", "[PAD]")
        pad_token = pad_token.get("content", "[PAD]") if isinstance(pad_token, dict) else pad_token
        pad_id = self.tokenizer.token_to_id(pad_token)
        self.pad = (pad_token, 0 if pad_id is None else pad_id)
        self.tokenizer.no_truncation()
        self.tokenizer.enable_padding(pad_id=self.pad[1], pad_token=self.pad[0])  # to the longest in the batch

    def __call__(self, texts: list[str], padding: bool = True, truncation: bool = True,
                 max_length: int | None = None, return_tensors: str = "np") -> dict[str, np.ndarray]:
        if return_tensors != "np" or not padding:
            raise ValueError("FastTokenizer returns padded numpy arrays only")
        if truncation:
            self.tokenizer.enable_truncation(max_length or self.model_max_length)
        else:
            self.tokenizer.no_truncation()
        encodings = self.tokenizer.encode_batch(list(texts))
        return {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64)}


@lru_cache(maxsize=8)
def load_tokenizer(path: str | Path) -> Any:
    """The folder's tokenizer for numpy use (see the module docstring)."""
    path = Path(path)
    if (path / "tokenizer.json").is_file():
        return FastTokenizer(path)
    prepare_model_libraries()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))
