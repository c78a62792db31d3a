"""Defection signals on call transcripts written for these tests (clean and ASR-style)."""

from __future__ import annotations

import csv

import pytest

from wocas.config import SignalsConfig
from wocas.schema import Call, CallAnalysis, Emotion, Turn, Word
from wocas.stages.signals import SignalsStage


def make_call(lines: list[tuple[str, str]], trust: dict[int, float] | None = None, words: bool = False,
              call_id: str = "c1") -> CallAnalysis:
    """Turns laid end to end, 0.3 s a word; ``trust`` gives turn index -> customer trust."""
    turns, t = [], 0.0
    for i, (role, text) in enumerate(lines):
        n = len(text.split())
        ws = tuple(Word(text=w, start=round(t + 0.3 * k, 3), end=round(t + 0.3 * k + 0.25, 3))
                   for k, w in enumerate(text.split())) if words else ()
        emotion = Emotion(valence=0.0, arousal=0.5, trust=trust[i], confidence=0.8) if trust and i in trust else None
        turns.append(Turn(index=i, speaker="S0" if role == "agent" else "S1", role=role, start=round(t, 3),
                          end=round(t + 0.3 * n, 3), text=text, words=ws, emotion=emotion))
        t += 0.3 * n + 0.4
    return CallAnalysis(call=Call(call_id=call_id, source=f"{call_id}.json", kind="transcript"), turns=tuple(turns))


@pytest.fixture(scope="module")
def stage() -> SignalsStage:
    return SignalsStage(SignalsConfig(competitors=("Monzo",)))


ANGRY = [
    ("agent", "Thanks for calling, you're speaking with Sam, how can I help?"),
    ("customer", "This is the third time I've called about the same broken router."),
    ("agent", "I'm sorry about that, let me have a look."),
    ("customer", "Honestly it's unacceptable. I want to cancel my contract today."),
    ("agent", "While I have you, can I offer you our premium bundle upgrade?"),
    ("customer", "No. Monzo offered me a better deal and I'll take my business elsewhere."),
    ("agent", "I understand."),
    ("customer", "Put me through to a supervisor now, or I'm going to the ombudsman."),
    ("customer", "My solicitor will hear about this."),
    ("agent", "I'm afraid there's nothing I can do today, I've raised a ticket and the team will call you back."),
]


def by_kind(call: CallAnalysis) -> dict[str, list]:
    out: dict[str, list] = {}
    for s in call.signals:
        out.setdefault(s.kind, []).append(s)
    return out


def test_every_signal_kind_with_its_evidence(stage: SignalsStage) -> None:
    call = make_call(ANGRY, trust={1: -0.4, 3: -0.7, 5: -0.8, 7: -0.9, 8: -0.9})
    [out] = stage.process_batch([call])
    kinds = by_kind(out)
    expected = {
        "repeat_contact": (1, "third time"), "complaint": (3, "unacceptable"), "cancel_intent": (3, "cancel my contract"),
        "sale_on_low_trust": (4, "premium bundle"), "competitor": (5, "Monzo"),
        "threat_to_leave": (5, "take my business elsewhere"), "escalation_request": (7, "supervisor"),
        "legal_threat": (7, "ombudsman"), "unresolved_end": (9, "raised a ticket"),
    }
    assert set(expected) <= set(kinds)
    for kind, (turn_index, phrase) in expected.items():
        hit = [s for s in kinds[kind] if s.turn_index == turn_index and phrase.lower() in s.quote.lower()]
        assert hit, f"{kind}: expected turn {turn_index} quoting {phrase!r}, got {kinds[kind]}"
        s, turn = hit[0], out.turns[turn_index]
        assert 0.0 < s.strength <= 1.0
        assert turn.start <= s.start < s.end <= turn.end + 1e-6
        assert s.quote in turn.text
    assert any(s.turn_index == 8 and "solicitor" in s.quote for s in kinds["legal_threat"])


