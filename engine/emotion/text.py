"""Text emotion: the shipped GoEmotions head over MiniLM, plus VADER and NRC lexicon features.

The head (models/emotion-minilm) is a LoRA adapter and a 28-label linear layer trained by
scripts/train_emotion_head.py. At load time the adapter is merged into a private copy of
the packaged encoder's weights, so a turn costs one plain MiniLM forward pass. The lexicons
need no model: they are a feature of every turn and the whole answer when no head loads.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from wocas.emotion.labels import project, resolve_label_map
from wocas.models.libraries import prepare_model_libraries

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"[a-z']+")
NRC_AFFECTS = ("anger", "fear", "sadness", "disgust", "joy", "trust", "positive", "negative")


@dataclass(frozen=True)
class TextScores:
    """Per text: valence [-1, 1], arousal [0, 1], confidence [0, 1] and label probabilities."""

    valence: np.ndarray  # (n,)
    arousal: np.ndarray  # (n,)
    confidence: np.ndarray  # (n,)
    categories: list[dict[str, float]]


# VADER's time grows with the square of a text's words (it looks words up with list.index):
# a 1 MB turn would take hours. The lexicon scorers see at most this many words of a turn,
# its first and last halves (where a speaker's tone is set and resolved); a real turn is far
# shorter, so only pathological ones (a pasted log, a runaway ASR loop) are cut.
LEXICON_MAX_WORDS = 400


def lexicon_text(text: str, max_words: int = LEXICON_MAX_WORDS) -> str:
    """``text`` itself, or its first and last ``max_words // 2`` words when it is longer."""
    words = text.split()
    if len(words) <= max_words:
        return text
    half = max_words // 2
    return " ".join(words[:half] + words[-half:])


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def vader_scores(text: str, analyzer=None) -> dict[str, float]:
    """VADER's polarity scores of a turn, in time linear in its length (see LEXICON_MAX_WORDS)."""
    return (analyzer or _vader()).polarity_scores(lexicon_text(text))


def lexicon_features(texts: list[str]) -> np.ndarray:
    """(n, 10): VADER compound, VADER pos-neg, then NRC affect shares (per token) for NRC_AFFECTS."""
    from nrclex import NRCLex

    rows = []
    for text in texts:
        scores = vader_scores(text)
        tokens = _TOKEN.findall(text.lower())
        affect = {a: 0.0 for a in NRC_AFFECTS}
        if tokens:
            nrc = NRCLex()
            nrc.load_token_list(tokens)
            for a in NRC_AFFECTS:
                affect[a] = nrc.raw_emotion_scores.get(a, 0) / len(tokens)
        rows.append([scores["compound"], scores["pos"] - scores["neg"], *(affect[a] for a in NRC_AFFECTS)])
    return np.asarray(rows, dtype=np.float32).reshape(len(texts), 2 + len(NRC_AFFECTS))


def lexicon_scores(texts: list[str]) -> TextScores:
    """Valence from VADER; arousal from NRC's high-arousal affects and shouting (!, CAPS)."""
    feats = lexicon_features(texts)
    valence = feats[:, 0]
    intense = feats[:, 2] + feats[:, 3] + 0.5 * feats[:, 6]  # anger + fear + joy shares
    shout = np.array([min(1.0, t.count("!") / 3 + _caps_share(t)) for t in texts], dtype=np.float32)
    arousal = np.clip(0.25 + 1.5 * intense + 0.4 * shout + 0.2 * np.abs(valence), 0.0, 1.0)
    confidence = np.clip(0.3 + 0.4 * np.abs(valence), 0.0, 1.0)
    return TextScores(valence, arousal, confidence, [{} for _ in texts])


def _caps_share(text: str) -> float:
    words = [w for w in text.split() if len(w) > 2 and w.isalpha()]
    return sum(w.isupper() for w in words) / len(words) if words else 0.0


