"""The shape and band read from the words of the whole call (engine/text/lexical.py, layout
"thirds"): the terms, tiny heads built here and loaded by path through the real stages, the blend
with the shape classifier and the band model, and the shipped heads' pins."""

from __future__ import annotations

import json

import numpy as np
import pytest

from wocas.config import load_config
from wocas.models.registry import resolve
from wocas.pipeline import Pipeline, build_stages
from wocas.satisfaction.call_model import band_of
from wocas.text.lexical import THIRDS, LexicalHead, Vocabulary, save_lexical_head, thirds_terms

from tests.test_emotion import transcript_call

SHAPES = ["deteriorated", "recovered", "steady-negative", "steady-positive", "volatile"]
BANDS = ["high", "low", "mid"]
HAPPY = [
    ("agent", "Good morning, Harlow Energy, how can I help?"),
    ("customer", "Hi, I just want to give you a meter reading, it's 48213."),
    ("agent", "Lovely, that's on your account now and your next bill will use it."),
    ("customer", "Brilliant, that was quick, thank you so much."),
    ("agent", "Anything else I can help with?"),
    ("customer", "No, that's everything, you've been really helpful. Have a good day."),
]


def test_thirds_terms_mark_each_turn_by_side_and_third():
    turns = [("agent", "hello"), ("customer", ""), ("customer", "my bill"), ("agent", "sorry"),
             ("customer", "thanks"), ("agent", "bye"), ("customer", "fine")]
    terms = thirds_terms(turns)
    # six turns said something: two per third; the empty turn is skipped
    assert terms[:1] == ["oa:hello"]
    assert "oc:my bill" in terms and "ma:sorry" in terms and "mc:thanks" in terms
    assert terms[-2:] == ["ea:bye", "ec:fine"]
    assert thirds_terms([]) == []


def _head_that_says(folder, classes: list[str], says: str, calls) -> LexicalHead:
    """A head whose weights are zero except a large push toward ``says`` from every term it knows."""
    docs = [thirds_terms(c) for c in calls] * 2
    vocabulary = Vocabulary.fit(docs)
    coef = np.zeros((len(classes), len(vocabulary.terms)), dtype=np.float32)
    coef[classes.index(says)] = 40.0
    head = LexicalHead(vocabulary, coef, np.zeros(len(classes)), classes, layout=THIRDS)
    save_lexical_head(folder, vocabulary, coef, np.zeros(len(classes)), {"classes": classes}, layout=THIRDS)
    return head


def _run(overrides: dict, lines=HAPPY):
    config = load_config(overrides=overrides)
    return Pipeline(build_stages(config), config).process([transcript_call(lines, call_id="happy")])[0]


def test_a_head_fitted_here_round_trips_with_its_layout(tmp_path):
    head = _head_that_says(tmp_path, SHAPES, "volatile", [HAPPY])
    loaded = LexicalHead.load(tmp_path)
    assert loaded.layout == THIRDS and json.loads((tmp_path / "config.json").read_text())["layout"] == THIRDS
    np.testing.assert_allclose(loaded.probabilities([HAPPY]), head.probabilities([HAPPY]), atol=1e-6)
    assert loaded.classes[int(np.argmax(loaded.probabilities([HAPPY])[0]))] == "volatile"
    with pytest.raises(ValueError, match="evidence turns are read only by a 'closing' head"):
        loaded.evidence(HAPPY, 0)


def test_the_shape_blends_the_classifier_with_the_words_head(tmp_path):
    plain = _run({"emotion": {"shape_words": ""}, "satisfaction": {"band_words": ""}})
    assert plain.ok, plain.error
    assert plain.trajectories["customer"].shape == "steady-positive"
    _head_that_says(tmp_path, SHAPES, "volatile", [HAPPY])
    steered = _run({"emotion": {"shape_words": str(tmp_path)}, "satisfaction": {"band_words": ""}})
    # the words head is sure (p ~ 1), so its class wins the mean unless the classifier is as sure
    assert steered.trajectories["customer"].shape == "volatile"
    assert steered.trajectories["customer"].points == plain.trajectories["customer"].points


def test_the_band_blends_the_band_model_with_the_words_head_and_keeps_its_reading(tmp_path):
    plain = _run({"emotion": {"shape_words": ""}, "satisfaction": {"band_words": ""}})
    assert plain.satisfaction.band == "high"
    assert not any(k.startswith("words:") for k in plain.satisfaction.features)
    _head_that_says(tmp_path, BANDS, "low", [HAPPY])
    steered = _run({"emotion": {"shape_words": ""}, "satisfaction": {"band_words": str(tmp_path)}})
    features = steered.satisfaction.features
    assert features["words:low"] > 0.99 and set(k for k in features if k.startswith("words:")) == {
        "words:high", "words:low", "words:mid"}
    assert steered.satisfaction.band == "low"
    assert steered.satisfaction.score == plain.satisfaction.score  # the score is the call model's alone


def test_band_of_averages_the_stored_words_reading_with_the_logistic():
    band = {"kind": "logistic", "features": None, "classes": BANDS, "coef": None, "intercept": [0.0, 0.0, 0.0]}
    from wocas.satisfaction.call_model import BAND_FEATURES

    k = len(BAND_FEATURES)
    coef = np.zeros((3, k))
    coef[0, 0] = 1.0  # the score pushes toward high
    band.update(features=list(BAND_FEATURES), coef=coef.tolist(), mean=[3.0] * k, scale=[1.0] * k)
    assert band_of(4.5, {}, band) == "high"
    sure_low = {"words:high": 0.0, "words:low": 1.0, "words:mid": 0.0}
    assert band_of(4.5, sure_low, band) == "low"
    assert band_of(4.5, {"words:high": 0.0, "words:low": 1.0}, band) == "high"  # a partial reading is ignored
    # after a refit on a centre's surveys the band is the survey's own cut of the score
    assert band_of(4.5, sure_low, {"kind": "cuts", "cuts": [2.5, 3.5]}) == "high"


@pytest.mark.parametrize("name,classes", [("shape-lexical", SHAPES), ("band-lexical", BANDS)])
def test_the_shipped_heads_are_pinned_thirds_heads(name, classes):
    head = LexicalHead.load(resolve(name).path)
    assert head.layout == THIRDS and sorted(head.classes) == classes
    assert len(head.vocabulary.terms) > 1000


ANGRY = [
    ("agent", "Thanks for calling Harlow Energy, how can I help?"),
    ("customer", "This is the third time I've rung about the same wrong bill and nobody has fixed it."),
    ("agent", "I'm sorry, I can see the notes, I'll need to raise it with billing again."),
    ("customer", "That's what the last two people said. I'm sick of this."),
    ("agent", "I understand, it can take up to ten working days."),
    ("customer", "No. Forget it. I want to cancel my account and switch supplier."),
]


@pytest.mark.parametrize("name,happy,angry", [("shape-lexical", "steady-positive", "steady-negative"),
                                              ("band-lexical", "high", "low")])
def test_the_shipped_heads_read_a_plain_happy_and_a_plain_angry_call(name, happy, angry):
    head = LexicalHead.load(resolve(name).path)
    p = head.probabilities([HAPPY, ANGRY])
    assert [head.classes[int(np.argmax(row))] for row in p] == [happy, angry]
