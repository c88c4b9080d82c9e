"""``fd.sip.name`` and kin: the domain names the loaded rules mention, resolved in the
background and refreshed, so rules comparing with them fire (sensor.dnsnames).

Lookups are a function the tests hand in (a name -> addresses table, a clock they move),
except where the node's own resolver is the point: names from this machine's
``/etc/hosts`` (read, never changed) through ``getaddrinfo``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fakeproc import make_tree

from lanner import compile_rules, load_rules, load_rules_text
from sensor import flags as F
from sensor.dnsnames import Answer, DnsNames, getaddrinfo_lookup, normal_address, rule_names
from sensor.enrich import EARLY_FIELDS, Enricher
from sensor.events import RawEvent
from sensor.fdtable import FdEntry, fd_fields

ROOT = Path(__file__).resolve().parents[2]

RULES = """
- list: miner_domains
  items: [pool.miner.example, xmr.miner.example]

- rule: Connect to localhost by name
  desc: d
  condition: evt.type = connect and fd.sip.name = localhost
  output: connected to %fd.sip.name (ip=%fd.sip connection=%fd.name)
  priority: WARNING
  source: syscall

- rule: Miner pool
  desc: d
  condition: evt.type = connect and fd.sip.name in (miner_domains) and fd.sport = 443
  output: miner %fd.sip.name
  priority: CRITICAL
  source: syscall

- rule: Inbound from a partner
  desc: d
  condition: evt.type = accept and not fd.cip.name != partner.example
  output: partner %fd.cip.name
  priority: NOTICE
  source: syscall

- rule: Suffixes are not resolved
  desc: Falco resolves names for =, != and in only
  condition: evt.type = connect and fd.sip.name endswith .suffix.example
  output: x
  priority: NOTICE
  source: syscall

- rule: Disabled
  desc: d
  condition: evt.type = connect and fd.rip.name = disabled.example
  output: x
  priority: NOTICE
  source: syscall
  enabled: false
"""


class Table:
    """An injected resolver: what each name resolves to now, and every lookup made."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, name: str) -> Answer:
        self.asked.append(name)
        answer = self.answers.get(name)
        if isinstance(answer, BaseException):
            raise answer
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if isinstance(answer, tuple):
            return frozenset(answer[0]), answer[1]
        return frozenset(answer), None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def names_with(table: Table, names: list[str], **kw: Any) -> tuple[DnsNames, Clock, list[str]]:
    clock, said = Clock(), []
    dns = DnsNames(names, resolve=table, clock=clock, say=said.append, **kw)
    return dns, clock, said


# --- which names -------------------------------------------------------------------------


def test_the_names_are_those_rules_compare_by_equality_or_membership() -> None:
    engine = compile_rules(load_rules_text(RULES))
    assert rule_names(engine) == (
        "localhost",
        "pool.miner.example",
        "xmr.miner.example",
        "partner.example",
    )


def test_the_bundled_rules_want_the_kubernetes_api_names() -> None:
    engine = compile_rules(load_rules([str(ROOT / "rules")]))
    assert "kubernetes.default.svc.cluster.local" in rule_names(engine)


def test_what_is_not_a_host_name_is_not_looked_up_and_is_said() -> None:
    table = Table({"ok.example": ["192.0.2.1"]})
    dns, _, said = names_with(table, ["ok.example", "two words", "a\x1b[31m", "-x-"])
    dns.refresh_due()
    assert table.asked == ["ok.example"]
    assert dns.stats()["skipped"] == 3
    assert said == [
        "fd.*.name: 3 name(s) the rules compare with will not be resolved (not a host "
        "name, or past 1024): 'two words', 'a\\x1b[31m', '-x-'"
    ]


# --- resolving and refreshing ------------------------------------------------------------