class EmotionHead:
    """The shipped GoEmotions head: ``probabilities(texts)`` -> (n, 28).

    On CPU the merged encoder runs through ONNX Runtime by default (``backend`` as in
    engine/text_encoder.py: "onnx-int8", "onnx" or "torch"); on a GPU it always runs in torch."""

    def __init__(self, head_dir: str | Path, device: str = "cpu", backend: str = "onnx-int8"):
        from safetensors.numpy import load_file  # numpy, not torch: a cached ONNX graph needs no torch

        from wocas.models.registry import resolve
        from wocas.models.tokenizer import load_tokenizer
        from wocas.models.text_encoder import check_backend

        check_backend(backend)
        head_dir = Path(head_dir)
        config_path = head_dir / "config.json"
        adapter_path = head_dir / "adapter.safetensors"
        if not config_path.exists() or not adapter_path.exists():
            raise FileNotFoundError(f"emotion head {head_dir}: needs config.json and adapter.safetensors")
        self.config = json.loads(config_path.read_text())
        self.labels: list[str] = self.config["labels"]
        self.thresholds = np.asarray(self.config["thresholds"], dtype=np.float32)
        self.places = resolve_label_map(self.labels, None, str(head_dir))
        self.max_length = int(self.config.get("max_length", 64))
        self.encoder_dir = resolve(self.config.get("base_encoder", "minilm")).path
        state = load_file(str(adapter_path))
        self.head_weight = state.pop("head.weight").astype(np.float32)  # (28, 384)
        self.head_bias = state.pop("head.bias").astype(np.float32)
        self.device = device
        self.runtime = None
        self.encoder = None
        if backend != "torch" and device == "cpu":
            from wocas.models.onnx_encoder import OnnxEncoder, export_encoder, weights_digest

            key = f"emotion-{weights_digest(adapter_path, self.encoder_dir / 'model.safetensors')}"
            precision = "int8" if backend == "onnx-int8" else "fp32"
            self.runtime = OnnxEncoder(export_encoder(lambda: self._merged_encoder(state), key, precision), precision)
            self.tokenizer = load_tokenizer(self.encoder_dir)
        else:
            prepare_model_libraries()
            from transformers import AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(str(self.encoder_dir))
            self.encoder = self._merged_encoder(state).to(device).eval()

    def _merged_encoder(self, adapter: dict):
        prepare_model_libraries()
        import torch
        from transformers import AutoModel

        from wocas.models.lora import merge_lora

        encoder = AutoModel.from_pretrained(str(self.encoder_dir))
        tensors = {k: torch.from_numpy(v) for k, v in adapter.items()}
        merged = merge_lora(encoder, tensors, float(self.config["lora"]["scale"]))
        log.info("emotion head: merged %d LoRA adapters into %s", merged, self.encoder_dir)
        return encoder

    def probabilities(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        distinct = {t: i for i, t in enumerate(dict.fromkeys(texts))}
        if len(distinct) < len(texts):  # "ok", "thank you": each distinct turn text runs once
            return self.probabilities(list(distinct), batch_size)[[distinct[t] for t in texts]]
        if self.runtime is not None:
            pooled = self.runtime.pooled(self.tokenizer, texts, self.max_length, batch_size)
        else:
            pooled = self._torch_pooled(texts, batch_size)
        logits = pooled @ self.head_weight.T + self.head_bias
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)

    def _torch_pooled(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Mean-pooled hidden states of the merged encoder in torch (GPU, or backend "torch")."""
        import torch

        from wocas.models.onnx_encoder import mean_pool

        order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths together: less padding
        out = np.zeros((len(texts), self.head_weight.shape[1]), dtype=np.float32)
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                idx = order[i:i + batch_size]
                enc = self.tokenizer([texts[j] for j in idx], padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="pt").to(self.device)
                hidden = self.encoder(**enc).last_hidden_state.float().cpu().numpy()  # (b, t, 384)
                out[idx] = mean_pool(hidden, enc["attention_mask"].cpu().numpy())
        return out

    def predict(self, texts: list[str]) -> np.ndarray:
        """Multi-label decisions with the per-label thresholds tuned on GoEmotions dev."""
        return self.probabilities(texts) >= self.thresholds


def head_scores(head: EmotionHead, texts: list[str], batch_size: int = 64) -> TextScores:
    probs = head.probabilities(texts, batch_size)  # (n, 28)
    # Rescale each label by its own threshold so a label at its decision point weighs 0.5:
    # rare labels (grief, relief) have low thresholds and would otherwise never count.
    scaled = np.clip(probs / (2 * head.thresholds), 0.0, 1.0)
    valence, arousal = project(scaled, head.places)
    top = scaled.max(axis=1)
    categories = [{head.labels[j]: round(float(probs[i, j]), 3)
                   for j in np.argsort(-scaled[i])[:4] if scaled[i, j] >= 0.25} for i in range(len(texts))]
    return TextScores(valence.astype(np.float32), arousal.astype(np.float32),
                      np.clip(top, 0.0, 1.0).astype(np.float32), categories)


@lru_cache(maxsize=2)
def load_head(head_dir: str, device: str = "cpu", backend: str = "onnx-int8") -> EmotionHead:
    return EmotionHead(head_dir, device, backend)
