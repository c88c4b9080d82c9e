"""The dashboard's HTTP API and its page, as one powertools resolver for API Gateway's
HTTP API (payload 2.0). The Lambda (functions/dashboard_handler.py) and ``lanner ui``
(cli/ui.py) both resolve their requests here.

- ``API_ROUTES`` is the one list of data routes: each with the query model that checks its
  parameters (dashboard/queries.py) and the function that answers it. All need a signed-in
  user: in the cloud API Gateway's JWT authorizer puts the token's claims in the event and
  ``lanner ui`` puts its own there after checking its token; ``_require_claims`` refuses
  (401) any request under ``/api`` without them, whatever route it names, known or not.
- Public, and holding no alert data: ``/`` (the page), ``/assets/...`` (its files, from
  ``static/`` only) and ``/config.json`` (how the page signs in).
- Every answer is built by ``_response``, which adds the security headers; JSON answers are
  never cached.

Errors: a bad query string (``BadQuery``) or a bad cursor (the store's ``QueryError``) is a
400 whose message names what is wrong; unknown paths are 404; anything else is logged and
answered 500 without details.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from dashboard.queries import (
    MAX_VALUE,
    AlertsQuery,
    ApiQuery,
    BadQuery,
    CountsQuery,
    ExportQuery,
    TimelineQuery,
    parse,
    query_parameters,
)
from dashboard.store import AlertStore, QueryError

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
JSON = "application/json"
NDJSON = "application/x-ndjson"
CURSOR_HEADER = "X-Lanner-Cursor"


def content_security_policy(connect: str = "") -> str:
    """What the page may load and talk to: itself, and (signing in with Cognito) the user
    pool's regional endpoint, named exactly (a CSP host wildcard is only valid as the first
    label, and a wider one would let an injected script send data to any AWS endpoint)."""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'{' ' + connect if connect else ''}; frame-ancestors 'none'; "
        "base-uri 'none'"
    )


def cognito_endpoint(config: Mapping[str, str]) -> str:
    """The Cognito endpoint the page signs in at, for the page's CSP; "" without Cognito."""
    region = config.get("region", "")
    if config.get("auth") != "cognito" or not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        return ""
    return f"https://cognito-idp.{region}.amazonaws.com"


SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": content_security_policy(),
    "Referrer-Policy": "no-referrer",
}
# The page's files: what is not listed here is not served.
CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}
_TEXT = ("text/", "application/json", "image/svg+xml")
# A path segment under /assets/: no "..", no hidden files, no "%", "\", ":" or NUL, whether
# or not the path reached us percent-decoded (API Gateway's HTTP API decodes it).
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_MAX_SEGMENTS = 8

# The export's body, counted as it travels in the Lambda's JSON answer (each line escaped
# once more: quotes and non-ASCII grow): so the body is at most this many bytes, and the
# answer stays under Lambda's 6 MB.
EXPORT_BUDGET = 5 * 1024 * 1024
# How large an alert is assumed to be before any is seen (then: the largest average of a
# page): sizes the first store call
# (SNS caps an alert at 256 KB; Falco's are ~1-2 KB).
_EXPORT_FIRST_GUESS = 4096
_EXPORT_MAX_CALLS = 20


# --- the data routes -------------------------------------------------------------------


def _alerts(store: AlertStore, query: AlertsQuery, args: Mapping[str, str]) -> Response[Any]:
    page = store.search(query.time_range(), query.filters(), limit=query.limit, cursor=query.cursor)
    rows = [row.to_json() for row in page.rows]
    return _json({"alerts": rows, "cursor": page.cursor, "scanned": page.scanned})


def _alert(store: AlertStore, query: ApiQuery, args: Mapping[str, str]) -> Response[Any]:
    uuid = args["uuid"]
    if len(uuid) > MAX_VALUE:
        raise BadQuery(f"uuid: longer than {MAX_VALUE} characters")
    found = store.get(uuid)
    if found is None:
        return _error(HTTPStatus.NOT_FOUND, "not_found", "no stored alert has this uuid")
    return _json(
        {"alert": found.doc, "received": _iso(found.received), "expires": _iso(found.expires)}
    )


def _counts(store: AlertStore, query: CountsQuery, args: Mapping[str, str]) -> Response[Any]:
    counts = store.counts(query.time_range(), query.by, query.filters(), top=query.top)
    return _json(
        {
            "by": counts.by,
            "groups": [{"value": value, "count": n} for value, n in counts.groups],
            "total": counts.total,
            "other": counts.other,
            "exact": counts.exact,
            "counted_from": _iso(counts.counted_from),
            "counted_to": _iso(counts.counted_to),
            "granularity": counts.granularity,
        }
    )


