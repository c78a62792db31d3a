"""End to end in a real browser: the real pipeline fills a store, the review app serves it.

Debian's chromium (never a downloaded browser build) is driven by Playwright against the
app started on a free localhost port. The store comes from ``wocas run`` on the bundled
samples plus one chat made here: a customer who pastes markup into the chat and leaves
long gaps (so the default rules flag the call for silence whatever other stages exist).
Screenshots land in tests/artifacts/ for a person to look at.
"""

from __future__ import annotations

import http.server
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)",
                allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")

import uvicorn  # noqa: E402

from wocas import cli  # noqa: E402
from wocas.review import create_app  # noqa: E402
from wocas.review.verdicts import verdicts_path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
TOKEN = "browser-token-long-enough"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required", "--mute-audio"]
HOSTILE_TEXT = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
HOSTILE_CHAT = {
    "call_id": "chat-hostile", "customer_id": "C-1002", "agent_id": "A-7", "started_at": "2026-11-03T10:00:00",
    "queue": "logistics",
    "turns": [
        {"speaker": "customer", "text": "Hello, is anyone there? My parcel is late again.", "start": 0, "end": 5},
        {"speaker": "agent", "text": "Sorry for the wait, let me check.", "start": 60, "end": 64},
        {"speaker": "customer", "text": HOSTILE_TEXT, "start": 120, "end": 125},
        {"speaker": "agent", "text": "It will arrive tomorrow.", "start": 180, "end": 184},
    ],
}


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """Run the real pipeline (``wocas run``) on the bundled samples and the hostile chat."""
    work = tmp_path_factory.mktemp("review-e2e")
    chat = work / "hostile.jsonl"
    chat.write_text(json.dumps(HOSTILE_CHAT) + "\n")
    out = work / "out"
    code = cli.main(["run", str(ROOT / "samples" / "manifest.csv"), str(chat), "--out", str(out), "--quiet"])
    assert code == cli.EXIT_OK, f"wocas run failed with exit code {code}; see {out / 'logs'}"
    return out / cli.STORE_NAME