def test_addresses_map_to_the_first_name_the_rules_mention() -> None:
    table = Table(
        {
            "api.example": ["10.0.0.1", "2001:db8::1"],
            "alias.example": ["10.0.0.1"],
            "other.example": ["10.0.0.2"],
        }
    )
    dns, _, _ = names_with(table, ["api.example", "alias.example", "other.example"])
    assert dns.by_ip == {}  # nothing before the first lookup: no event waits for one
    dns.refresh_due()
    assert dns.by_ip == {
        "10.0.0.1": "api.example",
        "::ffff:a00:1": "api.example",  # as a v6 socket shows a v4 address
        "2001:db8::1": "api.example",
        "10.0.0.2": "other.example",
        "::ffff:a00:2": "other.example",
    }
    assert dns.stats() == {
        "names": 3,
        "resolved": 3,
        "addresses": 5,
        "lookups": 3,
        "failures": 0,
        "skipped": 0,
    }


def test_without_a_ttl_the_wait_doubles_while_the_answer_holds_and_resets_on_change() -> None:
    table = Table({"svc.example": ["10.0.0.1"]})
    dns, clock, _ = names_with(table, ["svc.example"])
    waits = []
    for _ in range(7):
        wait = dns.refresh_due()
        assert wait is not None
        waits.append(wait)
        clock.now += wait
    assert waits == [10, 20, 40, 80, 160, 320, 320]  # Falco's schedule
    table.answers["svc.example"] = ["10.0.0.9"]
    assert dns.refresh_due() == 10
    assert dns.by_ip["10.0.0.9"] == "svc.example" and "10.0.0.1" not in dns.by_ip
    assert len(table.asked) == 8


def test_a_reported_ttl_is_honoured_within_the_bounds() -> None:
    table = Table({"short.example": (["10.0.0.1"], 0.2), "long.example": (["10.0.0.2"], 86400)})
    dns, clock, _ = names_with(table, ["short.example"])
    assert dns.refresh_due() == 1.0  # at least min_refresh
    clock.now += 30
    assert dns.refresh_due() == 1.0
    dns.set_names(["long.example"])
    assert dns.refresh_due() == 320  # at most max_refresh
    table.answers["mid.example"] = (["10.0.0.3"], 30)
    dns.set_names(["mid.example"])
    assert dns.refresh_due() == 30
    assert dns.by_ip == {"10.0.0.3": "mid.example", "::ffff:a00:3": "mid.example"}


def test_a_failed_lookup_keeps_the_addresses_a_missing_name_drops_them() -> None:
    table = Table({"svc.example": ["10.0.0.1"]})
    dns, clock, said = names_with(table, ["svc.example"])
    dns.refresh_due()
    table.answers["svc.example"] = socket.gaierror(
        socket.EAI_AGAIN, "Temporary failure in name resolution"
    )
    clock.now += 10
    dns.refresh_due()
    assert dns.by_ip["10.0.0.1"] == "svc.example"  # DNS down for a moment: still known
    assert dns.stats()["failures"] == 1
    table.answers["svc.example"] = None  # NXDOMAIN: the name is gone
    clock.now += 60
    dns.refresh_due()
    assert dns.by_ip == {}
    table.answers["svc.example"] = ["10.0.0.5"]
    clock.now += 60
    dns.refresh_due()
    assert dns.by_ip["10.0.0.5"] == "svc.example"
    assert said == [
        "fd.*.name: svc.example: lookup failed ([Errno -3] Temporary failure in name "
        "resolution); kept what it had; rules comparing with it cannot match",
        "fd.*.name: svc.example resolves again",
    ]


def test_new_rules_replace_the_names() -> None:
    table = Table({"a.example": ["10.0.0.1"], "b.example": ["10.0.0.2"]})
    dns, _, _ = names_with(table, ["a.example"])
    dns.refresh_due()
    dns.set_names(["b.example"])
    assert "10.0.0.1" not in dns.by_ip  # forgotten at once
    dns.refresh_due()
    assert dns.by_ip.get("10.0.0.2") == "b.example"
    assert table.asked == ["a.example", "b.example"]


