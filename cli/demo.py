"""``lanner demo``: the whole pipeline on this machine, with moto playing AWS.

What runs is what a deployment runs; only the glue that AWS itself provides
(event-source mappings, S3 notifications, log subscriptions, SNS delivery) is
played here, from what moto holds:

    node sensor --PutRecords--> Kinesis --records--> Kinesis detector --+
    CloudTrail files --PutObject--> S3 --notification--> CloudTrail det. +--> SNS --> HTTP endpoint
    CloudTrail events --EventBridge--------------------> CloudTrail det. |      (printed here)
    EKS audit log --PutLogEvents--> CloudWatch Logs --subscription--> EKS det. +

Then delivery, as the stack's destination Lambdas do it: the topic feeds a Slack queue
and a webhook queue (raw delivery, a priority filter each); the delivery handler sends
to a Slack stand-in and to a webhook receiver on 127.0.0.1 that checks every Standard
Webhooks signature. The node's alerts are then seen again from two more nodes (a
DaemonSet's copies): they are counted, not sent, and when the window (shortened to a
few seconds here) closes the summarizer publishes one summary per incident.

The alert store is one more destination, with a queue that takes every alert (no filter):
the delivery handler writes each alert and summary into the store's DynamoDB table. At
the end the table is saved to ``alert-store.jsonl`` in the work directory, which
``lanner ui`` serves in the dashboard.

The node's events come live from eBPF when this runs as root with bcc available
(the sensor runs as ``lanner sensor --kinesis-stream`` while a harmless workload
runs), otherwise from the bundled recording of the same workload. Nothing leaves
the machine: moto and the alert endpoint listen on 127.0.0.1.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import http.server
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from lanner.resources import samples_dir

SAMPLES = samples_dir()  # in the package (a wheel) or beside it (a checkout)
RECORDING = SAMPLES / "syscall" / "node-recording.jsonl"
WORKLOAD = SAMPLES / "syscall" / "workload.sh"
REGION = "us-east-1"
ACCOUNT = "123456789012"

# The resources template.yaml creates, under the names the demo gives them.
STREAM = "lanner-events"
TOPIC = "lanner-alerts"
DEDUP_TABLE = "lanner-alert-dedup"
QUARANTINE = "lanner-quarantine"
BUCKET = "lanner-demo-cloudtrail"
CLUSTER = "demo"
LOG_GROUP = f"/aws/eks/{CLUSTER}/cluster"
LOG_STREAM = "kube-apiserver-audit-5f3b2c1d0e9a8b7c"
NODE = "demo-node-1"

# How long the live sensor watches the workload after it ends.
SETTLE_S = 2.0
# The deduplication window, shortened from the stack's 5 minutes so the demo shows a summary.
# It opens with the node's first alert and must still be open when the copies from the
# other nodes arrive, after CloudTrail and EKS have been delivered: on a loaded machine
# that took 3.3 s (2 s idle). The demo waits only for what is left of it.
DEMO_WINDOW_S = 10.0
MORE_NODES = ("demo-node-2", "demo-node-3")
MORE_NODES_LAG_NS = 1_500_000_000
# Destinations: (name, min priority), as the stack's routing parameters set them; the alert
# store takes every alert (its subscription has no filter policy).
DESTINATIONS: tuple[tuple[str, str | None], ...] = (
    ("slack", "notice"),
    ("webhook", "debug"),
    ("store", None),
)
STORE_TABLE = "lanner-alert-store"


@dataclass
class Summary:
    """What went in and what came out, for the closing lines."""

    events: Counter[str] = field(default_factory=Counter)
    notes: dict[str, str] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    quarantined: int = 0
    lambda_log: Path | None = None
    slack: list[dict[str, Any]] = field(default_factory=list)  # messages Slack received
    webhook_verified: int = 0
    webhook_calls: int = 0
    dead_letters: int = 0
    stored: int = 0  # alerts (and summaries) in the alert store
    store_path: Path | None = None  # where the store was saved for `lanner ui`


# --- the alert endpoint ---------------------------------------------------------------------


class AlertEndpoint:
    """An HTTP endpoint subscribed to the SNS topic, as a webhook receiver would be.

    ``on_alert`` gets each alert as the endpoint received it: the SNS notification's
    Message, which is the alert's JSON text.
    """

    def __init__(self, on_alert: Callable[[str], None]) -> None:
        received = on_alert

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.end_headers()
                try:
                    note = json.loads(body)
                except ValueError:
                    return
                if isinstance(note, dict) and note.get("Type", "Notification") == "Notification":
                    received(str(note.get("Message", "")))

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the demo prints alerts, not access logs

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/alerts"

    def __enter__(self) -> AlertEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- moto and the resources -----------------------------------------------------------------


@contextlib.contextmanager
def local_aws() -> Iterator[str]:
    """moto on 127.0.0.1 as the AWS endpoint of this process (and of the sensor it starts)."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log on the terminal

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    saved = dict(os.environ)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo",
            "AWS_SESSION_TOKEN": "demo",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }
    )
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield endpoint
    finally:
        os.environ.clear()
        os.environ.update(saved)
        server.stop()


