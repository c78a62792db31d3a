"""Tiny random-weight models of the production architectures, built locally for tests.

They exercise the exact loading code a production model takes (a CTranslate2 Whisper
directory, say) without any download: the architecture is real, the weights are noise.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.registry import resolve


def build_tiny_whisper_ct2(target: Path, seed: int = 0) -> Path:
    """A 2-layer, 64-wide English Whisper with random weights, converted to CTranslate2 int8.

    The tokenizer is the real tiny.en one (from the embedded model), so the vocabulary and
    special tokens match a real English Whisper.
    """
    import ctranslate2
    import torch
    from transformers import (GenerationConfig, WhisperConfig, WhisperFeatureExtractor,
                              WhisperForConditionalGeneration, WhisperTokenizerFast)

    embedded = resolve("tiny.en").path
    tokenizer = WhisperTokenizerFast(tokenizer_file=str(embedded / "tokenizer.json"))
    eot, sot, no_timestamps = 50256, 50257, 50362  # tiny.en's special token ids
    config = WhisperConfig(vocab_size=51864, d_model=64, encoder_layers=2, decoder_layers=2,
                           encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=128,
                           decoder_ffn_dim=128, num_mel_bins=80, decoder_start_token_id=sot,
                           eos_token_id=eot, pad_token_id=eot, bos_token_id=eot)
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=sot, eos_token_id=eot, pad_token_id=eot, alignment_heads=[[1, 0], [1, 1]],
        suppress_tokens=[], begin_suppress_tokens=[220, eot], no_timestamps_token_id=no_timestamps,
        is_multilingual=False, max_length=64)
    hf_dir = target / "hf"
    model.save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(hf_dir)
    out = target / "ct2"
    ctranslate2.converters.TransformersConverter(
        str(hf_dir), copy_files=["tokenizer.json", "preprocessor_config.json"]).convert(str(out), quantization="int8")
    assert json.loads((out / "config.json").read_text())["alignment_heads"]
    return out
