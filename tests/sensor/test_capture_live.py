"""The sensor against the real kernel: a child process does things, the RawEvents say so.

Needs root and eBPF (bcc, kernel headers, tracefs); skipped otherwise (CI with
LANNER_REQUIRE_BPF=1 turns the skip into a failure). The BPF program is compiled once for
the module; the workload runs once and every test reads its events. The last tests check
the errors a user sees when the machine is not ready; they need nothing.
"""

from __future__ import annotations

import errno
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sensor.events import EXEC, EXIT, FORK, RawEvent

REQUESTED = frozenset(
    {
        "openat",
        "execve",
        "connect",
        "accept",
        "accept4",
        "socket",
        "sendto",
        "symlink",
        "symlinkat",
        "link",
        "linkat",
        "ptrace",
        "memfd_create",
        "init_module",
        FORK,
        EXEC,
        EXIT,
    }
)

# Runs in a child process; prints what the test needs to know as JSON.
WORKLOAD = r"""
import ctypes, json, os, socket, subprocess, sys, threading
tmp = sys.argv[1]
out = {}
t = threading.Thread(target=lambda: out.update(thread_tid=threading.get_native_id()))
t.start(); t.join()
fd = os.open("/etc/hostname", os.O_RDONLY); os.close(fd)
try:
    os.open(os.path.join(tmp, "missing"), os.O_RDONLY)
except FileNotFoundError:
    pass
fd = os.open(os.path.join(tmp, "f"), os.O_WRONLY | os.O_CREAT, 0o640); os.close(fd)
p = subprocess.Popen(["/bin/true", "--lanner-probe", "two words"]); p.wait()
out["true_pid"] = p.pid
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
out["port"] = srv.getsockname()[1]
cli = socket.socket(); cli.connect(("127.0.0.1", out["port"]))
out["client_port"] = cli.getsockname()[1]
conn, _ = srv.accept()
u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u6.sendto(b"x", ("::1", 9))
upath = os.path.join(tmp, "u.sock")
us = socket.socket(socket.AF_UNIX); us.bind(upath); us.listen(1)
uc = socket.socket(socket.AF_UNIX); uc.connect(upath)
out["unix_path"] = upath
try:
    socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()
except PermissionError:
    pass
os.symlink("/etc/hostname", os.path.join(tmp, "sl"))
os.link(os.path.join(tmp, "f"), os.path.join(tmp, "hl"))
os.chmod(os.path.join(tmp, "f"), 0o600)
mfd = os.memfd_create("lanner-probe", os.MFD_CLOEXEC)
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall(175, None, ctypes.c_ulong(0), b"")
libc.ptrace(0, 0, None, None)
print(json.dumps(out), flush=True)
"""


@dataclass
class Run:
    child: int
    info: dict[str, Any]
    tmp: Path
    events: list[RawEvent]
    own_pid: int
    stats: dict[str, int]
    not_in_kernel: frozenset[str]

    def of(self, type_: str, pid: int | None = None) -> list[RawEvent]:
        pid = self.child if pid is None else pid
        return [e for e in self.events if e.type == type_ and e.pid == pid]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    if os.geteuid() != 0:
        pytest.skip("needs root and eBPF (bcc, kernel headers, tracefs)")
    from sensor.capture import Capture, CaptureError

    try:
        cap = Capture(REQUESTED)
    except CaptureError as e:
        pytest.skip(f"needs root and eBPF: {e}")
    tmp = tmp_path_factory.mktemp("capture")
    events: list[RawEvent] = []
    with cap:
        # The sensor's own opens must not come back.
        os.close(os.open("/etc/hostname", os.O_RDONLY))
        proc = subprocess.Popen(
            [sys.executable, "-c", WORKLOAD, str(tmp)], stdout=subprocess.PIPE, text=True
        )
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0
        # Events up to and including the child's exit; a bounded number of empty polls
        # afterwards in case the exit record races the last poll.
        idle = 0
        while idle < 20:
            got = cap.poll(100)
            events.extend(got)
            if any(e.type == EXIT and e.pid == proc.pid for e in events):
                events.extend(cap.poll(0))
                break
            idle += 0 if got else 1
        yield Run(proc.pid, json.loads(out), tmp, events, os.getpid(), cap.stats(), cap.not_in_kernel)


def test_open_success_flags_and_mode(run: Run) -> None:
    opens = {e.args["name"]: e for e in run.of("openat")}
    ev = opens["/etc/hostname"]
    assert ev.res is not None and ev.res >= 0
    assert ev.args["flags"] & os.O_ACCMODE == os.O_RDONLY
    assert ev.args["flags"] & os.O_CLOEXEC  # Python opens non-inheritable
    assert ev.args["dirfd"] == -100  # AT_FDCWD
    assert ev.tid == run.child and ev.comm.startswith("python")
    created = opens[str(run.tmp / "f")]
    assert created.args["flags"] & os.O_CREAT and created.args["mode"] == 0o640


