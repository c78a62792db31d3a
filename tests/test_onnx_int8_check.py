"""The int8 encoder is used only where it agrees with the fp32 one (tiny random-weight BERTs built here)."""

from __future__ import annotations

import numpy as np


def _tiny_bert(seed: int):
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    return BertModel(BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                intermediate_size=64))


def test_a_graph_agrees_with_itself_and_not_with_another_model(tmp_path, monkeypatch):
    from wocas.models.onnx_encoder import export_encoder, graphs_agree

    monkeypatch.setenv("WOCAS_CACHE", str(tmp_path))
    one = export_encoder(lambda: _tiny_bert(0), "tiny-0", "fp32")
    other = export_encoder(lambda: _tiny_bert(1), "tiny-1", "fp32")
    assert graphs_agree(one, one)
    assert not graphs_agree(one, other)


def test_the_int8_export_of_a_model_that_quantises_well_is_int8(tmp_path, monkeypatch):
    from wocas.models.onnx_encoder import OnnxEncoder, export_encoder

    monkeypatch.setenv("WOCAS_CACHE", str(tmp_path))
    fp32 = export_encoder(lambda: _tiny_bert(0), "tiny", "fp32")
    int8 = export_encoder(lambda: _tiny_bert(0), "tiny", "int8")
    assert int8.stat().st_size < fp32.stat().st_size  # quantised: the check kept it
    ids = np.array([[5, 9, 17, 33, 2]])
    a = OnnxEncoder(fp32, "fp32").hidden(ids, np.ones_like(ids)).mean(1)
    b = OnnxEncoder(int8, "int8").hidden(ids, np.ones_like(ids)).mean(1)
    assert float((a * b).sum() / np.linalg.norm(a) / np.linalg.norm(b)) > 0.95
