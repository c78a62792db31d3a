"""Builds the stage list from config, checks it, and runs batches with per-call isolation.

A stage that raises on a batch is retried call by call, so one bad recording fails alone:
its record gets ``status='failed'`` and an error naming the stage, the file and the reason.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from wocas import __version__
from wocas.config import Config, Section
from wocas.schema import Audio, CallAnalysis
from wocas.errors import ConfigError
from wocas.stages.base import Stage, digest

log = logging.getLogger(__name__)

Hook = Callable[[str, CallAnalysis], None]
TEXT_ENCODER_STAGES = frozenset({"context", "jobs", "signals", "resolution", "satisfaction"})  # built with the shared TextEncoder


class PipelineError(ConfigError):
    pass


def stage_plan(config: Config) -> list[tuple[type[Stage], Section | None]]:
    """The default stages for a config, in order, each with its config section. Importing a
    stage module loads no model (heavy imports happen inside each stage)."""
    from wocas.stages.decode import DecodeStage
    from wocas.stages.diarize import DiarizeStage
    from wocas.stages.metrics import MetricsStage
    from wocas.stages.roles import RolesStage
    from wocas.stages.transcribe import TranscribeStage
    from wocas.stages.turns import TurnsStage

    plan: list[tuple[type[Stage], Section | None]] = [
        (DecodeStage, config.audio),
        (TranscribeStage, config.asr),
        (DiarizeStage, config.diarization),
        (TurnsStage, None),
        (RolesStage, config.roles),
    ]
    if config.redact.enabled:  # right after roles: every later text stage and the store see redacted text
        from wocas.stages.redact import RedactStage

        plan.append((RedactStage, config.redact))
    if config.emotion.enabled:
        from wocas.stages.emotion import EmotionStage

        plan.append((EmotionStage, config.emotion))
        if config.emotion.context_model:
            from wocas.stages.context import ContextStage

            plan.append((ContextStage, config.emotion))
    if config.jobs.enabled:
        from wocas.stages.jobs import JobsStage

        plan.append((JobsStage, config.jobs))
    from wocas.stages.resolution import ResolutionStage

    plan.append((ResolutionStage, config.resolution))  # before signals: an implicit complaint respects the outcome
    if config.signals.enabled:
        from wocas.stages.signals import SignalsStage

        plan.append((SignalsStage, config.signals))
    if config.emotion.enabled:  # after resolution and signals: the closing weighs the outcome
        from wocas.stages.trajectory import TrajectoryStage

        plan.append((TrajectoryStage, config.emotion))
    plan.append((MetricsStage, None))
    if config.satisfaction.enabled:  # near the end: it reads the emotion, signals and metrics stages' facts
        from wocas.stages.satisfaction import SatisfactionStage

        plan.append((SatisfactionStage, config.satisfaction))
    from wocas.stages.flags import FlagsStage  # after satisfaction: its flags read every other stage's facts

    plan.append((FlagsStage, config.flags))
    return plan


def build_stages(config: Config, threads: int = 0, until: str | None = None) -> list[Stage]:
    """The default stage list for a config. ``threads`` (the runner's per-process thread
    budget; 0 = the libraries decide) goes to the ASR stage when ``[asr] cpu_threads`` does
    not set its own. One ``TextEncoder`` is built here and shared by the text stages. With
    ``until``, the list stops after the stage of that name (training scripts: the later stages'
    models need not exist yet)."""
    from wocas.models.text_encoder import TextEncoder

    encoder = TextEncoder.from_config(config.text_encoder)
    stages: list[Stage] = []
    for cls, section in stage_plan(config):
        if cls.name in TEXT_ENCODER_STAGES:
            stages.append(cls(section, encoder))
        elif section is None:
            stages.append(cls())
        elif cls.name == "transcribe":
            stages.append(cls(section, threads))
        elif cls.name == "decode":
            stages.append(cls(section, config.run))
        else:
            stages.append(cls(section))
        if cls.name == until:
            break
    return stages


def stage_versions(config: Config) -> dict[str, str]:
    """Each stage's version for a config, without building any stage (no model is loaded)."""
    from wocas.models.text_encoder import TextEncoder

    encoder = TextEncoder.from_config(config.text_encoder)
    return {cls.name: cls.version_for(section, encoder) for cls, section in stage_plan(config)}


