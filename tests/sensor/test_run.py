"""The sensor's main loop with an in-tree fake capture: no kernel needed."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from lanner import compile_rules, load_rules_text, wire
from sensor.events import RawEvent
from sensor.run import RECORD_HEADER, Recorder, capture_set, heartbeat_fresh, run

RULES = """
- rule: Shadow read
  desc: d
  condition: evt.type = openat and fd.name = /etc/shadow
  output: "%proc.name read %fd.name"
  priority: WARNING
  source: syscall
"""


class FakeCapture:
    def __init__(self, batches: list[list[RawEvent]], drops: dict[str, int]) -> None:
        self.batches = batches
        self.drops = drops

    def poll(self, timeout_ms: int) -> list[RawEvent]:
        return self.batches.pop(0) if self.batches else []

    def stats(self) -> dict[str, int]:
        return {"events": 2, **self.drops}


class FakeEnricher:
    def handle(self, ev: RawEvent) -> dict[str, Any] | None:
        if ev.type == "procexit":
            return None
        return {"evt.type": ev.type, "fd.name": ev.args["name"], "proc.name": ev.comm}


def _events() -> list[RawEvent]:
    return [
        RawEvent(1, "openat", 10, 10, comm="cat", args={"name": "/etc/shadow"}),
        RawEvent(2, "openat", 11, 11, comm="ls", args={"name": "/etc/hosts"}),
        RawEvent(3, "procexit", 10, 10),
    ]


def test_loop_alerts_records_and_reports_drops(tmp_path: Path) -> None:
    engine = compile_rules(load_rules_text(RULES), hostname="node-1")
    alerts: list[Any] = []
    out = io.StringIO()
    beat = tmp_path / "beat"
    stats = run(
        FakeCapture([_events()], {"ringbuf_full": 5, "read_failed": 0}),
        FakeEnricher(),
        engine,
        alerts.append,
        recorder=Recorder(out),
        duration=0.5,
        heartbeat=beat,
    )
    rules = [a.rule for a in alerts]
    assert rules == ["Shadow read", "Falco internal: syscall event drop"]
    assert alerts[0].message == "cat read /etc/shadow"
    drop = alerts[1]
    assert str(drop.priority) == "Critical" and drop.hostname == "node-1"
    assert drop.output_fields == {"n_drops": 5, "n_drops_ringbuf_full": 5}
    assert (stats.captured, stats.evaluated, stats.alerts) == (3, 2, 1)  # rule alerts
    assert stats.drops == {"ringbuf_full": 5}
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0] == RECORD_HEADER
    decoder = wire.Decoder()
    docs = [d for d in map(decoder.decode, lines[1:]) if d is not None]
    assert [d["fd.name"] for d in docs] == ["/etc/shadow", "/etc/hosts"]
    assert heartbeat_fresh(beat)


def test_capture_set_is_what_rules_need_plus_state() -> None:
    engine = compile_rules(load_rules_text(RULES))
    supported = frozenset({"openat", "open", "execve", "close", "connect", "ptrace"})
    assert capture_set(engine, supported) == {"openat", "open", "execve", "close", "connect"}


def test_capture_set_sees_memfd_create_for_programs_run_from_memory() -> None:
    # A rule on execs only: a program fexecve'd from a memfd and gone before /proc/<pid>/exe
    # is read is known as such only from the memfd_create seen before it.
    engine = compile_rules(
        load_rules_text(
            "- rule: memfd exec\n  desc: d\n  condition: evt.type = execve and proc.is_exe_from_memfd = true\n"
            "  output: x\n  priority: WARNING\n"
        )
    )
    supported = frozenset({"execve", "memfd_create", "ptrace"})
    assert capture_set(engine, supported) == {"execve", "memfd_create"}


class ListShipper:
    def __init__(self) -> None:
        self.docs: list[dict[str, Any]] = []
        self.alerts: list[dict[str, Any]] = []
        self.polls = 0
        self.closed_with: float | None = None

    def add(self, doc: dict[str, Any]) -> None:
        self.docs.append(doc)

    def add_alert(self, alert: dict[str, Any]) -> None:
        self.alerts.append(alert)

    def poll(self) -> None:
        self.polls += 1

    def close(self, timeout: float = 10.0) -> None:
        self.closed_with = timeout


def test_only_events_that_alert_leave_the_node_and_the_shipper_is_closed() -> None:
    engine = compile_rules(load_rules_text(RULES), hostname="node-1")
    alerts: list[Any] = []
    shipper = ListShipper()
    stats = run(
        FakeCapture([_events()], {"stash_full": 2}),
        FakeEnricher(),
        engine,
        alerts.append,
        duration=0.2,
        shipper=shipper,
        ship_timeout=3.0,
    )
    assert shipper.docs == [{"evt.type": "openat", "fd.name": "/etc/shadow", "proc.name": "cat"}]
    assert [a["rule"] for a in shipper.alerts] == ["Falco internal: syscall event drop"]
    assert shipper.alerts == [alerts[1].to_dict()]
    assert shipper.polls > 0 and shipper.closed_with == 3.0
    assert stats.shipped == 1
