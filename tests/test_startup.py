"""Start-up: a transcript-only run loads no audio model and no torch; the light tokenizer,
the cached calibration and the stage prefetch give the same results as the heavy paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from wocas.config import Config
from wocas.pipeline import Pipeline
from wocas.schema import CallAnalysis
from wocas.stages.base import Stage

ROOT = Path(__file__).resolve().parent.parent
# ctranslate2 may load (40 ms): it says whether a CUDA device exists, which the pipeline version names
AUDIO_MODULES = ("torch", "faster_whisper", "silero_vad", "resemblyzer", "librosa",
                 "transformers", "sentence_transformers", "sklearn", "matplotlib", "ray")

RUN_AND_LIST_MODULES = """
import json, sys
from wocas.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": int(code), "modules": sorted(m for m in sys.modules if "." not in m)}))
"""


def run_listing_modules(args: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.run([sys.executable, "-c", RUN_AND_LIST_MODULES, *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_transcript_run_imports_no_audio_model_and_no_torch(tmp_path, samples_dir):
    chat = tmp_path / "chat.jsonl"
    chat.write_text((samples_dir / "chats.jsonl").read_text())
    # The first run may export the text encoders to ONNX and fit the taxonomy's calibration
    # (torch, transformers, sklearn) when the cache is cold; a later process reads both.
    run_listing_modules(["run", str(chat), "--out", str(tmp_path / "warm"), "--quiet"])
    result = run_listing_modules(["run", str(chat), "--out", str(tmp_path / "out"), "--quiet",
                                  "--threads-per-worker", "1"])
    assert result["code"] == 0
    loaded = sorted(set(AUDIO_MODULES) & set(result["modules"]))
    assert loaded == [], f"a transcript-only run imported {loaded}"
    assert "onnxruntime" in result["modules"]  # it did analyse the text


def test_fast_tokenizer_matches_transformers(data_dir):
    from transformers import AutoTokenizer

    from wocas.models.registry import resolve
    from wocas.models.tokenizer import FastTokenizer, load_tokenizer

    path = resolve("minilm").path
    fast, reference = load_tokenizer(path), AutoTokenizer.from_pretrained(str(path))
    assert isinstance(fast, FastTokenizer)
    lines = (data_dir / "text/goemotions/test.tsv").read_text(encoding="utf-8").splitlines()[:300]
    texts = [line.split("\t")[0] for line in lines] + ["", "Ünïcödé café 東京 😀", "word " * 400]
    for max_length in (64, 256):
        for i in range(0, len(texts), 25):
            batch = texts[i:i + 25]
            a = fast(batch, padding=True, truncation=True, max_length=max_length, return_tensors="np")
            b = reference(batch, padding=True, truncation=True, max_length=max_length, return_tensors="np")
            assert np.array_equal(a["input_ids"], b["input_ids"])
            assert np.array_equal(a["attention_mask"], b["attention_mask"])


def test_example_classifier_cache_gives_the_fitted_calibration(tmp_path, monkeypatch):
    from wocas.models.text_encoder import TextEncoder
    from wocas.reasons.classify import ExampleClassifier
    from wocas.reasons.taxonomy import load_taxonomy

    from wocas.models import array_cache

    # a cold array cache of its own; the ONNX graph stays in the shared cache (no re-export)
    monkeypatch.setattr(array_cache, "cache_dir", lambda: tmp_path / "cache" / "onnx")
    taxonomy = load_taxonomy(Config().jobs.taxonomy)
    encoder = TextEncoder()
    fitted = ExampleClassifier(taxonomy, encoder)  # a cold cache: encodes and fits
    assert len(list((tmp_path / "cache" / "arrays").glob("examples-*.npz"))) == 1
    texts = ["I was charged twice for my bill", "my parcel never arrived", "tell me a joke"]
    embeddings = encoder.encode(texts)
    # the sigmoid on the stored coefficients is sklearn's own probability
    from wocas.reasons.classify import _top_two

    _, top, margin = _top_two(fitted._scores(embeddings @ fitted._vectors.T))
    reference = fitted._calibrate().predict_proba(np.c_[top, margin])[:, 1]
    got = [p.confidence for p in fitted.predict(texts, embeddings)]
    assert np.allclose(got, reference, atol=1e-12)
    cached = ExampleClassifier(taxonomy, TextEncoder())  # a warm cache: nothing encoded, nothing fitted
    assert cached.predict(texts, embeddings) == fitted.predict(texts, embeddings)


class _Recorder(Stage):
    name = "recorder"
    requires = frozenset({"call"})

    def __init__(self, label: str, log: list[str], fail_prefetch: bool = False):
        self.label = label
        self.log = log
        self.fail_prefetch = fail_prefetch

    def prefetch(self, calls):
        if self.fail_prefetch:
            raise RuntimeError("cannot load")
        self.log.append(f"prefetch {self.label} {len(calls)}")

    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        self.log.append(f"run {self.label}")
        return call


def test_each_stage_runs_after_its_own_prefetch_and_a_failed_prefetch_stops_nothing(samples_dir):
    from wocas.io.ingest import iter_calls

    log: list[str] = []
    stages = [_Recorder("first", log), _Recorder("second", log), _Recorder("third", log, fail_prefetch=True),
              _Recorder("fourth", log)]
    pipeline = Pipeline(stages, Config())
    calls = list(iter_calls([str(samples_dir / "chats.jsonl")]))
    out = pipeline.process(calls)
    assert all(c.ok for c in out) and len(out) == len(calls)
    assert log[0] == "run first" and "prefetch first 1" not in log
    for name in ("second", "fourth"):
        assert log.index(f"prefetch {name} {len(calls)}") < log.index(f"run {name}")
    assert "run third" in log  # its prefetch failed; the stage itself ran


def test_thread_limits_leave_torch_unloaded_and_the_budget_restored():
    code = ("import sys\n"
            "from wocas.models.libraries import thread_budget\n"
            "from wocas.runners.local import thread_limits\n"
            "before = thread_budget()\n"
            "with thread_limits(1):\n"
            "    inside = thread_budget()\n"
            "print(before, inside, thread_budget(), 'torch' in sys.modules)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60,
                         check=True).stdout.split()
    assert out[1] == "1" and out[0] == out[2] and out[3] == "False"


def test_redact_loads_the_ner_model_during_asr_only_for_audio(samples_dir):
    from wocas.config import RedactConfig
    from wocas.io.ingest import iter_calls
    from wocas.stages.decode import DecodeStage
    from wocas.stages.redact import RedactStage
    from wocas.text import names

    if not names.available():
        pytest.skip("the pii extra (spaCy's English model) is not installed")
    names.load.cache_clear()
    stage = RedactStage(RedactConfig())
    stage.prefetch(list(iter_calls([str(samples_dir / "chats.jsonl")])))  # text only: nothing to hide the load
    RedactStage(RedactConfig(names="rules")).prefetch(
        [DecodeStage(Config().audio).process_call(c) for c in iter_calls([str(samples_dir / "delivery-mono-16k.flac")])])
    assert names.load.cache_info().currsize == 0
    audio = [DecodeStage(Config().audio).process_call(c) for c in iter_calls([str(samples_dir / "delivery-mono-16k.flac")])]
    stage.prefetch(audio)
    assert names.load.cache_info().currsize == 1


def test_torch_is_hidden_from_the_spacy_import_in_its_own_thread_only():
    """While one thread imports spaCy with torch hidden, another thread's ``import torch``
    (ASR, a diarizer) must still work."""
    code = ("import sys, threading\n"
            "from wocas.text.names import _TorchHiddenInThisThread\n"
            "finder = _TorchHiddenInThisThread()\n"
            "sys.meta_path.insert(0, finder)\n"
            "try:\n"
            "    import torch\n"
            "    here = 'imported'\n"
            "except ImportError:\n"
            "    here = 'hidden'\n"
            "other = []\n"
            "def load():\n"
            "    import torch\n"
            "    other.append(torch.__name__)\n"
            "t = threading.Thread(target=load)\n"
            "t.start(); t.join()\n"
            "print(here, other)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                         check=True).stdout.strip()
    assert out == "hidden ['torch']"


@pytest.mark.parametrize("name", ["delivery-mono-16k.flac", "billing-stereo-8k.flac"])
def test_vad_probabilities_on_numpy_are_the_silero_wrappers(samples_dir, name):
    """The VAD runs silero's ONNX file on numpy arrays; every window's probability must be
    the one silero's own wrapper (torch tensors, its state and context) gives, at 16 and 8 kHz."""
    import soundfile as sf
    import torch
    from silero_vad import load_silero_vad

    from wocas.diarizers.vad import load_vad, speech_probs

    audio, rate = sf.read(samples_dir / name, dtype="float32")
    channel = audio if audio.ndim == 1 else audio[:, 1]
    channel = channel[: len(channel) - 100]  # a last window that needs padding
    model = load_silero_vad(onnx=True)
    window = 512 if rate == 16000 else 256
    expected = []
    with torch.no_grad():
        for i in range(0, len(channel), window):
            chunk = torch.from_numpy(np.ascontiguousarray(channel[i:i + window]))
            expected.append(model(torch.nn.functional.pad(chunk, (0, window - len(chunk))), rate).item())
    got = speech_probs(load_vad().session, channel, rate)
    assert got == expected
    assert max(got) > 0.5 > min(got)  # speech and silence both present


