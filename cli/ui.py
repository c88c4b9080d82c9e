"""``lanner ui``: the alert dashboard on this machine, over the store ``lanner demo`` filled.

Each HTTP request becomes the event API Gateway's HTTP API hands the dashboard Lambda
(payload format 2.0), and the Lambda's own handler (functions/dashboard_handler.py)
answers it, so the page, the API and their errors are the deployment's. What API Gateway
does in front of the Lambda is played here, and only that:

- the authorizer: in the cloud a Cognito JWT authorizer; here a token made at start
  (``secrets.token_urlsafe``), checked in constant time. Everything but the public page
  (``/``, ``/assets/...``, ``/config.json``, which hold no alert data) needs
  ``Authorization: Bearer <token>``; without it the answer is 401 from here and the
  handler never runs. With it, the event carries authorizer claims as the JWT
  authorizer's would (the handler refuses /api requests without them).
- the event's shape: the path percent-decoded (as HTTP APIs deliver ``rawPath``),
  repeated query parameters joined with commas, header names lowercased, cookies apart.
- bounds: GET and HEAD only (the API reads, it never writes), at most 64 KB of request,
  a socket timeout, no access log.

The store is a moto DynamoDB in this process, loaded from the snapshot ``lanner demo``
writes (``alert-store.jsonl``: the table's items as DynamoDB JSON, one per line).
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import http.server
import json
import os
import secrets
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from cli.demo import LambdaContext

if TYPE_CHECKING:
    from dashboard.store import AlertStore

__all__ = [
    "MAX_REQUEST_BYTES",
    "SNAPSHOT_NAME",
    "DashboardServer",
    "SnapshotCounts",
    "SnapshotError",
    "dump_store",
    "http_api_event",
    "load_store",
    "run_ui",
]

# The snapshot's name in ``lanner demo``'s --workdir, where ``lanner ui`` looks by default.
SNAPSHOT_NAME = "alert-store.jsonl"
# A request is a GET with a short query: anything larger is refused before it is read.
MAX_REQUEST_BYTES = 64 * 1024
# How long a connection may sit idle (or trickle a request in) before it is closed.
SOCKET_TIMEOUT_S = 30.0
# What needs no token: the page and its files, and the login configuration (no alert data).
PUBLIC_PATHS = frozenset({"/", "/config.json"})
PUBLIC_PREFIX = "/assets/"
# The claims the event carries when the token matched (where the JWT authorizer puts a
# Cognito user's).
LOCAL_CLAIMS = {"sub": "local", "token_use": "local"}


# --- the snapshot ---------------------------------------------------------------------------


class SnapshotError(ValueError):
    """The store snapshot is missing or unusable: the message says which and where."""


@dataclass(frozen=True)
class SnapshotCounts:
    items: int  # every item: alerts and their counters
    alerts: int  # the alerts (and summaries) among them


def dump_store(client: Any, table: str, path: Path) -> SnapshotCounts:
    """Writes every item of ``table`` to ``path`` (DynamoDB JSON, one item per line).
    Written to a temporary file first: a reader never sees half a store."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    items = alerts = 0
    try:
        with partial.open("w", encoding="utf-8") as f:
            for page in client.get_paginator("scan").paginate(TableName=table):
                for item in page["Items"]:
                    f.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n")
                    items += 1
                    alerts += _is_alert(item)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return SnapshotCounts(items, alerts)


