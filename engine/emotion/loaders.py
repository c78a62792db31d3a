"""Production emotion models loaded by path: any transformers text-classification or
audio-classification (speech emotion) model, its labels mapped to valence/arousal.

The label map comes from config (``[emotion.text_label_map]`` / ``[emotion.audio_label_map]``,
label = [valence, arousal]); labels the config does not name fall back to the common
emotion and sentiment names in ``wocas.emotion.labels``. A label found in neither is an
error at load time, not a silent zero at scoring time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from wocas.emotion.labels import project, resolve_label_map
from wocas.models.libraries import prepare_model_libraries

log = logging.getLogger(__name__)
LabelMap = Mapping[str, tuple[float, float]]


def _labels(model) -> list[str]:
    id2label = model.config.id2label
    return [str(id2label[i]) for i in range(len(id2label))]


class TextClassifier:
    """A transformers sequence-classification model: ``scores(texts)`` -> (valence, arousal, probs)."""

    def __init__(self, path: str | Path, label_map: LabelMap | None = None, device: str = "cpu",
                 max_length: int = 128):
        prepare_model_libraries()
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = Path(path)
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"text emotion model {path}: no config.json (not a transformers model dir)")
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModelForSequenceClassification.from_pretrained(str(path)).to(device).eval()
        self.labels = _labels(self.model)
        self.places = resolve_label_map(self.labels, label_map, str(path))
        self.multi_label = self.model.config.problem_type == "multi_label_classification"
        self.device, self.max_length = device, max_length

    def probabilities(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        import torch

        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                enc = self.tokenizer(texts[i:i + batch_size], padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="pt").to(self.device)
                logits = self.model(**enc).logits
                probs = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=-1)
                out[i:i + batch_size] = probs.float().cpu().numpy()
        return out

    def scores(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        probs = self.probabilities(texts)
        valence, arousal = project(probs, self.places)
        return valence, arousal, probs


class AudioClassifier:
    """A transformers audio-classification model over 16 kHz mono arrays."""

    def __init__(self, path: str | Path, label_map: LabelMap | None = None, device: str = "cpu"):
        prepare_model_libraries()
        from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

        path = Path(path)
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"audio emotion model {path}: no config.json (not a transformers model dir)")
        self.extractor = AutoFeatureExtractor.from_pretrained(str(path))
        self.model = AutoModelForAudioClassification.from_pretrained(str(path)).to(device).eval()
        self.labels = _labels(self.model)
        self.places = resolve_label_map(self.labels, label_map, str(path))
        self.sample_rate = int(getattr(self.extractor, "sampling_rate", 16000))
        self.device = device

    def probabilities(self, clips: list[np.ndarray], sample_rate: int) -> np.ndarray:
        import torch

        if sample_rate != self.sample_rate:
            raise ValueError(f"audio emotion model expects {self.sample_rate} Hz audio, got {sample_rate} Hz")
        out = np.zeros((len(clips), len(self.labels)), dtype=np.float32)
        with torch.inference_mode():
            for i, clip in enumerate(clips):  # one at a time: turns differ a lot in length
                enc = self.extractor(np.asarray(clip, dtype=np.float32), sampling_rate=sample_rate,
                                     return_tensors="pt").to(self.device)
                out[i] = torch.softmax(self.model(**enc).logits, dim=-1)[0].float().cpu().numpy()
        return out

    def scores(self, clips: list[np.ndarray], sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        probs = self.probabilities(clips, sample_rate)
        valence, arousal = project(probs, self.places)
        return valence, arousal, probs
