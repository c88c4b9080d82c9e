"""`lanner ui`: the dashboard on this machine, over the store `lanner demo` saved.

The command runs as a user runs it (a subprocess with its own moto, serving a snapshot made
by the real store); requests are real HTTP on 127.0.0.1. The server's own bounds are
checked on a `DashboardServer` in this process, over the test's moto store.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from cli.demo import local_aws
from cli.ui import MAX_REQUEST_BYTES, DashboardServer, dump_store, http_api_event
from dashboard.store import AlertStore
from dashboard.table import create_alert_store_table
from tests.dashboard.conftest import TABLE, MakeAlert, new_alert

ROOT = Path(__file__).resolve().parent.parent.parent
URL_LINE = re.compile(r"^http://127\.0\.0\.1:\d+/\?token=[A-Za-z0-9_-]+$")
HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)"> \u202e ünï "quoted"'
STARTUP_S = 120  # moto, the table and the snapshot: seconds on a loaded machine


# --- a snapshot, and `lanner ui` over it ----------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    path: Path
    docs: dict[str, dict[str, Any]]  # uuid -> the alert as published


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """Alerts written by the real store into moto, saved as `lanner demo` saves them."""
    alerts = [
        new_alert(rule="Terminal shell in container", priority="Warning"),
        new_alert(
            rule="Write below etc", priority="Error", hostname="node-2", namespace="kube-system"
        ),
        new_alert(rule="Hostile output", priority="Critical", output=HOSTILE, tags=["x<b>"]),
    ]
    path = tmp_path_factory.mktemp("store") / "alert-store.jsonl"
    with local_aws() as endpoint:
        # moto's accounts are one per process, whichever server it runs: start empty.
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
        client = boto3.client("dynamodb")
        create_alert_store_table(client, TABLE)
        store = AlertStore(lambda: client, TABLE)
        for alert in alerts:
            assert store.put(alert)
        counts = dump_store(client, TABLE, path)
    assert counts.alerts == len(alerts) and counts.items > len(alerts)  # counters too
    return Snapshot(path, {a.doc["uuid"]: a.doc for a in alerts})


@dataclass
class Running:
    proc: subprocess.Popen[str]
    url: str  # the line it printed
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)

    @property
    def base(self) -> str:
        return self.url.partition("?")[0]

    @property
    def token(self) -> str:
        return self.url.partition("?token=")[2]


def _lanner(*args: str) -> subprocess.Popen[str]:
    # No AWS_* from the test environment: the command makes its own moto, as for a user.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _first_line(proc: subprocess.Popen[str]) -> tuple[str | None, queue.Queue[str | None]]:
    """The first line ``proc`` prints (None if it exits first), and a queue of the rest."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    first = lines.get(timeout=STARTUP_S)
    return (first.rstrip("\n") if first is not None else None), lines


