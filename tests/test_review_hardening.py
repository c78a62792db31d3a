"""The review app's hardening, through the real app and the real CLI: login back-off, token
length and sources, Host checking (with and without login), Secure cookies, odd call ids,
snapshots published atomically, and verdicts kept under concurrent reviewers."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from wocas import cli
from wocas.review import create_app
from wocas.review import auth
from wocas.review.verdicts import verdicts_path
from wocas.schema import Call, CallAnalysis, Emotion, Satisfaction, Turn
from wocas.stages.flags import FlagsStage
from wocas.store import Store, snapshot

TOKEN = "a-long-enough-token-for-tests"
ODD_IDS = ("2026/11/03/call 1", "café-ñ-日本", "a%2Fb?x=1#y", "ends/audio", "plain")


def _call(call_id: str) -> CallAnalysis:
    turns = tuple(Turn(index=i, speaker=r, role=r, start=i * 5.0, end=i * 5.0 + 4, text=t,
                       emotion=Emotion(valence=v, arousal=0.5, trust=v, confidence=0.8))
                  for i, (r, t, v) in enumerate([("agent", "Hello, how can I help?", 0.2),
                                                 ("customer", "This is useless, I am leaving.", -0.8)]))
    call = Call(call_id=call_id, source=f"{call_id}.json", kind="transcript", customer_id="C-1",
                started_at="2026-11-03T09:00:00")
    return FlagsStage().process_call(CallAnalysis(
        call=call, turns=turns, duration=9.0, roles={"agent": "agent", "customer": "customer"}, role_confidence=1.0,
        satisfaction=Satisfaction(score=1.5, p_satisfied=0.1, confidence=0.7, drivers=("trust fell",))))


@pytest.fixture(scope="module")
def store_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hardening") / "wocas.duckdb"
    with Store(path) as store:
        store.write([_call(i) for i in ODD_IDS], run_id="r", pipeline_version="test")
        snapshot.publish(store)
    return path


def _login(client: TestClient, token: str = TOKEN):
    return client.post("/login", data={"reviewer": "ann", "token": token, "next": "/"}, follow_redirects=False)


def _csrf(client: TestClient, url: str) -> str:
    html = client.get(url).text
    marker = 'name="csrf_token" value="'
    return html[html.index(marker) + len(marker):].split('"', 1)[0]


def test_wrong_tokens_back_off_per_client_and_a_right_one_resets(store_path):
    app = create_app(store_path, TOKEN, allowed_hosts=("testserver",))
    client = TestClient(app)
    codes = [_login(client, "wrong-token-number-x").status_code for _ in range(8)]
    assert codes[:auth.FREE_FAILURES] == [401] * auth.FREE_FAILURES
    assert 429 in codes[auth.FREE_FAILURES:]  # answered "wait", not checked
    r = _login(client)  # even the right token waits until the back-off has passed
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    other = TestClient(app, client=("10.0.0.9", 5000))  # another client is not held back
    assert _login(other).status_code == 303

    throttle = auth.LoginThrottle(free=2, max_backoff=0.05)
    for _ in range(3):
        throttle.failed("x")
    assert 0 < throttle.wait_seconds("x") <= 0.05 and throttle.wait_seconds("y") == 0
    throttle.succeeded("x")
    assert throttle.wait_seconds("x") == 0


PROXY = "10.0.0.1"


def _login_via(app, peer: str, forwarded_for: str | None, token: str = "wrong-token-number-x") -> int:
    headers = {"x-forwarded-for": forwarded_for} if forwarded_for is not None else {}
    client = TestClient(app, client=(peer, 4000))
    return client.post("/login", data={"reviewer": "ann", "token": token, "next": "/"}, headers=headers,
                       follow_redirects=False).status_code


def test_behind_a_trusted_proxy_each_reviewer_backs_off_alone(store_path):
    app = create_app(store_path, TOKEN, allowed_hosts=("testserver",), trusted_proxies=(PROXY,))
    codes = [_login_via(app, PROXY, "203.0.113.7") for _ in range(auth.FREE_FAILURES + 2)]
    assert codes[:auth.FREE_FAILURES] == [401] * auth.FREE_FAILURES and codes[-1] == 429
    # another reviewer behind the same proxy is not held back; the proxy itself is not either
    assert _login_via(app, PROXY, "203.0.113.8", TOKEN) == 303
    assert _login_via(app, PROXY, None, TOKEN) == 303
    # the client's own words left of what the proxy appended change nothing
    assert _login_via(app, PROXY, "198.51.100.1, 203.0.113.7", TOKEN) == 429


def test_a_forged_forwarded_for_from_an_untrusted_peer_is_ignored(store_path):
    for proxies in ((), (PROXY,)):  # no proxy trusted (the default), or another one
        app = create_app(store_path, TOKEN, allowed_hosts=("testserver",), trusted_proxies=proxies)
        codes = [_login_via(app, "198.51.100.9", f"203.0.113.{n}, {PROXY}") for n in range(auth.FREE_FAILURES + 2)]
        assert codes[:auth.FREE_FAILURES] == [401] * auth.FREE_FAILURES and codes[-1] == 429
        assert _login_via(app, "198.51.100.9", "203.0.113.99", TOKEN) == 429  # still the peer's own back-off


def test_client_key_walks_the_forwarded_chain_from_the_right():
    proxies = auth.trusted_proxies(["10.0.0.0/24", "2001:db8::1"])
    assert auth.client_key("10.0.0.2", ["1.1.1.1, 203.0.113.7, 10.0.0.9"], proxies) == "203.0.113.7"
    assert auth.client_key("2001:db8::1", ["203.0.113.7:5123"], proxies) == "203.0.113.7"
    assert auth.client_key("10.0.0.2", ["198.51.100.4", "10.0.0.3"], proxies) == "198.51.100.4"  # two headers
    assert auth.client_key("10.0.0.2", ["10.0.0.3"], proxies) == "10.0.0.2"  # only proxies: the proxy
    assert auth.client_key("10.0.1.2", ["203.0.113.7"], proxies) == "10.0.1.2"  # outside the network
    with pytest.raises(ValueError, match="not an IP address"):
        auth.trusted_proxies(["proxy.example"])


def test_a_trusted_proxy_that_is_no_address_stops_serve(store_path, capsys, monkeypatch):
    monkeypatch.setenv("WOCAS_REVIEW_TOKEN", TOKEN)
    assert cli.main(["serve", "--out", str(store_path.parent), "--trusted-proxy", "proxy.example"]) == cli.EXIT_USAGE
    assert "--trusted-proxy 'proxy.example' is not an IP address" in capsys.readouterr().err


def test_a_short_token_is_refused_with_a_clear_error(store_path, capsys, monkeypatch):
    with pytest.raises(ValueError, match="at least 16 characters"):
        create_app(store_path, "short", allowed_hosts=("testserver",))
    monkeypatch.setenv("WOCAS_REVIEW_TOKEN", "tiny")
    assert cli.main(["serve", "--out", str(store_path.parent)]) == cli.EXIT_USAGE
    assert "at least 16 characters" in capsys.readouterr().err


def test_token_on_the_command_line_warns_and_a_token_file_is_read(store_path, tmp_path, capsys):
    assert cli.main(["serve", "--out", str(store_path.parent), "--token", "x"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "visible" in err and "WOCAS_REVIEW_TOKEN" in err
    token_file = tmp_path / "token"
    token_file.write_text("y\n")
    assert cli.main(["serve", "--out", str(store_path.parent), "--token-file", str(token_file)]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "at least 16" in err and "visible" not in err  # the file's token was the one checked
    assert cli.main(["serve", "--out", str(store_path.parent), "--token-file", str(tmp_path / "none")]) \
        == cli.EXIT_USAGE


@pytest.mark.parametrize("token", [TOKEN, None])
def test_host_is_checked_with_and_without_login(store_path, token):
    app = create_app(store_path, token, bind="192.168.1.20", allowed_hosts=("review.example",))
    for host, code in [("evil.example", 400), ("127.0.0.1.nip.io:8765", 400), ("testserver", 400),
                       ("localhost:8765", 200), ("127.0.0.1", 200), ("[::1]:8765", 200),
                       ("192.168.1.20:8765", 200), ("REVIEW.example", 200)]:
        r = TestClient(app).get("/healthz", headers={"host": host})
        assert r.status_code == code, host
    forged = TestClient(app, base_url="http://rebound.example")  # DNS rebinding reads nothing, posts nothing
    assert forged.get("/calls/plain").status_code == 400
    assert forged.post("/calls/plain/verdicts", data={"flag": "x", "verdict": "confirm"}).status_code == 400


def test_secure_cookies_option(store_path):
    for secure in (False, True):
        client = TestClient(create_app(store_path, TOKEN, allowed_hosts=("testserver",), secure_cookies=secure))
        cookie = _login(client).headers["set-cookie"].lower()
        assert ("; secure" in cookie) is secure and "httponly" in cookie


def test_any_call_id_opens_and_takes_a_verdict(store_path):
    client = TestClient(create_app(store_path, TOKEN, allowed_hosts=("testserver",)))
    assert _login(client).status_code == 303
    queue = client.get("/?show=all").text
    for call_id in ODD_IDS:
        url = "/calls/" + quote(call_id, safe="")
        assert url in queue, call_id  # the queue links to it
        page = client.get(url)
        assert page.status_code == 200, call_id
        flag = page.text.split('name="flag" value="', 1)[1].split('"', 1)[0]
        r = client.post(url + "/verdicts", data={"csrf_token": _csrf(client, url), "flag": flag,
                                                 "verdict": "confirm", "comment": call_id}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith(url + "#"), call_id
    with sqlite3.connect(verdicts_path(store_path)) as con:
        stored = {row[0] for row in con.execute("SELECT call_id FROM reviews")}
    assert stored >= set(ODD_IDS)


def test_snapshot_publish_is_atomic_and_the_app_follows_the_newest(tmp_path):
    path = tmp_path / "wocas.duckdb"
    with Store(path) as store:
        store.write([_call("first")], run_id="r1", pipeline_version="test")
        first = snapshot.publish(store)
    client = TestClient(create_app(path, TOKEN, allowed_hosts=("testserver",)))
    _login(client)
    assert client.get("/calls/second").status_code == 404
    with Store(path) as store:
        store.write([_call("second")], run_id="r2", pipeline_version="test")
        for _ in range(snapshot.KEEP + 1):
            newest = snapshot.publish(store)
    assert client.get("/calls/second").status_code == 200  # the next request reads the new snapshot
    assert snapshot.latest_snapshot(path) == newest and not first.exists()
    folder = snapshot.snapshot_dir(path)
    assert len(list(folder.glob("*.duckdb"))) == snapshot.KEEP and not list(folder.glob(".part-*"))


def test_concurrent_reviewers_lose_no_verdict(tmp_path):
    path = tmp_path / "wocas.duckdb"
    with Store(path) as store:
        store.write([_call(f"c{i}") for i in range(5)], run_id="r", pipeline_version="test")
        snapshot.publish(store)
    app = create_app(path, TOKEN, allowed_hosts=("testserver",))
    errors: list[str] = []

    def reviewer(n: int) -> None:
        client = TestClient(app, client=(f"10.0.0.{n}", 1000))
        _login(client)
        for i in range(5):
            url = f"/calls/c{i}"
            page = client.get(url)
            if page.status_code != 200:
                errors.append(f"{url} {page.status_code}")
                continue
            flag = page.text.split('name="flag" value="', 1)[1].split('"', 1)[0]
            r = client.post(url + "/verdicts", data={"csrf_token": _csrf(client, url), "flag": flag,
                                                     "verdict": "reject", "comment": f"r{n}"}, follow_redirects=False)
            if r.status_code != 303:
                errors.append(f"post {url} {r.status_code}")

    threads = [threading.Thread(target=reviewer, args=(n,)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with sqlite3.connect(verdicts_path(path)) as con:
        assert con.execute("SELECT count(*) FROM reviews").fetchone()[0] == 25
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_verdicts_kept_in_an_older_store_are_carried_over(tmp_path):
    from datetime import datetime

    path = tmp_path / "wocas.duckdb"
    with Store(path) as store:
        store.write([_call("old")], run_id="r", pipeline_version="test")
        store.append_rows("reviews", [{"call_id": "old", "flag": "low_satisfaction", "verdict": "confirm",
                                       "comment": "from before", "reviewer": "zoe",
                                       "created_at": datetime(2026, 1, 2, 3, 4, 5)}])
        snapshot.publish(store)
    client = TestClient(create_app(path, TOKEN, allowed_hosts=("testserver",)))
    _login(client)
    assert "from before" in client.get("/calls/old").text


def test_snapshot_command_publishes_now_and_says_when_a_run_holds_the_store(tmp_path, capsys):
    import subprocess
    import sys

    path = tmp_path / "wocas.duckdb"
    with Store(path) as store:
        store.write([_call("one")], run_id="r", pipeline_version="test")
    assert snapshot.latest_snapshot(path) is None
    assert cli.main(["snapshot", "--out", str(tmp_path)]) == cli.EXIT_OK
    published = snapshot.latest_snapshot(path)
    assert published is not None and str(published) in capsys.readouterr().out
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); time.sleep(30)", str(path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert cli.main(["snapshot", "--out", str(tmp_path)]) == 3  # the store is locked: nothing published
        assert "a run holds" in capsys.readouterr().err and snapshot.latest_snapshot(path) == published
    finally:
        holder.kill()
        holder.wait()