@pytest.fixture(scope="module")
def server(store) -> Iterator[str]:
    sock = _free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(store, TOKEN), log_level="warning", lifespan="off")
    app_server = uvicorn.Server(config)
    thread = threading.Thread(target=app_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):
        if app_server.started:
            break
        threading.Event().wait(0.05)
    assert app_server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    app_server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def evil_site() -> Iterator[tuple[str, dict]]:
    """Another origin on localhost whose page posts a forged verdict to the app."""
    pages: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # quiet
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", pages
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _wait_until(page, expression: str, timeout: float = 15.0) -> None:
    """Poll from Python: Playwright's wait_for_function evaluates strings, which the app's CSP forbids."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        time.sleep(0.05)


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"review-{name}.png"), full_page=True)


def test_review_flow_in_a_real_browser(server, browser, store, evil_site):
    if ARTIFACTS.exists():
        for old in ARTIFACTS.glob("review-*.png"):
            old.unlink()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # log in: the queue redirects to the login form first
    page.goto(server + "/")
    assert "/login" in page.url
    page.fill("#reviewer-name", "alice")
    page.fill("#token", TOKEN)
    page.click("#login")
    page.wait_for_selector("#queue")
    assert page.inner_text("#reviewer") == "alice"
    hostile_row = page.locator('tr[data-call-id="chat-hostile"]')
    assert "long silence or overtalk" in hostile_row.inner_text()
    _shot(page, "1-queue")

    # open an audio call from the queue (every call, flagged or not)
    page.check('input[name="show"]')
    page.click("#filters button[type=submit]")
    page.click('tr[data-call-id="delivery-0001"] a.call-link')
    page.wait_for_selector("#transcript .turn")
    assert page.inner_text("#call-id") == "delivery-0001"
    player = page.locator("#player")
    _wait_until(page, "document.getElementById('player').readyState >= 1")
    duration = page.evaluate("document.getElementById('player').duration")
    assert 30 < duration < 36

    # play the audio: it advances
    page.evaluate("document.getElementById('player').play()")
    _wait_until(page, "document.getElementById('player').currentTime > 0.5")

    # click a turn: the player jumps to its start and plays on from there
    turns = page.locator("#transcript .turn")
    assert turns.count() >= 4
    target = turns.nth(3)
    start = float(target.get_attribute("data-seek"))
    assert start > 5
    target.click()
    at = page.evaluate("document.getElementById('player').currentTime")
    assert start - 0.05 <= at < start + 1.5, (start, at)
    _wait_until(page, f"document.getElementById('player').currentTime > {start + 0.3}")
    assert "current" in (target.get_attribute("class") or "")
    player.evaluate("p => p.pause()")
    _shot(page, "2-call-audio")

    # the hostile chat: its markup is shown as text, never run
    page.goto(server + "/calls/chat-hostile")
    page.wait_for_selector("#transcript .turn")
    assert page.evaluate("window.__pwned") is None
    assert HOSTILE_TEXT in page.inner_text("#transcript")
    assert page.locator("#transcript script, #transcript img").count() == 0

    # confirm a flag with a comment; the verdict is there after a reload
    box = page.locator("#flag-silence_overtalk")
    box.locator("textarea").fill("customer left waiting a minute between replies")
    box.locator("button.confirm").click()
    page.wait_for_selector("#flag-silence_overtalk .current")
    page.reload()
    kept = page.inner_text("#flag-silence_overtalk .current")
    assert "Confirmed by alice" in kept and "customer left waiting a minute" in kept
    _shot(page, "3-verdict-kept")

    # path traversal on the audio route, with a logged-in session
    for url in ["/calls/..%2F..%2F..%2Fetc%2Fpasswd/audio", "/calls/chat-hostile/audio",
                "/calls/%2e%2e%2f%2e%2e%2fetc%2fpasswd/audio", "/static/..%2F..%2Fcli.py"]:
        r = page.request.get(server + url)
        assert r.status == 404, url
        assert b"root:" not in r.body()

    # a page on another origin posts a forged verdict: refused, nothing stored
    evil_origin, evil_pages = evil_site
    evil_pages["/forge"] = (
        f'<form id="f" method="post" action="{server}/calls/chat-hostile/verdicts">'
        '<input name="flag" value="silence_overtalk"><input name="verdict" value="reject">'
        '<input name="comment" value="forged"></form><script>document.getElementById("f").submit()</script>')
    with page.expect_response(lambda r: r.request.method == "POST" and "/verdicts" in r.url) as forged:
        page.goto(evil_origin + "/forge")
    assert forged.value.status == 403  # localhost ports are same-site, so the Origin check is what stops it

    # insights and the customer page render from the real store
    page.goto(server + "/insights")
    assert "long silence or overtalk" in page.inner_text("#agreement")
    _shot(page, "4-insights")
    page.goto(server + "/customers/C-1002")
    contacts = page.inner_text("#contacts")
    assert contacts.index("delivery-0001") < contacts.index("chat-hostile")
    _shot(page, "5-customer")

    # log out: the app refuses the same browser afterwards
    page.goto(server + "/")
    page.click("#logout")
    page.wait_for_selector("#login")
    page.goto(server + "/calls/delivery-0001")
    assert "/login" in page.url
    assert page.request.get(server + "/calls/delivery-0001/audio").status == 401
    _shot(page, "6-logged-out")
    assert not errors, errors
    context.close()

    with sqlite3.connect(verdicts_path(store)) as con:  # verdicts live beside the store, not in it
        verdicts = con.execute("SELECT flag, verdict, comment, reviewer FROM reviews").fetchall()
    assert verdicts == [("silence_overtalk", "confirm", "customer left waiting a minute between replies", "alice")]
