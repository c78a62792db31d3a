"""The Ray runner: the same stages and the same records as the local runner, on a Ray cluster.

The driver (this process) streams calls from the inputs, skips finished ones exactly as the
local runner does, and hands them to Ray Data in windows of ``window`` calls. Each window
is one Ray Data pipeline: the stage list is cut into groups of consecutive stages, model
stages (ASR) run as an actor pool (two actors per GPU, ``num_gpus=0.5``, when the cluster has
GPUs), the other stages as tasks, and calls travel between groups as pickled
``CallAnalysis`` blobs (audio included, so the diarizer after ASR still has it). Results
stream back to the driver, which alone writes the store, batch by batch, so a killed run
resumes like a local one.

Workers must see the recordings at the same paths as the driver (shared storage) and have
the same wocas installed; see the README for starting a cluster of GPU nodes.
"""

from __future__ import annotations

import logging
import pickle
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wocas.config import Config
from wocas.errors import UsageError
from wocas.pipeline import Pipeline, build_stages
from wocas.runners.recording import CallRecorder, ProgressFn, RunSummary, batched
from wocas.schema import CallAnalysis
from wocas.stages.base import Stage
from wocas.store import Store

log = logging.getLogger(__name__)

MODEL_STAGES = frozenset({"transcribe"})  # heavy models: an actor pool that loads them once
# One ASR worker leaves the GPU idle while it runs VAD, features and word alignment on the
# CPU; two per GPU gave 1.5x (large-v3 on an H100, benchmarks/results/gpu_throughput.md).
ASR_ACTORS_PER_GPU = 2


@dataclass(frozen=True)
class Group:
    """Stages ``start:end`` of the stage list, run as an actor pool or as tasks."""

    start: int
    end: int
    names: tuple[str, ...]
    actor: bool


def plan_groups(stages: list[Stage]) -> list[Group]:
    """Consecutive stages with the same kind (model actor or plain task) form one group."""
    groups: list[Group] = []
    for i, stage in enumerate(stages):
        actor = stage.name in MODEL_STAGES
        if groups and groups[-1].actor == actor:
            last = groups[-1]
            groups[-1] = Group(last.start, i + 1, last.names + (stage.name,), actor)
        else:
            groups.append(Group(i, i + 1, (stage.name,), actor))
    return groups


class StageGroup:
    """A slice of the pipeline, run by ``Pipeline.process`` over stages ``start:end`` only
    (per-call failure isolation, timings, every stage's version in the record); a group that
    is not the last puts each call's audio back for the next one."""

    def __init__(self, config: Config, start: int, end: int):
        every = build_stages(config)
        self.pipeline = Pipeline(every, config)  # checks the whole order; knows every version
        self.stages = every[start:end]
        for stage in every[:start] + every[end:]:
            stage.close()
        self.last = end == len(every)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        calls = [pickle.loads(blob) for blob in batch["call"]]
        audio: dict[str, object] = {}

        def keep_audio(stage_name: str, call: CallAnalysis) -> None:  # noqa: ARG001
            audio[call.call_id] = call.audio

        # A group that hands the audio on keeps it open: pickled, a spooled call carries its samples.
        done = self.pipeline.process(calls, hook=None if self.last else keep_audio, stages=self.stages,
                                     release_audio=self.last)
        if not self.last:
            done = [c.replace(audio=audio.get(c.call_id, orig.audio) if c.ok else None, versions=orig.versions)
                    for c, orig in zip(done, calls)]
        return {"call": np.array([pickle.dumps(c) for c in done], dtype=object)}


_task_groups: dict[tuple[str, int, int], StageGroup] = {}


def run_group_task(batch: dict[str, np.ndarray], config_json: str, start: int, end: int) -> dict[str, np.ndarray]:
    """A Ray task: the worker process keeps its stage group between tasks (models load once)."""
    key = (config_json, start, end)
    if key not in _task_groups:
        _task_groups[key] = StageGroup(Config.model_validate_json(config_json), start, end)
    return _task_groups[key](batch)


# Ray's C++ core worker writes error-level lines (e.g. core_worker.cc about actor constructor
# arguments) to the driver's stderr on every healthy run. Set before ``ray.init``; an operator's
# own value wins, so RAY_BACKEND_LOG_LEVEL=info brings them back for debugging.
RAY_QUIET_ENV = {"RAY_BACKEND_LOG_LEVEL": "fatal"}


