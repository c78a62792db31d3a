"""The lexical resolution head (engine/text/lexical.py): its terms and tf-idf against
scikit-learn's, a tiny head fitted here and loaded by path, bad folders, and the stage with it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from wocas.config import ResolutionConfig
from wocas.text.lexical import LexicalHead, Vocabulary, closing_terms, save_lexical_head, turn_terms
from wocas.schema import Resolution
from wocas.stages.resolution import ResolutionStage

from tests.test_emotion import transcript_call
from tests.test_resolution_head import FIXED, TRANSFER

CALLBACK = [
    ("agent", "Hi, Calder Water, how can I help?"),
    ("customer", "There's a leak outside my house and nobody has come since Monday."),
    ("agent", "I've raised it with the network team; an engineer will ring you back tomorrow morning."),
    ("customer", "Okay, I'll wait for the call then."),
]
GAVE_UP = [
    ("agent", "Hello, Fernway Mobile."),
    ("customer", "My phone still has no signal after three calls about it."),
    ("agent", "I can only log another fault, I can't tell you when it will be looked at."),
    ("customer", "Forget it, there's no point, I'll sort it out myself."),
]


def test_terms_are_marked_by_side_and_keep_contractions():
    assert turn_terms("agent", "I can't do that.") == ["a:i", "a:can't", "a:do", "a:that", "a:i can't",
                                                     "a:can't do", "a:do that"]
    assert turn_terms("customer", "It\u2019s fine") == ["c:it's", "c:fine", "c:it's fine"]
    turns = [("agent", "one"), ("customer", ""), ("customer", "two three")]
    assert closing_terms(turns, window=1) == ["c:two", "c:three", "c:two three"]


def test_vectors_match_scikit_learns_tfidf():
    docs = [closing_terms(call) for call in (TRANSFER, FIXED, CALLBACK, GAVE_UP, TRANSFER[:3], FIXED[2:])]
    ours = Vocabulary.fit(docs)
    theirs = TfidfVectorizer(analyzer=lambda d: d, min_df=2, sublinear_tf=True)
    expected = theirs.fit_transform(docs).toarray()
    assert list(ours.terms) == list(theirs.get_feature_names_out())
    np.testing.assert_allclose(ours.vectors(docs), expected, atol=1e-6)


def _fitted_head() -> LexicalHead:
    calls = [TRANSFER, FIXED, CALLBACK, GAVE_UP] * 2
    labels = ["transferred", "resolved", "callback_promised", "customer_gave_up"] * 2
    docs = [closing_terms(c) for c in calls]
    vocabulary = Vocabulary.fit(docs)
    lr = LogisticRegression(C=10.0, max_iter=2000).fit(vocabulary.vectors(docs), labels)
    return LexicalHead(vocabulary, lr.coef_, lr.intercept_, lr.classes_)


def test_a_head_fitted_here_round_trips_by_path_and_reads_its_calls(tmp_path):
    head = _fitted_head()
    save_lexical_head(tmp_path, head.vocabulary, head.coef, head.intercept, {"classes": head.classes})
    stage = ResolutionStage(ResolutionConfig(model=str(tmp_path)))
    calls = [transcript_call(t, call_id=name) for name, t in
             (("transfer", TRANSFER), ("fixed", FIXED), ("callback", CALLBACK), ("gave-up", GAVE_UP))]
    out = {c.call_id: c.resolution for c in stage.process_batch(calls)}
    assert out["transfer"].state == Resolution.TRANSFERRED
    assert out["callback"].state == Resolution.CALLBACK_PROMISED
    assert out["gave-up"].state == Resolution.CUSTOMER_GAVE_UP
    assert out["transfer"].turn_index in (2, 4)  # "I'll need to put you through", "I'm transferring you now"
    assert out["callback"].turn_index == 2 and "ring you back" in out["callback"].quote
    np.testing.assert_allclose(LexicalHead.load(tmp_path).probabilities([TRANSFER]), head.probabilities([TRANSFER]),
                               atol=1e-6)


def test_a_call_with_nothing_said_gets_no_resolution(tmp_path):
    head = _fitted_head()
    save_lexical_head(tmp_path, head.vocabulary, head.coef, head.intercept, {"classes": head.classes})
    stage = ResolutionStage(ResolutionConfig(model=str(tmp_path)))
    silent = transcript_call([("agent", " "), ("customer", "")], call_id="silent")
    assert stage.process_batch([silent])[0].resolution is None


def test_a_damaged_folder_is_refused_with_its_reason(tmp_path):
    head = _fitted_head()
    save_lexical_head(tmp_path, head.vocabulary, head.coef[:, :-1], head.intercept, {"classes": head.classes})
    with pytest.raises(ValueError, match="weights of shape"):
        LexicalHead.load(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "kind": "vectors"}))
    with pytest.raises(ValueError, match="not a lexical head"):
        LexicalHead.load(tmp_path)
    (tmp_path / "head.npz").unlink()
    with pytest.raises(FileNotFoundError, match="needs config.json and head.npz"):
        LexicalHead.load(tmp_path)
