"""The dashboard's HTTP API over a moto store, driven through the Lambda's handler with
API Gateway HTTP API (payload 2.0) events as API Gateway sends them.

What a user of the API sees: which alerts each filter finds, the counts and the timeline,
pages that join without a gap, the alert document exactly as stored, the export's lines,
401 without a signed-in user on every data route, 400 with a message naming the parameter,
the page's files and nothing outside them.
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from dashboard import api as api_module
from dashboard.api import API_ROUTES, CONTENT_TYPES, SECURITY_HEADERS, STATIC_DIR, build_app
from dashboard.queries import RangeQuery
from dashboard.schema import FILTERS
from dashboard.store import AlertStore, ExportPage
from deliver.alert import DeliveryAlert
from functions import dashboard_handler
from functions.settings import SettingsError
from tests.dashboard.conftest import TABLE, MakeAlert, falco_time

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
# Every seeded alert happened in the two hours before BASE_END; queries ask for a range
# around them.
BASE_END = NOW - timedelta(minutes=5)
RANGE = {"from": (BASE_END - timedelta(hours=3)).isoformat(), "to": NOW.isoformat()}
HOSTILE = (
    "<script>window.__pwned=1</script> <img src=x onerror=\"alert('x')\"> "
    '\x00 \u202eevil.exe \U0001f525 "quoted" \\back\\slash ${jndi:ldap://x} \' OR 1=1 --'
)


@dataclass
class FakeContext:
    """The Lambda context, as far as powertools' logger reads it."""

    function_name: str = "lanner-dashboard"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:lanner-dashboard"
    aws_request_id: str = "7e3d2c1b-0a9f-4e8d-b7c6-a5f4e3d2c1b0"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes = field(repr=False)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        assert self.headers["Content-Type"] == "application/json", self.headers
        return json.loads(self.text)


def event(path: str, params: dict[str, str] | str = "", *, claims: Any = True) -> dict[str, Any]:
    """A GET as API Gateway's HTTP API hands it to the Lambda (payload format 2.0)."""
    raw = params if isinstance(params, str) else urlencode(params)
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "d4shb0ard1",
        "domainName": "d4shb0ard1.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "d4shb0ard1",
        "http": {
            "method": "GET",
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "198.51.100.7",
            "userAgent": "pytest",
        },
        "requestId": "Jx1abcDEFghI=",
        "routeKey": "$default",
        "stage": "$default",
        "time": "07/Dec/2025:10:00:00 +0000",
        "timeEpoch": 1765101600000,
    }
    if claims is True:
        claims = {"sub": "0b1c2d3e-user", "token_use": "access", "username": "responder"}
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    result: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw,
        "headers": {"host": "d4shb0ard1.execute-api.us-east-1.amazonaws.com", "accept": "*/*"},
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if raw:
        # API Gateway joins a repeated parameter's values with commas here.
        joined: dict[str, str] = {}
        for name, value in parse_qsl(raw, keep_blank_values=True):
            joined[name] = f"{joined[name]},{value}" if name in joined else value
        result["queryStringParameters"] = joined
    return result


def answer_of(response: dict[str, Any]) -> Answer:
    body = response.get("body") or ""
    raw = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode("utf-8")
    return Answer(response["statusCode"], dict(response.get("headers") or {}), raw)


def call(path: str, params: dict[str, str] | str = "", *, claims: Any = True) -> Answer:
    """One request through the Lambda's handler."""
    return answer_of(dashboard_handler.handler(event(path, params, claims=claims), FakeContext()))


@pytest.fixture
def served(alert_store: AlertStore) -> Iterator[AlertStore]:
    """The handler answering from the test's store."""
    dashboard_handler.serve(alert_store, {"auth": "token"})
    try:
        yield alert_store
    finally:
        dashboard_handler.reset()


# --- seeded alerts -----------------------------------------------------------------------


@dataclass(frozen=True)
class Seed:
    name: str
    minutes_before: int
    overrides: dict[str, Any]


