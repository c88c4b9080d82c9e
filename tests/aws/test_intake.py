"""The Falco intake end to end on moto, over real HTTP.

A small HTTP server on 127.0.0.1 stands in for the Lambda function URL: it turns each
request into a payload format 2.0 event (lower-case headers, ``rawQueryString``, the
body as text, or base64 for a non-text content type, as function URLs do), calls the
handler and sends back its status, headers and body. The clients POST as Falco's
``http_output`` does (``Content-Type: application/json``, one alert, the token in
``?token=`` since it cannot set headers) and as Falcosidekick's webhook output does
(``Authorization: Bearer`` from ``customHeaders``). What the user sees is checked on the
other side: the topic (an SQS queue subscribed to it) and the quarantine queue.
"""

from __future__ import annotations

import base64
import json
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from botocore.stub import Stubber
from standins import Seen, StandIn, falco_doc
from test_runtime import FakeContext, LogRecords, Stack, emf_totals, logs, make_stack

from cli.endpoints import Reply
from functions.intake_handler import MAX_BODY_BYTES, TOKEN_SECRET_ENV, handler
from functions.publish import node_uuid
from functions.runtime import get_runtime, reset_runtime

__all__ = ["logs"]  # the fixture, imported for use here

TOKEN = "s3cr3t-intake-token-7d1f0c9e"
SENDER = "127.0.0.1"

# What Falco 0.39 POSTs with json_output: true (json_include_tags_property: true).
FALCO_ALERT: dict[str, Any] = {
    "hostname": "node-7.prod.example.net",
    "output": "10:31:42.123456789: Notice A shell was spawned in a container with an attached terminal (evt_type=execve user=root user_uid=0 process=bash proc_exepath=/bin/bash parent=runc command=bash terminal=34816 container_id=4f0b2ac1d6e3 container_name=web k8s_ns=payments k8s_pod=web-6d9c7b)",
    "output_fields": {
        "container.id": "4f0b2ac1d6e3",
        "container.name": "web",
        "evt.time": 1795854702123456789,
        "evt.type": "execve",
        "k8s.ns.name": "payments",
        "k8s.pod.name": "web-6d9c7b",
        "proc.cmdline": "bash",
        "proc.exepath": "/bin/bash",
        "proc.pname": "runc",
        "proc.tty": 34816,
        "user.name": "root",
        "user.uid": 0,
    },
    "priority": "Notice",
    "rule": "Terminal shell in container",
    "source": "syscall",
    "tags": ["T1059", "container", "maturity_stable", "mitre_execution", "shell"],
    "time": "2026-11-28T10:31:42.123456789Z",
}

# What Falcosidekick's webhook output POSTs: Falco's fields, the priority as a string,
# and a uuid of its own.
SIDEKICK_ALERT: dict[str, Any] = {
    "uuid": "a3f4c1e2-8b7d-4c6a-9e5f-1d2c3b4a5f60",
    "output": "10:32:05.000000001: Warning Sensitive file opened for reading by non-trusted program (file=/etc/shadow gparent=sshd ggparent=systemd evt_type=openat user=www-data process=cat command=cat /etc/shadow container_id=host container_name=host)",
    "priority": "Warning",
    "rule": "Read sensitive file untrusted",
    "time": "2026-11-28T10:32:05.000000001Z",
    "output_fields": {
        "container.id": "host",
        "container.name": "host",
        "evt.time": 1795854725000000001,
        "evt.type": "openat",
        "fd.name": "/etc/shadow",
        "proc.cmdline": "cat /etc/shadow",
        "user.name": "www-data",
    },
    "source": "syscall",
    "tags": ["T1555", "filesystem", "maturity_stable", "mitre_credential_access"],
    "hostname": "bastion-1.corp.example.net",
}


def alert(n: int, **changes: Any) -> dict[str, Any]:
    """Another Falco alert: ``n`` makes it another incident (another command line), so
    delivery's incident windows do not fold it into the others."""
    fields = {
        "evt.time": FALCO_ALERT["output_fields"]["evt.time"] + n,
        "proc.cmdline": f"bash -c step-{n}",
    }
    output = FALCO_ALERT["output"].replace("command=bash", f"command=bash -c step-{n}")
    when = f"2026-11-28T10:31:{42 + n:02d}.123456789Z"
    return falco_doc(FALCO_ALERT, fields=fields, **{"output": output, "time": when, **changes})


