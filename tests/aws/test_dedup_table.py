"""Incident windows in DynamoDB (moto): one message per incident from any number of nodes
and concurrent invocations, and one summary per window that had copies, on the topic."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from test_runtime import FakeContext, Stack, make_stack

from deliver.alert import parse_alert
from deliver.dedup import Deduplicator
from deliver.fingerprint import fingerprint
from functions import summarize_handler
from functions.dedup_table import DynamoWindowStore
from functions.runtime import get_runtime, reset_runtime

T0 = 1_795_849_200.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stack(aws: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    yield make_stack(monkeypatch)
    reset_runtime()


def shell(n: int, host: str, **fields: Any) -> dict[str, Any]:
    return {
        "rule": "Terminal shell in container",
        "priority": "Notice",
        "time": f"2026-12-06T10:{n // 60 % 60:02d}:{n % 60:02d}.000000000Z",
        "output": f"10:00:00.000000000: Notice A shell was spawned (pid={n})",
        "source": "syscall",
        "hostname": host,
        "tags": ["T1059"],
        "output_fields": {
            "proc.pid": 1000 + n,
            "proc.name": "bash",
            "k8s.pod.name": f"falco-{n % 10}b{n % 7}cd",
            "k8s.ns.name": "prod",
            **fields,
        },
    }


def with_clock(clock: Clock) -> Any:
    rt = get_runtime()
    assert rt.dedup is not None
    rt.dedup.clock = clock
    return rt


def test_hundred_copies_from_ten_hosts_one_alert_then_one_summary(stack: Stack) -> None:
    clock = Clock()
    rt = with_clock(clock)
    docs = [shell(n, f"node-{n % 10}") for n in range(100)]
    results = [rt.publisher.publish([d]) for d in docs]
    assert sum(r.published for r in results) == 1
    assert sum(r.deduplicated for r in results) == 99
    [first] = stack.alerts()
    assert first["alert"]["output"].endswith("(pid=0)")
    assert first["attributes"]["kind"] == "alert"

    assert summarize_handler.handler({}, FakeContext()) == {"summaries": 0}  # window open
    clock.now += 301
    assert summarize_handler.handler({}, FakeContext()) == {"summaries": 1}
    [summary] = stack.alerts()
    assert summary["attributes"]["kind"] == "summary"
    assert summary["attributes"]["rule"] == "Terminal shell in container"
    repeat = summary["alert"]["repeat"]
    assert (repeat["count"], repeat["hosts"]) == (100, 10)
    assert repeat["host_names"] == [f"node-{i}" for i in range(10)]
    assert repeat["first_seen"] == "2026-12-06T10:00:00.000000000Z"
    # Run again: nothing more (settled), and never twice.
    assert summarize_handler.handler({}, FakeContext()) == {"summaries": 0}
    assert stack.alerts() == []


def test_two_incidents_two_alerts_and_no_summary(stack: Stack) -> None:
    clock = Clock()
    rt = with_clock(clock)
    rt.publisher.publish([shell(1, "n1"), shell(2, "n1", **{"proc.name": "sh"})])
    assert len(stack.alerts()) == 2
    clock.now += 301
    assert summarize_handler.handler({}, FakeContext()) == {"summaries": 0}


def test_the_next_window_publishes_the_last_ones_summary_once(stack: Stack) -> None:
    clock = Clock()
    rt = with_clock(clock)
    for n in range(3):
        rt.publisher.publish([shell(n, "n1")])
    stack.alerts()
    clock.now += 400
    rt.publisher.publish([shell(10, "n2")])
    got = stack.alerts()
    assert sorted(m["attributes"]["kind"] for m in got) == ["alert", "summary"]
    # The sweep that comes later finds it handed over already.
    assert summarize_handler.handler({}, FakeContext()) == {"summaries": 0}
    assert stack.alerts() == []


def test_a_retried_record_publishes_its_first_alert_once(stack: Stack) -> None:
    rt = with_clock(Clock())
    doc = shell(1, "n1")
    assert rt.publisher.publish([doc]).published == 1
    again = rt.publisher.publish([doc])  # a Lambda retry of the same record
    assert (again.published, again.duplicates, again.deduplicated) == (0, 1, 0)
    assert len(stack.alerts()) == 1


@pytest.fixture
def atomic_items(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB applies each conditional write to an item atomically; moto's threaded
    server does not (two concurrent ADDs can lose one). Serialise its writes, as the
    real service does per item, so the test checks our logic and not moto's."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.Lock()
    for name in ("put_item", "update_item"):
        original = getattr(DynamoDBBackend, name)

        def locked(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return _original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)


def test_eight_concurrent_writers(stack: Stack, atomic_items: None) -> None:
    clock = Clock()
    firsts: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    probe = parse_alert(shell(0, "n"))
    key = fingerprint(probe)

    def writer(k: int) -> None:
        client = boto3.client("dynamodb")  # each invocation has its own
        dedup = Deduplicator(DynamoWindowStore(lambda: client, stack.table), 300, clock)
        try:
            for n in range(25):
                a = parse_alert(shell(k * 100 + n, f"node-{k}"))
                assert fingerprint(a) == key
                if dedup.observe(a, key).deliver:
                    with lock:
                        firsts.append(a.uuid)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(firsts) == 1
    store = DynamoWindowStore(lambda: boto3.client("dynamodb"), stack.table)
    [window] = store.due(float("inf"), 10)
    assert window.count == 200 and len(window.hosts) == 8
    assert window.first_uuid == firsts[0]