SEEDS = (
    Seed(
        "shell",
        10,
        dict(
            rule="Terminal shell in container",
            priority="Warning",
            hostname="node-1",
            namespace="shop",
            tags=["container", "shell", "T1059"],
            output="10:00:00.000000000: Warning A shell was spawned (user=root k8s.ns=shop)",
        ),
    ),
    Seed(
        "sensitive",
        20,
        dict(
            rule="Read sensitive file untrusted",
            priority="Critical",
            hostname="node-2",
            namespace="payments",
            tags=["filesystem", "mitre_credential_access"],
            output="Critical Sensitive file opened for reading (file=/etc/shadow NEEDLE-in-Output)",
        ),
    ),
    Seed(
        "console",
        30,
        dict(
            rule="Console Login Without MFA",
            priority="Notice",
            source="aws_cloudtrail",
            hostname="lanner-cloudtrail-detector",
            tags=["aws", "identity"],
            output="Detected a console login without MFA (user=alice)",
            output_fields={"ct.user": "alice", "ct.recipientaccountid": "111122223333"},
        ),
    ),
    Seed(
        "admin",
        40,
        dict(
            rule="Attach to cluster-admin Role",
            priority="Error",
            source="k8s_audit",
            hostname="lanner-eks-audit-detector",
            tags=["k8s"],
            output="Cluster role binding to cluster-admin (user=bob)",
            output_fields={"ka.user.name": "bob", "ka.target.namespace": "kube-system"},
        ),
    ),
    Seed(
        "debug",
        50,
        dict(
            rule="Terminal shell in container",
            priority="Debug",
            hostname="node-1",
            namespace="shop",
            tags=["container", "shell", "T1059"],
            output="Debug a shell again (user=www-data)",
        ),
    ),
)


@pytest.fixture
def seeded(served: AlertStore, make_alert: MakeAlert) -> dict[str, DeliveryAlert]:
    alerts = {}
    for seed in SEEDS:
        when = BASE_END - timedelta(minutes=seed.minutes_before)
        alert = make_alert(time=falco_time(when), **seed.overrides)
        assert served.put(alert)
        alerts[seed.name] = alert
    return alerts


def uuids(answer: Answer) -> list[str]:
    assert answer.status == 200, answer.text
    return [row["uuid"] for row in answer.json()["alerts"]]


def names(alerts: dict[str, DeliveryAlert], found: list[str]) -> set[str]:
    by_uuid = {a.uuid: name for name, a in alerts.items()}
    return {by_uuid[u] for u in found}


# --- search ------------------------------------------------------------------------------


def test_search_returns_every_alert_in_range_newest_first(seeded: dict[str, DeliveryAlert]):
    answer = call("/api/alerts", RANGE)

    body = answer.json()
    assert [seeded[n].uuid for n in ("shell", "sensitive", "console", "admin", "debug")] == [
        row["uuid"] for row in body["alerts"]
    ]
    assert body["cursor"] is None
    row = body["alerts"][0]
    assert row["rule"] == "Terminal shell in container"
    assert row["priority"] == "Warning"
    assert row["source"] == "syscall"
    assert row["hostname"] == "node-1"
    assert row["namespace"] == "shop"
    assert row["tags"] == ["container", "shell", "T1059"]
    assert row["output"] == seeded["shell"].output
    assert row["output_truncated"] is False
    assert row["repeat"] is None and row["hosts"] is None


def test_search_outside_the_range_finds_nothing(seeded: dict[str, DeliveryAlert]):
    before = {"from": (NOW - timedelta(days=3)).isoformat(), "to": RANGE["from"]}
    assert uuids(call("/api/alerts", before)) == []


