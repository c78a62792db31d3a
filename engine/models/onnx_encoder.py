"""Transformer encoders run by ONNX Runtime, exported from their local weights on first use.

On a 2-core CPU, MiniLM through ONNX Runtime encodes about 1.4x faster than through PyTorch
with identical output, and about 3x faster once its linear layers are quantised to int8
(dynamic, per output channel: cosine 0.993 to the float embeddings, and the same banking77
and complaint figures; see benchmarks/results/intents.md). Nothing is downloaded: the graph is
traced from the weights already on disk and cached under ``$WOCAS_CACHE`` (default
``~/.cache/wocas``), keyed by a hash of those weights, so the first process pays a few seconds
and later ones load the file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

from wocas.errors import ModelError
from wocas.models.libraries import thread_budget

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "int8")


class OnnxExportError(ModelError, RuntimeError):
    pass


def cache_dir() -> Path:
    return Path(os.environ.get("WOCAS_CACHE", "~/.cache/wocas")).expanduser() / "onnx"


def weights_digest(*parts: bytes | str | Path) -> str:
    """A short hash of weight files (by content) and of any other strings that change the graph."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            with part.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        else:
            h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def export_encoder(build: Callable[[], Any], key: str, precision: str = "int8") -> Path:
    """The ONNX file cached under ``key``; when it is not there yet, ``build()`` makes the
    transformers encoder (``model(input_ids, attention_mask)`` -> ``last_hidden_state``) and
    it is exported (and quantised for int8). A cached file costs no torch import."""
    if precision not in PRECISIONS:
        raise OnnxExportError(f"unknown precision {precision!r} (expected one of {', '.join(PRECISIONS)})")
    folder = cache_dir()
    target = folder / f"{key}-{precision}.onnx"
    if target.exists():
        return target
    import torch

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise OnnxExportError(f"cannot write the ONNX cache {folder} ({e.strerror or e}): point WOCAS_CACHE at a "
                              'writable folder, or set the text backends to "torch"') from e

    class LastHidden(torch.nn.Module):
        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids, attention_mask):
            return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    ids = torch.ones((2, 8), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    # Written beside the target and renamed into place: workers starting together may both
    # export, but none ever reads a half-written file.
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        try:
            with warnings.catch_warnings(), torch.inference_mode():
                warnings.simplefilter("ignore")
                torch.onnx.export(LastHidden(build().eval()), (ids, torch.ones_like(ids)), str(fp32),
                                  input_names=["input_ids", "attention_mask"], output_names=["hidden"],
                                  dynamic_axes={"input_ids": axes, "attention_mask": axes, "hidden": axes},
                                  opset_version=17, dynamo=False)
            if precision == "int8":
                from onnxruntime.quantization import QuantType, quantize_dynamic

                quantised = Path(tmp) / "int8.onnx"
                root = logging.getLogger()
                level = root.level
                root.setLevel(logging.ERROR)  # the quantiser logs a generic pre-processing hint on the root logger
                try:
                    quantize_dynamic(str(fp32), str(quantised), weight_type=QuantType.QInt8, per_channel=True)
                finally:
                    root.setLevel(level)
                if graphs_agree(fp32, quantised):
                    fp32 = quantised
                else:  # kept at full precision, under the int8 name, so the check runs once per cache
                    log.warning("encoder %s: the int8 graph does not agree with the fp32 one on this CPU (dynamic "
                                "int8 saturates on CPUs without VNNI for some models); using fp32", key)
        except Exception as e:  # the exporter's own errors are many and deep; name the model
            raise OnnxExportError(f"could not export encoder {key} to ONNX ({precision}): {e}") from e
        os.replace(fp32, target)
    log.info("exported encoder %s to %s", key, target)
    return target


def graphs_agree(fp32: Path, int8: Path, min_cosine: float = 0.95) -> bool:
    """Whether the quantised graph gives the full-precision graph's mean-pooled vectors (cosine) on a
    fixed probe of token ids. On CPUs without VNNI, ONNX Runtime's u8s8 kernels can saturate: for
    all-mpnet-base-v2 the int8 vectors were unrelated to the fp32 ones there (cosine 0.04), while
    MiniLM's agreed (0.99)."""
    import onnx
    import onnxruntime as ort

    graph = onnx.load(str(fp32), load_external_data=False).graph
    vocab = next((int(t.dims[0]) for t in graph.initializer if "word_embeddings" in t.name and len(t.dims) == 2), 0)
    if vocab < 8:
        return True  # not a graph this check knows how to feed: kept as before
    ids = np.array([[*range(2000, 2032)], [*range(7000, 7014), *[0] * 18]], dtype=np.int64) % vocab
    mask = (np.arange(ids.shape[1])[None, :] < np.array([[32], [14]])).astype(np.int64)
    vectors = []
    for path in (fp32, int8):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        for row in range(len(ids)):  # one sentence a run, as the int8 encoder runs
            hidden = session.run(None, {"input_ids": ids[row:row + 1], "attention_mask": mask[row:row + 1]})[0]
            vectors.append(mean_pool(hidden, mask[row:row + 1])[0])
    a, b = np.array(vectors[:len(ids)]), np.array(vectors[len(ids):])
    cosine = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    return bool(cosine.min() >= min_cosine)


class OnnxEncoder:
    """``hidden(input_ids, attention_mask)`` -> last hidden states as a numpy array.

    Dynamic int8 quantises each run's activations with one scale for the whole input tensor,
    so a sentence's vector would depend on the other sentences (and padding) in its batch: a
    call's scores would change with the batch size or the worker count. An int8 encoder
    therefore takes one sentence per run (``batch_size`` says so); it is still the fastest."""

    def __init__(self, path: Path, precision: str, threads: int = 0):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or thread_budget()
        options.inter_op_num_threads = 1
        # Idle ONNX Runtime threads otherwise spin after each run and steal the cores from the
        # next stage (Whisper, torch), which here cost those stages several times their time.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.path = path
        self.precision = precision

    def batch_size(self, requested: int) -> int:
        return 1 if self.precision == "int8" else requested

    def hidden(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"input_ids": input_ids.astype(np.int64),
                                       "attention_mask": attention_mask.astype(np.int64)})[0]

    def pooled(self, tokenizer, texts: list[str], max_length: int, batch_size: int = 64) -> np.ndarray:
        """Mean-pooled last hidden states, (len(texts), hidden), in the order given."""
        order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths together: less padding
        out: np.ndarray | None = None
        size = self.batch_size(batch_size)
        for i in range(0, len(texts), size):
            idx = order[i:i + size]
            enc = tokenizer([texts[j] for j in idx], padding=True, truncation=True, max_length=max_length,
                            return_tensors="np")
            vectors = mean_pool(self.hidden(enc["input_ids"], enc["attention_mask"]), enc["attention_mask"])
            if out is None:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[idx] = vectors
        assert out is not None, "pooled() needs at least one text"
        return out


def mean_pool(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    mask = attention_mask[..., None].astype(hidden.dtype)
    return (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)