@pytest.fixture(scope="module")
def ui(snapshot: Snapshot) -> Iterator[Running]:
    proc = _lanner("ui", "--store", str(snapshot.path))
    try:
        url, lines = _first_line(proc)
        assert url is not None, proc.communicate(timeout=30)[1]
        yield Running(proc, url, lines)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _get(url: str, token: str | None = None, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as got:
            return got.status, dict(got.headers), got.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


# --- the command ----------------------------------------------------------------------------


def test_ui_prints_one_url_with_a_token_and_serves_the_stored_alerts(
    ui: Running, snapshot: Snapshot
) -> None:
    assert URL_LINE.match(ui.url), ui.url
    status, headers, body = _get(ui.base + "api/alerts", ui.token)
    assert status == 200, body
    assert headers["Content-Type"].startswith("application/json")
    rows = json.loads(body)["alerts"]
    assert {r["uuid"] for r in rows} == set(snapshot.docs)
    hostile = next(r for r in rows if r["rule"] == "Hostile output")
    assert hostile["output"] == HOSTILE and hostile["priority"] == "Critical"
    assert hostile["tags"] == ["x<b>"]
    # One alert, exactly as it was published.
    uuid = hostile["uuid"]
    status, _, body = _get(f"{ui.base}api/alerts/{uuid}", ui.token)
    assert status == 200, body
    assert json.loads(body)["alert"] == snapshot.docs[uuid]


def test_without_the_token_no_alert_data(ui: Running, snapshot: Snapshot) -> None:
    uuid = next(iter(snapshot.docs))
    wrong = ui.token[:-1] + ("A" if ui.token[-1] != "A" else "B")
    for path in ("api/alerts", f"api/alerts/{uuid}", "api/counts?by=rule", "api/export", "api/x"):
        for token in (None, wrong, ""):
            status, headers, body = _get(ui.base + path, token)
            assert status == 401, (path, token, body)
            assert json.loads(body)["error"] == "unauthorized"
            assert headers["Content-Type"] == "application/json"
            assert uuid.encode() not in body and b"Hostile" not in body
        # The token in the query string, as in the printed URL, is for the page only.
        status, _, body = _get(f"{ui.base}{path}{'&' if '?' in path else '?'}token={ui.token}")
        assert status == 401 and b"Hostile" not in body
        # Another scheme with the right token is not a bearer token either.
        status, _, _ = _get(ui.base + path, Authorization=f"Basic {ui.token}")
        assert status == 401


def test_the_page_and_its_config_answer_without_the_token(ui: Running) -> None:
    status, headers, body = _get(ui.base)
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert b"<html" in body.lower()
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    status, _, body = _get(ui.base + "config.json")
    assert status == 200
    assert json.loads(body) == {"auth": "token"}


def test_ui_stops_on_sigterm_having_printed_nothing_but_the_url(snapshot: Snapshot) -> None:
    proc = _lanner("ui", "--store", str(snapshot.path), "--listen", "127.0.0.1:0")
    url, lines = _first_line(proc)
    assert url is not None and URL_LINE.match(url), url
    base, _, token = url.partition("?token=")
    assert _get(base + "api/alerts", token)[0] == 200
    assert _get(base + "api/nope", token)[0] == 404  # the handler's own errors: still quiet
    proc.terminate()
    assert proc.wait(timeout=30) == 0
    assert lines.get(timeout=10) is None  # stdout held the URL line alone
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert "3 alerts from" in err and "Ctrl-C" in err
    assert token not in err


@pytest.mark.parametrize(
    ("listen", "message"),
    [
        ("nonsense", "--listen nonsense: expected HOST:PORT"),
        ("127.0.0.1:99999", "--listen 127.0.0.1:99999: expected HOST:PORT"),
        ("::1:8080", "an IPv6 address is written in brackets"),
    ],
)
def test_a_bad_listen_address_exits_2(snapshot: Snapshot, listen: str, message: str) -> None:
    proc = _lanner("ui", "--store", str(snapshot.path), "--listen", listen)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert message in err and out == ""


def test_a_port_in_use_exits_2(snapshot: Snapshot) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _lanner("ui", "--store", str(snapshot.path), "--listen", f"127.0.0.1:{port}")
        out, err = proc.communicate(timeout=STARTUP_S)
    assert proc.returncode == 2, err
    assert f"--listen 127.0.0.1:{port}: cannot listen there: Address already in use" in err
    assert out == ""


def test_without_a_store_it_says_to_run_the_demo(tmp_path: Path) -> None:
    proc = _lanner("ui", "--store", str(tmp_path / "alert-store.jsonl"))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert (
        err
        == f"lanner ui: no alert store at {tmp_path / 'alert-store.jsonl'}: run `lanner demo` first\n"
    )
    assert out == ""


def test_a_damaged_store_is_refused_with_its_line(tmp_path: Path, snapshot: Snapshot) -> None:
    damaged = tmp_path / "alert-store.jsonl"
    first, *_ = snapshot.path.read_text().splitlines()
    damaged.write_text(f"{first}\n{{not json\n")
    proc = _lanner("ui", "--store", str(damaged))
    out, err = proc.communicate(timeout=STARTUP_S)
    assert proc.returncode == 1, err
    assert f"lanner ui: {damaged}:2: not JSON" in err
    assert out == ""


# --- the server's bounds (in this process, over the test's moto) ---------------------------


@pytest.fixture
def server(alert_store: AlertStore, make_alert: MakeAlert) -> Iterator[DashboardServer]:
    alert_store.put(make_alert(rule="Stored here"))
    with DashboardServer(alert_store, token="s3cret-token") as running:
        yield running


def _raw(server: DashboardServer, method: str, path: str, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> http.client.HTTPResponse:  # fmt: skip
    host, port = server.url.removeprefix("http://").rstrip("/").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    return conn.getresponse()


def test_server_urls(server: DashboardServer) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", server.url)
    assert server.login_url == f"{server.url}?token=s3cret-token"


def test_server_answers_get_and_head_only(server: DashboardServer) -> None:
    got = _raw(server, "HEAD", "/")
    assert got.status == 200 and got.read() == b""
    assert int(got.headers["Content-Length"]) > 0  # the page's length, as GET would send
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        got = _raw(server, method, "/api/alerts", {"Authorization": "Bearer s3cret-token"})
        assert got.status == 405, method
        assert got.headers["Allow"] == "GET, HEAD"
        assert b"Stored here" not in got.read()


def test_server_bounds_the_request(server: DashboardServer) -> None:
    auth = {"Authorization": "Bearer s3cret-token"}
    got = _raw(server, "GET", "/api/alerts", {**auth, "Content-Length": str(MAX_REQUEST_BYTES + 1)})
    assert got.status == 413
    half = "x" * (MAX_REQUEST_BYTES // 2)
    got = _raw(server, "GET", "/api/alerts", {**auth, "X-One": half, "X-Two": half})
    assert got.status == 431
    assert got.headers["Content-Type"] == "application/json"
    got = _raw(server, "GET", "/api/alerts?" + "q" * (MAX_REQUEST_BYTES + 1), auth)
    assert got.status == 414
    got = _raw(server, "GET", "/api/alerts", {**auth, "Transfer-Encoding": "chunked"}, b"")
    assert got.status == 411
    got = _raw(server, "GET", "/api/alerts", auth)
    assert got.status == 200 and b"Stored here" in got.read()


def test_server_lists_no_directory_and_serves_nothing_outside_the_page(
    server: DashboardServer,
) -> None:
    for path in (
        "/assets/",
        "/assets/vendor/",
        "/assets/..%2f..%2fcli/ui.py",
        "/assets/../../pyproject.toml",
    ):
        got = _raw(server, "GET", path)
        body = got.read()
        assert got.status in (400, 403, 404), (path, got.status)
        assert b"Stored here" not in body and b"import" not in body
    # Anything that is not the page needs the token, whatever the handler would answer.
    for path in ("/favicon.ico", "/%61pi/alerts", "//api/alerts", "/API/alerts"):
        assert _raw(server, "GET", path).status == 401, path


def test_the_handler_takes_one_request_at_a_time(
    alert_store: AlertStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in a Lambda container: the resolver holds the current event on itself, so two
    requests in it at once could answer each other's questions."""
    from functions import dashboard_handler

    inside: list[int] = []
    most = 0
    lock = threading.Lock()

    def slow_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        nonlocal most
        with lock:
            inside.append(1)
            most = max(most, len(inside))
        time.sleep(0.05)
        with lock:
            inside.pop()
        return {"statusCode": 200, "headers": {}, "body": event["rawQueryString"]}

    monkeypatch.setattr(dashboard_handler, "handler", slow_handler)
    answers: dict[str, bytes] = {}
    with DashboardServer(alert_store, token="t") as server:

        def ask(n: int) -> None:
            answers[f"n={n}"] = _raw(
                server, "GET", f"/api/x?n={n}", {"Authorization": "Bearer t"}
            ).read()

        threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert most == 1
    assert answers == {f"n={n}": f"n={n}".encode() for n in range(8)}


# --- the event, as API Gateway's HTTP API makes it --------------------------------------------


def test_the_event_is_api_gateways_payload_2() -> None:
    event = http_api_event(
        method="GET",
        target="/api/alerts%2Fx?rule=a%20b&tag=t1&tag=t2&q=",
        headers=[
            ("Host", "127.0.0.1:8080"),
            ("X-Thing", "1"),
            ("x-thing", "2"),
            ("Cookie", "a=1; b=2"),
        ],
        body=b"",
        source_ip="127.0.0.1",
        claims={"sub": "local"},
    )
    assert event["version"] == "2.0"
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/api/alerts/x"
    assert event["rawQueryString"] == "rule=a%20b&tag=t1&tag=t2&q="
    assert event["queryStringParameters"] == {"rule": "a b", "tag": "t1,t2", "q": ""}
    assert event["headers"] == {"host": "127.0.0.1:8080", "x-thing": "1,2"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    assert event["requestContext"]["authorizer"]["jwt"]["claims"] == {"sub": "local"}
    assert "body" not in event and event["isBase64Encoded"] is False

    bare = http_api_event(method="GET", target="/", headers=[], body=b"\xff\x00",
                          source_ip="::1", claims=None)  # fmt: skip
    assert "authorizer" not in bare["requestContext"]
    assert "queryStringParameters" not in bare
    assert bare["isBase64Encoded"] is True and bare["body"] == "/wA="


def test_the_demo_names_the_command_that_shows_its_store() -> None:
    from cli.demo import ui_command

    assert ui_command(Path(".lanner-demo") / "alert-store.jsonl") == "lanner ui"
    assert ui_command(Path("/tmp/my demo/alert-store.jsonl")) == (
        "lanner ui --store '/tmp/my demo/alert-store.jsonl'"
    )
