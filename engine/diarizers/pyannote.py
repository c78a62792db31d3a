"""pyannote.audio diarization from a local pipeline checkpoint (an optional extra).

pyannote.audio is imported only when a diarizer is built, so the engine runs without it.
Nothing is downloaded and nothing leaves the machine:

* the checkpoint is a local directory laid out like the published pipelines
  (``config.yaml`` plus ``segmentation/``, ``embedding/`` and ``plda/`` beside it, referred
  to as ``$model/<folder>``), and every model the config names is checked to be a local
  file before pyannote sees it: a missing one would otherwise make pyannote fall back to a
  hub id and try to download it;
* the hub is switched offline (``prepare_model_libraries``) before the import, and pyannote's usage telemetry (on by default
  in 4.x, sent to a remote collector) is switched off with ``PYANNOTE_METRICS_ENABLED``;
* audio is passed as an in-memory waveform, so pyannote's own decoder (torchcodec) is never
  needed.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np

from wocas.schema import SpeakerSegment
from wocas.models.libraries import prepare_model_libraries

log = logging.getLogger(__name__)

PIPELINE_FILE = "config.yaml"
MODEL_FILE = "pytorch_model.bin"
PLDA_FILES = ("xvec_transform.npz", "plda.npz")


def import_pyannote():
    """Import ``pyannote.audio`` offline; raises ImportError naming the extra when it is absent."""
    # pyannote has no API to switch its telemetry off; it reads this variable at each call
    os.environ["PYANNOTE_METRICS_ENABLED"] = "false"
    try:
        prepare_model_libraries()  # offline, and torchaudio importable
        with warnings.catch_warnings():
            # pyannote warns at import when torchcodec (its file decoder) can't load; waveforms
            # are always passed in memory here, so the decoder is never used.
            warnings.filterwarnings("ignore", message=r"\s*torchcodec is not installed correctly")
            import pyannote.audio
    except ImportError as e:
        raise ImportError("diarization.backend = 'pyannote' needs the optional pyannote.audio package "
                          "(install the project's 'pyannote' extra: pip install -e '.[pyannote]'), "
                          f"or use backend = 'embedded' ({e})") from e
    return pyannote.audio


def pipeline_config(checkpoint_path: str | Path) -> Path:
    """The ``config.yaml`` of a local pipeline checkpoint (a directory or the file itself).

    Every model it names must be local: a ``$model/<folder>`` reference to a folder beside it,
    or an existing path. Raises FileNotFoundError / ValueError naming the path otherwise.
    """
    import yaml

    path = Path(checkpoint_path).expanduser()
    config_file = path / PIPELINE_FILE if path.is_dir() else path
    if not config_file.is_file():
        raise FileNotFoundError(f"pyannote checkpoint not found: {config_file} (diarization.pyannote_path "
                                "must name a local pipeline directory holding config.yaml, or that file)")
    try:
        config = yaml.safe_load(config_file.read_text())
        name = config["pipeline"]["name"]
        params = config["pipeline"].get("params") or {}
    except Exception as e:
        raise ValueError(f"{config_file} is not a pyannote pipeline config (needs pipeline.name): {e}") from e
    root = config_file.parent
    needed = {"segmentation": (MODEL_FILE,)}
    if name.endswith("SpeakerDiarization"):
        needed["embedding"] = (MODEL_FILE,)
        if params.get("clustering", "VBxClustering") == "VBxClustering":
            needed["plda"] = PLDA_FILES
    for key, files in needed.items():
        value = params.get(key)
        if value is None:
            raise ValueError(f"{config_file}: pipeline.params.{key} is missing, so pyannote would fetch its "
                             f"default {key} model from the hub; name a local one (e.g. $model/{key})")
        if isinstance(value, dict):
            folder = Path(str(value.get("checkpoint", ""))).expanduser()
            if value.get("subfolder"):
                folder = folder / value["subfolder"]
        elif isinstance(value, str) and value.startswith("$model/"):
            if "@" in value:
                raise ValueError(f"{config_file}: {key} = {value!r}: revisions need the hub; use a local folder")
            folder = root / value.removeprefix("$model/")
        else:
            folder = Path(str(value)).expanduser()
        targets = [folder] if folder.is_file() else [folder / f for f in files]
        missing = [str(t) for t in targets if not t.is_file()]
        if missing:
            raise FileNotFoundError(f"{config_file}: {key} model not found at {', '.join(missing)} "
                                    "(only local checkpoints are loaded; nothing is downloaded)")
    return config_file


class PyannoteDiarizer:
    def __init__(self, checkpoint_path: str | Path, num_speakers: int | None = None,
                 min_speakers: int | None = None, max_speakers: int | None = None):
        config_file = pipeline_config(checkpoint_path)
        Pipeline = import_pyannote().Pipeline
        self.num_speakers = num_speakers
        self.min_speakers = min_speakers
        self.max_speakers = max_speakers
        try:
            # the config file itself, not its folder: pyannote 3.x reads a folder as a hub id
            self.pipeline = Pipeline.from_pretrained(config_file)
        except Exception as e:
            raise RuntimeError(f"pyannote.audio could not load the pipeline at {config_file.parent}: {e}") from e
        if self.pipeline is None:  # older pyannote versions return None instead of raising
            raise RuntimeError(f"pyannote.audio could not load a pipeline from {config_file.parent}")

    def __call__(self, samples: np.ndarray, sample_rate: int) -> list[SpeakerSegment]:
        import torch

        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"pyannote diarizer needs mono samples, got shape {samples.shape}")
        waveform = torch.from_numpy(np.ascontiguousarray(samples)).unsqueeze(0)  # (1, n)
        kwargs = {}
        if self.num_speakers is not None:
            kwargs["num_speakers"] = self.num_speakers
        else:
            if self.min_speakers is not None:
                kwargs["min_speakers"] = self.min_speakers
            if self.max_speakers is not None:
                kwargs["max_speakers"] = self.max_speakers
        output = self.pipeline({"waveform": waveform, "sample_rate": sample_rate}, **kwargs)
        # pyannote.audio 4 returns a DiarizeOutput, whose exclusive diarization (one speaker at
        # a time) is the one meant for aligning words; 3.x returns the Annotation itself.
        annotation = getattr(output, "exclusive_speaker_diarization", None)
        if annotation is None:
            annotation = getattr(output, "speaker_diarization", output)
        duration = len(samples) / sample_rate
        segments = []
        for turn, _, label in annotation.itertracks(yield_label=True):
            start, end = round(max(0.0, turn.start), 3), round(min(duration, turn.end), 3)
            if end > start:
                segments.append(SpeakerSegment(speaker=str(label), start=start, end=end))
        return sorted(segments, key=lambda s: (s.start, s.end))
