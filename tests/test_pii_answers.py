"""Spoken codes read the way people say them, and answers to the agent's question taking the type
asked for (wocas.text.spoken): lines written for these tests, in the style of an independent
writer's calls (tests/data/pii_writer3.jsonl dev split), none copied from its held-out split."""

from __future__ import annotations

import numpy as np
import pytest

from wocas.config import Config
from wocas.io.ingest import transcript_to_call
from wocas.schema import Audio, Word
from wocas.stages.redact import RedactStage
from wocas.text import spoken
from wocas.text.pii import find_pii_in_turns, tokenize


def _types(turns, **kw) -> list[tuple[int, str, str]]:
    return [(x.turn, x.type, x.text) for x in find_pii_in_turns(turns, **kw)]


def _values(turns) -> list[tuple[str, str]]:
    return [(x.type, x.value) for x in find_pii_in_turns(turns)]


def test_spelling_cues_double_letters_and_hundreds_are_read():
    assert _values([("agent", "what's the booking reference"),
                    ("customer", "it's h as in hotel q for queen double seven uh one two")]) == [("ID", "HQ7712")]
    assert _values([("agent", "can i take your surname"), ("customer", "fitzgerald f i t z g e r a l d")]) == [
        ("NAME", "fitzgerald"), ("NAME", "fitzgerald")]
    digits = [t.digits for t in tokenize("three hundred and forty two") if t.kind == "numword"]
    assert digits == ["342"]


def test_a_code_given_over_turns_after_the_question_takes_its_type():
    turns = [("agent", "and the membership number"), ("customer", "p l"), ("agent", "okay"),
             ("customer", "double four one nine six")]
    assert _types(turns) == [(1, "ACCOUNT", "p l"), (3, "ACCOUNT", "double four one nine six")]
    # a national insurance number read in three pieces
    turns = [("agent", "could i have your national insurance number"), ("customer", "it's n r"),
             ("customer", "nine eight seven six five four"), ("customer", "b")]
    assert [t for _, t, _ in _types(turns)] == ["SSN", "SSN", "SSN"]


def test_answers_in_free_words_name_address_and_date_of_birth():
    assert _types([("agent", "who am i speaking with today"), ("customer", "it's will")]) == [(1, "NAME", "will")]
    assert _types([("agent", "can you confirm the first line of the address"),
                   ("customer", "yeah it's sixty one uh church lane")]) == [(1, "ADDRESS", "sixty one uh church lane")]
    assert _types([("agent", "and what town is that"), ("customer", "harrogate")]) == [(1, "ADDRESS", "harrogate")]
    turns = [("agent", "and your date of birth please"), ("customer", "the twenty third"),
             ("customer", "of march eighty four")]
    assert _types(turns) == [(1, "DOB", "twenty third"), (2, "DOB", "march eighty four")]


def test_non_answers_prices_counting_and_alternatives_stay():
    assert _types([("agent", "can i take your full name"), ("customer", "hang on a sec")]) == []
    assert _types([("agent", "what's the reference number"), ("customer", "it's b k seven two"),
                   ("agent", "was that seven two or seven three")]) == [(1, "ID", "b k seven two")]
    assert _types([("agent", "can you count to ten for me"),
                   ("customer", "one two three four five six seven eight nine ten")]) == []
    assert _types([("agent", "what's the account number"), ("customer", "i paid 49 pounds 99 last week")]) == []
    # with digit_ids off, digits alone after an order question stay (pii_lines.jsonl's convention)
    assert _types([("agent", "what's the order number"), ("customer", "8 8 1 0 2 4 5")], digit_ids=False) == []


def test_written_codes_are_identifiers_but_models_and_flights_are_not():
    assert _types([("customer", "Hi, my claim reference is HX-2291-0043")]) == [(0, "ID", "HX-2291-0043")]
    assert _types([("customer", "the parcel 3Q8841200GB still has not come")]) == [(0, "ID", "3Q8841200GB")]
    assert _types([("customer", "I have the model WH-1000XM4 and flight BA-2490 tomorrow")]) == []


def test_question_type_is_the_first_named_in_the_last_request():
    assert spoken.asked_type("and the postcode at that address") == "POSTCODE"
    assert spoken.asked_type("can i take the date of birth of the policy holder") == "DOB"
    assert spoken.asked_type("Your order 12 was sent. Is there anything else?") is None


