"""The EKS audit detector end to end on moto: CloudWatch Logs subscription payloads
(base64 gzip JSON, as the subscription delivers them) of the audit log in
samples/k8s/, alerts on SNS; control messages, other streams and bad input."""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from test_runtime import AWS_DATA, REPO, FakeContext, Stack, emf_totals, make_stack

from functions import cwlogs
from functions.eks_audit_detector import handler
from functions.publish import PublishError
from functions.runtime import get_runtime, reset_runtime

AUDIT_LOG = REPO / "samples" / "k8s" / "kube-apiserver-audit.log"
GROUP = "/aws/eks/demo/cluster"
STREAM = "kube-apiserver-audit-6c2a9f4e1b7d3e5a0c8b2d4f6e1a3c5b"
# What `lanner scan samples/k8s/` reports for this log.
EXPECTED_RULES = sorted(
    [
        "K8s Shell Into Pod",
        "K8s ConfigMap Contains Credentials",
        "K8s Secret Read By Unexpected Identity",
        "K8s Service Account Created In System Namespace",
        "K8s Binding To Cluster-Admin",
        "K8s Service Account Token Requested",
        "K8s Unexpected Image In System Namespace",
        "K8s Privileged Pod Created",
        "K8s Events Deleted",
        "K8s Anonymous Request Authorized",
    ]
)


@pytest.fixture
def stack(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    yield make_stack(monkeypatch)
    reset_runtime()


def subscription_event(
    messages: list[str], stream: str = STREAM, group: str = GROUP
) -> dict[str, Any]:
    """What a CloudWatch Logs subscription filter hands to Lambda."""
    doc = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": ["lanner-eks-audit"],
        "logEvents": [
            {"id": f"{38000000000000000000 + n:056d}", "timestamp": 1795849200000 + n, "message": m}
            for n, m in enumerate(messages)
        ],
    }
    data = gzip.compress(json.dumps(doc).encode())
    return {"awslogs": {"data": base64.b64encode(data).decode()}}


def audit_lines() -> list[str]:
    return [line for line in AUDIT_LOG.read_text().splitlines() if line.strip()]


