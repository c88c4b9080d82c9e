"""The sensor's Prometheus metrics, scraped over HTTP from 127.0.0.1 while the loop runs and
after it ends: the families a user's Prometheus sees, with the values the events fed make."""

from __future__ import annotations

import io
import os
import signal
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

import sensor.capture
import sensor.enrich
from lanner import compile_rules, load_rules, load_rules_text
from sensor.command import Rules, SensorOptions
from sensor.command import main as sensor_main
from sensor.events import RawEvent
from sensor.listen import ListenError, parse_listen
from sensor.metrics import MetricsServer, SensorMetrics, serve
from sensor.reload import ReloadStatus
from sensor.run import SensorStats, run
from sensor.ship import ShipStats

RULES = """
- rule: Shadow read
  desc: d
  condition: evt.type = openat and fd.name = /etc/shadow
  output: "%proc.name read %fd.name"
  priority: WARNING
  source: syscall
- rule: Hosts read
  desc: d
  condition: evt.type = openat and fd.name = /etc/hosts
  output: "%proc.name read %fd.name"
  priority: NOTICE
  source: syscall
"""

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> tuple[str, Samples]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        content_type = resp.headers["Content-Type"]
        text = resp.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return content_type, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def lanner_names(samples: Samples) -> set[str]:
    return {name for name, _labels in samples}


class FakeCapture:
    """Hands over its batches, then nothing; ``during`` is called on the second poll (the
    first batch has gone through the loop by then)."""

    def __init__(self, batches: list[list[RawEvent]], drops: dict[str, int], during: Any) -> None:
        self.batches = batches
        self.drops = drops
        self.polls = 0
        self.during = during

    def poll(self, timeout_ms: int) -> list[RawEvent]:
        self.polls += 1
        if self.polls == 2:
            self.during()
        return self.batches.pop(0) if self.batches else []

    def stats(self) -> dict[str, int]:
        return {"events": 4, "read_failed": 3, **self.drops}


class FakeEnricher:
    """Documents for opens; every other open of /tmp counts as pre-filtered."""

    def __init__(self, **_kwargs: Any) -> None:
        self.prefiltered = 0
        self.procs: list[int] = []

    def handle(self, ev: RawEvent) -> dict[str, Any] | None:
        if ev.type == "procexit":
            return None
        if ev.args["name"].startswith("/tmp"):
            self.prefiltered += 1
            return None
        return {"evt.type": ev.type, "fd.name": ev.args["name"], "proc.name": ev.comm}

    def sizes(self) -> dict[str, int]:
        return {"processes": 42, "fds": 420, "prefilter_verdicts": 7, "container_metadata": 3}


class StatsShipper:
    def __init__(self) -> None:
        self.stats = ShipStats(
            events_sent=11,
            failed_calls=2,
            failed_records=5,
            dropped=1,
            spool_bytes=4096,
            spool_files=2,
            queue_bytes=1500,
            queue_records=3,
        )

    def add(self, doc: dict[str, Any]) -> None:
        pass

    def add_alert(self, alert: dict[str, Any]) -> None:
        pass

    def poll(self) -> None:
        pass

    def close(self, timeout: float = 10.0) -> None:
        pass


def _events() -> list[RawEvent]:
    return [
        RawEvent(1, "openat", 10, 10, comm="cat", args={"name": "/etc/shadow"}),
        RawEvent(2, "openat", 11, 11, comm="ls", args={"name": "/tmp/x"}),
        RawEvent(3, "procexit", 10, 10),
    ]


@pytest.fixture
def served() -> Iterator[tuple[SensorMetrics, MetricsServer]]:
    metrics = SensorMetrics()
    server = serve(metrics, "127.0.0.1:0")
    yield metrics, server
    server.close()