def test_audio_is_silenced_over_an_address_given_in_answer(tmp_path):
    doc = {"call_id": "answer-audio", "turns": [
        {"speaker": "agent", "text": "what's the first line of the address", "start": 0.0, "end": 2.0},
        {"speaker": "customer", "text": "yeah it's forty two elm road", "start": 2.0, "end": 5.0}]}
    call = transcript_to_call(doc, "test", "answer-audio")
    turns = []
    for turn in call.turns:
        parts = turn.text.split()
        step = (turn.end - turn.start) / len(parts)
        words = tuple(Word(text=w, start=turn.start + i * step, end=turn.start + (i + 1) * step)
                      for i, w in enumerate(parts))
        turns.append(turn.replace(words=words))
    sr = 8000
    audio = Audio(samples=np.ones((1, 5 * sr), dtype=np.float32), sample_rate=sr, original_sample_rate=sr)
    call = call.replace(turns=tuple(turns), audio=audio)
    stage = RedactStage(Config.model_validate({"redact": {"names": "rules", "audio": True,
                                                           "audio_dir": str(tmp_path)}}).redact)
    out = stage.process_call(call)
    assert "[ADDRESS]" in out.turns[1].text and "elm" not in out.turns[1].text
    import soundfile as sf

    samples, _ = sf.read(tmp_path / "answer-audio.redacted.wav")
    # six words over 2-5 s: "yeah it's" (2.0-3.0 s) stay, "forty two elm road" (3.0-5.0 s) are silenced
    assert np.all(samples[int(2.05 * sr):int(2.95 * sr)] != 0)
    assert np.all(samples[int(np.ceil(3.0 * sr)):int(5.0 * sr) - 1] == 0)


@pytest.mark.parametrize("line", ["press one for billing or two for anything else",
                                  "it's 12:30 on the 4th of june and it cost 15.99",
                                  "we need 3 boxes of 250 screws"])
def test_no_pii_lines_stay_clear(line):
    assert _types([("agent", "what's the account number"), ("customer", line)]) == []


def test_the_question_types_an_answer_whose_shape_does_not_settle_it():
    # card digits read in pieces after "the card number" are the card, not an account (no Luhn yet)
    turns = [("agent", "right can i take the card number please"), ("customer", "five four one two"),
             ("agent", "mm hm"), ("customer", "three three oh eight")]
    assert {t for _, t, _ in _types(turns)} == {"CARD"}
    # a sort code given two digits a turn
    turns = [("agent", "lovely and the sort code"), ("customer", "four oh"), ("customer", "one two"),
             ("customer", "seven seven")]
    found = _types(turns)
    assert {t for _, t, _ in found} == {"SORT_CODE"} and {i for i, _, _ in found} == {1, 2, 3}
    # the long number on a membership card is a membership (account) number
    turns = [("agent", "what's the long number on your gym membership card"), ("customer", "it's 7 7 3 0 1 9 4")]
    assert _types(turns) == [(1, "ACCOUNT", "7 7 3 0 1 9 4")]
    # a number with a shape of its own keeps it: a Luhn-valid card read after "the account number"
    turns = [("agent", "and the account number"), ("customer", "4539 1488 0343 6467")]
    assert _types(turns) == [(1, "CARD", "4539 1488 0343 6467")]
    # with digit_ids off, an order number in digits alone is not personal data (pii_lines.jsonl's convention)
    assert _types([("agent", "what's the order number"), ("customer", "it's 5 5 2 1 9 0 3")], digit_ids=False) == []


# ---- [redact] digit_ids: identifiers in digits alone, given as identifiers ----------------------------
def test_digit_ids_after_the_keyword_are_ids():
    for line, value in [("my booking number is 6104 2287", "6104 2287"), ("case 00581934 was closed", "00581934"),
                        ("the invoice reference is 31 08 52 17", "31 08 52 17"),
                        ("it's ticket number seven three three one oh five", "seven three three one oh five"),
                        ("my tracking number is 7 7 0 1 4 2 9 8", "7 7 0 1 4 2 9 8")]:
        assert _types([("customer", line)]) == [(0, "ID", value)], line
        # off: digits said or grouped stay; one written token of 5+ digits was already an ID
        assert _types([("customer", line)], digit_ids=False) == ([] if " " in value else [(0, "ID", value)]), line


