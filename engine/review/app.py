"""The QA review app: the flagged-call queue, one call with its evidence, customers, insights.

``create_app`` builds a FastAPI app over the read-only snapshot a run publishes of its DuckDB
store (never the store itself, so a run and the reviewers never wait for each other), with the
verdicts in their own SQLite file; ``wocas serve`` runs it with uvicorn. Every request's Host
must be an allowed one (DNS rebinding), with or without login. Pages are rendered on the server with autoescaped Jinja2 templates (a customer can
say anything, ``<script>`` included) under a strict Content-Security-Policy. Audio is found
only through the call id's stored source, never from a path in the request.
"""

from __future__ import annotations

import logging
import time
import threading
from pathlib import Path
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote, urlencode

from fastapi import FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from wocas.errors import StoreMissing
from wocas.io.audio import AUDIO_SUFFIXES
from wocas.io.exports import safe_name
from wocas.review import auth, charts, insights, queries
from wocas.review.verdicts import VERDICTS, Verdicts, verdicts_path
from wocas.kinds import FLAG_LABELS, Shape
from wocas.schema import Flag, severity_level
from wocas.stages.flags import call_severity
from wocas.store import Store
from wocas.store import queries as store_queries

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PAGE_SIZE = 100
MAX_COMMENT = 2000
PUBLIC_PREFIXES = ("/login", "/static/", "/healthz")
AUDIO_TYPES = {".wav": "audio/wav", ".flac": "audio/flac", ".mp3": "audio/mpeg", ".ogg": "audio/ogg",
               ".oga": "audio/ogg", ".opus": "audio/ogg", ".m4a": "audio/mp4", ".aac": "audio/aac",
               ".mp4": "audio/mp4", ".webm": "audio/webm"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "media-src 'self'; connect-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def mmss(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


CURVE_WORDS = {Shape.RECOVERED: "rose from negative", Shape.DETERIORATED: "fell",
               Shape.STEADY_POSITIVE: "steady, positive", Shape.STEADY_NEGATIVE: "steady, negative",
               Shape.VOLATILE: "volatile"}


def _templates() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(["html", "svg"], default=True))
    env.filters["mmss"] = mmss
    env.filters["pct"] = lambda v: "–" if v is None else f"{v:.0%}"
    env.filters["num"] = lambda v, d=2: "–" if v is None else f"{v:.{d}f}"
    env.filters["urlq"] = lambda v: quote(str(v), safe="")
    env.globals["FLAG_KINDS"] = FLAG_LABELS
    # the trust curve's shape in words that do not read as the call's outcome (queries.OUTCOMES_SQL)
    env.filters["curve"] = lambda v: "–" if not v else CURVE_WORDS.get(str(v), str(v))
    return env


class FlagIndex:
    """The stored QA flags of every call, read again only when a run has written to the store."""

    def __init__(self) -> None:
        self._version: tuple | None = None
        self._calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def calls(self, store: Store) -> list[dict[str, Any]]:
        version = queries.store_version(store)
        with self._lock:
            if version != self._version:
                calls = queries.queue_calls(store)
                for c in calls:
                    c["flag_list"] = list(c["flags"])
                    c["severity"] = call_severity(c["flag_list"])
                self._calls, self._version = calls, version
            return self._calls

    def flags_of(self, store: Store, call_id: str) -> list[Flag]:
        return next((c["flag_list"] for c in self.calls(store) if c["call_id"] == call_id), [])


def resolve_audio(call_id: str, source: str, roots: tuple[Path, ...], redacted_dir: Path) -> Path | None:
    """The file to play for a stored audio call, or None.

    The copy with PII silenced (``wocas run --redact-audio`` writes it beside the store) wins
    over the original recording; otherwise the call's stored source, as an existing audio file.
    """
    redacted = redacted_dir / f"{safe_name(call_id)}.redacted.wav"
    if redacted.is_file():
        return redacted
    path = Path(source)
    candidates = [path] if path.is_absolute() else [root / path for root in roots]
    for candidate in candidates:
        if candidate.suffix.lower() in AUDIO_SUFFIXES and candidate.is_file():
            return candidate
    return None