def test_metrics_scraped_while_the_loop_runs_and_after(
    served: tuple[SensorMetrics, MetricsServer],
) -> None:
    metrics, server = served
    assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/metrics")
    pods = {"pods": 4, "containers": 9, "relists": 1, "reconnects": 2, "errors": 0}
    dns = {"names": 2, "resolved": 1, "addresses": 3, "lookups": 8, "failures": 1, "skipped": 0}
    metrics.attach(
        k8s=lambda: pods,
        dns=lambda: dns,
        rules=lambda: ReloadStatus(True, 1_700_000_000.5, 1, 0, 2),
    )
    during: dict[str, Samples] = {}

    def scrape_now() -> None:
        during["samples"] = scrape(server.url)[1]

    engine = compile_rules(load_rules_text(RULES), hostname="node-1")
    batches = [
        _events(),
        [RawEvent(4, "openat", 12, 12, comm="vi", args={"name": "/etc/hosts"})],
    ]
    capture = FakeCapture(batches, {"ringbuf_full": 5, "stash_full": 0}, scrape_now)
    stats = run(
        capture,
        FakeEnricher(),
        engine,
        lambda _alert: None,
        duration=0.5,
        shipper=StatsShipper(),
        metrics=metrics,
    )
    assert (stats.captured, stats.evaluated, stats.prefiltered) == (4, 3, 1)

    # During the run: the first batch counted, the loop marked running.
    live = during["samples"]
    assert value(live, "lanner_sensor_running") == 1
    assert value(live, "lanner_events_captured_total", type="openat") == 2
    assert value(live, "lanner_events_captured_total", type="procexit") == 1
    assert value(live, "lanner_alerts_total", rule="Shadow read", priority="Warning") == 1

    content_type, after = scrape(server.url)
    assert content_type.startswith("text/plain; version=0.0.4")
    assert value(after, "lanner_sensor_running") == 0
    assert value(after, "lanner_sensor_start_time_seconds") == metrics.start_time
    # events per type: rate() of this counter; its sum is every event captured
    assert value(after, "lanner_events_captured_total", type="openat") == 3
    assert value(after, "lanner_events_captured_total", type="procexit") == 1
    assert value(after, "lanner_events_dropped_total", reason="ringbuf_full") == 5
    for reason in ("stash_full", "scratch", "no_enter", "decode_errors"):
        assert value(after, "lanner_events_dropped_total", reason=reason) == 0
    assert ("lanner_events_dropped_total", (("reason", "read_failed"),)) not in after
    assert value(after, "lanner_events_evaluated_total") == 3
    assert value(after, "lanner_events_prefiltered_total") == 1
    assert value(after, "lanner_alerts_total", rule="Shadow read", priority="Warning") == 1
    assert value(after, "lanner_alerts_total", rule="Hosts read", priority="Notice") == 1
    drop_rule = "Falco internal: syscall event drop"
    assert value(after, "lanner_alerts_total", rule=drop_rule, priority="Critical") == 1
    # rules
    assert value(after, "lanner_rules_loaded") == 2
    assert value(after, "lanner_rules_load_ok") == 1
    assert value(after, "lanner_rules_last_load_success_timestamp_seconds") == 1_700_000_000.5
    assert value(after, "lanner_rules_loads_total", result="ok") == 1
    assert value(after, "lanner_rules_loads_total", result="error") == 0
    # shipping
    assert value(after, "lanner_ship_queue_records") == 3
    assert value(after, "lanner_ship_queue_bytes") == 1500
    assert value(after, "lanner_ship_spool_records") == 2
    assert value(after, "lanner_ship_spool_bytes") == 4096
    assert value(after, "lanner_ship_events_sent_total") == 11
    assert value(after, "lanner_ship_events_dropped_total") == 1
    assert value(after, "lanner_kinesis_errors_total", kind="call") == 2
    assert value(after, "lanner_kinesis_errors_total", kind="record") == 5
    # enrichment caches
    assert value(after, "lanner_enrich_processes") == 42
    assert value(after, "lanner_enrich_fds") == 420
    assert value(after, "lanner_enrich_prefilter_verdicts") == 7
    assert value(after, "lanner_enrich_container_metadata") == 3
    # the pod watch
    assert value(after, "lanner_k8s_pods") == 4
    assert value(after, "lanner_k8s_containers") == 9
    assert value(after, "lanner_k8s_relists_total") == 1
    assert value(after, "lanner_k8s_reconnects_total") == 2
    # the rules' domain names (fd.*.name)
    assert value(after, "lanner_dns_names") == 2
    assert value(after, "lanner_dns_addresses") == 3
    assert value(after, "lanner_dns_lookups_total") == 8
    assert value(after, "lanner_dns_failures_total") == 1
    assert all(name.startswith("lanner_") for name in lanner_names(after))


def test_only_what_the_sensor_has_is_reported(served: tuple[SensorMetrics, MetricsServer]) -> None:
    _metrics, server = served
    _, samples = scrape(server.url)
    # no rules reloader, shipper, enricher or pod watch: their families are absent, not zero
    assert lanner_names(samples) == {
        "lanner_sensor_start_time_seconds",
        "lanner_sensor_running",
        "lanner_events_dropped_total",
        "lanner_events_evaluated_total",
        "lanner_events_prefiltered_total",
    }


