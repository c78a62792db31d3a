"""More bad inputs of a real night (issue 23), each run through ``wocas run`` in one batch with
good calls: the good calls are stored ok, the bad ones fail alone with the file and the reason
(or, for audio that can still be analysed, are stored ok with a warning), and nothing crashes."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from wocas.cli import main
from wocas.io.exports import safe_name
from wocas.store.store import Store

# Text stages only, and every call in one stage batch: a duplicate id in one batch used to
# break the store's one transaction.
TEXT_ONLY = "[emotion]\nenabled = false\n[jobs]\nenabled = false\n[signals]\nenabled = false\n[run]\nbatch_size = 64\n"


def chat(call_id: str, text: str = "My card was declined again.") -> dict:
    return {"call_id": call_id, "turns": [{"speaker": "customer", "text": text, "start": 0.0, "end": 3.0},
                                          {"speaker": "agent", "text": "I have unblocked it for you.",
                                           "start": 3.0, "end": 6.0}]}


def write_json(path: Path, obj: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


def run(inputs: list[Path], out: Path, config_text: str) -> tuple[int, dict[str, dict]]:
    config = out.parent / f"{out.name}.toml"
    config.write_text(config_text)
    code = main(["run", *map(str, inputs), "--out", str(out), "--config", str(config), "--quiet"])
    with Store(out / "wocas.duckdb", read_only=True) as store:
        rows = store.query("SELECT call_id, status, error, source, flags, metadata FROM calls")
    return code, {r["call_id"]: r for r in rows}


def assert_failed(rows: dict[str, dict], call_id: str, *words: str) -> None:
    row = rows[call_id]
    assert row["status"] == "failed", (call_id, row)
    for word in words:
        assert word in row["error"], (call_id, word, row["error"])


def make_text_night(root: Path) -> tuple[list[Path], list[str]]:
    """Bad transcripts and manifests beside good ones; returns (inputs, ids that must be ok)."""
    night = root / "night"
    write_json(night / "good1.json", chat("good1"))
    write_json(night / "x_slash.json", chat("x/y"))
    write_json(night / "x_under.json", chat("x_y"))
    nan = json.dumps(chat("nan_times")).replace('"start": 0.0', '"start": NaN', 1)
    (night / "nan_times.json").write_text(nan)
    (night / "inf_times.json").write_text(json.dumps(chat("inf_times")).replace('"end": 3.0', '"end": Infinity', 1))
    (night / "huge_times.json").write_text(json.dumps(chat("huge_times")).replace('"end": 3.0', '"end": 1e999', 1))
    deep = json.dumps(chat("deep"))[:-1] + ', "extra": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (night / "deep.json").write_text(deep)
    write_json(night / "dup_a.json", chat("dup"))
    write_json(night / "dup_b.json", chat("dup", "A different call with the same id."))
    os.symlink(night / "nowhere.wav", night / "gone.wav")  # a broken link
    (night / "folder.wav").mkdir()  # a directory named like a recording
    # a JSONL manifest: a good row, then an invalid line and a row that is not an object
    refs = root / "refs"
    write_json(refs / "jl_good.json", chat("jl_good"))
    (night / "m.jsonl").write_text(json.dumps({"path": str(refs / "jl_good.json")}) + "\n{not json\n[1, 2]\n")

    manifests = root / "manifests"
    manifests.mkdir()
    for name in ("bom1", "bom2", "rag_good", "lat_good"):
        write_json(refs / f"{name}.json", chat(name))
    (manifests / "bom.csv").write_bytes(
        f"\ufeffpath,call_id\n{refs / 'bom1.json'},bom1\n{refs / 'bom2.json'},bom2\n".encode("utf-8"))
    (refs / "adir").mkdir()
    (manifests / "ragged.csv").write_text(
        f"path,call_id\n{refs / 'rag_good.json'},rag_good\n{refs / 'x.wav'},ragged,extra\n{refs / 'adir'},dirrow\n")
    (manifests / "latin1.csv").write_bytes(
        f"path,call_id\n{refs / 'café.wav'},cafe\n{refs / 'lat_good.json'},lat_good\n".encode("latin-1"))
    (manifests / "noheader.csv").write_text(f"{refs / 'bom1.json'},bom1\n")
    inputs = [night, *sorted(manifests.iterdir())]
    return inputs, ["good1", "x/y", "x_y", "dup", "jl_good", "bom1", "bom2", "rag_good", "lat_good"]


def test_bad_transcripts_and_manifests_fail_alone_in_one_batch(tmp_path):
    inputs, good = make_text_night(tmp_path)
    out = tmp_path / "out"
    code, rows = run(inputs, out, TEXT_ONLY)
    assert code == 1  # some calls failed; the run itself finished
    for call_id in good:
        assert rows[call_id]["status"] == "ok", (call_id, rows[call_id]["error"])
    assert_failed(rows, "nan_times", "nan_times.json", "NaN")
    assert_failed(rows, "inf_times", "inf_times.json", "Infinity")
    assert_failed(rows, "huge_times", "huge_times.json", "finite")
    assert_failed(rows, "deep", "deep.json", "nested too deeply")
    # the first input keeps the id; the second is failed under its own id, both files named
    assert rows["dup"]["source"].endswith("dup_a.json")
    assert_failed(rows, "dup#duplicate-2", "dup_b.json", "duplicate call_id 'dup'", "dup_a.json")
    assert_failed(rows, "gone", "gone.wav", "broken symbolic link")
    assert_failed(rows, "folder", "folder.wav", "is a directory")
    assert_failed(rows, "m-2", "m.jsonl:2", "invalid JSON")
    assert_failed(rows, "m-3", "m.jsonl:3", "expected a JSON object, got list")
    assert_failed(rows, "ragged-3", "ragged.csv:3", "has 3 fields but the header has 2")
    assert_failed(rows, "dirrow", "ragged.csv:4", "adir", "is a directory")
    assert_failed(rows, "latin1-2", "latin1.csv:2", "not UTF-8")
    assert_failed(rows, "noheader-1", "noheader.csv", "no header row")
    # x/y and x_y wrote their own per-call files
    assert safe_name("x/y") != safe_name("x_y")
    for call_id in ("x/y", "x_y"):
        record = json.loads((out / "calls" / f"{safe_name(call_id)}.json").read_text())
        assert record["call"]["call_id"] == call_id
    # a second night over the same inputs skips what is done and fails the same inputs again
    code, again = run(inputs, tmp_path / "out", TEXT_ONLY)
    assert code == 1 and again.keys() == rows.keys()


def test_a_huge_turn_is_analysed_in_linear_time(tmp_path):
    words = "I am not at all happy that my card was declined again and nobody called me back".split()
    huge = " ".join(words[i % len(words)] for i in range(40_000))  # about 200 KB in one turn
    night = tmp_path / "night"
    write_json(night / "huge.json", chat("huge", huge))
    write_json(night / "fine.json", chat("fine"))
    code, rows = run([night], tmp_path / "out", "[emotion]\ntext_model = 'lexicon'\n[run]\nbatch_size = 64\n")
    assert code == 0
    assert rows["huge"]["status"] == "ok" and rows["fine"]["status"] == "ok"


def make_audio_night(root: Path, data_dir: Path) -> tuple[list[Path], list[str]]:
    night = root / "night"
    night.mkdir()
    speech, rate = sf.read(data_dir / "asr/faster_whisper/jfk.flac", dtype="float32", always_2d=True)
    mono = speech.mean(axis=1)[: 6 * rate]  # 6 s of speech
    shutil.copy(data_dir / "asr/ljspeech_coqui/LJ001-0002.flac", night / "good.flac")
    sf.write(night / "whole.wav", mono, rate, subtype="PCM_16")
    raw = (night / "whole.wav").read_bytes()
    (night / "cut.wav").write_bytes(raw[: len(raw) // 2])  # the header still declares 6 s
    (night / "whole.wav").unlink()
    sf.write(root / "whole.mp3", mono, rate, format="MP3")
    raw = (root / "whole.mp3").read_bytes()
    (night / "short.mp3").write_bytes(raw[: len(raw) // 2])
    with_nan = mono.copy()
    with_nan[1000] = np.nan
    sf.write(night / "nan_mono.wav", with_nan, rate, subtype="FLOAT")
    sf.write(night / "nan_stereo.wav", np.stack([mono, with_nan], axis=1), rate, subtype="FLOAT")
    noise = np.random.default_rng(3).bytes(60_000)
    (night / "noise_mp3.mp3").write_bytes(noise)  # random bytes that PyAV's probe takes for a stream
    (night / "noise_flac.flac").write_bytes(noise)
    refs = root / "refs"
    refs.mkdir()
    shutil.copy(data_dir / "asr/ljspeech_coqui/LJ001-0002.flac", refs / "mono.flac")
    shutil.copy(data_dir / "asr/faster_whisper/jfk.flac", refs / "stereo.flac")
    manifest = root / "maps.csv"
    manifest.write_text(f'path,call_id,channels\n{refs / "stereo.flac"},leftright,"left,right"\n'
                        f'{refs / "mono.flac"},mapped_mono,"agent,customer"\n')
    return [night, manifest], ["good", "cut", "short", "mapped_mono"]


def test_bad_audio_is_refused_or_stored_with_a_warning(data_dir, tmp_path):
    inputs, good = make_audio_night(tmp_path, data_dir)
    code, rows = run(inputs, tmp_path / "out", TEXT_ONLY)
    assert code == 1
    for call_id in good:
        assert rows[call_id]["status"] == "ok", (call_id, rows[call_id]["error"])
    # cut short: analysed, with the shortfall in the record
    for call_id, name in (("cut", "cut.wav"), ("short", "short.mp3")):
        assert "truncated_audio" in rows[call_id]["flags"], call_id
        warning = json.loads(rows[call_id]["metadata"])["warnings"][0]
        assert "truncated audio: the header declares 6.00 s" in warning and name in warning, warning
    assert_failed(rows, "nan_mono", "nan_mono.wav", "NaN or infinite samples")
    assert_failed(rows, "nan_stereo", "nan_stereo.wav", "NaN or infinite samples")
    for call_id in ("noise_mp3", "noise_flac"):
        assert_failed(rows, call_id, "not a decodable audio file")
        assert "0 Hz" not in rows[call_id]["error"]
    assert_failed(rows, "leftright", "maps.csv:2", "names neither 'agent' nor 'customer'")
    assert "channel_map_ignored" in rows["mapped_mono"]["flags"]
    assert "mono" in json.loads(rows["mapped_mono"]["metadata"])["warnings"][0]

