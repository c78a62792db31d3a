"""The challenge set as telephone audio (benchmarks/challenge_audio.py): one held-out call, cut to
its first turns, rendered as a stereo G.711 call and run through the whole default pipeline.
Rendering needs espeak-ng and sox, which CI does not have: skipped there."""

from __future__ import annotations

import dataclasses

import pytest

from benchmarks import challenge_audio
from benchmarks.metrics import wer
from benchmarks.telephone import missing_tools


def test_heldout_calls_are_the_21_of_calls_txt_only():
    calls = challenge_audio.heldout_calls()
    assert len(calls) == 21
    assert {c.split for c in calls} == {"heldout"}
    assert challenge_audio.heldout_calls(2) == calls[:2]


@pytest.mark.skipif(bool(missing_tools()), reason="rendering needs espeak-ng and sox")
def test_a_rendered_call_is_stored_with_each_party_on_its_channel(tmp_path):
    call = challenge_audio.heldout_calls(1)[0]
    call = dataclasses.replace(call, turns=call.turns[:8], turn_labels=call.turn_labels[:8])
    labels = challenge_audio.render([call], tmp_path / "render")[0]
    assert labels["channels"] == ["agent", "customer"] and labels["split"] == "heldout"
    assert (tmp_path / "render" / f"{call.call_id}.stereo.wav").exists()
    manifest = challenge_audio.write_manifest([call], tmp_path / "render", tmp_path / "calls.jsonl")
    said = challenge_audio.run(manifest, tmp_path / "run")
    assert list(said) == [call.call_id]
    turns = said[call.call_id]["turns"]
    assert {role for role, _ in turns} == {"agent", "customer"}
    customer = challenge_audio.role_text(turns, "customer")
    # the channel map held: the customer's channel reads as the customer's lines, not the agent's
    assert wer([(challenge_audio.role_text(call.turns, "customer"), customer)]) < \
        wer([(challenge_audio.role_text(call.turns, "agent"), customer)])
    result = challenge_audio.compare([call], said, said)
    assert result["total"]["stored_from_audio"] == 1
    assert result["total"]["shape"]["audio_vs_text"] == 1.0