def test_digit_ids_in_answer_and_read_back():
    turns = [("agent", "can you give me the claim number"), ("customer", "yeah it's six oh four one"),
             ("customer", "two two nine"), ("agent", "six oh four one two two nine thank you")]
    assert [t for _, t, _ in _types(turns)] == ["ID", "ID", "ID"]
    assert _types(turns, digit_ids=False) == []
    # the number opens the answer, whatever the customer says after it
    turns = [("agent", "and the order number"), ("customer", "it's 5 5 1 8 2 and then i can't make out the rest")]
    assert _types(turns) == [(1, "ID", "5 5 1 8 2")]


@pytest.mark.parametrize("turns", [
    [("customer", "my booking is for 7 30 on friday")],
    [("customer", "i ordered 14 of them and the order came to 212 pounds")],
    [("customer", "the ticket was 45 quid")],
    [("customer", "the case number you mentioned was from 2019 i think")],
    [("agent", "what's the order number"), ("customer", "i paid 38 pounds for it on the 3rd of may")],
    [("agent", "what's the booking reference"), ("customer", "um it was for flight 2291 at 6 15")],
    [("customer", "i'm at store 4 4 1 2 and the model number is 5 5 0 9")],
])
def test_digit_ids_leave_prices_times_quantities_and_product_numbers(turns):
    assert _types(turns) == []


# ---- read-backs, next pieces, sort codes in pairs, an account's last digits ---------------------------
def test_a_read_back_takes_the_type_of_the_value_it_repeats():
    # the agent's read-back inside a longer sentence, after the pieces were given over turns
    turns = [("agent", "what's your booking reference"), ("customer", "it's q for quebec m"), ("agent", "q m yep"),
             ("customer", "six one one eight"),
             ("agent", "right so that's q m 6 1 1 8 i'll just bring that up for you now")]
    assert [(i, t) for i, t, _ in _types(turns)][-1] == (4, "ID")
    # a sort code read back with the next question after it keeps the sort code's type
    turns = [("agent", "can i take the sort code"), ("customer", "sixty two oh four one one"),
             ("agent", "62 04 11 and the account number please")]
    assert _types(turns)[-1] == (2, "SORT_CODE", "62 04 11")


def test_a_read_back_of_two_values_gives_each_its_own_type():
    turns = [("agent", "sort code first please"), ("customer", "five five oh one nine two"),
             ("agent", "and the account number"), ("customer", "six three one one oh four seven two"),
             ("agent", "so 6 3 1 1 0 4 7 2 and 55 01 92 lovely")]
    assert [(t, x) for i, t, x in _types(turns) if i == 4] == [("ACCOUNT", "6 3 1 1 0 4 7 2"),
                                                             ("SORT_CODE", "55 01 92")]


def test_the_next_piece_after_a_read_back_takes_its_type():
    turns = [("customer", "my claim number's seven oh seven one"), ("customer", "three three two two"),
             ("agent", "7071 3322 is there any more to it"), ("customer", "yeah five nine on the end")]
    assert [(i, t) for i, t, _ in _types(turns)] == [(0, "ID"), (1, "ID"), (2, "ID"), (3, "ID")]


def test_sort_codes_said_as_pairs_and_written_beside_an_account():
    turns = [("agent", "what are the bank details"), ("customer", "sixty ten thirty one account two two four oh nine one one six")]
    assert [(t, x) for _, t, x in _types(turns)] == [("SORT_CODE", "sixty ten thirty one"),
                                                     ("ACCOUNT", "two two four oh nine one one six")]
    turns = [("customer", "account 51902274 sort code 11-42-07"), ("agent", "51902274 11-42-07 thanks")]
    assert [(i, t, x) for i, t, x in _types(turns) if i == 1] == [(1, "ACCOUNT", "51902274"), (1, "SORT_CODE", "11-42-07")]


def test_an_accounts_last_digits_are_the_account_but_a_cards_are_not():
    assert _types([("agent", "i can see an account ending three nine nine two is that the one")]) == [
        (0, "ACCOUNT", "three nine nine two")]
    assert _types([("agent", "the card ending three nine nine two is still on file")]) == []


