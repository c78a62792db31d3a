"""Sentence embeddings for the reasons package, with a small cache shared by the stages."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

_CACHE: OrderedDict[tuple[str, str, str, str], np.ndarray] = OrderedDict()  # (model, backend, adapter, text)
_CACHE_SIZE = 8192


def embed(texts: list[str], adapter: str | None = None, encoder: str | None = None) -> np.ndarray:
    """Sentence embeddings from the shared encoder (MiniLM, 384-d, unless configured otherwise),
    with a small cache: the jobs and signals stages read the same customer turns, so the second
    stage pays nothing for them. With ``adapter`` (a LoRA adapter file), from the encoder
    fine-tuned by it; with ``encoder`` (a registry name or path), from that encoder instead of
    the shared one: both are a head's own encoder."""
    from wocas.models.text_encoder import active, encode

    model, backend = active()
    model = encoder or model
    if not texts:
        return encode([], model, adapter=adapter)
    keys = [(model, backend, adapter or "", t) for t in texts]
    found = {k: _CACHE[k] for k in dict.fromkeys(keys) if k in _CACHE}
    missing = [k for k in dict.fromkeys(keys) if k not in found]
    if missing:
        found.update(zip(missing, encode([k[-1] for k in missing], model, adapter=adapter)))
    for k, vector in found.items():  # most recently used last; a batch larger than the cache keeps its tail
        _CACHE[k] = vector
        _CACHE.move_to_end(k)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return np.stack([found[k] for k in keys])
