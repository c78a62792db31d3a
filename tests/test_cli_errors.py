"""Errors become exit codes at one place: one line ``wocas: error: ...``, no traceback.

2: a bad config, model name or input path (nothing run, nothing written); 3: the store is held by
another process; 4: the inputs exist but hold no call; 1 only when real calls failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wocas.cli import main
from wocas.errors import ConfigError, ExitCode, InputError, ModelError, StoreLocked, UsageError, WocasError

LEAN = "[emotion]\nenabled = false\n[jobs]\nenabled = false\n[signals]\nenabled = false\n[satisfaction]\nenabled = false\n"


def transcript(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "chat.json"
    path.write_text(json.dumps({"call_id": "chat", "turns": [
        {"speaker": "customer", "text": "My card was declined."},
        {"speaker": "agent", "text": "I have unblocked it."}]}))
    return path


def error_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_misspelt_model_name_exits_2_with_a_suggestion_and_no_traceback(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[asr]\nmodel = "tiny.enn"\n')
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(Path(__file__).parents[1] / ".pyshim"),
                                                                   os.environ.get("PYTHONPATH", "")) if p)}
    proc = subprocess.run([sys.executable, "-m", "wocas.cli", "run", str(transcript(tmp_path / "in")),
                           "--out", str(out), "--config", str(config), "--quiet"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wocas: error: ")
    assert str(config) in lines[0] and "[asr] model" in lines[0] and "did you mean 'tiny.en'" in lines[0]
    assert not out.exists()


def test_misspelt_head_name_names_the_key_and_the_registered_name(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text('[jobs]\nhead = "intents-bankin77"\n')
    assert main(["run", str(transcript(tmp_path / "in")), "--out", str(tmp_path / "out"),
                 "--config", str(config), "--quiet"]) == 2
    [line] = error_lines(capsys)
    assert "[jobs] head" in line and "did you mean 'intents-banking77'" in line


def test_a_model_path_that_does_not_exist_is_a_config_error(tmp_path):
    from wocas.config import load_config

    config = tmp_path / "c.toml"
    config.write_text(f'[signals]\ncomplaint_head = "{tmp_path / "no-head"}"\n')
    with pytest.raises(ConfigError, match=r"\[signals\] complaint_head .*no-head.*not an existing path"):
        load_config(config)


def test_unknown_config_key_is_one_line_with_key_file_and_suggestion(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text("[diarization]\nnum_speaker = 2\n")
    assert main(["run", str(transcript(tmp_path / "in")), "--out", str(tmp_path / "out"),
                 "--config", str(config), "--quiet"]) == 2
    [line] = error_lines(capsys)
    assert line == (f"wocas: error: {config}: unknown key 'num_speaker' in [diarization]; "
                    "did you mean 'num_speakers'?")
    assert "pydantic" not in line and "http" not in line


def test_wrong_type_and_unknown_section_are_one_line_each(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text('[asr]\nbeam_size = "five"\n[redcat]\nenabled = false\n')
    assert main(["customers", "--out", str(tmp_path), "--config", str(config), "--store", str(config)]) == 2
    lines = error_lines(capsys)
    assert len(lines) == 2, lines
    assert any("[asr] beam_size" in line and "'five'" in line for line in lines)
    assert any("unknown section [redcat]" in line and "did you mean 'redact'" in line for line in lines)


def test_missing_input_path_exits_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "out"
    real = transcript(tmp_path / "in")
    missing = tmp_path / "night-of-the-5th"
    assert main(["run", str(real), str(missing), "--out", str(out), "--quiet"]) == 2
    [line] = error_lines(capsys)
    assert line.startswith("wocas: error: ") and str(missing) in line and str(real) not in line
    assert not out.exists()


def test_empty_input_folder_exits_4_with_a_warning(tmp_path, capsys):
    empty = tmp_path / "recordings"
    empty.mkdir()
    (empty / "readme.txt").write_text("not a call")
    out = tmp_path / "out"
    assert main(["run", str(empty), "--out", str(out), "--quiet"]) == ExitCode.NO_INPUT == 4
    [line] = error_lines(capsys)
    assert line.startswith("wocas: warning: ") and str(empty) in line
    assert not out.exists()


def test_store_held_by_another_process_exits_3(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    store = out / "wocas.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); "
                               "print('ready', flush=True); time.sleep(120)", str(store)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        config = tmp_path / "c.toml"
        config.write_text(LEAN)
        assert main(["run", str(transcript(tmp_path / "in")), "--out", str(out), "--config", str(config),
                     "--quiet"]) == ExitCode.STORE_LOCKED == 3
        [line] = error_lines(capsys)
        assert line.startswith("wocas: error: ") and "in use by another wocas process" in line
    finally:
        holder.kill()
        holder.wait()


def test_a_read_command_on_a_missing_store_exits_2(tmp_path, capsys):
    assert main(["runs", "--out", str(tmp_path / "nowhere")]) == 2
    [line] = error_lines(capsys)
    assert "no store at" in line


def test_every_deliberate_error_is_a_wocas_error_and_keeps_its_builtin_base():
    from wocas.analytics.calibration import SurveyError
    from wocas.analytics.outcomes import OutcomesError
    from wocas.bench import BenchError
    from wocas.config import ConfigError as ConfigErrorFromConfig
    from wocas.emotion.labels import LabelMapError
    from wocas.io.audio import AudioError
    from wocas.io.ingest import InputError as IngestInputError
    from wocas.models.onnx_encoder import OnnxExportError
    from wocas.models.parts import ModelPartsError
    from wocas.models.registry import ModelNotFound
    from wocas.models.text_encoder import TextEncoderError
    from wocas.pipeline import PipelineError
    from wocas.reasons.taxonomy import TaxonomyError
    from wocas.runners.local import WorkerSetupError
    from wocas.stages.base import StageError

    assert ConfigErrorFromConfig is ConfigError and IngestInputError is InputError
    expected = {SurveyError: ValueError, OutcomesError: ValueError, BenchError: RuntimeError,
                LabelMapError: KeyError, AudioError: ValueError, OnnxExportError: RuntimeError,
                ModelPartsError: LookupError, ModelNotFound: ModelError, TextEncoderError: ValueError,
                PipelineError: ValueError, TaxonomyError: ValueError, WorkerSetupError: RuntimeError,
                StageError: RuntimeError, ConfigError: ValueError}
    for error, builtin in expected.items():
        assert issubclass(error, WocasError) and issubclass(error, builtin), error
    assert issubclass(BenchError, UsageError) and AudioError.exit_code == ExitCode.CALLS_FAILED


def test_bench_outside_a_checkout_is_a_usage_error(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / ".pyshim")}
    proc = subprocess.run([sys.executable, "-m", "wocas.cli", "bench", "--suite", "pii", "--out", str(tmp_path / "b")],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == ("wocas: error: the benchmarks package is not importable: run `wocas bench` "
                                   "from a project checkout (the folder holding benchmarks/)")
