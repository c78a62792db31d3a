"""HTTP-level tests of the review app (``wocas serve``) over a store written by the real Store.

The store holds calls built with the engine's own schema and every field the stages fill
(emotion, trajectories, jobs, signals, satisfaction, talk metrics), so each page and each
flag rule is exercised whether or not the stages that fill them are in the pipeline yet.
The end-to-end run of the real pipeline is in test_review_browser.py.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from wocas import cli
from wocas.review import create_app
from wocas.config import FlagsConfig
from wocas.schema import (Call, CallAnalysis, Emotion, Job, Satisfaction, Signal, TalkMetrics, Trajectory,
                           Turn)
from wocas.stages.flags import CallFacts, FlagsStage, derive_flags
from wocas.review.verdicts import verdicts_path
from wocas.store import Store, snapshot

TOKEN = "s3cret-token-for-tests"
SAMPLES = Path(__file__).resolve().parent.parent / "samples"
HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="alert(1)">'


def _turns(texts: list[tuple[str, str, float]], step: float = 6.0) -> tuple[Turn, ...]:
    out = []
    for i, (role, text, trust) in enumerate(texts):
        out.append(Turn(index=i, speaker=role, role=role, start=i * step, end=i * step + step - 1, text=text,
                        emotion=Emotion(valence=trust, arousal=0.5, trust=trust, confidence=0.8)))
    return tuple(out)


def _call(call_id: str, *, kind: str = "transcript", source: str | None = None, customer: str = "C-1",
          agent: str = "A-1", started: str = "2026-11-02T08:00:00", queue: str = "billing", value: str = "1000",
          turns: tuple[Turn, ...] = (), **update) -> CallAnalysis:
    call = Call(call_id=call_id, source=source or f"{call_id}.json", kind=kind, customer_id=customer,
                agent_id=agent, started_at=started, metadata={"queue": queue, "customer_value": value})
    duration = turns[-1].end if turns else 30.0
    metrics = TalkMetrics(handle_time=duration, talk_share={"agent": 0.4, "customer": 0.45}, silence_share=0.15,
                          overtalk_seconds=0.0, longest_customer_monologue=5.0)
    base = dict(call=call, turns=turns, duration=duration, metrics=metrics,
                roles={t.speaker: t.role for t in turns}, role_confidence=1.0)
    base.update(update)
    return CallAnalysis(**base)


def _trajectory(opening: float, closing: float, shape: str) -> dict[str, Trajectory]:
    return {"customer": Trajectory(role="customer", opening=opening, closing=closing, turnaround=closing - opening,
                                   lowest=min(opening, closing), lowest_at=12.0, shape=shape)}


@pytest.fixture(scope="module")
def store_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("review") / "wocas.duckdb"
    angry = _turns([("agent", "Thanks for calling, how can I help?", 0.3),
                    ("customer", "You charged me twice and I am furious.", -0.6),
                    ("agent", "Would you be interested in our premium plan?", 0.1),
                    ("customer", "I want to cancel my account and go to a competitor.", -0.9)])
    calls = [
        _call("angry-1", turns=angry, agent="A-1", queue="billing", started="2026-11-03T09:00:00",
              trajectories=_trajectory(-0.2, -0.9, "deteriorated"), contact_reason="billing_error",
              preventable=True, jobs=(Job(statement="You charged me twice", phrase="duplicate charge",
                                          reason="billing_error", reason_confidence=0.8, preventable=True,
                                          owner="billing", turn_index=1, start=6.0, end=11.0),),
              signals=(Signal(kind="cancel_intent", strength=0.9, turn_index=3, start=18.0, end=23.0,
                              quote="I want to cancel my account"),
                       Signal(kind="sale_on_low_trust", strength=0.8, turn_index=2, start=12.0, end=17.0,
                              quote="Would you be interested in our premium plan?")),
              satisfaction=Satisfaction(score=1.6, p_satisfied=0.1, confidence=0.7,
                                        drivers=("trust fell by 0.7", "cancel intent"))),
        _call("unhappy-2", customer="C-2", agent="A-2", queue="tech", started="2026-11-04T10:00:00",
              turns=_turns([("customer", "My router still does not work.", -0.3),
                            ("agent", "I will raise a ticket.", 0.0)]),
              contact_reason="fault", preventable=False,
              satisfaction=Satisfaction(score=2.2, p_satisfied=0.25, confidence=0.6)),
        _call("quiet-3", customer="C-3", agent="A-2", queue="tech", started="2026-11-05T11:00:00",
              turns=_turns([("customer", "Hello?", 0.0), ("agent", "Sorry, one moment.", 0.1)], step=40.0),
              metrics=TalkMetrics(handle_time=79.0, talk_share={"agent": 0.2, "customer": 0.2},
                                  silence_share=0.6, overtalk_seconds=0.0, longest_customer_monologue=2.0)),
        _call("fine-4", customer="C-4", agent="A-3", queue="billing", started="2026-11-05T12:00:00",
              turns=_turns([("customer", "Thanks, that is sorted.", 0.7), ("agent", "Glad to help.", 0.6)]),
              contact_reason="billing_question", preventable=False,
              satisfaction=Satisfaction(score=4.6, p_satisfied=0.92, confidence=0.8)),
        # the same customer as angry-1, two days later, about the same preventable reason
        _call("repeat-5", customer="C-1", agent="A-3", queue="billing", started="2026-11-05T09:30:00",
              turns=_turns([("customer", "This is the second time I am calling about the charge.", -0.2),
                            ("agent", "Let me look.", 0.1), ("customer", HOSTILE, -0.1)]),
              contact_reason="billing_error", preventable=True,
              jobs=(Job(statement="refund the double charge", phrase="duplicate charge", reason="billing_error",
                        reason_confidence=0.7, preventable=True, owner="billing", turn_index=0),),
              signals=(Signal(kind="repeat_contact", strength=0.85, turn_index=0, start=0.0, end=5.0,
                              quote="This is the second time I am calling"),)),
        _call("audio-6", kind="audio", source=str(SAMPLES / "delivery-mono-16k.flac"), customer="C-6", agent="A-5",
              queue="logistics", started="2026-11-02T08:40:00",
              turns=_turns([("agent", "Thanks for calling parcel express.", 0.2),
                            ("customer", "It still does not arrive.", -0.4)])),
        _call("evil-7", kind="audio", source="/etc/passwd", customer="C-7", started="2026-11-02T08:41:00"),
        _call("redacted-8", kind="audio", source=str(SAMPLES / "billing-stereo-8k.flac"), customer="C-8",
              started="2026-11-02T08:42:00"),
    ]
    # what `wocas run --redact-audio` leaves beside the store: the recording with PII silenced
    (path.parent / "calls").mkdir()
    sf.write(path.parent / "calls" / "redacted-8.redacted.wav", np.zeros((800, 2), dtype=np.float32), 8000)
    calls = [FlagsStage().process_call(c) for c in calls]  # the pipeline's last stage
    with Store(path) as store:
        store.write(calls, run_id="test-run", pipeline_version="test")
        snapshot.publish(store)  # what the end of `wocas run` does
    return path


@pytest.fixture()
def app(store_path):
    return create_app(store_path, TOKEN, allowed_hosts=("testserver",))


def _login(client: TestClient, name: str = "alice") -> None:
    r = client.post("/login", data={"reviewer": name, "token": TOKEN, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303


def _csrf(client: TestClient, url: str) -> str:
    html = client.get(url).text
    marker = 'name="csrf_token" value="'
    return html[html.index(marker) + len(marker):].split('"', 1)[0]


def _queue_ids(html: str) -> list[str]:
    return [part.split('"', 1)[0] for part in html.split('data-call-id="')[1:]]


# ---- flag rules ----------------------------------------------------------------------------
def test_flag_rules_raise_each_kind_with_its_evidence():
    facts = CallFacts(call_id="x", trajectory_shape="deteriorated", turnaround=-0.7, trust_lowest=-0.9,
                      trust_lowest_at=20.0, preventable=True, contact_reason="billing_error",
                      satisfaction_score=1.5, p_satisfied=0.1, silence_share=0.55, overtalk_seconds=1.0,
                      handle_time=60.0, days_since_previous_contact=2.0,
                      signals=(Signal(kind="cancel_intent", strength=0.9, start=18.0, quote="cancel my account"),
                               Signal(kind="sale_on_low_trust", strength=0.8, start=12.0, quote="premium plan"),
                               Signal(kind="repeat_contact", strength=0.85, start=3.0, quote="second time")))
    flags = {f.kind: f for f in derive_flags(facts)}
    assert set(flags) == {"defection_risk", "frustrated_sale", "deteriorated", "preventable_repeat",
                          "low_satisfaction", "silence_overtalk"}
    assert flags["defection_risk"].at == 18.0 and "cancel my account" in flags["defection_risk"].reason
    assert flags["defection_risk"].level == "high"
    assert flags["silence_overtalk"].severity < flags["defection_risk"].severity
    calm = CallFacts(call_id="y", trajectory_shape="recovered", turnaround=0.5, satisfaction_score=4.5,
                     p_satisfied=0.9, silence_share=0.1, overtalk_seconds=0.0, handle_time=60.0,
                     signals=(Signal(kind="cancel_intent", strength=0.1),))
    assert derive_flags(calm) == []


def test_flag_rules_follow_their_thresholds():
    facts = CallFacts(call_id="z", silence_share=0.3)
    assert derive_flags(facts) == []
    assert [f.kind for f in derive_flags(facts, FlagsConfig(long_silence_share=0.25))] == ["silence_overtalk"]
    # an explicit "not preventable" repeat is not a preventable repeat contact
    repeat = CallFacts(call_id="r", preventable=False, days_since_previous_contact=1.0)
    assert derive_flags(repeat) == []


def test_low_satisfaction_follows_the_fitted_band_unless_a_score_cut_is_set():
    # the band model can put a 2.8 in the survey's low band (closing trust and outcome count too)
    low_band = CallFacts(call_id="b", satisfaction_score=2.8, satisfaction_band="low", p_satisfied=0.45)
    flags = derive_flags(low_band)
    assert [f.kind for f in flags] == ["low_satisfaction"] and "band low" in flags[0].reason
    # ... and a 2.4 in the mid band: no flag, unless the operator sets a hand-set cut on the score
    mid_band = CallFacts(call_id="m", satisfaction_score=2.4, satisfaction_band="mid", p_satisfied=0.45)
    assert derive_flags(mid_band) == []
    assert [f.kind for f in derive_flags(mid_band, FlagsConfig(low_satisfaction_score=2.5))] == ["low_satisfaction"]
    assert [f.kind for f in derive_flags(mid_band, FlagsConfig(low_p_satisfied=0.5))] == ["low_satisfaction"]


# ---- auth ----------------------------------------------------------------------------------
def test_pages_need_login_and_a_right_token(app):
    client = TestClient(app)
    r = client.get("/calls/angry-1", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=%2Fcalls%2Fangry-1")
    assert client.get("/calls/audio-6/audio").status_code == 401
    assert client.get("/insights", headers={"accept": "application/json"}).status_code == 401
    r = client.post("/login", data={"reviewer": "mallory", "token": "wrong"}, follow_redirects=False)
    assert r.status_code == 401 and "wrong token" in r.text and "set-cookie" not in r.headers
    r = client.post("/login", data={"reviewer": "alice", "token": TOKEN, "next": "//evil.example/x"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"  # never an open redirect
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    r = client.get("/calls/angry-1")
    assert r.status_code == 200 and "alice" in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]


def test_logout_ends_the_session_even_for_a_kept_cookie(app):
    client = TestClient(app)
    _login(client)
    kept = dict(client.cookies)
    csrf = _csrf(client, "/")
    r = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    replay = TestClient(app, cookies=kept)
    assert replay.get("/calls/audio-6/audio").status_code == 401
    assert replay.get("/", headers={"accept": "text/html"}, follow_redirects=False).status_code == 303


def test_no_auth_mode_names_the_reviewer_local(store_path):
    client = TestClient(create_app(store_path, None, allowed_hosts=("testserver",)))
    r = client.get("/")
    assert r.status_code == 200 and "local" in r.text
    csrf = _csrf(client, "/calls/quiet-3")
    r = client.post("/calls/quiet-3/verdicts", data={"csrf_token": csrf, "flag": "silence_overtalk",
                                                     "verdict": "reject", "comment": "hold music"})
    assert r.status_code == 200 and "Rejected by local" in r.text


def test_cli_refuses_no_auth_beyond_localhost(store_path, capsys):
    code = cli.main(["serve", "--out", str(store_path.parent), "--no-auth", "--host", "0.0.0.0"])
    assert code == cli.EXIT_USAGE and "loopback" in capsys.readouterr().err
    assert cli.main(["serve", "--out", str(store_path.parent / "nowhere")]) == cli.EXIT_USAGE


# ---- the queue -----------------------------------------------------------------------------
def test_queue_ranks_flagged_calls_by_severity_and_filters(app):
    client = TestClient(app)
    _login(client)
    ids = _queue_ids(client.get("/").text)
    assert ids[0] == "angry-1"  # defection + sale to a frustrated customer + deterioration
    assert set(ids) == {"angry-1", "unhappy-2", "quiet-3", "repeat-5"}  # fine-4 and audio-6 raise nothing
    assert "fine-4" in _queue_ids(client.get("/?show=all").text)
    assert _queue_ids(client.get("/?flag=low_satisfaction").text) == ["angry-1", "unhappy-2"]
    assert _queue_ids(client.get("/?flag=preventable_repeat").text) == ["repeat-5"]
    assert set(_queue_ids(client.get("/?agent=A-2").text)) == {"unhappy-2", "quiet-3"}
    assert _queue_ids(client.get("/?queue_name=billing").text) == ["angry-1", "repeat-5"]
    assert set(_queue_ids(client.get("/?date_from=2026-11-04&date_to=2026-11-04").text)) == {"unhappy-2"}
    assert _queue_ids(client.get("/?date_from=2026-12-01").text) == []


def test_verdict_is_stored_with_reviewer_and_time_and_shown(app, store_path):
    client = TestClient(app)
    _login(client, "bob")
    csrf = _csrf(client, "/calls/unhappy-2")
    r = client.post("/calls/unhappy-2/verdicts", data={"csrf_token": csrf, "flag": "low_satisfaction",
                                                       "verdict": "confirm", "comment": "customer left unhappy"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/calls/unhappy-2#flag-low_satisfaction"
    page = client.get("/calls/unhappy-2").text
    assert "Confirmed by bob" in page and "customer left unhappy" in page
    assert "unhappy-2" in _queue_ids(client.get("/?reviewed=yes").text)
    assert "unhappy-2" not in _queue_ids(client.get("/?reviewed=no").text)
    insights = client.get("/insights").text
    assert "low predicted satisfaction" in insights.split('id="agreement"')[1]
    # a flag the call does not have, or a made-up verdict, is refused and not stored
    assert client.post("/calls/unhappy-2/verdicts", data={"csrf_token": csrf, "flag": "defection_risk",
                                                          "verdict": "confirm"}).status_code == 400
    assert client.post("/calls/unhappy-2/verdicts", data={"csrf_token": csrf, "flag": "low_satisfaction",
                                                          "verdict": "maybe"}).status_code == 400
    with sqlite3.connect(verdicts_path(store_path)) as con:
        stored = con.execute("SELECT flag, verdict, comment, reviewer, created_at FROM reviews "
                             "WHERE call_id = 'unhappy-2'").fetchall()
    assert len(stored) == 1
    flag, verdict, comment, reviewer, created_at = stored[0]
    assert (flag, verdict, comment, reviewer) == ("low_satisfaction", "confirm", "customer left unhappy", "bob")
    assert created_at is not None


def test_cross_site_posts_are_refused(app, store_path):
    client = TestClient(app)
    _login(client)
    csrf = _csrf(client, "/calls/quiet-3")
    form = {"flag": "silence_overtalk", "verdict": "confirm", "comment": "forged"}
    assert client.post("/calls/quiet-3/verdicts", data=form).status_code == 403  # no token
    assert client.post("/calls/quiet-3/verdicts", data={**form, "csrf_token": "guess"}).status_code == 403
    r = client.post("/calls/quiet-3/verdicts", data={**form, "csrf_token": csrf},
                    headers={"origin": "http://evil.example"})
    assert r.status_code == 403
    r = client.post("/calls/quiet-3/verdicts", data={**form, "csrf_token": csrf}, headers={"origin": "null"})
    assert r.status_code == 403
    assert client.post("/logout", data={"csrf_token": csrf}, headers={"origin": "http://evil.example"},
                       follow_redirects=False).status_code == 403
    with sqlite3.connect(verdicts_path(store_path)) as con:
        assert con.execute("SELECT count(*) FROM reviews WHERE comment = 'forged'").fetchone()[0] == 0


# ---- a call: audio, transcript, evidence -----------------------------------------------------
def test_audio_is_served_only_for_stored_audio_calls(app, store_path):
    client = TestClient(app)
    _login(client)
    original = (SAMPLES / "delivery-mono-16k.flac").read_bytes()
    r = client.get("/calls/audio-6/audio")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/flac" and r.content == original
    r = client.get("/calls/audio-6/audio", headers={"range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == original[100:200]  # seeking needs ranges
    r = client.get("/calls/redacted-8/audio")  # the silenced copy, never the original, when there is one
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    assert r.content == (store_path.parent / "calls" / "redacted-8.redacted.wav").read_bytes()
    assert "personal data silenced" in client.get("/calls/redacted-8").text
    for url in ["/calls/evil-7/audio",  # a stored source that is not audio
                "/calls/repeat-5/audio",  # a transcript
                "/calls/no-such-call/audio",
                "/calls/..%2F..%2F..%2Fetc%2Fpasswd/audio",
                "/calls/%2e%2e/audio",
                "/calls/audio-6/audio/../../../../etc/passwd",
                "/static/..%2F..%2Fstore.py",
                "/static/%2e%2e/%2e%2e/cli.py"]:
        r = client.get(url)
        assert r.status_code == 404, url
        assert b"root:" not in r.content and b"import" not in r.content


def test_call_page_shows_the_evidence_and_escapes_what_customers_say(app):
    client = TestClient(app)
    _login(client)
    page = client.get("/calls/angry-1").text
    for expected in ('data-seek="18.0"', "I want to cancel my account", "billing_error", "1.6/5", "10%",
                     "trust fell by 0.7", "sale to a frustrated customer", "deteriorated trajectory",
                     'class="turn role-customer"', 'id="trust-curve"', "signal-mark"):
        assert expected in page, expected
    assert page.count('class="turn role-') == 4
    hostile = client.get("/calls/repeat-5").text
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in hostile
    assert "<script>window" not in hostile and "<img src=x" not in hostile
    assert client.get("/calls/no-such-call").status_code == 404


def test_customer_page_lists_every_contact_in_order(app):
    client = TestClient(app)
    _login(client)
    page = client.get("/customers/C-1").text
    assert page.index("angry-1") < page.index("repeat-5")
    assert "duplicate charge" in page  # open job: neither contact ended well
    assert 'id="trend"' in page
    assert client.get("/customers/nobody").status_code == 404
    assert "C-6" in client.get("/customers").text


def test_insights_rank_reasons_and_estimate_value_at_risk(app, store_path):
    client = TestClient(app)
    _login(client)
    page = client.get("/insights").text
    reasons = page.split('id="reasons"')[1]
    assert reasons.index("billing_error") < reasons.index("fault")
    assert "billing" in page.split('id="owners"')[1]
    # no customers roll-up: risk = strongest defection signal (0.9) x customer value (1000)
    assert "value at risk 900" in page and "estimated" in page
    with duckdb.connect(str(store_path)) as con:
        if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'customers'").fetchone()[0]:
            con.execute("CREATE TABLE customers (customer_id VARCHAR, defection_risk DOUBLE, value DOUBLE, "
                        "value_at_risk DOUBLE, at_risk BOOLEAN)")
        # at risk (0.75 >= the 0.5 threshold, as the roll-up marks it), and one below it whose
        # value at risk is not counted
        con.execute("INSERT INTO customers (customer_id, defection_risk, value, value_at_risk, at_risk) "
                    "VALUES ('C-2', 0.75, 400, 300, true), ('C-3', 0.2, 500, 100, false)")
    with Store(store_path) as store:
        snapshot.publish(store)
    try:
        page = client.get("/insights").text
        assert "value at risk 300" in page and "estimated" not in page
        assert "75%" in client.get("/customers/C-2").text
    finally:
        with duckdb.connect(str(store_path)) as con:
            con.execute("DELETE FROM customers WHERE customer_id = 'C-2'")
        with Store(store_path) as store:
            snapshot.publish(store)


def test_a_store_held_by_a_run_never_stops_the_app(app, store_path):
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); time.sleep(30)", str(store_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        client = TestClient(app)
        _login(client)
        assert client.get("/").status_code == 200  # the snapshot, not the store a run holds
        csrf = _csrf(client, "/calls/quiet-3")
        r = client.post("/calls/quiet-3/verdicts", data={"csrf_token": csrf, "flag": "silence_overtalk",
                                                         "verdict": "confirm", "comment": "during a run"})
        assert r.status_code == 200 and "during a run" in r.text
    finally:
        holder.kill()
        holder.wait()


def test_no_snapshot_yet_is_said_plainly(tmp_path):
    with Store(tmp_path / "wocas.duckdb"):
        pass
    client = TestClient(create_app(tmp_path / "wocas.duckdb", TOKEN, allowed_hosts=("testserver",)))
    _login(client)
    r = client.get("/")
    assert r.status_code == 503 and "no snapshot of the store" in r.text and "wocas snapshot" in r.text


def test_emerging_reasons_need_a_baseline_and_a_rise():
    from wocas.review.insights import emerging, reason_trends

    by_day = [{"reason": "billing", "day": f"2026-10-{d:02d}", "n": 4} for d in range(1, 32)]
    by_day += [{"reason": "outage", "day": f"2026-10-{d:02d}", "n": 3} for d in range(25, 32)]
    by_day += [{"reason": "outage", "day": "2026-10-02", "n": 1}]
    trends, days = reason_trends(by_day)
    assert [t.reason for t in trends] == ["billing", "outage"] and days[0] == "2026-10-01" and len(days) == 31
    assert [t.reason for t in emerging(trends)] == ["outage"]
    recent_only, _ = reason_trends([r for r in by_day if r["day"] >= "2026-10-25"])
    assert emerging(recent_only) == []  # no earlier weeks to compare with
