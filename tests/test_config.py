"""The resolved config written beside each run is valid TOML that loads back to the same config."""

from __future__ import annotations

import tomllib

from wocas.config import Config, load_config


def test_resolved_config_round_trips(tmp_path):
    config = Config.model_validate({"asr": {"beam_size": 2}, "diarization": {"num_speakers": 0}})
    path = tmp_path / "resolved.toml"
    path.write_text(config.to_toml())
    tomllib.loads(path.read_text())
    assert load_config(path).fingerprint() == config.fingerprint()


def test_fingerprint_ignores_how_many_workers_run():
    assert Config.model_validate({"run": {"workers": 4}}).fingerprint() == Config().fingerprint()
    assert Config.model_validate({"asr": {"beam_size": 1}}).fingerprint() != Config().fingerprint()