def version_of(versions: dict[str, str]) -> str:
    """The pipeline's version: the engine's version + a hash of its stages' versions, so only
    a setting that changes some stage's results (never threads, batch sizes, workers, or the
    ``[customers]``/``[insights]`` roll-ups) makes stored calls out of date."""
    return f"{__version__}+{digest(versions)}"


def pipeline_version(config: Config) -> str:
    """What a stored result was made with (see ``version_of``)."""
    return version_of(stage_versions(config))


def check_order(stages: list[Stage], initial: frozenset[str] = frozenset({"call"})) -> None:
    have = set(initial)
    for stage in stages:
        missing = stage.requires - have
        if missing:
            raise PipelineError(f"stage {stage.name!r} needs {sorted(missing)}, which no earlier stage provides")
        have |= stage.provides


class Prefetch:
    """The stages' ``prefetch`` run in order in one daemon thread; ``wait(stage)`` returns once
    that stage's prefetch is over (``wait(None)``: all of them)."""

    def __init__(self, stages: list[Stage], calls: list[CallAnalysis]):
        self.done = {id(stage): threading.Event() for stage in stages}
        self.thread = threading.Thread(target=self._run, args=(stages, [c for c in calls if c.ok]),
                                       name="wocas-prefetch", daemon=True)
        self.thread.start()

    def _run(self, stages: list[Stage], calls: list[CallAnalysis]) -> None:
        for stage in stages:
            try:
                stage.prefetch(calls)
            except Exception as e:  # the stage raises it again, on its calls, when it runs
                log.debug("prefetch for %s failed: %s", stage.name, e)
            finally:
                self.done[id(stage)].set()

    def wait(self, stage: Stage | None) -> None:
        if stage is None:
            self.thread.join()
        elif id(stage) in self.done:
            self.done[id(stage)].wait()


class Pipeline:
    def __init__(self, stages: list[Stage], config: Config):
        check_order(stages)
        self.stages = stages
        self.config = config
        self.stage_versions = {s.name: s.version() for s in stages}
        self.version = version_of(self.stage_versions)

    @classmethod
    def from_config(cls, config: Config, threads: int = 0) -> "Pipeline":
        return cls(build_stages(config, threads), config)

    def process(self, calls: list[CallAnalysis], hook: Hook | None = None,
                stages: list[Stage] | None = None, release_audio: bool = True) -> list[CallAnalysis]:
        """Run every stage (or only ``stages``, a slice a distributed runner runs on one worker)
        over a batch; returns the batch in the same order, audio released: a spooled call's
        temporary file is deleted here, whether the call succeeded, failed or timed out
        (``release_audio=False``: a caller that hands the audio on releases it itself).

        Once the first stage has run (the audio is decoded), the later stages' ``prefetch``
        runs in a background thread: the diarizer and the prosody libraries load while ASR
        works (CTranslate2 releases the GIL). Each stage waits for its own prefetch first."""
        plan = self.stages if stages is None else stages
        prefetch: Prefetch | None = None
        held: dict[int, Audio] = {}  # every call's audio seen, released at the end
        try:
            for position, stage in enumerate(plan):
                if prefetch is not None:
                    prefetch.wait(stage)
                calls = self._run_stage(stage, calls, hook)
                held.update((id(c.audio), c.audio) for c in calls if c.audio is not None)
                if position == 0 and len(plan) > 1 and any(c.ok for c in calls):
                    prefetch = Prefetch(plan[1:], calls)
        finally:
            if prefetch is not None:
                prefetch.wait(None)
            if release_audio:
                for audio in held.values():
                    audio.release()
        versions = {"pipeline": self.version, "config": self.config.fingerprint(), **self.stage_versions}
        return [c.replace(audio=None, versions=versions) for c in calls]

    def _run_stage(self, stage: Stage, calls: list[CallAnalysis], hook: Hook | None) -> list[CallAnalysis]:
        calls = list(calls)
        todo = [i for i, c in enumerate(calls) if c.ok and not (stage.audio_only and c.call.kind != "audio")]
        if todo:
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
                    result = result.replace(timings=timings)
                elif calls[i].audio is not None:
                    calls[i].audio.release()  # a failed call's spooled audio goes now, not with its batch
                calls[i] = result
                if hook is not None:
                    hook(stage.name, result)
        return calls

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
