"""The delivery Lambda end to end: SQS records from a delivery queue in moto, the
destination's secret in moto's Secrets Manager, and the destinations themselves as HTTP
stand-ins on 127.0.0.1 (``cli.endpoints.Recorder``).

Records are received from the queue with ``VisibilityTimeout=0``: nothing hides a message
but the handler's own ChangeMessageVisibility, so "not receivable" proves the handler
deferred it. After each invocation the helper does what Lambda's SQS poller does: it
deletes the messages of the records that did not fail.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from click.testing import CliRunner
from standardwebhooks import Webhook
from test_runtime import emf_blobs

from cli.endpoints import Recorder, Reply
from cli.main import main
from deliver.alert import parse_alert
from deliver.fingerprint import fingerprint
from deliver.retry import RetryPolicy
from functions.deliver_handler import handler, reset_state, state
from functions.runtime import logger, metrics

REGION = "us-east-1"
ACCOUNT = "123456789012"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:lanner-deliver-slack"
# The secret part of a Slack incoming-webhook URL is its path.
SLACK_TOKEN = "XySecretSlackToken0123456789"
SLACK_PATH = f"/services/T0LANNER1/B0LANNER2/{SLACK_TOKEN}"
WEBHOOK_KEY = base64.b64encode(bytes(range(7, 39))).decode()  # 32 bytes
WEBHOOK_SECRET = "whsec_" + WEBHOOK_KEY
ROUTING_KEY = "R" * 32


# --- fixtures and helpers ----------------------------------------------------------------


@dataclass
class FakeContext:
    """The Lambda context, as far as the handler and powertools read it."""

    remaining_ms: int = 60_000
    function_name: str = "lanner-deliver-slack"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = FUNCTION_ARN
    aws_request_id: str = "6d2c1f0e-4b3a-4c5d-8e7f-9a0b1c2d3e4f"
    log_group_name: str = "/aws/lambda/lanner-deliver-slack"
    log_stream_name: str = "2026/11/28/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class Queues:
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str


@dataclass
class Sleeps:
    """Stands in for ``State.sleep``: keeps what it was asked to wait, waits nothing."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@dataclass
