"""The CloudTrail detector's input, without AWS: log keys, notice shapes, streamed log files."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from functions.cloudtrail_input import (
    CHUNK,
    BadRecord,
    Damaged,
    Ignored,
    LogKey,
    LogRecord,
    NotALog,
    ObjectsCreated,
    S3Object,
    TrailEvent,
    Unrecognised,
    is_sqs_event,
    parse_log_key,
    parse_message_body,
    parse_notice,
    read_log,
)

ROOT = Path(__file__).resolve().parent.parent
LOGS = (
    ROOT
    / "samples"
    / "AWSLogs"
    / "123456789012"
    / "CloudTrail"
    / "us-east-1"
    / "2026"
    / "11"
    / "28"
)
SAMPLE = LOGS / "123456789012_CloudTrail_us-east-1_20261128T1005Z_b2Wr5Cxwiqwe2faz.json.gz"
DATA = Path(__file__).resolve().parent / "aws" / "data" / "cloudtrail"

# -- keys -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (
            "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/28/123456789012_CloudTrail_us-east-1_20261128T1005Z_b2Wr5Cxwiqwe2faz.json.gz",
            LogKey("123456789012", "us-east-1", "2026/11/28", None),
        ),
        (
            "AWSLogs/o-a1b2c3d4e5/210987654321/CloudTrail/eu-west-3/2026/01/02/210987654321_CloudTrail_eu-west-3_20260102T0000Z_x.json.gz",
            LogKey("210987654321", "eu-west-3", "2026/01/02", "o-a1b2c3d4e5"),
        ),
        (
            "my trail/prefix/AWSLogs/123456789012/CloudTrail/us-gov-west-1/2026/11/28/f.json.gz",
            LogKey("123456789012", "us-gov-west-1", "2026/11/28", None),
        ),
        (
            "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/28/f.json",
            LogKey("123456789012", "us-east-1", "2026/11/28", None),
        ),
    ],
)
def test_log_keys_give_account_region_and_organisation(key: str, expected: LogKey) -> None:
    assert parse_log_key(key) == expected


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (
            "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/11/28/123456789012_CloudTrail-Digest_us-east-1_management-events_us-east-1_20261128T1105Z.json.gz",
            "CloudTrail digest file",
        ),
        (
            "AWSLogs/o-a1b2c3d4e5/123456789012/CloudTrail-Digest/us-east-1/2026/11/28/d.json.gz",
            "CloudTrail digest file",
        ),
        (
            "AWSLogs/123456789012/CloudTrail-Insight/us-east-1/2026/11/28/i.json.gz",
            "CloudTrail Insights file",
        ),
        (
            "AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/28/lb.log.gz",
            "not a CloudTrail log (elasticloadbalancing under AWSLogs/)",
        ),
        (
            "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/28/notes.txt",
            "not a .json.gz log file",
        ),
        ("exports/orders.csv", "not under AWSLogs/<account>/CloudTrail/"),
        (
            "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/f.json.gz",
            "not under AWSLogs/<account>/CloudTrail/",
        ),
    ],
)
def test_keys_that_are_not_logs_are_passed_over_with_a_reason(key: str, reason: str) -> None:
    assert parse_log_key(key) == NotALog(reason)


# -- notices -----------------------------------------------------------------------


def s3_notification(
    *keys: str, event: str = "ObjectCreated:Put", bucket: str = "trail-bucket"
) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-28T10:10:00.000Z",
                "eventName": event,
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": key, "size": 2048, "eTag": "0123456789abcdef"},
                },
            }
            for key in keys
        ]
    }


def test_s3_notification_keys_are_url_decoded() -> None:
    notice = parse_notice(
        s3_notification("my+trail/AWSLogs/123456789012/CloudTrail/x%3Dy/f.json.gz")
    )
    assert notice == ObjectsCreated(
        (S3Object("trail-bucket", "my trail/AWSLogs/123456789012/CloudTrail/x=y/f.json.gz", 2048),),
        0,
    )
    assert (
        notice.objects[0].origin
        == "s3://trail-bucket/my trail/AWSLogs/123456789012/CloudTrail/x=y/f.json.gz"
    )


def test_s3_notification_other_events_are_counted_not_read() -> None:
    doc = s3_notification("a.json.gz")
    doc["Records"] += s3_notification("b.json.gz", event="ObjectRemoved:Delete")["Records"]
    notice = parse_notice(doc)
    assert notice == ObjectsCreated((S3Object("trail-bucket", "a.json.gz", 2048),), others=1)


def test_s3_notification_without_key_is_unrecognised() -> None:
    doc = s3_notification("a.json.gz")
    del doc["Records"][0]["s3"]["object"]["key"]
    assert parse_notice(doc) == Unrecognised("S3 notification Records[0] has no bucket name or key")


def test_sqs_body_holding_an_s3_notification() -> None:
    notice = parse_message_body(json.dumps(s3_notification("AWSLogs/k.json.gz")))
    assert notice == ObjectsCreated((S3Object("trail-bucket", "AWSLogs/k.json.gz", 2048),), 0)


def test_sqs_body_holding_an_sns_wrapped_s3_notification() -> None:
    envelope = {
        "Type": "Notification",
        "MessageId": "5f0c1c2e-0000-4000-8000-000000000001",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:trail-logs",
        "Subject": "Amazon S3 Notification",
        "Message": json.dumps(s3_notification("AWSLogs/a%20b.json.gz")),
    }
    notice = parse_message_body(json.dumps(envelope))
    assert notice == ObjectsCreated((S3Object("trail-bucket", "AWSLogs/a b.json.gz", 2048),), 0)


def test_sns_to_lambda_event_is_unwrapped() -> None:
    event = {
        "Records": [
            {
                "EventSource": "aws:sns",
                "Sns": {
                    "Type": "Notification",
                    "Message": json.dumps(s3_notification("k.json.gz")),
                },
            }
        ]
    }
    assert parse_notice(event) == ObjectsCreated((S3Object("trail-bucket", "k.json.gz", 2048),), 0)


def test_s3_test_event_needs_no_work() -> None:
    body = {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-11-28T10:00:00.000Z",
        "Bucket": "trail-bucket",
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE",
    }
    assert parse_message_body(json.dumps(body)) == Ignored("S3 test event")


def test_sqs_body_that_is_not_json() -> None:
    assert parse_message_body("hello") == Unrecognised(
        "message body is not JSON: Expecting value: line 1 column 1 (char 0)"
    )


def eventbridge(detail_type: str = "AWS API Call via CloudTrail", **detail: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": "aws.cloudtrail",
        "account": "123456789012",
        "time": "2026-11-28T10:04:12Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "eventID": "a6ae78ca-d804-4b8e-ae0f-eec05e78bb73",
            **detail,
        },
    }


@pytest.mark.parametrize(
    "detail_type",
    [
        "AWS API Call via CloudTrail",
        "AWS Console Signin via CloudTrail",
        "AWS Console Sign In via CloudTrail",
        "AWS Service Event via CloudTrail",
        "AWS Console Action via CloudTrail",
    ],
)
def test_eventbridge_cloudtrail_events_carry_the_record(detail_type: str) -> None:
    notice = parse_notice(eventbridge(detail_type, eventName="StopLogging"))
    assert isinstance(notice, TrailEvent)
    assert notice.record["eventName"] == "StopLogging"
    assert notice.origin == "eventbridge:a6ae78ca-d804-4b8e-ae0f-eec05e78bb73"


def test_eventbridge_insight_is_ignored_and_other_detail_types_unrecognised() -> None:
    assert parse_notice(eventbridge("AWS Insight via CloudTrail")) == Ignored(
        "CloudTrail Insights event"
    )
    assert parse_notice(eventbridge("EC2 Instance State-change Notification")) == Unrecognised(
        "EventBridge event 'EC2 Instance State-change Notification' is not from CloudTrail"
    )


def test_eventbridge_event_inside_an_sqs_body() -> None:
    assert isinstance(parse_message_body(json.dumps(eventbridge())), TrailEvent)


def test_unknown_shapes_are_unrecognised() -> None:
    for doc in ({"hello": "world"}, [1, 2], {"Records": [{"eventSource": "aws:kinesis"}]}):
        assert isinstance(parse_notice(doc), Unrecognised)


def test_sqs_events_are_told_from_the_rest() -> None:
    assert is_sqs_event({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]})
    assert not is_sqs_event(s3_notification("k"))
    assert not is_sqs_event(eventbridge())
    assert not is_sqs_event({"Records": []})


# -- log files --------------------------------------------------------------------------


def records_of(items: list[Any]) -> list[str]:
    return [i.doc["eventID"] for i in items if isinstance(i, LogRecord)]


def test_sample_file_is_read_record_by_record() -> None:
    items = list(read_log(io.BytesIO(SAMPLE.read_bytes())))
    expected = json.loads(gzip.decompress(SAMPLE.read_bytes()))["Records"]
    assert [i.index for i in items] == list(range(9))
    assert [i.doc for i in items if isinstance(i, LogRecord)] == expected


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_chunk_boundaries_do_not_change_what_is_read(chunk: int) -> None:
    doc = b'\xef\xbb\xbf {"meta": {"x": [1, "]}"]}, "Records": [ {"eventID": "a", "n": 12345678}, 42, "s\\"}", {"eventID": "b\\u00e9"} ], "z": null }\n'
    items = list(read_log(io.BytesIO(doc), chunk=chunk))
    assert items == [
        LogRecord(0, {"eventID": "a", "n": 12345678}),
        BadRecord(1, "record is not a JSON object (it is a number)", "42"),
        BadRecord(2, "record is not a JSON object (it is a string)", '"s\\"}"'),
        LogRecord(3, {"eventID": "bé"}),
    ]


@pytest.mark.parametrize("chunk", [64, CHUNK])
def test_truncated_gzip_keeps_the_records_before_the_damage(chunk: int) -> None:
    data = SAMPLE.read_bytes()
    items = list(read_log(io.BytesIO(data[: len(data) * 2 // 3]), chunk=chunk))
    *good, damage = items
    assert damage == Damaged("truncated gzip stream (the object is incomplete)", records=len(good))
    assert 0 < len(good) < 9
    assert records_of(good) == records_of(list(read_log(io.BytesIO(data))))[: len(good)]


def test_corrupt_gzip_is_damage() -> None:
    data = bytearray(SAMPLE.read_bytes())
    data[2] = 9  # compression method: only 8 (deflate) exists
    assert list(read_log(io.BytesIO(bytes(data)))) == [
        Damaged("corrupt gzip stream: Unknown compression method", 0)
    ]
    data = bytearray(SAMPLE.read_bytes())
    data[-8] ^= 0xFF  # the CRC-32 of the content, checked after the last record
    items = list(read_log(io.BytesIO(bytes(data))))
    *good, damage = items
    assert len(good) == 9
    assert isinstance(damage, Damaged)
    assert damage.reason.startswith("corrupt gzip stream: CRC check failed")
    assert damage.records == 9


def test_truncated_plain_json_keeps_the_records_before() -> None:
    doc = b'{"Records":[{"eventID":"a"},{"eventID":"b"},{"eventID":"c", "requestParameters": {"bucketN'
    items = list(read_log(io.BytesIO(doc), chunk=5))
    assert records_of(items) == ["a", "b"]
    assert items[-1] == Damaged(
        "the document ends inside Records[2] (the object is truncated)", records=2
    )


def test_json_cut_between_records_says_where() -> None:
    items = list(read_log(io.BytesIO(gzip.compress(b'{"Records":[{"eventID":"a"},'))))
    assert items == [
        LogRecord(0, {"eventID": "a"}),
        Damaged("the document ends before Records[1] (the object is truncated)", 1),
    ]


def test_syntax_error_inside_a_record_stops_the_read_there() -> None:
    items = list(
        read_log(io.BytesIO(b'{"Records":[{"eventID":"a"},{"eventID":tru},{"eventID":"c"}]}'))
    )
    assert items == [
        LogRecord(0, {"eventID": "a"}),
        Damaged("not JSON in Records[1]: Expecting value", 1),
    ]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (gzip.compress(b"not json at all"), "not JSON: the file starts with 'not json at all'"),
        (b'[{"eventID": "a"}]', 'not JSON: the file starts with \'[{"eventID": "a"}]\''),
        (b'{"digestStartTime": "2026-11-28T10:05:00Z"}', "not a CloudTrail log: no Records array"),
        (b'{"Records": {"eventID": "a"}}', "not a CloudTrail log: Records is not an array"),
        (b'{"Records": []} {"Records": []}', "not JSON: data after the end of the document"),
        (b'{"Records": [{"eventID": "\xff"}]}', "not UTF-8 text (invalid start byte)"),
    ],
)
def test_files_that_are_not_cloudtrail_logs(data: bytes, reason: str) -> None:
    assert list(read_log(io.BytesIO(data))) == [Damaged(reason, 0)]


def test_one_oversized_record_stops_the_read() -> None:
    doc = b'{"Records":[{"eventID":"a"},{"eventID":"' + b"x" * 5000 + b'"},{"eventID":"c"}]}'
    items = list(read_log(io.BytesIO(doc), chunk=256, max_record=1024 * 1024))
    assert records_of(items) == ["a", "x" * 5000, "c"]
    items = list(read_log(io.BytesIO(doc), chunk=256, max_record=1000))
    assert records_of(items) == ["a"]
    assert items[-1] == Damaged(
        "Records[1] is larger than 1000 characters; the rest is not read", 1
    )


class CountingBody:
    """An object body that counts the compressed bytes handed out."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.read_bytes = 0

    def read(self, size: int = -1, /) -> bytes:
        chunk = self._data.read(size)
        self.read_bytes += len(chunk)
        return chunk


def test_a_large_file_is_streamed_not_loaded() -> None:
    records = [
        {
            "eventID": f"{i:08d}",
            "eventName": "GetObject",
            "requestParameters": {"key": hashlib.sha256(b"%d" % i).hexdigest(), "n": i},
        }
        for i in range(40_000)
    ]
    data = gzip.compress(json.dumps({"Records": records}).encode(), mtime=0)
    body = CountingBody(data)
    items = read_log(body)
    first = next(items)
    # The first record arrives after a small part of the object has been read.
    assert first == LogRecord(0, records[0])
    assert body.read_bytes < len(data) // 4
    rest = list(items)
    assert body.read_bytes == len(data)
    assert len(rest) == 39_999
    assert rest[-1] == LogRecord(39_999, records[-1])
