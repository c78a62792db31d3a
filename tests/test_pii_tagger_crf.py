"""The PII tagger as a linear-chain CRF (wocas.text.pii_crf): its numpy decoding against brute
force, its loading code on a tiny CRF fitted here with CRFsuite, and the shipped one on a few lines."""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from wocas.config import RedactConfig, load_config
from wocas.text.pii import TAGGER_IDENTIFIER_TYPES, find_pii_in_turns
from wocas.text.pii_crf import FEATURE_VERSION, CrfTagger, fit_crf, save_crf
from wocas.text.pii_tagger import OUTSIDE, PiiTagger, conversation_rows, load_tagger

MODELS = Path(__file__).resolve().parents[1] / "models"
CLASSES = [OUTSIDE, "ID", "NAME"]


def _random_crf(seed: int = 0, decode: str = "marginal") -> CrfTagger:
    rng = np.random.default_rng(seed)
    features = ["b", "c=dig", "c=word", "c=let"]
    return CrfTagger(CLASSES, features, rng.normal(size=(len(features), 3)), rng.normal(size=(3, 3)), decode, 0.5)


def _sequence_scores(crf: CrfTagger, scores: np.ndarray) -> dict[tuple, float]:
    return {labels: sum(scores[i, k] for i, k in enumerate(labels))
            + sum(crf.transitions[a, b] for a, b in zip(labels, labels[1:]))
            for labels in itertools.product(range(len(crf.classes)), repeat=len(scores))}


def test_viterbi_and_marginals_agree_with_brute_force():
    crf = _random_crf()
    scores = crf.scores([["b", "c=dig"], ["b", "c=word"], ["c=let"], ["b"]])
    every = _sequence_scores(crf, scores)
    assert tuple(crf.viterbi(scores)) == max(every, key=every.get)
    z = np.logaddexp.reduce(list(every.values()))
    expected = np.zeros_like(scores)
    for labels, s in every.items():
        for i, k in enumerate(labels):
            expected[i, k] += np.exp(s - z)
    assert np.allclose(crf.marginals(scores), expected)
    assert np.allclose(crf.marginals(scores[:1]), np.exp(scores[0] - np.logaddexp.reduce(scores[0])))


def _tiny_data() -> list[tuple[list[list[str]], list[str]]]:
    out = []
    for turns, labels in [
        ([("agent", "what's the claim number"), ("customer", "it's c l 4 4 0 9")], [OUTSIDE] + ["ID"] * 6),
        ([("agent", "what's the reference"), ("customer", "it's 7 7 2 1")], [OUTSIDE] + ["ID"] * 4),
        ([("agent", "and your name"), ("customer", "it's Grace Okafor")], [OUTSIDE, "NAME", "NAME"]),
        ([("agent", "anything else"), ("customer", "no that's all thanks")], [OUTSIDE] * 4),
    ]:
        rows = conversation_rows(turns, [])
        out.append((rows[1][2], labels))
    return out


def test_a_crf_fitted_here_saves_loads_and_tags(tmp_path):
    data = _tiny_data()
    assert all(len(f) == len(y) for f, y in data)
    features = sorted({f for feats, _ in data for tf in feats for f in tf})
    crf = fit_crf(data * 3, features, c1=0.0, c2=0.1, max_iterations=50, decode="viterbi")
    save_crf(tmp_path, crf, {"note": "test"})
    load_tagger.cache_clear()
    loaded = load_tagger(tmp_path)
    assert isinstance(loaded, CrfTagger) and loaded.decode == "viterbi" and set(loaded.classes) == {OUTSIDE, "ID", "NAME"}
    assert json.loads((tmp_path / "config.json").read_text())["feature_version"] == FEATURE_VERSION
    turns = [("agent", "what's the claim number"), ("customer", "it's c l 4 4 0 9")]
    (span,) = loaded.tag(turns, [])
    assert (span.type, span.turn, span.text) == ("ID", 1, "c l 4 4 0 9")
    # the saved weights are float32: the loaded CRF decodes as the fitted one does
    feats = conversation_rows(turns, [])[1][2]
    assert np.allclose(loaded.marginals(loaded.scores(feats)), crf.marginals(crf.scores(feats)), atol=1e-4)
    # where the rules found the value already, the CRF adds nothing there
    assert loaded.spans(turns, [span]) == []


