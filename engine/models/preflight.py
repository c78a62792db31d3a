"""Before a run: every registered model the configured pipeline will load is installed and
matches its sha256 pins.

Without this, a missing or damaged model package fails every call of the night one by one,
each after its audio was decoded and transcribed. Here it is one ``ModelError`` (exit 2) naming
the model, the file and the command that reinstalls it, and nothing is run. Nothing is imported
or loaded; each pinned file is hashed once and then known by its size and mtime
(``registry.checked_sha256``). Audio models are checked only when the inputs hold audio, so a
chat-only batch never depends on them.
"""

from __future__ import annotations

from pathlib import Path

from wocas.config import MODEL_FIELDS, NOT_A_MODEL, Config
from wocas.models import registry

AUDIO_FIELDS = {("asr", "model"), ("emotion", "audio_model")}
VAD_MODEL = "silero-vad"  # every audio call: stereo channels' speech and the mono diarizer
SPEAKER_MODEL = "resemblyzer"  # the embedded mono diarizer
NER_MODEL = "spacy-en-sm"  # redaction's person names, [redact] names = "ner"


def models_to_check(config: Config, audio: bool) -> list[str]:
    """The registered models a run with ``config`` loads (audio ones only when ``audio``)."""
    wanted = []
    for section, key in MODEL_FIELDS:
        value = getattr(getattr(config, section), key)
        if not value or NOT_A_MODEL.get((section, key)) == value or (section, key) in AUDIO_FIELDS and not audio:
            continue
        wanted.append(value)
    if audio:
        wanted.append(VAD_MODEL)
        if config.diarization.backend == "embedded":
            wanted.append(SPEAKER_MODEL)
    if config.redact.enabled and config.redact.names == "ner":
        wanted.append(NER_MODEL)
    known = set(registry.names())
    return list(dict.fromkeys(name for name in wanted if name in known))  # a folder path is the user's own


def inputs_hold_audio(inputs: list[str]) -> bool:
    """Whether any input is a recording or a manifest (whose rows name recordings). Looks at names
    only, stopping at the first audio file."""
    from wocas.io.audio import AUDIO_SUFFIXES
    from wocas.io.ingest import _expand, _is_manifest

    def audio(path: Path) -> bool:
        return path.suffix.lower() in AUDIO_SUFFIXES or path.is_file() and _is_manifest(path)

    for spec in inputs:
        folder = Path(spec).expanduser()
        try:
            # a night's folder is walked lazily, not listed and sorted whole as _expand does
            if any(audio(path) for path in (folder.rglob("*") if folder.is_dir() else _expand(spec))):
                return True
        except (OSError, ValueError):
            continue  # the run itself fails an unreadable input by name
    return False


def check_models_installed(config: Config, inputs: list[str]) -> None:
    """Raise the first model's ``ModelError`` (one line, exit 2) if any model the run needs is
    missing or does not match its pins."""
    for name in models_to_check(config, inputs_hold_audio(inputs)):
        registry.verify(name)
