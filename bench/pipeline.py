"""The cloud pipeline's costs: what a node's events weigh on Kinesis, what a detector
invocation does per second, how long a detector takes to start, and what it costs.

    python bench/pipeline.py [--events 10000] [--rate 20]

Events: the bundled node recording (samples/syscall/node-recording.jsonl, a live capture
of samples/syscall/workload.sh), repeated with fresh event numbers and thread ids until
there are ``--events`` of them. The sensor ships only the events its rules alert on; this
bench ships every one of them, so a record holds more variety than a real one, and 5 in
57 of the events alert in the detector (a real stream: nearly all).

Detector throughput is the function's own work: base64, batch decoding, the rules and
building and publishing each alert through the real publisher code — with SNS and
DynamoDB answered in-process (their network time is AWS's, not ours, and moto's would
only measure moto). Cold start: a fresh interpreter importing the handler and building
its engine (bundled rules), median of 3.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lanner import wire  # noqa: E402
from lanner.batch import PAYLOAD_UNIT, BatchWriter  # noqa: E402

RECORDING = ROOT / "samples" / "syscall" / "node-recording.jsonl"
HANDLERS = ("kinesis_detector", "cloudtrail_detector", "eks_audit_detector")

# List prices, us-east-1, as AWS published them (check before relying on them).
KINESIS_SHARD_HOUR = 0.015  # provisioned mode, per shard-hour
KINESIS_PER_MILLION_PPU = 0.014  # per million PUT payload units (25 KB each)
LAMBDA_GB_SECOND_ARM = 0.0000133334
LAMBDA_PER_MILLION_REQUESTS = 0.20
HOURS_PER_MONTH = 730
NODES_PER_SHARD = 100  # one shard takes 1 MB/s or 1,000 records/s; a node ships ~1 record/s


def load_events(n: int) -> list[dict[str, Any]]:
    decoder = wire.Decoder()
    base: list[dict[str, Any]] = []
    with RECORDING.open(encoding="utf-8") as f:
        next(f)
        for line in f:
            doc = decoder.decode(json.loads(line))
            if doc is not None:
                base.append(doc)
    out = []
    for i in range(n):
        doc = dict(base[i % len(base)])
        doc["evt.num"] = i
        doc["thread.tid"] = 100000 + i // len(base)
        out.append(doc)
    return out


def pack(events: list[dict[str, Any]]) -> list[bytes]:
    writer = BatchWriter()
    records = [b.data for e in events if (b := writer.add(e)) is not None]
    last = writer.flush()
    if last is not None:
        records.append(last.data)
    return records


def one_per_record(events: list[dict[str, Any]]) -> list[bytes]:
    out = []
    for e in events:
        writer = BatchWriter()
        writer.add(e)
        batch = writer.flush()
        assert batch is not None
        out.append(batch.data)
    return out


def kinesis_event(records: list[bytes]) -> dict[str, Any]:
    arn = "arn:aws:kinesis:us-east-1:123456789012:stream/lanner-events"
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "node-1",
                    "sequenceNumber": str(49650000000000000000000000000000000000 + i),
                    "data": base64.b64encode(data).decode(),
                    "approximateArrivalTimestamp": 1795900000.0,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000000:{49650000000000000000000000000000000000 + i}",
                "eventName": "aws:kinesis:record",
                "awsRegion": "us-east-1",
                "eventSourceARN": arn,
            }
            for i, data in enumerate(records)
        ]
    }


class _ConditionFailed(Exception):
    def __init__(self) -> None:
        super().__init__("The conditional request failed")
        self.response = {"Error": {"Code": "ConditionalCheckFailedException"}}


class _Answered:
    """SNS and DynamoDB answered in-process: every call succeeds, except that counting a
    copy in a deduplication window that was never opened fails its condition, as it does
    in DynamoDB (windows stay open for the whole run: the bench takes seconds)."""

    def __init__(self) -> None:
        self.windows: set[str] = set()
        self.published = 0

    def put_item(self, **kw: Any) -> dict[str, Any]:
        key = kw["Item"]["uuid"]["S"]
        if key.startswith("window#"):
            self.windows.add(key)
        return {}

    def update_item(self, **kw: Any) -> dict[str, Any]:
        key = kw["Key"]["uuid"]["S"]
        if key.startswith("window#") and key not in self.windows:
            raise _ConditionFailed()
        return {}

    def delete_item(self, **_: Any) -> dict[str, Any]:
        return {}

    def get_item(self, **_: Any) -> dict[str, Any]:
        return {}

    def publish_batch(self, **kw: Any) -> dict[str, Any]:
        entries = kw["PublishBatchRequestEntries"]
        self.published += len(entries)
        return {"Successful": [{"Id": e["Id"], "MessageId": e["Id"]} for e in entries], "Failed": []}

    def send_message(self, **_: Any) -> dict[str, Any]:
        return {"MessageId": "x"}


class _Context:
    function_name = "lanner-kinesis-detector"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:lanner-kinesis-detector"
    memory_limit_in_mb = 1024
    aws_request_id = "bench"
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 120_000


ENV = {
    "LANNER_ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:lanner-alerts",
    "LANNER_DEDUP_TABLE": "lanner-alert-dedup",
    "LANNER_QUARANTINE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "lanner",
    "POWERTOOLS_METRICS_NAMESPACE": "lanner",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
}


def detector_seconds(records: list[bytes]) -> tuple[float, int]:
    """One warm invocation of the Kinesis detector on these records, and how many alerts
    it published (the first of each incident; the copies are counted in their window)."""
    import contextlib
    import io

    from functions import runtime
    from functions.kinesis_detector import handler

    runtime.reset_runtime()
    rt = runtime.get_runtime()
    event = kinesis_event(records)
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        # Warm: engine built, groups compiled, alert formatters and delivery models loaded.
        for name in ("sns", "dynamodb", "sqs"):
            rt.clients.set(name, _Answered())
        handler(event, _Context())
        answered = _Answered()  # fresh claims and windows for the measured invocation
        for name in ("sns", "dynamodb", "sqs"):
            rt.clients.set(name, answered)
        start = time.perf_counter()
        result = handler(event, _Context())
        elapsed = time.perf_counter() - start
    assert not result.get("batchItemFailures"), result
    return elapsed, answered.published


def cold_start_ms(module: str) -> float:
    code = (
        "import time; t = time.perf_counter()\n"
        f"import functions.{module}\n"
        "from functions.runtime import get_runtime; get_runtime().engine()\n"
        "print((time.perf_counter() - t) * 1000)\n"
    )
    runs = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**os.environ, **ENV},
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=20.0, help="events a node ships per second")
    args = ap.parse_args()
    os.environ.update(ENV)

    events = load_events(args.events)
    packed = pack(events)
    single = one_per_record(events)
    sizes = [len(r) for r in packed]
    ppu = sum(-(-s // PAYLOAD_UNIT) for s in sizes)
    raw = sum(len(json.dumps(e, default=str)) for e in events)
    per_k = 1000 / len(events)
    print(f"events: {len(events)} ({raw / len(events):.0f} bytes each as plain JSON)")
    print("\n== Kinesis payload ==")
    print(f"packed records: {len(packed)}, {statistics.mean(sizes) / 1024:.1f} KiB mean, {max(sizes) / 1024:.1f} KiB max")
    print(f"per 1,000 events: {sum(sizes) * per_k / 1024:.1f} KiB, {ppu * per_k:.2f} PUT payload units")
    print(f"bytes per PUT payload unit: {sum(sizes) / ppu / 1000:.1f} KB (target > 20 KB)")
    print(f"compression vs plain JSON: {raw / sum(sizes):.1f}x")

    print("\n== Kinesis detector, one warm invocation ==")
    t_single, published = detector_seconds(single)
    print(f"{len(single)} records of 1 event each: {t_single:.2f} s, {len(single) / t_single:,.0f} records/s (target: 10,000 records < 1 s); {published} alerts published, the rest counted as copies")
    t_packed, published = detector_seconds(packed)
    print(f"{len(packed)} packed records ({len(events)} events): {t_packed:.2f} s, {len(events) / t_packed:,.0f} events/s; {published} alerts published")

    print("\n== Cold start (import + engine), median of 3 ==")
    for module in HANDLERS:
        print(f"{module:<22} {cold_start_ms(module):6.0f} ms (target < 300 ms)")

    print(f"\n== Cost per node per month at {args.rate:g} shipped events/s ==")
    monthly_events = args.rate * 3600 * HOURS_PER_MONTH
    # At low rates the linger (1 s) closes records before they fill: at least 1 record/s.
    records_s = max(args.rate * len(packed) / len(events), 1.0)
    ppu_month = max(ppu * monthly_events / len(events), records_s * 3600 * HOURS_PER_MONTH)
    kinesis = KINESIS_SHARD_HOUR * HOURS_PER_MONTH / NODES_PER_SHARD + ppu_month / 1e6 * KINESIS_PER_MILLION_PPU
    invocations = 3600 * HOURS_PER_MONTH  # a 1 s batching window: at most one invocation per second per shard
    lambda_s = t_packed / len(events) * monthly_events
    lam = lambda_s * 1.0 * LAMBDA_GB_SECOND_ARM + invocations / NODES_PER_SHARD / 1e6 * LAMBDA_PER_MILLION_REQUESTS
    print(f"Kinesis: ${kinesis:.3f} (shard share 1/{NODES_PER_SHARD} + {ppu_month / 1e6:.2f} M PUT units)")
    print(f"Lambda:  ${lam:.3f} (1 GB arm64, {lambda_s / 3600:.2f} h of compute, CPU measured here)")
    print(f"total:   ${kinesis + lam:.3f} per node per month (SNS, DynamoDB per alert not included)")


if __name__ == "__main__":
    main()