def test_failed_open_has_negative_errno(run: Run) -> None:
    (ev,) = [e for e in run.of("openat") if e.args["name"] == str(run.tmp / "missing")]
    assert ev.res == -errno.ENOENT


def test_execve_argv_and_process_lifecycle(run: Run) -> None:
    pid = run.info["true_pid"]
    (ev,) = run.of("execve", pid)
    assert ev.res == 0
    assert ev.args["filename"] == "/bin/true"
    assert ev.args["argv"] == ["/bin/true", "--lanner-probe", "two words"]
    assert ev.comm == "true" and ev.truncated == ()
    (ex,) = run.of(EXEC, pid)
    assert ex.args["filename"] == "/bin/true" and ex.res is None
    forks = [e for e in run.of(FORK) if e.args["child_pid"] == pid]
    assert forks and forks[0].args["child_tid"] == pid
    assert run.of(EXIT, pid)


def test_new_thread_is_told_from_new_process(run: Run) -> None:
    # clone3/clone flags are read in the kernel: a thread keeps its creator's process id.
    tid = run.info["thread_tid"]
    (ev,) = [e for e in run.of(FORK) if e.args["child_tid"] == tid]
    assert ev.args["child_pid"] == run.child != tid


def test_connect_and_accept_addresses(run: Run) -> None:
    inet = [e for e in run.of("connect") if e.args["addr"]["family"] == "inet"]
    (ev,) = inet
    assert ev.res == 0
    assert ev.args["addr"] == {"family": "inet", "addr": "127.0.0.1", "port": run.info["port"]}
    assert isinstance(ev.args["fd"], int)
    accepts = run.of("accept4") + run.of("accept")
    assert [a.args["addr"] for a in accepts] == [
        {"family": "inet", "addr": "127.0.0.1", "port": run.info["client_port"]}
    ]
    assert accepts[0].res is not None and accepts[0].res >= 0


def test_unix_and_inet6_addresses(run: Run) -> None:
    unix = [e for e in run.of("connect") if e.args["addr"]["family"] == "unix"]
    assert [e.args["addr"]["path"] for e in unix] == [run.info["unix_path"]]
    (ev,) = run.of("sendto")
    assert ev.args["addr"] == {"family": "inet6", "addr": "::1", "port": 9}
    assert ev.res == 1 and ev.args["size"] == 1


def test_packet_socket_attempt(run: Run) -> None:
    packet = [e for e in run.of("socket") if e.args["domain"] == socket.AF_PACKET]
    assert len(packet) == 1
    assert packet[0].args["type"] & 0xF == socket.SOCK_RAW
    assert isinstance(packet[0].res, int)


def test_symlink_and_link(run: Run) -> None:
    (sl,) = run.of("symlink") + run.of("symlinkat")
    assert sl.args["target"] == "/etc/hostname"
    assert sl.args["linkpath"] == str(run.tmp / "sl") and sl.res == 0
    (hl,) = run.of("link") + run.of("linkat")
    assert (hl.args["oldpath"], hl.args["newpath"]) == (str(run.tmp / "f"), str(run.tmp / "hl"))


def test_ptrace_memfd_and_module_load(run: Run) -> None:
    (pt,) = run.of("ptrace")
    assert pt.args["request"] == 0 and pt.res == 0  # PTRACE_TRACEME
    (mf,) = run.of("memfd_create")
    assert mf.args == {"name": "lanner-probe", "flags": 1} and mf.res is not None
    assert mf.res >= 0
    # A kernel without module support has no init_module: not traced, and said at start.
    if run.not_in_kernel >= {"init_module"}:
        assert run.of("init_module") == []
        return
    (im,) = run.of("init_module")
    assert im.res is not None and im.res < 0 and im.args["uargs"] == ""


def test_only_requested_types_and_never_the_sensor(run: Run) -> None:
    assert {e.type for e in run.events} <= REQUESTED
    assert not [e for e in run.events if e.pid == run.own_pid]
    assert run.stats["events"] >= len(run.events)
    assert run.stats["decode_errors"] == 0


