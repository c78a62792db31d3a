"""National ids of more countries, postcodes after an address, units and estates in addresses, and phone numbers
written in their groups (third round of spoken-PII identifiers), on lines written for these tests, with the
prices, times, dates, quantities and codes that must stay in clear text or keep their type."""

from tests.test_pii_spoken_shapes import spans, types_in


def test_national_ids_named_letter_by_letter_or_whole():
    for question in ("could i take your c p f please", "and your d n i", "what is your c n i c number",
                     "her pesel please", "can you read me your personal identity number", "and the tax number"):
        found = spans(question, "it's two seven one four four oh nine eight three five")
        assert types_in(found, 1) == {"SSN"}, question
    found = spans("Hello, my iqama no. is 2219043387 and my CPR is 030281-4412.")
    assert ("SSN", 0, "2219043387") in found and ("SSN", 0, "030281-4412") in found


def test_last_four_of_someones_social_for_verification():
    found = spans("and to verify the last four of the policy holder's social", "seven two oh six")
    assert ("SSN", 1, "seven two oh six") in found
    found = spans("for verification the last four of your social", "three three one eight")
    assert types_in(found, 1) == {"SSN"}


def test_card_last_four_stays_in_clear():
    assert types_in(spans("for verification the last four of the card", "three three one eight"), 1) == set()


def test_social_media_is_no_social():
    found = spans("did you see it on your social media", "yeah about two two five people shared it")
    assert types_in(found, 1) == set()


def test_postcode_after_an_address_and_its_town():
    found = spans("and the new address", "fourteen birch hollow lane dayton four five four one nine")
    assert ("POSTCODE", 1, "four five four one nine") in found
    found = spans("I moved to 7 Lerchenweg Str., no wait: Lerchenweg 7, 80331 München")
    assert ("POSTCODE", 0, "80331") in found
    found = spans("we are at 22 Koraal Street, Brakpan 1541 since May")
    assert any(t == "POSTCODE" and "1541" in x for t, _, x in found)
    found = spans("the postcode is 2093")
    assert ("POSTCODE", 0, "2093") in found


def test_no_postcode_out_of_prices_and_quantities_after_an_address():
    assert types_in(spans("i live at 40 oak road and i paid 2500 for it"), 0) == {"ADDRESS"}
    assert types_in(spans("it's 14 station road, it costs 4500 a year"), 0) == {"ADDRESS"}
    assert types_in(spans("it's 14 station road for 2 weeks from 1200 on monday"), 0) == {"ADDRESS"}
    # a number after the next question's keyword is no postcode ("... and your zip" asks for one)
    assert types_in(spans("is it seven two oh one thank you and your zip"), 0) == set()


def test_unit_block_and_estate_are_part_of_the_address():
    found = spans("what's the delivery address", "block twelve lot three acacia street san pedro")
    assert ("ADDRESS", 1, "block twelve lot three acacia street san pedro") in found  # its locality too
    found = spans("and the work address", "unit seven riverside trading estate")
    assert ("ADDRESS", 1, "unit seven riverside trading estate") in found
    found = spans("Please send it to Building 9, 31 Harbour Road.")
    assert any(t == "ADDRESS" and x.startswith("Building 9") for t, _, x in found)


def test_no_estate_address_in_a_plain_sentence():
    assert spans("the industrial estate is closed on sunday") == []
    assert spans("we are on the business park near the station") == []
    assert types_in(spans("i have a lot 12 oak road issues"), 0) in (set(), {"ADDRESS"})
    assert not any(x.lower().startswith("a lot") for _, _, x in spans("i have a lot 12 oak road issues"))


def test_phone_written_in_groups_near_another_keyword():
    found = spans("Your claim QZ-4410-B is open; the assessor will ring you on 07812 330 447 tomorrow.")
    assert ("PHONE", 0, "07812 330 447") in found
    found = spans("That charge was on another line under your account (0918 440 2231).")
    assert ("PHONE", 0, "0918 440 2231") in found


def test_grouped_numbers_right_after_their_keyword_keep_their_type():
    assert ("ACCOUNT", 0, "0917 552 8801") in spans("my account number is 0917 552 8801")
    assert types_in(spans("the order 0123 4567 890 arrived"), 0) == {"ID"}
    assert spans("it cost 0100 200 300") == [] or types_in(spans("it cost 0100 200 300"), 0) != {"PHONE"}