@dataclass
class Resources:
    stream_arn: str
    topic_arn: str
    queue_url: str


def create_resources(endpoint_url: str) -> Resources:
    """The stream, topic (with the endpoint subscribed), dedup table, quarantine queue,
    CloudTrail bucket and EKS log group."""
    import boto3

    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName=STREAM, ShardCount=1)
    stream_arn = kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"][
        "StreamARN"
    ]
    sns = boto3.client("sns")
    topic_arn = sns.create_topic(Name=TOPIC)["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="http", Endpoint=endpoint_url)
    from functions.dedup_table import create_dedup_table

    create_dedup_table(boto3.client("dynamodb"), DEDUP_TABLE)
    queue_url = boto3.client("sqs").create_queue(QueueName=QUARANTINE)["QueueUrl"]
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=LOG_GROUP)
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=LOG_STREAM)
    return Resources(stream_arn, topic_arn, queue_url)


def detector_environment(res: Resources) -> dict[str, str]:
    """The detectors' configuration, as template.yaml sets it."""
    return {
        "LANNER_ALERT_TOPIC_ARN": res.topic_arn,
        "LANNER_DEDUP_TABLE": DEDUP_TABLE,
        "LANNER_QUARANTINE_QUEUE_URL": res.queue_url,
        "POWERTOOLS_SERVICE_NAME": "lanner",
        "POWERTOOLS_METRICS_NAMESPACE": "lanner",
        "LANNER_DEDUP_WINDOW_SECONDS": str(DEMO_WINDOW_S),
    }


class LambdaContext:
    """The parts of a Lambda context the handlers read."""

    def __init__(self, name: str) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "demo"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def send_lambda_logs(stream: IO[str]) -> None:
    """The functions' log lines to ``stream``: powertools' logger writes to the stdout it
    saw at import, which is the demo's alerts (or `lanner ui`'s URL)."""
    import logging

    from functions import runtime

    for handler in logging.getLogger(runtime.logger.name).handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)


class Lambdas:
    """Calls the detector handlers as Lambda would, their logs and metrics kept in a file."""

    def __init__(self, log: IO[str]) -> None:
        self.log = log
        from functions import runtime

        runtime.reset_runtime()
        send_lambda_logs(log)

    def invoke(self, name: str, handler: Callable[[Any, Any], Any], event: Any) -> Any:
        with contextlib.redirect_stdout(self.log):
            return handler(event, LambdaContext(name))


# --- the three inputs -----------------------------------------------------------------------