def test_the_thread_resolves_in_the_background_and_stops() -> None:
    table = Table({"bg.example": ["10.0.0.7"]})
    dns = DnsNames(["bg.example"], resolve=table).start()
    try:
        deadline = time.monotonic() + 30
        while "10.0.0.7" not in dns.by_ip and time.monotonic() < deadline:
            time.sleep(0.01)
        assert dns.by_ip.get("10.0.0.7") == "bg.example"
    finally:
        dns.close()
    assert "lanner-dns" not in {t.name for t in threading.enumerate()}


# --- the node's own resolver ------------------------------------------------------------


def _hosts_file_names() -> list[tuple[str, str]]:
    """(address, name) pairs of this machine's /etc/hosts, as it is."""
    pairs: list[tuple[str, str]] = []
    try:
        text = Path("/etc/hosts").read_text(errors="replace")
    except OSError:
        return pairs
    for line in text.splitlines():
        fields = line.partition("#")[0].split()
        address = normal_address(fields[0]) if fields else None
        if address is not None:
            pairs.extend((address, name) for name in fields[1:])
    return pairs[:10]


def test_localhost_resolves_through_getaddrinfo() -> None:
    addresses, ttl = getaddrinfo_lookup("localhost")
    assert "127.0.0.1" in addresses and ttl is None
    dns = DnsNames(["localhost"])
    dns.refresh_due()
    assert dns.by_ip["127.0.0.1"] == "localhost"


def test_names_from_etc_hosts_resolve_to_their_addresses() -> None:
    pairs = _hosts_file_names()
    if not pairs:
        pytest.skip("no /etc/hosts entries on this machine")
    for address, name in pairs:
        dns = DnsNames([name])
        dns.refresh_due()
        assert dns.by_ip.get(address) == name, (name, address, dns.by_ip)


# --- into documents and alerts -----------------------------------------------------------


def test_fd_fields_name_each_end_found() -> None:
    names = {"10.0.0.1": "api.example", "192.0.2.9": "client.example"}
    client = FdEntry(type="ipv4", l4proto="tcp")
    client.set_tuple(("172.17.0.2", 40000), ("10.0.0.1", 443), server=False)
    got = fd_fields(3, client, names)
    assert (got["fd.sip.name"], got["fd.rip.name"]) == ("api.example", "api.example")
    assert "fd.cip.name" not in got and "fd.lip.name" not in got
    server = FdEntry(type="ipv4", l4proto="tcp")
    server.set_tuple(("10.0.0.1", 443), ("192.0.2.9", 5555), server=True)
    got = fd_fields(4, server, names)
    assert got["fd.sip.name"] == got["fd.lip.name"] == "api.example"
    assert got["fd.cip.name"] == got["fd.rip.name"] == "client.example"
    assert "fd.sip.name" not in fd_fields(3, client, None)


def _connect(enricher: Enricher, pid: int, daddr: str, dport: int) -> dict[str, Any] | None:
    base = 1_700_000_100_000_000_000
    enricher.handle(
        RawEvent(base, "socket", pid, pid, 0, 0, "curl", 3, {"domain": F.AF_INET, "type": 1})
    )
    tup = {"family": "inet", "saddr": "172.17.0.2", "sport": 40000, "daddr": daddr}
    return enricher.handle(
        RawEvent(
            base + 1000,
            "connect",
            pid,
            pid,
            0,
            0,
            "curl",
            0,
            {"fd": 3, "tuple": tup | {"dport": dport}},
        )
    )


def _enricher(tmp_path: Path, dns: DnsNames, engine: Any = None) -> Enricher:
    tmp_path.mkdir(exist_ok=True)
    root = make_tree(tmp_path)
    return Enricher(
        str(root),
        hostname="node-1",
        passwd_path=str(tmp_path / "passwd"),
        group_path=str(tmp_path / "group"),
        dns_names=dns,
        prefilter=engine.prefilter("syscall", EARLY_FIELDS) if engine is not None else None,
    )


