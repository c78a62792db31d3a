"""Every kind of bad input fails alone, with a reason naming the file, and is recorded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wocas.io.audio import AudioError, decode
from wocas.cli import main
from wocas.config import ConfigError, load_config
from wocas.store import Store


def make_bad_inputs(folder: Path, data_dir: Path) -> dict[str, str]:
    """Write one file per failure mode; returns {call_id: expected words in the error}."""
    folder.mkdir()
    good = data_dir / "asr/ljspeech_coqui/LJ001-0002.flac"
    shutil.copy(good, folder / "good.flac")
    (folder / "empty.wav").write_bytes(b"")
    (folder / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(range(256)) * 8)
    raw = good.read_bytes()
    (folder / "truncated.flac").write_bytes(raw[:200])
    sf.write(folder / "silent.wav", np.zeros(16000 * 3, dtype=np.float32), 16000)
    sf.write(folder / "zero_length.wav", np.zeros(0, dtype=np.float32), 16000)
    (folder / "notes.xyz").write_text("not audio")
    sf.write(folder / "lowrate.wav", np.random.default_rng(0).normal(0, 0.1, 3000).astype(np.float32), 2000)
    (folder / "badjson.json").write_text('{"call_id": "badjson", "turns": [')
    (folder / "noturns.json").write_text(json.dumps({"call_id": "noturns", "turns": []}))
    (folder / "backwards.json").write_text(json.dumps(
        {"call_id": "backwards", "turns": [{"speaker": "agent", "text": "hi", "start": 5.0, "end": 1.0}]}))
    (folder / "good_chat.jsonl").write_text(
        json.dumps({"call_id": "good_chat", "turns": [{"speaker": "customer", "text": "My card was declined."},
                                                      {"speaker": "agent", "text": "I have unblocked it."}]}) + "\n"
        + "{not json\n"
        + json.dumps({"call_id": "missing_text", "turns": [{"speaker": "agent"}]}) + "\n")
    return {
        "empty": "empty (0 bytes)", "corrupt": "could not be decoded", "truncated": "could not be decoded",
        "silent": "silent", "zero_length": "zero length", "notes": "unsupported file type",
        "lowrate": "sample rate 2000 Hz is too low", "badjson": "invalid JSON",
        "noturns": "no turns", "backwards": "ends (1.0) before it starts", "good_chat-2": "invalid JSON",
        "missing_text": "turns.0.text",
    }


def test_bad_inputs_fail_alone_with_reasons(data_dir, tmp_path):
    folder = tmp_path / "night"
    expected = make_bad_inputs(folder, data_dir)
    out = tmp_path / "out"
    config = tmp_path / "c.toml"
    config.write_text("[emotion]\nenabled = false\n[jobs]\nenabled = false\n[signals]\nenabled = false\n")
    inputs = [str(folder), str(folder / "notes.xyz")]  # a path that does not exist stops the run (test_cli_errors)
    assert main(["run", *inputs, "--out", str(out), "--config", str(config), "--quiet"]) == 1
    with Store(out / "wocas.duckdb", read_only=True) as store:
        rows = {r["call_id"]: r for r in store.query("SELECT call_id, status, error, source FROM calls")}
    assert rows["good"]["status"] == "ok" and rows["good_chat"]["status"] == "ok"
    for call_id, words in expected.items():
        row = rows[call_id]
        assert row["status"] == "failed", call_id
        assert words in row["error"], (call_id, row["error"])
        assert Path(row["source"].split(":")[0]).name in row["error"], (call_id, row["error"])
    # the failure is also in the per-call JSON
    record = json.loads((out / "calls/corrupt.json").read_text())
    assert record["status"] == "failed" and "corrupt.wav" in record["error"]


def test_wrong_channel_map_is_refused(data_dir, tmp_path):
    manifest = tmp_path / "m.csv"
    out = tmp_path / "out"
    config = tmp_path / "c.toml"
    config.write_text("[emotion]\nenabled = false\n")
    manifest.write_text(f"path,call_id,channels\n{data_dir}/calls_synthetic/dialogue_60s_stereo16k.flac,x,\"agent,customer,supervisor\"\n")
    assert main(["run", str(manifest), "--out", str(out), "--config", str(config), "--quiet"]) == 1
    with Store(out / "wocas.duckdb", read_only=True) as store:
        row = store.query("SELECT status, error FROM calls WHERE call_id = 'x'")[0]
    assert row["status"] == "failed" and "channel map names 3 channels" in row["error"]


def test_decode_resamples_any_rate_and_keeps_channels(data_dir, tmp_path):
    audio = decode(data_dir / "asr/faster_whisper/stereo_diarization.wav")
    assert audio.num_channels == 2 and audio.sample_rate == 16000
    eight = tmp_path / "tel.wav"
    sf.write(eight, audio.samples.T[::2], 8000)
    phone = decode(eight)
    assert phone.original_sample_rate == 8000 and phone.sample_rate == 16000
    assert abs(phone.duration - audio.duration) < 0.01


def test_decode_mp3_and_m4a_via_ffmpeg_encoded_copies(data_dir, tmp_path):
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("ffmpeg is not installed to encode the mp3/m4a fixtures")
    import subprocess

    src = data_dir / "asr/faster_whisper/jfk.flac"
    for suffix in (".mp3", ".m4a", ".ogg"):
        target = tmp_path / f"jfk{suffix}"
        subprocess.run([ffmpeg, "-loglevel", "error", "-i", str(src), str(target)], check=True)
        audio = decode(target)
        assert audio.num_channels == 2 and 10.5 < audio.duration < 11.5, suffix


def test_huge_file_is_refused_before_decoding(data_dir):
    with pytest.raises(AudioError, match="over the"):
        decode(data_dir / "asr/faster_whisper/jfk.flac", max_duration=5.0)


def test_config_typos_fail_loudly(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[asr]\nmodle = 'tiny.en'\n")
    with pytest.raises(ConfigError, match="modle"):
        load_config(bad)
    assert main(["run", str(tmp_path), "--out", str(tmp_path / "o"), "--config", str(bad)]) == 2