@pytest.mark.parametrize(
    ("param", "value", "expected"),
    [
        ("priority", "critical", {"sensitive"}),
        ("priority", "ERROR", {"sensitive", "admin"}),
        ("priority", "warning", {"sensitive", "admin", "shell"}),
        ("priority", "notice", {"sensitive", "admin", "shell", "console"}),
        ("priority", "debug", {"sensitive", "admin", "shell", "console", "debug"}),
        ("rule", "Terminal shell in container", {"shell", "debug"}),
        ("rule", "Terminal shell", set()),  # a rule is matched whole
        ("source", "aws_cloudtrail", {"console"}),
        ("source", "syscall", {"shell", "sensitive", "debug"}),
        ("tag", "shell", {"shell", "debug"}),
        ("tag", "k8s", {"admin"}),
        ("hostname", "node-2", {"sensitive"}),
        ("namespace", "shop", {"shell", "debug"}),
        ("namespace", "kube-system", {"admin"}),
        ("account", "111122223333", {"console"}),
        ("q", "needle-IN-output", {"sensitive"}),  # free text, any case
        ("q", "shell", {"shell", "debug"}),
    ],
)
def test_each_filter_finds_its_alerts(
    seeded: dict[str, DeliveryAlert], param: str, value: str, expected: set[str]
):
    assert names(seeded, uuids(call("/api/alerts", {**RANGE, param: value}))) == expected


def test_filters_combine(seeded: dict[str, DeliveryAlert]):
    found = uuids(call("/api/alerts", {**RANGE, "tag": "shell", "priority": "warning"}))
    assert names(seeded, found) == {"shell"}


def test_the_query_models_filter_on_every_filter_of_the_store():
    fields = {name for name in RangeQuery.model_fields}
    assert set(FILTERS) <= fields
    assert RangeQuery.model_fields["text"].alias == "q"


def test_pages_join_without_gap_or_repeat(served: AlertStore, make_alert: MakeAlert):
    made = [
        make_alert(time=falco_time(BASE_END - timedelta(minutes=i)), rule=f"rule {i}")
        for i in range(11)
    ]
    for alert in made:
        served.put(alert)

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(20):
        params = {**RANGE, "limit": "4", **({"cursor": cursor} if cursor else {})}
        body = call("/api/alerts", params).json()
        assert len(body["alerts"]) <= 4
        seen.extend(row["uuid"] for row in body["alerts"])
        cursor = body["cursor"]
        if cursor is None:
            break
    assert seen == [a.uuid for a in made]  # newest first, each once


def test_a_cursor_of_another_query_is_refused(seeded: dict[str, DeliveryAlert]):
    first = call("/api/alerts", {**RANGE, "limit": "1"}).json()
    assert first["cursor"]

    other = call("/api/alerts", {**RANGE, "limit": "1", "rule": "x", "cursor": first["cursor"]})

    assert other.status == 400
    assert other.json()["error"] == "bad_request"
    assert "cursor" in other.json()["message"]


# --- one alert, counts, timeline, export -------------------------------------------------


def test_an_alert_by_id_is_the_document_as_stored(seeded: dict[str, DeliveryAlert]):
    alert = seeded["admin"]

    body = call(f"/api/alerts/{alert.uuid}").json()

    assert body["alert"] == alert.doc
    received = datetime.fromisoformat(body["received"])
    expires = datetime.fromisoformat(body["expires"])
    assert abs(expires - received - timedelta(days=30)) < timedelta(seconds=1)
    assert abs(received - datetime.now(UTC)) < timedelta(hours=1)


def test_an_unknown_alert_is_404(served: AlertStore):
    answer = call("/api/alerts/8d0e7a8c-0000-4000-8000-000000000000")

    assert answer.status == 404
    assert answer.json() == {"error": "not_found", "message": "no stored alert has this uuid"}


def _expected_counts(alerts: list[DeliveryAlert], by: str) -> dict[str, int]:
    counted: Counter[str] = Counter()
    for alert in alerts:
        if by == "tag":
            counted.update(alert.tags)
        elif by == "priority":
            counted[str(alert.priority)] += 1
        elif getattr(alert, by):
            counted[getattr(alert, by)] += 1
    return dict(counted)


@pytest.mark.parametrize("by", ["priority", "rule", "source", "tag", "hostname"])
def test_counts_by_each_dimension(seeded: dict[str, DeliveryAlert], by: str):
    body = call("/api/counts", {**RANGE, "by": by}).json()

    assert body["by"] == by
    assert {g["value"]: g["count"] for g in body["groups"]} == _expected_counts(
        list(seeded.values()), by
    )
    assert [g["count"] for g in body["groups"]] == sorted(
        (g["count"] for g in body["groups"]), reverse=True
    )
    assert body["other"] == 0
    assert body["exact"] is True
    assert body["granularity"] == "minute"  # three hours: minute counters
    assert body["counted_from"] <= RANGE["from"].replace("+00:00", "Z")
    assert body["total"] == sum(g["count"] for g in body["groups"])


