"""The stage contract: batched, pure, declared inputs and outputs."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from wocas.schema import CallAnalysis
from wocas.errors import WocasError

if TYPE_CHECKING:
    from wocas.models.text_encoder import TextEncoder


def digest(data: Any) -> str:
    """A short stable hash of JSON-like data."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:10]


def file_digest(path: Path) -> str:
    """A short hash of a small file (a model's config, a taxonomy); "none" when it is absent."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:8] if path.is_file() else "none"


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
    # Fields of the stage's config section that change how fast it runs, never what it finds
    # (threads, batch sizes): they are left out of its version, so changing them redoes no call.
    scheduling: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def identity(cls, section: BaseModel | None, encoder: TextEncoder | None) -> str:
        """The code and models this stage runs, named cheaply (registry names, small file
        digests): nothing is loaded, so a pipeline's version is known before any stage is built."""
        return f"{cls.name}-1"

    @classmethod
    def results_settings(cls, section: BaseModel | None) -> dict[str, Any]:
        """The settings that change this stage's results: its section less ``scheduling``."""
        return section.model_dump(mode="json", exclude=set(cls.scheduling)) if section is not None else {}

    @classmethod
    def version_for(cls, section: BaseModel | None = None, encoder: TextEncoder | None = None) -> str:
        """What this stage's results depend on, for a config section (and the shared text encoder)."""
        return f"{cls.identity(section, encoder)}@{digest(cls.results_settings(section))}"

    def version(self) -> str:
        """``version_for`` this stage's own section and encoder (stamped on records; the
        pipeline's version is built from its stages' ones)."""
        return self.version_for(None, None)

    def process_batch(self, calls: list[CallAnalysis]) -> list[CallAnalysis]:
        """Enrich a batch; the default runs ``process_call`` on each. Override to batch models."""
        return [self.process_call(call) for call in calls]

    @abstractmethod
    def process_call(self, call: CallAnalysis) -> CallAnalysis:
        ...

    def warm_up(self) -> None:
        """Load models now rather than on the first call (benchmarks, long-lived workers)."""

    def prefetch(self, calls: list[CallAnalysis]) -> None:
        """Load, in a background thread while earlier stages work, what this stage will need
        for ``calls`` (decoded): imports and models. The pipeline waits for it before the
        stage runs, so nothing here races the stage itself; an error is left for the stage
        to raise. Default: nothing."""

    def close(self) -> None:
        """Release models (GPU memory) when the stage is done."""
