"""The pyannote.audio diarization backend on a tiny random-weight pipeline of the production
architecture (PyanNet segmentation, WeSpeaker ResNet34 embedding, VBx with PLDA, laid out like
pyannote/speaker-diarization-community-1), built in a temp dir and loaded from that local
directory through ``DiarizationConfig`` -> diarize stage -> ``PyannoteDiarizer``, the path a
real checkpoint takes. Random weights: the speakers found mean nothing, so the tests check
the plumbing (times, labels, store rows, bounds, errors, no network), never accuracy.

Needs the optional 'pyannote' extra; without it the tests that run a pipeline are skipped and
the checkpoint checks still run.
"""

from __future__ import annotations

import re
import shutil
import socket

import numpy as np
import pytest
import soundfile as sf

from wocas.config import Config, DiarizationConfig
from wocas.diarizers.pyannote import import_pyannote
from wocas.stages.diarize import DiarizeStage, load_diarizer

SAMPLE = "diarization/pyannote_sample/sample.wav"  # 30 s, 16 kHz mono, two-party phone call
CLIP_SECONDS = 12  # two of the segmentation model's 10 s windows: enough plumbing, seconds to run
LABEL = re.compile(r"SPEAKER_\d{2}")

pytestmark = [  # random weights leave some local speakers silent, which pyannote reports
    pytest.mark.filterwarnings("ignore:std\\(\\). degrees of freedom"),
    pytest.mark.filterwarnings("ignore:Mean of empty slice"),
    pytest.mark.filterwarnings("ignore:invalid value encountered"),
    pytest.mark.filterwarnings("ignore:\\s*The detected number of speakers"),
]


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory):
    try:
        import_pyannote()
    except ImportError as e:
        pytest.skip(f"pyannote.audio not importable (the optional 'pyannote' extra): {e}")
    import torch

    from wocas.testing.tiny_models import build_tiny_pyannote_pipeline

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the test machines share two cores
    yield build_tiny_pyannote_pipeline(tmp_path_factory.mktemp("pyannote"))
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def clip(data_dir, tmp_path_factory):
    samples, sr = sf.read(data_dir / SAMPLE, dtype="float32")
    samples = samples[: CLIP_SECONDS * sr]
    path = tmp_path_factory.mktemp("audio") / "sample_12s.wav"
    sf.write(path, samples, sr)
    return path, samples, sr


@pytest.fixture
def no_network(monkeypatch):
    def refuse(self, address, *args):
        raise AssertionError(f"network access attempted: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


def write_config(root, params: dict) -> None:
    lines = ["pipeline:", "  name: pyannote.audio.pipelines.SpeakerDiarization", "  params:"]
    lines += [f"    {k}: {v}" for k, v in params.items()]
    (root / "config.yaml").write_text("\n".join(lines) + "\n")


def test_tiny_pipeline_diarizes_a_real_call_through_the_engine(tiny_pipeline, clip, tmp_path, no_network):
    from wocas.io.ingest import iter_calls
    from wocas.pipeline import Pipeline
    from wocas.store import Store

    path, _, _ = clip
    config = Config.model_validate({
        "diarization": {"backend": "pyannote", "pyannote_path": str(tiny_pipeline)},
        **{k: {"enabled": False} for k in ("emotion", "jobs", "signals", "redact")}})
    pipeline = Pipeline.from_config(config)
    assert pipeline.stage_versions["diarize"].startswith("pyannote:")
    call = pipeline.process(list(iter_calls([str(path)])))[0]
    assert call.ok, call.error

    segments = call.speaker_segments
    assert segments, "a pipeline run over speech gives at least one segment"
    assert list(segments) == sorted(segments, key=lambda s: (s.start, s.end))
    for s in segments:
        assert 0.0 <= s.start < s.end <= CLIP_SECONDS, s
        assert LABEL.fullmatch(s.speaker), s.speaker
    speakers = {s.speaker for s in segments}
    assert call.turn_words(), "the real tiny.en transcribes the clip"
    assert {w.speaker for w in call.turn_words()} <= speakers
    assert {t.speaker for t in call.turns} <= speakers
    assert set(call.roles) <= speakers

    with Store(tmp_path / "wocas.duckdb") as store:
        store.write([call], "run-1", "test")
        rows = store.query("SELECT speaker, role FROM turns WHERE call_id = ? ORDER BY idx", [call.call_id])
        loaded = store.load(call.call_id)
    assert [(r["speaker"], r["role"]) for r in rows] == [(t.speaker, t.role) for t in call.turns]
    assert loaded.speaker_segments == call.speaker_segments


def test_speaker_bounds_and_an_eight_khz_waveform(tiny_pipeline, clip, no_network):
    import soxr

    _, samples, sr = clip
    diarizer = load_diarizer(DiarizationConfig(backend="pyannote", pyannote_path=str(tiny_pipeline),
                                               num_speakers=0, min_speakers=1, max_speakers=2))
    assert (diarizer.num_speakers, diarizer.min_speakers, diarizer.max_speakers) == (None, 1, 2)
    telephone = soxr.resample(samples, sr, 8000).astype(np.float32)  # pyannote resamples it to 16 kHz
    segments = diarizer(telephone, 8000)
    assert 1 <= len({s.speaker for s in segments}) <= 2
    assert all(0.0 <= s.start < s.end <= CLIP_SECONDS for s in segments)
    with pytest.raises(ValueError, match="mono"):
        diarizer(np.stack([telephone, telephone]), 8000)


def test_damaged_checkpoint_error_names_the_directory(tiny_pipeline, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_pipeline, damaged)
    (damaged / "segmentation" / "pytorch_model.bin").write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match=re.escape(str(damaged))):
        load_diarizer(DiarizationConfig(backend="pyannote", pyannote_path=str(damaged)))