def test_exclude_pids_and_close() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root and eBPF (bcc, kernel headers, tracefs)")
    from sensor.capture import Capture, CaptureError

    try:
        cap = Capture({"openat", "read"}, exclude_pids=[os.getpid()])
    except CaptureError as e:
        pytest.skip(f"needs root and eBPF: {e}")
    assert cap.unsupported == {"read"}  # rules name syscalls the sensor does not trace
    with cap:
        child = subprocess.Popen(
            [sys.executable, "-c", "import os; os.close(os.open('/etc/hostname', 0))"]
        )
        child.wait()
        seen: list[RawEvent] = []
        for _ in range(20):
            seen += cap.poll(100)
            if any(e.pid == child.pid and e.args["name"] == "/etc/hostname" for e in seen):
                break
        assert any(e.pid == child.pid for e in seen)
        assert set(cap.stats()) >= {"events", "ringbuf_full", "stash_full", "read_failed"}
    with pytest.raises(Exception, match="closed"):
        cap.poll(0)


# Runs in a child: moves into the test's cgroup (if any), drops to nobody, then makes calls
# the kernel-side filters must tell apart. Prints its pid and the fds it used.
FILTER_WORKLOAD = r"""
import ctypes, fcntl, json, os, sys
cgroup = sys.argv[1]
if cgroup:
    with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
os.setgid(65534); os.setuid(65534)
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open("/etc/hostname", os.O_RDONLY)
fcntl.fcntl(fd, fcntl.F_GETFL)
low = fcntl.fcntl(fd, fcntl.F_DUPFD, 40)
cloexec = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 50)
libc.syscall(72, 999, fcntl.F_DUPFD, 60)  # fails: EBADF
dup = libc.syscall(32, fd)
libc.syscall(32, 999)  # fails: EBADF
libc.syscall(3, 999)  # close, fails: EBADF
for n in (low, cloexec, dup):
    os.close(n)
libc.prctl(15, b"lanner-renamed", 0, 0, 0)  # PR_SET_NAME
os.close(fd)
os.close(os.open("/etc/hostname", os.O_RDONLY))
print(json.dumps({"fd": fd, "low": low, "cloexec": cloexec, "dup": dup}), flush=True)
"""


