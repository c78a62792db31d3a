"""The fitted PII token tagger: its loading code on tiny random-weight taggers built here, the
shipped one through the redaction stage, and its config."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from wocas.config import ConfigError, RedactConfig, load_config
from wocas.text.pii import find_pii_in_turns
from wocas.text.pii_tagger import (FEATURE_VERSION, OUTSIDE, code_runs, conversation_rows, load_tagger,
                                   save_tagger, tokens_of, word_class)

MODELS = Path(__file__).resolve().parents[1] / "models"
CLASSES = [OUTSIDE, "ID", "NAME"]


def _random_tagger(folder: Path, features: list[str], seed: int = 0, **config) -> None:
    rng = np.random.default_rng(seed)
    save_tagger(folder, CLASSES, features, rng.normal(size=(len(features), len(CLASSES))),
                rng.normal(size=len(CLASSES)), {"min_probability": 0.5, **config})


def test_a_random_tagger_loads_and_tags_whole_tokens(tmp_path):
    turns = [("agent", "what's the claim number"), ("customer", "it's c l 4 4 0 9")]
    features = sorted({f for _, _, feats in conversation_rows(turns, []) for tf in feats for f in tf})
    _random_tagger(tmp_path, features)
    tagger = load_tagger(tmp_path)
    assert tagger.classes == CLASSES and len(tagger.index) == len(features)
    spans = tagger.tag(turns, [])
    for x in spans:
        text = turns[x.turn][1]
        assert x.type in ("ID", "NAME") and text[x.start:x.end] == x.text
        assert x.start == 0 or not text[x.start - 1].isalnum()  # never half a word
        assert x.end == len(text) or not text[x.end].isalnum()
    p = tagger.probabilities(conversation_rows(turns, [])[1][2])
    assert p.shape == (len(tokens_of(turns[1][1]).words), 3) and np.allclose(p.sum(axis=1), 1.0)


def test_a_tagger_that_always_says_id_makes_one_span_per_run_of_tokens(tmp_path):
    save_tagger(tmp_path, CLASSES, ["b"], np.array([[0.0, 5.0, 0.0]]), np.zeros(3), {"min_probability": 0.5})
    tagger = load_tagger(tmp_path)
    text = "it's c l 4 4 0 9"
    (span,) = tagger.tag([("customer", text)], [])
    assert (span.type, span.start, span.end) == ("ID", 0, len(text))
    # where the rules found something already, the tagger adds nothing there
    rules = find_pii_in_turns([("customer", text)], names="rules")
    assert tagger.spans([("customer", text)], rules) == [] if rules else True


def test_a_run_never_starts_or_ends_on_a_sign(tmp_path):
    save_tagger(tmp_path, CLASSES, ["b"], np.array([[0.0, 5.0, 0.0]]), np.zeros(3), {"min_probability": 0.5})
    tagger = load_tagger(tmp_path)
    assert [x.text for x in tagger.tag([("customer", "- KL-509127 .")], [])] == ["KL-509127"]
    assert tagger.tag([("customer", "... !")], []) == []


def test_missing_files_and_other_features_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="needs config.json and head.npz"):
        load_tagger(tmp_path / "nothing")
    _random_tagger(tmp_path, ["b"])
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "feature_version": FEATURE_VERSION + 1}))
    load_tagger.cache_clear()
    with pytest.raises(ValueError, match="train_pii_tagger.py"):
        load_tagger(tmp_path)


def test_token_classes_and_code_runs():
    assert [word_class(w) for w in ["4471", "seven", "b", "bravo", "ab12", "Grace", "price", "-", "a.b@c.com"]] == [
        "dig", "numw", "let", "nato", "alnum", "Cap", "word", "sign", "email"]
    assert tokens_of("mail j.okafor+1@gmail.co.uk now.").words == ["mail", "j.okafor+1@gmail.co.uk", "now", "."]
    assert code_runs(["word", "let", "let", "dig", "dig", "dig", "dig", "dig", "word", "dig"]) == [
        "0", "7+", "7+", "7+", "7+", "7+", "7+", "7+", "0", "1"]


def test_the_registry_pins_the_shipped_tagger():
    spec = tomllib.loads((MODELS / "registry.toml").read_text())["models"]["pii-tagger"]
    for name, digest in spec["files"].items():
        assert hashlib.sha256((MODELS / spec["path"] / name).read_bytes()).hexdigest() == digest, name


def test_the_shipped_tagger_finds_a_spelled_surname_the_rules_leave():
    """A surname spelled two ways in a question: the rules read no name cue there; the tagger has
    learnt that letters spelled one by one after a name question are a name."""
    turns = [("agent", "and can i take your surname please"), ("customer", "it's smyth"),
             ("agent", "so is it s m i t h or s m y t h")]
    rules = find_pii_in_turns(turns, names="ner")
    both = find_pii_in_turns(turns, names="ner", tagger=load_tagger(MODELS / "pii-tagger"))
    leaked = lambda spans: [w for w in ("s m y t h",) if not any(  # noqa: E731
        x.turn == 2 and x.start <= turns[2][1].index(w) and turns[2][1].index(w) + len(w) <= x.end for x in spans)]
    assert leaked(rules) == ["s m y t h"]
    assert leaked(both) == []


def test_prices_and_times_stay_with_the_shipped_tagger():
    turns = [("agent", "your new monthly payment will be thirty four pounds fifty from the first of june"),
             ("customer", "okay and what time does the shop open"), ("agent", "nine thirty on weekdays")]
    assert find_pii_in_turns(turns, names="ner", tagger=load_tagger(MODELS / "pii-tagger")) == []


def test_config_names_the_tagger_and_refuses_an_unknown_one(tmp_path):
    # the default is the CRF kept to identifier types (test_pii_tagger_crf.py); this one is opt-in
    assert RedactConfig().tagger == "pii-tagger-crf"
    assert load_config(overrides={"redact": {"tagger": "pii-tagger"}}).redact.tagger == "pii-tagger"
    with pytest.raises(ConfigError, match=r"\[redact\] tagger"):
        load_config(overrides={"redact": {"tagger": "pii-taggr"}})


def test_the_redact_stage_runs_the_tagger_the_config_names():
    from wocas.io.ingest import transcript_to_call
    from wocas.stages.redact import RedactStage

    doc = {"call_id": "spelled", "turns": [
        {"speaker": "agent", "text": "and can i take your surname please"},
        {"speaker": "customer", "text": "it's smyth"},
        {"speaker": "agent", "text": "so is it s m i t h or s m y t h"}]}
    call = transcript_to_call(doc, "test", "spelled")
    plain, tagged = RedactStage(RedactConfig(tagger="")), RedactStage(RedactConfig(tagger="pii-tagger", tagger_types=()))
    assert "s m y t h" in plain.process_call(call).turns[2].text
    assert "s m y t h" not in tagged.process_call(call).turns[2].text
    assert plain.version() != tagged.version()  # a tagger (and its weights) is part of the redaction's version
