"""The one text normaliser: phrase matching (jobs, signals), ASR scoring (WER) and the PII
reader share its filler and number words. The expected outputs are those of the three
normalisers it replaced, on the same inputs."""

from __future__ import annotations

import pytest

from wocas.text.normalize import normalise_words, normalize, wer
from wocas.text.pii import find_pii
from wocas.text.utterance import parse_utterance


@pytest.mark.parametrize("text,expected", [
    ("Um, I I wanna, uh, CANCEL... it's the 2nd time!", "i want to cancel its the second time"),
    ("I've been charged 2 times for the same order", "ive been charged two times for the same order"),
    ("This is the 3rd call, I was told someone would ring back within 24 hours.",
     "this is the third call i was told someone would ring back within 24 hours"),
    ("Erm, my e-mail's still not working, uh-huh, since the 10th", "my e-mails still not working since the 10th"),
    ("hmm I got 0 replies and 07 emails, mhm", "i got 0 replies and 07 emails"),
    ("I\u2019m gonna cancel my 1 account", "im going to cancel my one account"),
])
def test_phrase_matching_drops_fillers_and_writes_small_numbers_as_words(text, expected) -> None:
    assert parse_utterance(text).text == expected


def test_every_filler_goes_from_the_phrases_eh_and_hm_too() -> None:
    # "eh" and "hm" were fillers only for the PII reader; with one list, phrase matching drops them too
    assert parse_utterance("hm, the app keeps crashing").text == "the app keeps crashing"
    assert normalise_words("eh, fellow student") == ["fellow", "student"]
    assert normalise_words("eh, fellow student", drop_fillers=False) == ["eh", "fellow", "student"]


@pytest.mark.parametrize("text,expected", [
    ("Twenty-five pounds, 3pm", "twenty five pounds three pm"),
    ("25 pounds 3 PM", "twenty five pounds three pm"),
    ("I paid \u00a31,250 for it.", "i paid one thousand two hundred fifty for it"),
    ("um, I don't know", "um i dont know"),
    ("order 12345678901 on the 1st", "order 12345678901 on the one st"),
    ("asr/ljspeech_coqui/LJ001-0008.flac", "asr ljspeech coqui lj one eight flac"),
])
def test_scoring_splits_words_keeps_fillers_and_writes_every_number_as_words(text, expected) -> None:
    assert normalize(text) == expected


def test_wer_counts_written_and_spoken_numbers_alike() -> None:
    assert wer([("it costs twenty-five pounds at 3pm", "It costs 25 pounds at three PM.")]) == 0.0
    assert wer([("um I want to cancel", "I want to cancel")]) == pytest.approx(1 / 5)


@pytest.mark.parametrize("text,expected", [
    ("my card number is four one one one hm one one one one erm one one one one one one one one",
     ("CARD", "four one one one hm one one one one erm one one one one one one one one")),
    ("the security code is seven eh three one", ("CVV", "seven eh three one")),
    ("the security code is seven em three one", ("CVV", "seven em three one")),
])
def test_pii_reads_number_words_back_across_fillers(text, expected) -> None:
    assert expected in [(s.type, s.text) for s in find_pii(text)]