def ship_node_events(
    live: bool | None, summary: Summary, workdir: Path, say: Callable[[str], None]
) -> None:
    """Puts the node's events on the stream: live from a real sensor, or the recording.

    ``live=None`` tries live capture where it can work and falls back to the recording
    if the sensor cannot start (no kernel headers, no tracefs...), saying why."""
    if live is None:
        live = live_capture_possible()
        if live:
            try:
                say("node sensor: live eBPF capture (root); running samples/syscall/workload.sh")
                _run_live_sensor(summary, workdir)
                return
            except DemoError as exc:
                say(f"live capture unavailable ({exc}); using the recording instead")
                live = False
    if live:
        say("node sensor: live eBPF capture (root); running samples/syscall/workload.sh")
        _run_live_sensor(summary, workdir)
    else:
        say("node sensor: replaying samples/syscall/node-recording.jsonl (root: live eBPF)")
        _replay_recording(summary, workdir)


def _run_live_sensor(summary: Summary, workdir: Path) -> None:
    env = {**os.environ, "NODE_NAME": NODE}
    cmd = [sys.executable, "-m", "cli.main", "sensor", "--kinesis-stream", STREAM]
    cmd += ["--spool-dir", str(workdir / "spool")]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    lines: list[str] = []
    for line in proc.stderr:
        lines.append(line)
        if "capturing" in line:
            break
    if proc.poll() is not None or not any("capturing" in line for line in lines):
        proc.wait(timeout=30)
        raise DemoError("the sensor did not start: " + " ".join(x.strip() for x in lines[-3:]))
    clean = {"PATH": "/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}
    subprocess.run(["sh", str(WORKLOAD)], env=clean, check=False, timeout=60)
    time.sleep(SETTLE_S)
    proc.send_signal(signal.SIGTERM)
    tail = proc.stderr.read()
    proc.wait(timeout=30)
    summary.notes["syscall"] = "live eBPF"
    if proc.returncode not in (0, -signal.SIGTERM):
        raise DemoError(f"the sensor exited with {proc.returncode}:\n{tail}")


def _replay_recording(summary: Summary, workdir: Path, node: str = NODE) -> None:
    """What the sensor does with recorded events: evaluate, and ship those that alert."""
    from cli.main import default_rules_dir
    from lanner import compile_rules, load_rules, wire
    from sensor.ship import KinesisShipper, kinesis_client

    engine = compile_rules(load_rules([str(default_rules_dir())]), hostname=node)
    decoder = wire.Decoder()
    shipper = KinesisShipper(kinesis_client(), STREAM, node, spool_dir=workdir / "spool" / node)
    recorded = shipped = 0
    with RECORDING.open(encoding="utf-8") as f:
        next(f)
        for line in f:
            doc = decoder.decode(json.loads(line))
            if doc is None:
                continue
            if node != NODE:  # the same workload on another node, a moment later
                doc["evt.hostname"] = node
                doc["evt.rawtime"] = int(doc.get("evt.rawtime") or 0) + MORE_NODES_LAG_NS
            recorded += 1
            if engine.evaluate(doc, "syscall"):
                shipped += 1
                shipper.add(doc)
    shipper.close(10.0)
    if node == NODE:
        summary.notes["syscall"] = (
            f"bundled recording: {shipped} of {recorded} events left the node (those that alert)"
        )


def drain_stream(
    lambdas: Lambdas, res: Resources, summary: Summary, after: str | None = None
) -> str | None:
    """The Kinesis event-source mapping: read the shard (after sequence number ``after``),
    hand records to the detector; returns the last sequence number read."""
    import boto3

    from functions.kinesis_detector import handler
    from lanner.batch import BatchError, unpack

    kinesis = boto3.client("kinesis")
    shard = kinesis.list_shards(StreamName=STREAM)["Shards"][0]["ShardId"]
    position: dict[str, str] = (
        {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": after}
        if after
        else {"ShardIteratorType": "TRIM_HORIZON"}
    )
    it = kinesis.get_shard_iterator(StreamName=STREAM, ShardId=shard, **position)["ShardIterator"]
    last = after
    while it:
        out = kinesis.get_records(ShardIterator=it, Limit=100)
        records = out["Records"]
        if not records:
            break
        for r in records:
            with contextlib.suppress(BatchError):
                summary.events["syscall"] += len(unpack(r["Data"]).events)
        event = {"Records": [_kinesis_record(r, shard, res.stream_arn) for r in records]}
        lambdas.invoke("lanner-kinesis-detector", handler, event)
        last = records[-1]["SequenceNumber"]
        it = out.get("NextShardIterator")
    return last


def _kinesis_record(r: dict[str, Any], shard: str, stream_arn: str) -> dict[str, Any]:
    seq = r["SequenceNumber"]
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": r["PartitionKey"],
            "sequenceNumber": seq,
            "data": base64.b64encode(r["Data"]).decode(),
            "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp(),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard}:{seq}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/lanner-kinesis-detector",
        "awsRegion": REGION,
        "eventSourceARN": stream_arn,
    }


def deliver_cloudtrail(lambdas: Lambdas, summary: Summary) -> None:
    """Management events through EventBridge first (low latency), then the trail's files
    into S3 with their object-created notifications: each event alerts once."""
    import boto3

    from functions.cloudtrail_detector import handler

    files = sorted((SAMPLES / "AWSLogs").rglob("*.json.gz"))
    bridged = 0
    for path in files:
        if "CloudTrail-Digest" in path.parts:
            continue
        for record in json.loads(gzip.decompress(path.read_bytes()))["Records"]:
            summary.events["aws_cloudtrail"] += 1
            if record.get("managementEvent", True) and not record.get("readOnly", False):
                lambdas.invoke("lanner-cloudtrail-detector", handler, _eventbridge(record))
                bridged += 1
    s3 = boto3.client("s3")
    for path in files:
        key = path.relative_to(SAMPLES).as_posix()
        s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
        lambdas.invoke("lanner-cloudtrail-detector", handler, _s3_notification(key, path))
    digests = sum("CloudTrail-Digest" in p.parts for p in files)
    summary.notes["aws_cloudtrail"] = (
        f"{len(files) - digests} log files into S3 (+{digests} digest, skipped); "
        f"{bridged} write events also via EventBridge, alerting once"
    )


def _eventbridge(record: dict[str, Any]) -> dict[str, Any]:
    kind = (
        "AWS Console Sign In via CloudTrail"
        if record.get("eventType") == "AwsConsoleSignIn"
        else "AWS API Call via CloudTrail"
    )
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": kind,
        "source": "aws." + str(record.get("eventSource", "")).split(".")[0],
        "account": ACCOUNT,
        "time": record.get("eventTime"),
        "region": record.get("awsRegion", REGION),
        "resources": [],
        "detail": record,
    }