def test_quote_times_come_from_word_timestamps(stage: SignalsStage) -> None:
    lines = [("agent", "Hello, how can I help?"),
             ("customer", "Hi there. I want to close my account please. That is all.")]
    [out] = stage.process_batch([make_call(lines, words=True)])
    [s] = [s for s in out.signals if s.kind == "cancel_intent"]
    words = out.turns[1].words
    assert s.quote == "I want to close my account please."
    assert (s.start, s.end) == (words[2].start, words[8].end)


def test_a_pleasant_call_has_no_signals(stage: SignalsStage) -> None:
    lines = [("agent", "Good morning, how can I help you today?"),
             ("customer", "Hi, I'd like to update the email address on my account."),
             ("agent", "Of course, what's the new address?"),
             ("customer", "It's jane at example dot com."),
             ("agent", "Done, that's all updated for you."),
             ("customer", "Perfect, thanks so much, have a lovely day.")]
    [out] = stage.process_batch([make_call(lines, trust={1: 0.3, 3: 0.4, 5: 0.8})])
    assert out.signals == ()


def test_asr_style_text_lowercase_fillers_numbers(stage: SignalsStage) -> None:
    lines = [("agent", "thank you for calling how can i help"),
             ("customer", "yeah um hi so uh this is like the 2nd time ive rung about this"),
             ("customer", "i i wanna uh close my account basically"),
             ("customer", "and um can i talk to ur manager please cause im gonna report you to the uh f c a no the fca"),
             ("agent", "ok one moment")]
    [out] = stage.process_batch([make_call(lines)])
    kinds = by_kind(out)
    assert {"repeat_contact", "cancel_intent", "escalation_request", "legal_threat"} <= set(kinds)
    assert kinds["repeat_contact"][0].turn_index == 1
    assert "close my account" in kinds["cancel_intent"][0].quote


def test_negated_intent_is_not_a_signal(stage: SignalsStage) -> None:
    lines = [("agent", "How can I help?"),
             ("customer", "I don't want to cancel my account, I just need a new card."),
             ("agent", "No problem, a new card is on its way."), ("customer", "Great, thanks so much.")]
    [out] = stage.process_batch([make_call(lines)])
    assert "cancel_intent" not in by_kind(out)


def test_sale_on_low_trust_needs_the_emotion_stage(stage: SignalsStage) -> None:
    lines = [("customer", "My bill is wrong again and I'm furious."),
             ("agent", "I can sort that. Would you be interested in our premium plan?")]
    [no_emotion] = stage.process_batch([make_call(lines)])
    [trusting] = stage.process_batch([make_call(lines, trust={0: 0.4})])
    [angry] = stage.process_batch([make_call(lines, trust={0: -0.6})])
    assert "sale_on_low_trust" not in by_kind(no_emotion)
    assert "sale_on_low_trust" not in by_kind(trusting)
    [s] = by_kind(angry)["sale_on_low_trust"]
    assert s.turn_index == 1 and "premium plan" in s.quote and s.strength >= 0.5


def test_unresolved_unless_resolved_at_the_end(stage: SignalsStage) -> None:
    unresolved = [("customer", "My internet has been down for three days."),
                  ("agent", "I've logged a ticket, an engineer will call within 48 hours."),
                  ("customer", "So it's still not fixed. Great.")]
    resolved = unresolved[:2] + [("customer", "Oh wait, the lights are back, it's working now."),
                                 ("agent", "Brilliant, so that's fixed."), ("customer", "Perfect, thank you.")]
    [a] = stage.process_batch([make_call(unresolved)])
    [b] = stage.process_batch([make_call(resolved, call_id="c2")])
    assert [s.turn_index for s in a.signals if s.kind == "unresolved_end"] == [2]
    assert "unresolved_end" not in by_kind(b)