# ---- card details, the last four of a social, IBANs -----------------------------------------------------
def test_expiry_and_security_code_asked_after_the_card_are_not_the_card():
    turns = [("agent", "what's the long number on the card"),
             ("customer", "five one oh five one oh five one oh five one oh five one oh oh"),
             ("agent", "and when does it expire what's the expiry date"), ("customer", "one one twenty eight"),
             ("agent", "and the three digit code on the back"), ("customer", "seven three nine")]
    assert [(i, t) for i, t, _ in _types(turns)] == [(1, "CARD"), (3, "EXPIRY"), (5, "CVV")]
    turns = [("agent", "card number please"), ("customer", "4111 1111 1111 1111"),
             ("agent", "then the expiry and the security code"), ("customer", "oh four twenty nine and two six two")]
    assert [(i, t, x) for i, t, x in _types(turns) if i == 3] == [(3, "EXPIRY", "oh four twenty nine"),
                                                                (3, "CVV", "two six two")]


def test_the_last_four_of_a_social_in_answer():
    turns = [("agent", "can you verify the last four of your social"), ("customer", "sure it's nine one oh eight")]
    assert _types(turns) == [(1, "SSN", "nine one oh eight")]


def test_an_iban_asked_for_by_name_or_written_with_a_bank_code():
    # the check digits misheard or mistyped: still the IBAN when asked for, or written with a bank code
    turns = [("agent", "could you read me the iban"),
             ("customer", "it's d e one two three seven oh four oh oh four four oh five three two oh one three oh oh oh")]
    assert [t for _, t, _ in _types(turns)] == ["IBAN"]
    assert _types([("customer", "pay it into NL12 ABNA 0417 1643 00 please")]) == [(0, "IBAN", "NL12 ABNA 0417 1643 00")]


# ---- names: titles, third parties, agents' introductions, a name said then spelled ------------------------
needs_ner = pytest.mark.skipif(not __import__("wocas.text.names", fromlist=["x"]).available(),
                               reason="the pii extra (spaCy + en_core_web_sm) is not installed")


def test_a_lower_case_title_and_the_name_after_it():
    assert _types([("agent", "right i've found it is that for mrs castellano")]) == [(0, "NAME", "castellano")]
    assert _types([("agent", "thanks mister oduya bear with me")]) == [(0, "NAME", "oduya")]
    assert _types([("customer", "i miss the old tariff")]) == []


def test_a_name_said_then_spelled_and_names_after_his_her_and_in_the_name_of():
    assert _types([("agent", "and the surname on the email is that kowal k o w a l")]) == [
        (0, "NAME", "kowal"), (0, "NAME", "k o w a l")]
    assert _types([("customer", "i'm ringing for my dad his name's desmond achebe")]) == [
        (0, "NAME", "desmond achebe")]
    assert _types([("customer", "the direct debit is in the name of tariq hollis")]) == [(0, "NAME", "tariq hollis")]


@needs_ner
def test_an_agents_own_name_in_the_introduction_slot_and_third_parties():
    got = _types([("agent", "hello you're speaking with rhiannon from the lettings team")], names="ner")
    assert got == [(0, "NAME", "rhiannon")]
    assert _types([("agent", "you're through to billing how can i help")], names="ner") == []
    assert _types([("customer", "it's for my husband dave he set it up")], names="ner") == [(0, "NAME", "dave")]
    assert _types([("customer", "my partner tomasz is the account holder")], names="ner") == [(0, "NAME", "tomasz")]
    assert _types([("customer", "my son really wants it and my landlord never fixed it")], names="ner") == []


@needs_ner
def test_word_pieces_streets_and_prices_are_not_names_or_dates():
    assert _types([("customer", "i'm gonna have to cancel then")], names="ner") == []
    turns = [("customer", "Can we add our son, DOB 03.11.2018?"),
             ("agent", "Yes, the child fare for that route is £64. Shall I add him?")]
    assert _types(turns, names="ner") == [(0, "DOB", "03.11.2018")]  # "£64." is no year


