"""The name verifier: its files, what it proposes, and how it changes the NAME spans redaction keeps."""

import json

import numpy as np
import pytest

from wocas.text.name_verifier import Candidate, NameVerifier, load_verifier, propose, span_features
from wocas.text.pii import find_pii_in_turns

TURNS = [("agent", "good morning you're through to harlow bank my name is devon how can i help"),
         ("customer", "hi devon my sim is blocked and my account number is 4418 2073"),
         ("agent", "and you are marcus bell is that right")]


def test_a_verifier_round_trips_through_its_files_and_refuses_other_features(tmp_path):
    rng = np.random.default_rng(0)
    features = ["bias", "found", "proposed", "asr", "kind=none", "word=sim"]
    verifier = NameVerifier(features, rng.normal(size=len(features)), threshold=0.4, proposes=False)
    verifier.save(tmp_path / "v")
    loaded = load_verifier(tmp_path / "v")
    cands = [Candidate(0, 54, 59), Candidate(1, 12, 15, found=False)]
    asked = [False] * len(TURNS)
    assert np.allclose(loaded.probabilities(TURNS, cands, asked), verifier.probabilities(TURNS, cands, asked))
    assert loaded.threshold == 0.4 and loaded.proposes is False

    config = json.loads((tmp_path / "v" / "config.json").read_text())
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "head.npz").write_bytes((tmp_path / "v" / "head.npz").read_bytes())
    (tmp_path / "w" / "config.json").write_text(json.dumps({**config, "feature_version": 0}))
    with pytest.raises(ValueError, match="train_name_verifier"):
        load_verifier(tmp_path / "w")


def test_uncommon_words_are_proposed_and_english_words_are_not():
    found = [TURNS[c.turn][1][c.start:c.end] for c in propose(TURNS, {})]
    assert "marcus" in found and "sim" in found  # "sim" is in no English lexicon: the model decides on it
    assert not any(w in found for w in ("blocked", "account", "morning", "bell", "harlow bank"))
    # words already inside a span are not proposed again
    assert "devon" not in [TURNS[0][1][c.start:c.end] for c in propose(TURNS, {0: [(54, 59)]})]


def test_the_features_read_the_word_and_its_slot():
    f = span_features(TURNS, Candidate(0, 54, 59), asked=False)
    assert f["found"] == 1 and f["asr"] == 1 and f["first_turn"] == 1 and f["prev1=is"] == 1 and f["role=agent"] == 1
    at = TURNS[1][1].index("blocked")
    blocked = span_features(TURNS, Candidate(1, at, at + 7, found=False), asked=False)
    assert blocked["proposed"] == 1 and blocked["word=blocked"] == 1 and blocked["prev1=is"] == 1
    assert "word=devon" not in span_features(TURNS, Candidate(0, 54, 59), asked=False)  # no English word


def test_the_verifier_decides_which_names_are_redacted_and_leaves_identifiers_alone():
    keep_found = NameVerifier(["bias", "found"], np.array([-5.0, 10.0]), proposes=True)
    drop_all = NameVerifier(["bias"], np.array([-5.0]), proposes=True)
    keep_all = NameVerifier(["bias"], np.array([5.0]), proposes=True)
    plain = find_pii_in_turns(TURNS, names="ner")
    kept = find_pii_in_turns(TURNS, names="ner", name_verifier=keep_found)
    dropped = find_pii_in_turns(TURNS, names="ner", name_verifier=drop_all)
    every = find_pii_in_turns(TURNS, names="ner", name_verifier=keep_all)

    def names(spans):
        return sorted((x.turn, x.text) for x in spans if x.type == "NAME")

    def others(spans):
        return sorted((x.turn, x.type, x.text) for x in spans if x.type != "NAME")

    assert (0, "devon") in names(plain) and names(kept) == names(plain)
    assert names(dropped) == [] and others(dropped) == others(plain) != []
    assert (2, "marcus") in names(every) and len(names(every)) > len(names(plain))


