"""The detectors' shared runtime: settings, the runtime cache, quarantine, metrics.

Also home of the helpers the other detector tests import (``make_stack``,
``FakeContext``, ``emf_totals``): a topic, a dedup table and a quarantine queue
in moto, with an SQS queue subscribed to the topic to read back what SNS sent.
"""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.dedup_table import create_dedup_table
from functions.runtime import (
    SettingsError,
    detector_handler,
    get_runtime,
    logger,
    metrics,
    reset_runtime,
)
from functions.settings import Settings, bundled_rules_dir
from lanner.priority import Priority

REPO = Path(__file__).resolve().parents[2]
SYSCALL_DATA = REPO / "tests" / "data" / "syscall"
AWS_DATA = Path(__file__).resolve().parent / "data"


@dataclass
class FakeContext:
    """What Lambda passes as ``context``, as far as the handlers and powertools read it."""

    function_name: str = "lanner-detector"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:lanner-detector"
    aws_request_id: str = "0f6b5a4c-2d1e-4c3b-9a8f-7e6d5c4b3a21"
    log_group_name: str = "/aws/lambda/lanner-detector"
    log_stream_name: str = "2026/11/28/[$LATEST]abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _drain(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    out: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        for m in got:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


@dataclass
class Stack:
    topic_arn: str
    table: str
    quarantine_url: str
    alerts_url: str
    bucket: str

    def alerts(self) -> list[dict[str, Any]]:
        """What SNS delivered since the last call: {"alert": the message, "attributes": {name: value}}."""
        out = []
        for env in _drain(self.alerts_url):
            attrs = {k: v["Value"] for k, v in env.get("MessageAttributes", {}).items()}
            types = {k: v["Type"] for k, v in env.get("MessageAttributes", {}).items()}
            out.append(
                {
                    "alert": json.loads(env["Message"]),
                    "attributes": attrs,
                    "types": types,
                    "subject": env.get("Subject"),
                }
            )
        return out

    def quarantined(self) -> list[dict[str, Any]]:
        return _drain(self.quarantine_url)


