"""The telephone benchmark's pure parts: the call scripts, the seeded plan, the speech extent and
layout that make the labels, the line noise, the clear stop when espeak-ng or sox is missing, the
lines' separate renders and the error analysis. Rendering itself needs espeak-ng and sox, which CI
does not have: the one short render here (two turns per line) is skipped without them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import telephone, telephone_errors
from benchmarks.telephone_scripts import CALLS


def test_scripts_are_twenty_two_party_calls_the_agent_opens():
    assert len(CALLS) == 20
    assert len({name for name, _ in CALLS}) == 20
    for name, turns in CALLS:
        assert 6 <= len(turns) <= 12, name
        assert turns[0][0] == "agent", name
        assert {speaker for speaker, _ in turns} == {"agent", "customer"}, name
        assert all(text.strip() and not any(ch.isdigit() for ch in text) for _, text in turns), name


def test_plan_is_seeded_and_parties_differ():
    for index in range(len(CALLS)):
        voices, gaps, snr = telephone.plan(index)
        assert telephone.plan(index) == (voices, gaps, snr)
        assert voices["agent"].name != voices["customer"].name
        assert len(gaps) == len(CALLS[index][1])
        assert all(telephone.GAP_S[0] <= g <= telephone.GAP_S[1] for g in gaps)
        assert telephone.SNR_DB[0] <= snr <= telephone.SNR_DB[1]
    assert [telephone.split_of(i) for i in range(6)] == ["dev", "dev", "heldout"] * 2


def test_speech_extent_finds_the_tone_inside_silence():
    rate = 8000
    clip = np.zeros(rate * 2, np.float32)
    t = np.arange(int(0.5 * rate)) / rate
    clip[int(0.7 * rate): int(1.2 * rate)] = 0.3 * np.sin(2 * np.pi * 440 * t)
    lo, hi = telephone.speech_extent(clip, rate)
    assert abs(lo / rate - 0.7) <= 0.01 and abs(hi / rate - 1.2) <= 0.01
    assert telephone.speech_extent(np.zeros(rate, np.float32), rate) == (0, 0)


def test_layout_puts_each_turn_a_gap_after_the_last_speech():
    placed = telephone.layout([(0.1, 1.1), (0.2, 2.2)], [0.5, 0.3])
    assert placed[0] == pytest.approx((0.4, 0.5, 1.5))
    assert placed[1] == pytest.approx((1.6, 1.8, 3.8))  # clip offset = speech start - its lead-in


def test_line_noise_is_unit_level_and_inside_the_band():
    noise = telephone.band_noise(16000, 8000, np.random.default_rng(0))
    assert np.sqrt(np.mean(noise ** 2)) == pytest.approx(1.0, rel=1e-3)
    power = np.abs(np.fft.rfft(noise)) ** 2
    freqs = np.fft.rfftfreq(len(noise), 1 / 8000)
    outside = power[(freqs < 290) | (freqs > 3410)].sum() / power.sum()
    assert outside < 1e-6


def test_missing_tools_stop_with_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # neither espeak-ng nor sox on it
    assert telephone.missing_tools() == ["espeak-ng", "sox"]
    with pytest.raises(SystemExit, match="apt-get install -y espeak-ng sox"):
        telephone.render_all(tmp_path / "renders")
    assert not (tmp_path / "renders").exists()


def test_each_line_has_its_own_renders_and_the_telephone_key_is_unchanged():
    keys = {line: telephone.cache_key(line) for line in telephone.LINES}
    assert keys["telephone"] == telephone.cache_key()
    assert len(set(keys.values())) == len(telephone.LINES)
    folders = {telephone.default_cache(line) for line in telephone.LINES}
    assert len(folders) == len(telephone.LINES)
    assert telephone.default_cache().name == f"telephone-{telephone.cache_key()}"  # the renders made before
    with pytest.raises(ValueError, match="line 'radio'"):
        telephone.render_script("x", [("agent", "hello")], telephone.plan(0, 1), "dev", Path("."), 0, "radio")


@pytest.mark.skipif(bool(telephone.missing_tools()), reason="rendering needs espeak-ng and sox")
def test_clean_and_narrow_lines_render_the_same_turns_without_the_noise(tmp_path):
    import soundfile as sf

    script = [("agent", "Thanks for calling, how can I help?"), ("customer", "My parcel never came.")]
    planned = telephone.plan(0, len(script))
    found = {}
    for line in telephone.LINES:
        folder = tmp_path / line
        folder.mkdir()
        labels = telephone.render_script("c", script, planned, "dev", folder, 0, line)
        info = sf.info(folder / "c.stereo.wav")
        samples, _ = sf.read(folder / "c.stereo.wav", dtype="float32")
        found[line] = (labels, info, samples)
    assert found["clean"][1].samplerate == 16000 and found["clean"][1].subtype == "PCM_16"
    assert found["telephone"][1].samplerate == found["narrow"][1].samplerate == 8000
    assert found["telephone"][1].subtype == found["narrow"][1].subtype == "ULAW"
    turns = {line: [(t["start"], t["end"]) for t in labels["turns"]] for line, (labels, _, _) in found.items()}
    assert turns["clean"] == turns["narrow"] == turns["telephone"]
    assert found["clean"][0]["snr_db"] is None and found["telephone"][0]["snr_db"] == planned[2]
    lead = int(0.9 * turns["clean"][0][0] * 8000)  # before the first word: noise only on the telephone line
    assert np.abs(found["narrow"][2][:lead]).max() < 1e-3
    assert np.abs(found["clean"][2][: 2 * lead]).max() < 1e-3
    assert np.abs(found["telephone"][2][:lead]).max() > 1e-3


def test_errors_put_words_on_turns_by_time_and_sort_them():
    turns = [{"start": 1.0, "end": 2.0}, {"start": 4.0, "end": 5.0}]
    words = [["hello", 0.7, 0.9], ["there", 1.2, 1.5], ["thanks", 4.1, 4.4], ["you", 7.0, 7.2]]
    per_turn, outside = telephone_errors.assign(words, turns)
    assert per_turn == [["hello", "there"], ["thanks"]] and outside == ["you"]
    found = telephone_errors.turn_errors("thanks for calling skyline", "for calling sky line")["counts"]
    assert (found["D_onset"], found["S"], found["I"], found["ref"]) == (1, 1, 1, 4)
    assert telephone_errors.turn_errors("you are welcome", "")["counts"]["D_missing"] == 3