# ---- addresses ---------------------------------------------------------------------------------------------
def test_an_address_answer_with_the_postcode_after_it_and_a_house_letter():
    turns = [("agent", "what's the first line of your address and the postcode"),
             ("customer", "it's nine larch close b s three one q x")]
    assert _types(turns)[0] == (1, "ADDRESS", "nine larch close")
    turns = [("agent", "and the first line of the address"), ("customer", "thirty three orchard way")]
    assert _types(turns) == [(1, "ADDRESS", "thirty three orchard way")]
    assert _types([("customer", "we moved it's twenty b kingfisher road now")]) == [
        (0, "ADDRESS", "twenty b kingfisher road")]


def test_the_companys_own_branch_address_is_not_personal():
    assert _types([("agent", "The nearest store is at 18 Kirkgate, and our branch at 3 Mill Road opens at 9.")]) == []


@needs_ner
def test_a_name_after_an_acknowledgement_and_a_street_is_not_a_surname():
    assert _types([("agent", "Done, Priya. The new card is on its way.")], names="ner") == [(0, "NAME", "Priya")]
    assert _types([("agent", "Yes, the Tolley Lane depot has it in stock.")], names="ner") == []


def test_a_short_number_in_a_sentence_after_the_question_or_a_value_stays():
    turns = [("agent", "what's the account number"), ("customer", "yeah 20 of them were faulty anyway")]
    assert _types(turns) == []
    turns = [("customer", "my account number is 6 6 1 9 0 4 2 7"), ("agent", "thanks that's 66190427 let me pull it up"),
             ("customer", "ok 15 then")]
    assert [i for i, _, _ in _types(turns)] == [0, 1]


def test_a_closing_word_after_thanks_is_no_name():
    for line in ("Okay. Thanks, bye.", "brilliant, bye now", "thanks, goodbye", "cheers, buddy", "okay, fab",
                 "thanks, ciao", "lovely, ta"):
        assert _types([("agent", "sorry, I can't refund that"), ("customer", line)], names="ner") == [], line
    # a name in the same slot still is one
    assert _types([("customer", "lovely, harriet, thanks")], names="ner") == [(0, "NAME", "harriet")]


def test_a_short_request_whose_keyword_holds_a_number_word_is_still_a_question():
    # "last four of your social" has no request word; its "four" is part of the keyword, not an answer
    assert spoken.asked_type("and the last four of the social") == "SSN"
    turns = [("agent", "okay last four of the social"), ("customer", "three uh one one seven"),
             ("agent", "three one one seven great")]
    assert [(i, k) for i, k, _ in _types(turns)] == [(1, "SSN"), (2, "SSN")]
    assert spoken.asked_type("forty two mill lane") is None  # an answer holding a number is still no question


def test_the_last_four_of_the_social_said_as_a_statement_is_an_ssn():
    turns = [("agent", "i have the last four of your social as seven oh one three")]
    assert [(k, t) for _, k, t in _types(turns)] == [("SSN", "seven oh one three")]
    # the last four of a card stay in clear text
    assert _types([("customer", "the last four of the card are five five two one")]) == []


def test_a_corrected_code_takes_the_type_of_the_one_it_corrects():
    turns = [("customer", "the claim number is c l m 4 4 8 1 2 no wait 4 4 8 1 7"), ("agent", "4 4 8 1 7 thanks")]
    assert [(i, k, t) for i, k, t in _types(turns)] == [
        (0, "ID", "c l m 4 4 8 1 2"), (0, "ID", "4 4 8 1 7"), (1, "ID", "4 4 8 1 7")]
    turns = [("agent", "i have the last four of your social as seven oh one three"), ("customer", "no seven oh one eight")]
    assert [(i, k) for i, k, _ in _types(turns)] == [(0, "SSN"), (1, "SSN")]
    # a number after "no" that is not close to the code before stays
    turns = [("customer", "my account number is 5 5 2 1 9 0 4 4"), ("agent", "no problem it'll take 3 days")]
    assert [(i, k) for i, k, _ in _types(turns)] == [(0, "ACCOUNT")]


def test_a_number_sign_before_a_written_code_does_not_hide_it():
    assert [(k, t) for _, k, t in _types([("customer", "i was billed twice on order #408-2291733-5120 last week")])] == [
        ("ID", "408-2291733-5120")]
    assert _types([("agent", "press # then 2 to hear that again")]) == []


