"""Stage: each customer turn's trust read in context (engine/emotion/context.py).

Runs right after the emotion stage. The emotion stage scores each turn alone; this stage
replaces a customer turn's ``trust`` with the context head's reading of it (what the turn
answers, where the call stands) and adds "context" to the turn's sources. Agent turns, and
every other emotion field, are left as they are. ``[emotion] context_model = ""`` turns it off.
"""

from __future__ import annotations

import numpy as np

from wocas.config import EmotionConfig
from wocas.emotion.context import customer_contexts, feature_matrix, load_context_head, texts_needed
from wocas.models.text_encoder import TextEncoder, check_dimension
from wocas.schema import CallAnalysis
from wocas.stages.base import Stage, file_digest


def _head_folder(name: str):
    from wocas.models.registry import resolve

    return resolve(name).path


class ContextStage(Stage):
    name = "context"
    requires = frozenset({"turns", "roles", "emotion"})
    provides = frozenset({"context"})

    def __init__(self, options: EmotionConfig, encoder: TextEncoder | None = None):
        self.options = options
        self.folder = _head_folder(options.context_model)
        self.encoder = encoder or TextEncoder()
        self._head = None

    @classmethod
    def results_settings(cls, section) -> dict:
        return {"context_model": section.context_model} if section is not None else {}

    @classmethod
    def identity(cls, section, encoder) -> str:
        section = section or EmotionConfig()
        folder = _head_folder(section.context_model)
        return f"context-1:{file_digest(folder / 'head.npz')}+{(encoder or TextEncoder()).identity()}"

    def version(self) -> str:
        return self.version_for(self.options, self.encoder)

    def head(self):
        if self._head is None:
            self._head = load_context_head(str(self.folder))
            self.encoder = self.encoder.variant(model=self._head.encoder)
        return self._head

    def warm_up(self) -> None:
        self.head()

    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        return self.process_batch([call])[0]

    def process_batch(self, calls: list[CallAnalysis]) -> list[CallAnalysis]:
        head = self.head()
        contexts = [customer_contexts(c) for c in calls]
        texts = texts_needed([x for cs in contexts for x in cs])
        vectors = dict(zip(texts, self.encoder.encode(texts))) if texts else {}
        if vectors:
            check_dimension("trust context head", self.folder, head.encoder, head.dim, self.encoder.model,
                            len(next(iter(vectors.values()))), "[emotion] context_model")
        out = []
        for call, cs in zip(calls, contexts):
            if not cs:
                out.append(call)
                continue
            trust = head.predict(feature_matrix(cs, vectors, head.dim))
            new = {c.turn.index: float(v) for c, v in zip(cs, trust)}
            turns = tuple(
                t.replace(emotion=t.emotion.model_copy(update={
                    "trust": round(new[t.index], 4), "sources": t.emotion.sources + ("context",)}))
                if t.index in new else t
                for t in call.turns)
            out.append(call.replace(turns=turns))
        return out
