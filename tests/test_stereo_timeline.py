"""Stereo calls: the speaker timeline comes from each channel's own speech detection, a voice
leaking into the other channel creates no speech there, words attach to the timeline, and a
silent channel or a channel map on a mono file leaves its reason in ``calls.error``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from wocas.cli import main
from wocas.config import DiarizationConfig
from wocas.diarizers.channels import attach_words, channel_timeline, channel_vad
from wocas.io.audio import decode
from wocas.schema import Audio, Call, CallAnalysis, SpeakerSegment, Word
from wocas.stages.diarize import DiarizeStage
from wocas.stages.turns import words_to_turns
from wocas.store.store import Store

SR = 16000


def clip(path: Path) -> np.ndarray:
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    return soxr.resample(x, sr, SR).astype(np.float32) if sr != SR else x


def crosstalk_call(data_dir: Path, leak_db: float = -20.0, delay_ms: float = 5.0) -> tuple[np.ndarray, float, float]:
    """Agent (LJ Speech) on the left for its clip, then the customer (a RAVDESS actor) on the
    right; each voice leaks into the other channel ``leak_db`` lower and ``delay_ms`` late.
    Returns (samples (2, n), end of the agent's clip, start of the customer's clip)."""
    agent = clip(data_dir / "asr/ljspeech_coqui/LJ001-0002.flac")
    customer = clip(data_dir / "emotion/ravdess_subset/03-01-05-02-01-01-01.wav")
    a0, c0 = int(0.3 * SR), int(0.3 * SR) + len(agent) + int(0.5 * SR)
    n = c0 + len(customer) + int(0.3 * SR)
    clean = np.zeros((2, n), np.float32)
    clean[0, a0:a0 + len(agent)] = agent / np.abs(agent).max() * 0.5
    clean[1, c0:c0 + len(customer)] = customer / np.abs(customer).max() * 0.5
    d, g = int(delay_ms * SR / 1000), 10 ** (leak_db / 20)
    leaked = clean.copy()
    leaked[1, d:] += g * clean[0, : n - d]
    leaked[0, d:] += g * clean[1, : n - d]
    return leaked, (a0 + len(agent)) / SR, c0 / SR


def test_a_leaking_voice_creates_no_speech_in_the_other_channel(data_dir):
    samples, agent_end, customer_start = crosstalk_call(data_dir)
    vad = channel_vad(samples, SR, 0.5)
    # silero alone hears the agent's leak on the customer's channel (this is what the filter is for)
    assert vad[1, : int(agent_end * 100)].mean() > 0.3
    segments = channel_timeline(samples, SR, ("agent", "customer"))
    customer = [s for s in segments if s.speaker == "customer"]
    agent = [s for s in segments if s.speaker == "agent"]
    assert customer and agent
    assert all(s.start > agent_end - 0.1 for s in customer), customer
    assert all(s.end < customer_start + 0.1 for s in agent), agent
    # and each party's own speech is there: one stretch each, covering its clip
    assert sum(s.end - s.start for s in agent) > 0.8 * (agent_end - 0.3)


def test_a_delayed_echo_is_not_speech_either(data_dir):
    samples, agent_end, _ = crosstalk_call(data_dir, leak_db=-15.0, delay_ms=40.0)
    customer = [s for s in channel_timeline(samples, SR, ("agent", "customer")) if s.speaker == "customer"]
    assert all(s.start > agent_end - 0.1 for s in customer), customer


def test_leak_words_are_dropped_and_turns_follow_the_timeline():
    timeline = [SpeakerSegment(speaker="agent", start=0.2, end=2.0),
                SpeakerSegment(speaker="customer", start=2.5, end=4.0)]
    words = (Word(text="hello", start=0.4, end=0.8, speaker="agent"),
             Word(text="there", start=0.9, end=1.5, speaker="agent"),
             Word(text="Hello,", start=0.45, end=0.8, speaker="customer"),  # the agent's leak, transcribed again
             Word(text="sorry", start=1.2, end=1.6, speaker="customer"),  # said over the agent, not a leak
             Word(text="hi", start=2.6, end=3.0, speaker="customer"),
             Word(text="um", start=7.5, end=7.7, speaker="customer"))  # on no speech: kept
    kept = attach_words(words, timeline)
    assert [(w.text, w.speaker) for w in kept] == [("hello", "agent"), ("there", "agent"), ("sorry", "customer"),
                                                   ("hi", "customer"), ("um", "customer")]
    turns = words_to_turns([w for w in kept if w.text != "sorry"], ("agent", "customer"), tuple(timeline))
    assert [(t.speaker, t.start, t.end) for t in turns] == [("agent", 0.2, 2.0), ("customer", 2.5, 4.0),
                                                            ("customer", 7.5, 7.7)]


def test_the_diarize_stage_gives_the_stereo_call_its_channel_timeline(data_dir):
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.database.util import load_rttm
    from pyannote.metrics.diarization import DiarizationErrorRate

    audio = decode(data_dir / "calls_synthetic/dialogue_60s_stereo16k.flac", SR)
    call = CallAnalysis(call=Call(call_id="dialogue", source="x.flac", kind="audio", channels=("A", "B")),
                        audio=audio, num_channels=2)
    out = DiarizeStage(DiarizationConfig()).process_call(call)  # no words at all: the timeline stands alone
    assert {s.speaker for s in out.speaker_segments} == {"A", "B"}
    hyp = Annotation()
    for s in out.speaker_segments:
        hyp[Segment(s.start, s.end)] = s.speaker
    ref = load_rttm(data_dir / "calls_synthetic/dialogue_truth.rttm")["dialogue"]
    der = DiarizationErrorRate(collar=0.25, skip_overlap=False)(ref, hyp, uem=Timeline([Segment(0, 60)]))
    assert der < 0.05, der


def write_night(tmp_path: Path, data_dir: Path) -> tuple[Path, Path]:
    speech = clip(data_dir / "asr/ljspeech_coqui/LJ001-0002.flac")
    night = tmp_path / "night"
    night.mkdir()
    sf.write(night / "one_side.wav", np.stack([speech, np.zeros_like(speech)], axis=1), SR, subtype="PCM_16")
    sf.write(night / "mono.wav", speech, SR, subtype="PCM_16")
    manifest = night / "calls.csv"
    manifest.write_text("path,call_id,channels\none_side.wav,one_side,\"agent,customer\"\n"
                        "mono.wav,mapped_mono,\"agent,customer\"\n")
    config = tmp_path / "c.toml"
    config.write_text("[emotion]\nenabled = false\n[jobs]\nenabled = false\n[signals]\nenabled = false\n")
    return manifest, config


def test_a_silent_channel_or_a_map_on_mono_leaves_a_reason_in_calls_error(data_dir, tmp_path):
    manifest, config = write_night(tmp_path, data_dir)
    out = tmp_path / "out"
    assert main(["run", str(manifest), "--out", str(out), "--config", str(config), "--quiet"]) == 0
    with Store(out / "wocas.duckdb", read_only=True) as store:
        rows = {r["call_id"]: r for r in store.query("SELECT call_id, status, error, flags, metadata FROM calls")}
    one_side, mono = rows["one_side"], rows["mapped_mono"]
    assert one_side["status"] == "ok" and "silent_channel" in one_side["flags"]
    assert "one_side.wav" in one_side["error"] and "channel 2 (customer) is silent" in one_side["error"]
    assert mono["status"] == "ok" and "channel_map_ignored" in mono["flags"]
    assert "mono.wav" in mono["error"] and "recording is mono" in mono["error"]
    assert json.loads(mono["metadata"])["warnings"] == [mono["error"]]


def test_through_asr_a_leak_makes_no_turn(data_dir):
    """With the embedded recogniser: the customer's channel transcribes the agent's leak as
    words; those words are dropped, so the customer has no turn while the agent speaks."""
    from wocas.config import AsrConfig
    from wocas.stages.transcribe import TranscribeStage
    from wocas.stages.turns import TurnsStage

    samples, agent_end, customer_start = crosstalk_call(data_dir, leak_db=-15.0)
    call = CallAnalysis(call=Call(call_id="x", source="x.wav", kind="audio", channels=("agent", "customer")),
                        audio=Audio(samples=samples, sample_rate=SR, original_sample_rate=SR), num_channels=2)
    heard = TranscribeStage(AsrConfig()).process_call(call)
    assert any(w.speaker == "customer" and w.end < agent_end for w in heard.asr_words)  # the leak, transcribed
    turns = TurnsStage().process_call(DiarizeStage(DiarizationConfig()).process_call(heard)).turns
    assert [t.speaker for t in turns] == ["agent", "customer"], [(t.speaker, t.start, t.text) for t in turns]
    agent, customer = turns
    assert customer.start > agent_end - 0.1 and agent.end < customer_start + 0.1


def test_a_turn_split_by_a_backchannel_keeps_its_words_inside():
    timeline = (SpeakerSegment(speaker="agent", start=0.0, end=4.0), SpeakerSegment(speaker="customer", start=1.9, end=2.3))
    words = (Word(text="so", start=0.2, end=0.5, speaker="agent"), Word(text="yeah", start=2.0, end=2.2, speaker="customer"),
             Word(text="right", start=2.5, end=3.0, speaker="agent"))
    turns = words_to_turns(words, ("agent", "customer"), timeline)
    assert [(t.speaker, t.start, t.end) for t in turns] == [("agent", 0.0, 0.5), ("customer", 1.9, 2.3), ("agent", 2.5, 4.0)]
    for t in turns:
        assert all(t.start <= w.start and w.end <= t.end for w in t.words)