def _cgroup2_dir(tmp: Path) -> Path | None:
    """A fresh cgroup v2 directory for the child, or None where there is none to make."""
    for line in Path("/proc/self/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[2] == "cgroup2":
            d = Path(parts[1]) / f"lanner-test-{os.getpid()}"
            try:
                d.mkdir()
            except OSError:
                return None
            return d
    return None


def test_kernel_filters_and_task_fields(tmp_path: Path) -> None:
    """fcntl is emitted only for the commands that make an fd (its row's emit_if); with
    close, dup and fcntl wanted for state only, their failures are not emitted at all; the
    header's ids, credentials and comm are the task's own, and its process events carry
    its cgroup; and past EXCL_INLINE excluded pids the sensor still never sees itself."""
    if os.geteuid() != 0:
        pytest.skip("needs root and eBPF (bcc, kernel headers, tracefs)")
    from sensor.capture import Capture, CaptureError

    wanted = {"openat", "close", "dup", "fcntl", EXIT}
    try:
        cap = Capture(
            wanted,
            exclude_pids=[os.getpid(), *range(2_000_000, 2_000_010)],
            state_only={"close", "dup", "fcntl"},
        )
    except CaptureError as e:
        pytest.skip(f"needs root and eBPF: {e}")
    cgroup = _cgroup2_dir(tmp_path)
    cgroup_id = cgroup.stat().st_ino if cgroup is not None else None
    try:
        with cap:
            os.close(os.open("/etc/hostname", os.O_RDONLY))  # the sensor's own: never seen
            proc = subprocess.run(
                [sys.executable, "-c", FILTER_WORKLOAD, str(cgroup or "")],
                capture_output=True, text=True, timeout=60, check=True,
            )  # fmt: skip
            fds = json.loads(proc.stdout)
            events: list[RawEvent] = []
            for _ in range(30):
                events += cap.poll(100)
                if any(e.type == EXIT and e.comm == "lanner-renamed" for e in events):
                    break
            stats = cap.stats()
    finally:
        if cgroup is not None:
            cgroup.rmdir()
    assert not [e for e in events if e.pid == os.getpid()]
    child = {e.pid for e in events if e.type == "openat" and e.comm == "lanner-renamed"}
    assert len(child) == 1, "the child's last open was not seen"
    mine = [e for e in events if e.pid in child]
    fcntls = [(e.args["fd"], e.args["cmd"], e.res) for e in mine if e.type == "fcntl"]
    assert fcntls == [(fds["fd"], 0, fds["low"]), (fds["fd"], 1030, fds["cloexec"])]
    dups = [(e.args["oldfd"], e.res) for e in mine if e.type == "dup"]
    assert dups == [(fds["fd"], fds["dup"])]
    closes = [e.args["fd"] for e in mine if e.type == "close"]
    assert 999 not in closes
    assert {fds["low"], fds["cloexec"], fds["dup"], fds["fd"]} <= set(closes)
    assert all(e.res == 0 for e in mine if e.type == "close")
    opens = [e for e in mine if e.type == "openat" and e.args["name"] == "/etc/hostname"]
    assert [e.comm for e in opens][-2:] == [opens[0].comm, "lanner-renamed"]
    assert opens[0].comm.startswith("python")
    # From its first open of /etc/hostname on, the child runs as nobody in its cgroup.
    after = mine[mine.index(opens[0]) :]
    assert {(e.uid, e.gid) for e in after} == {(65534, 65534)}
    assert {e.tid for e in after} == child
    (exit,) = [e for e in mine if e.type == EXIT]
    if cgroup_id is not None:
        # cgroup v2: a cgroup's id is its directory's inode number.
        assert exit.cgroup_id == cgroup_id
    assert {e.cgroup_id for e in mine if e.type != EXIT} == {0}  # a process fact only
    assert stats["decode_errors"] == 0


def test_full_ring_buffer_counts_losses_and_recovers() -> None:
    """A reader that stops reading loses events, counted as ringbuf_full; once it reads
    again, new events come through (the kernel stops dropping unbuilt events)."""
    if os.geteuid() != 0:
        pytest.skip("needs root and eBPF (bcc, kernel headers, tracefs)")
    from sensor.capture import Capture, CaptureError

    try:
        cap = Capture({"openat"}, ringbuf_pages=16)  # 64 KiB: ~500 open events
    except CaptureError as e:
        pytest.skip(f"needs root and eBPF: {e}")
    flood = "import os\nfor _ in range(20000): os.close(os.open('/etc/hostname', 0))"
    with cap:
        subprocess.run([sys.executable, "-c", flood], check=True, timeout=60)
        assert cap.stats()["ringbuf_full"] > 0
        for _ in range(50):
            if not cap.poll(0):
                break
        marker = "/etc/lanner-recovered-probe"
        subprocess.run(
            [sys.executable, "-c", f"import os\ntry: os.open({marker!r}, 0)\nexcept OSError: pass"],
            check=True, timeout=60,
        )  # fmt: skip
        seen = False
        for _ in range(30):
            if any(e.args.get("name") == marker for e in cap.poll(100)):
                seen = True
                break
    assert seen, "no event came through after the ring buffer had been full"


# --- what a user sees when the machine is not ready (no root needed) ---------------------


@pytest.fixture
def ready(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Pretend to be root with a tracefs; each test then breaks one thing."""
    import sensor.capture as capmod

    (tmp_path / "events").mkdir()
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(capmod, "_TRACEFS", (tmp_path,))
    # Every capability, whatever this process really holds.
    status = tmp_path / "status"
    status.write_text(FULL_STATUS)
    monkeypatch.setattr(capmod, "_PROC_STATUS", status)
    monkeypatch.setattr(capmod, "_CAP_LAST_CAP", tmp_path / "no-cap_last_cap")
    return capmod


FULL_STATUS = "Name:\tpython3\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\n"
# CAP_BPF is bit 39, CAP_PERFMON 38, CAP_SYS_ADMIN 21.
NO_BPF_NOR_PERFMON = FULL_STATUS.replace("CapEff:\t000001ffffffffff", "CapEff:\t0000013fffdfffff")
ONLY_SYS_ADMIN = FULL_STATUS.replace("CapEff:\t000001ffffffffff", "CapEff:\t0000000000200000")
ONLY_BPF = FULL_STATUS.replace("CapEff:\t000001ffffffffff", "CapEff:\t0000008000000000")


def test_missing_capabilities_read_from_cap_eff() -> None:
    from sensor.capture import missing_capabilities

    assert missing_capabilities(FULL_STATUS) == []
    assert missing_capabilities(NO_BPF_NOR_PERFMON) == ["CAP_BPF", "CAP_PERFMON"]
    assert missing_capabilities(ONLY_BPF) == ["CAP_PERFMON"]
    assert missing_capabilities(ONLY_SYS_ADMIN) == []  # the pre-5.8 way, still enough
    # A kernel before CAP_BPF (cap_last_cap 37: 5.4) needs CAP_SYS_ADMIN.
    assert missing_capabilities(ONLY_BPF, last_cap=37) == ["CAP_SYS_ADMIN"]
    assert missing_capabilities(FULL_STATUS, last_cap=37) == []
    # No CapEff to read: nothing to say, bcc's own error follows.
    assert missing_capabilities("Name:\tx\n") == []


def test_error_names_the_missing_capabilities(
    ready: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    status = tmp_path / "dropped"
    status.write_text(NO_BPF_NOR_PERFMON)
    monkeypatch.setattr(ready, "_PROC_STATUS", status)
    with pytest.raises(ready.CaptureError) as err:
        ready.Capture({"openat"})
    assert str(err.value).startswith(
        "loading eBPF programs needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN); "
        "this process lacks CAP_BPF and CAP_PERFMON: add them to the container's "
        "securityContext.capabilities.add"
    )
    assert "kernel headers" not in str(err.value)


@pytest.mark.parametrize(
    ("dropped", "named"),
    [
        ("bpf,perfmon", "lacks CAP_BPF and CAP_PERFMON"),
        ("perfmon", "lacks CAP_PERFMON"),
        ("bpf", "lacks CAP_BPF"),
    ],
)
def test_sensor_without_capabilities_says_which_one_is_missing(
    tmp_path: Path, dropped: str, named: str
) -> None:
    """The real thing: the CLI started with capabilities dropped from its bounding set
    (CAP_SYS_ADMIN too, which would stand in for both)."""
    if os.geteuid() != 0:
        pytest.skip("needs root and eBPF to drop capabilities from a privileged sensor")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("needs setpriv (util-linux) to start the eBPF sensor without capabilities")
    drop = ",".join(f"-{c}" for c in ["sys_admin", *dropped.split(",")])
    proc = subprocess.run(
        [setpriv, "--bounding-set", drop, "--inh-caps", "-all", "--",
         sys.executable, "-m", "cli.main", "sensor", "--duration", "1",
         "--heartbeat", str(tmp_path / "heartbeat")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("lanner sensor: loading eBPF programs needs CAP_BPF and CAP_PERFMON")
    assert f"{named}:" in last
    assert "Traceback" not in proc.stderr and "kernel headers" not in proc.stderr


def test_error_when_not_root(ready: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(ready.CaptureError, match="needs root"):
        ready.Capture({"openat"})


def test_error_when_tracefs_missing(ready: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ready, "_TRACEFS", (Path("/nonexistent/tracing"),))
    with pytest.raises(ready.CaptureError, match="mount -t tracefs nodev /sys/kernel/tracing"):
        ready.Capture({"openat"})


def test_error_when_bcc_missing(ready: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "bcc", None)  # makes `import bcc` fail
    monkeypatch.setattr(ready, "_DIST_PACKAGES", "/nonexistent/dist-packages")
    with pytest.raises(
        ready.CaptureError, match="apt-get install python3-bpfcc linux-headers-amd64"
    ):
        ready.Capture({"openat"})


def test_error_when_kernel_headers_missing(
    ready: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import sensor.headers

    monkeypatch.setitem(sys.modules, "bcc", types.ModuleType("bcc"))
    monkeypatch.setattr(platform, "release", lambda: "0.0-lanner-test")
    # No header package and no kheaders either (sensor/headers.py looks there next).
    monkeypatch.setattr(sensor.headers, "USR_SRC", tmp_path / "usr-src")
    monkeypatch.setattr(sensor.headers, "KHEADERS", tmp_path / "kheaders.tar.xz")
    monkeypatch.delenv("LANNER_KERNEL_HEADERS", raising=False)
    monkeypatch.delenv("BCC_KERNEL_SOURCE", raising=False)
    with pytest.raises(ready.CaptureError) as err:
        ready.Capture({"openat"})
    assert "/lib/modules/0.0-lanner-test/build" in str(err.value)
    assert "apt-get install linux-headers-amd64" in str(err.value)


def test_interest_flags_match_the_c_header() -> None:
    """capture.py writes the interest and cpu_state maps with its own copies of these."""
    import sensor.capture as capmod

    text = (Path(__file__).resolve().parents[2] / "bpf" / "events.h").read_text()
    defines = {
        m[1]: int(m[2], 0)
        for m in re.finditer(r"^#define (\w+) (0x[0-9a-fA-F]+|\d+)\b", text, re.M)
    }
    names = ["SC_TP", "SC_EMIT", "SC_EARLY", "SC_OK_ONLY", "SC_FIXED"]
    names += ["EMIT_IF_MAX", "EXCL_INLINE", "EXCL_HASH"]
    assert {n: getattr(capmod, "_" + n) for n in names} == {n: defines[n] for n in names}


def test_ring_buffer_size_must_be_a_power_of_two() -> None:
    from sensor.capture import Capture

    with pytest.raises(ValueError, match="power of two"):
        Capture({"openat"}, ringbuf_pages=100)
