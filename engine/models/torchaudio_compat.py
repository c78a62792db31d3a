"""torchaudio on a CPU-only torch: the one workaround the optional pyannote extra needs.

Installing the ``pyannote`` extra brings torchaudio 2.11, the only version that installs
beside torch 2.13, and its wheel is a CUDA build. Once it is installed, anything that
imports torchaudio fails on a CPU machine: pyannote.audio, and transformers' audio feature
extractors, which sentence-transformers and the audio emotion models load.
``wocas.models.libraries.prepare_model_libraries`` calls ``ensure_torchaudio_importable``
whenever torchaudio is installed, before any model library is imported.
"""

from __future__ import annotations

import logging
import sys
import types

log = logging.getLogger(__name__)


def ensure_torchaudio_importable() -> bool:
    """Make ``import torchaudio`` work when its C++ extension can't load; True if it imports.

    pyannote.audio 4 imports torchaudio at module level, but uses only code written in plain
    torch from it (``compliance.kaldi.fbank`` for the WeSpeaker embedding, ``transforms.MFCC``,
    ``functional.resample``). The only torchaudio wheels that install beside the CPU build of
    torch 2.13 are CUDA builds: ``torchaudio/_extension`` loads ``_torchaudio.abi3.so`` at
    import, which links ``libc10_cuda.so`` and fails with ``OSError`` on a CPU-only torch, so
    ``import torchaudio`` fails as a whole (and so does any library that imports it, such as
    ``transformers.audio_utils`` once torchaudio is installed).

    torchaudio itself supports running without that library: its ``_extension`` sets
    ``_IS_TORCHAUDIO_EXT_AVAILABLE = False`` when the file is absent, and the few functions
    that need it raise when called. When, and only when, the real import fails with that
    ``OSError``, this registers a stand-in ``torchaudio._extension`` reporting exactly that
    state and imports torchaudio again. Installed files are not touched; a torchaudio whose
    extension loads (a CPU wheel, or a CUDA machine) is used as it is. Idempotent and
    process-wide: call it before anything imports torchaudio.
    """
    module = sys.modules.get("torchaudio")
    if module is not None and getattr(module, "__version__", None):
        return True
    try:
        import torchaudio  # noqa: F401
        return True
    except ImportError:
        return False  # not installed: nothing to work around
    except OSError as e:
        reason = str(e.__cause__ or e)
    for name in [m for m in sys.modules if m == "torchaudio" or m.startswith("torchaudio.")]:
        del sys.modules[name]  # drop the half-initialised package before importing it again

    def _unavailable(*_args, **_kwargs):
        raise RuntimeError(f"this torchaudio feature needs its C++ extension, which did not load: {reason}")

    stand_in = types.ModuleType("torchaudio._extension")
    stand_in.__doc__ = "Stand-in set by wocas.models.torchaudio_compat: torchaudio's C++ extension did not load."
    stand_in._IS_TORCHAUDIO_EXT_AVAILABLE = False
    stand_in._IS_ALIGN_AVAILABLE = False
    stand_in._load_lib = lambda lib: False  # as torchaudio's own when the library file is absent
    stand_in._check_cuda_version = _unavailable
    stand_in.fail_if_no_align = lambda func: _unavailable
    sys.modules["torchaudio._extension"] = stand_in
    try:
        import torchaudio  # noqa: F401, F811
    except Exception:
        for name in [m for m in sys.modules if m == "torchaudio" or m.startswith("torchaudio.")]:
            del sys.modules[name]
        raise
    log.info("torchaudio's C++ extension did not load (%s); using its pure-Python part", reason)
    return True