def test_a_run_never_starts_or_ends_on_a_sign_and_the_marginal_decode_is_stricter():
    always_id = CrfTagger(CLASSES, ["b"], np.array([[0.0, 5.0, 0.0]]), np.zeros((3, 3)), "marginal", 0.5)
    assert [x.text for x in always_id.tag([("customer", "- KL-509127 .")], [])] == ["KL-509127"]
    unsure = CrfTagger(CLASSES, ["b"], np.array([[0.0, 0.5, 0.0]]), np.zeros((3, 3)), "marginal", 0.8)
    assert unsure.tag([("customer", "it's 4471")], []) == []  # P(not O) = 0.62 < 0.8
    viterbi = CrfTagger(CLASSES, ["b"], np.array([[0.0, 0.5, 0.0]]), np.zeros((3, 3)), "viterbi")
    assert [x.text for x in viterbi.tag([("customer", "it's 4471")], [])] == ["it's 4471"]


def test_missing_files_other_versions_and_a_bad_decode_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="decode"):
        CrfTagger(CLASSES, ["b"], np.zeros((1, 3)), np.zeros((3, 3)), "beam")
    save_crf(tmp_path, _random_crf(), {})
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "feature_version": FEATURE_VERSION - 1}))
    load_tagger.cache_clear()
    with pytest.raises(ValueError, match="--model crf"):
        load_tagger(tmp_path)
    (tmp_path / "head.npz").unlink()
    load_tagger.cache_clear()
    with pytest.raises(FileNotFoundError, match="needs config.json and head.npz"):
        load_tagger(tmp_path)


def test_the_registry_pins_the_shipped_crf_and_the_logistic_one_still_loads():
    spec = tomllib.loads((MODELS / "registry.toml").read_text())["models"]["pii-tagger-crf"]
    assert spec["kind"] == "pii-tagger"
    for name, digest in spec["files"].items():
        assert hashlib.sha256((MODELS / spec["path"] / name).read_bytes()).hexdigest() == digest, name
    assert isinstance(load_tagger(MODELS / "pii-tagger-crf"), CrfTagger)
    assert isinstance(load_tagger(MODELS / "pii-tagger"), PiiTagger)


def _leaked(turns, spans, ti, value):
    start = turns[ti][1].index(value)
    return not any(x.turn == ti and x.start <= start and start + len(value) <= x.end for x in spans)


def test_the_shipped_crf_on_a_few_lines():
    crf = load_tagger(MODELS / "pii-tagger-crf")
    # a surname spelled two ways in a question: no rule reads a name cue there
    spelled = [("agent", "and can i take your surname please"), ("customer", "it's smyth"),
               ("agent", "so is it s m i t h or s m y t h")]
    assert _leaked(spelled, find_pii_in_turns(spelled, names="ner"), 2, "s m y t h")
    assert not _leaked(spelled, find_pii_in_turns(spelled, names="ner", tagger=crf), 2, "s m y t h")
    # prices, times and an ordinary "oh" stay
    ordinary = [("agent", "your new monthly payment will be thirty four pounds fifty from the first of june"),
                ("customer", "okay and what time does the shop open"), ("agent", "nine thirty on weekdays"),
                ("customer", "oh i was sure i added the washing machine last year")]
    assert find_pii_in_turns(ordinary, names="ner", tagger=crf) == []


def test_config_and_redact_stage_take_the_crf_kept_to_identifier_types_by_default():
    from wocas.io.ingest import transcript_to_call
    from wocas.stages.redact import RedactStage

    # the default since benchmarks/results/pii_tagger_refit.md: the CRF, identifiers and addresses only
    assert RedactConfig().tagger == "pii-tagger-crf" and RedactConfig().tagger_types == TAGGER_IDENTIFIER_TYPES
    assert load_config(overrides={"redact": {"tagger": "pii-tagger-crf"}}).redact.tagger == "pii-tagger-crf"
    doc = {"call_id": "spelled", "turns": [
        {"speaker": "agent", "text": "and can i take your surname please"},
        {"speaker": "customer", "text": "it's smyth"},
        {"speaker": "agent", "text": "so is it s m i t h or s m y t h"}]}
    call = transcript_to_call(doc, "test", "spelled")
    every = dict(tagger_types=())  # every type: the spelled surname is a NAME
    crf_stage = RedactStage(RedactConfig(tagger="pii-tagger-crf", **every))
    logistic_stage = RedactStage(RedactConfig(tagger="pii-tagger", **every))
    assert "s m y t h" not in crf_stage.process_call(call).turns[2].text
    assert crf_stage.version() != logistic_stage.version()
    # the default adds no name of the CRF's: that surname stays (the price of keeping angry words)
    assert "s m y t h" in RedactStage(RedactConfig()).process_call(call).turns[2].text


