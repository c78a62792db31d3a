"""Shared fixtures: where the real evaluation data lives, and a small run helper."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wocas.models.libraries import prepare_model_libraries

# Offline, and the pyannote extra's CUDA-built torchaudio importable, before any test imports
# transformers or sentence-transformers itself (the engine's loaders call this on their own).
prepare_model_libraries()

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