def test_the_command_exits_quickly_with_its_code_and_its_log_complete(tmp_path, samples_dir):
    """``python -m wocas.cli`` ends with os._exit after the exit handlers: the exit code, the
    printed summary and the run's log (flushed by logging's handler) are all there."""
    chat = tmp_path / "in" / "chat.jsonl"
    chat.parent.mkdir()
    chat.write_text((samples_dir / "chats.jsonl").read_text())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.run([sys.executable, "-m", "wocas.cli", "run", str(chat), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ok=1 failed=0" in proc.stdout + proc.stderr  # the summary line, printed before the exit
    log = next((tmp_path / "out" / "logs").glob("*.log")).read_text()
    assert "after the calls:" in log  # the last line the run logs
    missing = subprocess.run([sys.executable, "-m", "wocas.cli", "run", str(tmp_path / "nothing-here"), "--out",
                              str(tmp_path / "out2")], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_a_stereo_batch_prefetches_the_speech_detector_but_not_the_diarizer(samples_dir):
    """A stereo call's channels are its speakers: its prefetch loads silero for the channel
    timelines, never the embedded diarizer."""
    from wocas.diarizers.vad import load_vad
    from wocas.io.ingest import iter_calls
    from wocas.stages.decode import DecodeStage
    from wocas.stages.diarize import DiarizeStage

    load_vad.cache_clear()
    calls = [DecodeStage(Config().audio).process_call(c)
             for c in iter_calls([str(samples_dir / "billing-stereo-8k.flac")])]
    stage = DiarizeStage(Config().diarization)
    stage.prefetch(calls)
    assert load_vad.cache_info().currsize == 1
    assert stage._diarizer is None