def test_the_shipped_verifier_is_pinned_and_is_the_default():
    import hashlib
    import tomllib
    from pathlib import Path

    from wocas.config import RedactConfig

    models = Path(__file__).resolve().parents[1] / "models"
    spec = tomllib.loads((models / "registry.toml").read_text())["models"]["name-verifier"]
    for name, digest in spec["files"].items():
        assert hashlib.sha256((models / spec["path"] / name).read_bytes()).hexdigest() == digest
    assert RedactConfig().name_verifier == "name-verifier"


def test_the_shipped_verifier_drops_greetings_and_keeps_and_finds_names():
    from wocas.models.registry import resolve

    verifier = load_verifier(resolve("name-verifier").path)
    call = [("agent", "good morning thank you for calling harimau bank my name is farid how can i help you"),
            ("customer", "morning i want to report my debit card was swallowed by the atm"),
            ("agent", "okay and you are marcus bell")]

    def names(spans):
        return [(x.turn, x.text) for x in spans if x.type == "NAME"]

    before = names(find_pii_in_turns(call, names="ner"))
    after = names(find_pii_in_turns(call, names="ner", name_verifier=verifier))
    assert (1, "morning i want") in before and (0, "morning") in before
    assert after == [(0, "farid"), (2, "marcus")]


def test_written_correspondence_puts_names_after_sign_offs_and_person_fields():
    from wocas.text.names import written_name_slots

    def slots(text):
        return [(text[s:e], how) for s, e, how in written_name_slots(text)]

    assert slots("Ok, done.\n\nBest,\nTomás | FlowDesk Billing") == [("Tomás", "signoff")]
    assert slots("Mit freundlichen Grüßen\nMehmet Demir\nVenloer Str. 311") == [("Mehmet Demir", "signoff")]
    assert slots("Kind regards,\n\nMarie-Claude, Card Services") == [("Marie-Claude", "signoff")]
    assert slots("Thanks, Chloe Ng\nSupport Engineer") == [("Chloe Ng", "signoff")]
    assert slots("Tenant: Oluwaseun Adeyemi (pref. Seun)\nProp: 2F1") == [("Oluwaseun Adeyemi", "field")]
    assert slots("Patient name: Halima Abdi Mohamed\nDate of birth: 1987-04-19") == [("Halima Abdi Mohamed", "field")]
    # after a sign-off only capitalised words: "thanks, that's great" is no signature
    assert slots("thanks, that's great") == [] and slots("Order: 4471 2201") == []


def test_the_features_say_where_a_candidate_sits_on_its_line():
    from wocas.text.name_verifier import line_features

    text = "Ok.\n\nBest,\nTomás | FlowDesk"
    at = text.index("Tomás")
    assert line_features(text, at, at + 5) == {"multiline": 1.0, "line_start": 1.0, "after_signoff": 1.0}
    text = "x\nTenant: Oluwaseun Adeyemi (pref)"
    at = text.index("Olu")
    assert line_features(text, at, at + 17) == {"multiline": 1.0, "after_person_field": 1.0}
    assert line_features("hi my name is sam", 14, 17) == {"line_end": 1.0}


def test_the_shipped_verifier_keeps_a_signature_and_a_form_field_name():
    from wocas.models.registry import resolve

    verifier = load_verifier(resolve("name-verifier").path)
    mail = [("customer", "Hello,\n\nMy invoice went to the old address, could you fix it?\n\nBest regards,\nSarah-Jane Okafor"),
            ("agent", "Done, a new invoice is on its way.\n\nKind regards,\nTomás\nBilling team"),
            ("customer", "ORDER FORM\nPatient name: Halima Abdi Mohamed\nDate of birth: 1987-04-19")]
    names = [x.text for x in find_pii_in_turns(mail, names="ner", name_verifier=verifier) if x.type == "NAME"]
    assert {"Sarah-Jane Okafor", "Tomás", "Halima Abdi Mohamed"} <= set(names)
    assert not any(w in " ".join(names) for w in ("invoice", "Billing", "ORDER"))
