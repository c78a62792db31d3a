"""Shared fixtures: where the real evaluation data lives, and a small run helper."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import wocas  # noqa: E402,F401  (makes the pyannote extra's CUDA-built torchaudio importable; see engine/__init__.py)

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("WOCAS_DATA", ROOT.parent / "shared" / "data"))
SAMPLES = ROOT / "samples"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.exists():
        pytest.skip(f"shared data not found at {DATA} (set WOCAS_DATA)")
    return DATA


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SAMPLES
