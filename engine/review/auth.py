"""Token login, server-side sessions and cross-site request checks for the review app.

A reviewer logs in once with the shared token and their name; the server keeps the session
(so logging out really ends it) and hands the browser only a random id in an HttpOnly,
SameSite=Strict cookie. Every POST must carry the session's CSRF token and, when the
browser sends an Origin (or Referer), it must be this server's own.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request

COOKIE = "wocas_session"
MAX_REVIEWER_LENGTH = 64


@dataclass(frozen=True)
class Session:
    session_id: str
    reviewer: str
    csrf: str
    expires: float


class Sessions:
    """In-memory sessions: a restart of ``wocas serve`` asks reviewers to log in again."""

    def __init__(self, ttl_seconds: float):
        self.ttl = ttl_seconds
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, reviewer: str) -> Session:
        session = Session(secrets.token_urlsafe(32), reviewer, secrets.token_urlsafe(32), time.time() + self.ttl)
        with self._lock:
            self._drop_expired()
            self._sessions[session.session_id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session and session.expires < time.time():
                del self._sessions[session_id]
                return None
            return session

    def end(self, session_id: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_id or "", None)

    def _drop_expired(self) -> None:
        now = time.time()
        for sid in [sid for sid, s in self._sessions.items() if s.expires < now]:
            del self._sessions[sid]


def token_matches(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def clean_reviewer(name: str) -> str:
    """A reviewer name as it will be stored: printable, trimmed, bounded."""
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if not name:
        raise ValueError("reviewer name is empty")
    if len(name) > MAX_REVIEWER_LENGTH:
        raise ValueError(f"reviewer name is longer than {MAX_REVIEWER_LENGTH} characters")
    return name


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return True  # non-browser clients; the CSRF token and SameSite cookie still apply
    if source == "null":
        return False
    parts = urlsplit(source)
    host = request.headers.get("host", "")
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def safe_next(path: str | None) -> str:
    """Only local paths after login: never an open redirect."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


MIN_TOKEN_LENGTH = 16
FREE_FAILURES = 5  # wrong tokens a client may send before it has to wait
MAX_BACKOFF = 300.0
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def check_token(token: str) -> str:
    """The shared token as given, or ``ValueError`` when it is too short to resist guessing."""
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(f"the access token must be at least {MIN_TOKEN_LENGTH} characters "
                         f"(it has {len(token)}); `python -c 'import secrets; print(secrets.token_urlsafe(24))'` "
                         f"makes a good one")
    return token


class LoginThrottle:
    """Per client address: after ``FREE_FAILURES`` wrong tokens, each further try must wait
    1, 2, 4, ... seconds (at most ``MAX_BACKOFF``) after the last failure; a right token resets it."""

    def __init__(self, free: int = FREE_FAILURES, max_backoff: float = MAX_BACKOFF):
        self.free, self.max_backoff = free, max_backoff
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, client: str) -> float:
        """How long this client must still wait before its next try (0 when it may try now)."""
        with self._lock:
            count, last = self._failures.get(client, (0, 0.0))
            if count < self.free:
                return 0.0
            return max(0.0, last + self._backoff(count) - time.monotonic())

    def failed(self, client: str) -> None:
        with self._lock:
            count, _ = self._failures.get(client, (0, 0.0))
            self._failures[client] = (count + 1, time.monotonic())
            if len(self._failures) > 10_000:  # bounded: forget the oldest
                oldest = min(self._failures, key=lambda k: self._failures[k][1])
                del self._failures[oldest]

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)

    def _backoff(self, count: int) -> float:
        return min(self.max_backoff, 2.0 ** (count - self.free))


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_proxies(specs: tuple[str, ...] | list[str]) -> tuple[Network, ...]:
    """The reverse proxies whose ``X-Forwarded-For`` is believed: addresses or networks
    (``10.0.0.5``, ``10.0.0.0/24``); ``ValueError`` naming one that is neither."""
    out = []
    for spec in specs:
        try:
            out.append(ipaddress.ip_network(spec.strip(), strict=False))
        except ValueError:
            raise ValueError(f"--trusted-proxy {spec!r} is not an IP address or network") from None
    return tuple(out)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1:value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def client_key(peer: str, forwarded_for: list[str], proxies: tuple[Network, ...]) -> str:
    """Whom a login attempt counts against. The connecting address, unless that is a trusted
    proxy: then the last address in ``X-Forwarded-For`` that is not a trusted proxy (each proxy
    appends the address it was connected from, so anything left of that is the client's own
    word). A peer that is not trusted cannot choose its key by sending the header."""

    def trusted(value: str) -> bool:
        address = _address(value)
        return address is not None and any(address in net for net in proxies)

    if not proxies or not trusted(peer):
        return peer
    hops = [h.strip() for header in forwarded_for for h in header.split(",") if h.strip()]
    for hop in reversed(hops):
        if not trusted(hop):
            address = _address(hop)
            return str(address) if address is not None else hop
    return peer  # only proxies (or no header): the proxy itself


def host_name(host_header: str) -> str:
    """The Host header without its port, lower case (``[::1]:8765`` -> ``::1``)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def allowed_hosts(bind: str | None, extra: tuple[str, ...] = ()) -> frozenset[str]:
    """Localhost, the bind address (unless it is a wildcard) and any names given."""
    names = set(LOCAL_HOSTS) | {host_name(h) for h in extra}
    if bind and bind not in ("0.0.0.0", "::", ""):
        names.add(host_name(bind if ":" not in bind or bind.startswith("[") else f"[{bind}]"))
    return frozenset(names)
