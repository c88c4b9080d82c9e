"""Helpers for the sensor's live tests: a running sensor, and places to run workloads.

:class:`LiveSensor` is the whole pipeline in the test process (capture -> enrichment ->
rules), fed while a workload runs in a child process. :func:`fake_container` puts a
process in a cgroup named the way a container runtime names one, so the sensor sees it in
a "container"; :func:`netns` gives a network namespace with a veth pair on TEST-NET-2
(198.51.100.0/24) so outbound traffic to a non-loopback address never leaves the machine.

Not a test module (no ``test_`` prefix) and no ``__init__.py`` here: a package named
``tests.sensor`` would shadow the ``sensor`` package.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from lanner import Alert, Engine, compile_rules, load_rules
from sensor.events import FORK

ROOT = Path(__file__).resolve().parent.parent.parent
UPSTREAM_RULES = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "falco" / "falco_rules.yaml"
BUNDLED_RULES = ROOT / "rules" / "syscall_rules.yaml"

# A workload's alerts come within a few polls of its exit; this bounds the wait when an
# expected alert never comes (the test then fails with what did come).
WAIT_S = 5.0


def require_bpf() -> None:
    """Skips the calling test (module) unless the sensor can load its eBPF programs."""
    if os.geteuid() != 0:
        pytest.skip("needs root and eBPF (bcc, kernel headers, tracefs)")


def engine_for(path: Path) -> Engine:
    return compile_rules(load_rules([str(path)]), match="all")


def rulesets() -> dict[str, Engine]:
    """Falco's stable rules and our bundled ones, those whose file is present."""
    out = {}
    if UPSTREAM_RULES.exists():
        out["stable"] = engine_for(UPSTREAM_RULES)
    if BUNDLED_RULES.exists():
        out["bundled"] = engine_for(BUNDLED_RULES)
    return out


@contextmanager
def live_sensor(keep_docs: bool = False) -> Iterator[LiveSensor]:
    """The sensor on this machine with both rulesets, capturing what they need.

    Skips (reason names eBPF) when not root or when the capture cannot load.
    """
    require_bpf()
    from sensor.capture import Capture, CaptureError, supported_event_types
    from sensor.enrich import Enricher
    from sensor.run import capture_set

    engines = rulesets()
    if not engines:
        pytest.skip(f"neither {UPSTREAM_RULES} nor {BUNDLED_RULES} is present")
    types: frozenset[str] = frozenset()
    for engine in engines.values():
        types |= capture_set(engine, supported_event_types())
    try:
        # 8 MiB of ring buffer: bursts from other processes on a busy machine.
        cap = Capture(types, exclude_pids=(os.getpid(),), ringbuf_pages=2048)
    except CaptureError as e:
        pytest.skip(f"needs root and eBPF: {e}")
    with cap:
        live = LiveSensor(cap, Enricher(proc_root="/proc"), engines, keep_docs=keep_docs)
        live.drain()
        yield live


@dataclass
class Seen:
    """One alert, with the ruleset that raised it (``stable`` or ``bundled``)."""

    ruleset: str
    alert: Alert
    doc: dict[str, Any]  # the event that raised it

    @property
    def rule(self) -> str:
        return self.alert.rule

    @property
    def fields(self) -> dict[str, Any]:
        return self.alert.output_fields

    def __repr__(self) -> str:  # what a failing assertion prints
        return f"<{self.ruleset}: {self.alert.rule}: {self.alert.message}>"


_EXEC_SUMMARY = ("proc.pid", "proc.name", "proc.pname", "proc.tty", "container.id", "proc.cmdline")


@dataclass(frozen=True)
class Done:
    """A finished workload; ``pid`` is the process that ran ``argv`` (exec keeps it)."""

    pid: int
    returncode: int
    stdout: str
    stderr: str