def _s3_notification(key: str, path: Path) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": "2026-11-28T10:10:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"},
                    "object": {
                        "key": urllib.parse.quote_plus(key, safe="/"),
                        "size": path.stat().st_size,
                    },
                },
            }
        ]
    }


def deliver_eks_audit(lambdas: Lambdas, summary: Summary) -> None:
    """The audit log into CloudWatch Logs, then the subscription's payload to the detector."""
    import boto3

    from functions.eks_audit_detector import handler

    lines = [
        line
        for line in (SAMPLES / "k8s" / "kube-apiserver-audit.log").read_text().splitlines()
        if line.strip()
    ]
    now = int(time.time() * 1000)
    logs = boto3.client("logs")
    logs.put_log_events(
        logGroupName=LOG_GROUP,
        logStreamName=LOG_STREAM,
        logEvents=[{"timestamp": now, "message": line} for line in lines],
    )
    got = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=LOG_STREAM, startFromHead=True)
    payload = {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": LOG_GROUP,
        "logStream": LOG_STREAM,
        "subscriptionFilters": ["lanner-eks-audit"],
        "logEvents": [
            {"id": str(i), "timestamp": e["timestamp"], "message": e["message"]}
            for i, e in enumerate(got["events"])
        ],
    }
    data = base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()
    lambdas.invoke("lanner-eks-audit-detector", handler, {"awslogs": {"data": data}})
    summary.events["k8s_audit"] += len(got["events"])
    summary.notes["k8s_audit"] = f"{LOG_GROUP} via a log subscription"