def test_counts_with_a_filter_count_the_matching_alerts(seeded: dict[str, DeliveryAlert]):
    body = call("/api/counts", {**RANGE, "by": "rule", "source": "syscall"}).json()

    assert {g["value"]: g["count"] for g in body["groups"]} == {
        "Terminal shell in container": 2,
        "Read sensitive file untrusted": 1,
    }
    assert body["granularity"] is None


def test_counts_top_keeps_the_largest_and_counts_the_rest(seeded: dict[str, DeliveryAlert]):
    body = call("/api/counts", {**RANGE, "by": "rule", "top": "1"}).json()

    assert body["groups"] == [{"value": "Terminal shell in container", "count": 2}]
    assert body["other"] == 3
    assert body["total"] == 5


def test_timeline_puts_each_alert_in_its_bucket(seeded: dict[str, DeliveryAlert]):
    body = call("/api/timeline", RANGE).json()

    assert body["bucket_seconds"] == 60
    starts = [datetime.fromisoformat(b["start"]) for b in body["buckets"]]
    assert starts == sorted(starts)
    assert all(b - a == timedelta(seconds=60) for a, b in pairwise(starts))
    assert body["exact"] is True
    placed: dict[tuple[datetime, str], int] = {}
    for bucket, start in zip(body["buckets"], starts, strict=True):
        for priority, n in bucket["counts"].items():
            if n:
                placed[(start, priority)] = n
    expected: Counter[tuple[datetime, str]] = Counter()
    for alert in seeded.values():
        when = datetime.fromisoformat(alert.time).replace(second=0, microsecond=0)
        expected[(when, str(alert.priority))] += 1
    assert placed == dict(expected)


def test_export_lines_are_the_documents(seeded: dict[str, DeliveryAlert]):
    answer = call("/api/export", RANGE)

    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/x-ndjson"
    assert answer.headers["Cache-Control"] == "no-store"
    assert re.fullmatch(
        r'attachment; filename="lanner-alerts-\d{8}T\d{6}Z-\d{8}T\d{6}Z\.jsonl"',
        answer.headers["Content-Disposition"],
    )
    lines = answer.text.splitlines()
    order = ("shell", "sensitive", "console", "admin", "debug")
    assert [json.loads(line) for line in lines] == [seeded[n].doc for n in order]
    assert "X-Lanner-Cursor" not in answer.headers


def test_export_pages_with_its_cursor_header(seeded: dict[str, DeliveryAlert]):
    docs: list[Any] = []
    params = {**RANGE, "limit": "2"}
    for _ in range(10):
        answer = call("/api/export", params)
        docs.extend(json.loads(line) for line in answer.text.splitlines())
        cursor = answer.headers.get("X-Lanner-Cursor")
        if cursor is None:
            break
        params = {**RANGE, "limit": "2", "cursor": cursor}
    assert docs == [seeded[n].doc for n in ("shell", "sensitive", "console", "admin", "debug")]


