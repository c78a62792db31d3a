"""Builds the stage list from config, checks it, and runs batches with per-call isolation.

A stage that raises on a batch is retried call by call, so one bad recording fails alone:
its record gets ``status='failed'`` and an error naming the stage, the file and the reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from wocas import __version__
from wocas.config import Config
from wocas.schema import CallAnalysis
from wocas.stages.base import Stage
from wocas.errors import ConfigError

log = logging.getLogger(__name__)

Hook = Callable[[str, CallAnalysis], None]


class PipelineError(ConfigError):
    pass


def pipeline_version(config: Config) -> str:
    """What a stored result was made with: engine version + everything in config that changes results."""
    return f"{__version__}+{config.fingerprint()}"


def build_stages(config: Config) -> list[Stage]:
    """The default stage list for a config. Heavy imports happen inside each stage."""
    from wocas.stages.decode import DecodeStage
    from wocas.stages.diarize import DiarizeStage
    from wocas.stages.metrics import MetricsStage
    from wocas.stages.roles import RolesStage
    from wocas.stages.transcribe import TranscribeStage
    from wocas.stages.turns import TurnsStage
    from wocas.models.text_encoder import configure

    configure(config.text_encoder.model, config.text_encoder.backend, config.text_encoder.device)
    stages: list[Stage] = [
        DecodeStage(config.audio),
        TranscribeStage(config.asr),
        DiarizeStage(config.diarization),
        TurnsStage(),
        RolesStage(config.roles),
    ]
    if config.redact.enabled:  # right after roles: every later text stage and the store see redacted text
        from wocas.stages.redact import RedactStage

        stages.append(RedactStage(config.redact))
    if config.emotion.enabled:
        from wocas.stages.emotion import EmotionStage
        from wocas.stages.trajectory import TrajectoryStage

        stages += [EmotionStage(config.emotion), TrajectoryStage(config.emotion)]
    if config.jobs.enabled:
        from wocas.stages.jobs import JobsStage

        stages.append(JobsStage(config.jobs))
    if config.signals.enabled:
        from wocas.stages.signals import SignalsStage

        stages.append(SignalsStage(config.signals))
    stages.append(MetricsStage())
    if config.satisfaction.enabled:  # last: it reads the emotion, signals and metrics stages' facts
        from wocas.stages.satisfaction import SatisfactionStage

        stages.append(SatisfactionStage(config.satisfaction))
    return stages


def check_order(stages: list[Stage], initial: frozenset[str] = frozenset({"call"})) -> None:
    have = set(initial)
    for stage in stages:
        missing = stage.requires - have
        if missing:
            raise PipelineError(f"stage {stage.name!r} needs {sorted(missing)}, which no earlier stage provides")
        have |= stage.provides


class Pipeline:
    def __init__(self, stages: list[Stage], config: Config):
        check_order(stages)
        self.stages = stages
        self.config = config
        self.stage_versions = {s.name: s.version() for s in stages}
        self.version = pipeline_version(config)

    @classmethod
    def from_config(cls, config: Config) -> "Pipeline":
        return cls(build_stages(config), config)

    def process(self, calls: list[CallAnalysis], hook: Hook | None = None,
                stages: list[Stage] | None = None) -> list[CallAnalysis]:
        """Run every stage (or only ``stages``, a slice a distributed runner runs on one worker)
        over a batch; returns the batch in the same order, audio released."""
        for stage in self.stages if stages is None else stages:
            todo = [i for i, c in enumerate(calls) if c.ok and not (stage.audio_only and c.call.kind != "audio")]
            if not todo:
                continue
            batch = [calls[i] for i in todo]
            if type(stage).process_batch is Stage.process_batch:
                timed = [self._run_one(stage, call) for call in batch]
            else:
                started = time.perf_counter()
                try:
                    results = stage.process_batch(batch)
                except Exception:  # find the bad call(s): redo them one by one
                    timed = [self._run_one(stage, call) for call in batch]
                else:
                    share = (time.perf_counter() - started) / len(batch)
                    timed = [(r, share) for r in results]
            for i, (result, seconds) in zip(todo, timed):
                if result.ok:
                    timings = {**result.timings, stage.name: round(result.timings.get(stage.name, 0) + seconds, 4)}
                    result = result.model_copy(update={"timings": timings})
                calls[i] = result
                if hook is not None:
                    hook(stage.name, result)
        versions = {"pipeline": self.version, "config": self.config.fingerprint(), **self.stage_versions}
        return [c.model_copy(update={"audio": None, "versions": versions}) for c in calls]

    @staticmethod
    def _run_one(stage: Stage, call: CallAnalysis) -> tuple[CallAnalysis, float]:
        """(result, seconds): the call enriched, or failed with a reason naming its file."""
        started = time.perf_counter()
        try:
            return stage.process_call(call), time.perf_counter() - started
        except Exception as e:
            reason = str(e)
            if call.call.source not in reason:
                reason = f"{call.call.source}: {reason}" if reason else f"{call.call.source}: {type(e).__name__}"
            log.warning("call %s failed in %s: %s", call.call_id, stage.name, reason)
            return call.failed(stage.name, reason), time.perf_counter() - started

    def warm_up(self) -> None:
        for stage in self.stages:
            stage.warm_up()

    def close(self) -> None:
        for stage in self.stages:
            stage.close()