# --- the function URL stand-in ---

# Content types a function URL passes as text; anything else arrives base64-encoded.
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


class FunctionUrl(StandIn):
    """Each request as a function URL hands it to the intake handler; its answer sent back."""

    def answer(self, request: Seen) -> Reply:
        path, _, query = request.path.partition("?")
        headers: dict[str, str] = {}
        for name, value in request.header_list:
            key = name.lower()
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        as_text = headers.get("content-type", "").startswith(_TEXT_TYPES)
        body = request.body.decode("utf-8") if as_text else base64.b64encode(request.body).decode()
        now = time.time()
        event = {
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": query,
            "headers": headers,
            "requestContext": {
                "accountId": "anonymous",
                "apiId": "abcdefghijklmnopqrstuvwxyz",
                "domainName": "abcdefghijklmnopqrstuvwxyz.lambda-url.us-east-1.on.aws",
                "http": {
                    "method": request.method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": request.client,
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": "$default",
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000),
            },
            "body": body,
            "isBase64Encoded": not as_text,
        }
        if query:
            event["queryStringParameters"] = dict(
                p.partition("=")[::2] for p in query.split("&") if p
            )
        try:
            result = handler(event, FakeContext(function_name="lanner-intake"))
            text = result.get("body") or ""
            if result.get("isBase64Encoded"):
                text = base64.b64decode(text).decode()
            return Reply(int(result["statusCode"]), text, dict(result.get("headers") or {}))
        except Exception:  # what a function URL answers when the function fails
            traceback.print_exc()
            return Reply(
                502, '{"Message":"Internal Server Error"}', {"Content-Type": "application/json"}
            )


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """The intake's URL: a function URL stand-in on 127.0.0.1."""
    with FunctionUrl(path="/") as function_url:
        yield function_url.url