def create_app(store_path: str | Path, token: str | None, *, session_hours: float = 12.0,
               audio_roots: tuple[Path, ...] = (), allowed_hosts: Iterable[str] = (), bind: str | None = None,
               secure_cookies: bool = False, thresholds: store_queries.Thresholds | None = None,
               trusted_proxies: Iterable[str] = ()) -> FastAPI:
    """The review app over one store's snapshots. ``token=None`` turns login off (the CLI allows
    that on localhost only); a token shorter than ``auth.MIN_TOKEN_LENGTH`` is a ``ValueError``.
    Requests are answered only for localhost, ``bind`` and ``allowed_hosts``. ``thresholds``: the
    config's settings for the store's figure definitions (repeats, recovered, left at risk).
    ``trusted_proxies``: reverse proxies (addresses or networks) whose ``X-Forwarded-For`` names
    the client that login back-off counts against."""
    store_path = Path(store_path)
    thresholds = thresholds or store_queries.Thresholds()
    if token is not None:
        auth.check_token(token)
    hosts = auth.allowed_hosts(bind, tuple(allowed_hosts))
    access = queries.SnapshotAccess(store_path)
    verdicts = Verdicts(verdicts_path(store_path), legacy=_legacy_verdicts(store_path))
    throttle = auth.LoginThrottle()
    proxies = auth.trusted_proxies(tuple(trusted_proxies))
    # Relative sources are relative to where `wocas run` was started; try here and beside the store.
    roots = tuple(audio_roots) + (Path.cwd(), store_path.parent, store_path.parent.parent)
    redacted_dir = store_path.parent / "calls"
    env = _templates()
    sessions = auth.Sessions(session_hours * 3600)
    index = FlagIndex()
    app = FastAPI(title="wocas review", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.state.sessions = sessions

    def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        session = getattr(request.state, "session", None)
        html = env.get_template(name).render(request=request, session=session, auth=token is not None,
                                              path=request.url.path, **context)
        return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})

    def error(request: Request, status_code: int, message: str) -> HTMLResponse:
        return render(request, "error.html", status_code=status_code, message=message)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        path = request.url.path
        if auth.host_name(request.headers.get("host", "")) not in hosts:
            log.warning("refused a request for host %r (allowed: %s)", request.headers.get("host"), sorted(hosts))
            response = PlainTextResponse("unknown host (start wocas serve with --allowed-host NAME)", status_code=400)
            for key, value in SECURITY_HEADERS.items():
                response.headers.setdefault(key, value)
            return response
        session = sessions.get(request.cookies.get(auth.COOKIE))
        new_session = None
        if session is None and token is None:
            session = new_session = sessions.create("local")
        request.state.session = session
        public = path in ("/login", "/healthz") or path.startswith("/static/")
        if session is None and not public:
            if request.method == "GET" and "text/html" in request.headers.get("accept", "") and path != "/logout":
                target = path + (f"?{request.url.query}" if request.url.query else "")
                response: Response = RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
            else:
                response = PlainTextResponse("login required", status_code=401)
        else:
            try:
                response = await call_next(request)
            except StoreMissing as e:
                response = error(request, 503, str(e))
        if new_session is not None:
            _set_cookie(response, new_session, secure_cookies)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    def check_post(request: Request, csrf_token: str) -> Response | None:
        session: auth.Session | None = request.state.session
        if not auth.same_origin(request):
            return PlainTextResponse("cross-site request refused", status_code=403)
        if session is None or not auth.token_matches(csrf_token, session.csrf):
            return PlainTextResponse("missing or wrong CSRF token", status_code=403)
        return None

    # ---- login -----------------------------------------------------------------------------
    @app.get("/healthz")
    def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.get("/login")
    def login_form(request: Request, next: str = "/") -> HTMLResponse:
        return render(request, "login.html", next=auth.safe_next(next), message=None)

    @app.post("/login")
    def login(request: Request, reviewer: str = Form(""), token_: str = Form("", alias="token"),
              next: str = Form("/")) -> Response:
        if not auth.same_origin(request):
            return PlainTextResponse("cross-site request refused", status_code=403)
        client = auth.client_key(request.client.host if request.client else "?",
                                 request.headers.getlist("x-forwarded-for"), proxies)
        wait = throttle.wait_seconds(client)
        if token is not None and wait > 0:
            response = render(request, "login.html", status_code=429, next=auth.safe_next(next),
                              message=f"too many wrong tokens: try again in {int(wait) + 1} s")
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        try:
            name = auth.clean_reviewer(reviewer)
        except ValueError as e:
            return render(request, "login.html", status_code=400, next=auth.safe_next(next), message=str(e))
        if token is not None and not auth.token_matches(token_, token):
            log.warning("failed login for reviewer %r from %s", name, client)
            throttle.failed(client)
            return render(request, "login.html", status_code=401, next=auth.safe_next(next),
                          message="wrong token")
        throttle.succeeded(client)
        old = request.state.session
        if old is not None:
            sessions.end(old.session_id)
        session = sessions.create(name)
        response = RedirectResponse(auth.safe_next(next), status_code=303)
        _set_cookie(response, session, secure_cookies)
        return response

    @app.post("/logout")
    def logout(request: Request, csrf_token: str = Form("")) -> Response:
        refused = check_post(request, csrf_token)
        if refused:
            return refused
        sessions.end(request.state.session.session_id)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(auth.COOKIE, path="/")
        return response

    # ---- the queue -------------------------------------------------------------------------
    @app.get("/")
    def queue(request: Request, flag: str = "", date_from: str = "", date_to: str = "", agent: str = "",
              queue_name: str = "", reviewed: str = "", show: str = "flagged", page: int = 1) -> HTMLResponse:
        with access.connect() as store:
            calls = index.calls(store)
        latest_verdicts = verdicts.latest()
        items = []
        for c in calls:
            kinds = [f.kind for f in c["flag_list"]]
            done = [k for k in kinds if (c["call_id"], k) in latest_verdicts]
            if show != "all" and not kinds:
                continue
            if flag and flag not in kinds:
                continue
            day = (c["started_at"] or "")[:10]
            if date_from and (not day or day < date_from):
                continue
            if date_to and (not day or day > date_to):
                continue
            if agent and c["agent_id"] != agent:
                continue
            if queue_name and c["queue"] != queue_name:
                continue
            complete = bool(kinds) and len(done) == len(kinds)
            if reviewed == "yes" and not complete:
                continue
            if reviewed == "no" and (complete or not kinds):
                continue
            items.append({**c, "reviewed_count": len(done),
                          "verdicts": {k: latest_verdicts[(c["call_id"], k)]["verdict"] for k in done},
                          "level": severity_level(c["severity"])})
        items.sort(key=lambda c: (-c["severity"], c["started_at"] or "", c["call_id"]))
        page = max(1, page)
        pages = max(1, (len(items) + PAGE_SIZE - 1) // PAGE_SIZE)
        filters = {"flag": flag, "date_from": date_from, "date_to": date_to, "agent": agent,
                   "queue_name": queue_name, "reviewed": reviewed, "show": show}
        return render(request, "queue.html", items=items[(page - 1) * PAGE_SIZE: page * PAGE_SIZE],
                      total=len(items), page=page, pages=pages, filters=filters,
                      page_query=urlencode({k: v for k, v in filters.items() if v}),
                      agents=sorted({c["agent_id"] for c in calls if c["agent_id"]}),
                      queues=sorted({c["queue"] for c in calls if c["queue"]}),
                      kinds=sorted({f.kind for c in calls for f in c["flag_list"]}))

    @app.get("/calls/{call_id:path}/audio")
    def call_audio(request: Request, call_id: str) -> Response:
        call_id = _raw_call_id(request, call_id, "/audio")
        with access.connect() as store:
            found = queries.call_audio_source(store, call_id)
            own_page = found is None and queries.call_audio_source(store, call_id + "/audio") is not None
        if own_page:  # a call whose id itself ends in /audio
            return call_page(request, call_id + "/audio")
        if found is None or found[0] != "audio":
            return PlainTextResponse("no audio for this call", status_code=404)
        path = resolve_audio(call_id, found[1] or "", roots, redacted_dir)
        if path is None:
            log.warning("audio of call %s is missing at its stored source %s", call_id, found[1])
            return PlainTextResponse("no audio for this call", status_code=404)
        return FileResponse(path, media_type=AUDIO_TYPES.get(path.suffix.lower(), "application/octet-stream"),
                            headers={"Cache-Control": "private, max-age=300"})

    @app.post("/calls/{call_id:path}/verdicts")
    def add_verdict(request: Request, call_id: str, csrf_token: str = Form(""), flag: str = Form(""),
                    verdict: str = Form(""), comment: str = Form("")) -> Response:
        call_id = _raw_call_id(request, call_id, "/verdicts")
        refused = check_post(request, csrf_token)
        if refused:
            return refused
        if verdict not in VERDICTS:
            return error(request, 400, "the verdict must be confirm or reject")
        if len(comment) > MAX_COMMENT:
            return error(request, 400, f"the comment is longer than {MAX_COMMENT} characters")
        with access.connect() as store:
            if queries.call_row(store, call_id) is None:
                return error(request, 404, "no such call in the store")
            if flag not in {f.kind for f in index.flags_of(store, call_id)}:
                return error(request, 400, "this call has no such flag")
        verdicts.add(call_id, flag, verdict, comment.strip(), request.state.session.reviewer)
        return RedirectResponse(f"/calls/{quote(call_id, safe='')}#flag-{flag}", status_code=303)

    # ---- one call (ids may hold "/": the audio and verdict routes come first) ------------
    @app.get("/calls/{call_id:path}")
    def call_page(request: Request, call_id: str) -> HTMLResponse:
        call_id = _raw_call_id(request, call_id, "")
        with access.connect() as store:
            call = queries.call_row(store, call_id)
            if call is None:
                return error(request, 404, "no such call in the store")
            flags = index.flags_of(store, call_id)
            turns = queries.call_turns(store, call_id)
            jobs = queries.call_jobs(store, call_id)
            signals = queries.call_signals(store, call_id)
        latest, history = verdicts.latest(call_id), verdicts.history(call_id)
        record = call["record_json"]
        audio = resolve_audio(call_id, call["source"] or "", roots, redacted_dir) if call["kind"] == "audio" else None
        curve = charts.trust_curve(turns, signals, call["duration"] or 0.0)
        return render(request, "call.html", call=call, flags=flags, turns=turns, jobs=jobs, signals=signals,
                      latest={k[1]: v for k, v in latest.items()}, history=history, curve=curve,
                      has_audio=audio is not None, audio_redacted=audio is not None and audio.parent == redacted_dir,
                      satisfaction=record.get("satisfaction"),
                      metrics=record.get("metrics"), trajectory=(record.get("trajectories") or {}).get("customer"))

    # ---- customers -------------------------------------------------------------------------
    @app.get("/customers")
    def customers(request: Request) -> HTMLResponse:
        with access.connect() as store:
            found = queries.customer_list(store)
        return render(request, "customers.html", customers=found)

    @app.get("/customers/{customer_id}")
    def customer_page(request: Request, customer_id: str) -> HTMLResponse:
        with access.connect() as store:
            contacts = queries.customer_contacts(store, customer_id)
            if not contacts:
                return error(request, 404, "no such customer in the store")
            record = queries.customer_record(store, customer_id)
            jobs = queries.customers_jobs(store, customer_id)
            flags = {c["call_id"]: c["flag_list"] for c in index.calls(store) if c["customer_id"] == customer_id}
            repeats = store_queries.repeats(store, thresholds, customer_id)
            outcomes = store_queries.call_outcomes(store, thresholds, customer_id)
        trend = charts.trend_chart([(c.started_at, c.trust_closing) for c in contacts])
        value = record.value if record else None
        if value is None:
            value = next((queries.to_float(c.meta.get("customer_value")) for c in reversed(contacts)
                          if c.meta.get("customer_value") not in (None, "")), None)
        open_jobs = list(record.open_jobs or []) if record else _open_jobs(jobs)
        return render(request, "customer.html", customer_id=customer_id, contacts=contacts, record=record,
                      jobs=jobs, flags=flags, trend=trend, value=value, open_jobs=open_jobs, repeats=repeats,
                      outcomes=outcomes)

    # ---- insights --------------------------------------------------------------------------
    @app.get("/insights")
    def insights_page(request: Request) -> HTMLResponse:
        with access.connect() as store:
            data = insights.build(store, verdicts.agreement())
        return render(request, "insights.html", **data)

    return app


def _open_jobs(jobs: list[dict[str, Any]]) -> list[str]:
    """Without the customers roll-up: the latest job per reason whose contact did not end well."""
    latest: dict[str, dict[str, Any]] = {}
    for j in jobs:
        latest[j["reason"] or j["phrase"] or ""] = j
    open_ = []
    for j in latest.values():
        closing, p = j.get("trust_closing"), j.get("p_satisfied")
        if (p is not None and p < 0.5) or (p is None and (closing is None or closing < 0)):
            open_.append(j["phrase"] or j["statement"] or j["reason"])
    return open_


def _set_cookie(response: Response, session: auth.Session, secure: bool) -> None:
    response.set_cookie(auth.COOKIE, session.session_id, httponly=True, samesite="strict", path="/",
                        max_age=int(session.expires - time.time()), secure=secure)


def _raw_call_id(request: Request, decoded: str, suffix: str) -> str:
    """The call id decoded exactly once from the raw request path, so an id that itself holds
    ``%2F`` or ``%20`` opens too (some servers hand routes a path decoded twice)."""
    raw = request.scope.get("raw_path")
    if not raw:
        return decoded
    raw_path = raw.decode("latin-1").split("?", 1)[0]
    if not raw_path.startswith("/calls/") or not raw_path.endswith(suffix):
        return decoded
    return unquote(raw_path[len("/calls/"):len(raw_path) - len(suffix)])


def _legacy_verdicts(store_path: Path) -> list[dict[str, Any]]:
    """For a new verdicts file, the verdicts the newest snapshot holds: those runs copied into its
    ``verdicts`` table (a lost file is rebuilt, ids kept), else an older release's ``reviews``."""
    from wocas.store import snapshot

    newest = snapshot.latest_snapshot(store_path)
    if newest is None or verdicts_path(store_path).exists():
        return []
    with Store(newest, read_only=True) as store:
        if store.has_table("verdicts") and store.scalar("SELECT count(*) FROM verdicts"):
            return store.query("SELECT id, call_id, flag, verdict, comment, reviewer, created_at FROM verdicts "
                               "ORDER BY id")
        if not store.has_table("reviews"):
            return []
        return store.query("SELECT call_id, flag, verdict, comment, reviewer, created_at FROM reviews "
                           "ORDER BY created_at")
