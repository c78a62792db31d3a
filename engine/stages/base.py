"""The stage contract: batched, pure, declared inputs and outputs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from wocas.schema import CallAnalysis
from wocas.errors import WocasError


class StageError(WocasError, RuntimeError):
    pass


class Stage(ABC):
    """A step of the pipeline.

    ``requires``/``provides`` name the ``CallAnalysis`` facts a stage reads and writes, so
    ``Pipeline`` can refuse a stage list in the wrong order before any audio is decoded.
    ``audio_only`` stages pass transcript calls through untouched.
    """

    name: ClassVar[str]
    requires: ClassVar[frozenset[str]] = frozenset()
    provides: ClassVar[frozenset[str]] = frozenset()
    audio_only: ClassVar[bool] = False

    def version(self) -> str:
        """Identity of the models and options this stage runs with (stamped on records)."""
        return "1"

    def process_batch(self, calls: list[CallAnalysis]) -> list[CallAnalysis]:
        """Enrich a batch; the default runs ``process_call`` on each. Override to batch models."""
        return [self.process_call(call) for call in calls]

    @abstractmethod
    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        ...

    def warm_up(self) -> None:
        """Load models now rather than on the first call (benchmarks, long-lived workers)."""

    def close(self) -> None:
        """Release models (GPU memory) when the stage is done."""