# --- delivery: destinations, repeats, summaries ---------------------------------------------


@dataclass(frozen=True)
class DestinationQueue:
    """A destination's queue and dead-letter queue, and what else its delivery function's
    environment holds (its secret, or the store's table)."""

    url: str
    dlq: str
    env: dict[str, str]


@dataclass
class Destinations:
    queues: dict[str, DestinationQueue] = field(default_factory=dict)  # by destination name


def create_destinations(
    topic_arn: str, slack_url: str, webhook_url: str, webhook_secret: str
) -> Destinations:
    """A queue (+ DLQ) per destination subscribed to the topic with raw delivery and a
    priority filter (none for the store), and its secret in Secrets Manager or, for the
    store, its table, as template.yaml wires them."""
    import boto3

    from dashboard.table import create_alert_store_table
    from lanner import Priority

    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    secrets = boto3.client("secretsmanager")
    values = {
        "slack": {"url": slack_url},
        "webhook": {"url": webhook_url, "secret": webhook_secret, "headers": {"X-Team": "sec"}},
    }
    create_alert_store_table(boto3.client("dynamodb"), STORE_TABLE)
    out = Destinations()
    for name, min_priority in DESTINATIONS:
        dlq = sqs.create_queue(QueueName=f"lanner-{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])
        redrive = {"deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"], "maxReceiveCount": 10}
        queue = sqs.create_queue(
            QueueName=f"lanner-{name}", Attributes={"RedrivePolicy": json.dumps(redrive)}
        )["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        attributes = {"RawMessageDelivery": "true"}
        if min_priority is not None:
            threshold = Priority.parse(min_priority).value
            policy = {"priority": [{"numeric": ["<=", threshold]}]}
            attributes["FilterPolicy"] = json.dumps(policy)
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=arn["Attributes"]["QueueArn"],
            Attributes=attributes,
        )
        if name == "store":
            env = {"LANNER_ALERT_STORE_TABLE": STORE_TABLE}
        else:
            value = json.dumps(values[name])
            secret = secrets.create_secret(Name=f"lanner/{name}", SecretString=value)
            env = {"LANNER_DESTINATION_SECRET": secret["ARN"]}
        out.queues[name] = DestinationQueue(queue, dlq, env)
    return out


def deliver_queues(lambdas: Lambdas, dests: Destinations) -> None:
    """The SQS event-source mappings: each destination's queue to the delivery handler."""
    import boto3

    from functions import deliver_handler

    sqs = boto3.client("sqs")
    every_env = {key for d in dests.queues.values() for key in d.env}
    for name, dest in dests.queues.items():
        queue = dest.url
        for key in every_env - set(dest.env):
            os.environ.pop(key, None)
        os.environ.update(
            {"LANNER_DESTINATION": name, "LANNER_DEAD_LETTER_QUEUE_URL": dest.dlq, **dest.env}
        )
        deliver_handler.reset_state()
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        while True:
            got = sqs.receive_message(
                QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
            ).get("Messages", [])
            if not got:
                break
            event = {"Records": [_sqs_record(m, arn["Attributes"]["QueueArn"]) for m in got]}
            failed = lambdas.invoke(f"lanner-deliver-{name}", deliver_handler.handler, event)
            retry = {f["itemIdentifier"] for f in (failed or {}).get("batchItemFailures", [])}
            for m in got:
                if m["MessageId"] not in retry:  # what the event-source mapping deletes
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
            if retry:
                break  # a destination that is down: the demo does not wait it out
        deliver_handler.reset_state()


