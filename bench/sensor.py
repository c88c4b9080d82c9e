"""What the node sensor costs, how fast it captures without loss and how much it ships, in one run.

    sudo python bench/sensor.py [--only SECTIONS] [--compare PATH] [--rules PATH...] [--json]

Sections (``--only floor,realistic,rates,userspace``; all by default):

floor
    The open/close loop (``open("/etc/hostname")`` + ``close``, a C program compiled at
    bench start, timed inside itself; the worst case) and a fork/exec loop (``/bin/true``),
    pinned to one CPU, under these conditions, interleaved (the order rotates each round;
    medians of per-round ratios to "off"):

    - off: nothing attached;
    - floor: every tracepoint the sensor attached, with programs that return at once
      (loaded by the bench with bcc): the cost of the hooks themselves;
    - kernel-only: the sensor's programs, its consumer on another CPU emptying the ring
      buffer without reading it (it moves the consumer position up to the producer's
      once a quarter of the buffer is used), so the buffer never fills and the figure
      holds no drop path, no wakeups and no user-space competition; a drop during it is
      reported;
    - kernel-only, reader caught up: the same with the consumer position kept at the
      producer's, so nearly every submit wakes the reader (what a reader that keeps up
      costs the kernel);
    - on: the sensor consuming as ``lanner sensor`` does (when the consumer falls behind
      the ring buffer fills: that figure includes the drop path).

    "ns per event above the floor" = (kernel-only - floor) per iteration / the events the
    sensor delivers per iteration (measured: a short rate-limited run with the sensor
    consuming, the loop's start-up events subtracted). Beside them: the ring-buffer bytes
    per iteration and the IRQ-work interrupts (/proc/interrupts, IWI: the reader's
    wakeups) on the loop's CPU per 1,000 iterations.
realistic
    A parallel C build (``make -j2``, 48 generated files), a Python "test suite" (1,500
    small-file writes and reads, 60 Python subprocesses) and a loopback HTTP server under
    load (Debian's ``nginx`` and ``wrk`` when installed, otherwise Python's http.server and
    a Python client making 1,500 requests), sensor off against on, interleaved rounds,
    medians of per-round ratios; also with empty programs on the same tracepoints (the
    floor) and with the sensor's programs but its ring buffer emptied unread every 2 ms
    (kernel only), so a slowdown splits into hook, programs and consumer. Per workload: wall time (for wrk: microseconds per
    request at its measured throughput), events the sensor captured meanwhile (the whole
    machine's), and the sensor's CPU seconds (until it caught up).
rates
    The open/close loop rate-limited to increasing rates (open+close syscalls offered per
    second), pinned to one CPU with the consumer pinned to the other, until events go
    missing: the highest loss-free rate. Missing = the events the loop should have produced
    (events per iteration as measured above) minus those the sensor delivered.
userspace
    A benign mixed workload (gcc, git, python, ls, tar) with the sensor on and its raw
    ring-buffer records recorded: the share of captured events that would leave the node
    (it raised an alert), then the records decoded, enriched and evaluated offline, each
    stage timed on its own, and the whole of the tree's own run loop over them.

The sensors run as ``lanner sensor`` does, pre-filter included where the tree has one
(``--no-prefilter`` measures them without it). ``--compare PATH`` measures a second
checkout's sensor in the same run: each checkout's sensor is a child process (this script
with ``--child``) importing ``sensor`` and ``lanner`` from its own tree, the conditions of
both interleaved; the report puts them side by side (``before`` = PATH, ``after`` = this
checkout) with after/before ratios.

Each sensor is loaded once. Between conditions its programs are detached (nothing runs
in the kernel: "off" is off) and attached again, which keeps its state as a long-running
sensor's. The bench driver is excluded from capture; everything else on the machine is
not, so background activity shows up in the counts, and the report warns when another
process holds tracepoint eBPF programs (another sensor's cost is in every figure). Event
losses are ``ringbuf_full``, ``stash_full`` and ``scratch``; ``read_failed`` means an
argument was left out.
"""

from __future__ import annotations

import argparse
import ctypes as ct
import inspect
import json
import mmap
import os
import re
import resource
import select
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent

# Falco's own syscall rules, from ../shared beside the repository (as the tests find them).
DEFAULT_RULES = ROOT.parent / "shared" / "corpus" / "falco" / "falco_rules.yaml"
SECTIONS = ("floor", "realistic", "rates", "userspace")
# Open+close syscalls offered per second.
RATES = (25_000, 50_000, 100_000, 150_000, 200_000, 300_000, 400_000)
# Drop reasons that lose a whole event; read_failed only leaves an argument out.
EVENT_LOSSES = ("ringbuf_full", "stash_full", "scratch")
# Comm of the C loop, so its events can be told from the machine's others.
OC_COMM = "lbench_oc"
TARGET_SLOWDOWN_PCT = 5.0
TARGET_RATE = 150_000
# userspace: open/close iterations recorded (over one second).
USERSPACE_OC_ITERATIONS = 20_000
TARGET_SHIPPED_PCT = 1.0
# Kernel-only modes of the sensor child: how far its ring buffer may fill (a share of its
# size) before it is emptied, unread. "drain": a quarter (never full, almost no wakeups);
# "drain-wake": not at all (the reader caught up: a wakeup per event).
DRAIN_LAG = {"drain": 0.25, "drain-wake": 0.0, "drain-idle": 0.0}
# "drain-idle" empties it every DRAIN_IDLE_S instead of spinning, for workloads that are
# not pinned: a spinning drain would take a core from them.
DRAIN_IDLE_S = 0.002
# Kernel-only conditions of the floor section, and the child mode each runs in.
KERNEL_ONLY = {"kernel": "drain", "wake": "drain-wake"}
MSG = "@@"  # prefix of the child's protocol lines (bcc may print to stdout too)
_DIST_PACKAGES = "/usr/lib/python3/dist-packages"

LOOP_C = r"""
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* oc N RATE: N x (open+close), at most RATE iterations/s (0: as fast as possible).
 * exec N: N x fork + exec /bin/true + wait. Prints "<iterations> <elapsed ns>". */
int main(int argc, char **argv) {
    if (argc < 3) return 2;
    long n = atol(argv[2]);
    long long t0 = now_ns();
    if (argv[1][0] == 'o') {
        double rate = argc > 3 ? atof(argv[3]) : 0;
        long batch = rate > 0 ? (long)(rate / 2000) + 1 : n;
        for (long i = 0; i < n;) {
            for (long j = 0; j < batch && i < n; j++, i++) {
                int fd = open("/etc/hostname", O_RDONLY);
                if (fd >= 0) close(fd);
            }
            if (rate > 0) {
                long long due = t0 + (long long)(i * 1e9 / rate);
                if (now_ns() < due) {
                    struct timespec ts = {due / 1000000000LL, due % 1000000000LL};
                    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
                }
            }
        }
    } else {
        for (long i = 0; i < n; i++) {
            pid_t p = fork();
            if (p == 0) {
                execl("/bin/true", "true", (char *)NULL);
                _exit(127);
            }
            int st;
            waitpid(p, &st, 0);
        }
    }
    printf("%ld %lld\n", n, now_ns() - t0);
    return 0;
}
"""

# Programs that return at once: the floor. Two names, since bcc keeps one program per name
# and a raw tracepoint needs its own program type.
FLOOR_C = """
int bench_empty_tp(void *ctx) { return 0; }
int bench_empty_raw(void *ctx) { return 0; }
"""

# The benign mixed workload: a developer's build box, roughly.
MIXED_SH = r"""
set -e
cd "$1"
rounds="$2"
mkdir -p src
cat > src/hello.c <<'EOF'
#include <stdio.h>
int main(void) { printf("hello\n"); return 0; }
EOF
git init -q repo 2>/dev/null || true
i=0
while [ "$i" -lt "$rounds" ]; do
    gcc -O1 -o hello src/hello.c
    ./hello > /dev/null
    cp src/hello.c "repo/f$i.c"
    git -C repo add "f$i.c"
    git -C repo -c user.email=b@example.com -c user.name=bench commit -q -m "round $i"
    git -C repo log --oneline > /dev/null
    python3 -c 'import json, os; json.dumps(sorted(os.listdir("/usr/lib")))'
    ls -la /usr/bin > /dev/null
    ls -R /usr/share/doc > /dev/null 2>&1 || true
    tar -czf "src$i.tgz" src repo
    tar -tzf "src$i.tgz" > /dev/null
    i=$((i + 1))
done
"""

# The Python "test suite": small files written and read back, subprocesses run.
PYSUITE = r"""
import os, subprocess, sys
work, files, procs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(work, exist_ok=True)
for i in range(files):
    path = os.path.join(work, f"case_{i}.txt")
    with open(path, "w") as f:
        f.write(f"test case {i}\n" * 16)
    with open(path) as f:
        assert f.read().startswith(f"test case {i}")
for i in range(procs):
    subprocess.run([sys.executable, "-c", f"import json; json.dumps({i})"], check=True)
"""

# Fallback HTTP server and client when nginx or wrk is missing.
PY_HTTP_SERVER = r"""
import functools, http.server, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[2])
handler.log_message = lambda *a: None
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
"""
PY_HTTP_CLIENT = r"""
import http.client, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
for _ in range(n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/index.html")
    assert c.getresponse().read()
    c.close()
"""

NGINX_CONF = """
worker_processes 1;
daemon off;
master_process on;
user root;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {d}/www;
        location / {{ }}
    }}
}}
"""


def _import_bcc() -> Any:
    """Debian's bcc, from a venv too (as sensor.capture finds it)."""
    try:
        import bcc
    except ImportError:
        if _DIST_PACKAGES not in sys.path:
            sys.path.append(_DIST_PACKAGES)
        import bcc
    return bcc


# --- the sensor child ------------------------------------------------------------------
#
# Lives here, not in the tree it measures, so an older checkout can be measured as it is:
# from the tree it imports only lanner, sensor.capture, sensor.enrich, sensor.decode and
# sensor.run, and passes only the arguments each one's signature accepts.


