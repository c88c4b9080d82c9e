"""The CloudTrail detector Lambda on moto: S3 notifications (direct and through SQS),
EventBridge events, and what reaches SNS, the quarantine queue and the metrics."""

from __future__ import annotations

import copy
import gzip
import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from functions import cloudtrail_detector
from functions.runtime import get_runtime, reset_runtime

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data" / "cloudtrail"
SAMPLES = ROOT / "samples"
# The sample file with the trail stopped (a6ae78ca) and GuardDuty disabled (92273d98),
# and a StopLogging that was denied (50e7ad78), which must stay quiet.
SAMPLE_KEY = "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/28/123456789012_CloudTrail_us-east-1_20261128T1005Z_b2Wr5Cxwiqwe2faz.json.gz"
DIGEST_KEY = "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/11/28/123456789012_CloudTrail-Digest_us-east-1_management-events_us-east-1_20261128T1105Z.json.gz"
BUCKET = "aws-cloudtrail-logs-123456789012-3f9a1c"
# The trail writes under a key prefix with a space: S3 notifications say "cloudtrail+logs/".
PREFIX = "cloudtrail logs/"
# (rule, event time): alerts name the event by its time (eventIDs a6ae78ca..., 92273d98...).
STOPPED = ("AWS CloudTrail Trail Stopped Or Deleted", "2026-11-28T10:04:12.000000000Z")
GUARDDUTY = ("AWS GuardDuty Detection Disabled", "2026-11-28T10:04:25.000000000Z")


def fixture(name: str) -> Any:
    return json.loads((DATA / name).read_text())


@dataclass
class Context:
    """What the Lambda runtime passes as the context (what powertools reads of it)."""

    function_name: str = "lanner-cloudtrail-detector"
    function_version: str = "$LATEST"
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:lanner-cloudtrail-detector"
    )
    memory_limit_in_mb: int = 512
    aws_request_id: str = "5b1c9f0e-2d3a-4e5f-8a9b-0c1d2e3f4a5b"
    log_group_name: str = "/aws/lambda/lanner-cloudtrail-detector"
    log_stream_name: str = "2026/11/28/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@dataclass
