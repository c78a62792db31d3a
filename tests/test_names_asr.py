"""Person names in lower-case ASR text and in written chat: the truecased NER pass, uncommon words in
name slots, "X speaking", third parties, surname particles; and what must stay (places, companies,
products, months, common words). Lines written for these tests, not taken from the labelled sets."""

from __future__ import annotations

import pytest

from wocas.text import names as ner
from wocas.text.pii import find_pii_in_turns

needs_ner = pytest.mark.skipif(not ner.available(), reason="the pii extra (spaCy + en_core_web_sm) is not installed")


def _names(turns, **kw) -> list[str]:
    turns = [(("agent", "customer")[i % 2], t) if isinstance(t, str) else t for i, t in enumerate(turns)]
    return [x.text.lower() for x in find_pii_in_turns(turns, ["NAME"], names="ner", **kw)]


@needs_ner
@pytest.mark.parametrize("turns,want", [
    # an agent's name in the greeting, lower case, no punctuation
    (["good evening northgate water ifeoma speaking how can i help"], ["ifeoma"]),
    (["hello this is tobiah at crestfield lettings"], ["tobiah"]),
    (["hiya you're chatting with oisin what can i do for you"], ["oisin"]),
    # a name given in answer to the agent's question, with a number after it
    (["and the surname on the policy", "it's okonkwo"], ["okonkwo"]),
    pytest.param(["and the surname on the policy", "okonkwo twelve oh three eighty one"], ["okonkwo"], marks=pytest.mark.xfail(
        reason="a word before a number is not read as a name; letting uncommon ones through added a dev false alarm "
               "and no dev name, so it was not adopted", strict=True)),
    (["what name is the booking under", "it's radoslaw wieczorek"], ["radoslaw wieczorek"]),
    # third parties
    (["hi i'm ringing for my grandson thabo he can't log in"], ["thabo"]),
    (["i spoke to a gentleman called eamon on tuesday"], ["eamon"]),
    (["can i speak to siobhan please"], ["siobhan"]),
    pytest.param(["can i speak to anneliese please"], ["anneliese"], marks=pytest.mark.xfail(
        reason="the model reads the truecased word as a nationality (NORP), which rules a slot word out", strict=True)),
    # surname particles and a surname after a title
    (["thanks mister de la fuente i've updated that"], ["de la fuente"]),
    (["my name is katrien van der westhuizen"], ["katrien van der westhuizen"]),
    # written chat keeps working
    (["Hi, I'm Saoirse. Which order is it?"], ["saoirse"]),
    (["Thanks Olumide, that's booked for Friday."], ["olumide"]),
])
def test_names_found(turns, want):
    got = _names(turns)
    for name in want:
        assert any(name in g or g in name and len(g) > 2 for g in got), (name, got)
    assert all(w in " ".join(got) for w in " ".join(want).split())


@needs_ner
@pytest.mark.parametrize("turns", [
    # places
    ["the engineer is coming out from the depot in wolverhampton on monday"],
    ["is the stopping service to aberystwyth running this afternoon"],
    # companies, shops and products
    ["thanks for calling lumivale broadband how can i help today"],
    ["welcome to zentrobank how may i help"],
    ["i bought the hoverlite blender from your store on mill road"],
    ["the router restarts every night and the wifi drops"],
    # months and common words that are also names
    ["your next bill is in june and the one after in july"],
    ["i'll mark it as urgent and you will get a text"],
    ["to be frank i hope it gets sorted this summer"],
    ["you can pay the bill online or by phone"],
    # spelling alphabet
    ["it's k for kilo juliet seven four"],
    # a title or a surname particle alone
    ["the van is parked outside and the bin are full"],
    ["okay mister thank you"],
])
def test_no_names(turns):
    assert _names(turns) == []


@needs_ner
def test_agent_name_before_speaking_is_kept_when_asked():
    turns = [("agent", "ashgrove energy bronagh speaking"), ("customer", "hi bronagh it's tadeusz nowicki here")]
    assert "bronagh" in _names(turns)
    kept = _names(turns, agent_names="keep")
    assert "bronagh" not in kept and any("tadeusz" in g for g in kept)


@needs_ner
def test_truecase_capitalises_uncommon_words_only():
    doc = ner.load().make_doc("i spoke to chidera about the router in march")
    cased = ner.truecase(doc)
    if not ner._lexicon():
        pytest.skip("TextBlob's lexicon is not installed")
    # a word the 1992 lexicon lacks is capitalised too ("router"); the model's PERSON is then dropped after "the"
    assert cased == "i spoke to Chidera about the Router in march"
    assert ner.truecase(ner.load().make_doc("Spoke to Chidera")) is None
