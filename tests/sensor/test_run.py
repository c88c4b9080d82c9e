"""The sensor's main loop with an in-tree fake capture: no kernel needed."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from lanner import compile_rules, load_rules_text, wire
from sensor.events import RawEvent
from sensor.recording import RECORD_HEADER, Recorder
from sensor.run import capture_set, heartbeat_fresh, run

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


# --- rules swapped while the loop runs ----------------------------------------------------

HOSTS_RULES = RULES.replace("Shadow read", "Hosts read").replace("/etc/shadow", "/etc/hosts")


class Reloads:
    """A reload hook handing over ``engines`` one call at a time; records what it was told."""

    def __init__(self, *engines: Any) -> None:
        self.engines = list(engines)
        self.requested: list[bool] = []

    def __call__(self, requested: bool) -> Any:
        self.requested.append(requested)
        return self.engines.pop(0) if self.engines else None


def test_new_rules_take_over_between_batches_and_no_event_is_lost() -> None:
    shadow = compile_rules(load_rules_text(RULES), hostname="node-1")
    hosts = compile_rules(load_rules_text(HOSTS_RULES), hostname="node-1")
    both = [
        RawEvent(1, "openat", 10, 10, comm="cat", args={"name": "/etc/shadow"}),
        RawEvent(2, "openat", 11, 11, comm="ls", args={"name": "/etc/hosts"}),
    ]
    alerts: list[Any] = []
    # The first call comes after the first batch; the second batch meets the new rules.
    stats = run(
        FakeCapture([list(both), list(both)], {}),
        FakeEnricher(),
        shadow,
        alerts.append,
        duration=0.3,
        reload=Reloads(hosts),
    )
    assert [a.message for a in alerts] == ["cat read /etc/shadow", "ls read /etc/hosts"]
    assert (stats.captured, stats.evaluated) == (4, 4)


def test_sighup_asks_for_new_rules_and_is_not_fatal() -> None:
    import os
    import signal

    class HupOnce(FakeCapture):
        def poll(self, timeout_ms: int) -> list[RawEvent]:
            if not self.batches:
                return []
            os.kill(os.getpid(), signal.SIGHUP)  # arrives mid-batch, handled between
            return self.batches.pop(0)

    engine = compile_rules(load_rules_text(RULES), hostname="node-1")
    reloads = Reloads()
    before = signal.getsignal(signal.SIGHUP)
    run(
        HupOnce([_events()], {}),
        FakeEnricher(),
        engine,
        lambda _a: None,
        duration=0.3,
        reload=reloads,
    )
    assert reloads.requested[0] is True
    assert set(reloads.requested[1:]) == {False}  # asked once per SIGHUP
    assert signal.getsignal(signal.SIGHUP) == before


def test_a_swap_retargets_the_enrichers_prefilter_and_names_what_is_not_captured(
    tmp_path: Path,
) -> None:
    """With the real enricher and pre-filter: /etc/hosts opens are pre-filtered out under
    the first rules; after the swap, the same open (same verdict cache key) must alert."""
    from fakeproc import make_tree

    from sensor.command import SensorOptions, swap_rules
    from sensor.dnsnames import DnsNames
    from sensor.enrich import EARLY_FIELDS, Enricher

    root = make_tree(tmp_path)
    shadow = compile_rules(load_rules_text(RULES), hostname="node-1")
    new_rules = compile_rules(
        load_rules_text(
            HOSTS_RULES + "- rule: Ptrace\n  desc: d\n  condition: evt.type = ptrace\n"
            "  output: x\n  priority: WARNING\n  source: syscall\n"
            "- rule: Failed close\n  desc: d\n  condition: evt.type = close and evt.res < 0\n"
            "  output: x\n  priority: WARNING\n  source: syscall\n"
            "- rule: DB\n  desc: d\n  condition: evt.type = openat and fd.sip.name = db.internal\n"
            "  output: x\n  priority: WARNING\n  source: syscall\n"
        ),
        hostname="node-1",
    )
    enricher = Enricher(
        str(root),
        hostname="node-1",
        passwd_path=str(tmp_path / "passwd"),
        group_path=str(tmp_path / "group"),
        documents_for=shadow.index_values("syscall", "evt.type"),
        prefilter=shadow.prefilter("syscall", EARLY_FIELDS),
    )

    def open_hosts(ts: int) -> RawEvent:
        args = {"dirfd": -100, "name": "/etc/hosts", "flags": 0, "mode": 0}
        return RawEvent(ts, "openat", 600, 600, 1000, 1000, "cat", 3, args)

    class Capture(FakeCapture):
        event_types = frozenset({"openat", "execve", "close"})
        state_only = frozenset({"close"})

    options = SensorOptions(
        as_json=False, record=None, duration=None, host_root="/", heartbeat="",
        kubelet_url=None, kubelet_token="", kubelet_ca="", kinesis_stream=None,
        spool_dir="", spool_max_mb=1,
    )  # fmt: skip
    said: list[str] = []
    capture = Capture([[open_hosts(1)], [open_hosts(2)]], {})
    supported = frozenset({"openat", "execve", "close", "ptrace"})
    asked: list[str] = []

    def resolve(name: str) -> tuple[frozenset[str], None]:
        asked.append(name)
        return frozenset({"10.0.0.7"}), None

    dns = DnsNames(["old.internal"], resolve=resolve)  # not started: looked up below
    reload = swap_rules(Reloads(new_rules), options, enricher, capture, supported, said.append, dns)
    alerts: list[Any] = []
    stats = run(capture, enricher, shadow, alerts.append, duration=0.3, reload=reload)
    assert [a.message for a in alerts] == ["cat read /etc/hosts"]  # the second open only
    assert stats.prefiltered == 1  # the first open, under the first rules
    assert said == [
        "lanner sensor: the new rules match what this sensor has not captured since it "
        "started: close (failures), ptrace (not captured); rules on them see it after a restart"
    ]
    dns.refresh_due()
    assert asked == ["db.internal"] and dns.by_ip["10.0.0.7"] == "db.internal"