class Stack:
    """The AWS side of a deployment, on moto."""

    s3: Any
    sqs: Any
    alerts_queue: str  # subscribed to the alert topic: what SNS got
    quarantine_queue: str

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert SNS delivered, as published (Falco's JSON schema)."""
        return [json.loads(m["Message"]) for m in self._drain(self.alerts_queue)]

    def quarantined(self) -> list[dict[str, Any]]:
        return self._drain(self.quarantine_queue)

    def _drain(self, url: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return out
            for m in got:
                out.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
def stack(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    s3 = boto3.client("s3")
    sqs = boto3.client("sqs")
    sns = boto3.client("sns")
    ddb = boto3.client("dynamodb")
    s3.create_bucket(Bucket=BUCKET)
    topic = sns.create_topic(Name="lanner-alerts")["TopicArn"]
    ddb.create_table(
        TableName="lanner-dedup",
        KeySchema=[{"AttributeName": "uuid", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "uuid", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.update_time_to_live(
        TableName="lanner-dedup",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"},
    )
    quarantine = sqs.create_queue(QueueName="lanner-quarantine")["QueueUrl"]
    alerts = sqs.create_queue(QueueName="alert-reader")["QueueUrl"]
    alerts_arn = sqs.get_queue_attributes(QueueUrl=alerts, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=alerts_arn)
    monkeypatch.setenv("LANNER_ALERT_TOPIC_ARN", topic)
    monkeypatch.setenv("LANNER_DEDUP_TABLE", "lanner-dedup")
    monkeypatch.setenv("LANNER_QUARANTINE_QUEUE_URL", quarantine)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "lanner")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "lanner")
    for name in ("LANNER_RULES_DIR", "LANNER_RULES_S3_URI", "LANNER_MIN_PRIORITY"):
        monkeypatch.delenv(name, raising=False)
    reset_runtime()
    yield Stack(s3, sqs, alerts, quarantine)
    reset_runtime()


def invoke(event: dict[str, Any]) -> Any:
    return cloudtrail_detector.handler(event, Context())


def s3_notification(key: str, bucket: str = BUCKET) -> dict[str, Any]:
    """The fixture notification, for another object; keys encoded as S3 does."""
    event = fixture("s3_object_created.json")
    record = event["Records"][0]["s3"]
    record["bucket"]["name"] = bucket
    record["object"]["key"] = key.replace(" ", "+")
    return event


def sqs_event(*bodies: str) -> dict[str, Any]:
    template = fixture("sqs_record.json")
    records = []
    for n, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record["messageId"] = f"msg-{n}"
        record["body"] = body
        records.append(record)
    return {"Records": records}


def rules_and_times(alerts: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((a["rule"], a["time"]) for a in alerts)


def metrics(out: str) -> dict[str, float]:
    """Metric totals from the EMF lines the invocation printed."""
    totals: dict[str, float] = {}
    for line in out.splitlines():
        if not line.startswith("{"):
            continue
        doc = json.loads(line)
        if "_aws" not in doc:
            continue
        assert doc["source"] == "aws_cloudtrail"
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = doc[metric["Name"]]
                values = value if isinstance(value, list) else [value]
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + sum(values)
    return totals


# -- S3 notifications ------------------------------------------------------------


def test_s3_notification_of_a_log_file_publishes_its_alerts(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.put(PREFIX + SAMPLE_KEY, (SAMPLES / SAMPLE_KEY).read_bytes())

    result = invoke(fixture("s3_object_created.json"))

    alerts = stack.alerts()
    assert rules_and_times(alerts) == sorted([STOPPED, GUARDDUTY])
    stopped = next(a for a in alerts if a["rule"] == STOPPED[0])
    assert stopped["priority"] == "Critical"
    assert stopped["source"] == "aws_cloudtrail"
    assert stopped["output_fields"]["ct.user"] == "dev-alice"
    assert stopped["output_fields"]["ct.srcip"] == "203.0.113.50"
    assert result == {
        "status": "ok",
        "objects": 1,
        "skipped": 0,
        "missing": 0,
        "events": 9,
        "alerts": 2,
        "duplicates": 0,
        "quarantined": 0,
    }
    assert stack.quarantined() == []
    counted = metrics(capsys.readouterr().out)
    assert counted["EventsIn"] == 9
    assert counted["AlertsOut"] == 2


def test_organisation_trail_layout_is_read(stack: Stack) -> None:
    key = "AWSLogs/o-a1b2c3d4e5/" + SAMPLE_KEY.removeprefix("AWSLogs/")
    stack.put(key, (SAMPLES / SAMPLE_KEY).read_bytes())

    result = invoke(s3_notification(key))

    assert result["objects"] == 1
    assert rules_and_times(stack.alerts()) == sorted([STOPPED, GUARDDUTY])


def test_digest_and_other_keys_are_skipped_and_counted(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Present in the bucket, so skipping is the detector's choice, not a missing object.
    stack.put(PREFIX + DIGEST_KEY, (SAMPLES / DIGEST_KEY).read_bytes())
    stack.put("exports/orders.csv", b"id,total\n1,2\n")

    digest = invoke(s3_notification(PREFIX + DIGEST_KEY))
    other = invoke(s3_notification("exports/orders.csv"))

    assert (digest["skipped"], digest["objects"], digest["events"]) == (1, 0, 0)
    assert (other["skipped"], other["objects"]) == (1, 0)
    assert stack.alerts() == []
    assert stack.quarantined() == []
    assert metrics(capsys.readouterr().out)["SkippedObjects"] == 2


def test_object_deleted_before_it_is_read_is_counted_not_retried(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke(s3_notification(PREFIX + SAMPLE_KEY))

    assert result["missing"] == 1
    assert metrics(capsys.readouterr().out)["MissingObjects"] == 1


def test_other_s3_errors_fail_a_direct_invocation(stack: Stack) -> None:
    # Lambda's asynchronous retries, then the on-failure destination, take it from here.
    with pytest.raises(ClientError, match="NoSuchBucket"):
        invoke(s3_notification(SAMPLE_KEY, bucket="no-such-bucket"))


def test_truncated_gzip_object_is_quarantined_and_its_first_records_evaluated(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    data = (SAMPLES / SAMPLE_KEY).read_bytes()
    # Cut the object inside the 4th record, the one disabling GuardDuty.
    inside = gzip.decompress(data).index(b'"eventID":"92273d98') - 100
    stack.put(PREFIX + SAMPLE_KEY, data[: _gzip_prefix_len(data, inside)])

    result = invoke(fixture("s3_object_created.json"))

    assert rules_and_times(stack.alerts()) == [STOPPED]
    (bad,) = stack.quarantined()
    assert bad["source"] == "aws_cloudtrail"
    assert bad["reason"] == "truncated gzip stream (the object is incomplete)"
    assert bad["origin"] == f"s3://{BUCKET}/{PREFIX}{SAMPLE_KEY}"
    assert json.loads(bad["payload"]) == {
        "bucket": BUCKET,
        "key": PREFIX + SAMPLE_KEY,
        "records_read": 3,
    }
    assert (result["events"], result["alerts"], result["quarantined"]) == (3, 1, 1)
    assert metrics(capsys.readouterr().out)["BadRecords"] == 1


def _gzip_prefix_len(data: bytes, inside: int) -> int:
    """The shortest prefix of a gzip stream that decompresses past ``inside``."""
    for n in range(1, len(data)):
        if len(zlib.decompressobj(31).decompress(data[:n])) > inside:
            return n
    raise AssertionError("the cut point is past the end")


def test_object_that_is_not_json_is_quarantined(stack: Stack) -> None:
    stack.put(PREFIX + SAMPLE_KEY, gzip.compress(b"<Error>AccessDenied</Error>"))

    result = invoke(fixture("s3_object_created.json"))

    (bad,) = stack.quarantined()
    assert bad["reason"] == "not JSON: the file starts with '<Error>AccessDenied</Err'"
    assert bad["origin"] == f"s3://{BUCKET}/{PREFIX}{SAMPLE_KEY}"
    assert (result["events"], result["quarantined"]) == (0, 1)
    assert stack.alerts() == []


def test_record_that_is_not_an_object_is_quarantined_with_its_index(stack: Stack) -> None:
    records = json.loads(gzip.decompress((SAMPLES / SAMPLE_KEY).read_bytes()))["Records"]
    doc = {"Records": [*records[:3], "not a record", *records[3:]]}
    stack.put(PREFIX + SAMPLE_KEY, gzip.compress(json.dumps(doc).encode()))

    result = invoke(fixture("s3_object_created.json"))

    (bad,) = stack.quarantined()
    assert bad["reason"] == "record is not a JSON object (it is a string)"
    assert bad["origin"] == f"s3://{BUCKET}/{PREFIX}{SAMPLE_KEY}:Records[3]"
    assert bad["payload"] == '"not a record"'
    assert result["events"] == 9
    assert rules_and_times(stack.alerts()) == sorted([STOPPED, GUARDDUTY])


def test_a_large_file_is_evaluated_in_steps(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cloudtrail_detector, "STEP", 4)
    stack.put(PREFIX + SAMPLE_KEY, (SAMPLES / SAMPLE_KEY).read_bytes())
    calls: list[int] = []
    rt = get_runtime()
    real = rt.evaluate

    def counting(docs: list[Any], source: str) -> Any:
        calls.append(len(docs))
        return real(docs, source)

    monkeypatch.setattr(rt, "evaluate", counting)

    result = invoke(fixture("s3_object_created.json"))

    assert calls == [4, 4, 1]
    assert result["alerts"] == 2


# -- EventBridge, and both paths ----------------------------------------------------


def test_eventbridge_event_is_evaluated(stack: Stack) -> None:
    result = invoke(fixture("eventbridge_stop_logging.json"))

    assert rules_and_times(stack.alerts()) == [STOPPED]
    assert (result["events"], result["alerts"]) == (1, 1)


def test_same_event_via_eventbridge_then_s3_alerts_once(stack: Stack) -> None:
    stack.put(PREFIX + SAMPLE_KEY, (SAMPLES / SAMPLE_KEY).read_bytes())

    fast = invoke(fixture("eventbridge_stop_logging.json"))
    first = stack.alerts()
    late = invoke(fixture("s3_object_created.json"))
    second = stack.alerts()

    assert rules_and_times(first) == [STOPPED]
    # The log file's StopLogging is the same alert (same uuid): only GuardDuty is new.
    assert rules_and_times(second) == [GUARDDUTY]
    assert (fast["alerts"], late["alerts"], late["duplicates"]) == (1, 1, 1)


def test_insight_event_needs_no_work(stack: Stack) -> None:
    event = fixture("eventbridge_stop_logging.json")
    event["detail-type"] = "AWS Insight via CloudTrail"

    result = invoke(event)

    assert result["events"] == 0
    assert stack.quarantined() == []


def test_unrecognised_direct_event_is_quarantined(stack: Stack) -> None:
    result = invoke({"hello": "world"})

    (bad,) = stack.quarantined()
    assert bad["reason"].startswith("not an S3 event notification")
    assert json.loads(bad["payload"]) == {"hello": "world"}
    assert bad["origin"] == f"lambda/request/{Context().aws_request_id}"
    assert result["quarantined"] == 1


# -- SQS ----------------------------------------------------------------------------


def test_sqs_batch_reports_only_the_failed_message(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.put(PREFIX + SAMPLE_KEY, (SAMPLES / SAMPLE_KEY).read_bytes())
    sns_wrapped = {
        "Type": "Notification",
        "MessageId": "0c3b0c54-1d7e-5f0f-9a63-2b1e8b7c4d21",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:cloudtrail-logs",
        "Message": json.dumps(s3_notification(PREFIX + SAMPLE_KEY)),
    }
    event = sqs_event(
        json.dumps(fixture("s3_test_event.json")),  # msg-0: nothing to do
        json.dumps(s3_notification(SAMPLE_KEY, bucket="no-such-bucket")),  # msg-1: S3 fails
        json.dumps(sns_wrapped),  # msg-2: the sample, through SNS
        "definitely not json",  # msg-3: quarantined, not retried
        json.dumps(s3_notification(PREFIX + DIGEST_KEY)),  # msg-4: skipped
        json.dumps(fixture("s3_object_created.json")),  # msg-5: the same file again
    )

    result = invoke(event)

    assert result == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    assert rules_and_times(stack.alerts()) == sorted([STOPPED, GUARDDUTY])
    (bad,) = stack.quarantined()
    assert bad["reason"].startswith("message body is not JSON: Expecting value")
    assert bad["payload"] == "definitely not json"
    assert bad["origin"] == "sqs/lanner-cloudtrail-notifications/msg-3"
    counted = metrics(capsys.readouterr().out)
    assert counted["AlertsOut"] == 2
    assert counted["AlertsDuplicate"] == 2
    assert counted["SkippedObjects"] == 1
    assert counted["BadRecords"] == 1


class FailingSNS:
    """An SNS client that refuses every publish (an outage, a throttle)."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def publish_batch(self, **kwargs: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "InternalError", "Message": "try again"}}, "PublishBatch"
        )

    def __getattr__(self, name: str) -> Callable[..., Any]:
        return getattr(self._real, name)


def test_publish_failure_fails_only_the_message_with_alerts(stack: Stack) -> None:
    stack.put(PREFIX + SAMPLE_KEY, (SAMPLES / SAMPLE_KEY).read_bytes())
    rt = get_runtime()
    rt.clients.set("sns", FailingSNS(boto3.client("sns")))
    event = sqs_event(
        json.dumps(fixture("s3_object_created.json")),
        json.dumps(s3_notification(PREFIX + DIGEST_KEY)),
    )

    result = invoke(event)

    assert result == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}

    # The redrive, once SNS is back, publishes both alerts.
    rt.clients.set("sns", boto3.client("sns"))
    retry = invoke(sqs_event(json.dumps(fixture("s3_object_created.json"))))
    assert retry == {"batchItemFailures": []}
    assert rules_and_times(stack.alerts()) == sorted([STOPPED, GUARDDUTY])


def test_publish_failure_fails_a_direct_eventbridge_invocation(stack: Stack) -> None:
    get_runtime().clients.set("sns", FailingSNS(boto3.client("sns")))

    with pytest.raises(cloudtrail_detector.PublishError):
        invoke(fixture("eventbridge_stop_logging.json"))


def test_eventbridge_event_through_sqs(stack: Stack) -> None:
    result = invoke(sqs_event(json.dumps(fixture("eventbridge_stop_logging.json"))))

    assert result == {"batchItemFailures": []}
    assert rules_and_times(stack.alerts()) == [STOPPED]


# -- one record never blinds a file ---------------------------------------------------


def _nested(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        # json's C decoder recursed into a RecursionError: the invocation failed.
        (_nested(1000), "record refused: nests deeper than 64 levels"),
        # Decodes, but rules, formatting and re-serialising must never see it.
        (_nested(100), "record refused: nests deeper than 64 levels"),
        # int() refuses it with a ValueError from deep inside the decoder.
        (
            '{"eventVersion":"1.08","n":' + "7" * 5000 + "}",
            "record refused: a number has more than 4,300 digits",
        ),
    ],
    ids=["1000-deep", "100-deep", "5000-digits"],
)
def test_a_hostile_record_is_quarantined_and_the_rest_of_the_file_evaluated(
    stack: Stack, capsys: pytest.CaptureFixture[str], bad: str, reason: str
) -> None:
    records = json.loads(gzip.decompress((SAMPLES / SAMPLE_KEY).read_bytes()))["Records"]
    texts = [json.dumps(r) for r in records]
    body = '{"Records":[' + ",".join([*texts[:2], bad, *texts[2:]]) + "]}"
    stack.put(PREFIX + SAMPLE_KEY, gzip.compress(body.encode()))

    result = invoke(fixture("s3_object_created.json"))

    # The trail being stopped is still reported: the crafted record blinded nothing.
    assert rules_and_times(stack.alerts()) == sorted([STOPPED, GUARDDUTY])
    (quarantined,) = stack.quarantined()
    assert quarantined["reason"] == reason
    assert quarantined["origin"] == f"s3://{BUCKET}/{PREFIX}{SAMPLE_KEY}:Records[2]"
    assert quarantined["payload"] == bad
    assert (result["events"], result["alerts"], result["quarantined"]) == (9, 2, 1)
    assert metrics(capsys.readouterr().out)["BadRecords"] == 1


def test_a_deep_eventbridge_detail_is_quarantined_not_a_crash(stack: Stack) -> None:
    deep: Any = 1
    for _ in range(200):
        deep = {"a": deep}
    event = fixture("eventbridge_stop_logging.json")
    event["detail"]["requestParameters"] = deep

    result = invoke(event)

    (bad,) = stack.quarantined()
    assert bad["reason"] == (
        "EventBridge 'AWS API Call via CloudTrail' event refused: its detail nests deeper"
        " than 64 levels"
    )
    assert bad["origin"] == f"lambda/request/{Context().aws_request_id}"
    assert result["quarantined"] == 1 and stack.alerts() == []


def test_a_1000_deep_sqs_body_fails_only_itself(stack: Stack) -> None:
    event = sqs_event(_nested(1000), json.dumps(fixture("eventbridge_stop_logging.json")))

    result = invoke(event)

    assert result == {"batchItemFailures": []}
    assert rules_and_times(stack.alerts()) == [STOPPED]
    (bad,) = stack.quarantined()
    assert bad["reason"] == "message body is not JSON: nests deeper than 64 levels"
    assert bad["origin"] == "sqs/lanner-cloudtrail-notifications/msg-0"


# -- S3 events through EventBridge ------------------------------------------------------


def s3_eventbridge(key: str, bucket: str = BUCKET) -> dict[str, Any]:
    """What S3 sends to EventBridge for a new object (the bucket's EventBridge setting on)."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-28T10:05:30Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": key.replace(" ", "+"),
                "size": 1711,
                "etag": "b1946ac92492d2347c6235b4d2611184",
                "sequencer": "00617F08299329D189",
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "cloudtrail.amazonaws.com",
            "source-ip-address": "cloudtrail.amazonaws.com",
            "reason": "PutObject",
        },
    }


def test_s3_object_created_through_eventbridge_is_read(stack: Stack) -> None:
    stack.put(PREFIX + SAMPLE_KEY, (SAMPLES / SAMPLE_KEY).read_bytes())

    result = invoke(s3_eventbridge(PREFIX + SAMPLE_KEY))

    assert rules_and_times(stack.alerts()) == sorted([STOPPED, GUARDDUTY])
    assert (result["objects"], result["events"], result["quarantined"]) == (1, 9, 0)
    assert stack.quarantined() == []


def test_s3_object_created_through_eventbridge_and_sqs_is_read(stack: Stack) -> None:
    stack.put(PREFIX + SAMPLE_KEY, (SAMPLES / SAMPLE_KEY).read_bytes())

    result = invoke(sqs_event(json.dumps(s3_eventbridge(PREFIX + SAMPLE_KEY))))

    assert result == {"batchItemFailures": []}
    assert rules_and_times(stack.alerts()) == sorted([STOPPED, GUARDDUTY])


def test_other_s3_eventbridge_events_need_no_work(stack: Stack) -> None:
    event = s3_eventbridge(PREFIX + SAMPLE_KEY)
    event["detail-type"] = "Object Deleted"

    result = invoke(event)

    assert (result["objects"], result["quarantined"]) == (0, 0)
    assert stack.quarantined() == [] and stack.alerts() == []