# A parking-fine call: an angry word the CRF reads as a name, and a spelled reference no rule reads.
FINE = [("agent", "thanks for calling how can i help"),
        ("customer", "I've had a parking fine outside my own house. This is ridiculous."),
        ("agent", "I'm sorry to hear that, can I take the reference on the notice?"),
        ("customer", "It's R-T-nine-four-L-K.")]


def _added(spans, rules):
    return sorted((x.type, x.text) for x in spans if x not in rules)


def test_tagger_types_keeps_the_shipped_crf_to_the_types_named():
    crf = load_tagger(MODELS / "pii-tagger-crf")
    rules = find_pii_in_turns(FINE, names="ner")
    every = find_pii_in_turns(FINE, names="ner", tagger=crf)
    kept = find_pii_in_turns(FINE, names="ner", tagger=crf, tagger_types=TAGGER_IDENTIFIER_TYPES)
    assert _added(every, rules) == [("ID", "R-T-nine-four-L-K"), ("NAME", "ridiculous")]
    assert _added(kept, rules) == [("ID", "R-T-nine-four-L-K")]  # the reference, and not the angry word
    assert _added(find_pii_in_turns(FINE, names="ner", tagger=crf, tagger_types=["NAME"]), rules) == [
        ("NAME", "ridiculous")]
    assert find_pii_in_turns(FINE, names="ner", tagger=crf, tagger_types=()) == every  # empty = every type
    # the rules' and the NER names' spans are never filtered, only the tagger's
    named = [("agent", "and your name please"), ("customer", "it's Grace Okafor")]
    assert [x.type for x in find_pii_in_turns(named, names="ner", tagger=crf, tagger_types=["ID"])] == ["NAME"]


def test_the_default_redact_stage_hides_the_reference_and_keeps_the_angry_word():
    from wocas.io.ingest import transcript_to_call
    from wocas.stages.redact import RedactStage

    doc = {"call_id": "fine", "turns": [{"speaker": s, "text": t} for s, t in FINE]}
    call = transcript_to_call(doc, "test", "fine")
    default = RedactStage(RedactConfig()).process_call(call)
    assert "This is ridiculous." in default.turns[1].text and "R-T-nine" not in default.turns[3].text
    every = RedactStage(RedactConfig(tagger_types=())).process_call(call)
    assert "This is [NAME]." in every.turns[1].text


def test_tagger_types_are_checked_and_count_in_the_stage_version_only_where_they_change_results():
    from wocas.config import ConfigError
    from wocas.stages.redact import RedactStage

    with pytest.raises(ConfigError, match="NAMES"):
        load_config(overrides={"redact": {"tagger_types": ["NAMES"]}})
    version = lambda **kw: RedactStage.version_for(RedactConfig(**kw))  # noqa: E731
    assert version(tagger_types=()) != version()  # every type against identifiers only
    assert version(tagger_types=("ID", "NAME")) == version(tagger_types=("NAME", "ID"))  # a set
    # no tagger: the types change nothing, and the version is the one from before the field existed
    assert version(tagger="", tagger_types=("ID",)) == version(tagger="", tagger_types=())
    assert "tagger_types" not in RedactStage.results_settings(RedactConfig(tagger="", tagger_types=("ID",)))


def test_a_one_character_turn_is_never_a_value_of_the_tagger():
    # the end of an authored chat (models/training/trust_calls7.txt, t7-033): the CRF read the last
    # 'k' (okay) as an SSN; the order number given earlier is still redacted
    crf = load_tagger(MODELS / "pii-tagger-crf")
    chat = [("agent", "Hi, you're chatting with Owen from Tenor Mobile. How can I help?"),
            ("customer", "hi my new phone was meant to come friday, nothing, tracking hasnt moved since tues"),
            ("agent", "Sorry about that. Let me check the order."), ("customer", "TM-440981"),
            ("agent", "It's quick, I'll pass you to sales now with a note so you don't have to explain again."),
            ("customer", "ok thats fine actually, thank u"), ("agent", "Transferring now."), ("customer", "k")]
    spans = find_pii_in_turns(chat, names="ner", tagger=crf, tagger_types=TAGGER_IDENTIFIER_TYPES)
    assert [x.text for x in spans if x.turn == 7] == [] and "TM-440981" in [x.text for x in spans]
