"""The speaker encoder: resemblyzer's GE2E d-vector network, run by ONNX Runtime.

resemblyzer's ``VoiceEncoder`` (a 3-layer LSTM over 40 mel bands, a linear layer, ReLU, L2
norm) needs torch, whose import costs about 2 s of a cold start. The network is exported
once from the weights the package ships (pinned in ``models/registry.toml``) into the ONNX
cache (``$WOCAS_CACHE/onnx``, keyed by the weights' digest), so later processes load the
graph and never import torch or resemblyzer. tests/test_speaker_encoder.py holds the export
to resemblyzer's own output.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

from wocas.models.onnx_encoder import OnnxExportError, cache_dir
from wocas.models.registry import pinned_package_file, pinned_sha256  # noqa: F401 - pinned_package_file is used by the tests too

log = logging.getLogger(__name__)

ENCODER_MODEL = "resemblyzer"
WEIGHTS_FILE = "pretrained.pt"
MEL_CHANNELS = 40  # resemblyzer.hparams.mel_n_channels
EMBEDDING_SIZE = 256  # resemblyzer.hparams.model_embedding_size
EXPORT_VERSION = "1"  # bump when the exported graph changes


def export_path() -> Path:
    """The cached ONNX graph of the pinned weights, exported now (with torch) if missing."""
    weights = pinned_package_file(ENCODER_MODEL, WEIGHTS_FILE)
    folder = cache_dir()
    target = folder / f"resemblyzer-{pinned_sha256(ENCODER_MODEL, WEIGHTS_FILE)[:16]}-v{EXPORT_VERSION}.onnx"
    if target.exists():
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            graph = Path(tmp) / "encoder.onnx"
            export_voice_encoder(weights, graph)
            os.replace(graph, target)  # renamed into place: a worker never reads a half-written file
    except OSError as e:
        raise OnnxExportError(f"cannot write the ONNX cache {folder} ({e.strerror or e}): point WOCAS_CACHE at a "
                              "writable folder") from e
    log.info("exported the speaker encoder to %s", target)
    return target


def export_voice_encoder(weights: Path, target: Path) -> None:
    """Trace resemblyzer's VoiceEncoder with ``weights`` into an ONNX graph: mels (batch,
    frames, 40) -> d-vectors (batch, 256), both axes dynamic."""
    import torch
    from resemblyzer import VoiceEncoder

    encoder = VoiceEncoder(device="cpu", verbose=False, weights_fpath=weights).eval()
    mels = torch.rand(2, 160, MEL_CHANNELS)
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # the exporter warns that an LSTM's batch size is dynamic
            torch.onnx.export(encoder, (mels,), str(target), input_names=["mels"], output_names=["embeddings"],
                              dynamic_axes={"mels": {0: "batch", 1: "frames"}, "embeddings": {0: "batch"}},
                              opset_version=17, dynamo=False)
    except Exception as e:  # the exporter's own errors are many and deep; name the model
        raise OnnxExportError(f"could not export the speaker encoder {weights} to ONNX: {e}") from e


class SpeakerEncoder:
    """``embed(mels)``: (batch, frames, 40) linear mel spectrograms -> (batch, 256) d-vectors."""

    def __init__(self, path: Path):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # a small LSTM batch: extra threads only fight the other stages
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def embed(self, mels: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"mels": np.ascontiguousarray(mels, dtype=np.float32)})[0]


@lru_cache(maxsize=1)
def load_encoder() -> SpeakerEncoder:
    return SpeakerEncoder(export_path())