def _sqs_record(m: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    return {
        "messageId": m["MessageId"],
        "receiptHandle": m["ReceiptHandle"],
        "body": m["Body"],
        "attributes": m.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": m.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def repeat_on_more_nodes(
    lambdas: Lambdas,
    res: Resources,
    summary: Summary,
    workdir: Path,
    after: str | None,
    window_opened: float,
) -> None:
    """The recorded node events again, from two more nodes (as every node of a DaemonSet
    would see the same workload): copies are counted; when the window closes the
    summarizer publishes one summary per incident."""
    from functions import summarize_handler

    for node in MORE_NODES:
        _replay_recording(Summary(), workdir, node)
    drain_stream(lambdas, res, Summary(), after)
    # The window closes (it opened with the first node's first alert, by window_opened).
    time.sleep(max(0.0, window_opened + DEMO_WINDOW_S + 0.2 - time.monotonic()))
    lambdas.invoke("lanner-alert-summarizer", summarize_handler.handler, {})


def verify_webhooks(calls: list[Any], secret: str, summary: Summary) -> None:
    """What a receiver does: check each call's Standard Webhooks signature."""
    from standardwebhooks import Webhook

    hook = Webhook(secret)
    for call in calls:
        summary.webhook_calls += 1
        try:
            hook.verify(call.body, call.headers)
        except Exception:
            continue
        summary.webhook_verified += 1


def count_dead_letters(dests: Destinations) -> int:
    import boto3

    sqs = boto3.client("sqs")
    total = 0
    for dest in dests.queues.values():
        attrs = sqs.get_queue_attributes(
            QueueUrl=dest.dlq, AttributeNames=["ApproximateNumberOfMessages"]
        )
        total += int(attrs["Attributes"]["ApproximateNumberOfMessages"])
    return total


def count_quarantined(res: Resources) -> int:
    import boto3

    attrs = boto3.client("sqs").get_queue_attributes(
        QueueUrl=res.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


# --- the run --------------------------------------------------------------------------------


class DemoError(RuntimeError):
    pass


def live_capture_possible() -> bool:
    if os.geteuid() != 0:
        return False
    try:
        import bcc  # noqa: F401
    except ImportError:
        return False
    return True


def run_demo(
    *, as_json: bool, live: bool | None, out: IO[str], err: IO[str], workdir: Path
) -> Summary:
    """Runs the pipeline end to end; alerts are written to ``out`` as they arrive."""
    summary = Summary()
    lock = threading.Lock()
    say_to = err if as_json else out

    def say(text: str) -> None:
        with lock:
            say_to.write(f"lanner demo: {text}\n")
            say_to.flush()

    def on_alert(message: str) -> None:
        try:
            alert = json.loads(message)
        except ValueError:
            alert = {"output": message}
        with lock:
            summary.alerts.append(alert)
            if as_json:
                out.write(message + "\n")
            else:
                line = f"{alert.get('source', '?'):<15} {alert.get('output', message)}"
                repeat = alert.get("repeat")
                if isinstance(repeat, dict):
                    line = (
                        f"{'summary':<15} {alert.get('rule')}: repeated {repeat.get('count')} "
                        f"times on {repeat.get('hosts')} hosts"
                    )
                out.write(line + "\n")
            out.flush()

    workdir.mkdir(parents=True, exist_ok=True)
    summary.lambda_log = workdir / "lambda.log"
    from cli.endpoints import Recorder

    webhook_secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    with (
        local_aws() as endpoint,
        AlertEndpoint(on_alert) as receiver,
        Recorder(path="/services/T000/B000/demo") as slack,
        Recorder(path="/lanner") as webhook,
        summary.lambda_log.open("w", encoding="utf-8") as log,
    ):
        say(f"AWS is moto at {endpoint}; alerts go to SNS and on to {receiver.url}")
        say(f"destinations: Slack stand-in {slack.url}, webhook receiver {webhook.url}")
        res = create_resources(receiver.url)
        dests = create_destinations(res.topic_arn, slack.url, webhook.url, webhook_secret)
        os.environ.update(detector_environment(res))
        lambdas = Lambdas(log)
        ship_node_events(live, summary, workdir, say)
        last = drain_stream(lambdas, res, summary)
        window_opened = time.monotonic()  # at the latest: with the first alert, above
        deliver_cloudtrail(lambdas, summary)
        deliver_eks_audit(lambdas, summary)
        say(f"the node's alerts again from {', '.join(MORE_NODES)}: counted, then summarised")
        repeat_on_more_nodes(lambdas, res, summary, workdir, last, window_opened)
        deliver_queues(lambdas, dests)
        summary.slack = [json.loads(r.body) for r in slack.requests]
        verify_webhooks(webhook.requests, webhook_secret, summary)
        summary.quarantined = count_quarantined(res)
        summary.dead_letters = count_dead_letters(dests)
        save_store(summary, workdir)
    return summary


def save_store(summary: Summary, workdir: Path) -> None:
    """The alert store's table into ``workdir``, where ``lanner ui`` finds it."""
    import boto3

    from cli.ui import SNAPSHOT_NAME, dump_store

    summary.store_path = workdir / SNAPSHOT_NAME
    saved = dump_store(boto3.client("dynamodb"), STORE_TABLE, summary.store_path)
    summary.stored = saved.alerts


def print_summary(summary: Summary, out: IO[str]) -> None:
    w = out.write
    w("\nevents in\n")
    for source in ("syscall", "aws_cloudtrail", "k8s_audit"):
        note = summary.notes.get(source, "")
        w(f"  {source:<15} {summary.events[source]:>5}  {note}\n")
    alerts = [a for a in summary.alerts if not a.get("repeat")]
    w(f"alerts out: {len(alerts)} (each delivered once, through SNS)\n")
    by_priority = Counter(str(a.get("priority", "?")) for a in alerts)
    w("  by priority: " + ", ".join(f"{p} {n}" for p, n in by_priority.most_common()) + "\n")
    by_rule = Counter((str(a.get("source", "?")), str(a.get("rule", "?"))) for a in alerts)
    for (source, rule), n in sorted(by_rule.items()):
        w(f"  {n:>3}  {source:<15} {rule}\n")
    w(f"quarantined inputs: {summary.quarantined}\n")
    summaries = [a for a in summary.alerts if a.get("repeat")]
    w(f"summaries: {len(summaries)} (the node alerts' copies from {len(MORE_NODES)} more nodes)\n")
    w(
        f"delivered: Slack {len(summary.slack)} messages; webhook {summary.webhook_calls} calls, "
        f"{summary.webhook_verified} with a valid Standard Webhooks signature; "
        f"dead letters {summary.dead_letters}\n"
    )
    shown = _pick_slack(summary.slack)
    if shown:
        from cli.slackview import render

        w("\nwhat Slack shows (the first alert, and a summary):\n")
        for message in shown:
            w(render(message) + "\n")
    if summary.lambda_log is not None:
        w(f"detector logs and metrics (EMF): {summary.lambda_log}\n")
    if summary.store_path is not None:
        w(
            f"alert store: {summary.stored} stored ({len(alerts)} alerts and "
            f"{len(summaries)} {'summary' if len(summaries) == 1 else 'summaries'}), "
            f"saved to {summary.store_path}\n"
        )
        w(f"to see them in the dashboard, run: {ui_command(summary.store_path)}\n")


def ui_command(store_path: Path) -> str:
    """The ``lanner ui`` command line that serves ``store_path``."""
    from cli.main import DEMO_WORKDIR
    from cli.ui import SNAPSHOT_NAME

    if store_path == Path(DEMO_WORKDIR) / SNAPSHOT_NAME:
        return "lanner ui"
    return f"lanner ui --store {shlex.quote(str(store_path))}"


def _pick_slack(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The most severe first message, and one summary."""
    if not messages:
        return []
    summary = next((m for m in messages if "Repeated" in json.dumps(m)), None)
    first = messages[0]
    return [first] + ([summary] if summary is not None else [])