class ListStore:
    """An export-only stand-in holding documents in order; its cursor is an offset."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs
        self.calls = 0

    def export_page(self, rng: Any, filters: Any, *, limit: int, cursor: str | None) -> ExportPage:
        self.calls += 1
        start = int(cursor or 0)
        end = start + limit
        return ExportPage(self.docs[start:end], str(end) if end < len(self.docs) else None)


def test_export_stays_within_its_budget_and_resumes_where_it_stopped(
    monkeypatch: pytest.MonkeyPatch,
):
    """Big documents: each answer stays under the budget, and following the cursor
    brings every document once, in order."""
    monkeypatch.setattr(api_module, "EXPORT_BUDGET", 50_000)
    docs = [{"uuid": str(i), "output": ('é"' * (300 + 97 * (i % 7)))} for i in range(60)]
    store = ListStore(docs)
    app = build_app(store, {"auth": "token"})  # type: ignore[arg-type]

    got: list[Any] = []
    params: dict[str, str] = {**RANGE}
    bodies = 0
    while True:
        answer = answer_of(app.resolve(event("/api/export", params), FakeContext()))
        assert answer.status == 200
        bodies += 1
        assert len(json.dumps(answer.text)) <= 50_000
        got.extend(json.loads(line) for line in answer.text.splitlines())
        cursor = answer.headers.get("X-Lanner-Cursor")
        if cursor is None:
            break
        params = {**RANGE, "cursor": cursor}
        assert bodies < 60
    assert got == docs
    assert bodies > 1


def test_export_limit_bounds_the_lines():
    docs = [{"uuid": str(i)} for i in range(30)]
    app = build_app(ListStore(docs), {"auth": "token"})  # type: ignore[arg-type]

    answer = answer_of(app.resolve(event("/api/export", {**RANGE, "limit": "7"}), FakeContext()))

    assert [json.loads(line) for line in answer.text.splitlines()] == docs[:7]
    assert answer.headers["X-Lanner-Cursor"] == "7"


# --- hostile strings ---------------------------------------------------------------------


def test_hostile_strings_are_stored_and_returned_exactly(served: AlertStore, make_alert: MakeAlert):
    alert = make_alert(
        time=falco_time(BASE_END - timedelta(minutes=1)),
        rule=f"rule {HOSTILE}",
        output=f"output {HOSTILE} " + "x" * 10_000,
        hostname=f"host {HOSTILE}",
        tags=[f"tag {HOSTILE}", "plain"],
        output_fields={"proc.cmdline": HOSTILE, "k8s.ns.name": f"ns {HOSTILE}"},
    )
    served.put(alert)

    # The filter value goes through the query string and finds it.
    search = call("/api/alerts", {**RANGE, "rule": f"rule {HOSTILE}"})
    assert search.headers["Content-Type"] == "application/json"
    (row,) = search.json()["alerts"]
    assert row["rule"] == f"rule {HOSTILE}"
    assert row["hostname"] == f"host {HOSTILE}"
    assert row["namespace"] == f"ns {HOSTILE}"
    assert row["tags"] == [f"tag {HOSTILE}", "plain"]
    assert row["output"].startswith(f"output {HOSTILE} ")
    assert row["output_truncated"] is True

    assert uuids(call("/api/alerts", {**RANGE, "tag": f"tag {HOSTILE}"})) == [alert.uuid]
    assert uuids(call("/api/alerts", {**RANGE, "q": "onerror=\"alert('x')\""})) == [alert.uuid]

    one = call(f"/api/alerts/{alert.uuid}").json()
    assert one["alert"] == alert.doc
    assert one["alert"]["output_fields"]["proc.cmdline"] == HOSTILE

    export = call("/api/export", RANGE)
    assert [json.loads(line) for line in export.text.splitlines()] == [alert.doc]

    counts = call("/api/counts", {**RANGE, "by": "rule"}).json()
    assert counts["groups"] == [{"value": f"rule {HOSTILE}", "count": 1}]


# --- refusals ----------------------------------------------------------------------------


def _concrete(path: str) -> str:
    return re.sub(r"<\w+>", "8d0e7a8c-1111-4000-8000-000000000001", path)


ROUTE_PATHS = [_concrete(route.path) for route in API_ROUTES]


@pytest.mark.parametrize("path", [*ROUTE_PATHS, "/api/unknown", "/api"])
@pytest.mark.parametrize("claims", [None, {}, "not a mapping"], ids=["none", "empty", "bad"])
def test_every_api_route_refuses_a_request_without_claims(
    seeded: dict[str, DeliveryAlert], path: str, claims: Any
):
    params = {**RANGE, "by": "rule"} if path == "/api/counts" else RANGE
    if path.startswith("/api/alerts/"):
        params = {}

    answer = call(path, params, claims=claims)

    assert answer.status == 401
    assert answer.json() == {
        "error": "unauthorized",
        "message": "sign in first: this request has no token",
    }
    for alert in seeded.values():
        assert alert.rule not in answer.text


def test_every_api_route_answers_a_signed_in_user(seeded: dict[str, DeliveryAlert]):
    """The 401 test's other half: the same requests with claims succeed."""
    for path in ROUTE_PATHS:
        if path.startswith("/api/alerts/"):
            path = f"/api/alerts/{seeded['shell'].uuid}"
        params = {**RANGE, "by": "rule"} if path == "/api/counts" else RANGE
        if path.startswith("/api/alerts/"):
            params = {}
        assert call(path, params).status == 200, path