def test_the_real_enricher_reports_its_sizes(tmp_path: Path) -> None:
    from fakeproc import make_tree

    from sensor.enrich import Enricher

    root = make_tree(tmp_path)
    enricher = Enricher(str(root), hostname="node-1", seed=True)
    metrics = SensorMetrics()
    metrics.attach(enricher=enricher)
    server = serve(metrics, "127.0.0.1:0")
    try:
        _, samples = scrape(server.url)
    finally:
        server.close()
    assert value(samples, "lanner_enrich_processes") == len(enricher.procs) == 5
    assert value(samples, "lanner_enrich_fds") == 0  # the fake /proc has no fds
    assert value(samples, "lanner_enrich_prefilter_verdicts") == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.0.0.0:9376", ("0.0.0.0", 9376)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("[::]:9376", ("::", 9376)),
        ("localhost:9376", ("localhost", 9376)),
    ],
)
def test_listen_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9376", "expected HOST:PORT"),
        (":9376", "expected HOST:PORT"),
        ("0.0.0.0:", "expected HOST:PORT"),
        ("0.0.0.0:http", "expected HOST:PORT"),
        ("0.0.0.0:65536", "expected HOST:PORT"),
        ("::1:9376", "an IPv6 address is written in brackets"),
    ],
)
def test_bad_listen_addresses(text: str, message: str) -> None:
    with pytest.raises(ListenError, match=message):
        parse_listen(text)


def test_an_address_in_use_is_refused() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ListenError, match="cannot listen there: Address already in use"):
            serve(SensorMetrics(), f"127.0.0.1:{port}")


def test_ipv6_loopback_is_served_when_the_host_has_it() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this host")
    try:
        server = serve(SensorMetrics(), "[::1]:0")
    except ListenError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    try:
        assert server.url.startswith("http://[::1]:")
        _, samples = scrape(server.url)
        assert value(samples, "lanner_sensor_running") == 0
    finally:
        server.close()


# --- through `lanner sensor`'s own start-up (sensor.command.main) -------------------------


SHADOW_ONLY = RULES.split("- rule: Hosts read")[0]
HOSTS_ONLY = "- rule: Hosts read" + RULES.split("- rule: Hosts read")[1]
BROKEN = HOSTS_ONLY + "- rule: Broken\n  desc: d\n  condition: evt.type = openat and\n"


class Scripted:
    """A capture that plays ``steps`` one poll at a time: a list is a batch to hand over, a
    callable is run (and hands over nothing). Used as ``Capture(...)``; SIGTERM at the end."""

    def __init__(self, steps: list[Any]) -> None:
        self.steps = steps
        self.captured = 0

    def poll(self, timeout_ms: int) -> list[RawEvent]:
        if not self.steps:
            os.kill(os.getpid(), signal.SIGTERM)
            return []
        step = self.steps.pop(0)
        if callable(step):
            step()
            return []
        self.captured += len(step)
        return list(step)

    def stats(self) -> dict[str, int]:
        return {}

    def __enter__(self) -> Scripted:
        return self

    def __exit__(self, *_exc: object) -> None:
        pass


def _wait_for(said: list[str], text: str) -> None:
    """Until the reloader's thread has said ``text`` (no timing asserted: a bound only)."""
    for _ in range(2000):
        if any(text in line for line in said):
            return
        time.sleep(0.01)
    raise AssertionError(f"never said {text!r}: {said}")