def make_stack(monkeypatch: pytest.MonkeyPatch, **env: str) -> Stack:
    """Topic, dedup table (TTL on "expires"), quarantine queue, a subscriber queue
    (raw delivery off, so attributes come back), an empty bucket; LANNER_* set."""
    sns, sqs, ddb = boto3.client("sns"), boto3.client("sqs"), boto3.client("dynamodb")
    topic = sns.create_topic(Name="lanner-alerts")["TopicArn"]
    table = "lanner-dedup"
    create_dedup_table(ddb, table)
    quarantine = sqs.create_queue(QueueName="lanner-quarantine")["QueueUrl"]
    inbox = sqs.create_queue(QueueName="alert-subscriber")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=inbox_arn["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "false"},
    )
    bucket = "lanner-rules"
    boto3.client("s3").create_bucket(Bucket=bucket)
    values = {
        "LANNER_ALERT_TOPIC_ARN": topic,
        "LANNER_DEDUP_TABLE": table,
        "LANNER_QUARANTINE_QUEUE_URL": quarantine,
        **env,
    }
    for name in ("LANNER_RULES_S3_URI", "LANNER_RULES_DIR", "LANNER_MIN_PRIORITY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    reset_runtime()
    metrics.clear_metrics()
    return Stack(topic, table, quarantine, inbox, bucket)


def emf_totals(stdout: str) -> dict[str, float]:
    """Metric name -> sum of its values over every EMF blob printed."""
    totals: dict[str, float] = {}
    for line in stdout.splitlines():
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        if not isinstance(blob, dict) or "_aws" not in blob:
            continue
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for m in directive["Metrics"]:
                value = blob[m["Name"]]
                values = value if isinstance(value, list) else [value]
                totals[m["Name"]] = totals.get(m["Name"], 0) + sum(values)
    return totals


def emf_blobs(stdout: str) -> list[dict[str, Any]]:
    out = []
    for line in stdout.splitlines():
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        if isinstance(blob, dict) and "_aws" in blob:
            out.append(blob)
    return out


class LogRecords(logging.Handler):
    """Collects the records the powertools logger emits (it does not propagate)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self, level: int = logging.DEBUG) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= level]


@pytest.fixture
def logs() -> Iterator[LogRecords]:
    handler = LogRecords()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def stack(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    yield make_stack(monkeypatch)
    reset_runtime()


# --- settings ---


def test_settings_name_every_missing_variable() -> None:
    with pytest.raises(SettingsError) as err:
        Settings.from_env({})
    for name in ("LANNER_ALERT_TOPIC_ARN", "LANNER_DEDUP_TABLE", "LANNER_QUARANTINE_QUEUE_URL"):
        assert name in str(err.value)


def test_settings_defaults_and_parsing() -> None:
    base = {
        "LANNER_ALERT_TOPIC_ARN": "arn",
        "LANNER_DEDUP_TABLE": "t",
        "LANNER_QUARANTINE_QUEUE_URL": "q",
    }
    s = Settings.from_env(base)
    assert s.rules_dir == bundled_rules_dir() == REPO / "rules"
    assert (s.rules_s3_uri, s.rules_refresh_seconds, s.min_priority, s.dedup_ttl_seconds) == (
        None,
        60,
        Priority.DEBUG,
        86400,
    )
    s = Settings.from_env(
        {
            **base,
            "LANNER_RULES_S3_URI": "s3://bucket/team/rules/",
            "LANNER_MIN_PRIORITY": "warning",
            "LANNER_RULES_REFRESH_SECONDS": "5",
            "LANNER_RULES_DIR": "/opt/rules",
        }
    )
    assert s.rules_s3_location == ("bucket", "team/rules/")
    assert s.min_priority is Priority.WARNING
    assert s.rules_refresh_seconds == 5
    assert s.rules_dir == Path("/opt/rules")
    # An empty variable (a template parameter left blank) means no override.
    assert Settings.from_env({**base, "LANNER_RULES_S3_URI": ""}).rules_s3_location is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LANNER_RULES_S3_URI", "https://bucket/rules"),
        ("LANNER_MIN_PRIORITY", "loud"),
        ("LANNER_RULES_REFRESH_SECONDS", "-1"),
        ("LANNER_DEDUP_TTL_SECONDS", "0"),
    ],
)
def test_settings_reject_bad_values(name: str, value: str) -> None:
    base = {
        "LANNER_ALERT_TOPIC_ARN": "arn",
        "LANNER_DEDUP_TABLE": "t",
        "LANNER_QUARANTINE_QUEUE_URL": "q",
    }
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({**base, name: value})


# --- the runtime cache ---


def test_runtime_and_engine_are_built_once_per_container(stack: Stack) -> None:
    rt = get_runtime()
    engine = rt.engine()
    assert get_runtime() is rt
    assert rt.engine() is engine
    assert rt.engine().rules_for("syscall")  # the bundled rules
    reset_runtime()
    assert get_runtime() is not rt


def test_runtime_needs_the_environment(aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANNER_ALERT_TOPIC_ARN", raising=False)
    reset_runtime()
    with pytest.raises(SettingsError, match="LANNER_ALERT_TOPIC_ARN"):
        get_runtime()


def test_evaluate_counts_events_in_and_latency(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads((SYSCALL_DATA / "dev_tcp_reverse_shell.json").read_text())
    benign = json.loads((SYSCALL_DATA / "dev_tcp_reverse_shell.benign_devnull.json").read_text())

    @detector_handler("syscall")
    def handler(event: Any, context: Any) -> list[str]:
        return [a.rule for a in get_runtime().evaluate([doc, benign], "syscall")]

    assert handler({}, FakeContext()) == ["Shell Command Uses Dev TCP"]
    out = capsys.readouterr().out
    assert emf_totals(out)["EventsIn"] == 2
    [blob] = emf_blobs(out)
    assert blob["source"] == "syscall"
    assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "lanner"
    assert "DetectLatencyMs" in blob


def test_metrics_are_flushed_when_the_handler_fails(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    @detector_handler("k8s_audit")
    def handler(event: Any, context: Any) -> None:
        get_runtime().count("BadRecords", 1)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        handler({}, FakeContext())
    out = capsys.readouterr().out
    assert emf_totals(out) == {"BadRecords": 1}
    assert [b["source"] for b in emf_blobs(out)] == ["k8s_audit"]


# --- quarantine ---


def test_quarantine_keeps_text_as_text_and_binary_as_base64(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    rt = get_runtime()

    @detector_handler("syscall")
    def handler(event: Any, context: Any) -> None:
        rt.quarantine.put(
            "k8s_audit", "log event is not JSON", "not json {", "/aws/eks/demo/cluster/s/1"
        )
        rt.quarantine.put(
            "syscall",
            "truncated batch",
            b"LNB1\x78\x9c\x00\xff",
            "lanner-events/shardId-000000000000/42",
        )

    handler({}, FakeContext())
    text, binary = stack.quarantined()
    assert text["payload"] == "not json {" and "encoding" not in text
    assert (text["source"], text["reason"], text["origin"]) == (
        "k8s_audit",
        "log event is not JSON",
        "/aws/eks/demo/cluster/s/1",
    )
    assert binary["encoding"] == "base64"
    assert base64.b64decode(binary["payload"]) == b"LNB1\x78\x9c\x00\xff"
    assert binary["origin"] == "lanner-events/shardId-000000000000/42"
    assert binary["time"].endswith("Z")
    assert emf_totals(capsys.readouterr().out)["BadRecords"] == 2


def test_quarantine_cuts_a_huge_payload_and_says_so(stack: Stack) -> None:
    rt = get_runtime()
    rt.quarantine.put("syscall", "not a lanner batch", b"x" * (600 * 1024), "s/shard/1")
    [msg] = stack.quarantined()
    assert msg["truncated"] is True
    assert msg["size"] == 600 * 1024
    assert len(msg["payload"]) < 256 * 1024
    metrics.clear_metrics()


def test_importing_a_detector_builds_no_aws_client() -> None:
    # Cold start: boto3 (~200 ms with a client) is imported when a client is first needed.
    code = (
        "import sys, functions.kinesis_detector, functions.eks_audit_detector; "
        "print(sorted(m for m in ('boto3', 'botocore.client') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
