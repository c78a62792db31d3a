"""benchmarks.gpu_pipeline runs the whole pipeline on CPU with the tiny default model, so the
GPU script does not rot between the sessions that are lent a device."""

import json

from benchmarks import gpu_pipeline


def test_gpu_pipeline_on_cpu_reports_every_stage(tmp_path):
    rc = gpu_pipeline.main(["--copies", "1", "--asr-batch-sizes", "default", "--no-warm-up", "--out", str(tmp_path)])
    assert rc == 0
    data = json.loads((tmp_path / "gpu_pipeline.json").read_text())
    (arm,) = data["arms"]
    samples = 2  # the audio calls of samples/manifest.csv
    assert arm["calls_ok"] == samples and arm["calls_failed"] == 0
    assert arm["audio_seconds"] > 0 and arm["audio_h_per_device_h"] > 0
    from wocas.config import load_config
    from wocas.pipeline import stage_plan

    expected = {cls.name for cls, _ in stage_plan(load_config())} | {"record"}
    assert set(arm["stages"]) == expected
    assert all(seconds > 0 for seconds in arm["stages"].values()), arm["stages"]
    md = (tmp_path / "gpu_pipeline.md").read_text()
    if not data["cuda"]:
        assert gpu_pipeline.NOT_LENT in md and data["device_hour"] == "wall hour on CPU"
