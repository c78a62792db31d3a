"""The record's own rules: validated copies (``replace``), and words held once, inside turns."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError

from wocas.schema import SCHEMA_VERSION, Audio, Call, CallAnalysis, Word
from wocas.stages.diarize import segments_from_words
from wocas.stages.turns import TurnsStage


def asr_call() -> CallAnalysis:
    """A stereo call as the transcribe stage leaves it: words with channel speakers, audio attached."""
    lines = [("agent", 0.0, "thanks for calling how can I help"), ("customer", 2.5, "my card was charged twice"),
             ("agent", 5.0, "let me look at that"), ("customer", 9.5, "thank you")]
    words = []
    for speaker, start, text in lines:
        for i, token in enumerate(text.split()):
            words.append(Word(text=token, start=round(start + 0.3 * i, 3), end=round(start + 0.3 * i + 0.25, 3),
                              probability=0.9, speaker=speaker))
    audio = Audio(samples=np.zeros((2, 16000 * 11), dtype=np.float32), sample_rate=16000, original_sample_rate=8000)
    call = Call(call_id="c1", source="c1.flac", kind="audio", channels=("agent", "customer"))
    return CallAnalysis(call=call, audio=audio, duration=11.0, num_channels=2, asr_words=tuple(words))


def turned_call() -> CallAnalysis:
    call = asr_call()
    call = call.replace(speaker_segments=tuple(segments_from_words(call.asr_words)))
    return TurnsStage().process_call(call)


def test_replace_with_a_misspelt_field_fails():
    call = turned_call()
    with pytest.raises(ValidationError, match="trun"):
        call.replace(trun=())
    with pytest.raises(ValidationError, match="txt"):
        call.turns[0].replace(txt="hello")
    with pytest.raises(ValidationError, match="metdata"):
        call.call.replace(metdata={})


def test_replace_with_a_wrong_type_fails():
    call = turned_call()
    with pytest.raises(ValidationError, match="turns"):
        call.replace(turns=5)
    with pytest.raises(ValidationError, match="status"):
        call.replace(status="maybe")
    with pytest.raises(ValidationError, match="start"):
        call.turns[0].words[0].replace(start="soon")


def test_replace_keeps_every_other_field_and_the_transient_ones():
    call = asr_call()
    out = call.replace(language="en")
    assert out.language == "en" and call.language is None  # a copy: the original is untouched
    assert out.audio is call.audio and out.asr_words == call.asr_words  # transient fields travel too
    assert out.model_dump(exclude={"language"}) == call.model_dump(exclude={"language"})
    turned = turned_call()
    again = turned.replace(role_confidence=0.5)
    assert all(a is b for a, b in zip(again.turns, turned.turns))  # nested records are taken as they are


def test_the_turns_stage_moves_the_words_into_turns():
    before = asr_call()
    call = turned_call()
    assert call.asr_words == ()
    assert call.turn_words() == before.asr_words  # every word, same order, same speaker and times
    assert [t.speaker for t in call.turns] == ["agent", "customer", "agent", "customer"]
    assert [t.channel for t in call.turns] == [0, 1, 0, 1]


def test_a_records_json_holds_words_only_inside_turns():
    call = turned_call()
    data = json.loads(json.dumps(call.to_json()))
    assert data["schema_version"] == SCHEMA_VERSION
    assert not {"words", "asr_words", "audio"} & set(data)
    assert [w["text"] for t in data["turns"] for w in t["words"]] == [w.text for w in asr_call().asr_words]
    # the transient words are not serialised even before the turns stage has consumed them
    assert "asr_words" not in asr_call().to_json()
    back = CallAnalysis.from_json(data)
    assert back == call.replace(audio=None)


def test_a_v1_record_with_call_level_words_loads():
    call = turned_call().replace(audio=None)
    v1 = json.loads(json.dumps(call.to_json()))
    v1["schema_version"] = 1
    v1["words"] = [w for t in v1["turns"] for w in t["words"]]  # what the previous release stored
    loaded = CallAnalysis.from_json(v1)
    assert loaded == call
    assert loaded.turn_words() == call.turn_words()
    assert "words" not in loaded.to_json()


def test_a_failed_call_drops_its_transient_fields():
    failed = asr_call().failed("diarize", "c1.flac: no speech")
    assert not failed.ok and failed.audio is None and failed.asr_words == ()
    assert failed.failed_stage == "diarize" and failed.error == "c1.flac: no speech"