class RingDrain:
    """Empties a BPF ring buffer without reading it: the consumer position is moved up to
    the producer's (the records stay unread). A loop in Python keeps up with any producer,
    since it does one store per pass whatever the number of records.

    ``lag``: how far behind the producer the consumer may fall before it is moved, as a
    share of the buffer. 0 keeps it caught up, so nearly every record's submit finds the
    consumer at its own position and wakes the reader (an irq_work per event, as a reader
    that keeps up pays); a quarter keeps the buffer from filling with almost no wakeups
    (the programs' own cost).
    """

    def __init__(self, map_fd: int, size: int) -> None:
        page = mmap.PAGESIZE
        self.size = size
        # The kernel maps the consumer page writable (offset 0) and the producer page
        # read-only (offset one page); each starts with its position, a u64.
        self._cmap = mmap.mmap(map_fd, page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self._pmap = mmap.mmap(map_fd, page, mmap.MAP_SHARED, mmap.PROT_READ, offset=page)
        self._cons = memoryview(self._cmap).cast("Q")
        self._prod = memoryview(self._pmap).cast("Q")
        self.bytes = 0

    def spin(self, stop: Callable[[], bool], lag: float = 0.0, pause: float = 0.0) -> None:
        cons, prod = self._cons, self._prod
        behind = int(self.size * lag)
        while pause:
            p, c = prod[0], cons[0]
            if p - c > behind:
                cons[0] = p
                self.bytes += p - c
            if stop():
                return
            time.sleep(pause)
        while True:
            for _ in range(4000):
                p, c = prod[0], cons[0]
                if p - c > behind:
                    cons[0] = p
                    self.bytes += p - c
            if stop():
                return

    def positions(self) -> tuple[int, int]:
        """The producer's and the consumer's positions (bytes since the buffer was made)."""
        return int(self._prod[0]), int(self._cons[0])

    def close(self) -> None:
        self._cons.release()
        self._prod.release()
        self._cmap.close()
        self._pmap.close()


def _accepted(fn: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments ``fn`` accepts: a tree's constructors gain options over time."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return kwargs
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return kwargs
    return {k: v for k, v in kwargs.items() if k in params}


def _record_attachments(bcc: Any) -> None:
    """Makes bcc remember which program went on which tracepoint, so the child can detach
    and re-attach the sensor's programs without compiling them again."""
    cls = bcc.BPF
    if getattr(cls, "_bench_patched", False):
        return
    orig_tp, orig_raw = cls.attach_tracepoint, cls.attach_raw_tracepoint

    def attach_tp(self: Any, tp: bytes = b"", tp_re: bytes = b"", fn_name: bytes = b"") -> Any:
        r = orig_tp(self, tp=tp, tp_re=tp_re, fn_name=fn_name)
        if tp and not tp_re:
            self.__dict__.setdefault("_bench_attached", []).append(("tp", tp, fn_name))
        return r

    def attach_raw(self: Any, tp: bytes = b"", fn_name: bytes = b"") -> Any:
        r = orig_raw(self, tp=tp, fn_name=fn_name)
        self.__dict__.setdefault("_bench_attached", []).append(("raw", tp, fn_name))
        return r

    cls.attach_tracepoint, cls.attach_raw_tracepoint = attach_tp, attach_raw
    cls._bench_orig = (orig_tp, orig_raw)
    cls._bench_patched = True


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class _ReplayDone(Exception):
    pass


@dataclass
class ChildState:
    """What the child counts while its sensor consumes."""

    captured: int = 0
    oc_events: int = 0
    documents: int = 0
    prefiltered: int = 0
    shipped: int = 0
    alerts: int = 0
    internal_alerts: int = 0
    rules: dict[str, int] = field(default_factory=dict)


def child_main(
    tree: Path, rule_paths: list[str], exclude: list[int], use_prefilter: bool = True
) -> int:
    """Runs one tree's sensor and answers the driver's commands on stdin (one a line)."""
    # This script's folder is sys.path[0]; the tree must win for lanner and sensor.
    sys.path[:] = [str(tree)] + [p for p in sys.path if p and Path(p).resolve() != BENCH_DIR]
    import lanner
    from sensor import capture as capmod
    from sensor import decode as wire
    from sensor import enrich as enrichmod
    from sensor.enrich import Enricher

    try:
        from sensor import run as runmod
    except ImportError:
        runmod = None  # type: ignore[assignment]

    bcc = _import_bcc()
    _record_attachments(bcc)
    engine = lanner.compile_rules(lanner.load_rules(rule_paths), hostname="bench")
    documents_for = engine.index_values("syscall", "evt.type")
    supported = capmod.supported_event_types()
    if runmod is not None and hasattr(runmod, "capture_set"):
        types = runmod.capture_set(engine, supported)
    else:
        types = (supported if documents_for is None else frozenset(documents_for)) & supported
    run_fn = getattr(runmod, "run", None)
    if run_fn is not None and not {"duration", "shipper"} <= set(
        inspect.signature(run_fn).parameters
    ):
        run_fn = None
    # The pre-filter as ``lanner sensor`` builds it, in trees that have one.
    early = getattr(enrichmod, "EARLY_FIELDS", None)
    has_prefilter = (
        early is not None
        and hasattr(engine, "prefilter")
        and "prefilter" in inspect.signature(Enricher).parameters
    )
    prefilter = None
    if has_prefilter and use_prefilter and early is not None:
        prefilter = engine.prefilter("syscall", early)
    base_capture: Any = capmod.Capture
    # Trees whose Capture keeps the raw records itself (``Capture.recording``) need no
    # override; older ones record through their per-record callback.
    native_recording = "recording" in inspect.getsource(base_capture.__init__)
    can_record = native_recording or hasattr(base_capture, "_on_event")

    class RecordingCapture(base_capture):
        """The tree's Capture, able to keep each ring-buffer record's bytes."""

        if not native_recording:
            recording: list[bytes] | None = None

        if can_record and not native_recording:

            def _on_event(self, ctx: Any, data: Any, size: int) -> Any:
                if self.recording is not None:
                    self.recording.append(ct.string_at(data, size))
                return super()._on_event(ctx, data, size)

    def enricher_for(seed: bool, documents: bool = True) -> Any:
        return Enricher(
            **_accepted(
                Enricher,
                {
                    "proc_root": "/proc",
                    "hostname": "bench",
                    "seed": seed,
                    # No documents at all: what keeping state alone costs.
                    "documents_for": documents_for if documents else frozenset(),
                    "prefilter": prefilter,
                },
            )
        )

    state = ChildState()
    cap: Any = None
    enricher: Any = None
    drain: RingDrain | None = None
    attached: list[tuple[str, bytes, bytes]] = []
    suspended = False
    mode = "run"  # or one of DRAIN_LAG's: kernel-only, the ring buffer emptied unread
    out = sys.stdout
    stdin = sys.stdin

    def reply(obj: dict[str, Any]) -> None:
        out.write(MSG + json.dumps(obj) + "\n")
        out.flush()

    def stdin_ready() -> bool:
        return bool(select.select([stdin], [], [], 0)[0])

    def on_alert(alert: Any) -> None:
        state.alerts += 1
        if getattr(alert, "source", "") == "internal":
            state.internal_alerts += 1
        else:
            state.rules[alert.rule] = state.rules.get(alert.rule, 0) + 1

    class Shipped:
        """run()'s shipper: counts the events that would leave the node."""

        def add(self, _doc: dict[str, Any]) -> None:
            state.shipped += 1

        def add_alert(self, _alert: dict[str, Any]) -> None:
            pass

        def poll(self) -> None:
            pass

        def close(self, timeout: float = 0.0) -> None:
            pass

    class Tap:
        """What run() sees as the capture: counts what it hands over."""

        def poll(self, timeout_ms: int, *_a: Any, **_k: Any) -> Any:
            evs = cap.poll(min(timeout_ms, 50))
            if not isinstance(evs, list):
                evs = list(evs)
            state.captured += len(evs)
            state.oc_events += sum(1 for e in evs if getattr(e, "comm", "") == OC_COMM)
            return evs

        def stats(self) -> dict[str, int]:
            return dict(cap.stats())

    tap, shipper = Tap(), Shipped()

    def consume_a_while() -> None:
        """About 0.1 s of what ``lanner sensor`` does: the tree's own run loop if it has one."""
        if run_fn is not None:
            st = run_fn(tap, enricher, engine, on_alert, duration=0.1, shipper=shipper)
            # run() counts pre-filtered events as evaluated (its own total, as of now).
            state.documents += st.evaluated - getattr(st, "prefiltered", 0)
            state.prefiltered = getattr(enricher, "prefiltered", 0)
            return
        deadline = time.monotonic() + 0.1
        while time.monotonic() < deadline:
            for raw in tap.poll(50):
                doc = enricher.handle(raw)
                if doc is None:
                    continue
                state.documents += 1
                alerts = engine.evaluate(doc, "syscall")
                for a in alerts:
                    on_alert(a)
                if alerts:
                    state.shipped += 1

    def stats() -> dict[str, Any]:
        t = os.times()
        drops = {k: v for k, v in cap.stats().items() if k != "events"} if cap is not None else {}
        prod, cons = drain.positions() if drain is not None else (None, None)
        return {
            **{k: v for k, v in vars(state).items() if k != "rules"},
            "rules": dict(state.rules),
            "drops": drops,
            "cpu_s": t.user + t.system,
            "drained_bytes": drain.bytes if drain is not None else 0,
            "ring_prod": prod,
            "ring_cons": cons,
        }

    def load() -> dict[str, Any]:
        nonlocal cap, attached, drain, enricher
        t0 = time.monotonic()
        # As `lanner sensor` does: syscalls no rule can match are sent only when they
        # succeed (trees whose Capture has no such parameter send them all).
        state_only = (
            frozenset() if documents_for is None else frozenset(types) - frozenset(documents_for)
        )
        cap = RecordingCapture(
            types, **_accepted(base_capture, {"exclude_pids": exclude, "state_only": state_only})
        )
        enricher = enricher_for(True)
        b: Any = getattr(cap, "_bpf", None)
        attached = list(getattr(b, "_bench_attached", []))
        drain = None
        with suppress(Exception):
            ring = b[b"events"]
            drain = RingDrain(ring.map_fd, ring.max_entries)
        # Attachments the bench cannot detach between conditions (kprobes, fentry...).
        others = sum(
            len(getattr(b, n, None) or {})
            for n in ("kprobe_fds", "uprobe_fds", "kfunc_entry_fds", "kfunc_exit_fds", "lsm_fds")
        ) + max(
            0,
            len(getattr(b, "tracepoint_fds", None) or {})
            + len(getattr(b, "raw_tracepoint_fds", None) or {})
            - len(attached),
        )
        return {
            "load_s": time.monotonic() - t0,
            "event_types": len(getattr(cap, "event_types", types)),
            "tracepoints": sorted(_text(tp) for k, tp, _ in attached if k == "tp"),
            "raw_tracepoints": sorted(_text(tp) for k, tp, _ in attached if k == "raw"),
            "other_attachments": others,
            "stash_kind": getattr(cap, "stash_kind", None),
            "read_mode": getattr(cap, "read_mode", "callback"),
            "prefilter": (prefilter is not None) if has_prefilter else None,
            "can_record": can_record or hasattr(cap, "recording"),
            "can_drain": drain is not None,
            "tree": str(Path(lanner.__file__).resolve().parent.parent),
        }

    def set_attached(on: bool) -> None:
        """Detach or re-attach every program the sensor attached (the maps and the state
        stay)."""
        nonlocal suspended
        b = cap._bpf
        orig_tp, orig_raw = bcc.BPF._bench_orig

        def one(item: tuple[str, bytes, bytes]) -> None:
            kind, tp, fn = item
            if kind == "tp":
                if on:
                    orig_tp(b, tp=tp, fn_name=fn)
                else:
                    b.detach_tracepoint(tp)
            elif on:
                orig_raw(b, tp=tp, fn_name=fn)
            else:
                b.detach_raw_tracepoint(tp)

        if on:
            for item in attached:
                one(item)
        else:
            # Each detach waits for an RCU grace period: together, they share it.
            with ThreadPoolExecutor(max_workers=max(1, len(attached))) as pool:
                list(pool.map(one, attached))
        suspended = not on

    def offline(path: str, rounds: int) -> dict[str, Any]:
        return _offline(path, rounds, wire, enricher_for, engine, run_fn)

    try:
        while True:
            if cap is not None and not suspended:
                if mode in DRAIN_LAG and drain is not None:
                    pause = DRAIN_IDLE_S if mode == "drain-idle" else 0.0
                    drain.spin(stdin_ready, DRAIN_LAG[mode], pause)
                else:
                    consume_a_while()
                if not stdin_ready():
                    continue
            else:
                select.select([stdin], [], [], None)
            line = stdin.readline()
            if not line:
                return 0
            cmd, _, arg = line.strip().partition(" ")
            if cmd == "load":
                try:
                    reply(load())
                except Exception as e:  # the tree's sensor cannot start here: say why
                    reply({"error": f"{type(e).__name__}: {e}"})
            elif cmd in ("suspend", "resume"):
                set_attached(cmd == "resume")
                reply({"attached": not suspended})
            elif cmd == "mode":
                mode = arg
                reply({"mode": mode})
            elif cmd == "pin":
                cpus = {int(c) for c in arg.split(",")} if arg else set(range(os.cpu_count() or 1))
                os.sched_setaffinity(0, cpus)
                reply({"cpus": sorted(cpus)})
            elif cmd == "stats":
                reply(stats())
            elif cmd == "record":
                if cap is not None:
                    cap.recording = []
                reply({"recording": can_record or hasattr(cap, "recording")})
            elif cmd == "save":
                recs = (cap.recording if cap is not None else None) or []
                with open(arg, "wb") as f:
                    for r in recs:
                        f.write(struct.pack("<I", len(r)))
                        f.write(r)
                if cap is not None:
                    cap.recording = None
                reply({"saved": len(recs)})
            elif cmd == "offline":
                path, _, n = arg.partition(" ")
                try:
                    reply(offline(path, int(n or 5)))
                except Exception as e:  # an API this bench does not know: say so
                    reply({"events": 0, "error": f"{type(e).__name__}: {e}"})
            elif cmd == "quit":
                return 0
            else:
                reply({"error": f"unknown command {cmd!r}"})
    finally:
        if drain is not None:
            drain.close()
        if cap is not None:
            cap.close()


def read_records(path: Path) -> list[bytes]:
    data = path.read_bytes()
    out, off = [], 0
    while off + 4 <= len(data):
        (n,) = struct.unpack_from("<I", data, off)
        out.append(data[off + 4 : off + 4 + n])
        off += 4 + n
    return out


def _offline(
    path: str,
    rounds: int,
    wire: Any,
    enricher_for: Callable[..., Any],
    engine: Any,
    run_fn: Any,
) -> dict[str, Any]:
    """decode -> enrich -> evaluate over the recorded records, each stage timed on its own,
    then the tree's run loop over the decoded events (enrich, evaluate and whatever the
    tree does around them). Beside them, the enricher keeping state and building no
    document: with decode, the least an exact consumer does per event."""
    raws = read_records(Path(path))
    n = len(raws)
    if n == 0:
        return {"events": 0}
    offset = time.time_ns() - time.monotonic_ns()

    def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
        t0 = time.perf_counter()
        r = fn()
        return time.perf_counter() - t0, r

    t_dec: list[float] = []
    t_enr: list[float] = []
    t_eval: list[float] = []
    t_loop: list[float] = []
    t_state: list[float] = []
    shipped = docs_n = 0
    prefiltered: int | None = None
    # Read as the tree's capture reads: one buffer of many records (decode_many) where
    # the tree has it, one call per record otherwise.
    blob, spans, pos = b"".join(raws), [], 0
    for r in raws:
        spans.append((pos, pos + len(r)))
        pos += len(r)
    for _ in range(rounds):
        if hasattr(wire, "decode_many"):
            td, events = timed(lambda: wire.decode_many(blob, spans, offset)[0])
        else:
            td, events = timed(lambda: [wire.decode(r, offset) for r in raws])
        # A fresh state per round: the first round's /proc reads are part of the cost.
        enricher = enricher_for(False)
        te, docs = timed(lambda: [d for e in events if (d := enricher.handle(e)) is not None])  # noqa: B023
        tv, hits = timed(lambda: sum(1 for d in docs if engine.evaluate(d, "syscall")))  # noqa: B023
        prefiltered = getattr(enricher, "prefiltered", None)
        t_dec.append(td)
        t_enr.append(te)
        t_eval.append(tv)
        shipped, docs_n = hits, len(docs)
        if run_fn is not None:
            t_loop.append(_replay(events, enricher_for(False), engine, run_fn))
        quiet = enricher_for(False, documents=False)
        t_state.append(timed(lambda: [quiet.handle(e) for e in events])[0])  # noqa: B023
    dec, enr, ev, st = (statistics.median(t) / n * 1e6 for t in (t_dec, t_enr, t_eval, t_state))
    out = {
        "events": n,
        "documents": docs_n,
        "prefiltered": prefiltered,
        "shipped": shipped,
        "rounds": rounds,
        "decode_us": dec,
        "enrich_us": enr,
        "evaluate_us": ev,
        "total_us": dec + enr + ev,
        "events_per_s_one_core": 1e6 / (dec + enr + ev),
        "state_only_us": st,
        "events_per_s_state_only": 1e6 / (dec + st),
    }
    if t_loop:
        out["run_loop_us"] = statistics.median(t_loop) / n * 1e6
    return out


def _replay(events: list[Any], enricher: Any, engine: Any, run_fn: Any) -> float:
    """Seconds the tree's run loop takes over decoded events."""

    class Replay:
        i = 0

        def poll(self, *_a: Any, **_k: Any) -> list[Any]:
            if self.i >= len(events):
                raise _ReplayDone
            self.i += 4096
            return events[self.i - 4096 : self.i]

        def stats(self) -> dict[str, int]:
            return {}

    class NoShip:
        def add(self, _doc: Any) -> None:
            pass

        def add_alert(self, _alert: Any) -> None:
            pass

        def poll(self) -> None:
            pass

        def close(self, timeout: float = 0.0) -> None:
            pass

    t0 = time.perf_counter()
    with suppress(_ReplayDone):
        run_fn(Replay(), enricher, engine, lambda _a: None, duration=3600.0, shipper=NoShip())
    return time.perf_counter() - t0


# --- the driver's handles ----------------------------------------------------------------


class Sensor:
    """The driver's handle on one tree's sensor child."""

    def __init__(
        self,
        label: str,
        tree: Path,
        rule_paths: Sequence[str],
        errlog: IO[str],
        prefilter: bool = True,
    ) -> None:
        self.label = label
        self.tree = tree
        self.info: dict[str, Any] = {}
        self.events_per_iter = 2.0
        self.startup_events = 0.0
        self.calibrated = False
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--tree", str(tree)]
        cmd += ["--rules", *rule_paths, "--exclude", str(os.getpid())]
        cmd += [] if prefilter else ["--no-prefilter"]
        env = {**os.environ, "PYTHONPATH": str(tree)}
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errlog,
            text=True,
            cwd=tree,
            env=env,
        )

    def ask(self, cmd: str) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(cmd + "\n")
            self.proc.stdin.flush()
        except OSError:
            raise RuntimeError(
                f"the {self.label} sensor child died (exit {self.proc.wait()})"
            ) from None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the {self.label} sensor child died (exit {self.proc.wait()})")
            if line.startswith(MSG):
                reply: dict[str, Any] = json.loads(line[len(MSG) :])
                return reply

    def load(self) -> dict[str, Any]:
        self.info = self.ask("load")
        if "error" in self.info:
            raise RuntimeError(
                f"the {self.label} sensor ({self.tree}) did not start: {self.info['error']}"
            )
        self.ask("suspend")
        return self.info

    def drain(
        self, expect_oc: int | None = None, quiet_s: float = 0.4, limit_s: float = 30
    ) -> tuple[dict[str, Any], float]:
        """Stats once the consumer has caught up with what was produced when this was
        called: its ring-buffer position has passed the producer's of then (or, for a tree
        whose ring buffer the bench cannot see, its count stops moving), or its count of
        open/close events reached ``expect_oc`` (a total, as the child counts). Returns
        them and how long catching up took."""
        t0 = time.monotonic()
        last = self.ask("stats")
        target = last.get("ring_prod")
        still = time.monotonic()
        while True:
            if expect_oc is not None and last["oc_events"] >= expect_oc:
                return last, time.monotonic() - t0
            if (
                target is not None
                and last.get("ring_cons") is not None
                and last["ring_cons"] >= target
            ):
                return last, time.monotonic() - t0
            if time.monotonic() - t0 >= limit_s:
                return last, time.monotonic() - t0
            time.sleep(0.05)
            s = self.ask("stats")
            if target is None:
                if s["oc_events"] != last["oc_events"] or s["captured"] - last["captured"] > 2000:
                    still = time.monotonic()
                elif time.monotonic() - still >= quiet_s:
                    return s, still - t0
            last = s

    def close(self) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Floor:
    """Empty programs on a given set of tracepoints, loaded once, attached on demand."""

    def __init__(self, tracepoints: Sequence[str], raw: Sequence[str]) -> None:
        bcc = _import_bcc()
        self.tracepoints = list(tracepoints)
        self.raw = list(raw)
        self._b = bcc.BPF(text=FLOOR_C.encode())

    def attach(self) -> None:
        for tp in self.tracepoints:
            self._b.attach_tracepoint(tp=tp.encode(), fn_name=b"bench_empty_tp")
        for tp in self.raw:
            self._b.attach_raw_tracepoint(tp=tp.encode(), fn_name=b"bench_empty_raw")

    def detach(self) -> None:
        items = [(True, tp) for tp in self.tracepoints] + [(False, tp) for tp in self.raw]

        def one(item: tuple[bool, str]) -> None:
            if item[0]:
                self._b.detach_tracepoint(item[1].encode())
            else:
                self._b.detach_raw_tracepoint(item[1].encode())

        with ThreadPoolExecutor(max_workers=max(1, len(items))) as pool:
            list(pool.map(one, items))

    def close(self) -> None:
        self._b.cleanup()


@dataclass
class Cpus:
    """Where the workload and the consumer run when they are pinned (None: not pinned,
    a one-CPU machine)."""

    work: int | None
    consumer: int | None

    @classmethod
    def pick(cls) -> Cpus:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            return cls(None, None)
        return cls(cpus[-1], cpus[0])

    def consumer_arg(self) -> str:
        return "" if self.consumer is None else str(self.consumer)


# --- workloads ---------------------------------------------------------------------------


def irq_work_interrupts(cpu: int | None) -> int | None:
    """IRQ-work interrupts so far on ``cpu`` (/proc/interrupts' IWI line): a ring-buffer
    submit that finds the reader caught up raises one to wake it."""
    try:
        lines = Path("/proc/interrupts").read_text().splitlines()
    except OSError:
        return None
    names = lines[0].split() if lines else []
    for line in lines[1:]:
        parts = line.split()
        if parts and parts[0] == "IWI:":
            col = names.index(f"CPU{cpu}") if f"CPU{cpu}" in names else None
            vals = parts[1 : 1 + len(names)]
            if col is None:
                return sum(int(v) for v in vals if v.isdigit())
            return int(vals[col]) if vals[col].isdigit() else None
    return None


def other_bpf_holders(ours: set[int]) -> list[str]:
    """Other processes holding tracepoint eBPF programs (another sensor, a tracer): what
    they attached runs in every condition here, "off" included."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) in ours:
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) != "anon_inode:bpf-prog":
                    continue
                info = (proc / "fdinfo" / fd.name).read_text()
                m = re.search(r"^prog_type:\s*(\d+)", info, re.M)
                # BPF_PROG_TYPE_TRACEPOINT, RAW_TRACEPOINT, TRACING (fentry, tp_btf)
                if m and int(m.group(1)) in (5, 17, 26):
                    found.append(f"{proc.name} {(proc / 'comm').read_text().strip()}")
                    break
        except OSError:
            continue
    return found


def build_loop(tmp: Path) -> Path:
    src = tmp / "loop.c"
    src.write_text(LOOP_C)
    exe = tmp / OC_COMM
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(src)], check=True)
    return exe


def run_loop(exe: Path, *args: object, cpu: int | None = None) -> tuple[int, float]:
    """Runs the C loop (pinned to ``cpu``); its own count and elapsed seconds."""

    def pin() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    out = subprocess.run(
        [str(exe), *map(str, args)], check=True, capture_output=True, text=True, preexec_fn=pin
    ).stdout.split()
    return int(out[0]), int(out[1]) / 1e9


def delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "captured",
        "documents",
        "prefiltered",
        "shipped",
        "oc_events",
        "cpu_s",
        "drained_bytes",
        "alerts",
    )
    d: dict[str, Any] = {k: after.get(k, 0) - before.get(k, 0) for k in keys}
    d["rules"] = {
        k: v - before.get("rules", {}).get(k, 0)
        for k, v in after.get("rules", {}).items()
        if v - before.get("rules", {}).get(k, 0)
    }
    d["drops"] = {k: after["drops"].get(k, 0) - before["drops"].get(k, 0) for k in after["drops"]}
    d["event_losses"] = sum(d["drops"].get(k, 0) for k in EVENT_LOSSES)
    return d


def calibrate(sensor: Sensor, exe: Path, cpus: Cpus, attempts: int = 4) -> None:
    """Events the sensor delivers per loop iteration, and per run of the loop whatever its
    length (the dynamic loader's opens, exec, exit): from a 0- and a 2,000-iteration run,
    rate-limited, with the consumer on its own CPU; again if anything was lost meanwhile
    (a busy machine's other events can fill the ring buffer)."""
    sensor.ask(f"pin {cpus.consumer_arg()}")
    sensor.ask("resume")
    try:
        for _ in range(attempts):
            got, lost = [], 0
            for n in (0, 2000):
                before, _ = sensor.drain(limit_s=10)
                run_loop(exe, "oc", n, 10_000, cpu=cpus.work)
                after, _ = sensor.drain(limit_s=10)
                got.append(after["oc_events"] - before["oc_events"])
                lost += delta(after, before)["event_losses"]
            if not lost:
                sensor.startup_events = float(got[0])
                sensor.events_per_iter = (got[1] - got[0]) / 2000
                sensor.calibrated = True
                return
    finally:
        sensor.ask("suspend")
        sensor.ask("pin ")
    # Never without loss: the open+close pair the loop makes, and no start-up events.
    sensor.startup_events, sensor.events_per_iter, sensor.calibrated = 0.0, 2.0, False


# --- 1. kernel cost: the floor, kernel-only, on ----------------------------------------


def _rotated(conds: list[str], r: int) -> list[str]:
    """Round ``r``'s order: which condition goes first rotates, so drift in machine load
    hits all alike."""
    return conds[r % len(conds) :] + conds[: r % len(conds)]


def measure_floor(
    sensors: list[Sensor], exe: Path, rounds: int, oc_n: int, exec_n: int, cpus: Cpus
) -> dict[str, Any]:
    # One floor per distinct set of tracepoints (the trees usually agree).
    floors: dict[tuple[tuple[str, ...], tuple[str, ...]], Floor] = {}
    floor_of: dict[str, str] = {}
    for s in sensors:
        key = (tuple(s.info["tracepoints"]), tuple(s.info["raw_tracepoints"]))
        if key not in floors:
            floors[key] = Floor(*key)
        floor_of[s.label] = f"floor#{list(floors).index(key)}"
    floor_by_name = {f"floor#{i}": f for i, f in enumerate(floors.values())}
    conds = ["off", *floor_by_name]
    for s in sensors:
        conds += [f"kernel:{s.label}", f"wake:{s.label}", f"on:{s.label}"]
    by_label = {s.label: s for s in sensors}
    loops = ("open_close", "fork_exec")
    times: dict[str, dict[str, list[float]]] = {w: {c: [] for c in conds} for w in loops}
    ratios: dict[str, dict[str, list[float]]] = {w: {c: [] for c in conds[1:]} for w in loops}
    above: dict[str, list[float]] = {s.label: [] for s in sensors}
    drops: dict[str, dict[str, int]] = {c: {} for c in conds if ":" in c}
    ring_bytes: dict[str, list[float]] = {s.label: [] for s in sensors}
    irq_work: dict[str, list[float]] = {c: [] for c in conds}
    run_loop(exe, "oc", oc_n // 10, 0, cpu=cpus.work)  # warm the page cache and the binary
    try:
        for r in range(rounds):
            order = _rotated(conds, r)
            got: dict[str, dict[str, float]] = {w: {} for w in loops}
            for cond in order:
                kind, _, label = cond.partition(":")
                sn = by_label.get(label)
                before: dict[str, Any] = {}
                if cond in floor_by_name:
                    floor_by_name[cond].attach()
                elif sn is not None:
                    if kind in KERNEL_ONLY:
                        sn.ask(f"pin {cpus.consumer_arg()}")
                        sn.ask(f"mode {KERNEL_ONLY[kind]}")
                    before = sn.ask("stats")
                    sn.ask("resume")
                iwi0 = irq_work_interrupts(cpus.work)
                _, t_oc = run_loop(exe, "oc", oc_n, 0, cpu=cpus.work)
                iwi1 = irq_work_interrupts(cpus.work)
                if iwi0 is not None and iwi1 is not None:
                    irq_work[cond].append((iwi1 - iwi0) * 1000 / oc_n)
                oc_bytes = sn.ask("stats")["drained_bytes"] if kind == "kernel" and sn else 0
                _, t_ex = run_loop(exe, "exec", exec_n, cpu=cpus.work)
                got["open_close"][cond] = t_oc / oc_n
                got["fork_exec"][cond] = t_ex / exec_n
                if cond in floor_by_name:
                    floor_by_name[cond].detach()
                elif sn is not None:
                    if kind == "on":
                        after, _ = sn.drain(limit_s=10)
                    else:
                        after = sn.ask("stats")
                        if kind == "kernel":
                            ring_bytes[label].append((oc_bytes - before["drained_bytes"]) / oc_n)
                    sn.ask("suspend")
                    if kind in KERNEL_ONLY:
                        sn.ask("mode run")
                        sn.ask("pin ")
                    acc = drops[cond]
                    for k, v in delta(after, before)["drops"].items():
                        acc[k] = acc.get(k, 0) + v
            for w, g in got.items():
                for c in conds:
                    times[w][c].append(g[c])
                for c in conds[1:]:
                    ratios[w][c].append(g[c] / g["off"])
            for s in sensors:
                k_us = got["open_close"][f"kernel:{s.label}"]
                f_us = got["open_close"][floor_of[s.label]]
                if s.events_per_iter >= 0.5:
                    above[s.label].append((k_us - f_us) * 1e9 / s.events_per_iter)
    finally:
        for f in floors.values():
            f.close()

    def pct(w: str, c: str) -> float:
        return (statistics.median(ratios[w][c]) - 1) * 100

    out: dict[str, Any] = {
        "rounds": rounds,
        "pinned": {"workload_cpu": cpus.work, "consumer_cpu": cpus.consumer},
        "floors": [
            {"name": n, "tracepoints": f.tracepoints, "raw_tracepoints": f.raw}
            for n, f in floor_by_name.items()
        ],
        "iterations": {"open_close": oc_n, "fork_exec": exec_n},
        "us_per_iter_off": {w: statistics.median(times[w]["off"]) * 1e6 for w in loops},
        "irq_work_per_1000_off": statistics.median(irq_work["off"]) if irq_work["off"] else None,
        "sensors": {},
    }
    for s in sensors:
        fl = floor_of[s.label]
        row: dict[str, Any] = {
            "floor": fl,
            "events_per_iteration": s.events_per_iter,
            "events_per_iteration_measured": s.calibrated,
            "startup_events": s.startup_events,
            "ns_per_event_above_floor": statistics.median(above[s.label])
            if above[s.label]
            else None,
            "ns_per_event_above_floor_rounds": [round(x) for x in above[s.label]],
            "ring_bytes_per_iteration": statistics.median(ring_bytes[s.label])
            if ring_bytes[s.label]
            else None,
            "drops_kernel_only": {k: v for k, v in drops[f"kernel:{s.label}"].items() if v},
            "drops_kernel_only_wake": {k: v for k, v in drops[f"wake:{s.label}"].items() if v},
            "drops_on": {k: v for k, v in drops[f"on:{s.label}"].items() if v},
            # IRQ-work interrupts on the loop's CPU per 1,000 open/close iterations.
            "irq_work_per_1000": {
                kind: statistics.median(v) if (v := irq_work[c]) else None
                for kind, c in (
                    ("floor", fl),
                    ("kernel", f"kernel:{s.label}"),
                    ("wake", f"wake:{s.label}"),
                    ("on", f"on:{s.label}"),
                )
            },
        }
        for w in loops:
            row[w] = {
                "us_per_iter_floor": statistics.median(times[w][fl]) * 1e6,
                "us_per_iter_kernel": statistics.median(times[w][f"kernel:{s.label}"]) * 1e6,
                "us_per_iter_kernel_wake": statistics.median(times[w][f"wake:{s.label}"]) * 1e6,
                "us_per_iter_on": statistics.median(times[w][f"on:{s.label}"]) * 1e6,
                "floor_pct": pct(w, fl),
                "kernel_only_pct": pct(w, f"kernel:{s.label}"),
                "kernel_only_wake_pct": pct(w, f"wake:{s.label}"),
                "on_pct": pct(w, f"on:{s.label}"),
                "ratios_on": [round(x, 3) for x in ratios[w][f"on:{s.label}"]],
            }
        out["sensors"][s.label] = row
    return out


# --- 2. realistic workloads ------------------------------------------------------------


@dataclass
class Workload:
    name: str
    what: str
    unit: str  # what run() returns: "s" (wall time) or "us/req"
    run: Callable[[], float]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_port(port: int, proc: subprocess.Popen[bytes], limit_s: float = 10) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        if proc.poll() is not None:
            raise RuntimeError(f"the HTTP server exited ({proc.returncode})")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"the HTTP server did not listen on {port}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def make_workloads(
    tmp: Path, http_seconds: float, http_requests: int, build_files: int
) -> tuple[list[Workload], list[str]]:
    """The three realistic workloads, set up once; notes on what was chosen."""
    notes: list[str] = []
    # (a) a parallel C build
    build = tmp / "build"
    build.mkdir()
    for i in range(build_files):
        (build / f"unit{i}.c").write_text(
            "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <math.h>\n"
            f"int unit{i}(const char *s) {{\n"
            '    char buf[64]; snprintf(buf, sizeof buf, "%s-%d", s, (int)strlen(s));\n'
            f"    return (int)(sqrt((double)strlen(buf)) * {i + 1}) + atoi(s);\n}}\n"
        )
    calls = "".join(f"    t += unit{i}(argv[0]);\n" for i in range(build_files))
    protos = "".join(f"int unit{i}(const char *);\n" for i in range(build_files))
    (build / "main.c").write_text(
        f"{protos}int main(int argc, char **argv) {{\n    int t = argc;\n{calls}    return t & 1;\n}}\n"
    )
    (build / "Makefile").write_text(
        "OBJS := $(patsubst %.c,%.o,$(wildcard *.c))\n"
        "prog: $(OBJS)\n\tgcc -o $@ $(OBJS) -lm\n"
        "%.o: %.c\n\tgcc -O1 -c -o $@ $<\n"
        "clean:\n\trm -f *.o prog\n"
    )

    def run_build() -> float:
        subprocess.run(["make", "-s", "clean"], cwd=build, check=True, capture_output=True)
        t0 = time.monotonic()
        subprocess.run(["make", "-s", "-j2"], cwd=build, check=True, capture_output=True)
        return time.monotonic() - t0

    # (b) a Python test suite
    suite = tmp / "pysuite.py"
    suite.write_text(PYSUITE)
    counter = iter(range(1_000_000))

    def run_suite() -> float:
        work = tmp / f"suite{next(counter)}"
        t0 = time.monotonic()
        subprocess.run([sys.executable, str(suite), str(work), "1500", "60"], check=True)
        took = time.monotonic() - t0
        shutil.rmtree(work, ignore_errors=True)
        return took

    # (c) a loopback HTTP server under a load generator
    web = tmp / "web"
    (web / "www").mkdir(parents=True)
    (web / "www" / "index.html").write_text(
        "<html><body>" + "lanner bench " * 40 + "</body></html>\n"
    )
    nginx, wrk = shutil.which("nginx"), shutil.which("wrk")
    if nginx and wrk:
        port = _free_port()
        (web / "nginx.conf").write_text(NGINX_CONF.format(d=web, port=port))
        server = [
            nginx,
            "-p",
            str(web),
            "-c",
            str(web / "nginx.conf"),
            "-e",
            str(web / "error.log"),
        ]
        url = f"http://127.0.0.1:{port}/index.html"

        def run_http() -> float:
            srv = subprocess.Popen(server, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                _wait_port(port, srv)
                out = subprocess.run(
                    [wrk, "-t1", "-c8", f"-d{http_seconds:g}s", url],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
            finally:
                _stop(srv)
            m = re.search(r"Requests/sec:\s*([\d.]+)", out)
            if not m or float(m.group(1)) <= 0:
                raise RuntimeError(f"wrk said nothing usable: {out!r}")
            return 1e6 / float(m.group(1))

        http = Workload(
            "http", f"nginx + wrk, 1 thread, 8 connections, {http_seconds:g} s", "us/req", run_http
        )
    else:
        notes.append(
            "nginx or wrk not installed: the HTTP workload is Python's http.server and a "
            "Python client (`apt-get install nginx wrk` for the nginx + wrk one)"
        )
        (web / "server.py").write_text(PY_HTTP_SERVER)
        (web / "client.py").write_text(PY_HTTP_CLIENT)

        def run_http() -> float:
            port = _free_port()
            srv = subprocess.Popen(
                [sys.executable, str(web / "server.py"), str(port), str(web / "www")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                _wait_port(port, srv)
                t0 = time.monotonic()
                subprocess.run(
                    [sys.executable, str(web / "client.py"), str(port), str(http_requests)],
                    check=True,
                )
                return time.monotonic() - t0
            finally:
                _stop(srv)

        http = Workload(
            "http",
            f"Python http.server, {http_requests} requests, one connection each",
            "s",
            run_http,
        )
    return [
        Workload("build", f"make -j2, {build_files} C files + main", "s", run_build),
        Workload(
            "pytest", "Python: 1,500 small-file writes+reads, 60 subprocesses", "s", run_suite
        ),
        http,
    ], notes


def measure_realistic(
    sensors: list[Sensor], workloads: list[Workload], rounds: int
) -> dict[str, Any]:
    """Each workload off, with the empty programs (the floor), with the sensor's programs
    and its ring buffer emptied unread (kernel-only), and with the sensor on: where a
    slowdown goes, hook, programs or consumer."""
    floor = Floor(*_tracepoints_of(sensors[0])) if sensors else None
    conds = ["off"] + (["floor"] if floor is not None else [])
    for s in sensors:
        conds += [f"kernel:{s.label}", f"on:{s.label}"]
    by_label = {s.label: s for s in sensors}
    names = [w.name for w in workloads]
    vals: dict[str, dict[str, list[float]]] = {n: {c: [] for c in conds} for n in names}
    ratios: dict[str, dict[str, list[float]]] = {n: {c: [] for c in conds[1:]} for n in names}
    wl_cpu: dict[str, dict[str, list[float]]] = {n: {c: [] for c in conds} for n in names}
    on = [c for c in conds if c.startswith("on:")]
    events: dict[str, dict[str, list[int]]] = {n: {c: [] for c in on} for n in names}
    cpu_s: dict[str, dict[str, list[float]]] = {n: {c: [] for c in on} for n in names}
    drops: dict[str, dict[str, int]] = {c: {} for c in on}
    for w in workloads:  # warm caches (and the build's outputs) once
        w.run()
    try:
        for r in range(rounds):
            order = _rotated(conds, r)
            got: dict[str, dict[str, float]] = {n: {} for n in names}
            for cond in order:
                kind, _, label = cond.partition(":")
                s = by_label.get(label)
                if kind == "floor" and floor is not None:
                    floor.attach()
                elif s is not None:
                    if kind == "kernel":
                        s.ask("mode drain-idle")
                    s.ask("resume")
                    s.drain(limit_s=10)
                try:
                    for w in workloads:
                        before = s.ask("stats") if kind == "on" and s is not None else {}
                        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                        got[w.name][cond] = w.run()
                        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                        wl_cpu[w.name][cond].append(
                            ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime
                        )
                        if kind == "on" and s is not None:
                            after, _ = s.drain(limit_s=20)
                            d = delta(after, before)
                            events[w.name][cond].append(d["captured"])
                            cpu_s[w.name][cond].append(d["cpu_s"])
                            for k, v in d["drops"].items():
                                drops[cond][k] = drops[cond].get(k, 0) + v
                finally:
                    if kind == "floor" and floor is not None:
                        floor.detach()
                    elif s is not None:
                        s.ask("suspend")
                        if kind == "kernel":
                            s.ask("mode run")
            for n in names:
                for c in conds:
                    vals[n][c].append(got[n][c])
                for c in conds[1:]:
                    ratios[n][c].append(got[n][c] / got[n]["off"])
    finally:
        if floor is not None:
            floor.close()

    def pct(n: str, c: str) -> float:
        return (statistics.median(ratios[n][c]) - 1) * 100

    out: dict[str, Any] = {"rounds": rounds, "workloads": {}}
    for w in workloads:
        row: dict[str, Any] = {
            "what": w.what,
            "unit": w.unit,
            "off": statistics.median(vals[w.name]["off"]),
            "workload_cpu_s_off": statistics.median(wl_cpu[w.name]["off"]),
            "floor_pct": pct(w.name, "floor") if floor is not None else None,
            "sensors": {},
        }
        for s in sensors:
            c = f"on:{s.label}"
            slowdown = pct(w.name, c)
            row["sensors"][s.label] = {
                "on": statistics.median(vals[w.name][c]),
                "slowdown_pct": slowdown,
                "kernel_only_pct": pct(w.name, f"kernel:{s.label}"),
                "ratios": [round(x, 3) for x in ratios[w.name][c]],
                "events": statistics.median(events[w.name][c]),
                "sensor_cpu_s": statistics.median(cpu_s[w.name][c]),
                "workload_cpu_s": statistics.median(wl_cpu[w.name][c]),
                "target_met": slowdown < TARGET_SLOWDOWN_PCT,
            }
        out["workloads"][w.name] = row
    out["drops"] = {
        s.label: {k: v for k, v in drops[f"on:{s.label}"].items() if v} for s in sensors
    }
    return out


def _tracepoints_of(s: Sensor) -> tuple[list[str], list[str]]:
    return list(s.info["tracepoints"]), list(s.info["raw_tracepoints"])


# --- 3. the loss-free rate ---------------------------------------------------------------


def measure_rates(
    sensors: list[Sensor], exe: Path, seconds: float, rates: Sequence[int], cpus: Cpus
) -> dict[str, Any]:
    steps: dict[str, list[dict[str, Any]]] = {s.label: [] for s in sensors}
    done: set[str] = set()
    for i, rate in enumerate(rates):
        live = [s for s in sensors if s.label not in done]
        if not live:
            break
        for s in live[i % len(live) :] + live[: i % len(live)]:
            iters = int(rate / 2 * seconds)  # two syscalls (openat, close) per iteration
            s.ask(f"pin {cpus.consumer_arg()}")
            s.ask("resume")
            try:
                before, _ = s.drain(limit_s=10)
                t0 = time.monotonic()
                n, elapsed = run_loop(exe, "oc", iters, rate / 2, cpu=cpus.work)
                expect = round(s.startup_events + s.events_per_iter * n)
                after, lag = s.drain(
                    expect_oc=before["oc_events"] + expect, limit_s=max(10.0, seconds * 4)
                )
                wall = time.monotonic() - t0
            finally:
                s.ask("suspend")
                s.ask("pin ")
            d = delta(after, before)
            missing = max(0, expect - d["oc_events"])
            offered = 2 * n / elapsed
            step = {
                "target_per_s": rate,
                "offered_per_s": offered,
                "expected_events": expect,
                "delivered_events": d["oc_events"],
                "missing_events": missing,
                # Until the consumer caught up: it may still work through the ring buffer
                # after the loop ended.
                "delivered_per_s": d["oc_events"] / (elapsed + lag),
                "background_events": d["captured"] - d["oc_events"],
                "drain_s": lag,
                "consumer_cpu_pct": 100 * d["cpu_s"] / wall,
                "drops": {k: v for k, v in d["drops"].items() if v},
                "event_losses": d["event_losses"],
            }
            steps[s.label].append(step)
            if missing or d["event_losses"] or offered < 0.9 * rate:
                done.add(s.label)
    out: dict[str, Any] = {"seconds_per_step": seconds, "sensors": {}}
    for s in sensors:
        free = 0
        for st in steps[s.label]:
            if (
                st["missing_events"]
                or st["event_losses"]
                or st["offered_per_s"] < 0.9 * st["target_per_s"]
            ):
                break
            free = st["target_per_s"]
        out["sensors"][s.label] = {
            "steps": steps[s.label],
            "highest_loss_free_per_s": free,
            "target_met": free >= TARGET_RATE,
        }
    return out


# --- 4. shipped share and user space per stage -------------------------------------------


def measure_userspace(
    sensors: list[Sensor], tmp: Path, mixed_rounds: int, offline_rounds: int, exe: Path
) -> dict[str, Any]:
    """The mixed workload (below), then the open/close loop the same way: the stream the
    loss-free rate is about, replayed offline."""
    out = _userspace_of(sensors, tmp, mixed_rounds, offline_rounds)
    out["open_close"] = {}
    for s in sensors:
        rec = tmp / f"oc-{s.label}.rec"
        s.ask("resume")
        try:
            s.drain(limit_s=10)
            recording = s.ask("record")["recording"]
            # Slow enough for any consumer to keep up: every record is kept.
            run_loop(exe, "oc", USERSPACE_OC_ITERATIONS, USERSPACE_OC_ITERATIONS)
            s.drain(limit_s=30)
            saved = s.ask(f"save {rec}")["saved"]
        finally:
            s.ask("suspend")
        out["open_close"][s.label] = (
            s.ask(f"offline {rec} {offline_rounds}")
            if recording and saved
            else {"events": 0, "error": "this tree's Capture cannot record raw records"}
        )
    return out


def _userspace_of(
    sensors: list[Sensor], tmp: Path, mixed_rounds: int, offline_rounds: int
) -> dict[str, Any]:
    script = tmp / "mixed.sh"
    script.write_text(MIXED_SH)
    out: dict[str, Any] = {"workload_rounds": mixed_rounds, "sensors": {}}
    for s in sensors:
        work = tmp / f"mixed-{s.label}"
        work.mkdir()
        rec = tmp / f"mixed-{s.label}.rec"
        s.ask("resume")
        try:
            before, _ = s.drain(limit_s=10)
            recording = s.ask("record")["recording"]
            t0 = time.monotonic()
            subprocess.run(
                ["sh", str(script), str(work), str(mixed_rounds)], check=True, capture_output=True
            )
            workload_s = time.monotonic() - t0
            after, _ = s.drain(limit_s=30)
            saved = s.ask(f"save {rec}")["saved"]
        finally:
            s.ask("suspend")
        d = delta(after, before)
        captured = d["captured"]
        row: dict[str, Any] = {
            "workload_s": workload_s,
            "captured": captured,
            "documents": d["documents"],
            "prefiltered": d["prefiltered"],
            "shipped": d["shipped"],
            "shipped_pct_of_captured": 100 * d["shipped"] / captured if captured else 0.0,
            "alerts_by_rule": d["rules"],
            "recorded": saved,
            "drops": {k: v for k, v in d["drops"].items() if v},
            "target_met": captured > 0 and 100 * d["shipped"] / captured < TARGET_SHIPPED_PCT,
        }
        row["offline"] = (
            s.ask(f"offline {rec} {offline_rounds}")
            if recording and saved
            else {"events": 0, "error": "this tree's Capture cannot record raw records"}
        )
        out["sensors"][s.label] = row
    return out


# --- report --------------------------------------------------------------------------------


def _yes(v: bool | None) -> str:
    return "n/a" if v is None else ("MET" if v else "NOT MET")


class Table:
    """Rows of one figure per sensor, side by side, with after/before when comparing."""

    def __init__(self, labels: list[str], indent: str = "   ", width: int = 46) -> None:
        self.labels = labels
        self.indent = indent
        self.width = width
        self.lines = [
            indent
            + f"{'':<{width}}"
            + "".join(f"{lab:>12}" for lab in labels)
            + (f"{labels[1] + '/' + labels[0]:>14}" if len(labels) == 2 else "")
        ]

    def row(
        self, name: str, vals: Sequence[float | None], fmt: str, ratio: bool | str = True
    ) -> None:
        """``ratio``: False for none, "pct" for a percentage (none below one point: a
        ratio of a slowdown within noise says nothing)."""
        cells = "".join(f"{'-' if v is None else format(v, fmt):>12}" for v in vals)
        tail = ""
        if len(vals) == 2 and ratio:
            a, b = vals
            least = 1.0 if ratio == "pct" else 0.0
            if a is not None and b is not None and a > least and b >= 0:
                tail = f"{b / a:>13.2f}x"
            else:
                tail = f"{'-':>14}"
        self.lines.append(f"{self.indent}{name:<{self.width}}{cells}{tail}")


def _render_floor(res: dict[str, Any], labels: list[str]) -> list[str]:
    f = res["floor"]
    pin = f["pinned"]
    lines = [
        "",
        f"1. Kernel cost, open/close loop (worst case) and fork/exec: medians of {f['rounds']} interleaved rounds,",
        f"   loops pinned to CPU {pin['workload_cpu']}. floor = the sensor's tracepoints with programs that return at once.",
        f"   kernel-only = the sensor's programs, its consumer on CPU {pin['consumer_cpu']} emptying the ring buffer unread",
        "   once a quarter full (never full: no drop path, few wakeups, no user-space competition);",
        "   reader caught up = emptied at once, so nearly every event wakes the reader;",
        "   on = consuming like `lanner sensor` (unpinned; a full ring buffer drops).",
    ]
    for fl in f["floors"]:
        hit = [
            t
            for t in fl["tracepoints"] + fl["raw_tracepoints"]
            if re.search(r"_(openat|close)$|^raw_syscalls:|^sys_(enter|exit)$", t)
        ]
        lines.append(
            f"   {fl['name']}: {len(fl['tracepoints'])} tracepoints"
            f"{' + ' + str(len(fl['raw_tracepoints'])) + ' raw' if fl['raw_tracepoints'] else ''};"
            f" the open/close loop hits {', '.join(hit) or 'none'}"
        )
    t = Table(labels)
    ss = [f["sensors"][lab] for lab in labels]
    for w, n in (("open_close", "open+close"), ("fork_exec", "fork+exec+wait")):
        off = f["us_per_iter_off"][w]
        t.row(f"{n}, us per iteration, off", [off for _ in ss], ".2f", ratio=False)
        t.row("  floor (empty programs)", [x[w]["us_per_iter_floor"] for x in ss], ".2f")
        t.row("  kernel-only", [x[w]["us_per_iter_kernel"] for x in ss], ".2f")
        t.row(
            "  kernel-only, reader caught up", [x[w]["us_per_iter_kernel_wake"] for x in ss], ".2f"
        )
        t.row("  on (consumer running)", [x[w]["us_per_iter_on"] for x in ss], ".2f")
        t.row("  floor vs off, %", [x[w]["floor_pct"] for x in ss], "+.1f", ratio=False)
        t.row("  kernel-only vs off, %", [x[w]["kernel_only_pct"] for x in ss], "+.1f", "pct")
        t.row(
            "  kernel-only, reader caught up, vs off, %",
            [x[w]["kernel_only_wake_pct"] for x in ss],
            "+.1f",
            "pct",
        )
        t.row("  on vs off, %", [x[w]["on_pct"] for x in ss], "+.1f", "pct")
        if w == "open_close":
            t.row(
                "  events per iteration (measured)", [x["events_per_iteration"] for x in ss], ".2f"
            )
            t.row(
                "  ns per event above the floor", [x["ns_per_event_above_floor"] for x in ss], ".0f"
            )
            t.row(
                "  ring-buffer bytes per iteration (all drained)",
                [x["ring_bytes_per_iteration"] for x in ss],
                ".0f",
            )
            t.row(
                "  irq_work interrupts per 1,000 iter., off",
                [f["irq_work_per_1000_off"] for _ in ss],
                ".1f",
                ratio=False,
            )
            for kind, name in (
                ("kernel", "kernel-only"),
                ("wake", "reader caught up"),
                ("on", "on"),
            ):
                t.row(f"    {name}", [x["irq_work_per_1000"][kind] for x in ss], ".1f")
    lines.extend(t.lines)
    for lab, x in zip(labels, ss, strict=True):
        dk, dw = x["drops_kernel_only"], x["drops_kernel_only_wake"]
        full = any(d.get(k) for d in (dk, dw) for k in EVENT_LOSSES)
        lines.append(
            f"   {lab}: drop counters during kernel-only {dk or 'none'}, caught up {dw or 'none'}"
            f"{' (so those include some drop path)' if full else ''}; while on {x['drops_on'] or 'none'}"
        )
    for lab, x in zip(labels, ss, strict=True):
        lines.append(
            f"   {lab}: on/off per round, open/close {' '.join(f'{r:.2f}' for r in x['open_close']['ratios_on'])};"
            f" fork/exec {' '.join(f'{r:.2f}' for r in x['fork_exec']['ratios_on'])}"
        )
    return lines


def _render_realistic(res: dict[str, Any], labels: list[str]) -> list[str]:
    r = res["realistic"]
    lines = [
        "",
        f"2. Realistic workloads, sensor off vs on: medians of {r['rounds']} interleaved rounds"
        f" (target < {TARGET_SLOWDOWN_PCT:.0f}% each); events and sensor CPU until it caught up",
    ]
    first = True
    for name, w in r["workloads"].items():
        lines.append(f"   {name}: {w['what']}")
        ss = [w["sensors"][lab] for lab in labels]
        fmt = ".3f" if w["unit"] == "s" else ".1f"
        t = Table(labels)
        t.row(f"  off, {w['unit']}", [w["off"] for _ in ss], fmt, ratio=False)
        t.row(f"  on, {w['unit']}", [x["on"] for x in ss], fmt)
        if w.get("floor_pct") is not None:
            t.row(
                "  slowdown, empty programs (floor), %", [w["floor_pct"] for _ in ss], "+.1f", False
            )
        t.row("  slowdown, kernel only, %", [x["kernel_only_pct"] for x in ss], "+.1f", "pct")
        t.row("  slowdown, %", [x["slowdown_pct"] for x in ss], "+.1f", "pct")
        t.row("  events captured (whole machine)", [x["events"] for x in ss], ".0f")
        t.row("  sensor CPU s", [x["sensor_cpu_s"] for x in ss], ".2f")
        t.row("  workload's own CPU s, off", [w["workload_cpu_s_off"] for _ in ss], ".2f", False)
        t.row("  workload's own CPU s, on", [x["workload_cpu_s"] for x in ss], ".2f")
        lines.extend(t.lines if first else t.lines[1:])
        first = False
        lines.append(
            "     "
            + "; ".join(
                f"{lab}: on/off per round {' '.join(f'{v:.2f}' for v in x['ratios'])} {_yes(x['target_met'])}"
                for lab, x in zip(labels, ss, strict=True)
            )
        )
    for lab in labels:
        lines.append(f"   {lab}: drop counters while on {r['drops'][lab] or 'none'}")
    return lines


def _render_rates(res: dict[str, Any], labels: list[str]) -> list[str]:
    r = res["rates"]
    lines = [
        "",
        f"3. Loss-free rate: the open/close loop rate-limited, {r['seconds_per_step']:g} s per step, pinned to one CPU,",
        "   the consumer pinned to the other; offered = open+close syscalls/s; deliv./s = the loop's events",
        "   processed / (run + catch-up time); missing = expected (measured events per iteration) - delivered",
    ]
    for lab in labels:
        x = r["sensors"][lab]
        lines.append(
            f"   {lab}: {'target/s':>8} {'offered/s':>10} {'deliv./s':>9} {'missing':>8} {'backgr.':>8} "
            f"{'catchup s':>9} {'cpu%':>5}  drops"
        )
        for st in x["steps"]:
            dr = ", ".join(f"{k}={v}" for k, v in st["drops"].items()) or "none"
            lines.append(
                f"   {'':<{len(lab) + 1}} {st['target_per_s']:>8} {st['offered_per_s']:>10.0f} {st['delivered_per_s']:>9.0f} "
                f"{st['missing_events']:>8} {st['background_events']:>8} {st['drain_s']:>9.1f} {st['consumer_cpu_pct']:>5.0f}  {dr}"
            )
    t = Table(labels)
    t.row(
        "highest loss-free rate, syscalls/s",
        [r["sensors"][lab]["highest_loss_free_per_s"] for lab in labels],
        ".0f",
    )
    lines.extend(t.lines)
    lines.append(
        f"   no loss at {TARGET_RATE}/s: "
        + ", ".join(f"{lab} {_yes(r['sensors'][lab]['target_met'])}" for lab in labels)
    )
    return lines


def _render_userspace(res: dict[str, Any], labels: list[str]) -> list[str]:
    u = res["userspace"]
    lines = [
        "",
        f"4. User space per event and shipped share: benign mixed workload ({u['workload_rounds']} rounds of"
        " gcc/git/python/ls/tar), its raw records replayed offline",
    ]
    ss = [u["sensors"][lab] for lab in labels]
    os_ = [x["offline"] for x in ss]
    t = Table(labels)
    t.row("captured events", [x["captured"] for x in ss], ".0f")
    t.row("documents built", [x["documents"] for x in ss], ".0f")
    t.row("skipped by the pre-filter", [x["prefiltered"] for x in ss], ".0f")
    t.row("shipped (raised an alert)", [x["shipped"] for x in ss], ".0f")
    t.row("shipped, % of captured", [x["shipped_pct_of_captured"] for x in ss], ".2f")
    _offline_rows(t, "offline: recorded events", os_)
    lines.extend(t.lines)
    for lab, x in zip(labels, ss, strict=True):
        extra = f"; offline: {x['offline']['error']}" if x["offline"].get("error") else ""
        lines.append(
            f"   {lab}: drops {x['drops'] or 'none'}; alerts by rule "
            f"{', '.join(f'{k} x{v}' for k, v in sorted(x['alerts_by_rule'].items())) or 'none'};"
            f" < {TARGET_SHIPPED_PCT:.0f}% shipped {_yes(x['target_met'])}{extra}"
        )
    oc = u.get("open_close")
    if oc:
        lines.append(
            f"   open/close loop ({USERSPACE_OC_ITERATIONS:,} iterations), its records replayed"
            " offline the same way"
        )
        ocs = [oc[lab] for lab in labels]
        t = Table(labels)
        _offline_rows(t, "recorded events", ocs)
        lines.extend(t.lines[1:])
    return lines


def _offline_rows(t: Table, first: str, offline: list[dict[str, Any]]) -> None:
    """The stages of one offline replay per sensor (see _offline)."""
    t.row(first, [o.get("events") or None for o in offline], ".0f")
    t.row("  documents built", [o.get("documents") for o in offline], ".0f")
    t.row("  read/decode, us/event", [o.get("decode_us") for o in offline], ".2f")
    t.row("  enrich, us/event", [o.get("enrich_us") for o in offline], ".2f")
    t.row("  evaluate, us/event", [o.get("evaluate_us") for o in offline], ".2f")
    t.row("  sum of stages, us/event", [o.get("total_us") for o in offline], ".2f")
    t.row(
        "  tree's run loop after decode, us/event", [o.get("run_loop_us") for o in offline], ".2f"
    )
    t.row(
        "  events/s on one core (sum of stages)",
        [o.get("events_per_s_one_core") for o in offline],
        ".0f",
    )
    t.row("  state only (no document), us/event", [o.get("state_only_us") for o in offline], ".2f")
    t.row(
        "  events/s on one core, decode + state only",
        [o.get("events_per_s_state_only") for o in offline],
        ".0f",
    )


def render(res: dict[str, Any]) -> str:
    m = res["machine"]
    labels: list[str] = res["labels"]
    lines = [
        f"lanner sensor benchmark: {m['cpus']} CPUs, kernel {m['kernel']}, rules {', '.join(res['rules'])}"
    ]
    for lab in labels:
        i = res["sensors"][lab]
        lines.append(
            f"  {lab}: {i['tree']}; {i['event_types']} event types, {len(i['tracepoints'])} tracepoints"
            f"{' + ' + str(len(i['raw_tracepoints'])) + ' raw' if i['raw_tracepoints'] else ''}"
            f", args from {i['stash_kind']}; load (bcc compile+attach, /proc seed) {i['load_s']:.1f} s"
        )
        pf = {True: "on", False: "off (--no-prefilter)", None: "none in this tree"}[i["prefilter"]]
        lines.append(f"    ring buffer read by {i['read_mode']}; pre-filter {pf}")
        if i.get("events_per_iteration_measured") is False:
            lines.append(
                "    events per loop iteration not measured (events lost in every calibration"
                " run: a busy machine): 2 assumed"
            )
        if i["other_attachments"]:
            lines.append(
                f"  WARNING: {i['other_attachments']} of {lab}'s attachments are not tracepoints the"
                " bench can detach: they stay attached in every condition, 'off' included"
            )
    for n in res.get("notes", []):
        lines.append(f"  note: {n}")
    others = sorted(set(res.get("other_bpf_at_start", []) + res.get("other_bpf_at_end", [])))
    if others:
        lines.append(
            "  WARNING: other processes hold tracepoint eBPF programs (pid comm: "
            f"{', '.join(others)}): their cost is in every figure, 'off' included"
        )
    if "section_s" in res:
        lines.append("  took: " + ", ".join(f"{k} {v:.0f} s" for k, v in res["section_s"].items()))
    for section, fn in (
        ("floor", _render_floor),
        ("realistic", _render_realistic),
        ("rates", _render_rates),
        ("userspace", _render_userspace),
    ):
        if section in res:
            lines.extend(fn(res, labels))
    return "\n".join(lines)


@contextmanager
def _tempdir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="lanner-bench-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _sections(text: str) -> list[str]:
    got = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in got if s not in SECTIONS]
    if bad or not got:
        raise argparse.ArgumentTypeError(
            f"sections are {', '.join(SECTIONS)}; got {', '.join(bad) or 'none'}"
        )
    return got


def _rates(text: str) -> list[int]:
    try:
        return [int(float(x)) for x in text.split(",") if x.strip()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"rates are numbers separated by commas: {e}") from e


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument(
        "--only", type=_sections, default=",".join(SECTIONS), help="Sections, comma-separated."
    )
    ap.add_argument(
        "--compare",
        type=Path,
        metavar="PATH",
        help="Another checkout whose sensor is measured in the same run ('before').",
    )
    ap.add_argument("--rules", nargs="+", default=[str(DEFAULT_RULES)], help="Rule files.")
    ap.add_argument("--rounds", type=int, default=5, help="floor: interleaved rounds.")
    ap.add_argument("--oc-iterations", type=int, default=200_000, help="floor: open/close loop.")
    ap.add_argument("--exec-iterations", type=int, default=1_000, help="floor: fork/exec loop.")
    ap.add_argument("--realistic-rounds", type=int, default=3, help="realistic: rounds.")
    ap.add_argument("--http-seconds", type=float, default=3.0, help="realistic: wrk duration.")
    ap.add_argument(
        "--http-requests", type=int, default=1500, help="realistic: Python client's requests."
    )
    ap.add_argument("--build-files", type=int, default=48, help="realistic: C files built.")
    ap.add_argument("--seconds", type=float, default=5.0, help="rates: seconds per step.")
    ap.add_argument(
        "--rates",
        type=_rates,
        default=",".join(map(str, RATES)),
        help="rates: open+close syscalls/s offered, comma-separated.",
    )
    ap.add_argument("--mixed-rounds", type=int, default=5, help="userspace: workload rounds.")
    ap.add_argument("--offline-rounds", type=int, default=5, help="userspace: replays.")
    ap.add_argument(
        "--no-prefilter",
        action="store_true",
        help="Sensors without the pre-filter (in trees that have one), as `lanner sensor "
        "--no-prefilter`.",
    )
    ap.add_argument("--json", action="store_true", help="Print the results as JSON.")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--tree", type=Path, default=ROOT, help=argparse.SUPPRESS)
    ap.add_argument("--exclude", type=int, nargs="*", default=[], help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        return child_main(a.tree, a.rules, a.exclude, not a.no_prefilter)
    if os.geteuid() != 0:
        print("bench/sensor.py loads eBPF programs: run it as root (sudo).", file=sys.stderr)
        return 2
    need = ["gcc"] + (["git", "tar"] if "userspace" in a.only else [])
    need += ["make"] if "realistic" in a.only else []
    for tool in need:
        if shutil.which(tool) is None:
            print(f"bench/sensor.py needs {tool} on PATH for its workloads.", file=sys.stderr)
            return 2
    trees = [("this", ROOT)]
    if a.compare is not None:
        other = a.compare.resolve()
        if not (other / "sensor" / "capture.py").is_file():
            print(f"--compare {other}: no sensor/capture.py there", file=sys.stderr)
            return 2
        trees = [("before", other), ("after", ROOT)]
    rules = [str(Path(p).resolve()) for p in a.rules]
    cpus = Cpus.pick()
    t_start = time.monotonic()
    with _tempdir() as tmp:
        exe = build_loop(tmp)
        errlog = open(tmp / "child.err", "w+", encoding="utf-8")  # noqa: SIM115
        sensors = [Sensor(lab, tree, rules, errlog, not a.no_prefilter) for lab, tree in trees]
        res: dict[str, Any] = {
            "machine": {"cpus": os.cpu_count(), "kernel": os.uname().release},
            "rules": rules,
            "labels": [s.label for s in sensors],
            "sections": a.only,
        }
        ours = {os.getpid(), *(s.proc.pid for s in sensors)}
        try:
            res["other_bpf_at_start"] = other_bpf_holders(ours)
            res["sensors"] = {s.label: s.load() for s in sensors}
            if {"floor", "rates"} & set(a.only):
                for s in sensors:
                    calibrate(s, exe, cpus)
                    res["sensors"][s.label]["events_per_iteration"] = s.events_per_iter
                    res["sensors"][s.label]["events_per_iteration_measured"] = s.calibrated
            took = res["section_s"] = {"start": time.monotonic() - t_start}
            if "floor" in a.only:
                t0 = time.monotonic()
                res["floor"] = measure_floor(
                    sensors, exe, a.rounds, a.oc_iterations, a.exec_iterations, cpus
                )
                took["floor"] = time.monotonic() - t0
            if "realistic" in a.only:
                t0 = time.monotonic()
                workloads, notes = make_workloads(
                    tmp, a.http_seconds, a.http_requests, a.build_files
                )
                res["notes"] = notes
                res["realistic"] = measure_realistic(sensors, workloads, a.realistic_rounds)
                took["realistic"] = time.monotonic() - t0
            if "rates" in a.only:
                t0 = time.monotonic()
                res["rates"] = measure_rates(sensors, exe, a.seconds, a.rates, cpus)
                took["rates"] = time.monotonic() - t0
            if "userspace" in a.only:
                t0 = time.monotonic()
                res["userspace"] = measure_userspace(
                    sensors, tmp, a.mixed_rounds, a.offline_rounds, exe
                )
                took["userspace"] = time.monotonic() - t0
            res["other_bpf_at_end"] = other_bpf_holders(ours)
        except (RuntimeError, subprocess.CalledProcessError) as e:
            errlog.seek(0)
            print(f"bench/sensor.py: {e}\n{errlog.read()[-3000:]}", file=sys.stderr)
            return 1
        finally:
            for s in sensors:
                s.close()
            errlog.close()
    if a.json:
        print(json.dumps(res, indent=2))
    else:
        print(render(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