def _timeline(store: AlertStore, query: TimelineQuery, args: Mapping[str, str]) -> Response[Any]:
    timeline = store.timeline(query.time_range(), query.filters())
    return _json(
        {
            "bucket_seconds": timeline.bucket_seconds,
            "counted_from": _iso(timeline.counted_from),
            "counted_to": _iso(timeline.counted_to),
            "exact": timeline.exact,
            "buckets": [
                {"start": _iso(start), "counts": counts} for start, counts in timeline.buckets
            ],
        }
    )


def _export(store: AlertStore, query: ExportQuery, args: Mapping[str, str]) -> Response[Any]:
    """Up to ``limit`` alert documents, one JSON line each, at most ``EXPORT_BUDGET``.

    The store's pages are sized so that they (nearly) fit the budget. When a page does not
    fit, the part that does is asked for again from the same cursor, so the cursor handed
    out points right after the last line sent: nothing is skipped, nothing repeated."""
    rng, filters = query.time_range(), query.filters()
    lines: list[str] = []
    used = 0
    cursor = query.cursor
    per_alert = _EXPORT_FIRST_GUESS
    for _ in range(_EXPORT_MAX_CALLS):
        wanted = query.limit - len(lines)
        if wanted <= 0:
            break
        ask = max(1, min(wanted, (EXPORT_BUDGET - used) // per_alert))
        page = store.export_page(rng, filters, limit=ask, cursor=cursor)
        got, cost, fit = _fit(page.docs, EXPORT_BUDGET - used, first=not lines)
        if fit < len(got):
            if fit:
                # The same cursor, as many as fit: the store's cursor then follows them.
                # (Should the store answer differently now, the lines are not sent.)
                page = store.export_page(rng, filters, limit=fit, cursor=cursor)
                got, cost, fit = _fit(page.docs, EXPORT_BUDGET - used, first=not lines)
                if fit == len(got):
                    lines.extend(got)
                    cursor = page.cursor
            break
        lines.extend(got)
        used += cost
        per_alert = max(per_alert, cost // max(1, len(got)))
        cursor = page.cursor
        if cursor is None:
            break
    headers = {
        "Content-Disposition": (
            f'attachment; filename="lanner-alerts-{_stamp(rng.start)}-{_stamp(rng.end)}.jsonl"'
        ),
        "Cache-Control": "no-store",
    }
    if cursor is not None:
        headers[CURSOR_HEADER] = cursor
    return _response(HTTPStatus.OK, NDJSON, "".join(line + "\n" for line in lines), headers)


@dataclass(frozen=True, slots=True)
class ApiRoute:
    """One data route: its path (powertools' form: ``<name>`` is a path parameter), the
    model of its query string, and the function that answers it."""

    path: str
    query: type[ApiQuery]
    answer: Callable[[AlertStore, Any, Mapping[str, str]], Response[Any]]

    @property
    def gateway_path(self) -> str:
        """The path as API Gateway writes routes: ``/api/alerts/{uuid}``."""
        return re.sub(r"<(\w+)>", r"{\1}", self.path)


API_ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute("/api/alerts", AlertsQuery, _alerts),
    ApiRoute("/api/alerts/<uuid>", ApiQuery, _alert),
    ApiRoute("/api/counts", CountsQuery, _counts),
    ApiRoute("/api/timeline", TimelineQuery, _timeline),
    ApiRoute("/api/export", ExportQuery, _export),
)
API_PREFIX = "/api"


def build_app(
    store: AlertStore,
    config: Mapping[str, str],
    *,
    static_dir: Path = STATIC_DIR,
    clock: Callable[[], float] = time.time,
) -> APIGatewayHttpResolver:
    """The resolver serving ``store``; ``config`` is what ``/config.json`` tells the page
    (``{"auth": "token"}`` locally, Cognito's ids in the cloud)."""
    app = APIGatewayHttpResolver()
    app.use([_require_claims])
    public_config = dict(config)

    for route in API_ROUTES:
        app.get(route.path)(_endpoint(app, route, store, clock))

    page_policy = {"Content-Security-Policy": content_security_policy(cognito_endpoint(config))}

    @app.get("/")
    def index() -> Response[Any]:
        return _static_file(static_dir, ["index.html"], "no-cache", page_policy)

    @app.get("/assets/.+")  # a regular expression: the rest of the path, slashes included
    def asset() -> Response[Any]:
        rest = app.current_event.path.removeprefix("/assets/")
        return _static_file(static_dir, rest.split("/"), "max-age=300")

    @app.get(r"/config\.json")  # powertools' rules are regular expressions
    def page_config() -> Response[Any]:
        return _json(public_config)

    @app.not_found
    def not_found(exc: NotFoundError) -> Response[Any]:
        return _error(HTTPStatus.NOT_FOUND, "not_found", "no such page or API route")

    @app.exception_handler([BadQuery, QueryError])
    def bad_request(exc: ValueError) -> Response[Any]:
        return _error(HTTPStatus.BAD_REQUEST, "bad_request", str(exc))

    @app.exception_handler(Exception)
    def failed(exc: Exception) -> Response[Any]:
        log.exception("dashboard request failed")
        return _error(
            HTTPStatus.INTERNAL_SERVER_ERROR, "internal", "the dashboard failed; see its log"
        )

    return app


def _endpoint(
    app: APIGatewayHttpResolver, route: ApiRoute, store: AlertStore, clock: Callable[[], float]
) -> Callable[..., Response[Any]]:
    def endpoint(**args: str) -> Response[Any]:
        params = query_parameters(app.current_event.raw_event)
        query = parse(route.query, params, now=datetime.fromtimestamp(clock(), UTC))
        return route.answer(store, query, args)

    endpoint.__name__ = f"api_{route.path}"
    return endpoint


def _require_claims(app: APIGatewayHttpResolver, next_middleware: Callable[..., Any]) -> Any:
    """Every request under /api needs the authorizer's claims in its event (defense in
    depth: API Gateway's JWT authorizer already refused requests without a valid token)."""
    path = app.current_event.path
    if (path == API_PREFIX or path.startswith(API_PREFIX + "/")) and not _claims(
        app.current_event.raw_event
    ):
        return _error(
            HTTPStatus.UNAUTHORIZED, "unauthorized", "sign in first: this request has no token"
        )
    return next_middleware(app)


def _claims(event: Mapping[str, Any]) -> dict[str, Any]:
    found: Any = event
    for key in ("requestContext", "authorizer", "jwt", "claims"):
        found = found.get(key) if isinstance(found, Mapping) else None
    return dict(found) if isinstance(found, Mapping) else {}


def _static_file(
    static_dir: Path, segments: list[str], cache: str, headers: Mapping[str, str] | None = None
) -> Response[Any]:
    """A file of the page, only from inside ``static_dir``: a segment that could climb out
    is refused before the file system sees it, and a symbolic link that leads out is
    refused after it resolved."""
    missing = _error(HTTPStatus.NOT_FOUND, "not_found", "no such file")
    if not segments or len(segments) > _MAX_SEGMENTS:
        return missing
    if not all(_SEGMENT.fullmatch(s) for s in segments):
        return missing
    content_type = CONTENT_TYPES.get(Path(segments[-1]).suffix.lower())
    if content_type is None:
        return missing
    root = static_dir.resolve()
    try:
        path = root.joinpath(*segments).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return missing
    if not path.is_relative_to(root) or not path.is_file():
        return missing
    data = path.read_bytes()
    body: str | bytes = data
    if content_type.startswith(_TEXT):
        try:
            body = data.decode("utf-8")
        except UnicodeDecodeError:
            body = data
    return _response(HTTPStatus.OK, content_type, body, {"Cache-Control": cache, **(headers or {})})


# --- answers ---------------------------------------------------------------------------


def _response(
    status: HTTPStatus, content_type: str, body: Any, headers: Mapping[str, str]
) -> Response[Any]:
    """Every answer the dashboard gives is made here: the security headers are on all."""
    return Response(
        status_code=status.value,
        content_type=content_type,
        body=body,
        headers={**SECURITY_HEADERS, **headers},
    )


def _json(body: Mapping[str, Any], status: HTTPStatus = HTTPStatus.OK) -> Response[Any]:
    text = json.dumps(body, separators=(",", ":"))
    return _response(status, JSON, text, {"Cache-Control": "no-store"})


def _error(status: HTTPStatus, error: str, message: str) -> Response[Any]:
    return _json({"error": error, "message": message}, status)


def _json_line(doc: Mapping[str, Any]) -> str:
    """An alert document as one line, its text as it is (UTF-8); a string the document
    holds that UTF-8 cannot carry (a lone surrogate) makes the line escaped instead."""
    line = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(doc, separators=(",", ":"))
    return line


def _fit(docs: list[dict[str, Any]], budget: int, *, first: bool) -> tuple[list[str], int, int]:
    """The documents as lines, the cost of those that fit ``budget``, and how many fit.

    A line costs what it weighs in the Lambda's answer, where the body is escaped once more
    as ASCII (quotes and non-ASCII grow): never less than its UTF-8 bytes. The ``first``
    line of a body always fits, so an export always moves on (an alert is far below the
    budget anyway: DynamoDB items are at most 400 KB)."""
    lines = [_json_line(doc) for doc in docs]
    total = 0
    for n, line in enumerate(lines):
        cost = len(json.dumps(line + "\n"))  # its two quotes stand for the newline's "\n"
        if total + cost > budget and not (first and n == 0):
            return lines, total, n
        total += cost
    return lines, total, len(lines)


def _iso(when: datetime | float) -> str:
    moment = when if isinstance(when, datetime) else datetime.fromtimestamp(when, UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


__all__ = [
    "API_PREFIX",
    "API_ROUTES",
    "CONTENT_TYPES",
    "CURSOR_HEADER",
    "EXPORT_BUDGET",
    "SECURITY_HEADERS",
    "STATIC_DIR",
    "ApiRoute",
    "build_app",
]
