"""Shared fixtures: where the real evaluation data lives, and a small run helper."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from engine.torchaudio_compat import ensure_torchaudio_importable  # noqa: E402

# The tests install the pyannote extra, whose torchaudio is a CUDA build; tests that build
# tiny transformers audio models import it before any engine loader could fix it.
ensure_torchaudio_importable()

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
