"""RedactStage: tags in turns and words (timings kept), keyed hashes, the silenced audio copy,
the pipeline/CLI switches, and analytics that give the same answers on redacted text."""

from __future__ import annotations

import hmac
import json
from hashlib import sha256
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wocas.config import Config, RedactConfig
from wocas.io.ingest import iter_calls, transcript_to_call
from wocas.text.pii import find_pii
from wocas.pipeline import build_stages
from wocas.schema import CallAnalysis, Role, Turn, Word
from wocas.stages.redact import RedactStage, redact_turn, redacted_ranges, tag_spans
from wocas.text.pii import PiiSpan, find_pii_in_turns
from wocas.stages.roles import RolesStage

# Test calls: real-sounding contact-centre exchanges with PII read out the ways ASR writes it.
CALLS = [
    {"call_id": "pii-call-1", "turns": [
        {"speaker": "S1", "text": "Thank you for calling Northwind Bank, my name is Priya, how can I help you today?"},
        {"speaker": "S2", "text": "Hi, I'm calling because my card was charged twice for the same order and I'm really annoyed."},
        {"speaker": "S1", "text": "I'm sorry to hear that. Can I take the long number on the card please?"},
        {"speaker": "S2", "text": "yeah it's four one one one, one one one one, one one one one, one one one one"},
        {"speaker": "S1", "text": "Thank you. And can I have your account number please?"},
        {"speaker": "S2", "text": "it's 4 4 7 9"},
        {"speaker": "S1", "text": "mm-hm"},
        {"speaker": "S2", "text": "um 1 2 8 1"},
        {"speaker": "S1", "text": "I can see the duplicate payment of 49 pounds 99. I will refund it today."},
        {"speaker": "S2", "text": "Okay, thank you, that is a relief. This is the second time this has happened."},
    ]},
    {"call_id": "pii-call-2", "turns": [
        {"speaker": "agent", "text": "Good morning, you're through to Acme Telecom, how may I help?"},
        {"speaker": "customer", "text": "My internet has been down for 3 days. This is ridiculous, I want to cancel my contract and go to another provider."},
        {"speaker": "agent", "text": "I understand. Can I take your postcode and date of birth to find the account?"},
        {"speaker": "customer", "text": "It's LS6 2AB, and I was born on the 3rd of March 1985. My email is john dot smith at gmail dot com."},
        {"speaker": "agent", "text": "Thank you Mr Smith. I can book an engineer for the 12th of June between 8 and 12."},
        {"speaker": "customer", "text": "Fine, but if it isn't fixed I'm leaving. Call me on 07700 900123."},
    ]},
]


def _call(doc: dict) -> CallAnalysis:
    call = transcript_to_call(doc, "test", doc["call_id"])
    assert call.ok, call.error
    return call


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("redacted-audio")


@pytest.fixture(scope="module")
def stages(audio_dir):
    """The default stage list (built once: it loads the models), redacted audio on."""
    return build_stages(Config.model_validate({"redact": {"audio": True, "audio_dir": str(audio_dir)}}))


def run_text_stages(stages, calls: list[CallAnalysis]) -> list[CallAnalysis]:
    """A transcript's way through the pipeline: every stage that is not audio-only, in order."""
    for stage in stages:
        if not stage.audio_only:
            calls = stage.process_batch(calls)
    return calls


def test_transcript_turns_get_tags_and_no_digits_survive(monkeypatch):
    monkeypatch.setenv("WOCAS_HASH_KEY", "test-key")
    call = RolesStage(Config().roles).process_call(_call(CALLS[0]))
    out = RedactStage(RedactConfig()).process_call(call)
    texts = [t.text for t in out.turns]
    assert out.redacted
    assert "my name is [NAME]" in texts[0]
    assert texts[3] == "yeah it's [CARD]"
    assert texts[5] == "it's [ACCOUNT]" and texts[7] == "um [ACCOUNT]"
    assert "49 pounds 99" in texts[8]  # a price is not personal data
    hashes = out.call.metadata["pii_hashes"]
    expected = hmac.new(b"test-key", b"ACCOUNT:44791281", sha256).hexdigest()
    assert hashes["ACCOUNT"] == [expected]
    assert "CARD" not in hashes  # cards are never kept, not even hashed, by default
    assert "44791281" not in json.dumps(out.to_json())


