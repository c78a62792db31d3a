"""Spoken phone numbers, national ids and street addresses (issue: spoken-PII recall), on lines written for
these tests, with the prices, times, dates and quantities that must stay in clear text."""

from wocas.text.pii import find_pii_in_turns


def spans(*texts):
    turns = [("agent" if i % 2 == 0 else "customer", t) for i, t in enumerate(texts)]
    return [(s.type, s.turn, s.text) for s in find_pii_in_turns(turns)]


def types_in(found, turn):
    return {t for t, ti, _ in found if ti == turn}


def test_spoken_plus_is_part_of_the_phone_number():
    found = spans("what's a good contact number", "it's plus three five three eight seven double two one four oh six nine")
    assert ("PHONE", 1, "plus three five three eight seven double two one four oh six nine") in found


def test_number_being_ported_and_best_number_are_phones():
    found = spans("which number are you porting over", "four one six uh two two triple five oh one eight")
    assert types_in(found, 1) == {"PHONE"}
    found = spans("Best number is 07911 204 388 and my policy is HX-55120-Q.")
    assert ("PHONE", 0, "07911 204 388") in found


def test_phone_last_digits_are_redacted_as_phone():
    found = spans("I can see a login from a phone ending 2290, is that you?", "no mine ends 7731")
    assert ("PHONE", 0, "2290") in found and ("PHONE", 1, "7731") in found


def test_card_last_four_still_kept_in_clear():
    assert spans("the card ending 4471 was declined") == []


def test_over_the_phone_is_no_phone_cue():
    found = spans("i need to give you my social", "sure i can take it over the phone",
                  "one two three four five six seven eight nine")
    assert types_in(found, 2) == {"SSN"}


def test_national_ids_by_name_and_shape():
    assert types_in(spans("can i have your p p s number", "one two three four five six seven w a"), 1) == {"SSN"}
    assert types_in(spans("My Emirates ID is 784-1985-1234567-3, please update it."), 0) == {"SSN"}
    assert types_in(spans("my NRIC is T0312345Z"), 0) == {"SSN"}
    assert types_in(spans("please quote your social insurance number", "it's nine four six two one three eight five seven"),
                    1) == {"SSN"}


def test_aadhaar_linked_mobile_is_a_phone():
    found = spans("may i have your aadhaar linked mobile number", "nine eight four five oh one two two seven six")
    assert types_in(found, 1) == {"PHONE"}


def test_street_address_read_in_words_without_a_cue():
    found = spans("and where should the engineer go", "it's nine oh four harrow street apartment six b")
    assert ("ADDRESS", 1, "nine oh four harrow street apartment six b") in found
    assert ("ADDRESS", 1, "three one seven wyndham road") in spans("okay", "yeah three one seven wyndham road")


def test_written_address_with_unit_and_continental_street():
    assert ("ADDRESS", 0, "88 Larch Avenue, Apt 12C") in spans("Deliver to 88 Larch Avenue, Apt 12C please")
    assert any(t == "ADDRESS" for t, _, _ in spans("i moved to kastanienstrasse nine last month"))
    assert any(t == "ADDRESS" for t, _, _ in spans("My new flat is 17 Rue des Lilas in Lyon"))


def test_prices_times_quantities_and_distances_stay():
    for line in ("the upgrade is AED 1,450 one way or 2,600 return",
                 "it's about ten minutes down the road from the station",
                 "that's the third time in a row this month",
                 "we can refund the thirty either way",
                 "the engineer comes at half nine on the fourth of march",
                 "i ordered twelve boxes at four ninety nine each",
                 "the shop is a twenty minutes' walk from here",
                 "you are number four in the queue, wait time about six minutes"):
        assert spans(line) == [], line