@pytest.mark.parametrize(
    ("path", "query", "message"),
    [
        ("/api/alerts", "from=yesterday", "from: not an ISO 8601 time: 'yesterday'"),
        ("/api/alerts", "to=2025-13-01T00:00:00Z", "to: not an ISO 8601 time"),
        ("/api/alerts", "from=2025-01-01T00:00:00", "from: '2025-01-01T00:00:00' has no time zone"),
        (
            "/api/alerts",
            "from=2025-01-02T00:00:00Z&to=2025-01-01T00:00:00Z",
            "from: must be before to",
        ),
        ("/api/alerts", "from=2025-01-01T00:00:00Z&to=2025-01-01T00:00:00Z", "must be before to"),
        (
            "/api/timeline",
            "from=2024-01-01T00:00:00Z&to=2025-02-05T00:00:00Z",
            "from, to: the range spans 401.0 days; at most 400 days",
        ),
        ("/api/alerts", "priority=severe", "priority: unknown priority 'severe'"),
        ("/api/counts", "by=namespace", "by: unknown dimension 'namespace' (expected one of: "),
        ("/api/counts", "", "by: required"),
        ("/api/counts", "by=rule&top=201", "top: must be a whole number from 1 to 200"),
        ("/api/alerts", "limit=0", "limit: must be a whole number from 1 to 200"),
        ("/api/alerts", "limit=201", "limit: must be a whole number from 1 to 200"),
        ("/api/alerts", "limit=ten", "limit: not a whole number"),
        ("/api/export", "limit=10001", "limit: must be a whole number from 1 to 10000"),
        ("/api/alerts", "prio=critical", "unknown parameter 'prio' (expected: from, to, priority"),
        ("/api/alerts", "prio=", "unknown parameter 'prio'"),
        ("/api/timeline", "limit=5", "unknown parameter 'limit'"),
        ("/api/alerts/8d0e7a8c", "verbose=1", "unknown parameter 'verbose' (expected: none)"),
        ("/api/alerts", "rule=" + "r" * 1025, "rule: longer than 1024 characters"),
        ("/api/alerts", "hostname=" + "h" * 1025, "hostname: longer than 1024 characters"),
        ("/api/alerts", "q=" + "q" * 257, "q: longer than 256 characters"),
        ("/api/alerts", "tag=a&tag=b", "tag: given more than once"),
        ("/api/alerts", "rule=%ff%fe", "query string: not valid UTF-8"),
        ("/api/alerts", "cursor=not-a-cursor", "cursor"),
        ("/api/export", "cursor=eyJ4IjoxfQ", "cursor"),
    ],
)
def test_bad_queries_are_400_with_a_message_naming_the_parameter(
    served: AlertStore, path: str, query: str, message: str
):
    answer = call(path, query)

    assert answer.status == 400, answer.text
    body = answer.json()
    assert body["error"] == "bad_request"
    assert message in body["message"]


def test_an_error_message_does_not_repeat_a_long_value(served: AlertStore):
    answer = call("/api/counts", "by=" + "<b>" * 300)

    assert answer.status == 400
    assert "<b><b>" not in answer.json()["message"]
    assert len(answer.json()["message"]) < 200


def test_an_empty_value_is_no_filter(seeded: dict[str, DeliveryAlert]):
    assert len(uuids(call("/api/alerts", {**RANGE, "rule": "", "priority": ""}))) == 5