@pytest.mark.parametrize("prefilter", [False, True])
def test_a_rule_on_fd_sip_name_fires_on_a_connect_to_localhost(
    tmp_path: Path, prefilter: bool
) -> None:
    engine = compile_rules(load_rules_text(RULES), hostname="node-1")
    dns = DnsNames(rule_names(engine))  # the node's resolver: localhost is 127.0.0.1
    dns.refresh_due()
    enricher = _enricher(tmp_path, dns, engine if prefilter else None)
    doc = _connect(enricher, 600, "127.0.0.1", 8080)
    assert doc is not None and doc["fd.sip.name"] == "localhost"
    alerts = engine.evaluate(doc, "syscall")
    assert [a.rule for a in alerts] == ["Connect to localhost by name"]
    assert alerts[0].output.endswith(
        "connected to localhost (ip=127.0.0.1 connection=172.17.0.2:40000->127.0.0.1:8080)"
    )
    # Its twin: an address no name of the rules resolved to has no name and no alert.
    other = _connect(enricher, 600, "192.0.2.50", 8080)
    assert other is None or ("fd.sip.name" not in other and not engine.evaluate(other, "syscall"))


def test_the_bundled_kubernetes_api_rule_fires_by_name(tmp_path: Path) -> None:
    engine = compile_rules(load_rules([str(ROOT / "rules")]), hostname="node-1")
    # An API server at an address none of the rule's address lists holds: only its name
    # tells it is the API server.
    table = Table({name: ["192.0.2.10"] for name in rule_names(engine)})
    dns = DnsNames(rule_names(engine), resolve=table)
    dns.refresh_due()
    enricher = _enricher(tmp_path, dns)
    doc = _connect(enricher, 700, "192.0.2.10", 8443)  # pid 700: a shell in a container
    assert doc is not None
    alerts = engine.evaluate(doc, "syscall")
    assert [a.rule for a in alerts] == ["Kubernetes API Contacted From Container"]
    assert doc["fd.sip.name"] == "kubernetes"
    quiet = _enricher(tmp_path / "twin", DnsNames([], resolve=table))
    twin = _connect(quiet, 700, "192.0.2.10", 8443)
    assert twin is not None and not engine.evaluate(twin, "syscall")


# --- live: the kernel's connect, the node's resolver ----------------------------------------


def test_live_a_connect_to_localhost_raises_the_rule_on_its_name() -> None:
    from workloads import LiveSensor, by_pid, require_bpf

    require_bpf()
    from sensor.capture import Capture, CaptureError, supported_event_types
    from sensor.run import capture_set

    engine = compile_rules(load_rules_text(RULES), match="all")
    dns = DnsNames(rule_names(engine))
    dns.refresh_due()  # the node's resolver, now (the sensor's thread does it in the background)
    types = capture_set(engine, supported_event_types())
    try:
        cap = Capture(types, exclude_pids=(os.getpid(),), ringbuf_pages=2048)
    except CaptureError as exc:
        pytest.skip(f"needs root and eBPF: {exc}")
    with socket.create_server(("127.0.0.1", 0)) as server, cap:
        port = server.getsockname()[1]
        live = LiveSensor(cap, Enricher(proc_root="/proc", dns_names=dns), {"names": engine})
        live.drain()
        done = live.python(
            "import socket, sys\nsocket.create_connection(('127.0.0.1', int(sys.argv[1])))",
            str(port),
        )
        seen = live.wait_for("Connect to localhost by name", by_pid(done.pid), ruleset="names")
    assert seen.doc["fd.sip.name"] == "localhost" and seen.doc["fd.sip"] == "127.0.0.1"
    # (The local end is whatever /proc still told of the socket when the event was read.)
    assert seen.alert.message.startswith("connected to localhost (ip=127.0.0.1 connection=")
    assert seen.alert.message.endswith(f"->127.0.0.1:{port})")
