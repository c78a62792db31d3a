"""Production models are loaded by path through the same code the embedded ones take;
here the production architectures are tiny random-weight models built in the test."""

from __future__ import annotations

import pytest

from wocas.config import Config
from wocas.io.ingest import iter_calls
from wocas.pipeline import Pipeline
from wocas.models.registry import ModelNotFound, resolve
from wocas.testing.tiny_models import build_tiny_whisper_ct2


def test_ctranslate2_whisper_directory_runs_through_the_pipeline(tmp_path, data_dir):
    model_dir = build_tiny_whisper_ct2(tmp_path)
    config = Config.model_validate({"asr": {"model": str(model_dir), "beam_size": 1},
                                    **{k: {"enabled": False} for k in ("emotion", "jobs", "signals", "redact")}})
    pipeline = Pipeline.from_config(config)
    assert pipeline.stage_versions["transcribe"].startswith(str(model_dir))
    calls = pipeline.process(list(iter_calls([str(data_dir / "asr/ljspeech_coqui/LJ001-0002.flac")])))
    assert calls[0].ok, calls[0].error  # random weights: the words are noise, the plumbing is real
    assert all(w.start <= w.end for w in calls[0].turn_words())


def test_unknown_model_name_lists_the_valid_ones():
    with pytest.raises(ModelNotFound, match="tiny.en"):
        resolve("large-v9")
    assert resolve("tiny.en").path.joinpath("model.bin").exists()