def test_audit_events_in_alerts_out(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    lines = audit_lines()
    result = handler(subscription_event(lines), FakeContext())
    assert result == {
        "status": "ok",
        "cluster": "demo",
        "events": len(lines),
        "alerts": 10,
        "duplicates": 0,
        "quarantined": 0,
    }
    got = {m["alert"]["rule"]: m for m in stack.alerts()}
    assert sorted(got) == EXPECTED_RULES
    secret = got["K8s Secret Read By Unexpected Identity"]
    assert secret["alert"]["source"] == "k8s_audit"
    assert secret["alert"]["output_fields"]["ka.target.name"] == "stripe-api-key"
    assert secret["attributes"]["k8s_ns"] == "payments"
    assert secret["attributes"]["priority_name"] == "Warning"
    assert secret["attributes"]["source"] == "k8s_audit"
    # A cluster-scoped object has no namespace: no attribute rather than "<NA>".
    assert "k8s_ns" not in got["K8s Binding To Cluster-Admin"]["attributes"]
    totals = emf_totals(capsys.readouterr().out)
    assert (totals["EventsIn"], totals["AlertsOut"]) == (len(lines), 10)


def test_control_message_is_skipped(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    event = json.loads((AWS_DATA / "cwlogs-control-message.json").read_text())
    assert handler(event, FakeContext()) == {"status": "control"}
    assert stack.alerts() == [] and stack.quarantined() == []
    assert "EventsIn" not in emf_totals(capsys.readouterr().out)


def test_other_streams_of_the_group_are_skipped_and_counted(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = audit_lines()[:5]
    event = subscription_event(lines, stream="authenticator-6c2a9f4e1b7d3e5a0c8b2d4f6e1a3c5b")
    assert handler(event, FakeContext()) == {"status": "skipped", "skipped": 5}
    assert stack.alerts() == [] and stack.quarantined() == []
    totals = emf_totals(capsys.readouterr().out)
    assert totals["SkippedLogEvents"] == 5 and "EventsIn" not in totals


def test_truncated_gzip_is_quarantined_with_a_clear_reason(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = base64.b64decode(subscription_event(audit_lines())["awslogs"]["data"])
    cut = base64.b64encode(whole[: len(whole) // 2]).decode()
    result = handler({"awslogs": {"data": cut}}, FakeContext())
    assert result["status"] == "quarantined"
    assert result["reason"].startswith("truncated gzip data: the stream ends early")
    [q] = stack.quarantined()
    assert q["reason"] == result["reason"]
    assert q["source"] == "k8s_audit"
    assert q["payload"] == cut  # what was delivered, to look at or replay
    assert q["origin"] == f"cloudwatch-logs/request/{FakeContext().aws_request_id}"
    assert stack.alerts() == []
    assert emf_totals(capsys.readouterr().out)["BadRecords"] == 1


def test_a_log_event_that_is_not_json_is_quarantined_and_the_rest_evaluated(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = audit_lines()
    lines.insert(3, '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metad')  # cut line
    lines.insert(7, "[1, 2]")
    result = handler(subscription_event(lines), FakeContext())
    assert (result["events"], result["alerts"], result["quarantined"]) == (len(lines) - 2, 10, 2)
    assert sorted(m["alert"]["rule"] for m in stack.alerts()) == EXPECTED_RULES
    cut, array = stack.quarantined()
    assert cut["reason"].startswith("log event is not JSON: Unterminated string")
    assert cut["origin"] == f"{GROUP}/{STREAM}/{38000000000000000003:056d}"
    assert cut["payload"] == lines[3]
    assert array["reason"] == "log event is not a JSON object but list"
    assert emf_totals(capsys.readouterr().out)["BadRecords"] == 2


def test_publish_failure_fails_the_invocation_and_the_retry_publishes_once(stack: Stack) -> None:
    event = subscription_event(audit_lines())
    sns = boto3.client("sns")
    get_runtime().clients.set("sns", sns)
    with Stubber(sns) as stub:
        # The first PublishBatch (10 alerts) is refused.
        stub.add_client_error(
            "publish_batch", service_error_code="Throttling", http_status_code=400
        )
        with pytest.raises(PublishError):
            handler(event, FakeContext())
    assert stack.alerts() == []

    get_runtime().clients.set("sns", boto3.client("sns"))
    assert handler(event, FakeContext())["alerts"] == 10  # CloudWatch Logs retries the invocation
    again = handler(event, FakeContext())  # and a duplicate delivery changes nothing
    assert (again["alerts"], again["duplicates"]) == (0, 10)
    assert sorted(m["alert"]["rule"] for m in stack.alerts()) == EXPECTED_RULES


def test_payload_decoding_round_trip_and_errors() -> None:
    payload = cwlogs.decode(subscription_event(['{"a": 1}']))
    assert (payload.message_type, payload.log_group, payload.log_stream) == (
        "DATA_MESSAGE",
        GROUP,
        STREAM,
    )
    assert [e.message for e in payload.log_events] == ['{"a": 1}']
    assert cwlogs.decode(cwlogs.encode(payload)) == payload
    for event, why in [
        ({}, "no awslogs.data"),
        ({"awslogs": {"data": "***"}}, "not base64"),
        ({"awslogs": {"data": base64.b64encode(b"plain").decode()}}, "corrupt gzip"),
        (
            {"awslogs": {"data": base64.b64encode(gzip.compress(b"[1]")).decode()}},
            "not a JSON object",
        ),
        (
            {
                "awslogs": {
                    "data": base64.b64encode(gzip.compress(b'{"messageType": "X"}')).decode()
                }
            },
            "unknown messageType",
        ),
    ]:
        with pytest.raises(cwlogs.PayloadError, match=why):
            cwlogs.decode(event)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        # json raised RecursionError, which no handler caught: the invocation failed,
        # its retries too, and none of the other events was evaluated.
        ('{"a":' * 1000 + "1" + "}" * 1000, "log event is not JSON: nests deeper than 64 levels"),
        ('{"a":' * 100 + "1" + "}" * 100, "log event is not JSON: nests deeper than 64 levels"),
        (
            '{"kind":"Event","n":' + "9" * 5000 + "}",
            "log event is not JSON: a number has more than 4,300 digits",
        ),
    ],
    ids=["1000-deep", "100-deep", "5000-digits"],
)
def test_a_hostile_log_event_is_quarantined_and_the_rest_evaluated(
    stack: Stack, capsys: pytest.CaptureFixture[str], message: str, reason: str
) -> None:
    lines = audit_lines()
    lines.insert(2, message)

    result = handler(subscription_event(lines), FakeContext())

    assert (result["status"], result["quarantined"]) == ("ok", 1)
    assert (result["events"], result["alerts"]) == (len(lines) - 1, 10)
    assert sorted(m["alert"]["rule"] for m in stack.alerts()) == EXPECTED_RULES
    (bad,) = stack.quarantined()
    assert bad["reason"] == reason
    assert bad["origin"] == f"{GROUP}/{STREAM}/{38000000000000000002:056d}"
    assert bad["payload"] == message
    assert emf_totals(capsys.readouterr().out)["BadRecords"] == 1


def test_an_event_list_item_that_is_not_an_object_is_quarantined_not_dropped(
    stack: Stack,
) -> None:
    events = [json.loads(line) for line in audit_lines()]
    listed = json.dumps({"kind": "EventList", "items": [events[0], "junk", *events[1:]]})

    result = handler(subscription_event([listed]), FakeContext())

    assert (result["events"], result["alerts"], result["quarantined"]) == (len(events), 10, 1)
    (bad,) = stack.quarantined()
    assert bad["reason"] == "EventList item is not a JSON object (it is a string)"
    assert bad["origin"] == f"{GROUP}/{STREAM}/{38000000000000000000:056d}:items[1]"
    assert bad["payload"] == '"junk"'


def test_a_payload_the_decoder_refuses_is_a_payload_error() -> None:
    deep = ('{"a":' * 1000 + "}" * 1000).encode()
    for raw, why in [
        (deep, "nests deeper than 64 levels"),
        (b'{"messageType":"DATA_MESSAGE","owner":' + b"1" * 5000 + b"}", "4,300 digits"),
        (b'{"messageType":"DATA_MESSAGE","subscriptionFilters":5}', None),
    ]:
        event = {"awslogs": {"data": base64.b64encode(gzip.compress(raw)).decode()}}
        if why is None:
            assert cwlogs.decode(event).subscription_filters == []
            continue
        with pytest.raises(cwlogs.PayloadError, match=why):
            cwlogs.decode(event)