def quiet_ray() -> None:
    import os

    for key, value in RAY_QUIET_ENV.items():
        os.environ.setdefault(key, value)


def quiet_ray_loggers() -> None:
    """Ray's Python notices (token auth on by default, Ray Data's INFO plan lines, "progress bars
    disabled") off the terminal; Ray Data keeps them in its session log files. Call after
    ``import ray.data``, which sets its own levels."""
    for name, level in (("ray", logging.WARNING), ("ray._private.authentication", logging.ERROR),
                        ("ray.data", logging.ERROR)):
        logging.getLogger(name).setLevel(level)


class RayRunner:
    """Runs the stage groups on Ray Data in windows of calls; the recorder (the same as the
    local runner's) skips finished calls and writes each result batch."""

    def __init__(self, config: Config, out_dir: Path, store: Store, force: bool = False,
                 on_call: ProgressFn | None = None, replace: bool = False,
                 address: str | None = None, window: int = 0,
                 asr_actors_per_gpu: int = ASR_ACTORS_PER_GPU):
        self.config = config
        self.recorder = CallRecorder(config, out_dir, store, force=force, on_call=on_call, replace=replace)
        self.address = address
        self.asr_actors_per_gpu = max(1, asr_actors_per_gpu)
        self.window = window or max(256, 32 * config.run.batch_size)

    def run(self, inputs: list[str], run_id: str, summary: RunSummary | None = None) -> RunSummary:
        """Counts land in ``summary`` (a new one if None) as calls are recorded, so a crash keeps them."""
        quiet_ray()
        try:
            import ray
        except ImportError as e:
            raise UsageError("--runner ray needs Ray: pip install 'ray[data]' (see pyproject.toml)") from e
        quiet_ray_loggers()
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
        try:
            return self._run(inputs, run_id, summary)
        finally:
            if started_here:
                ray.shutdown()

    def _run(self, inputs: list[str], run_id: str, summary: RunSummary | None) -> RunSummary:
        import ray

        ray.data.DataContext.get_current().enable_progress_bars = False
        quiet_ray_loggers()
        gpus = int(ray.cluster_resources().get("GPU", 0))
        stages = build_stages(self.config)
        groups = plan_groups(stages)
        for stage in stages:
            stage.close()
        log.info("ray: %s; groups %s", ray.cluster_resources(),
                 [("actor" if g.actor else "task", g.names) for g in groups])

        summary = summary if summary is not None else RunSummary(run_id=run_id)
        started = time.perf_counter()
        for window in batched(self.recorder.pending(inputs, summary), self.window):
            for results in self._run_window(window, groups, gpus):
                self.recorder.record(results, summary)
        summary.wall_seconds = time.perf_counter() - started
        return summary

    def _run_window(self, calls: list[CallAnalysis], groups: list[Group], gpus: int) -> Iterator[list[CallAnalysis]]:
        import ray

        batch_size = self.config.run.batch_size
        blocks = max(1, min(len(calls) // batch_size, 200))
        ds = ray.data.from_items([{"call": pickle.dumps(c)} for c in calls], override_num_blocks=blocks)
        config_json = self.config.model_dump_json()
        for group in groups:
            if group.actor:
                actors = gpus * self.asr_actors_per_gpu if gpus else max(1, self.config.run.workers)
                ds = ds.map_batches(StageGroup, batch_size=batch_size, batch_format="numpy",
                                    fn_constructor_kwargs={"config": self.config, "start": group.start,
                                                           "end": group.end},
                                    compute=ray.data.ActorPoolStrategy(size=actors),
                                    num_gpus=1 / self.asr_actors_per_gpu if gpus else 0, num_cpus=1)
            else:
                ds = ds.map_batches(run_group_task, batch_size=batch_size, batch_format="numpy",
                                    fn_kwargs={"config_json": config_json, "start": group.start,
                                               "end": group.end},
                                    num_cpus=1)
        for batch in ds.iter_batches(batch_size=batch_size, batch_format="numpy"):
            yield [pickle.loads(blob) for blob in batch["call"]]
