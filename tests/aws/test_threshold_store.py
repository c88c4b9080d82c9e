"""Threshold rules in the detectors (moto): the counts live in the dedup table, the alert
goes out once per group and window whatever the concurrency and the retries, and a
store failure fails the record so that it is retried, never dropped."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from test_runtime import Stack, make_stack

from functions import cloudtrail_detector
from functions.runtime import get_runtime, reset_runtime
from functions.threshold_store import PREFIX, DynamoThresholdStore
from lanner.threshold import Bucket, ThresholdStoreError

DATA = Path(__file__).resolve().parent / "data" / "cloudtrail"
RULE = """\
- rule: Many secrets read
  desc: one principal read many secrets
  condition: ct.name = GetSecretValue
  output: "Secrets read in bulk (user=%ct.user.arn)"
  priority: WARNING
  source: aws_cloudtrail
  threshold: {count: 3, window: 5m, group_by: [ct.user.arn]}
"""
BUCKET = Bucket("Many secrets read", ("arn:aws:iam::123456789012:user/eve",), 1795849200, 300)


@pytest.fixture
def stack(aws: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Stack]:
    (tmp_path / "rules.yaml").write_text(RULE)
    yield make_stack(monkeypatch, LANNER_RULES_DIR=str(tmp_path))
    reset_runtime()


def store(stack: Stack) -> DynamoThresholdStore:
    """A store as another container has it: its own client, its own memory."""
    client = boto3.client("dynamodb")
    return DynamoThresholdStore(lambda: client, stack.table)


def read_event(n: int) -> dict[str, Any]:
    """An EventBridge 'AWS API Call via CloudTrail' event of a GetSecretValue."""
    event = json.loads((DATA / "eventbridge_stop_logging.json").read_text())
    detail = event["detail"]
    detail.update(
        eventName="GetSecretValue",
        eventSource="secretsmanager.amazonaws.com",
        eventTime=f"2026-11-28T10:01:{n:02d}Z",
        eventID=f"9d2b0c11-0000-4000-8000-{n:012d}",
        requestParameters={"secretId": f"prod/db-{n}"},
    )
    detail["userIdentity"]["arn"] = "arn:aws:iam::123456789012:user/eve"
    return event


def invoke(event: dict[str, Any]) -> Any:
    from test_runtime import FakeContext

    return cloudtrail_detector.handler(copy.deepcopy(event), FakeContext())


def threshold_alerts(stack: Stack) -> list[dict[str, Any]]:
    return [m["alert"] for m in stack.alerts() if m["alert"]["rule"] == "Many secrets read"]


# -- the store ---------------------------------------------------------------------------


def test_fires_at_the_count_once_and_a_repeated_event_counts_once(stack: Stack) -> None:
    s = store(stack)
    assert [s.hit(BUCKET, 3, f"e{n}") for n in range(2)] == [False, False]
    # The same record again (a retried message, the other delivery path): still two.
    assert s.hit(BUCKET, 3, "e1") is False
    assert s.hit(BUCKET, 3, "e2") is True
    assert [s.hit(BUCKET, 3, f"e{n}") for n in range(3, 8)] == [False] * 5
    # The event that fired, retried after its publish failed: it fires again (same uuid).
    assert s.hit(BUCKET, 3, "e2") is True
    # Another container learns the bucket fired from the table, not from its memory.
    assert store(stack).hit(BUCKET, 3, "e9") is False
    assert store(stack).hit(BUCKET, 3, "e2") is True

    item = boto3.client("dynamodb").get_item(
        TableName=stack.table, Key={"uuid": {"S": PREFIX + BUCKET.key()}}
    )["Item"]
    assert int(item["expires"]["N"]) == BUCKET.end + 86400
    assert "ids" not in item  # the ids are dropped once it fired


class BeforeClaim:
    """A DynamoDB client that runs ``interleave`` just before its first claim is sent."""

    def __init__(self, interleave: Any) -> None:
        self._client = boto3.client("dynamodb")
        self._interleave = interleave

    def update_item(self, **kw: Any) -> Any:
        if kw["UpdateExpression"].startswith("SET fired_by") and self._interleave:
            self._interleave()
            self._interleave = None
        return self._client.update_item(**kw)


def test_two_containers_reaching_the_count_together_fire_once(stack: Stack) -> None:
    # Container A's third match brings the count to 3; before A claims the alert,
    # container B counts a fourth match and claims first. A must then stay quiet.
    b = store(stack)
    fired_by_b: list[bool] = []
    client = BeforeClaim(lambda: fired_by_b.append(b.hit(BUCKET, 3, "e4")))
    a = DynamoThresholdStore(lambda: client, stack.table)

    assert [a.hit(BUCKET, 3, e) for e in ("e1", "e2", "e3")] == [False, False, False]
    assert fired_by_b == [True]
    assert b.hit(BUCKET, 3, "e5") is False


def _stubbed(stack: Stack) -> tuple[DynamoThresholdStore, Stubber]:
    client = boto3.client("dynamodb")
    return DynamoThresholdStore(lambda: client, stack.table), Stubber(client)


def test_losing_the_claim_to_another_container_is_no_alert_and_no_error(stack: Stack) -> None:
    s, stub = _stubbed(stack)
    stub.add_response("update_item", {"Attributes": {"ids": {"SS": ["a", "b", "c"]}}})
    stub.add_client_error(
        "update_item",
        "ConditionalCheckFailedException",
        http_status_code=400,
        response_meta={},
        modeled_fields={"Item": {"fired_by": {"S": "0123456789abcdef"}}},
    )
    with stub:
        assert s.hit(BUCKET, 3, "mine") is False
        # It remembers who fired: no more writes for this bucket (the stub has none left).
        assert s.hit(BUCKET, 3, "mine-too") is False
    stub.assert_no_pending_responses()


def test_throttling_is_a_store_error(stack: Stack) -> None:
    s, stub = _stubbed(stack)
    stub.add_client_error(
        "update_item", "ProvisionedThroughputExceededException", http_status_code=400
    )
    with stub, pytest.raises(ThresholdStoreError, match="ProvisionedThroughputExceeded"):
        s.hit(BUCKET, 3, "e1")


# -- the detector ------------------------------------------------------------------------


def test_detector_alerts_once_with_the_count(stack: Stack) -> None:
    for n in range(6):
        invoke(read_event(n))

    alerts = threshold_alerts(stack)
    assert len(alerts) == 1
    assert alerts[0]["output_fields"]["threshold.count"] == 3
    assert alerts[0]["output_fields"]["threshold.window"] == "5m"
    assert alerts[0]["output"].endswith(
        "Secrets read in bulk (user=arn:aws:iam::123456789012:user/eve) (3 matches in 5m)"
    )
    assert alerts[0]["time"] == "2026-11-28T10:01:02.000000000Z"


class Throttled:
    """A DynamoDB client throttling every threshold write ``times`` times, then itself."""

    def __init__(self, client: Any, times: int) -> None:
        self._client = client
        self.times = times

    def update_item(self, **kw: Any) -> Any:
        if kw["Key"]["uuid"]["S"].startswith(PREFIX) and self.times > 0:
            self.times -= 1
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                "UpdateItem",
            )
        return self._client.update_item(**kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_a_store_failure_fails_the_invocation_and_its_retry_alerts_once(stack: Stack) -> None:
    for n in range(2):
        invoke(read_event(n))
    rt = get_runtime()
    rt.clients.set("dynamodb", Throttled(boto3.client("dynamodb"), times=1))

    # The third read cannot be counted: the invocation fails (Lambda retries it).
    with pytest.raises(ThresholdStoreError):
        invoke(read_event(2))
    assert threshold_alerts(stack) == []

    # The retry counts it (once: the first two were not counted again) and alerts.
    invoke(read_event(2))
    invoke(read_event(2))  # retried once more: the same alert, let out once
    alerts = threshold_alerts(stack)
    assert [a["time"] for a in alerts] == ["2026-11-28T10:01:02.000000000Z"]


def test_a_store_failure_fails_only_its_sqs_message(stack: Stack) -> None:
    rt = get_runtime()
    rt.clients.set("dynamodb", Throttled(boto3.client("dynamodb"), times=1))
    records = [
        {
            "messageId": f"m{n}",
            "receiptHandle": "r",
            "body": json.dumps(read_event(n)),
            "attributes": {},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:lanner-cloudtrail",
            "awsRegion": "us-east-1",
        }
        for n in range(3)
    ]
    result = invoke({"Records": records})
    assert result == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
