"""Readying the model libraries, once per process, before any of them is imported.

``prepare_model_libraries()`` is the one place that:

* switches the Hugging Face libraries offline (``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE``):
  every model is a local folder, and nothing may be fetched from the hub;
* makes torchaudio importable beside a CPU-only torch (``torchaudio_compat``), which
  transformers' audio utilities, sentence-transformers and pyannote.audio import.

Every loader of a transformers, sentence-transformers, faster-whisper or pyannote model calls
it first; ``import wocas`` itself changes nothing.
"""

from __future__ import annotations

import importlib.util
import os
from functools import cache

OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


@cache
def prepare_model_libraries() -> None:
    # huggingface_hub and transformers read these once, when they are first imported, and
    # offer no API to go offline: the environment is the only switch, so it is set here,
    # before any model library is imported. A value already set by the user is kept.
    for variable in OFFLINE_VARIABLES:
        os.environ.setdefault(variable, "1")
    if importlib.util.find_spec("torchaudio") is not None:
        from wocas.models.torchaudio_compat import ensure_torchaudio_importable

        ensure_torchaudio_importable()