def test_implicit_complaint_without_the_word(stage: SignalsStage) -> None:
    lines = [("agent", "How can I help?"),
             ("customer", "I've been waiting two weeks for my parcel and nobody has bothered to get back to me.")]
    [out] = stage.process_batch([make_call(lines)])
    [s] = by_kind(out)["complaint"]
    assert s.turn_index == 1 and s.strength >= 0.5


def test_complaint_detector_on_real_tweets(stage: SignalsStage, data_dir) -> None:
    """A sample of complaints_social_media (evaluation only: the set has no licence)."""
    rows = list(csv.reader((data_dir / "text/complaints_social_media/complaints-data.csv").open()))
    sample = [r for r in rows if r[3] not in ("random_tweet", "random_reply")][:150]
    scores = stage.complaints.score([r[1] for r in sample])
    truth = [r[2] == "1" for r in sample]
    pred = [s >= stage.config.complaint_threshold for s in scores]
    tp = sum(p and t for p, t in zip(pred, truth))
    precision, recall = tp / max(1, sum(pred)), tp / max(1, sum(truth))
    f1 = 2 * precision * recall / max(1e-9, precision + recall)
    assert f1 >= 0.6, (precision, recall)


def _labelled_turns() -> tuple[list[str], list[str]]:
    """Complaint / other turns written for this test from templates (no borrowed data)."""
    things = ["my parcel", "the refund", "my new card", "the engineer", "my broadband", "the replacement phone"]
    failures = ["still hasn't turned up after three weeks", "was promised last Monday and never happened",
                "stopped working again and nobody called me back", "was cancelled without anyone telling me"]
    asks = ["can you tell me when", "I'd like to check when", "could you let me know when", "please confirm when"]
    events = ["my statement is sent out", "the shop opens on Sunday", "the new tariff starts", "my contract renews"]
    complaints = [f"{t} {f}" for t in things for f in failures]
    others = [f"{a} {e}" for a in asks for e in events] + [f"{a} {t} will be ready" for a in asks for t in things[:2]]
    return complaints + others, ["complaint"] * len(complaints) + ["other"] * len(others)


# A call whose first customer turn is an implicit complaint and whose second is not.
COMPLAINT_THEN_QUESTION = [("agent", "How can I help?"),
                           ("customer", "the courier was supposed to come on Friday and never showed up, again"),
                           ("agent", "Let me look."),
                           ("customer", "could you let me know when my bill is due")]


def test_a_complaint_head_trained_on_own_labels_replaces_the_zero_shot_score(tmp_path) -> None:
    from wocas.models.text_encoder import TextEncoder
    from wocas.reasons.training import save_head, train_head

    texts, labels = _labelled_turns()
    save_head(tmp_path / "complaints", train_head(texts, labels, TextEncoder().encode(texts), C=10.0), {"name": "complaints"})
    stage = SignalsStage(SignalsConfig(complaint_head=str(tmp_path / "complaints")))
    assert "complaints:head:complaints" in stage.version()
    lines = COMPLAINT_THEN_QUESTION
    [out] = stage.process_batch([make_call(lines)])
    assert [s.turn_index for s in out.signals if s.kind == "complaint"] == [1]
    scores = stage.complaints.score([lines[1][1], lines[3][1], "", "um"])
    assert scores[0] > 0.5 > scores[1] and scores[2] == 0.0


def test_a_complaint_head_without_a_complaint_label_is_refused(tmp_path) -> None:
    from wocas.models.text_encoder import TextEncoder
    from wocas.reasons.training import save_head, train_head

    texts = ["where is my parcel", "my order is late", "I want a refund", "refund me please"]
    labels = ["delivery", "delivery", "refund", "refund"]
    save_head(tmp_path / "intents", train_head(texts, labels, TextEncoder().encode(texts), lexical=False), {"name": "intents"})
    with pytest.raises(ValueError, match=r"complaint head .*intents: needs a 'complaint'.*\['delivery', 'refund'\]"):
        SignalsStage(SignalsConfig(complaint_head=str(tmp_path / "intents")))