def test_more_identifier_questions_are_read():
    # an Irish eircode, a complaint / service request / site / job number, a US checking account
    assert [(i, k) for i, k, _ in _types([("agent", "and what's your eircode"), ("customer", "t one two k e eight four")])] == [
        (1, "POSTCODE")]
    for ask in ("could i have the complaint number", "what's the service request number please", "and the site id",
                "can you read me the job number"):
        turns = [("agent", ask), ("customer", "yeah it's k l r four oh oh nine one")]
        assert [(i, k) for i, k, _ in _types(turns)] == [(1, "ID")], ask
    turns = [("agent", "what's the routing number"), ("customer", "0 7 1 9 2 1 8 9 1"),
             ("agent", "and the savings account"), ("customer", "5 5 0 1 2 8 8 3 4 7")]
    assert [(i, k) for i, k, _ in _types(turns)][-1] == (3, "ACCOUNT")
    # the words alone are no question for an identifier
    assert _types([("customer", "i made a complaint about the site 3 weeks ago")]) == []


@needs_ner
def test_the_name_a_speaker_goes_by_is_a_name():
    assert _types([("customer", "it's margaret but everyone calls me peggy")], names="ner")[-1] == (0, "NAME", "peggy")
    assert _types([("customer", "i go by rory on the account")], names="ner") == [(0, "NAME", "rory")]
    # "call me" with no name after it stays
    assert _types([("customer", "they call me back every tuesday")], names="ner") == []


def test_a_medicare_number_is_an_account_and_a_pan_card_number_an_identifier():
    assert [(k, t) for _, k, t in _types([("customer", "my medicare number is 4417 20938 2 and the card's expired")])] == [
        ("ACCOUNT", "4417 20938 2")]
    turns = [("agent", "may i have your pan card number madam"), ("customer", "it's b q r p s 7 7 0 1 m")]
    assert [(i, k) for i, k, _ in _types(turns)] == [(1, "ID")]


def test_a_name_spelled_and_then_said_is_a_name():
    turns = [("agent", "and is that with an e on the end"), ("customer", "yes k e a n e with an e keane")]
    assert [(i, k, t) for i, k, t in _types(turns)] == [(1, "NAME", "k e a n e"), (1, "NAME", "keane")]
    assert [t for _, _, t in _types([("customer", "the parcel came addressed to d o y l e doyle which is right")])] == [
        "d o y l e", "doyle"]
    # letters of a reference read and repeated stay an identifier, not a name
    turns = [("customer", "the reference is q x r then qxr again")]
    assert all(k != "NAME" for _, k, _ in _types(turns))


def test_a_verb_after_my_wife_and_chat_shorthand_are_no_name():
    assert _types([("customer", "we got upgraded, my wife was thrilled.")], names="ner") == []
    assert _types([("customer", "ok thx")], names="ner") == []
    assert _types([("customer", "perfect thx, that was quick")], names="ner") == []
    # a name in the same places still is one
    assert _types([("customer", "the second person is my son will")], names="ner") == [(0, "NAME", "will")]
    assert _types([("customer", "ok thanks dave")], names="ner") == [(0, "NAME", "dave")]


@pytest.mark.parametrize("text, address", [
    ("Prop: 2F1, 17 Dalmeny Street, Edinburgh EH6 8PG", "2F1, 17 Dalmeny Street, Edinburgh"),
    ("Ngā mihi,\n27 Kowhai Street, Naenae, Lower Hutt\nThanks", "27 Kowhai Street, Naenae, Lower Hutt"),
    ("14 Pohutukawa Drive, Ōpōtiki", "14 Pohutukawa Drive, Ōpōtiki"),
    ("I moved to 14 Bhejane Street, Glenwood. Thanks for checking", "14 Bhejane Street, Glenwood"),
    ("it's forty won lakeshore road west oakville", "forty won lakeshore road west oakville"),
    ("flat three forty two carrow road norwich and the postcode is", "flat three forty two carrow road norwich"),
    ("i live at fourteen high street and i've been here ten years", "fourteen high street"),
    ("it's 4 Main Road, Please call me", "4 Main Road"),
])
def test_an_address_runs_on_over_its_locality_and_stops_at_an_ordinary_word(text, address):
    from wocas.text.pii import _addresses

    assert [text[s:e] for s, e in _addresses(text)] == [address]