def load_store(client: Any, table: str, path: Path) -> SnapshotCounts:
    """Puts the items of a snapshot ``dump_store`` wrote into ``table``.

    Raises SnapshotError for a file that is missing, or a line that is not an item (which
    line, and why): a store half loaded would show a dashboard that silently lacks alerts."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise SnapshotError(f"no alert store at {path}: run `lanner demo` first") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"cannot read the alert store {path}: {exc}") from None
    items: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise SnapshotError(f"{path}:{number}: not JSON ({exc})") from None
        if not _is_item(item):
            raise SnapshotError(
                f"{path}:{number}: not a DynamoDB item (an object of typed attributes "
                'with "pk" and "sk" strings)'
            )
        items.append(item)
    for start in range(0, len(items), 25):  # BatchWriteItem's most
        _write_batch(client, table, items[start : start + 25])
    return SnapshotCounts(len(items), sum(map(_is_alert, items)))


def _is_alert(item: dict[str, Any]) -> bool:
    from dashboard.schema import ALERT_SK, SK

    return bool(item.get(SK, {}).get("S") == ALERT_SK)


def _is_item(item: Any) -> bool:
    from dashboard.schema import PK, SK

    return (
        isinstance(item, dict)
        and all(isinstance(v, dict) and len(v) == 1 for v in item.values())
        and all(isinstance(item.get(k, {}).get("S"), str) for k in (PK, SK))
    )


def _write_batch(client: Any, table: str, items: list[dict[str, Any]]) -> None:
    requests: list[dict[str, Any]] = [{"PutRequest": {"Item": item}} for item in items]
    for _attempt in range(10):
        try:
            got = client.batch_write_item(RequestItems={table: requests})
        except Exception as exc:  # botocore's ClientError: a value DynamoDB refuses
            raise SnapshotError(f"the alert store refused an item: {exc}") from None
        requests = got.get("UnprocessedItems", {}).get(table, [])
        if not requests:
            return
        time.sleep(0.05)
    raise SnapshotError("the alert store kept items unprocessed")


# --- HTTP request -> API Gateway HTTP API event -> HTTP response ------------------------------


def http_api_event(
    *,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    claims: dict[str, str] | None,
) -> dict[str, Any]:
    """The event API Gateway's HTTP API (payload format 2.0) gives a Lambda for a request.

    ``target`` is the request line's target (path and query, as sent); ``claims`` are
    the authorizer's, when the request was authorized."""
    raw_path, _, raw_query = target.partition("?")
    path = urllib.parse.unquote(raw_path)
    lowered: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
        else:
            lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": lowered,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": lowered.get("host", "localhost"),
            "domainPrefix": lowered.get("host", "localhost").split(".")[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    query = _query_parameters(raw_query)
    if query:
        event["queryStringParameters"] = query
    if cookies:
        event["cookies"] = cookies
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": dict(claims), "scopes": None}}
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def _query_parameters(raw_query: str) -> dict[str, str]:
    """Decoded parameters; a repeated one's values joined with commas, as API Gateway does."""
    joined: dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


@dataclass(frozen=True)
class Answer:
    """An HTTP response: what the handler's result means on the wire."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def answer_of(result: Any) -> Answer:
    """The handler's result as API Gateway turns it into a response (payload format 2.0):
    a dict with ``statusCode`` is the response; anything else is a 200 JSON body."""
    if not isinstance(result, dict) or "statusCode" not in result:
        body = result if isinstance(result, str) else json.dumps(result)
        return Answer(200, [("Content-Type", "application/json")], body.encode())
    headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers += [(str(name), str(v)) for v in values]
    headers += [("Set-Cookie", str(c)) for c in result.get("cookies") or ()]
    raw = str(result.get("body") or "")
    data = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
    return Answer(int(result["statusCode"]), headers, data)


def _authorized(header: str | None, token: str) -> bool:
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def _is_public(target: str) -> bool:
    path = urllib.parse.unquote(target.partition("?")[0])
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIX)


def _request_handler(
    token: str, security_headers: dict[str, str], errors: IO[str]
) -> type[http.server.BaseHTTPRequestHandler]:
    """The HTTP side: bounds and the token here, the rest by the dashboard Lambda's handler."""
    from functions.dashboard_handler import handler as lambda_handler

    # One request at a time through the handler, as in a Lambda container: the resolver
    # keeps the current event on itself, which concurrent requests would overwrite.
    one_at_a_time = threading.Lock()

    def refuse(status: int, error: str, message: str, *extra: tuple[str, str]) -> Answer:
        body = json.dumps({"error": error, "message": message}).encode()
        headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
        return Answer(status, [*headers, *security_headers.items(), *extra], body)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = SOCKET_TIMEOUT_S

        def do_GET(self) -> None:
            self._answer(self._handle(head=False), head=False)

        def do_HEAD(self) -> None:
            self._answer(self._handle(head=True), head=True)

        def _refuse_method(self) -> None:
            self.close_connection = True  # its body, if any, is never read
            allow = ("Allow", "GET, HEAD")
            self._answer(refuse(405, "method_not_allowed", "only GET and HEAD here", allow))

        do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _refuse_method

        def _handle(self, *, head: bool) -> Answer:
            size = len(self.requestline) + sum(len(k) + len(v) + 4 for k, v in self.headers.items())
            if size > MAX_REQUEST_BYTES:
                self.close_connection = True
                return refuse(431, "too_large", "the request's headers are too large")
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
                return refuse(411, "bad_request", "a request body must have a Content-Length")
            length = self.headers.get("Content-Length") or "0"
            if not length.isdigit() or int(length) > MAX_REQUEST_BYTES:
                self.close_connection = True
                return refuse(413, "too_large", "the request is too large")
            body = self.rfile.read(int(length)) if int(length) else b""
            claims: dict[str, str] | None = None
            if _authorized(self.headers.get("Authorization"), token):
                claims = LOCAL_CLAIMS
            elif not _is_public(self.path):
                return refuse(
                    401,
                    "unauthorized",
                    "this needs the token `lanner ui` printed (Authorization: Bearer <token>)",
                )
            event = http_api_event(
                # HEAD is GET without the body: the handler's routes are GETs.
                method="GET" if head else self.command,
                target=self.path,
                headers=list(self.headers.items()),
                body=body,
                source_ip=str(self.client_address[0]),
                claims=claims,
            )
            try:
                with one_at_a_time:
                    result = lambda_handler(event, LambdaContext("lanner-dashboard"))
                return answer_of(result)
            except Exception as exc:  # the handler's bug: one line here, a 500 there
                errors.write(f"lanner ui: {self.command} {event['rawPath']}: {exc!r}\n")
                return refuse(500, "internal", "the dashboard handler failed; see the terminal")

        def _answer(self, answer: Answer, *, head: bool = False) -> None:
            self.send_response(answer.status)
            for name, value in answer.headers:
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if not head:
                self.wfile.write(answer.body)

        def send_error(
            self, code: int, message: str | None = None, explain: str | None = None
        ) -> None:
            """http.server's own refusals (a bad request line, a line too long, an unknown
            method) in the same JSON as the others, with the same headers."""
            self.close_connection = True
            reason = message or HTTPStatus(code).phrase
            answer = refuse(code, "bad_request", reason)
            self._answer(answer, head=getattr(self, "command", None) == "HEAD")

        def version_string(self) -> str:
            return "lanner-ui"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # no access log: the terminal shows the URL and errors only

    return Handler


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class DashboardServer:
    """The dashboard over ``store``, served over HTTP from a daemon thread until the
    ``with`` block ends (the address is taken at once: a port in use raises OSError here).

    ``url`` is where it listens (``http://HOST:PORT/``), ``login_url`` that with the token
    (``?token=``, which the page moves into its session storage and out of the address bar).
    The dashboard Lambda's handler answers (``functions.dashboard_handler``), set to serve
    ``store``: one server at a time in a process."""

    def __init__(
        self,
        store: AlertStore,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        errors: IO[str] | None = None,
    ) -> None:
        from dashboard.api import SECURITY_HEADERS

        self.store = store
        self.token = token or secrets.token_urlsafe(32)
        server_class = _Server6 if ":" in host else _Server
        request_handler = _request_handler(
            self.token, SECURITY_HEADERS, errors if errors is not None else sys.stderr
        )
        self._server = server_class((host, port), request_handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="lanner-ui", daemon=True
        )
        bound_port = self._server.server_address[1]
        self.url = f"http://{_url_host(host)}:{bound_port}/"
        self.login_url = f"{self.url}?token={self.token}"

    def __enter__(self) -> DashboardServer:
        from functions import dashboard_handler

        # What /config.json tells the page when no Cognito pool is configured: the token.
        dashboard_handler.serve(self.store, dashboard_handler.page_config({}))
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stops serving and frees the address (also when it never started)."""
        if self._thread.is_alive():
            from functions import dashboard_handler

            self._server.shutdown()
            self._thread.join(5)
            dashboard_handler.reset()
        self._server.server_close()


def _url_host(host: str) -> str:
    """How the URL names the listening host: a wildcard address as this machine's loopback
    (what a browser here can open), an IPv6 address in brackets."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


# --- `lanner ui` ----------------------------------------------------------------------------


class UiError(RuntimeError):
    """What stops ``lanner ui`` from starting, with the exit status to leave with."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _listen_address(listen: str) -> tuple[str, int]:
    from sensor.listen import ListenError, parse_listen

    try:
        return parse_listen(listen)
    except ListenError as exc:
        raise UiError(f"--listen {listen}: {exc}", 2) from None


@contextlib.contextmanager
def serving(
    store_path: Path, host: str, port: int, errors: IO[str]
) -> Iterator[tuple[DashboardServer, SnapshotCounts]]:
    """The dashboard serving the snapshot at ``store_path`` (loaded into moto), for the
    ``with`` block."""
    if not store_path.is_file():
        raise UiError(f"no alert store at {store_path}: run `lanner demo` first", 1)
    try:
        import boto3
        import moto.server  # noqa: F401

        from dashboard.store import AlertStore
        from dashboard.table import create_alert_store_table
    except ImportError as exc:
        raise UiError(f"needs moto and boto3 ({exc}): pip install 'lanner[demo]'", 1) from None
    from cli.demo import STORE_TABLE, local_aws, send_lambda_logs

    with local_aws():
        client = boto3.client("dynamodb")
        create_alert_store_table(client, STORE_TABLE)
        try:
            loaded = load_store(client, STORE_TABLE, store_path)
        except SnapshotError as exc:
            raise UiError(str(exc), 1) from None
        try:
            server = DashboardServer(
                AlertStore(lambda: client, STORE_TABLE), host=host, port=port, errors=errors
            )
        except OSError as exc:  # in use, not an address of this machine, not resolvable
            shown = f"[{host}]" if ":" in host else host
            reason = exc.strerror or str(exc)
            raise UiError(f"--listen {shown}:{port}: cannot listen there: {reason}", 2) from None
        send_lambda_logs(errors)  # stdout is the URL's alone
        with server:
            yield server, loaded


def run_ui(listen: str, store_path: Path, out: IO[str], err: IO[str]) -> int:
    """``lanner ui``: serves until interrupted (Ctrl-C, SIGTERM); returns the exit status."""
    try:
        host, port = _listen_address(listen)
        with serving(store_path, host, port, err) as (server, loaded):
            if host in ("0.0.0.0", "::", ""):
                err.write(
                    f"lanner ui: WARNING: listening on all addresses ({listen}): other machines "
                    "can reach this dashboard; only the token keeps them from the alerts\n"
                )
            err.write(
                f"lanner ui: {loaded.alerts} alerts from {store_path}; open the URL below "
                "in a browser (Ctrl-C stops)\n"
            )
            err.flush()
            out.write(server.login_url + "\n")
            out.flush()
            _wait_for_a_stop()
    except UiError as exc:
        err.write(f"lanner ui: {exc}\n")
        return exc.status
    except KeyboardInterrupt:  # while starting
        return 130
    return 0


def _wait_for_a_stop() -> None:
    """Blocks until Ctrl-C or SIGTERM (a service manager's stop, a test's terminate())."""
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    finally:
        signal.signal(signal.SIGTERM, previous)
