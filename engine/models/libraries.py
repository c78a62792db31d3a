"""Readying the model libraries, once per process, before any of them is imported.

``prepare_model_libraries()`` is the one place that:

* switches the Hugging Face libraries offline (``HF_HUB_OFFLINE``, ``TRANSFORMERS_OFFLINE``):
  every model is a local folder, and nothing may be fetched from the hub;
* makes torchaudio importable beside a CPU-only torch (``torchaudio_compat``), which
  transformers' audio utilities, sentence-transformers and pyannote.audio import.

Every loader of a transformers, sentence-transformers, faster-whisper or pyannote model calls
it first; ``import wocas`` itself changes nothing.

``thread_budget()`` is the process's thread count for the numeric libraries, as the runner set
it with ``set_thread_budget`` (ONNX Runtime sessions read it). It is kept here rather than read
back from torch, so a process that never needs torch (a transcript-only batch) never imports it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from functools import cache

_budget = 0  # 0: not set by a runner


def set_thread_budget(threads: int) -> int:
    """Make ``threads`` (0: unset) the process's budget; torch, when already imported, follows
    it. Returns the previous budget, for a caller that restores it."""
    global _budget
    previous, _budget = _budget, threads
    if threads and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    return previous


def thread_budget() -> int:
    """The budget set by the runner, else torch's own count when torch is loaded, else the
    cores this process may use."""
    if _budget:
        return _budget
    if "torch" in sys.modules:
        return int(sys.modules["torch"].get_num_threads())
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


@cache
def prepare_model_libraries(torchaudio: bool = True) -> None:
    """Switch the hub offline and, unless ``torchaudio`` is False, make torchaudio importable.
    The torchaudio fix imports torch and torchaudio (about 1.5 s): a loader whose library
    never touches them (faster-whisper runs on CTranslate2) passes ``torchaudio=False``."""
    # huggingface_hub and transformers read these once, when they are first imported, and
    # offer no API to go offline: the environment is the only switch, so it is set here,
    # before any model library is imported. A value already set by the user is kept.
    for variable in OFFLINE_VARIABLES:
        os.environ.setdefault(variable, "1")
    if torchaudio and importlib.util.find_spec("torchaudio") is not None:
        from wocas.models.torchaudio_compat import ensure_torchaudio_importable

        ensure_torchaudio_importable()