def test_a_batch_is_redacted_as_each_call_alone():
    """The stage parses a whole batch's turns in one NER pass; each call must come out as it
    would on its own (names included: "Priya", "Mr Smith")."""
    stage = RedactStage(RedactConfig())
    calls = [RolesStage(Config().roles).process_call(_call(doc)) for doc in CALLS]
    together = stage.process_batch(calls)
    alone = [stage.process_call(call) for call in calls]
    assert [[t.text for t in c.turns] for c in together] == [[t.text for t in c.turns] for c in alone]
    assert "my name is [NAME]" in together[0].turns[0].text and "Thank you [NAME]." in together[1].turns[4].text


def test_no_hash_key_no_hashes(monkeypatch):
    monkeypatch.delenv("WOCAS_HASH_KEY", raising=False)
    out = RedactStage(RedactConfig()).process_call(_call(CALLS[0]))
    assert out.redacted and "pii_hashes" not in out.call.metadata


def test_entities_switched_off_stay_in_clear():
    out = RedactStage(RedactConfig(entities=("CARD",))).process_call(_call(CALLS[0]))
    assert "[CARD]" in out.turns[3].text and "Priya" in out.turns[0].text and "4 4 7 9" in out.turns[5].text


def test_pipeline_puts_redaction_right_after_roles(stages):
    names = [s.name for s in stages]
    assert names[names.index("roles") + 1] == "redact"


def _analytics(call: CallAnalysis) -> dict:
    """Everything the text analytics decided about a call (whichever of those stages exist)."""
    return {
        "roles": call.roles, "role_confidence": call.role_confidence,
        "contact_reason": call.contact_reason, "preventable": call.preventable,
        # a job read off a turn that is only a number being read out is noise, not a finding
        "jobs": [j.reason for j in call.jobs if j.turn_index is None or not _pii_turn(call, j.turn_index)],
        "signals": sorted({s.kind for s in call.signals}),
        "has_emotion": [t.emotion is not None for t in call.turns],
        "trajectory_shapes": {role: t.shape for role, t in call.trajectories.items()},
        "has_satisfaction": call.satisfaction is not None,
    }


def _shape_reading(stages, call: CallAnalysis) -> dict[str, float]:
    """The customer's shape probabilities as the trajectory stage weighs them (fitted classifier and words)."""
    from wocas.stages.trajectory import outcome_trust, shape_features, words_reading

    stage = next(s for s in stages if s.name == "trajectory")
    fitted, words = stage.shape_classifier(), stage.words_head()
    p = fitted.probabilities(shape_features(call.trajectories["customer"], outcome_trust(call), call))
    p = (p + words_reading(words, call, fitted.classes)) / 2 if words is not None else p
    return dict(zip(fitted.classes, (float(x) for x in p)))


def _pii_turn(call: CallAnalysis, index: int) -> bool:
    clear = {i for c in CALLS if c["call_id"] == call.call_id for i, t in enumerate(c["turns"])
             if find_pii(t["text"])}
    return index in clear


