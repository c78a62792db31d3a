"""The shared sentence encoder's backends: the ONNX ones against sentence-transformers itself,
the export cache, and a tiny random-weight model loaded by path through the same code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from wocas.models import text_encoder
from wocas.testing.tiny_models import build_tiny_sentence_model as tiny_sentence_model
from wocas.models.text_encoder import TextEncoder, TextEncoderError, load_encoder

SENTENCES = [
    "I was charged twice for the same card payment and I want my money back.",
    "hi",
    "My new card still hasn't arrived and it's been three weeks, this is the second time I'm calling.",
    "Can you tell me the exchange rate for euros today?",
    "uh yeah so I I need to cancel my account",
]


def test_onnx_float_matches_sentence_transformers() -> None:
    reference = load_encoder("minilm", "torch").encode(SENTENCES, 8)
    onnx = load_encoder("minilm", "onnx").encode(SENTENCES, 8)
    assert onnx.shape == reference.shape == (len(SENTENCES), 384)
    np.testing.assert_allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(onnx * reference, axis=1)) > 0.9999


def test_int8_stays_close_to_float_and_keeps_neighbours() -> None:
    reference = load_encoder("minilm", "torch").encode(SENTENCES, 8)
    int8 = load_encoder("minilm", "onnx-int8").encode(SENTENCES, 8)
    assert np.min(np.sum(int8 * reference, axis=1)) > 0.97
    # the nearest other sentence of each sentence is the same under both encoders
    sims = lambda e: e @ e.T - 2 * np.eye(len(e))  # noqa: E731
    assert (sims(int8).argmax(axis=1) == sims(reference).argmax(axis=1)).all()


def test_int8_vector_does_not_depend_on_its_batch() -> None:
    encoder = load_encoder("minilm", "onnx-int8")
    alone = np.stack([encoder.encode([s], 64)[0] for s in SENTENCES])
    together = encoder.encode(SENTENCES, 64)
    reversed_batch = encoder.encode(SENTENCES[::-1], 2)[::-1]
    np.testing.assert_allclose(together, alone, atol=1e-6)
    np.testing.assert_allclose(reversed_batch, alone, atol=1e-6)


def test_each_encoder_object_runs_its_own_backend_and_rejects_unknown_ones() -> None:
    from wocas.config import TextEncoderConfig

    torch_vec = TextEncoder("minilm", "torch").encode(SENTENCES[:1])
    onnx = TextEncoder.from_config(TextEncoderConfig(backend="onnx"))
    assert (onnx.model, onnx.backend, onnx.device) == ("minilm", "onnx", "cpu")
    assert float(onnx.encode(SENTENCES[:1])[0] @ torch_vec[0]) > 0.9999
    with pytest.raises(TextEncoderError, match="unknown text encoder backend 'tensorrt'"):
        TextEncoder("minilm", "tensorrt")
    assert TextEncoder().encode([]).shape == (0, 384)


def test_the_embedding_cache_is_the_encoders_own_and_bounded() -> None:
    texts = ["my card is lost", "where is my parcel", "I want a refund", "cancel my account", "my card is lost"]
    small = TextEncoder(cache_size=3)
    vectors = small.encode(texts)
    assert vectors.shape == (5, 384) and len(small._cache) == 3
    np.testing.assert_allclose(vectors[0], vectors[4])
    np.testing.assert_allclose(small.encode(texts[2:3])[0], vectors[2])
    other = TextEncoder()
    assert len(other._cache) == 0  # nothing shared between encoder objects but the loaded weights
    np.testing.assert_allclose(other.encode(texts[:1])[0], vectors[0], atol=1e-6)
    assert small.encode(texts[:2], cache=False).shape == (2, 384) and len(small._cache) == 3


def test_clear_cache_makes_the_next_encode_cold_with_the_same_vectors() -> None:
    encoder = TextEncoder()
    first = encoder.encode(["my card is lost", "I want a refund"])
    encoder.clear_cache()
    assert len(encoder._cache) == 0
    np.testing.assert_array_equal(encoder.encode(["my card is lost", "I want a refund"]), first)
    assert len(encoder._cache) == 2


def test_a_variant_is_the_same_encoder_unless_model_or_adapter_differ(tmp_path: Path) -> None:
    shared = TextEncoder("minilm", "onnx")
    assert shared.variant() is shared and shared.variant("minilm") is shared
    other = shared.variant("mpnet")
    assert (other.model, other.backend, other.device) == ("mpnet", "onnx", "cpu")
    tuned = shared.variant(adapter=str(tmp_path / "adapter.safetensors"))
    assert tuned is not shared and tuned.identity() == "minilm:onnx:adapter.safetensors"


def test_model_by_path_exports_once_into_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WOCAS_CACHE", str(tmp_path / "cache"))
    folder = tiny_sentence_model(tmp_path / "tiny")
    torch_vecs = text_encoder.TorchSentenceEncoder(folder).encode(SENTENCES, 4)
    first = text_encoder.OnnxSentenceEncoder(folder, "fp32")
    exported = sorted((tmp_path / "cache" / "onnx").glob("*.onnx"))
    assert [p.name.endswith("-fp32.onnx") for p in exported] == [True]
    stamp = exported[0].stat().st_mtime_ns
    vecs = first.encode(SENTENCES, 4)
    assert vecs.shape == (len(SENTENCES), 32)
    assert np.min(np.sum(vecs * torch_vecs, axis=1)) > 0.9999
    text_encoder.OnnxSentenceEncoder(folder, "fp32").encode(SENTENCES[:1], 4)
    assert exported[0].stat().st_mtime_ns == stamp  # loaded from the cache, not exported again
    int8 = text_encoder.OnnxSentenceEncoder(folder, "int8").encode(SENTENCES, 4)
    assert int8.shape == vecs.shape and np.isfinite(int8).all()


def test_other_pooling_is_refused_with_the_model_named(tmp_path: Path) -> None:
    folder = tiny_sentence_model(tmp_path / "cls-model", pooling="pooling_mode_cls_token")
    with pytest.raises(TextEncoderError, match=r"cls-model pools by \['pooling_mode_cls_token'\].*backend = \"torch\""):
        text_encoder.OnnxSentenceEncoder(folder, "int8")


def test_a_gpu_encoder_must_be_the_torch_backend(tmp_path: Path) -> None:
    from wocas.config import ConfigError, load_config

    path = tmp_path / "gpu.toml"
    path.write_text('[text_encoder]\ndevice = "cuda"\n')
    with pytest.raises(ConfigError, match='device = "cuda" needs backend = "torch"'):
        load_config(path)
    path.write_text('[text_encoder]\ndevice = "cuda"\nbackend = "torch"\n')
    assert load_config(path).text_encoder.backend == "torch"
    with pytest.raises(TextEncoderError, match="device 'cuda' needs backend 'torch'"):
        TextEncoder("minilm", "onnx-int8", "cuda")


def test_an_unwritable_cache_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wocas.models.onnx_encoder import OnnxExportError

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("WOCAS_CACHE", str(blocker))
    folder = tiny_sentence_model(tmp_path / "tiny")
    with pytest.raises(OnnxExportError, match=r"cannot write the ONNX cache .*not-a-folder/onnx.*WOCAS_CACHE"):
        text_encoder.OnnxSentenceEncoder(folder, "int8")