class SqsSpy:
    """The real SQS client, with its ChangeMessageVisibility calls kept."""

    client: Any
    visibility: list[dict[str, Any]] = field(default_factory=list)

    def change_message_visibility(self, **kwargs: Any) -> Any:
        self.visibility.append(kwargs)
        return self.client.change_message_visibility(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


@pytest.fixture
def queues(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Queues]:
    """A delivery queue whose dead-letter queue is ``dlq`` (maxReceiveCount 3)."""
    sqs = boto3.client("sqs")
    dlq_url = sqs.create_queue(QueueName="lanner-deliver-slack-dlq")["QueueUrl"]
    dlq_arn = arn_of(dlq_url)
    url = sqs.create_queue(
        QueueName="lanner-deliver-slack",
        Attributes={
            "VisibilityTimeout": "60",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
        },
    )["QueueUrl"]
    monkeypatch.setenv("LANNER_DEAD_LETTER_QUEUE_URL", dlq_url)
    monkeypatch.delenv("LANNER_FINGERPRINT_FIELDS", raising=False)
    # Each test builds its container state and reads its secret afresh.
    reset_state()
    parameters.clear_caches()
    metrics.clear_metrics()
    yield Queues(url, arn_of(url), dlq_url, dlq_arn)
    reset_state()
    parameters.clear_caches()
    metrics.clear_metrics()


@pytest.fixture
def slack(queues: Queues, monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    with Recorder(path=SLACK_PATH) as r:
        configure(monkeypatch, "slack", {"url": r.url})
        yield r


@pytest.fixture
def webhook(queues: Queues, monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    with Recorder(path="/lanner/alerts") as r:
        configure(
            monkeypatch,
            "webhook",
            {"url": r.url, "secret": WEBHOOK_SECRET, "headers": {"X-Team": "sec"}},
        )
        yield r


@pytest.fixture
def pagerduty(queues: Queues, monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    accepted = Reply(
        202, json.dumps({"status": "success", "message": "Event processed", "dedup_key": "x"})
    )
    with Recorder(default=accepted, path="/v2/enqueue") as r:
        configure(monkeypatch, "pagerduty", {"routing_key": ROUTING_KEY, "url": r.url})
        yield r


def arn_of(url: str) -> str:
    got = boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(got["Attributes"]["QueueArn"])


def configure(monkeypatch: pytest.MonkeyPatch, destination: str, secret: dict[str, Any]) -> None:
    arn = boto3.client("secretsmanager").create_secret(
        Name=f"lanner/deliver/{destination}", SecretString=json.dumps(secret)
    )["ARN"]
    monkeypatch.setenv("LANNER_DESTINATION", destination)
    monkeypatch.setenv("LANNER_DESTINATION_SECRET", arn)


def alert_doc(rule: str = "Terminal shell in container", **extra: Any) -> dict[str, Any]:
    """A Falco alert as the topic delivers it (raw message delivery)."""
    doc: dict[str, Any] = {
        "rule": rule,
        "priority": "Warning",
        "output": (
            "10:21:07.123456789: Warning A shell was spawned in a container with an attached "
            "terminal (user=root shell=bash parent=runc cmdline=bash -il "
            "container_id=3f2a1b4c5d6e image=nginx:1.25)"
        ),
        "time": "2026-11-28T10:21:07.123456789Z",
        "source": "syscall",
        "hostname": "node-7.prod.example.net",
        "tags": ["container", "shell", "mitre_execution", "T1059"],
        "output_fields": {
            "evt.time": 1795861267123456789,
            "user.name": "root",
            "proc.name": "bash",
            "proc.pname": "runc",
            "proc.cmdline": "bash -il",
            "proc.pid": 4242,
            "container.id": "3f2a1b4c5d6e",
            "container.image.repository": "nginx",
            "k8s.ns.name": "shop",
            "k8s.pod.name": "web-6d4cf56db6-x7k2p",
        },
        "uuid": "8c1a7e52-3b4d-4f6a-9e0b-2d5c7f8a1b3e",
    }
    doc.update(extra)
    return doc


def put(queues: Queues, *bodies: str) -> None:
    sqs = boto3.client("sqs")
    for body in bodies:
        sqs.send_message(QueueUrl=queues.url, MessageBody=body)


def receive(url: str) -> list[dict[str, Any]]:
    return list(
        boto3.client("sqs")
        .receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            VisibilityTimeout=0,
            WaitTimeSeconds=0,
        )
        .get("Messages", [])
    )


def sqs_record(m: dict[str, Any], queues: Queues) -> dict[str, Any]:
    """One record of the Lambda SQS event, as the event source mapping builds it."""
    attrs = {
        k: {
            "stringValue": v.get("StringValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": v["DataType"],
        }
        for k, v in m.get("MessageAttributes", {}).items()
    }
    return {
        "messageId": m["MessageId"],
        "receiptHandle": m["ReceiptHandle"],
        "body": m["Body"],
        "attributes": dict(m.get("Attributes", {})),
        "messageAttributes": attrs,
        "md5OfBody": m["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queues.arn,
        "awsRegion": REGION,
    }


def invoke(queues: Queues, context: FakeContext | None = None) -> dict[str, Any]:
    """Receives what is on the queue, calls the handler with it, and deletes the messages of
    the records that succeeded (Lambda's poller). Returns the handler's answer."""
    got = receive(queues.url)
    assert got, "nothing on the delivery queue"
    event = {"Records": [sqs_record(m, queues) for m in got]}
    result = handler(event, context or FakeContext())
    assert isinstance(result, dict)
    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    sqs = boto3.client("sqs")
    for m in got:
        if m["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=queues.url, ReceiptHandle=m["ReceiptHandle"])
    return result


def prepare(
    context: FakeContext | None = None, policy: RetryPolicy | None = None
) -> tuple[Sleeps, SqsSpy]:
    """Builds the container state the handler will use, with the sleep and SQS spied on."""
    st = state(context or FakeContext())
    sleeps = Sleeps()
    st.sleep = sleeps
    if policy is not None:
        st.policy = policy
    spy = SqsSpy(boto3.client("sqs"))
    st.clients.set("sqs", spy)
    return sleeps, spy


def dead_letters(queues: Queues) -> list[dict[str, Any]]:
    """What the DLQ holds: {"body", "attributes": {name: value}}; left on the queue."""
    return [
        {
            "body": m["Body"],
            "attributes": {k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()},
        }
        for m in receive(queues.dlq_url)
    ]


def depth(url: str) -> int:
    """Messages on a queue, visible or not (a received message is still there)."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    got = boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=names)
    return sum(int(got["Attributes"][n]) for n in names)


def emf(stdout: str) -> dict[str, tuple[float, dict[str, str]]]:
    """Metric name -> (value, its dimensions), from the EMF blobs printed."""
    out: dict[str, tuple[float, dict[str, str]]] = {}
    for blob in emf_blobs(stdout):
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            dims = {d: str(blob[d]) for ds in directive["Dimensions"] for d in ds}
            for m in directive["Metrics"]:
                value = blob[m["Name"]]
                total = sum(value) if isinstance(value, list) else value
                assert m["Name"] not in out, f"{m['Name']} flushed twice"
                out[m["Name"]] = (total, dims)
    return out


def slack_message(r: Recorder, i: int = 0) -> dict[str, Any]:
    assert r.requests[i].path == SLACK_PATH
    return dict(json.loads(r.requests[i].body))


# --- delivered -------------------------------------------------------------------------


def test_slack_gets_a_block_kit_message(
    slack: Recorder, queues: Queues, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = alert_doc()
    put(queues, json.dumps(doc))
    sleeps, spy = prepare()
    assert invoke(queues) == {"batchItemFailures": []}

    assert len(slack.requests) == 1
    msg = slack_message(slack)
    header = msg["blocks"][0]
    assert header["type"] == "header"
    assert header["text"]["text"] == "Warning: Terminal shell in container"
    assert "Terminal shell in container" in msg["text"]
    [attachment] = msg["attachments"]
    assert attachment["blocks"][0]["type"] == "section"
    assert "A shell was spawned" in attachment["blocks"][0]["text"]["text"]
    assert msg["unfurl_links"] is False
    assert sleeps.waits == [] and spy.visibility == []
    assert receive(queues.url) == [] and dead_letters(queues) == []

    metrics_out = emf(capsys.readouterr().out)
    assert metrics_out["Delivered"] == (1, {"destination": "slack"})
    assert "DeadLettered" not in metrics_out and "Retried" not in metrics_out
    value, dims = metrics_out["AlertsDelivered"]
    assert value == 1
    assert dims == {
        "destination": "slack",
        "priority": "Warning",
        "rule": "Terminal shell in container",
    }


def test_webhook_is_signed_and_carries_the_alert_as_it_came(
    webhook: Recorder, queues: Queues
) -> None:
    doc = alert_doc()
    put(queues, json.dumps(doc))
    prepare()
    assert invoke(queues) == {"batchItemFailures": []}

    [req] = webhook.requests
    assert req.path == "/lanner/alerts"
    assert req.headers["x-team"] == "sec"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["webhook-id"] == doc["uuid"]
    # An independent receiver: Standard Webhooks' own verification, with the secret.
    verified = Webhook(WEBHOOK_SECRET).verify(req.body, req.headers)
    assert verified == doc
    assert json.loads(req.body) == doc
    with pytest.raises(Exception, match=r"(?i)signature"):
        Webhook("whsec_" + base64.b64encode(b"\x01" * 32).decode()).verify(req.body, req.headers)


def test_pagerduty_gets_a_trigger_keyed_by_the_incident(
    pagerduty: Recorder, queues: Queues
) -> None:
    first = alert_doc()
    # The same incident seen on another node (another pod of the workload, another pid).
    second = alert_doc(
        hostname="node-9.prod.example.net",
        uuid="0d9e8f7a-6b5c-4d3e-8f1a-2b3c4d5e6f70",
        output_fields={
            **first["output_fields"],
            "proc.pid": 99,
            "k8s.pod.name": "web-6d4cf56db6-q9w8e",
        },
    )
    put(queues, json.dumps(first), json.dumps(second))
    prepare()
    assert invoke(queues) == {"batchItemFailures": []}

    events = [json.loads(r.body) for r in pagerduty.requests]
    assert len(events) == 2
    for event in events:
        assert event["routing_key"] == ROUTING_KEY
        assert event["event_action"] == "trigger"
        assert event["payload"]["severity"] == "warning"
        assert "Terminal shell in container" in event["payload"]["summary"]
    key = fingerprint(parse_alert(json.dumps(first)))
    assert [e["dedup_key"] for e in events] == [key, key]
    assert sorted(e["payload"]["custom_details"]["uuid"] for e in events) == sorted(
        [first["uuid"], second["uuid"]]
    )


# --- retried inside the invocation -------------------------------------------------------


def test_429_waits_its_retry_after_then_delivers(
    slack: Recorder, queues: Queues, capsys: pytest.CaptureFixture[str]
) -> None:
    slack.script(Reply(429, "rate_limited", {"Retry-After": "1"}))
    put(queues, json.dumps(alert_doc()))
    sleeps, spy = prepare()
    assert invoke(queues) == {"batchItemFailures": []}
    assert len(slack.requests) == 2
    assert slack_message(slack, 0) == slack_message(slack, 1)
    assert sleeps.waits == [1.0]
    assert spy.visibility == []
    assert dead_letters(queues) == [] and receive(queues.url) == []
    out = emf(capsys.readouterr().out)
    assert out["Delivered"][0] == 1 and out["Retried"] == (1, {"destination": "slack"})


def test_503_twice_then_delivered(
    slack: Recorder, queues: Queues, capsys: pytest.CaptureFixture[str]
) -> None:
    slack.script(Reply(503, "busy"), Reply(503, "busy"))
    put(queues, json.dumps(alert_doc()))
    sleeps, spy = prepare()
    assert invoke(queues) == {"batchItemFailures": []}
    assert len(slack.requests) == 3
    assert len(sleeps.waits) == 2 and all(0 <= w <= 30 for w in sleeps.waits)
    assert spy.visibility == [] and dead_letters(queues) == []
    out = emf(capsys.readouterr().out)
    assert out["Delivered"][0] == 1 and out["Retried"][0] == 2


# --- dead letters ----------------------------------------------------------------------


def test_a_permanent_answer_dead_letters_the_alert_unchanged(
    slack: Recorder, queues: Queues, capsys: pytest.CaptureFixture[str]
) -> None:
    slack.script(Reply(404, "no_service"))
    body = json.dumps(alert_doc(), indent=1)  # not our own serialisation: kept byte for byte
    put(queues, body)
    sleeps, spy = prepare()
    assert invoke(queues) == {"batchItemFailures": []}

    assert len(slack.requests) == 1 and sleeps.waits == [] and spy.visibility == []
    [dead] = dead_letters(queues)
    assert dead["body"] == body
    assert dead["attributes"]["destination"] == "slack"
    assert dead["attributes"]["answer"] == "HTTP 404: no_service"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", dead["attributes"]["failed_at"])
    assert receive(queues.url) == []
    out = emf(capsys.readouterr().out)
    assert out["DeadLettered"] == (1, {"destination": "slack"})
    assert "Delivered" not in out and "Retried" not in out


def test_a_body_that_is_not_an_alert_is_dead_lettered_with_why(
    slack: Recorder, queues: Queues
) -> None:
    put(queues, "hello")
    prepare()
    assert invoke(queues) == {"batchItemFailures": []}
    put(queues, json.dumps({"output": "no rule here", "priority": "Warning"}))
    assert invoke(queues) == {"batchItemFailures": []}

    assert slack.requests == []
    got = {d["body"]: d["attributes"] for d in dead_letters(queues)}
    assert got["hello"]["answer"].startswith("not an alert: not JSON")
    no_rule = got[json.dumps({"output": "no rule here", "priority": "Warning"})]
    assert no_rule["answer"].startswith("not an alert") and "rule" in no_rule["answer"]
    assert no_rule["destination"] == "slack"


def test_redrive_sends_dead_letters_back_to_be_delivered(slack: Recorder, queues: Queues) -> None:
    slack.script(Reply(404, "no_service"))
    body = json.dumps(alert_doc())
    put(queues, body)
    prepare()
    assert invoke(queues) == {"batchItemFailures": []}
    assert len(dead_letters(queues)) == 1
    assert receive(queues.url) == []
    # Fixed: the stand-in answers 200 from now on (its default).

    result = CliRunner().invoke(main, ["alerts", "redrive", "--queue", queues.dlq_url])
    assert result.exit_code == 0, result.output
    assert f"redriven 1 message(s) to {queues.url}" in result.output
    assert depth(queues.dlq_url) == 0

    assert invoke(queues) == {"batchItemFailures": []}
    assert len(slack.requests) == 2
    assert slack_message(slack, 1)["blocks"][0]["text"]["text"].endswith(
        "Terminal shell in container"
    )
    assert receive(queues.url) == [] and dead_letters(queues) == []


def test_redrive_moves_at_most_limit(queues: Queues) -> None:
    sqs = boto3.client("sqs")
    for i in range(3):
        sqs.send_message(QueueUrl=queues.dlq_url, MessageBody=json.dumps(alert_doc(uuid=str(i))))
    result = CliRunner().invoke(
        main, ["alerts", "redrive", "--queue", queues.dlq_url, "--limit", "1"]
    )
    assert result.exit_code == 0, result.output
    assert f"redriven 1 message(s) to {queues.url}" in result.output
    assert len(receive(queues.url)) == 1
    assert depth(queues.url) == 1
    assert depth(queues.dlq_url) == 2 and len(dead_letters(queues)) == 2


def test_redrive_to_a_named_queue(aws: str, queues: Queues) -> None:
    sqs = boto3.client("sqs")
    other = sqs.create_queue(QueueName="elsewhere")["QueueUrl"]
    sqs.send_message(QueueUrl=queues.dlq_url, MessageBody="x")
    result = CliRunner().invoke(
        main, ["alerts", "redrive", "--queue", queues.dlq_url, "--to", other]
    )
    assert result.exit_code == 0, result.output
    assert f"redriven 1 message(s) to {other}" in result.output
    assert [m["Body"] for m in receive(other)] == ["x"]
    assert depth(queues.dlq_url) == 0 and depth(queues.url) == 0


def test_redrive_of_a_queue_that_is_no_dlq_says_so(aws: str, queues: Queues) -> None:
    result = CliRunner().invoke(main, ["alerts", "redrive", "--queue", queues.url])
    assert result.exit_code == 2
    assert "dead-letter queue of 0 queues; name one with --to" in result.output


# --- deferred: back on the queue later ---------------------------------------------------


def test_transient_failures_past_the_attempts_defer_the_record(
    slack: Recorder, queues: Queues, capsys: pytest.CaptureFixture[str]
) -> None:
    slack.default = Reply(503, "service unavailable")
    put(queues, json.dumps(alert_doc()))
    # base_seconds 30: the deferral is max(backoff, 30) = 30 s, whatever the jitter.
    sleeps, spy = prepare(policy=RetryPolicy(attempts=2, base_seconds=30))
    [m] = receive(queues.url)  # (visible again at once: VisibilityTimeout 0)
    result = invoke(queues)

    assert result == {"batchItemFailures": [{"itemIdentifier": m["MessageId"]}]}
    assert len(slack.requests) == 2 and len(sleeps.waits) == 1
    assert [(v["QueueUrl"], v["VisibilityTimeout"]) for v in spy.visibility] == [(queues.url, 30)]
    assert receive(queues.url) == []  # hidden by the handler
    assert depth(queues.url) == 1  # kept, not deleted
    assert dead_letters(queues) == []
    out = emf(capsys.readouterr().out)
    assert out["Retried"] == (1, {"destination": "slack"})  # one more attempt inline
    assert out["Deferred"] == (1, {"destination": "slack"})  # then back to the queue
    assert "Delivered" not in out and "DeadLettered" not in out


def test_a_retry_after_past_the_deadline_is_not_waited_for(slack: Recorder, queues: Queues) -> None:
    slack.default = Reply(503, "maintenance", {"Retry-After": "20"})
    put(queues, json.dumps(alert_doc()))
    context = FakeContext(remaining_ms=20_000)  # 15 s after the 5 s margin: less than 20
    sleeps, spy = prepare(context)
    [m] = receive(queues.url)
    result = invoke(queues, context)

    assert result == {"batchItemFailures": [{"itemIdentifier": m["MessageId"]}]}
    assert len(slack.requests) == 1 and sleeps.waits == []
    assert [v["VisibilityTimeout"] for v in spy.visibility] == [20]
    assert receive(queues.url) == [] and dead_letters(queues) == []


def test_no_attempt_is_started_that_cannot_finish_in_time(
    slack: Recorder, queues: Queues
) -> None:
    # One attempt may take the HTTP timeout; started past the function's own timeout it
    # would bring the whole batch back, delivered alerts included.
    put(queues, json.dumps(alert_doc()))
    context = FakeContext(remaining_ms=8_000)  # 3 s left after the margin: less than 10
    sleeps, spy = prepare(context)
    [m] = receive(queues.url)
    result = invoke(queues, context)
    assert result == {"batchItemFailures": [{"itemIdentifier": m["MessageId"]}]}
    assert slack.requests == [] and sleeps.waits == []
    assert [v["VisibilityTimeout"] for v in spy.visibility] == [5]
    assert dead_letters(queues) == []


def test_one_batch_each_record_its_own_fate(
    slack: Recorder, queues: Queues, capsys: pytest.CaptureFixture[str]
) -> None:
    # Records are sent in order: the good one, then the refused one, then the failing one.
    slack.script(Reply(200, "ok"), Reply(410, "channel_is_archived"))
    slack.default = Reply(500, "oops")
    good, refused, failing = (
        json.dumps(alert_doc(uuid=u)) for u in ("good-1", "refused-2", "failing-3")
    )
    put(queues, good)
    put(queues, refused)
    put(queues, failing)
    put(queues, "not json")
    got = receive(queues.url)
    order = {m["Body"]: m for m in got}
    assert len(order) == 4
    prepare(policy=RetryPolicy(attempts=1, base_seconds=30))
    # The handler processes records in the event's order; receive() gives the queue's.
    event = {"Records": [sqs_record(order[b], queues) for b in (good, refused, failing)]}
    event["Records"].append(sqs_record(order["not json"], queues))
    result = handler(event, FakeContext())

    assert result == {"batchItemFailures": [{"itemIdentifier": order[failing]["MessageId"]}]}
    assert len(slack.requests) == 3
    dead = {d["body"]: d["attributes"]["answer"] for d in dead_letters(queues)}
    assert set(dead) == {refused, "not json"}
    assert dead[refused] == "HTTP 410: channel_is_archived"
    assert dead["not json"].startswith("not an alert: not JSON")
    out = emf(capsys.readouterr().out)
    assert (out["Delivered"][0], out["DeadLettered"][0], out["Deferred"][0]) == (1, 2, 1)


# --- secrets stay out of the logs ---------------------------------------------------------


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The powertools logger's lines, formatted as in Lambda (it writes to the stdout it
    found at import, which capsys does not see); and, at DEBUG, the batch processor's
    (the only place a failed record's exception is written; it does not propagate)."""
    buf = io.StringIO()
    h = logging.StreamHandler(buf)
    h.setFormatter(logger.registered_formatter)
    lanner_log = logging.getLogger(logger.service)  # the std logger powertools writes to
    lanner_log.addHandler(h)
    batch = logging.getLogger("aws_lambda_powertools.utilities.batch.base")
    level = batch.level
    raw = logging.StreamHandler(buf)
    batch.addHandler(raw)
    batch.setLevel(logging.DEBUG)
    try:
        yield buf
    finally:
        lanner_log.removeHandler(h)
        batch.removeHandler(raw)
        batch.setLevel(level)


def _secrets_absent(text: str) -> None:
    for secret in (SLACK_TOKEN, SLACK_PATH, WEBHOOK_SECRET, WEBHOOK_KEY, ROUTING_KEY):
        assert secret not in text


def test_slack_url_never_reaches_a_log(
    slack: Recorder,
    queues: Queues,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    log_lines: io.StringIO,
) -> None:
    caplog.set_level(logging.INFO)
    slack.script(Reply(404, "no_service"), Reply(503, "busy"), Reply(200, "ok"))
    slack.default = Reply(500, "down")
    for u in ("a", "b", "c"):
        put(queues, json.dumps(alert_doc(uuid=u)))
    prepare(policy=RetryPolicy(attempts=2, base_seconds=30))
    invoke(queues)
    first = capsys.readouterr()
    assert emf(first.out)["DeadLettered"] == (1, {"destination": "slack"})
    # Then nothing listens at the URL (a new port, the same secret path): a network error.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    boto3.client("secretsmanager").put_secret_value(
        SecretId=os.environ["LANNER_DESTINATION_SECRET"],
        SecretString=json.dumps({"url": f"http://127.0.0.1:{port}{SLACK_PATH}"}),
    )
    reset_state()
    parameters.clear_caches()
    put(queues, json.dumps(alert_doc(uuid="d")))
    prepare(policy=RetryPolicy(attempts=1, base_seconds=30))
    result = invoke(queues)
    assert len(result["batchItemFailures"]) == 1
    assert len(slack.requests) == 5

    out, err = capsys.readouterr()
    logs = log_lines.getvalue()
    assert "dead-lettered: HTTP 404: no_service" in logs  # the log is captured
    assert emf(out)["Deferred"] == (1, {"destination": "slack"})
    assert "slack: HTTP 500: down; alert c back in 30 s" in logs
    assert "slack: network: " in logs and "alert d back in 30 s" in logs
    _secrets_absent(first.out + first.err + out + err + logs + caplog.text)
    for d in dead_letters(queues):
        _secrets_absent(json.dumps(d["attributes"]))


def test_webhook_secret_never_reaches_a_log(
    webhook: Recorder,
    queues: Queues,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    log_lines: io.StringIO,
) -> None:
    caplog.set_level(logging.INFO)
    webhook.script(Reply(200, "ok"), Reply(401, "bad signature"))
    webhook.default = Reply(503, "later")
    for u in ("a", "b", "c"):
        put(queues, json.dumps(alert_doc(uuid=u)))
    prepare(policy=RetryPolicy(attempts=1, base_seconds=30))
    invoke(queues)
    out, err = capsys.readouterr()
    logs = log_lines.getvalue()
    assert "webhook refused alert b; dead-lettered: HTTP 401: bad signature" in logs
    assert emf(out)["Delivered"] == (1, {"destination": "webhook"})
    _secrets_absent(out + err + logs + caplog.text)
    assert WEBHOOK_SECRET not in repr(state(FakeContext()).destination)


def test_pagerduty_routing_key_never_reaches_a_log(
    pagerduty: Recorder,
    queues: Queues,
    capsys: pytest.CaptureFixture[str],
    log_lines: io.StringIO,
) -> None:
    pagerduty.script(
        Reply(400, json.dumps({"status": "invalid event", "errors": ["'routing_key' invalid"]}))
    )
    put(queues, json.dumps(alert_doc()))
    prepare()
    invoke(queues)
    out, err = capsys.readouterr()
    [dead] = dead_letters(queues)
    assert dead["attributes"]["answer"] == "HTTP 400: invalid event: 'routing_key' invalid"
    assert "dead-lettered" in log_lines.getvalue()
    _secrets_absent(out + err + log_lines.getvalue())
