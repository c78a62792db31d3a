"""Fine-tuning the shared encoder with a LoRA adapter (`wocas train intents --finetune`):
the adapter is trained on real banking77 queries, saved small, merged at load time on every
backend, and used by the head in place of the shared encoder's embeddings."""

from __future__ import annotations

import csv
import json
from collections import defaultdict

import numpy as np
import pytest

from wocas.models.text_encoder import TextEncoder, TextEncoderError, load_encoder
from wocas.reasons.classify import HeadClassifier

KEEP = ("card_arrival", "exchange_rate", "terminate_account", "request_refund", "top_up_failed", "pin_blocked")


@pytest.fixture(scope="module")
def finetuned(tmp_path_factory, data_dir):
    """A head fine-tuned for two epochs on 30 queries of each of six banking77 intents."""
    from wocas.cli import main

    rows = list(csv.DictReader((data_dir / "text/banking77/train.csv").open()))
    per: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if r["category"] in KEEP and len(per[r["category"]]) < 40:
            per[r["category"]].append(r["text"])
    folder = tmp_path_factory.mktemp("finetune")
    data = folder / "train.csv"
    with data.open("w", newline="") as f:
        csv.writer(f).writerows([("text", "label"), *((t, k) for k in KEEP for t in per[k][:30])])
    held = [(t, k) for k in KEEP for t in per[k][30:]]
    assert main(["train", "intents", "--data", str(data), "--out", str(folder / "head"), "--C", "10",
                 "--finetune", "--epochs", "2", "--rank", "4", "--dev-share", "0.2"]) == 0
    return folder / "head", held


def test_finetuned_head_ships_a_small_adapter_and_classifies_held_out_queries(finetuned) -> None:
    folder, held = finetuned
    adapter = folder / "adapter.safetensors"
    assert adapter.exists() and adapter.stat().st_size < 1_000_000
    meta = json.loads((folder / "head.json").read_text())
    tuned = meta["finetune"]
    assert tuned["rank"] == 4 and tuned["n_held_out"] == 36 and tuned["n_texts"] == 144
    assert [h["epoch"] for h in tuned["history"]] == [1, 2] and all("dev_accuracy" in h for h in tuned["history"])
    assert "held out of fine-tuning" in (folder / "README.md").read_text()

    head = HeadClassifier(folder, TextEncoder())
    assert head.adapter == str(adapter)
    texts = [t for t, _ in held]
    preds = head.predict(texts, TextEncoder().encode(texts))
    assert np.mean([p.reason == k for p, (_, k) in zip(preds, held)]) >= 0.8


def test_the_adapter_changes_the_encoder_the_same_way_on_every_backend(finetuned) -> None:
    folder, held = finetuned
    adapter = str(folder / "adapter.safetensors")
    texts = [t for t, _ in held[:12]]
    base = load_encoder("minilm", "torch").encode(texts)
    tuned_torch = load_encoder("minilm", "torch", "cpu", adapter).encode(texts)
    tuned_int8 = load_encoder("minilm", "onnx-int8", "cpu", adapter).encode(texts)
    assert np.mean(np.sum(base * tuned_torch, axis=1)) < 0.998  # the adapter moved the vectors (1.0 without)
    assert np.min(np.sum(tuned_int8 * tuned_torch, axis=1)) > 0.97  # and int8 follows torch


def test_a_bad_adapter_is_named(tmp_path) -> None:
    from safetensors.torch import save_file
    import torch

    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(TextEncoderError, match="junk.safetensors"):
        load_encoder("minilm", "onnx-int8", "cpu", str(junk))
    foreign = tmp_path / "foreign.safetensors"
    save_file({"decoder.layer.0.q_proj.lora_A": torch.zeros(4, 384),
               "decoder.layer.0.q_proj.lora_B": torch.zeros(384, 4)}, str(foreign), metadata={"lora_scale": "2.0"})
    with pytest.raises(TextEncoderError, match="foreign.safetensors does not fit"):
        load_encoder("minilm", "torch", "cpu", str(foreign))


def test_a_fine_tuned_complaint_head_in_the_signals_stage(tmp_path) -> None:
    from test_signals import COMPLAINT_THEN_QUESTION, _labelled_turns, make_call

    from wocas.config import SignalsConfig
    from wocas.stages.signals import SignalsStage
    from wocas.cli import main

    texts, labels = _labelled_turns()
    data = tmp_path / "turns.csv"
    with data.open("w", newline="") as f:
        csv.writer(f).writerows([("text", "label"), *zip(texts, labels)])
    assert main(["train", "intents", "--data", str(data), "--out", str(tmp_path / "complaints"), "--C", "10",
                 "--finetune", "--epochs", "2", "--rank", "4"]) == 0
    stage = SignalsStage(SignalsConfig(complaint_head=str(tmp_path / "complaints")))
    assert stage.complaints.head.adapter is not None
    [out] = stage.process_batch([make_call(COMPLAINT_THEN_QUESTION)])
    assert [s.turn_index for s in out.signals if s.kind == "complaint"] == [1]


