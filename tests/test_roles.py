"""Who is the agent and who the customer, on calls with two, three and four speakers (engine/stages/roles.py)."""

from __future__ import annotations

import numpy as np
import pytest

from wocas.config import RolesConfig
from wocas.io.ingest import transcript_to_call
from wocas.stages.roles import RolesStage, assign_roles
from wocas.text.role_head import RoleHead, load_role_head, save_role_head, turn_features

# A mono call as a diarizer hands it over: anonymous speakers, an IVR prompt first, a transfer midway.
IVR_TRANSFER_CALL = [
    ("S0", "Thank you for calling Northway Energy. Calls are recorded for quality purposes. For billing press one."),
    ("S1", "Hi you're through to Dana in billing, how can I help today?"),
    ("S2", "hi yeah I got a bill for four hundred pounds and I only moved in last month, it can't be right"),
    ("S1", "I'm sorry about that. Can I take your account number and the first line of your address?"),
    ("S2", "it's on the letter, hang on, okay it's the flat on Mill Road"),
    ("S1", "Thanks. I can see an estimated reading. I'll put you through to our metering team, they can correct it."),
    ("S3", "Hello, metering team, this is Priya. I've got your notes from my colleague. Do you have a meter reading?"),
    ("S2", "yes I took a photo this morning, it says zero four two one seven"),
    ("S3", "Thank you, I've entered that and the bill is now being recalculated. You'll get a new one within five days."),
    ("S2", "oh right okay that's a relief thanks"),
    ("S3", "You're welcome. Is there anything else I can help with today?"),
    ("S2", "no that's it bye"),
]


def _call(lines, kind="audio"):
    call = transcript_to_call({"call_id": "multi", "turns": [{"speaker": s, "text": t} for s, t in lines]},
                              "multi.json", "multi")
    assert call.ok, call.error
    return call.replace(call=call.call.model_copy(update={"kind": kind}))


def test_the_shipped_head_reads_an_ivr_prompt_an_agent_a_second_agent_and_the_customer():
    call = RolesStage(RolesConfig()).process_call(_call(IVR_TRANSFER_CALL))
    assert call.roles == {"S0": "system", "S1": "agent", "S2": "customer", "S3": "agent"}
    assert call.role_confidence > 0.9
    assert {t.role for t in call.turns if t.speaker == "S2"} == {"customer"}
    assert call.turns[0].role == "system"


def test_a_recorded_prompt_is_not_read_by_the_heads_that_follow():
    from wocas.text.lexical import closing_turns, says

    said = [("system", "your call is important to us please hold"), ("agent", "hi how can i help"),
            ("customer", "my bill is wrong"), ("system", "")]
    assert [says(r, t) for r, t in said] == [False, True, True, False]
    assert closing_turns(said) == said[1:3]


def test_two_speakers_are_the_two_parties_even_when_one_sounds_recorded():
    lines = [IVR_TRANSFER_CALL[0], ("S2", "hi yeah my bill is wrong, can you check it"), IVR_TRANSFER_CALL[0]]
    call = RolesStage(RolesConfig()).process_call(_call(lines))
    assert set(call.roles.values()) == {"agent", "customer"}


def test_the_shipped_head_reads_agent_turns_positive_and_customer_turns_negative():
    head = load_role_head(str(_head_path()))
    agent, customer = head.turn_log_odds(["Can I take your account number please?",
                                          "I want to cancel my contract, this is the third time I've called"])
    assert agent > 1.0 and customer < -1.0


def _head_path():
    from wocas.models.registry import resolve

    return resolve(RolesConfig().model).path


def test_the_cue_rules_put_an_ivr_prompt_on_the_agent_side():
    # the earlier stage read every speaker but the top one as the customer: the IVR prompt became one
    call = RolesStage(RolesConfig(model="")).process_call(_call(IVR_TRANSFER_CALL[:6]))
    assert call.roles == {"S0": "agent", "S1": "agent", "S2": "customer"}


