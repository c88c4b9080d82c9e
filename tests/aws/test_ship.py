"""The sensor's Kinesis shipping, read back from the stream (moto) as the detector reads it.

Kinesis' failures are injected by a wrapper around the real moto client: whole calls
refused (endpoint down, throttled) and single PutRecords entries failed. Time is a fake
clock, so backoffs and lingering cost nothing.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import signal
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from click.testing import CliRunner

import sensor.capture
import sensor.enrich
from cli.main import main
from lanner import compile_rules, load_rules_text
from lanner.batch import PAYLOAD_UNIT, Unpacked, unpack
from sensor.events import RawEvent
from sensor.run import run
from sensor.ship import (
    MAX_BYTES_PER_CALL,
    MAX_RECORDS_PER_CALL,
    KinesisShipper,
    ShipError,
    check_stream,
    iter_spool,
    kinesis_client,
)

STREAM = "lanner-events"
DOCS = Path(__file__).parent.parent / "data" / "syscall"
DOWN = EndpointConnectionError(endpoint_url="https://kinesis.us-east-1.amazonaws.com/")
THROTTLED = ClientError(
    {"Error": {"Code": "LimitExceededException", "Message": "Rate exceeded for stream"}},
    "PutRecords",
)


@pytest.fixture
def kinesis(aws: str) -> Any:
    client = boto3.client("kinesis")
    client.create_stream(StreamName=STREAM, ShardCount=2)
    return client


def node_events(host: str, n: int, seed: int = 5) -> list[dict[str, Any]]:
    """A node's enriched events: the recorded scenarios over a few dozen threads, each
    event numbered (``evt.num``) so order and duplicates show."""
    # Of ordinary size: the cut-command-line scenarios carry 20-50 KB of arguments each.
    docs = [
        json.loads(p.read_text()) for p in sorted(DOCS.glob("*.json")) if p.stat().st_size < 8192
    ]
    rng = random.Random(seed)
    out = []
    for i in range(n):
        tid = rng.randrange(2000, 2030)
        out.append(
            {
                **rng.choice(docs),
                "evt.num": i,
                "evt.hostname": host,
                "thread.tid": tid,
                "proc.pid": tid,
                "fd.name": f"/var/lib/app/{rng.randrange(10**6)}.db",
            }
        )
    return out


def read_stream(client: Any) -> dict[str, list[tuple[bytes, Unpacked]]]:
    """Every record of the stream, by partition key, in shard order; each one unpacked."""
    out: dict[str, list[tuple[bytes, Unpacked]]] = defaultdict(list)
    for shard in client.list_shards(StreamName=STREAM)["Shards"]:
        it = client.get_shard_iterator(
            StreamName=STREAM, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while it:
            got = client.get_records(ShardIterator=it, Limit=10000)
            for rec in got["Records"]:
                out[rec["PartitionKey"]].append((rec["Data"], unpack(rec["Data"])))
            if not got["Records"]:
                break
            it = got.get("NextShardIterator")
    return dict(out)


def events_of(records: list[tuple[bytes, Unpacked]]) -> list[dict[str, Any]]:
    return [e for _data, u in records for e in u.events]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FlakyKinesis:
    """The real client, failing as Kinesis does when told to: every call refused with
    ``down`` while it is set; entries failed with the code ``fail_entry(call, index)`` gives."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.down: Exception | None = None
        self.fail_entry: Callable[[int, int], str | None] = lambda _call, _i: None
        self.calls: list[list[bytes]] = []
        self.failed_entries = 0

    def put_records(self, *, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append([r["Data"] for r in Records])
        if self.down is not None:
            raise self.down
        codes = [self.fail_entry(len(self.calls), i) for i in range(len(Records))]
        passed = [r for r, code in zip(Records, codes, strict=True) if code is None]
        results = iter(
            self.client.put_records(StreamName=StreamName, Records=passed)["Records"]
            if passed
            else []
        )
        self.failed_entries += sum(code is not None for code in codes)
        return {
            "FailedRecordCount": sum(code is not None for code in codes),
            "Records": [
                next(results) if code is None else {"ErrorCode": code, "ErrorMessage": "injected"}
                for code in codes
            ],
        }

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def shipper(
    client: Any, spool: Path, host: str, clock: Clock, warnings: list[str], **kw: Any
) -> KinesisShipper:
    return KinesisShipper(
        client,
        STREAM,
        host,
        spool_dir=spool,
        clock=clock,
        sleep=clock.sleep,
        random=lambda: 0.5,
        warn=warnings.append,
        **kw,
    )


def pump(
    shippers: list[KinesisShipper], clock: Clock, done: Callable[[], bool], step: float = 0.25
) -> None:
    for _ in range(10000):
        if done():
            return
        for s in shippers:
            s.poll()
        clock.sleep(step)
    raise AssertionError("shipping never finished")


def drained(s: KinesisShipper) -> bool:
    return s.stats.spool_files == 0 and s._writer.pending == 0 and not s._queue


def _noise(n: int) -> str:
    return base64.b85encode(os.urandom(n)).decode()


def drop_alert(n: int) -> dict[str, Any]:
    return {
        "uuid": f"drop-{n}",
        "rule": "Falco internal: syscall event drop",
        "priority": "Critical",
        "source": "internal",
        "output": f"Falco internal: syscall event drop. {n} system calls dropped.",
        "output_fields": {"n_drops": n},
        "hostname": "node-1",
        "tags": ["internal"],
    }


def test_events_reach_the_stream_in_records_of_about_25kb(kinesis: Any, tmp_path: Path) -> None:
    clock, warnings = Clock(), []
    docs = node_events("node-1", 3000)
    with shipper(kinesis, tmp_path / "spool", "node-1", clock, warnings) as s:
        for doc in docs:
            s.add(doc)
            s.poll()
        s.add_alert(drop_alert(7))
    got = read_stream(kinesis)
    assert list(got) == ["node-1"]  # the partition key is the node
    records = got["node-1"]
    assert events_of(records) == docs
    assert [a for _d, u in records for a in u.alerts] == [drop_alert(7)]
    sizes = [len(data) for data, _u in records]
    assert max(sizes) <= PAYLOAD_UNIT
    assert sum(sizes[:-1]) / len(sizes[:-1]) > 20 * 1024
    stats = s.stats
    assert (stats.events_sent, stats.records_sent) == (3001, len(records))
    assert (stats.retried, stats.spooled, stats.dropped, stats.spool_bytes) == (0, 0, 0, 0)
    assert warnings == []


def test_a_partial_batch_is_sent_once_it_has_lingered(kinesis: Any, tmp_path: Path) -> None:
    clock, warnings = Clock(), []
    docs = node_events("node-1", 3)
    s = shipper(kinesis, tmp_path / "spool", "node-1", clock, warnings, linger=1.0)
    for doc in docs:
        s.add(doc)
    s.poll()
    assert read_stream(kinesis) == {}  # less than a batch, not lingered yet
    clock.sleep(1.0)
    s.poll()
    assert [u.events for _d, u in read_stream(kinesis)["node-1"]] == [docs]
    s.close()


def test_throttled_and_failed_entries_are_retried_alone_and_nothing_is_lost(
    kinesis: Any, tmp_path: Path
) -> None:
    flaky = FlakyKinesis(kinesis)
    # The first five calls: two entries in three are refused, throttled or failing inside.
    flaky.fail_entry = lambda call, i: (
        None
        if call > 5 or i % 3 == 1
        else ("ProvisionedThroughputExceededException" if i % 2 else "InternalFailure")
    )
    clock, warnings = Clock(), []
    docs = node_events("node-1", 3000)
    s = shipper(flaky, tmp_path / "spool", "node-1", clock, warnings)
    for doc in docs:
        s.add(doc)
    s.close(timeout=60)
    assert flaky.failed_entries > 0 and len(flaky.calls) > 5
    events = events_of(read_stream(kinesis)["node-1"])
    assert Counter(e["evt.num"] for e in events) == Counter(range(3000))  # each exactly once
    assert sorted(events, key=lambda e: e["evt.num"]) == docs
    # Only the failed entries went again: every entry sent is one record, or one failure.
    assert sum(map(len, flaky.calls)) == s.stats.records_sent + flaky.failed_entries
    assert s.stats.events_sent == 3000 and s.stats.retried > 0
    assert (s.stats.spooled, s.stats.dropped) == (0, 0)


def test_a_slow_stream_spills_memory_to_the_spool_and_loses_nothing(
    kinesis: Any, tmp_path: Path
) -> None:
    flaky = FlakyKinesis(kinesis)
    # An overloaded shard, for 30 calls: every other call is throttled, the others take
    # one record.
    flaky.fail_entry = lambda call, i: (
        "ProvisionedThroughputExceededException" if call <= 30 and (i or call % 2) else None
    )
    clock, warnings = Clock(), []
    docs = node_events("node-1", 3000)
    s = shipper(
        flaky,
        tmp_path / "spool",
        "node-1",
        clock,
        warnings,
        batch_target=4096,
        max_queue_bytes=20_000,
    )
    for doc in docs:
        s.add(doc)
        s.poll()
    assert s.stats.spooled > 0
    assert any("bytes waiting for Kinesis; spooling the oldest" in w for w in warnings)
    pump([s], clock, lambda: drained(s))
    s.close()
    assert events_of(read_stream(kinesis)["node-1"]) == docs
    assert s.stats.events_sent == 3000 and s.stats.dropped == 0


def test_kinesis_down_then_throttling_spools_and_recovery_delivers_everything_once_in_order(
    kinesis: Any, tmp_path: Path
) -> None:
    flaky = FlakyKinesis(kinesis)
    clock, warnings = Clock(), []
    hosts = ["node-a", "node-b"]
    docs = {h: node_events(h, 1800, seed=n) for n, h in enumerate(hosts)}
    ships = [shipper(flaky, tmp_path / h, h, clock, warnings) for h in hosts]

    def feed(part: slice) -> None:
        for i in range(len(docs["node-a"]))[part]:
            for h, s in zip(hosts, ships, strict=True):
                s.add(docs[h][i])
                s.poll()
            clock.sleep(0.01)

    feed(slice(0, 600))
    flaky.down = DOWN
    feed(slice(600, 1000))
    assert all(s.stats.spooled > 0 for s in ships)
    assert all(list(iter_spool(tmp_path / h)) for h in hosts)
    flaky.down = THROTTLED
    feed(slice(1000, 1200))
    spooled_files = sum(s.stats.spool_files for s in ships)
    flaky.down = None
    feed(slice(1200, 1800))
    pump(ships, clock, lambda: all(s.stats.spool_files == 0 for s in ships))
    for s in ships:
        s.close()

    got = read_stream(kinesis)
    assert sorted(got) == hosts
    for h in hosts:
        assert events_of(got[h]) == docs[h]  # each event once, in the node's order
    for s in ships:
        assert s.stats.events_sent == 1800 and s.stats.dropped == 0
        assert s.stats.spooled > 0 and s.stats.retried > 0 and s.stats.spool_bytes == 0
    assert spooled_files > 2
    assert any("EndpointConnectionError" in w and "spooling to" in w for w in warnings)
    assert any("taking records again" in w for w in warnings)


def test_shutdown_with_kinesis_down_spools_and_the_next_run_drains(
    kinesis: Any, tmp_path: Path
) -> None:
    flaky = FlakyKinesis(kinesis)
    flaky.down = DOWN
    clock, warnings = Clock(), []
    docs = node_events("node-1", 1000)
    spool = tmp_path / "spool"
    s = shipper(flaky, spool, "node-1", clock, warnings)
    for doc in docs:
        s.add(doc)
        s.poll()
    with pytest.raises(ShipError, match="in use by another lanner sensor"):
        shipper(kinesis, spool, "node-1", clock, warnings)
    # What SIGTERM does: send for a bounded time (here over before Kinesis counts as down),
    # spool the rest.
    s.close(timeout=0.1)
    assert (s.stats.events_sent, s.stats.spooled, s.stats.dropped) == (0, 1000, 0)
    assert len(list(iter_spool(spool))) == s.stats.spool_files > 0

    again: list[str] = []
    s2 = shipper(kinesis, spool, "node-1", clock, again)
    assert "from an earlier run" in again[0]
    pump([s2], clock, lambda: drained(s2))
    s2.close()
    assert events_of(read_stream(kinesis)["node-1"]) == docs
    assert s2.stats.events_sent == 1000 and list(iter_spool(spool)) == []


def test_a_full_spool_drops_the_newest_records_and_says_so(kinesis: Any, tmp_path: Path) -> None:
    flaky = FlakyKinesis(kinesis)
    flaky.down = DOWN
    clock, warnings = Clock(), []
    docs = node_events("node-1", 3000)
    spool = tmp_path / "spool"
    s = shipper(flaky, spool, "node-1", clock, warnings, max_spool_bytes=80_000)
    for doc in docs:
        s.add(doc)
        s.poll()
        clock.sleep(0.05)
    s.close()
    stats = s.stats
    assert 0 < stats.spool_bytes <= 80_000
    assert stats.dropped > 0 and stats.spooled + stats.dropped == 3000
    assert any(re.fullmatch(r"dropped \d+ events so far: spool .* is full .*", w) for w in warnings)
    assert sum(f.stat().st_size for f in iter_spool(spool)) == stats.spool_bytes

    s2 = shipper(kinesis, spool, "node-1", clock, [])
    pump([s2], clock, lambda: drained(s2))
    s2.close()
    assert events_of(read_stream(kinesis)["node-1"]) == docs[: stats.spooled]  # oldest kept


def test_unreadable_spool_files_are_set_aside_and_the_rest_delivered(
    kinesis: Any, tmp_path: Path
) -> None:
    flaky = FlakyKinesis(kinesis)
    flaky.down = DOWN
    clock = Clock()
    docs = node_events("node-1", 1000)
    spool = tmp_path / "spool"
    s = shipper(flaky, spool, "node-1", clock, [])
    for doc in docs:
        s.add(doc)
    s.close()
    files = list(iter_spool(spool))
    assert len(files) >= 3
    damaged = files[1]
    lost = unpack(damaged.read_bytes()).events
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0x40  # a flipped bit on disk
    damaged.write_bytes(bytes(data))
    (spool / "9999999999999998-3.lnb").write_bytes(b"not a batch at all")
    (spool / "9999999999999999-2.lnb.tmp").write_bytes(files[0].read_bytes()[:100])
    (spool / "9999999999999997-1.lnb").write_bytes(b"x" * (1 << 21))  # no record is this big

    warnings: list[str] = []
    s2 = shipper(kinesis, spool, "node-1", clock, warnings)
    pump([s2], clock, lambda: drained(s2))
    s2.close()
    assert events_of(read_stream(kinesis)["node-1"]) == [d for d in docs if d not in lost]
    assert s2.stats.corrupt_files == 4
    assert sorted(p.name for p in (spool / "corrupt").iterdir()) == sorted(
        [
            damaged.name,
            "9999999999999997-1.lnb",
            "9999999999999998-3.lnb",
            "9999999999999999-2.lnb.tmp",
        ]
    )
    assert sum("is not a readable batch" in w for w in warnings) == 4


def test_calls_stay_within_500_records_and_5_mib(kinesis: Any, tmp_path: Path) -> None:
    clock = Clock()
    small = FlakyKinesis(kinesis)
    s = shipper(small, tmp_path / "a", "node-1", clock, [], batch_target=1024)
    for doc in node_events("node-1", 3000):
        s.add(doc)
    s.poll()
    assert len(small.calls[0]) == MAX_RECORDS_PER_CALL
    s.close()

    big = FlakyKinesis(kinesis)
    s = shipper(big, tmp_path / "b", "node-2", clock, [], max_call_bytes=MAX_BYTES_PER_CALL)
    for i in range(280):  # 20 KB that do not compress: one a record, 5.6 MB in all
        s.add({"evt.num": i, "thread.tid": 1, "evt.arg": {"data": _noise(20_000)}})
    s.poll()
    first = sum(len(d) + len("node-2") for d in big.calls[0])
    assert MAX_BYTES_PER_CALL - 30_000 < first <= MAX_BYTES_PER_CALL
    s.close()
    assert [e["evt.num"] for e in events_of(read_stream(kinesis)["node-2"])] == list(range(280))


def test_stream_check_at_start(kinesis: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_stream(kinesis, STREAM) is None
    with pytest.raises(ShipError, match="Kinesis stream 'nope' does not exist"):
        check_stream(kinesis, "nope")

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    warning = check_stream(kinesis_client(), STREAM)
    assert warning is not None and "cannot reach Kinesis" in warning


# -- through the sensor's loop and command ----------------------------------------------

RULES = """
- rule: Shadow read
  desc: d
  condition: evt.type = openat and fd.name = /etc/shadow
  output: "%proc.name read %fd.name"
  priority: WARNING
  source: syscall
"""


class StopAfter:
    """A capture that hands out its events, loses some, then gets SIGTERM as a pod would."""

    def __init__(self, events: list[RawEvent], *_args: Any, **_kw: Any) -> None:
        self.events = events
        self.stopped = False

    def poll(self, timeout_ms: int) -> list[RawEvent]:
        if self.events:
            out, self.events = self.events, []
            return out
        if not self.stopped:
            self.stopped = True
            os.kill(os.getpid(), signal.SIGTERM)
        return []

    def stats(self) -> dict[str, int]:
        return {"ringbuf_full": 4}

    def __enter__(self) -> StopAfter:
        return self

    def __exit__(self, *_exc: object) -> None:
        pass


class Enrich:
    def __init__(self, **_kw: Any) -> None:
        self.procs: list[Any] = []  # the process table start-up counts

    def handle(self, ev: RawEvent) -> dict[str, Any] | None:
        return {
            "evt.type": ev.type,
            "fd.name": ev.args["name"],
            "proc.name": ev.comm,
            "evt.num": ev.ts_ns,
        }


def _raw_events() -> list[RawEvent]:
    return [
        RawEvent(1, "openat", 10, 10, comm="cat", args={"name": "/etc/shadow"}),
        RawEvent(2, "openat", 11, 11, comm="ls", args={"name": "/etc/hosts"}),
        RawEvent(3, "openat", 12, 12, comm="vi", args={"name": "/etc/shadow"}),
    ]


def test_the_loop_ships_only_events_that_alert_and_flushes_on_sigterm(
    kinesis: Any, tmp_path: Path
) -> None:
    engine = compile_rules(load_rules_text(RULES), hostname="node-1")
    alerts: list[Any] = []
    s = KinesisShipper(kinesis, STREAM, "node-1", spool_dir=tmp_path / "spool", linger=3600)
    stats = run(StopAfter(_raw_events()), Enrich(), engine, alerts.append, duration=30, shipper=s)
    assert [a.rule for a in alerts] == [
        "Shadow read",
        "Shadow read",
        "Falco internal: syscall event drop",
    ]
    (record,) = read_stream(kinesis)["node-1"]  # sent on SIGTERM, long before its linger
    assert [(e["proc.name"], e["fd.name"]) for e in record[1].events] == [
        ("cat", "/etc/shadow"),
        ("vi", "/etc/shadow"),
    ]
    assert [a["rule"] for a in record[1].alerts] == ["Falco internal: syscall event drop"]
    assert record[1].alerts[0]["output_fields"]["n_drops"] == 4
    assert stats.shipped == 2 and s.stats.events_sent == 3


def test_sensor_command_ships_and_reports_counters(
    kinesis: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    monkeypatch.setattr(sensor.capture, "Capture", lambda *a, **kw: StopAfter(_raw_events()))
    monkeypatch.setattr(sensor.capture, "supported_event_types", lambda: frozenset({"openat"}))
    monkeypatch.setattr(sensor.enrich, "Enricher", Enrich)
    monkeypatch.setenv("NODE_NAME", "node-9")
    args = [
        "sensor",
        "-r",
        str(rules),
        "--kinesis-stream",
        STREAM,
        "--spool-dir",
        str(tmp_path / "spool"),
    ]
    result = CliRunner().invoke(
        main, [*args, "--heartbeat", str(tmp_path / "beat"), "--duration", "30"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.count("Warning cat read /etc/shadow") == 1  # alerts still printed
    assert result.stderr.strip().splitlines()[-1] == (
        "captured 3 events, evaluated 3, 2 alerts, drops: 4; shipped 3 events in 1 records, "
        "retried 0, spooled 0, dropped 0; spool: 0 records, 0 bytes"
    )
    assert [len(u.events) for _d, u in read_stream(kinesis)["node-9"]] == [2]


def test_sensor_command_refuses_a_stream_that_does_not_exist(kinesis: Any, tmp_path: Path) -> None:
    args = ["sensor", "--kinesis-stream", "no-such-stream", "--spool-dir", str(tmp_path / "spool")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "lanner sensor: Kinesis stream 'no-such-stream' does not exist (region us-east-1)"
    )
    assert "Traceback" not in result.output