def test_finetune_without_held_out_texts_needs_a_mix(tmp_path, capsys) -> None:
    from wocas.cli import main

    data = tmp_path / "train.csv"
    with data.open("w", newline="") as f:
        csv.writer(f).writerows([("text", "label"), ("where is my parcel", "delivery"),
                                 ("my order is late", "delivery"), ("refund me please", "refund"),
                                 ("I want my money back", "refund")])
    assert main(["train", "intents", "--data", str(data), "--out", str(tmp_path / "h"), "--finetune",
                 "--epochs", "1", "--dev-share", "0"]) == 2
    assert "--dev-share 0, give --mix" in capsys.readouterr().err


def test_finetune_refuses_one_label_and_a_missing_gpu(tmp_path, capsys) -> None:
    import torch

    from wocas.cli import main

    data = tmp_path / "train.csv"
    with data.open("w", newline="") as f:
        csv.writer(f).writerows([("text", "label"), ("where is my parcel", "delivery"),
                                 ("my order is late", "delivery"), ("the courier never came", "delivery")])
    assert main(["train", "intents", "--data", str(data), "--out", str(tmp_path / "h"), "--finetune",
                 "--no-lexical"]) == 2
    assert "train.csv: fine-tuning needs at least two labels" in capsys.readouterr().err
    if not torch.cuda.is_available():
        with data.open("a", newline="") as f:
            csv.writer(f).writerows([("refund me please", "refund"), ("I want my money back", "refund")])
        assert main(["train", "intents", "--data", str(data), "--out", str(tmp_path / "h"), "--finetune",
                     "--no-lexical", "--device", "cuda"]) == 2
        assert "sees no CUDA GPU" in capsys.readouterr().err


def test_finetuning_a_heads_own_mpnet_encoder(tmp_path, data_dir) -> None:
    """``--finetune --encoder`` adapts the head's own encoder: here a tiny random-weight MPNet
    (all-mpnet-base-v2's architecture), whose attention layers have other names than BERT's."""
    from safetensors import safe_open

    from wocas.cli import main
    from wocas.testing.tiny_models import build_tiny_sentence_model

    encoder = build_tiny_sentence_model(tmp_path / "tiny-mpnet", architecture="mpnet")
    rows = list(csv.DictReader((data_dir / "text/banking77/train.csv").open()))
    data = tmp_path / "train.csv"
    with data.open("w", newline="") as f:
        csv.writer(f).writerows([("text", "label"), *((r["text"], k) for k in KEEP[:3]
                                                      for r in [r for r in rows if r["category"] == k][:20])])
    assert main(["train", "intents", "--data", str(data), "--out", str(tmp_path / "head"), "--encoder", str(encoder),
                 "--finetune", "--epochs", "1", "--rank", "2", "--no-lexical"]) == 0
    adapter = tmp_path / "head" / "adapter.safetensors"
    with safe_open(str(adapter), framework="pt") as f:
        wrapped = {k.rsplit(".", 2)[-2] for k in f.keys() if k.endswith(".lora_A")}
    assert {"q", "k", "v", "o", "dense"} <= wrapped  # attention (attn.q/k/v/o) and feed-forward layers
    head = HeadClassifier(tmp_path / "head", TextEncoder())
    assert head.encoder.model == str(encoder) and head.encoder.adapter == head.adapter == str(adapter) and head.coef.shape == (3, 32)
    texts = [r["text"] for r in rows[:6]]
    tuned_torch = load_encoder(str(encoder), "torch", "cpu", str(adapter)).encode(texts)
    tuned_onnx = load_encoder(str(encoder), "onnx", "cpu", str(adapter)).encode(texts)
    plain = load_encoder(str(encoder), "torch").encode(texts)
    assert np.min(np.sum(tuned_onnx * tuned_torch, axis=1)) > 0.9999  # merged the same way on both backends
    assert np.abs(plain - tuned_torch).max() > 1e-4  # and the adapter moved them (one short epoch: a little)
    np.testing.assert_allclose(head.probabilities(texts), head.probabilities(texts, TextEncoder().encode(texts)), atol=1e-6)
