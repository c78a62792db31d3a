"""Tiny random-weight models of the production architectures, built locally for tests.

They exercise the exact loading code a production model takes (a CTranslate2 Whisper
directory, say) without any download: the architecture is real, the weights are noise.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from wocas.models.libraries import prepare_model_libraries
from wocas.models.registry import resolve


def build_tiny_whisper_ct2(target: Path, seed: int = 0) -> Path:
    """A 2-layer, 64-wide English Whisper with random weights, converted to CTranslate2 int8.

    The tokenizer is the real tiny.en one (from the embedded model), so the vocabulary and
    special tokens match a real English Whisper.
    """
    import ctranslate2
    import torch
    prepare_model_libraries()
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


def build_tiny_pyannote_pipeline(target: Path, seed: int = 0) -> Path:
    """A pyannote.audio 4 speaker-diarization checkpoint with random weights, laid out like the
    published one (pyannote/speaker-diarization-community-1): ``config.yaml`` naming
    ``$model/segmentation`` (PyanNet, powerset over 3 speakers, 2 at a time, 10 s chunks),
    ``$model/embedding`` (WeSpeakerResNet34, the production class; only its filterbank is
    narrowed to 16 mel bins) and ``$model/plda`` (VBx's LDA and PLDA transforms).

    The PyanNet here has one 16-wide LSTM layer and the ResNet reads 16 mel bins instead of 80,
    so the models build and run in seconds; the classes, checkpoint format and files are the
    production ones. Returns the directory to give ``diarization.pyannote_path``.
    """
    import lightning
    import numpy as np
    import torch

    from wocas.diarizers.pyannote import import_pyannote

    pyannote_audio = import_pyannote()
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.embedding import WeSpeakerResNet34
    from pyannote.audio.models.segmentation import PyanNet

    def save(model, folder: Path) -> None:
        # what Lightning's Trainer.save_checkpoint writes and Model.from_pretrained reads back
        checkpoint = {"pytorch-lightning_version": lightning.__version__, "state_dict": model.state_dict(),
                      "hyper_parameters": dict(model.hparams)}
        model.on_save_checkpoint(checkpoint)  # adds pyannote.audio's versions/architecture/specifications
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(checkpoint, folder / "pytorch_model.bin")

    torch.manual_seed(seed)
    segmentation = PyanNet(lstm={"hidden_size": 16, "num_layers": 1}, linear={"hidden_size": 16, "num_layers": 1})
    segmentation.specifications = Specifications(
        problem=Problem.MONO_LABEL_CLASSIFICATION, resolution=Resolution.FRAME, duration=10.0,
        classes=["speaker#1", "speaker#2", "speaker#3"], powerset_max_classes=2, permutation_invariant=True)
    segmentation.setup()  # adds the powerset classifier and activation, as after training
    save(segmentation.eval(), target / "segmentation")

    embedding = WeSpeakerResNet34(num_mel_bins=16)
    embedding.specifications = Specifications(problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK,
                                              duration=5.0)
    save(embedding.eval(), target / "embedding")

    rng = np.random.default_rng(seed)
    dim, lda_dim = embedding.dimension, 16
    (target / "plda").mkdir(parents=True, exist_ok=True)
    np.savez(target / "plda" / "xvec_transform.npz", mean1=rng.normal(size=dim) * 0.1,
             mean2=rng.normal(size=lda_dim) * 0.1, lda=rng.normal(size=(dim, lda_dim)))
    np.savez(target / "plda" / "plda.npz", mu=rng.normal(size=lda_dim) * 0.1,
             tr=np.eye(lda_dim) + 0.1 * rng.normal(size=(lda_dim, lda_dim)),
             psi=np.sort(rng.uniform(0.5, 5.0, size=lda_dim))[::-1])

    (target / "config.yaml").write_text(f"""\
dependencies:
  pyannote.audio: {pyannote_audio.__version__}
pipeline:
  name: pyannote.audio.pipelines.SpeakerDiarization
  params:
    clustering: VBxClustering
    segmentation: $model/segmentation
    segmentation_batch_size: 32
    embedding: $model/embedding
    embedding_batch_size: 32
    embedding_exclude_overlap: true
    plda: $model/plda
params:
  clustering:
    threshold: 0.6
    Fa: 0.07
    Fb: 0.8
  segmentation:
    min_duration_off: 0.0
""")
    return target


def build_tiny_sentence_model(folder: Path, pooling: str = "pooling_mode_mean_tokens",
                              architecture: str = "bert") -> Path:
    """A random-weight 2-layer BERT (MiniLM's architecture) or MPNet (all-mpnet-base-v2's) in
    sentence-transformers layout, with MiniLM's vocabulary."""
    prepare_model_libraries()
    from transformers import BertConfig, BertModel, MPNetConfig, MPNetModel

    packaged = resolve("minilm").path
    folder.mkdir(parents=True)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                 "modules.json", "sentence_bert_config.json"):
        shutil.copy(packaged / name, folder / name)
    sizes = dict(vocab_size=30527, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    if architecture == "mpnet":
        MPNetModel(MPNetConfig(**sizes, max_position_embeddings=514)).save_pretrained(folder)
    else:
        BertModel(BertConfig(**sizes, max_position_embeddings=512)).save_pretrained(folder)
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 32, **{m: m == pooling for m in (
            "pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens")}}))
    return folder