def test_analytics_agree_with_and_without_redaction(stages, tmp_path):
    from wocas.io.exports import write_call_files

    redacted = run_text_stages(stages, [_call(c) for c in CALLS])
    clear = run_text_stages([s for s in stages if s.name != "redact"], [_call(c) for c in CALLS])
    for r, c in zip(redacted, clear):
        assert r.ok and c.ok, (r.error, c.error)
        assert r.redacted and not c.redacted
        assert any("[" in t.text for t in r.turns)
        red, clr = _analytics(r), _analytics(c)
        red_shapes, clear_shapes = red.pop("trajectory_shapes"), clr.pop("trajectory_shapes")
        assert red == clr
        assert red_shapes.get("agent") == clear_shapes.get("agent")
        if red_shapes.get("customer") != clear_shapes.get("customer"):
            # a borderline call may fall either side: the two shapes within 0.1 on both readings
            for call in (r, c):
                p = _shape_reading(stages, call)
                assert abs(p[red_shapes["customer"]] - p[clear_shapes["customer"]]) <= 0.1, (call.call_id, p)
        # a tag moves trust a little, nothing else does. A customer turn read in context also sees the
        # other turns (their tags and their scores), so it may move as much as a tagged turn; the context head was trained on redacted
        # text, so a clear string of card digits (never seen in training) may read quite differently.
        for i, (rt, ct) in enumerate(zip(r.turns, c.turns)):
            if rt.emotion is not None:
                in_context = "context" in rt.emotion.sources
                limit = (0.6 if in_context else 0.3) if _pii_turn(c, i) else 0.3 if in_context else 0.05
                assert abs(rt.emotion.trust - ct.emotion.trust) <= limit, (i, rt.text)
        if r.satisfaction is not None:
            assert abs(r.satisfaction.score - c.satisfaction.score) <= 0.25
        for signal in r.signals:  # quotes come from redacted text
            assert "4 4 7 9" not in signal.quote and "07700" not in signal.quote
        exported = write_call_files(r, tmp_path).read_text()
        for clear_value in ("4 4 7 9", "one one one one", "07700", "LS6 2AB", "john dot smith", "1985", "Priya"):
            assert clear_value not in exported


@pytest.fixture(scope="module")
def billing_run(stages, audio_dir, samples_dir: Path):
    """The real stereo sample through the audio stages up to roles, then redacted (with the audio copy)."""
    call = next(c for c in iter_calls([str(samples_dir / "manifest.csv")]) if c.call_id == "billing-0001")
    names = [s.name for s in stages]
    for stage in stages[:names.index("redact")]:
        call = stage.process_call(call)
    assert call.ok, call.error
    redacted = stages[names.index("redact")].process_call(call)
    return redacted, call, audio_dir


def test_words_become_tags_and_keep_their_timings(billing_run):
    redacted, original, _ = billing_run
    assert redacted.ok and redacted.redacted
    tags = 0
    for r, o in zip(redacted.turns, original.turns):
        assert r.text == " ".join(w.text for w in r.words)  # the turn invariant holds after redaction
        starts, ends = {w.start for w in o.words}, {w.end for w in o.words}
        kept = {(w.text, w.start, w.end) for w in o.words}
        for w in r.words:
            if "[" in w.text:  # a tag: from one of the original words' start to one's end
                tags += 1
                assert w.start in starts and w.end in ends and w.end >= w.start
            else:
                assert (w.text, w.start, w.end) in kept
    assert tags >= 2  # the account number read out, and the agent's name
    account_turn = next(t for t in redacted.turns if "[ACCOUNT]" in t.text)
    assert not any(ch.isdigit() for ch in account_turn.text)
    assert "words" not in redacted.to_json()  # the turns hold the only copy: nothing else to redact


def test_tag_offsets_point_at_the_tags_in_the_redacted_text(billing_run):
    redacted, _, _ = billing_run
    assert redacted.redacted_spans
    for span in redacted.redacted_spans:
        assert redacted.turns[span.turn].text[span.start:span.end] == f"[{span.type}]"


def _worded_turn(text: str, step: float = 0.4) -> Turn:
    words = tuple(Word(text=w, start=round(i * step, 3), end=round(i * step + 0.3, 3))
                  for i, w in enumerate(text.split()))
    return Turn(index=0, speaker="S2", role=Role.CUSTOMER, start=0.0, end=words[-1].end, text=text, words=words)


def test_a_spoken_number_becomes_one_tag_spanning_its_digits():
    turn = _worded_turn("yes my account number is 4 4 7 9 1 2 8 1 thanks")
    spans = [s for s in find_pii_in_turns([("S2", turn.text)], ("ACCOUNT",), roles=["customer"])]
    assert spans, "the rules should find the account number"
    out = redact_turn(turn, spans)
    assert out.text == "yes my account number is [ACCOUNT] thanks"
    tag = out.words[5]
    assert (tag.text, tag.start, tag.end) == ("[ACCOUNT]", turn.words[5].start, turn.words[12].end)
    assert [w.text for w in out.words] == out.text.split()
    # the 0.1 s gaps between the digits are silenced too: one range, exactly the tag word's times
    assert redacted_ranges(turn, spans) == [(tag.start, tag.end)]