def test_two_speakers_keep_top_and_bottom_and_the_margin_as_confidence():
    roles, confidence = assign_roles({"a": 2.0, "b": -1.0}, 0.0)
    assert roles == {"a": "agent", "b": "customer"} and confidence == pytest.approx(1 / (1 + np.exp(-3.0)), abs=1e-3)
    roles, confidence = assign_roles({"a": 2.0, "b": -1.0, "c": 0.5, "d": -0.2}, 0.0)
    assert roles == {"a": "agent", "c": "agent", "b": "customer", "d": "customer"}
    assert confidence == pytest.approx(1 / (1 + np.exp(-0.7)), abs=1e-3)  # 0.5 - (-0.2): the closest pair across
    assert assign_roles({"a": 1.0}, 0.0) == ({"a": "agent"}, 0.5)


def test_a_call_of_one_speaker_has_unknown_roles():
    call = RolesStage(RolesConfig()).process_call(_call([("S1", "hello is anyone there"), ("S1", "hello?")]))
    assert set(call.roles.values()) == {"unknown"}


def test_role_head_files_load_and_score_as_written(tmp_path):
    rng = np.random.default_rng(3)
    features = sorted(turn_features("can i take your account number") | turn_features("i want a refund"))
    weights = rng.normal(size=len(features)).astype(np.float32)
    save_role_head(tmp_path, features, weights, 0.25, {"C": 1.0})
    head = load_role_head(str(tmp_path))
    assert isinstance(head, RoleHead)
    text = "I want your account number"
    expected = 0.25 + sum(float(weights[features.index(f)]) for f in turn_features(text) if f in features)
    assert head.turn_log_odds([text])[0] == pytest.approx(expected, abs=1e-5)
    assert head.turn_log_odds(["zzz qqq"])[0] == pytest.approx(0.25, abs=1e-6)  # no known feature: the bias


def test_the_recorded_prompt_reading_loads_scores_and_leaves_two_live_speakers(tmp_path):
    from wocas.schema import Turn
    from wocas.stages.roles import infer_roles, recorded_speakers

    features = sorted(turn_features("press one for billing") | turn_features("i want a refund"))
    agent = np.array([1.0 if f in ("w=press", "w=billing") else -1.0 for f in features])
    prompt = np.array([2.0 if f == "w=press" else -0.5 for f in features])
    save_role_head(tmp_path, features, agent, 0.0, {}, prompt, -0.25)
    load_role_head.cache_clear()
    head = load_role_head(str(tmp_path))
    assert head.reads_prompts
    text = "press one"
    expected = -0.25 + sum(float(prompt[features.index(f)]) for f in turn_features(text) if f in features)
    assert head.prompt_log_odds([text])[0] == pytest.approx(expected, abs=1e-5)

    def turns(lines):
        return tuple(Turn(index=i, speaker=s, start=float(i), end=i + 0.5, text=t) for i, (s, t) in enumerate(lines))

    three = turns([("S0", "press one"), ("S1", "billing"), ("S2", "i want a refund")])
    assert recorded_speakers(three, head) == {"S0"}
    roles, _ = infer_roles(three, head=head)
    assert roles == {"S0": "system", "S1": "agent", "S2": "customer"}
    every = turns([("S0", "press one"), ("S1", "press"), ("S2", "press press")])  # all read as recordings
    assert len(recorded_speakers(every, head)) == 1  # two live speakers stay
    assert recorded_speakers(three[:2], head) == set()  # two speakers: the two parties

    save_role_head(tmp_path, features, agent, 0.0, {})  # a head of the agent reading alone
    load_role_head.cache_clear()
    plain = load_role_head(str(tmp_path))
    assert not plain.reads_prompts and recorded_speakers(three, plain) == set()
    with pytest.raises(ValueError, match="train_role_head.py"):
        plain.prompt_log_odds(["press one"])
    load_role_head.cache_clear()


def test_a_role_head_of_other_features_is_refused_with_the_fix(tmp_path):
    save_role_head(tmp_path, ["w=a"], np.zeros(1), 0.0, {})
    config = tmp_path / "config.json"
    config.write_text(config.read_text().replace('"feature_version": 1', '"feature_version": 99'))
    load_role_head.cache_clear()
    with pytest.raises(ValueError, match="train_role_head.py"):
        load_role_head(str(tmp_path))


def test_turn_features_are_words_pairs_and_length_with_numbers_folded():
    assert turn_features("My account is 4471, OK?") == {
        "len=4-11", "w=my", "w=account", "w=is", "w=<num>", "w=ok",
        "b=my_account", "b=account_is", "b=is_<num>", "b=<num>_ok"}