def test_the_sensor_serves_metrics_and_swaps_rules_on_sighup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through sensor.command.main: the metrics at the address said at start, the rules
    reloaded on SIGHUP between two batches (no event lost), a broken file reported with
    its position while the last good rules keep running, and the metrics saying so."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(SHADOW_ONLY)
    said: list[str] = []
    seen: dict[str, Samples] = {}

    def url() -> str:
        [line] = [s for s in said if "metrics at " in s]
        return line.split("metrics at ", 1)[1]

    def scrape_as(name: str) -> Callable[[], None]:
        return lambda: seen.__setitem__(name, scrape(url())[1])

    def change_rules(text: str, wait_for: str) -> list[Any]:
        def write_and_hup() -> None:
            rules.write_text(text)
            os.kill(os.getpid(), signal.SIGHUP)

        # the reloader's thread builds; the swap happens after the (empty) batch that follows
        return [write_and_hup, lambda: _wait_for(said, wait_for), []]

    both = [
        RawEvent(1, "openat", 10, 10, comm="cat", args={"name": "/etc/shadow"}),
        RawEvent(2, "openat", 11, 11, comm="cat", args={"name": "/etc/hosts"}),
    ]
    steps = [
        both,
        scrape_as("first"),
        *change_rules(HOSTS_ONLY, "rules reloaded"),
        both,
        *change_rules(BROKEN, "do not load"),
        both,
        scrape_as("last"),
    ]
    capture = Scripted(steps)
    monkeypatch.setattr(sensor.capture, "Capture", lambda *_a, **_kw: capture)
    monkeypatch.setattr(sensor.capture, "supported_event_types", lambda: frozenset({"openat"}))
    monkeypatch.setattr(sensor.enrich, "Enricher", RetargetedEnricher)

    def build() -> Any:
        return compile_rules(load_rules([str(rules)]), hostname="node-1")

    options = _options(tmp_path, metrics_listen="127.0.0.1:0", duration=60)
    out = io.StringIO()
    status = sensor_main(options, build, out, said.append, Rules((str(rules),), build))
    assert status == 0, said
    assert [line.split(": ", 1)[1] for line in out.getvalue().splitlines()] == [
        "Warning cat read /etc/shadow",  # the first rules
        "Notice cat read /etc/hosts",  # swapped in on SIGHUP
        "Notice cat read /etc/hosts",  # the broken file did not replace them
    ]
    assert said[-1] == "captured 6 events, evaluated 6, 3 alerts, drops: 0"  # none lost
    assert any(line.startswith(f"lanner sensor: {rules}:") for line in said)  # FILE:LINE:COL
    assert any(
        s.startswith("lanner sensor: [") and "metrics at http://127.0.0.1:" in s for s in said
    )
    first, last = seen["first"], seen["last"]
    assert value(first, "lanner_sensor_running") == 1
    assert value(first, "lanner_rules_loaded") == 1
    assert value(first, "lanner_rules_load_ok") == 1
    assert value(first, "lanner_rules_loads_total", result="ok") == 1
    assert value(first, "lanner_events_captured_total", type="openat") == 2
    assert value(last, "lanner_rules_load_ok") == 0
    assert value(last, "lanner_rules_loaded") == 1  # the hosts rule, still running
    assert value(last, "lanner_rules_loads_total", result="ok") == 2
    assert value(last, "lanner_rules_loads_total", result="error") == 1
    assert value(last, "lanner_events_captured_total", type="openat") == 6
    assert value(last, "lanner_alerts_total", rule="Hosts read", priority="Notice") == 2
    assert value(last, "lanner_enrich_processes") == 42
    assert RetargetedEnricher.retargeted == 1  # the broken file retargeted nothing
    with pytest.raises(OSError):  # the endpoint ends with the sensor
        urllib.request.urlopen(url(), timeout=5)


class RetargetedEnricher(FakeEnricher):
    retargeted = 0

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        RetargetedEnricher.retargeted = 0

    def retarget(self, documents_for: Any, prefilter: Any) -> None:
        RetargetedEnricher.retargeted += 1


def _options(tmp_path: Path, **kw: Any) -> SensorOptions:
    base: dict[str, Any] = {
        "as_json": False,
        "record": None,
        "duration": 1.0,
        "host_root": "/",
        "heartbeat": str(tmp_path / "beat"),
        "kubelet_url": None,
        "kubelet_token": str(tmp_path / "no-token"),
        "kubelet_ca": str(tmp_path / "no-ca"),
        "kinesis_stream": None,
        "spool_dir": str(tmp_path / "spool"),
        "spool_max_mb": 1,
    }
    return SensorOptions(**{**base, **kw})


def test_the_readme_names_every_metric() -> None:
    from sensor.dnsnames import DnsNames
    from sensor.podwatch import PodWatch

    metrics = SensorMetrics()
    watch = PodWatch("https://127.0.0.1:1", "node-1", token_path=None, ca_path=None)
    dns = DnsNames(["db.internal"])  # not started: nothing is looked up
    metrics.attach(
        stats=SensorStats(),
        enricher=FakeEnricher(),
        shipper=StatsShipper(),
        k8s=watch.stats,  # the pod watch's own counters (not started: nothing is asked)
        dns=dns.stats,
        rules=lambda: ReloadStatus(True, 1.0, 1, 0, 1),
    )
    metrics.count_batch(_events())
    metrics.count_alert(
        compile_rules(load_rules_text(RULES)).evaluate(
            {"evt.type": "openat", "fd.name": "/etc/shadow", "proc.name": "cat"}, "syscall"
        )[0]
    )
    names = {s.name for family in metrics.registry.collect() for s in family.samples}
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert len(names) > 25 and "lanner_events_captured_total" in names
    assert sorted(n for n in names if f"`{n}" not in readme) == []
