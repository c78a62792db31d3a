"""Token login, server-side sessions and cross-site request checks for the review app.

A reviewer logs in once with the shared token and their name; the server keeps the session
(so logging out really ends it) and hands the browser only a random id in an HttpOnly,
SameSite=Strict cookie. Every POST must carry the session's CSRF token and, when the
browser sends an Origin (or Referer), it must be this server's own.
"""

from __future__ import annotations

import hmac
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