@pytest.fixture
def stack(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """Topic (+ a subscribed queue), dedup table, quarantine queue, and the token secret."""
    s = make_stack(monkeypatch)
    secret = boto3.client("secretsmanager").create_secret(
        Name="lanner/intake-token", SecretString=TOKEN
    )
    monkeypatch.setenv(TOKEN_SECRET_ENV, secret["ARN"])
    parameters.clear_caches()
    yield s
    reset_runtime()
    parameters.clear_caches()


# --- the senders ---


def post(
    url: str, body: bytes, headers: dict[str, str], method: str = "POST"
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, JSON answer and headers of one request."""
    req = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read()), dict(err.headers)


def falco(url: str, body: Any, token: str = TOKEN) -> tuple[int, dict[str, Any]]:
    """As Falco's http_output POSTs (``url: https://...lambda-url.../?token=...``)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "falcosecurity/falco"}
    status, answer, _ = post(f"{url}?token={urllib.parse.quote(token)}", data, headers)
    return status, answer


def sidekick(
    url: str, body: Any, token: str = TOKEN, content_type: str = "application/json"
) -> tuple[int, dict[str, Any]]:
    """As Falcosidekick's webhook output POSTs (``customHeaders: Authorization:Bearer ...``)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {
        "Content-Type": content_type,
        "User-Agent": "Falcosidekick/2.30.0",
        "Authorization": f"Bearer {token}",
    }
    status, answer, _ = post(url, data, headers)
    return status, answer


OK_ONE = {"accepted": 1, "rejected": 0, "errors": []}


# --- what gets through ---


def test_a_falco_alert_arrives_on_the_topic(
    url: str, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert falco(url, FALCO_ALERT) == (200, OK_ONE)

    [got] = stack.alerts()
    sent = got["alert"]
    assert sent["rule"] == "Terminal shell in container"
    assert sent["priority"] == "Notice"
    assert sent["output"] == FALCO_ALERT["output"]
    assert sent["hostname"] == "node-7.prod.example.net"  # the sender's, not the function's
    assert sent["output_fields"] == FALCO_ALERT["output_fields"]
    assert sent["tags"] == FALCO_ALERT["tags"]
    assert uuid.UUID(sent["uuid"])  # Falco sends none: one made from the alert's content
    assert {k: v for k, v in sent.items() if k != "uuid"} == FALCO_ALERT
    attrs = got["attributes"]
    assert {k: v for k, v in attrs.items() if k != "kind"} == {
        "priority": "5",
        "priority_name": "Notice",
        "rule": "Terminal shell in container",
        "source": "syscall",
        "hostname": "node-7.prod.example.net",
        "tags": json.dumps(sorted(FALCO_ALERT["tags"])),
        "k8s_ns": "payments",
    }
    assert stack.quarantined() == []
    totals = emf_totals(capsys.readouterr().out)
    assert (totals["IntakeAlerts"], totals["AlertsOut"]) == (1, 1)


def test_a_falcosidekick_alert_arrives_as_sent(url: str, stack: Stack) -> None:
    assert sidekick(url, SIDEKICK_ALERT) == (200, OK_ONE)
    [got] = stack.alerts()
    sent = {k: v for k, v in SIDEKICK_ALERT.items() if k != "uuid"}
    assert {k: v for k, v in got["alert"].items() if k != "uuid"} == sent  # every field
    # Its uuid lives in the sending host's namespace: a token holder can never take the
    # dedup slot of a detector's alert (or another host's) by reusing its uuid.
    host = SIDEKICK_ALERT["hostname"]
    assert got["alert"]["uuid"] == node_uuid(f"intake:{host}", "alert", SIDEKICK_ALERT["uuid"])
    assert got["alert"]["uuid"] != SIDEKICK_ALERT["uuid"]
    assert got["attributes"]["priority_name"] == "Warning"
    assert got["attributes"]["hostname"] == "bastion-1.corp.example.net"


def test_a_token_kept_as_json_in_the_secret(
    url: str, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = boto3.client("secretsmanager").create_secret(
        Name="lanner/intake-token-json", SecretString=json.dumps({"token": "json-kept-token"})
    )
    monkeypatch.setenv(TOKEN_SECRET_ENV, secret["ARN"])
    assert falco(url, FALCO_ALERT, token="json-kept-token") == (200, OK_ONE)
    assert sidekick(url, SIDEKICK_ALERT, token="json-kept-token") == (200, OK_ONE)
    assert falco(url, alert(1), token=json.dumps({"token": "json-kept-token"}))[0] == 401
    assert len(stack.alerts()) == 2


def test_an_array_and_json_lines_are_accepted(url: str, stack: Stack) -> None:
    assert sidekick(url, [alert(1), alert(2), alert(3)]) == (200, {**OK_ONE, "accepted": 3})
    # JSON lines under a content type a function URL passes base64-encoded.
    lines = b"\n".join(json.dumps(alert(n)).encode() for n in (4, 5)) + b"\n"
    assert sidekick(url, lines, content_type="application/x-ndjson") == (
        200,
        {**OK_ONE, "accepted": 2},
    )
    got = sorted(m["alert"]["time"] for m in stack.alerts())
    assert got == [f"2026-11-28T10:31:{42 + n}.123456789Z" for n in (1, 2, 3, 4, 5)]


# --- what does not ---


def test_a_wrong_or_missing_token_is_refused_and_nothing_is_published(
    url: str, stack: Stack, logs: LogRecords, capsys: pytest.CaptureFixture[str]
) -> None:
    body = json.dumps(FALCO_ALERT).encode()
    wrong = TOKEN[:-1] + "x"
    attempts = [
        (f"{url}?token={wrong}", {}),
        (url, {"Authorization": f"Bearer {wrong}"}),
        (url, {}),
        (f"{url}?token=", {}),
        (f"{url}?tok={TOKEN}", {}),  # the right token under another name
        (url, {"Authorization": f"Basic {TOKEN}"}),  # not a bearer token
        (f"{url}?token=t%C3%B6ken", {"Authorization": "Bearer tëken"}),  # not ASCII
    ]
    for target, extra in attempts:
        status, answer, headers = post(target, body, {"Content-Type": "application/json", **extra})
        assert (status, answer) == (401, {"error": "unauthorized"}), target
        assert headers["WWW-Authenticate"] == "Bearer"

    assert stack.alerts() == []
    assert stack.quarantined() == []  # an unauthenticated caller cannot fill the queue
    out = capsys.readouterr()
    assert emf_totals(out.out)["IntakeRejected"] == len(attempts)
    assert "IntakeAlerts" not in emf_totals(out.out)
    seen = out.out + out.err + "\n".join(logs.messages())
    assert TOKEN not in seen and wrong not in seen


def test_only_post_is_served(url: str, stack: Stack) -> None:
    for method in ("GET", "PUT"):
        status, answer, headers = post(f"{url}?token={TOKEN}", b"", {}, method=method)
        assert (status, answer) == (405, {"error": "send alerts with POST"}), method
        assert headers["Allow"] == "POST"
    assert stack.alerts() == []


def test_a_bad_alert_in_a_batch_is_quarantined_and_the_good_ones_published(
    url: str, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    loud = alert(2, priority="loud")
    batch = [alert(1), loud, alert(3), {"output": "no rule here", "priority": "Error"}]
    status, answer = sidekick(url, batch)

    assert status == 200
    assert (answer["accepted"], answer["rejected"]) == (2, 2)
    assert answer["errors"] == [
        "alert 1: priority: unknown priority 'loud' (expected one of: emergency, alert, "
        "critical, error, warning, notice, informational, debug)",
        "alert 3: rule: Field required",
    ]
    assert sorted(m["alert"]["time"] for m in stack.alerts()) == [
        "2026-11-28T10:31:43.123456789Z",
        "2026-11-28T10:31:45.123456789Z",
    ]
    bad = {q["origin"]: q for q in stack.quarantined()}
    assert sorted(bad) == [f"intake:{SENDER}:1", f"intake:{SENDER}:3"]
    q = bad[f"intake:{SENDER}:1"]
    assert q["source"] == "intake"
    assert q["reason"] == answer["errors"][0]
    assert json.loads(q["payload"]) == loud  # as sent, to look at or replay
    assert bad[f"intake:{SENDER}:3"]["reason"] == "alert 3: rule: Field required"
    totals = emf_totals(capsys.readouterr().out)
    assert (totals["IntakeAlerts"], totals["BadRecords"], totals["AlertsOut"]) == (2, 2, 2)


def test_bad_json_lines_are_quarantined_one_by_one(url: str, stack: Stack) -> None:
    lines = "\n".join([json.dumps(alert(1)), "{not json", json.dumps(alert(2, rule=""))])
    status, answer = sidekick(url, lines.encode())
    assert status == 200 and (answer["accepted"], answer["rejected"]) == (1, 2)
    assert answer["errors"][0].startswith("alert 1: not JSON: ")
    assert answer["errors"][1].startswith("alert 2: rule: String should have at least 1")
    assert len(stack.alerts()) == 1
    bad = {q["origin"]: q for q in stack.quarantined()}
    assert bad[f"intake:{SENDER}:1"]["payload"] == "{not json"


def test_a_lone_bad_alert_is_quarantined_and_answered_200(url: str, stack: Stack) -> None:
    # 200, not 4xx: the alert is kept in the quarantine, and sending it again cannot help.
    status, answer = falco(url, alert(1, priority="loud"))
    assert status == 200 and (answer["accepted"], answer["rejected"]) == (0, 1)
    assert stack.alerts() == []
    [q] = stack.quarantined()
    assert q["origin"] == f"intake:{SENDER}:0"


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"", "application/json", "empty body: expected a Falco alert in JSON"),
        (b"   \n", "application/json", "empty body: expected a Falco alert in JSON"),
        (
            b"[]",
            "application/json",
            "body is an empty array, not a Falco alert or an array of them",
        ),
        (b"42", "application/json", "body is JSON int, not a Falco alert or an array of them"),
        (b"\xff\xfe\x00garbage", "application/octet-stream", "body is not UTF-8 text: "),
        (b"[" * 100_000, "application/json", "body nests too deep to be an alert"),
        # Falco with json_output: false sends its text output line.
        (
            FALCO_ALERT["output"].encode(),
            "text/plain",
            "body is not JSON: ",
        ),
    ],
    ids=["empty", "blank", "empty-array", "number", "binary", "deep", "falco-text-output"],
)
def test_a_body_with_no_alert_at_all_is_400_and_quarantined(
    url: str, stack: Stack, body: bytes, content_type: str, reason: str
) -> None:
    status, answer = sidekick(url, body, content_type=content_type)
    assert status == 400 and answer["error"].startswith(reason)
    assert stack.alerts() == []
    [q] = stack.quarantined()
    assert (q["source"], q["origin"]) == ("intake", f"intake:{SENDER}:body")
    assert q["reason"] == answer["error"]
    assert q["size"] == len(body)
    if content_type == "text/plain":
        assert answer["error"].endswith(
            "(Falco sends text when json_output is false: set json_output: true)"
        )


def test_the_same_alert_sent_twice_is_published_once(
    url: str, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert falco(url, FALCO_ALERT) == (200, OK_ONE)
    assert falco(url, FALCO_ALERT) == (200, OK_ONE)  # Falco's retry, or a second path
    pretty = json.dumps(FALCO_ALERT, indent=2, sort_keys=True).encode()
    assert falco(url, pretty) == (200, OK_ONE)  # same alert, other formatting
    assert sidekick(url, [FALCO_ALERT, FALCO_ALERT]) == (200, {**OK_ONE, "accepted": 2})
    assert sidekick(url, SIDEKICK_ALERT) == (200, OK_ONE)
    assert sidekick(url, SIDEKICK_ALERT) == (200, OK_ONE)

    rules = sorted(m["alert"]["rule"] for m in stack.alerts())
    assert rules == ["Read sensitive file untrusted", "Terminal shell in container"]
    assert emf_totals(capsys.readouterr().out)["AlertsOut"] == 2


def test_an_oversized_request_is_413_and_nothing_is_kept(url: str, stack: Stack) -> None:
    big = alert(1)
    big["output_fields"]["proc.cmdline"] = "x" * MAX_BODY_BYTES
    status, answer = falco(url, big)
    assert status == 413 and "more than 1048576" in answer["error"]

    many = [alert(n) for n in range(1001)]
    status, answer = sidekick(url, many)
    assert (status, answer) == (413, {"error": "1001 alerts in one request, more than 1000"})

    assert stack.alerts() == [] and stack.quarantined() == []


def test_a_huge_alert_within_the_body_limit_is_quarantined(url: str, stack: Stack) -> None:
    big = alert(1)
    big["output_fields"]["proc.cmdline"] = "x" * (300 * 1024)  # over SNS's 256 KiB
    status, answer = sidekick(url, [big, alert(2)])
    assert status == 200 and (answer["accepted"], answer["rejected"]) == (1, 1)
    assert answer["errors"][0].startswith("alert 0: alert is ")
    assert len(stack.alerts()) == 1
    [q] = stack.quarantined()
    assert q["truncated"] is True


def test_a_failed_publish_is_503_and_the_retry_publishes_once(url: str, stack: Stack) -> None:
    sns = boto3.client("sns")
    get_runtime().clients.set("sns", sns)
    with Stubber(sns) as stub:
        stub.add_client_error(
            "publish_batch", service_error_code="InternalError", http_status_code=500
        )
        status, answer = sidekick(url, [alert(1), alert(2)])
    assert (status, answer) == (503, {"error": "alerts not delivered; try again"})
    assert stack.alerts() == []

    get_runtime().clients.set("sns", boto3.client("sns"))
    assert sidekick(url, [alert(1), alert(2)]) == (200, {**OK_ONE, "accepted": 2})
    assert sidekick(url, [alert(1), alert(2)]) == (200, {**OK_ONE, "accepted": 2})
    assert len(stack.alerts()) == 2


def test_an_unreadable_token_secret_is_503(
    url: str, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:lanner/nope-AbCdEf"
    monkeypatch.setenv(TOKEN_SECRET_ENV, missing)
    status, answer = falco(url, FALCO_ALERT)
    assert (status, answer) == (503, {"error": "cannot check the token now; try again"})
    assert stack.alerts() == []