def test_a_number_ending_in_punctuation_is_one_tag_and_its_offsets_hold():
    # ASR writes "4 -4 -7," : the last word runs past the span, its comma must stay outside one tag
    turn = _worded_turn("Yes, it's 4 -4 -7, and I'm 1 -2 -8.")
    spans = [PiiSpan("ACCOUNT", 0, 10, 17, "4 -4 -7", "447"), PiiSpan("ACCOUNT", 0, 27, 34, "1 -2 -8", "128")]
    out = redact_turn(turn, spans)
    assert out.text == "Yes, it's [ACCOUNT], and I'm [ACCOUNT]."
    assert [w.text for w in out.words] == out.text.split()
    for tag in tag_spans({0: spans}):
        assert out.text[tag.start:tag.end] == "[ACCOUNT]"


def test_redacted_audio_is_silent_exactly_where_the_tags_are(billing_run, samples_dir):
    redacted, original, out_dir = billing_run
    path = out_dir / "billing-0001.redacted.wav"
    samples, rate = sf.read(path, always_2d=True)
    assert rate == 16000 and samples.shape[1] == 2
    assert abs(samples.shape[0] / rate - original.duration) < 0.05
    tagged = [w for t in redacted.turns for w in t.words if w.text.startswith("[")]
    for w in tagged:
        a, b = int(w.start * rate) + 1, int(w.end * rate) - 1
        assert np.abs(samples[a:b]).max() == 0.0
    kept = [w for t in redacted.turns for w in t.words if not w.text.startswith("[") and w.end - w.start > 0.2]
    loud = sum(np.abs(samples[int(w.start * rate):int(w.end * rate)]).max() > 0.01 for w in kept)
    assert loud >= 0.9 * len(kept)


def test_cli_no_redact_says_so_in_the_run_record(tmp_path):
    from wocas.cli import main
    from wocas.store import Store

    pii_chat = tmp_path / "pii.jsonl"
    pii_chat.write_text(json.dumps(CALLS[1]) + "\n")
    assert main(["run", str(pii_chat), "--out", str(tmp_path / "off"), "--no-redact", "--quiet"]) == 0
    with Store(tmp_path / "off" / "wocas.duckdb", read_only=True) as store:
        config = store.query("SELECT config FROM runs")[0]["config"]
        text = " ".join(r["text"] for r in store.query("SELECT text FROM turns WHERE call_id = 'pii-call-2'"))
        redacted = store.query("SELECT redacted FROM calls WHERE call_id = 'pii-call-2'")[0]["redacted"]
    assert "[redact]\nenabled = false" in config
    assert "07700 900123" in text and not redacted
    assert main(["run", str(pii_chat), "--out", str(tmp_path / "x"), "--no-redact", "--redact-audio"]) == 2


def test_digit_ids_option_reaches_the_stage_from_the_config(tmp_path):
    doc = {"call_id": "digit-ids", "turns": [
        {"speaker": "agent", "text": "and what's the claim number"},
        {"speaker": "customer", "text": "it's 6 0 3 3 9 1 8"},
        {"speaker": "agent", "text": "thanks I'll look that up now"}]}
    path = tmp_path / "wocas.toml"
    for setting, expected in (("true", "it's [ID]"), ("false", "it's 6 0 3 3 9 1 8")):
        path.write_text(f'[redact]\nnames = "rules"\ndigit_ids = {setting}\n')
        from wocas.config import load_config

        config = load_config(path)
        assert config.redact.digit_ids is (setting == "true")
        out = RedactStage(config.redact).process_call(transcript_to_call(doc, "test", "digit-ids"))
        assert out.turns[1].text == expected
    assert RedactConfig().digit_ids is True