def test_a_store_failure_is_500_without_details():
    class Broken:
        def search(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("arn:aws:dynamodb:us-east-1:123456789012:table/secret-name")

    app = build_app(Broken(), {"auth": "token"})  # type: ignore[arg-type]

    answer = answer_of(app.resolve(event("/api/alerts", RANGE), FakeContext()))

    assert answer.status == 500
    assert answer.json() == {"error": "internal", "message": "the dashboard failed; see its log"}
    assert SECURITY_HEADERS.items() <= answer.headers.items()


# --- headers -----------------------------------------------------------------------------


def test_security_headers_are_on_every_answer(seeded: dict[str, DeliveryAlert]):
    answers = {
        "search": call("/api/alerts", RANGE),
        "one": call(f"/api/alerts/{seeded['shell'].uuid}"),
        "export": call("/api/export", RANGE),
        "bad request": call("/api/alerts", "limit=0"),
        "unauthorized": call("/api/alerts", RANGE, claims=None),
        "not found": call("/nowhere"),
        "config": call("/config.json"),
    }
    for name, answer in answers.items():
        assert SECURITY_HEADERS.items() <= answer.headers.items(), name
    for name in ("search", "one", "bad request", "unauthorized", "not found", "config"):
        assert answers[name].headers["Content-Type"] == "application/json", name
        assert answers[name].headers["Cache-Control"] == "no-store", name
    csp = answers["search"].headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp


# --- the page's files and its configuration ----------------------------------------------


@pytest.fixture
def static(tmp_path: Path) -> Path:
    """A page's files, and beside them things that must never be served."""
    root = tmp_path / "static"
    (root / "vendor").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>lanner</title>", encoding="utf-8")
    (root / "app.js").write_text("console.log('app');", encoding="utf-8")
    (root / "app.css").write_text("body { margin: 0 }", encoding="utf-8")
    (root / "vendor" / "chart.umd.min.js").write_text("/* chart */", encoding="utf-8")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    (root / ".env").write_text("SECRET=static-dotfile", encoding="utf-8")
    (root / "tool.exe").write_text("SECRET=unknown-type", encoding="utf-8")
    (tmp_path / "secret.js").write_text("SECRET=outside", encoding="utf-8")
    (root / "link-out.js").symlink_to(tmp_path / "secret.js")
    (root / "vendor-link").symlink_to(tmp_path)
    return root


def get_static(root: Path, path: str) -> Answer:
    app = build_app(ListStore([]), {"auth": "token"}, static_dir=root)  # type: ignore[arg-type]
    return answer_of(app.resolve(event(path, claims=None), FakeContext()))


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        ("/", "text/html; charset=utf-8", b"<!doctype html><title>lanner</title>"),
        ("/assets/app.js", "text/javascript; charset=utf-8", b"console.log('app');"),
        ("/assets/app.css", "text/css; charset=utf-8", b"body { margin: 0 }"),
        ("/assets/vendor/chart.umd.min.js", "text/javascript; charset=utf-8", b"/* chart */"),
        ("/assets/logo.png", "image/png", b"\x89PNG\r\n\x1a\n\x00\xff"),
    ],
)
def test_the_page_and_its_files_are_served_without_a_token(
    static: Path, path: str, content_type: str, body: bytes
):
    answer = get_static(static, path)

    assert answer.status == 200
    assert answer.headers["Content-Type"] == content_type
    assert answer.body == body
    assert "Cache-Control" in answer.headers
    assert SECURITY_HEADERS.items() <= answer.headers.items()


@pytest.mark.parametrize(
    "path",
    [
        "/assets/../secret.js",
        "/assets/vendor/../../secret.js",
        "/assets/%2e%2e/secret.js",
        "/assets/..%2fsecret.js",
        "/assets/..\\secret.js",
        "/assets//etc/passwd",
        "/assets/" + str(Path("/etc/passwd")),
        "/assets/app.js\x00.png",
        "/assets/link-out.js",
        "/assets/vendor-link/secret.js",
        "/assets/.env",
        "/assets/tool.exe",
        "/assets/vendor",
        "/assets/vendor/",
        "/assets/missing.js",
        "/assets/",
        "/index.html/..",
    ],
)
def test_static_paths_never_leave_the_static_directory(static: Path, path: str):
    answer = get_static(static, path)

    assert answer.status == 404
    assert answer.json()["error"] == "not_found"
    assert b"SECRET" not in answer.body


