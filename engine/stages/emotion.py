"""Stage: every turn's emotion, and the one number the mission names: trust in [-1, 1].

Texts of all the calls in a batch go through the text model together (one encoder pass per
``batch_size`` texts, not per call). Where the decoded audio is still attached, each turn's
prosody is measured on its own channel (stereo with a channel map) or the mono mix, and
compared with the same speaker's other turns in the call. Fusion: text gives the direction,
sound the intensity (engine/emotion/fusion.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from wocas.config import EmotionConfig
from wocas.emotion import acoustic
from wocas.emotion.fusion import FusionWeights, fuse, text_valence
from wocas.emotion.text import TextScores, head_scores, lexicon_features, lexicon_scores, load_head
from wocas.schema import CallAnalysis, Emotion, Turn
from wocas.stages.base import Stage, file_digest

log = logging.getLogger(__name__)
INTERRUPTION_SECONDS = 0.3  # starting this long before the other speaker stops = interrupting
INTERRUPTION_AROUSAL = 0.1


def locate_text_model(text_model: str) -> tuple[str, Path | None]:
    """The kind of text model ("lexicon", "head" or "transformers") and its folder."""
    from wocas.models.registry import resolve

    if text_model == "lexicon":
        return "lexicon", None
    path = resolve(text_model).path
    if (path / "adapter.safetensors").exists():
        return "head", path
    if (path / "config.json").exists():
        return "transformers", path
    raise FileNotFoundError(f"emotion text model {path}: neither a WOCAS head (adapter.safetensors) "
                            "nor a transformers model (config.json)")


class EmotionStage(Stage):
    name = "emotion"
    requires = frozenset({"turns", "roles"})
    provides = frozenset({"emotion"})

    def __init__(self, options: EmotionConfig):
        self.options = options
        self.weights = FusionWeights(lexicon_weight=options.lexicon_weight, intensity_gain=options.intensity_gain)
        self._text_model = None
        self._audio_model = None
        self._prosody_ready = False
        self._text_kind, self._text_path = locate_text_model(options.text_model)

    scheduling = frozenset({"batch_size"})  # a turn's vector does not depend on its batch

    @classmethod
    def results_settings(cls, section) -> dict:
        settings = super().results_settings(section)
        for key in ("shape_turnaround", "shape_volatility", "context_model", "shape_words"):  # later stages', not this one's
            settings.pop(key, None)
        return settings

    @classmethod
    def identity(cls, section, encoder) -> str:
        from wocas.models.registry import resolve

        section = section or EmotionConfig()
        kind, path = locate_text_model(section.text_model)
        ident = f"{kind}:{section.text_model}:{file_digest(path / 'config.json') if path else 'none'}"
        if section.audio_model:
            ident += f":{section.audio_model}:{file_digest(resolve(section.audio_model).path / 'config.json')}"
        return ident

    def version(self) -> str:
        return self.version_for(self.options)

    # ---- models ----------------------------------------------------------------------------
    def _text_scores(self, texts: list[str]) -> TextScores:
        if self._text_kind == "lexicon" or not texts:
            return lexicon_scores(texts)
        if self._text_kind == "head":
            head = load_head(str(self._text_path), self.options.device, self.options.text_backend)
            return head_scores(head, texts, self.options.batch_size)
        if self._text_model is None:
            from wocas.emotion.loaders import TextClassifier

            self._text_model = TextClassifier(self._text_path, self.options.text_label_map, self.options.device)
        valence, arousal, probs = self._text_model.scores(texts)
        labels = self._text_model.labels
        categories = [{labels[j]: round(float(p[j]), 3) for j in np.argsort(-p)[:4] if p[j] >= 0.1} for p in probs]
        return TextScores(valence, arousal, probs.max(axis=1), categories)

    def _audio_classifier(self):
        if self._audio_model is None and self.options.audio_model:
            from wocas.emotion.loaders import AudioClassifier
            from wocas.models.registry import resolve

            self._audio_model = AudioClassifier(resolve(self.options.audio_model).path,
                                                self.options.audio_label_map, self.options.device)
        return self._audio_model

    def prefetch(self, calls: list[CallAnalysis]) -> None:
        """Import the prosody libraries (librosa, scipy.signal: ~1.5 s) and compile librosa's
        pitch tracker once, on a second of noise, while ASR runs; only for a batch with audio."""
        if self._prosody_ready or not self.options.acoustic or not any(c.audio is not None for c in calls):
            return
        noise = np.random.default_rng(0).normal(0.0, 0.1, 16000).astype(np.float32)
        acoustic.measure(noise, 16000, ())
        self._prosody_ready = True

    # ---- per call -------------------------------------------------------------------------
    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        return self.process_batch([call])[0]

    def process_batch(self, calls: list[CallAnalysis]) -> list[CallAnalysis]:
        texts = [t.text for c in calls for t in c.turns]
        scores = self._text_scores(texts)
        vader = lexicon_features(texts)[:, 0] if texts else np.zeros(0)
        valence = text_valence(scores.valence, vader, self.weights) if self._text_kind != "lexicon" else scores.valence
        out, offset = [], 0
        for call in calls:
            n = len(call.turns)
            sound = self._acoustic(call)
            turns = []
            for i, turn in enumerate(call.turns):
                k = offset + i
                a_arousal, a_conf, a_valence = sound[i]
                v = float(valence[k]) if a_valence is None else 0.8 * float(valence[k]) + 0.2 * a_valence
                v_, ar, trust, conf = fuse(v, float(scores.arousal[k]), float(scores.confidence[k]), float(vader[k]),
                                           a_arousal, a_conf, len(turn.text.split()), self.weights)
                sources = (("text-head" if self._text_kind == "head" else self._text_kind), "lexicon")
                if a_arousal is not None:
                    sources += ("prosody",) + (("audio-model",) if a_valence is not None else ())
                emotion = Emotion(valence=round(v_, 4), arousal=round(ar, 4), trust=round(trust, 4),
                                  confidence=round(conf, 4), categories=scores.categories[k], sources=sources)
                turns.append(turn.replace(emotion=emotion))
            offset += n
            out.append(call.replace(turns=tuple(turns)))
        return out

    def _acoustic(self, call: CallAnalysis) -> list[tuple[float | None, float, float | None]]:
        """Per turn: (arousal or None, its confidence, audio-model valence or None)."""
        empty = [(None, 0.0, None)] * len(call.turns)
        audio = call.audio
        if audio is None or not call.turns or not (self.options.acoustic or self.options.audio_model):
            return empty
        # Each turn's float32 clip is read from the int16 audio when it is measured and then
        # dropped: holding every turn's clip at once would be a float copy of the whole call.
        result: list[tuple[float | None, float, float | None]] = list(empty)
        if self.options.acoustic:
            measures = [acoustic.measure(_turn_samples(call, t), audio.sample_rate,
                                         [(w.start - t.start, w.end - t.start) for w in t.words])
                        for t in call.turns]
            by_speaker: dict[str, list[int]] = {}
            for i, t in enumerate(call.turns):
                by_speaker.setdefault(t.speaker, []).append(i)
            for idx in by_speaker.values():
                base = acoustic.Baseline.of([measures[i] for i in idx])
                for i in idx:
                    arousal, conf = acoustic.arousal(measures[i], base)
                    if _interrupts(call.turns, i):
                        arousal = min(1.0, arousal + INTERRUPTION_AROUSAL)
                    result[i] = (arousal, conf, None)
        model = self._audio_classifier()
        if model is not None:
            keep = [i for i, t in enumerate(call.turns) if _turn_length(call, t) >= audio.sample_rate // 4]
            for k in range(0, len(keep), AUDIO_MODEL_GROUP):  # the model scores clips one at a time anyway
                group = keep[k:k + AUDIO_MODEL_GROUP]
                valence, arousal, _ = model.scores([_turn_samples(call, call.turns[i]) for i in group],
                                                   audio.sample_rate)
                for j, i in enumerate(group):
                    prosody, conf, _ = result[i]
                    mixed = float(arousal[j]) if prosody is None else 0.5 * (prosody + float(arousal[j]))
                    result[i] = (mixed, max(conf, 0.5), float(valence[j]))
        return result


AUDIO_MODEL_GROUP = 32  # turns whose clips are read at once for the audio model


def _turn_range(call: CallAnalysis, turn: Turn) -> tuple[int, int]:
    audio = call.audio
    assert audio is not None
    lo = max(0, int(turn.start * audio.sample_rate))
    return lo, max(lo, min(audio.num_samples, int(turn.end * audio.sample_rate)))


def _turn_length(call: CallAnalysis, turn: Turn) -> int:
    lo, hi = _turn_range(call, turn)
    return hi - lo


def _turn_samples(call: CallAnalysis, turn: Turn) -> np.ndarray:
    """The turn's float32 samples: its own channel on a multi-channel call, else the mix."""
    audio = call.audio
    assert audio is not None
    lo, hi = _turn_range(call, turn)
    if turn.channel is not None and 0 <= turn.channel < audio.num_channels and audio.num_channels > 1:
        return audio.window(lo, hi, turn.channel)
    return audio.window(lo, hi)


def _interrupts(turns: tuple[Turn, ...], i: int) -> bool:
    turn = turns[i]
    return any(p.speaker != turn.speaker and p.start < turn.start < p.end - INTERRUPTION_SECONDS
               for p in turns[max(0, i - 3):i])
