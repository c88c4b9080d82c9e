"""POST over HTTP(S) with a timeout, the answer as a ``retry.Answer``."""

from __future__ import annotations

import email.utils
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

from deliver.retry import MAX_ANSWER_CHARS, Answer

DEFAULT_TIMEOUT = 10.0
USER_AGENT = "lanner-deliver/0.1"


def check_url(url: str) -> str:
    """The URL, if it is http(s) with a host; ValueError otherwise (no file:, no ftp:)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL with a host")
    return url


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds: a number of seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return min(max(0.0, seconds), 3600.0)


def answer_of(status: int, body: bytes | str, headers: Mapping[str, str] | None) -> Answer:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    retry_after = None
    if headers is not None:
        for k, v in headers.items():
            if k.lower() == "retry-after":
                retry_after = parse_retry_after(str(v))
    return Answer(status, text[:MAX_ANSWER_CHARS], retry_after)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect would resend the alert, and any Authorization header, to another host;
    # the 3xx comes back as the answer instead (a permanent failure, with its Location).
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Answer:
    """One POST; never raises for HTTP or network trouble, it answers."""
    req = urllib.request.Request(url, data=body, method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header("User-Agent", USER_AGENT)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return answer_of(resp.status, resp.read(MAX_ANSWER_CHARS * 4), dict(resp.headers))
    except urllib.error.HTTPError as exc:
        payload = exc.read(MAX_ANSWER_CHARS * 4) if exc.fp is not None else b""
        return answer_of(exc.code, payload, dict(exc.headers or {}))
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Answer(None, error=str(reason) or type(exc).__name__)