# checkpoint checks: these run before pyannote is imported, so they hold without the extra too

def test_missing_checkpoint_error_names_the_path(tmp_path):
    missing = tmp_path / "no-such-pipeline"
    stage = DiarizeStage(DiarizationConfig(backend="pyannote", pyannote_path=str(missing)))
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        stage.diarizer
    with pytest.raises(ValueError, match="needs diarization.pyannote_path"):
        load_diarizer(DiarizationConfig(backend="pyannote"))


def test_config_naming_a_missing_model_folder_is_refused(tmp_path):
    (tmp_path / "segmentation").mkdir()
    (tmp_path / "segmentation" / "pytorch_model.bin").write_bytes(b"x")
    write_config(tmp_path, {"segmentation": "$model/segmentation", "embedding": "$model/embedding",
                            "plda": "$model/plda"})
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "embedding" / "pytorch_model.bin"))):
        load_diarizer(DiarizationConfig(backend="pyannote", pyannote_path=str(tmp_path / "config.yaml")))


def test_config_leaving_a_model_to_the_hub_default_is_refused(tmp_path):
    for folder in ("segmentation", "embedding"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "pytorch_model.bin").write_bytes(b"x")
    write_config(tmp_path, {"segmentation": "$model/segmentation", "embedding": "$model/embedding"})
    with pytest.raises(ValueError, match="plda is missing.*hub"):
        load_diarizer(DiarizationConfig(backend="pyannote", pyannote_path=str(tmp_path)))
    write_config(tmp_path, {"segmentation": "pyannote/segmentation-3.0", "embedding": "$model/embedding",
                            "clustering": "AgglomerativeClustering"})
    with pytest.raises(FileNotFoundError, match="segmentation model not found"):
        load_diarizer(DiarizationConfig(backend="pyannote", pyannote_path=str(tmp_path)))


def test_text_and_audio_model_libraries_import_beside_the_extra():
    """With the extra's CUDA-built torchaudio installed, a fresh process that readies the model
    libraries first (``prepare_model_libraries``, as every engine loader does) can still load
    sentence-transformers and transformers' audio utilities; ``import wocas`` alone patches nothing."""
    import importlib.util
    import os
    import subprocess
    import sys

    if importlib.util.find_spec("torchaudio") is None:
        pytest.skip("torchaudio is not installed (the pyannote extra is not)")
    code = ("import sys, wocas; assert 'torchaudio' not in sys.modules, 'import wocas patched torchaudio'; "
            "from wocas.models.libraries import prepare_model_libraries; prepare_model_libraries(); "
            "import os, sentence_transformers, transformers.audio_utils, torchaudio; "
            "print(torchaudio.__version__, os.environ['HF_HUB_OFFLINE'])")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    version, offline = done.stdout.split()
    assert version and offline == "1"
