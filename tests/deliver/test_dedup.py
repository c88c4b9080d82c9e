"""Incident windows in memory: what `lanner notify` delivers for repeated alerts."""

from __future__ import annotations

import threading
from typing import Any

from deliver.alert import DeliveryAlert, parse_alert
from deliver.dedup import Deduplicator, MemoryStore
from deliver.fingerprint import fingerprint, load_overrides, workload_of

T0 = 1_795_849_200.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def shell(n: int, host: str, pod: str = "web-7d9f8b6c5d-x2x9q", **fields: Any) -> DeliveryAlert:
    return parse_alert(
        {
            "rule": "Terminal shell in container",
            "priority": "Notice",
            "time": f"2026-12-06T10:00:{n % 60:02d}.000000000Z",
            "output": f"A shell was spawned (pid={n})",
            "source": "syscall",
            "hostname": host,
            "tags": ["T1059"],
            "output_fields": {
                "proc.pid": 1000 + n,
                "evt.time": 1_795_849_200_000_000_000 + n,
                "proc.name": "bash",
                "container.id": f"{n:012x}",
                "k8s.pod.name": pod,
                "k8s.ns.name": "prod",
                **fields,
            },
        }
    )


def run(dedup: Deduplicator, alerts: list[DeliveryAlert]) -> tuple[list[DeliveryAlert], int]:
    delivered: list[DeliveryAlert] = []
    copies = 0
    for a in alerts:
        d = dedup.observe(a, fingerprint(a))
        delivered.extend(d.summaries)
        if d.deliver:
            delivered.append(a)
        else:
            copies += 1
    return delivered, copies


def test_copies_from_ten_hosts_are_one_message_and_one_summary() -> None:
    clock = Clock()
    dedup = Deduplicator(MemoryStore(), 300, clock)
    alerts = [shell(n, f"node-{n % 10}", pod=f"falco-{'abcde'[n % 5]}{n % 10}x2q") for n in range(100)]
    delivered, copies = run(dedup, alerts)
    assert [a.uuid for a in delivered] == [alerts[0].uuid] and copies == 99
    clock.now += 301
    [window] = dedup.due()
    assert dedup.store.settle(window)
    summary = window.summary()
    assert summary.repeat is not None
    assert (summary.repeat.count, summary.repeat.hosts) == (100, 10)
    assert summary.repeat.first_seen == "2026-12-06T10:00:00.000000000Z"
    assert summary.repeat.last_seen == "2026-12-06T10:00:59.000000000Z"
    assert summary.rule == alerts[0].rule and summary.uuid != alerts[0].uuid
    assert dedup.due() == []  # settled: summarised once


def test_two_incidents_are_two_messages_and_no_summary_without_copies() -> None:
    clock = Clock()
    dedup = Deduplicator(MemoryStore(), 300, clock)
    delivered, copies = run(dedup, [shell(1, "n1"), shell(2, "n1", **{"proc.name": "sh"})])
    assert len(delivered) == 2 and copies == 0
    clock.now += 301
    assert dedup.due() == []


def test_the_next_alert_after_a_window_carries_its_summary() -> None:
    clock = Clock()
    dedup = Deduplicator(MemoryStore(), 300, clock)
    run(dedup, [shell(n, "n1") for n in range(5)])
    clock.now += 400
    later = shell(9, "n2")
    delivered, _ = run(dedup, [later])
    assert [a.repeat.count if a.repeat else None for a in delivered] == [5, None]
    assert delivered[1].uuid == later.uuid


def test_a_retried_first_alert_is_delivered_again_not_counted() -> None:
    # Its first delivery may have failed: a retry must never end in loss.
    dedup = Deduplicator(MemoryStore(), 300, Clock())
    first = shell(1, "n1")
    assert dedup.observe(first, fingerprint(first)).deliver
    assert dedup.observe(first, fingerprint(first)).deliver
    assert not dedup.observe(shell(2, "n1"), fingerprint(first)).deliver


def test_eight_concurrent_writers_agree_on_one_first_and_count_everything() -> None:
    dedup = Deduplicator(MemoryStore(), 300, Clock())
    firsts: list[str] = []
    lock = threading.Lock()

    def writer(k: int) -> None:
        for n in range(50):
            a = shell(k * 100 + n, f"node-{k}")
            if dedup.observe(a, fingerprint(a)).deliver:
                with lock:
                    firsts.append(a.uuid)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(firsts) == 1
    [window] = dedup.due(now=float("inf"))
    assert window.count == 400 and len(window.hosts) == 8


def test_daemonset_pods_on_every_node_are_one_incident() -> None:
    a = shell(1, "n1", pod="falco-x7k2p")
    b = shell(2, "n2", pod="falco-q9w4z")
    other = shell(3, "n3", pod="api-6b7f9c8d4-abcde")
    assert fingerprint(a) == fingerprint(b) != fingerprint(other)
    assert workload_of("api-6b7f9c8d4-abcde") == "api"
    assert workload_of("falco-x7k2p") == "falco"


def test_fingerprint_fields_per_rule_override_the_default() -> None:
    overrides = load_overrides('{"Terminal shell in container": ["k8s.ns.name"]}')
    a = shell(1, "n1")
    b = shell(2, "n2", **{"proc.name": "zsh"})
    assert fingerprint(a) != fingerprint(b)
    assert fingerprint(a, overrides) == fingerprint(b, overrides)