@dataclass
class LiveSensor:
    """Capture, enrichment and one engine per ruleset, driven by the test."""

    capture: Any
    enricher: Any
    engines: dict[str, Engine]
    alerts: list[Seen] = field(default_factory=list)
    docs: list[dict[str, Any]] = field(default_factory=list)
    keep_docs: bool = False
    followed: set[int] = field(default_factory=set)  # workload pids and descendants
    execs: list[str] = field(default_factory=list)  # what ran, for failure messages
    _awaiting: str | None = None

    def pump(self, timeout_ms: int = 100) -> int:
        """Reads what arrived, enriches it and evaluates it; returns the event count.

        Only the workloads' process trees go through enrichment and rules: the capture
        is system-wide, and on a busy machine enriching everyone else's events in Python
        lets the ring buffer overflow and lose the workload's own.
        """
        raws = self.capture.poll(timeout_ms)
        for raw in raws:
            if raw.pid not in self.followed:
                continue
            if raw.type == FORK and isinstance(raw.args.get("child_pid"), int):
                self.followed.add(raw.args["child_pid"])
            doc = self.enricher.handle(raw)
            if doc is None:
                continue
            if self.keep_docs:
                self.docs.append(doc)
            if doc.get("evt.type") in ("execve", "execveat"):
                self.execs.append(" ".join(f"{k}={doc.get(k)}" for k in _EXEC_SUMMARY)[:300])
            if self._awaiting is not None and doc.get("fd.name") == self._awaiting:
                self._awaiting = None
            for name, engine in self.engines.items():
                for alert in engine.evaluate(doc, "syscall"):
                    self.alerts.append(Seen(name, alert, doc))
        return len(raws)

    def drain(self) -> None:
        """Processes everything pending, so one test's events do not reach the next."""
        for _ in range(50):
            if not self.pump(50):
                return

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float = 60,
        check: bool = True,
        cgroup_procs: Path | None = None,
        **kw: Any,
    ) -> Done:
        """Runs a workload while feeding the sensor (its events never pile up unread).

        The sensor excludes this process, so the fork that starts a workload is not seen
        and a workload is first known from /proc; one that exits before its first event
        is read would lose its parent. So the child first waits at a gate: it makes
        itself known with a failed open of a marker path, and only once the sensor has
        read that does it exec ``argv`` (same pid, parent: this python). With
        ``cgroup_procs`` the child joins that cgroup before anything runs.
        """
        marker = f"/lanner-gate-{secrets.token_hex(6)}"

        def join() -> None:
            if cgroup_procs is not None:
                cgroup_procs.write_text(str(os.getpid()))

        proc = subprocess.Popen(
            [sys.executable, "-c", _GATE, marker, *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=join if cgroup_procs is not None else None,
            **kw,
        )
        assert proc.stdin is not None
        self.followed.add(proc.pid)
        deadline = time.monotonic() + timeout
        self._awaiting = marker
        try:
            while self._awaiting is not None and proc.poll() is None:
                self.pump(50)
                if time.monotonic() > deadline:
                    raise AssertionError(f"the sensor never saw workload {argv} start")
            proc.stdin.write("go")
            proc.stdin.close()
            proc.stdin = None  # communicate() must not flush it again
            while proc.poll() is None:
                self.pump(50)
                if time.monotonic() > deadline:
                    raise AssertionError(f"workload {argv} ran over {timeout}s")
        finally:
            self._awaiting = None
            if proc.poll() is None:
                proc.kill()
            out, err = proc.communicate()
        done = Done(proc.pid, proc.returncode, out, err)
        if check and proc.returncode != 0:
            raise AssertionError(f"workload {argv} exited {proc.returncode}: {err[-2000:]}")
        return done

    def python(self, code: str, *args: str, **kw: Any) -> Done:
        return self.run([sys.executable, "-c", code, *args], **kw)

    def matching(self, pred: Callable[[Seen], bool], since: int = 0) -> list[Seen]:
        return [s for s in self.alerts[since:] if pred(s)]

    def wait_for(
        self,
        rule: str,
        pred: Callable[[Seen], bool],
        *,
        ruleset: str = "stable",
        since: int = 0,
        wait: float = WAIT_S,
    ) -> Seen:
        """The first alert of ``rule`` from ``ruleset`` that ``pred`` accepts, polling
        until it comes or ``wait`` seconds pass."""

        def found() -> list[Seen]:
            return self.matching(
                lambda s: s.ruleset == ruleset and s.rule == rule and pred(s), since
            )

        deadline = time.monotonic() + wait
        while not found() and time.monotonic() < deadline:
            self.pump(100)
        hits = found()
        assert hits, (
            f"no {ruleset!r} alert {rule!r} for the workload; alerts since it started: "
            f"{self.alerts[since:]}; capture counters: {self.capture.stats()}; "
            "last programs run: \n" + "\n".join(self.execs[-8:])
        )
        return hits[0]


# The gate a workload waits at (see LiveSensor.run): argv[1] is the marker path.
_GATE = r"""
import os, select, signal, sys
# Python ignores SIGPIPE; the workload must not inherit that (a `| head` would not stop it).
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
# Knock until let in: on a busy machine the ring buffer may drop one knock.
while True:
    try:
        os.close(os.open(sys.argv[1], os.O_RDONLY))
    except OSError:
        pass
    if select.select([0], [], [], 0.2)[0]:
        break
sys.stdin.read(2)
os.execvp(sys.argv[2], sys.argv[2:])
"""


def cmdline_has(marker: str) -> Callable[[Seen], bool]:
    """An alert whose process command line contains ``marker`` (unique per workload)."""
    return lambda s: marker in str(s.doc.get("proc.cmdline"))


def by_pid(pid: int) -> Callable[[Seen], bool]:
    """An alert raised by an event of process ``pid``."""
    return lambda s: s.doc.get("proc.pid") == pid


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


# --- a process in a "container" -------------------------------------------------------


def _cgroup2_mount() -> Path | None:
    for line in Path("/proc/self/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "cgroup2":
            return Path(parts[1])
    return None


@dataclass
class FakeContainer:
    """A cgroup named as a runtime names a container's; a workload joins it by writing
    its pid to ``procs`` (``LiveSensor.run(..., cgroup_procs=c.procs)``)."""

    full_id: str
    procs: Path

    @property
    def id(self) -> str:
        """Falco's ``container.id``: the first 12 hex digits."""
        return self.full_id[:12]


@contextmanager
def fake_container() -> Iterator[FakeContainer]:
    """A docker-style cgroup (systemd driver layout, cgroup v2); removed afterwards.

    Skips when the machine has no writable cgroup v2 hierarchy, with a reason naming eBPF
    so that CI (LANNER_REQUIRE_BPF=1) fails instead of skipping the container scenarios.
    """
    mount = _cgroup2_mount()
    if mount is None:
        pytest.skip("the live eBPF container scenarios need a cgroup v2 hierarchy mounted")
    full_id = secrets.token_hex(32)
    slice_dir = mount / "system.slice"
    made_slice = not slice_dir.exists()
    scope = slice_dir / f"docker-{full_id}.scope"
    try:
        scope.mkdir(parents=True)
    except OSError as e:
        pytest.skip(f"the live eBPF container scenarios cannot create a cgroup in {mount}: {e}")
    try:
        yield FakeContainer(full_id, scope / "cgroup.procs")
    finally:
        _remove_cgroup(scope)
        if made_slice:
            _remove_cgroup(slice_dir)


def _remove_cgroup(path: Path) -> None:
    # Processes left inside (a workload's stray child) must go before the directory can.
    for _ in range(50):
        try:
            pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
        except OSError:
            return
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, 9)
        try:
            path.rmdir()
            return
        except OSError:
            time.sleep(0.05)


# --- a network namespace with an address of its own -----------------------------------


@dataclass(frozen=True)
class NetNs:
    name: str
    host_addr: str  # our end of the veth pair, in the root namespace
    ns_addr: str  # the other end, inside the namespace


@contextmanager
def netns() -> Iterator[NetNs]:
    """A namespace with a veth pair: 198.51.100.1 here, 198.51.100.2 inside. Traffic to
    .2 goes over the pair and nowhere else; everything is deleted afterwards."""
    if shutil.which("ip") is None:
        pytest.skip("the live eBPF network scenario needs iproute2 (`ip`) for a namespace")
    tag = secrets.token_hex(3)
    name, host_if, ns_if = f"lanner-{tag}", f"lnh{tag}", f"lnn{tag}"
    steps = [
        ["ip", "netns", "add", name],
        ["ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if],
        ["ip", "link", "set", ns_if, "netns", name],
        ["ip", "addr", "add", "198.51.100.1/24", "dev", host_if],
        ["ip", "link", "set", host_if, "up"],
        ["ip", "-n", name, "addr", "add", "198.51.100.2/24", "dev", ns_if],
        ["ip", "-n", name, "link", "set", ns_if, "up"],
        ["ip", "-n", name, "link", "set", "lo", "up"],
    ]
    try:
        for step in steps:
            subprocess.run(step, check=True, capture_output=True)
        yield NetNs(name, "198.51.100.1", "198.51.100.2")
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
