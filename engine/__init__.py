"""WOCAS: What Our Customers Are Saying — speech and text analytics for contact centres."""

import importlib.util

__version__ = "0.1.0"

# With the optional pyannote extra installed, torchaudio is a CUDA build that cannot load on
# a CPU-only torch, and transformers (so sentence-transformers, the audio models) imports it:
# make it importable before anything else does. Costs nothing when torchaudio is absent.
if importlib.util.find_spec("torchaudio") is not None:
    from wocas.models.torchaudio_compat import ensure_torchaudio_importable

    ensure_torchaudio_importable()