def test_the_real_page_is_served():
    if not (STATIC_DIR / "index.html").exists():
        pytest.skip("dashboard/static/index.html is not written yet")
    app = build_app(ListStore([]), {"auth": "token"})  # type: ignore[arg-type]

    answer = answer_of(app.resolve(event("/", claims=None), FakeContext()))

    assert answer.status == 200
    assert answer.body == (STATIC_DIR / "index.html").read_bytes()
    for path in sorted(STATIC_DIR.rglob("*")):
        relative = path.relative_to(STATIC_DIR).as_posix()
        if path.is_file() and path.suffix in CONTENT_TYPES:
            got = answer_of(app.resolve(event(f"/assets/{relative}", claims=None), FakeContext()))
            assert got.status == 200, relative
            assert got.body == path.read_bytes(), relative


def test_config_json_is_what_build_app_was_given():
    config = {
        "auth": "cognito",
        "region": "eu-west-1",
        "user_pool_id": "eu-west-1_Abc",
        "client_id": "c1",
    }
    app = build_app(ListStore([]), config)  # type: ignore[arg-type]

    answer = answer_of(app.resolve(event("/config.json", claims=None), FakeContext()))

    assert answer.status == 200
    assert answer.json() == config


def test_the_lambda_builds_its_store_and_config_from_the_environment(
    seeded: dict[str, DeliveryAlert], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("LANNER_ALERT_STORE_TABLE", TABLE)
    monkeypatch.setenv("LANNER_DASHBOARD_USER_POOL_ID", "us-east-1_Pool123")
    monkeypatch.setenv("LANNER_DASHBOARD_CLIENT_ID", "4abcdefclient")
    dashboard_handler.reset()

    assert call("/config.json").json() == {
        "auth": "cognito",
        "region": "us-east-1",
        "user_pool_id": "us-east-1_Pool123",
        "client_id": "4abcdefclient",
    }
    assert len(uuids(call("/api/alerts", RANGE))) == len(SEEDS)


def test_without_cognito_the_page_is_told_to_use_a_token():
    assert dashboard_handler.page_config({"LANNER_ALERT_STORE_TABLE": "t"}) == {"auth": "token"}


@pytest.mark.parametrize(
    "env",
    [{"LANNER_DASHBOARD_USER_POOL_ID": "p"}, {"LANNER_DASHBOARD_CLIENT_ID": "c"}],
)
def test_half_a_cognito_configuration_is_an_error(env: dict[str, str]):
    with pytest.raises(SettingsError, match="Cognito sign-in needs both"):
        dashboard_handler.page_config(env)


def test_a_missing_table_name_is_an_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("LANNER_ALERT_STORE_TABLE", raising=False)
    dashboard_handler.reset()
    try:
        with pytest.raises(SettingsError, match="LANNER_ALERT_STORE_TABLE"):
            dashboard_handler.app()
    finally:
        dashboard_handler.reset()


@pytest.mark.parametrize(
    ("config", "connect"),
    [
        ({"auth": "token"}, "connect-src 'self';"),
        (
            {"auth": "cognito", "region": "eu-west-1", "user_pool_id": "p", "client_id": "c"},
            "connect-src 'self' https://cognito-idp.eu-west-1.amazonaws.com;",
        ),
        # A region that is not one cannot widen what the page may talk to.
        (
            {"auth": "cognito", "region": "x.evil.example/", "user_pool_id": "p", "client_id": "c"},
            "connect-src 'self';",
        ),
    ],
)
def test_the_page_may_talk_only_to_itself_and_its_user_pools_endpoint(
    static: Path, config: dict[str, str], connect: str
):
    app = build_app(ListStore([]), config, static_dir=static)  # type: ignore[arg-type]

    page = answer_of(app.resolve(event("/", claims=None), FakeContext()))

    assert page.status == 200
    assert connect in page.headers["Content-Security-Policy"]
    assert "*" not in page.headers["Content-Security-Policy"]
