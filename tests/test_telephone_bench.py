"""The telephone benchmark's pure parts: the call scripts, the seeded plan, the speech extent and
layout that make the labels, the line noise, and the clear stop when espeak-ng or sox is missing.
Rendering itself needs espeak-ng and sox, which CI does not have: it is not run here."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import telephone
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
