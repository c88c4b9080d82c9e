"""The quarantine queue on moto: whatever a bad input holds, its message fits in one
SQS message (256 KiB of UTF-8), is JSON, and says where the whole input is when the
payload had to be cut. A message SQS refuses would make the input be retried forever."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from test_eks_audit_detector import subscription_event
from test_runtime import FakeContext, Stack, make_stack

from functions.eks_audit_detector import handler as eks_handler
from functions.quarantine import MAX_MESSAGE_BYTES, Quarantine
from functions.runtime import get_runtime, reset_runtime

KINESIS_ORIGIN = "lanner-events/shardId-000000000000/49650000000000000000000000000000000001"
SIZE = 400 * 1024


@pytest.fixture
def stack(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    yield make_stack(monkeypatch)
    reset_runtime()


def raw_messages(stack: Stack) -> list[str]:
    """The message bodies as SQS holds them (not decoded: their size is the point)."""
    import boto3

    sqs = boto3.client("sqs")
    got = sqs.receive_message(QueueUrl=stack.quarantine_url, MaxNumberOfMessages=10)
    return [m["Body"] for m in got.get("Messages", [])]


@pytest.mark.parametrize(
    "payload",
    [
        "é" * SIZE,  # 2 bytes in UTF-8, 6 as an \\u escape
        "\x01" * SIZE,  # control characters: 6 bytes each, escaped
        "😀" * (SIZE // 4),  # astral: a surrogate pair when escaped
        "\udcff" * SIZE,  # undecodable bytes kept by surrogateescape: SQS refuses them raw
    ],
    ids=["non-ascii", "control", "astral", "lone-surrogates"],
)
def test_a_large_text_payload_is_quarantined_cut_to_one_message(stack: Stack, payload: str) -> None:
    get_runtime().quarantine.put("syscall", "not a lanner batch", payload, KINESIS_ORIGIN)

    (body,) = raw_messages(stack)
    assert len(body.encode("utf-8")) <= MAX_MESSAGE_BYTES
    msg = json.loads(body)
    assert msg["truncated"] is True
    assert msg["origin"] == KINESIS_ORIGIN  # where the whole record is
    assert msg["size"] == len(payload.encode("utf-8", "surrogatepass"))
    assert msg["reason"] == "not a lanner batch"
    assert payload.startswith(msg["payload"]) and len(msg["payload"]) > 30_000


def test_a_large_binary_payload_is_cut_to_whole_base64(stack: Stack) -> None:
    payload = bytes(range(256)) * (SIZE // 256)

    get_runtime().quarantine.put("syscall", "corrupt compressed data", payload, KINESIS_ORIGIN)

    (body,) = raw_messages(stack)
    assert len(body.encode("utf-8")) <= MAX_MESSAGE_BYTES
    msg = json.loads(body)
    assert (msg["truncated"], msg["encoding"], msg["size"]) == (True, "base64", len(payload))
    assert payload.startswith(base64.b64decode(msg["payload"], validate=True))


def test_a_payload_that_fits_is_kept_whole_and_exact(stack: Stack) -> None:
    payload = "naïve \x1b[31m\u2028 😀 \ufffe"
    get_runtime().quarantine.put("k8s_audit", "log event is not JSON", payload, "g/s/1")

    (msg,) = stack.quarantined()
    assert msg["payload"] == payload and "truncated" not in msg
    assert msg["size"] == len(payload.encode("utf-8"))


def test_a_400_kb_non_ascii_log_event_is_quarantined_and_the_rest_evaluated(
    stack: Stack,
) -> None:
    # Through the EKS detector: before, SQS refused the 1.2 MB message, the invocation
    # failed, and its asynchronous retries failed the same way.
    good = json.dumps(
        {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "auditID": "5f0e2a1c-0000-4000-8000-000000000001",
            "stage": "ResponseComplete",
            "verb": "delete",
            "objectRef": {"resource": "events", "namespace": "default"},
            "user": {"username": "mallory"},
            "responseStatus": {"code": 200},
            "stageTimestamp": "2026-11-28T10:04:12.000000Z",
        }
    )
    event = subscription_event(["ü" * SIZE, good])

    result = eks_handler(event, FakeContext())

    assert (result["status"], result["quarantined"], result["events"]) == ("ok", 1, 1)
    (body,) = raw_messages(stack)
    assert len(body.encode("utf-8")) <= MAX_MESSAGE_BYTES
    msg = json.loads(body)
    assert msg["truncated"] is True and msg["size"] == 2 * SIZE
    assert msg["origin"].startswith("/aws/eks/demo/cluster/kube-apiserver-audit-")
    assert msg["reason"].startswith("log event is not JSON")


def test_the_envelope_fields_are_capped_too() -> None:
    q = Quarantine(lambda: None, "https://example/queue", clock=lambda: 0.0)
    body = q.message("syscall", "x" * 300_000, "é" * SIZE, "o" * 300_000)
    assert len(body.encode("utf-8")) <= MAX_MESSAGE_BYTES
    assert json.loads(body)["truncated"] is True
