"""The spine end to end on real audio with the real embedded models: ASR accuracy against
bare faster-whisper, exact speakers on stereo, roles, transcripts, store and exports."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from wocas.cli import main
from wocas.config import Config
from wocas.io.ingest import iter_calls
from wocas.pipeline import Pipeline
from wocas.models.registry import resolve
from wocas.store import Store
from wocas.text.normalize import wer


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    # Emotion/jobs/signals have their own tests; the spine is checked on its own stages here.
    config = Config.model_validate({"emotion": {"enabled": False}, "jobs": {"enabled": False},
                                    "signals": {"enabled": False}, "redact": {"enabled": False}})
    return Pipeline.from_config(config)


def run_files(pipeline: Pipeline, inputs: list[str]):
    return {c.call_id: c for c in pipeline.process(list(iter_calls(inputs)))}


@pytest.fixture(scope="module")
def asr_references(data_dir: Path) -> dict[str, str]:
    refs = {}
    with open(data_dir / "asr/ljspeech_coqui/metadata.csv") as f:
        for line in f:
            utt, text = line.rstrip("\n").split("|", 1)
            refs[utt] = text
    with open(data_dir / "asr/faster_whisper/transcripts.tsv") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["file"] == "jfk.flac":
                refs["jfk"] = row["reference_text"]
    return refs


def bare_faster_whisper(paths: list[Path]) -> dict[str, str]:
    """The baseline: the same model and decoding options, no pipeline around it."""
    from faster_whisper import WhisperModel

    model = WhisperModel(str(resolve("tiny.en").path), device="cpu", compute_type="int8")
    out = {}
    for p in paths:
        segments, _ = model.transcribe(str(p), language="en", beam_size=5, word_timestamps=True, vad_filter=True)
        out[p.stem] = " ".join(s.text.strip() for s in segments)
    return out


def test_asr_wer_no_worse_than_bare_faster_whisper(pipeline, data_dir, asr_references):
    paths = sorted((data_dir / "asr/ljspeech_coqui").glob("*.flac")) + [data_dir / "asr/faster_whisper/jfk.flac"]
    calls = run_files(pipeline, [str(p) for p in paths])
    bare = bare_faster_whisper(paths)
    ours = [(asr_references[p.stem], " ".join(t.text for t in calls[p.stem].turns)) for p in paths]
    theirs = [(asr_references[p.stem], bare[p.stem]) for p in paths]
    ours_wer, bare_wer = wer(ours), wer(theirs)
    assert all(calls[p.stem].ok for p in paths)
    assert ours_wer <= bare_wer + 0.005, (ours_wer, bare_wer)
    assert ours_wer < 0.10  # tiny.en on read speech: about 6%


def test_stereo_channels_give_exact_speakers(pipeline, data_dir):
    path = data_dir / "asr/faster_whisper/stereo_diarization.wav"
    call = run_files(pipeline, [str(path)])["stereo_diarization"]
    assert call.ok and call.num_channels == 2
    by_speaker = {t.speaker: " ".join(x.text for x in call.turns if x.speaker == t.speaker) for t in call.turns}
    assert set(by_speaker) == {"ch0", "ch1"}
    assert wer([("he began a confused complaint against the wizard who had vanished behind the curtain on the left",
                 by_speaker["ch0"])]) < 0.15
    assert wer([("the horizon seems extremely distant", by_speaker["ch1"])]) < 0.2
    for w in call.turn_words():  # every word of a channel belongs to that channel's speaker
        assert w.speaker in ("ch0", "ch1")


def test_near_identical_stereo_is_treated_as_mono(pipeline, data_dir):
    call = run_files(pipeline, [str(data_dir / "asr/faster_whisper/jfk.flac")])["jfk"]
    assert call.num_channels == 2
    assert {w.speaker for w in call.turn_words()} <= {s.speaker for s in call.speaker_segments}
    assert not any(w.speaker in ("ch0", "ch1") for w in call.turn_words())


def _synthetic_truth(data_dir: Path) -> list[dict]:
    return json.loads((data_dir / "calls_synthetic/dialogue_truth.json").read_text())


def _role_accuracy_by_time(call, truth: list[dict]) -> float:
    """Share of reference turns whose midpoint falls in a turn of the right role."""
    want = {"A": "agent", "B": "customer"}
    right = 0
    for ref in truth:
        mid = (ref["start"] + ref["end"]) / 2
        hit = [t for t in call.turns if t.start - 0.3 <= mid <= t.end + 0.3]
        right += bool(hit) and hit[0].role == want[ref["speaker"]]
    return right / len(truth)


def test_roles_from_channel_map_on_synthetic_stereo(pipeline, data_dir, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,call_id,customer_id,channels\n"
                        f"{data_dir}/calls_synthetic/dialogue_60s_stereo16k.flac,syn-stereo,C1,\"agent,customer\"\n")
    call = run_files(pipeline, [str(manifest)])["syn-stereo"]
    assert call.ok and call.role_confidence == 1.0
    assert _role_accuracy_by_time(call, _synthetic_truth(data_dir)) == 1.0


def test_roles_inferred_from_speech_on_synthetic_stereo_without_map(pipeline, data_dir):
    call = run_files(pipeline, [str(data_dir / "calls_synthetic/dialogue_60s_stereo16k.flac")])
    call = call["dialogue_60s_stereo16k"]
    assert call.roles == {"ch0": "agent", "ch1": "customer"}
    assert call.role_confidence > 0.9
    assert _role_accuracy_by_time(call, _synthetic_truth(data_dir)) == 1.0


def test_roles_on_synthetic_mono(pipeline, data_dir):
    call = run_files(pipeline, [str(data_dir / "calls_synthetic/dialogue_60s_mono16k.flac")])["dialogue_60s_mono16k"]
    assert call.ok
    assert _role_accuracy_by_time(call, _synthetic_truth(data_dir)) >= 0.9


def test_turn_invariants(pipeline, samples_dir):
    for call in run_files(pipeline, [str(samples_dir / "manifest.csv")]).values():
        assert call.ok, call.error
        for turn in call.turns:
            assert turn.text == " ".join(w.text for w in turn.words) or not turn.words
            assert all(a.start <= b.start for a, b in zip(turn.words, turn.words[1:]))
            assert all(turn.start <= w.start and w.end <= turn.end for w in turn.words)
            assert {w.speaker for w in turn.words} <= {turn.speaker}
        starts = [t.start for t in call.turns]
        assert starts == sorted(starts)


def test_eight_khz_stereo_sample_with_manifest_metadata(pipeline, samples_dir):
    calls = run_files(pipeline, [str(samples_dir / "manifest.csv")])
    billing = calls["billing-0001"]
    assert billing.sample_rate == 8000 and billing.num_channels == 2
    assert billing.call.customer_id == "C-1001" and billing.call.metadata["queue"] == "billing"
    assert [t.role for t in billing.turns[:2]] == ["agent", "customer"]
    assert "refund" in " ".join(t.text.lower() for t in billing.turns)
    m = billing.metrics
    assert m is not None and 0.2 < m.talk_share["agent"] < 0.6 and 0.2 < m.talk_share["customer"] < 0.6
    assert 0.0 < m.silence_share < 0.5 and m.longest_customer_monologue > 3.0
    chat = calls["chat-0001"]
    assert chat.call.kind == "transcript" and [t.role for t in chat.turns] == ["customer", "agent", "customer"]


def test_run_cli_store_exports_and_idempotence(samples_dir, tmp_path, capsys):
    out = tmp_path / "out"
    config = tmp_path / "spine.toml"
    config.write_text("[emotion]\nenabled = false\n[jobs]\nenabled = false\n[signals]\nenabled = false\n")
    assert main(["run", str(samples_dir / "manifest.csv"), "--out", str(out), "--config", str(config), "--quiet"]) == 0
    assert main(["run", str(samples_dir / "manifest.csv"), "--out", str(out), "--config", str(config), "--quiet"]) == 0
    with Store(out / "wocas.duckdb", read_only=True) as store:
        calls = store.query("SELECT call_id, status, count(*) OVER (PARTITION BY call_id) AS n FROM calls")
        assert sorted(c["call_id"] for c in calls) == ["billing-0001", "chat-0001", "delivery-0001"]
        assert all(c["n"] == 1 and c["status"] == "ok" for c in calls)
        runs = store.query("SELECT calls_ok, calls_skipped FROM runs ORDER BY started_at")
        assert [(r["calls_ok"], r["calls_skipped"]) for r in runs] == [(3, 0), (0, 3)]
        n_turns = store.query("SELECT count(*) AS n FROM turns WHERE call_id = 'billing-0001'")[0]["n"]
        assert n_turns == len(store.load("billing-0001").turns)
    assert (out / "config.resolved.toml").exists()
    rttm = (out / "calls/billing-0001.rttm").read_text().splitlines()
    assert rttm and all(line.split()[0] == "SPEAKER" and len(line.split()) == 10 for line in rttm)
    assert (out / "calls/billing-0001.srt").read_text().startswith("1\n00:00:")
    assert (out / "calls/billing-0001.vtt").read_text().startswith("WEBVTT")
    capsys.readouterr()
    assert main(["show", "billing-0001", "--out", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "agent" in shown and "customer" in shown and "refund" in shown.lower()
