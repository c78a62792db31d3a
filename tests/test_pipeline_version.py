"""The pipeline version is built from each stage's own version: only a setting that changes
some stage's results makes stored calls out of date; scheduling and roll-up settings never do."""

from __future__ import annotations

from pathlib import Path

from test_runners import write_transcripts

from wocas.config import load_config
from wocas.pipeline import Pipeline, pipeline_version, stage_versions
from wocas.runners.local import LocalRunner
from wocas.store.store import Store

ROOT = Path(__file__).resolve().parent.parent
SCHEDULING = {"asr": {"cpu_threads": 3}, "emotion": {"batch_size": 7}, "customers": {"rescue_from": -0.5},
              "insights": {"currency": "£", "spike_z": 2.0},
              "run": {"workers": 3, "threads_per_worker": 1, "batch_size": 2}}


def test_scheduling_and_roll_up_settings_leave_the_version_alone() -> None:
    base = load_config()
    assert pipeline_version(load_config(None, SCHEDULING)) == pipeline_version(base)
    for changed in ({"asr": {"beam_size": 1}}, {"emotion": {"text_model": "lexicon"}},
                    {"text_encoder": {"backend": "onnx"}}, {"jobs": {"other_threshold": 0.5}},
                    {"emotion": {"shape_turnaround": 0.4}}, {"redact": {"enabled": False}}):
        assert pipeline_version(load_config(None, changed)) != pipeline_version(base), changed


def test_only_the_stages_whose_results_change_get_a_new_version() -> None:
    base = stage_versions(load_config())

    def changed(overrides: dict) -> set[str]:
        other = stage_versions(load_config(None, overrides))
        return {name for name in base if other.get(name) != base[name]}

    assert changed({"asr": {"beam_size": 1}}) == {"transcribe"}
    assert changed({"emotion": {"shape_volatility": 0.7}}) == {"trajectory"}
    assert changed({"emotion": {"text_model": "lexicon"}}) == {"emotion"}
    assert changed({"emotion": {"context_model": ""}}) == {"context", "trajectory"}
    assert changed({"text_encoder": {"backend": "torch"}}) == {"context", "jobs", "signals", "resolution", "satisfaction"}
    assert changed(SCHEDULING) == set()


def test_a_built_pipeline_has_the_version_its_config_names() -> None:
    """Runners look calls up by ``pipeline_version(config)`` before building any stage, and stamp
    the records with the built pipeline's version: the two must agree."""
    config = load_config(None, {"emotion": {"text_model": "lexicon"}, "asr": {"beam_size": 2}})
    pipeline = Pipeline.from_config(config, threads=1)
    try:
        assert pipeline.stage_versions == stage_versions(config)
        assert pipeline.version == pipeline_version(config)
    finally:
        pipeline.close()


def test_a_rerun_after_a_scheduling_change_skips_every_done_call(tmp_path: Path, data_dir: Path) -> None:
    calls = tmp_path / "calls.jsonl"
    ids = write_transcripts(calls, data_dir, 3)
    inputs = [str(calls), str(ROOT / "samples" / "chats.jsonl")]
    first_config = load_config()
    with Store(tmp_path / "w.duckdb") as store:
        first = LocalRunner(first_config, tmp_path / "out", store).run(inputs, "r1")
        assert (first.ok, first.failed, first.skipped) == (len(ids) + 1, 0, 0)

        again = LocalRunner(load_config(None, SCHEDULING | {"run": {"threads_per_worker": 1}}),
                            tmp_path / "out", store).run(inputs, "r2")
        assert (again.ok, again.failed, again.skipped) == (0, 0, len(ids) + 1)

        beam = load_config(None, {"asr": {"beam_size": 1}})
        redone = LocalRunner(beam, tmp_path / "out", store).run(inputs, "r3")
        assert (redone.ok, redone.skipped) == (len(ids) + 1, 0)
        stamps = {r["pipeline_version"] for r in store.query("SELECT pipeline_version FROM calls")}
    assert stamps == {pipeline_version(beam)} and pipeline_version(beam) != pipeline_version(first_config)
