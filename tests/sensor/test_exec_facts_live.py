"""What a new program is comes from the kernel at exec: a program that exits at once keeps it.

Real eBPF on this kernel, as root. The sensor here enriches with an empty directory as its
/proc, so nothing it reports can have come from reading /proc after the fact: the exe path
and the memfd flag come from the exec tracepoint's file name and the fd table built from
the events (memfd_create), the tty and capabilities from the task at exec (offsets from
the kernel's BTF), the environment from the execve's own arguments. Every program below
exits at once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from workloads import (
    BUNDLED_RULES,
    UPSTREAM_RULES,
    Done,
    LiveSensor,
    Seen,
    by_pid,
    require_bpf,
    rulesets,
    unique,
)

# Only what these tests need: process lifecycle, exec and memfd_create. Other work on the
# machine (an open/close benchmark) then cannot fill the ring buffer and drop the events
# under test, which would make a test about facts a test about load.
TYPES = frozenset({"execve", "execveat", "exec", "fork", "memfd_create"})


@pytest.fixture(scope="module")
def sensor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSensor]:
    require_bpf()
    from sensor.btf import exec_fact_defines
    from sensor.capture import Capture, CaptureError
    from sensor.enrich import Enricher

    facts = exec_fact_defines()
    if facts.missing:
        pytest.skip(f"needs the kernel's BTF for task fields (eBPF): {facts.missing}")
    try:
        cap = Capture(TYPES, exclude_pids=(os.getpid(),), ringbuf_pages=2048)
    except CaptureError as e:
        pytest.skip(f"needs root and eBPF: {e}")
    # No /proc at all: what the documents hold came from the events.
    empty = tmp_path_factory.mktemp("no-proc")
    with cap:
        live = LiveSensor(cap, Enricher(proc_root=str(empty)), rulesets(), keep_docs=True)
        live.drain()
        yield live
    assert not any(empty.iterdir())


def run(live: LiveSensor, code: str, *args: str) -> Done:
    """Runs ``python -c code args`` followed from its first event (its pid is known
    before it runs anything: nothing needs /proc to find it)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    live.followed.add(proc.pid)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        live.pump(50)
    out, err = proc.communicate(timeout=5)
    assert proc.returncode == 0, err[-2000:]
    live.drain()
    return Done(proc.pid, proc.returncode, out, err)


def _exec_doc(live: LiveSensor, pid: int, since: int) -> dict[str, Any]:
    docs = [
        d
        for d in live.docs[since:]
        if d.get("proc.pid") == pid and d.get("evt.type") in ("execve", "execveat")
    ]
    assert docs, f"no exec document for pid {pid}; programs run: {live.execs[-6:]}"
    return docs[-1]


# memfd_create, a copy of /bin/true in it, and the copy run at once through the fd:
# fexecve (execveat(fd, "", AT_EMPTY_PATH)) or execve of /proc/self/fd/N.
MEMFD_EXEC = r"""
import os, sys
name, how = sys.argv[1], sys.argv[2]
fd = os.memfd_create(name, os.MFD_CLOEXEC if how == "fexecve" else 0)
with open("/bin/true", "rb") as f:
    os.write(fd, f.read())
if how == "fexecve":
    os.execve(fd, [name], {})
os.execve(f"/proc/self/fd/{fd}", [name], {})
"""


@pytest.mark.parametrize("how", ["fexecve", "proc-self-fd"])
def test_memfd_program_that_exits_at_once_alerts_every_time(sensor: LiveSensor, how: str) -> None:
    if not UPSTREAM_RULES.exists():
        pytest.skip(f"Falco's stable rules are not at {UPSTREAM_RULES} (shared corpus)")
    for _ in range(5):
        marker = unique("mfd")
        start, docs_start = len(sensor.alerts), len(sensor.docs)
        done = run(sensor, MEMFD_EXEC, marker, how)
        rulesets = ["stable", "bundled"] if BUNDLED_RULES.exists() else ["stable"]
        for ruleset in rulesets:
            rule = {
                "stable": "Fileless execution via memfd_create",
                "bundled": "Program Run From Memory File",
            }[ruleset]
            seen: Seen = sensor.wait_for(rule, by_pid(done.pid), ruleset=ruleset, since=start)
            assert seen.doc["proc.is_exe_from_memfd"] is True
            assert seen.doc["proc.exepath"] == f"memfd:{marker}"
        doc = _exec_doc(sensor, done.pid, docs_start)
        assert doc["evt.type"] == ("execveat" if how == "fexecve" else "execve")
        assert "EXE_FROM_MEMFD" in doc["evt.arg"]["flags"]


# A session on a new pty (its controlling terminal), then /bin/true run in it with an
# environment of the test's; prints the tty number /proc/<pid>/stat would show, then the pid.
PTY_EXEC = r"""
import fcntl, os, sys, termios
master, slave = os.openpty()
rdev = os.fstat(slave).st_rdev
major, minor = os.major(rdev), os.minor(rdev)
print((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12), flush=True)
pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.execve("/bin/true", ["true", sys.argv[1]], {"LANNER_MARK": sys.argv[1], "A": "1"})
os.waitpid(pid, 0)
print(pid, flush=True)
"""


def test_short_lived_program_keeps_tty_env_exepath_and_caps(sensor: LiveSensor) -> None:
    marker = unique("pty")
    docs_start = len(sensor.docs)
    done = run(sensor, PTY_EXEC, marker)
    tty, pid = (int(x) for x in done.stdout.split())
    doc = _exec_doc(sensor, pid, docs_start)
    assert doc["proc.name"] == "true" and doc["proc.cmdline"] == f"true {marker}"
    assert doc["proc.exepath"] == "/bin/true"
    assert tty != 0 and doc["proc.tty"] == tty
    assert doc["proc.env"] == [f"LANNER_MARK={marker}", "A=1"]
    assert f"LANNER_MARK={marker}" in doc["evt.arg"]["env"]
    # Root's program: the full capability set, from the task's credentials at exec.
    if os.geteuid() == 0:
        assert "CAP_SYS_ADMIN" in doc["thread.cap_effective"]


# A C parent that forks and, in each child, execs a shell with literal arguments: in a
# fresh fork child the pages of those literals are not mapped yet and the enter-time read
# of argv fails, so argv comes from the new program's argument block at exec (bpf/exec.h).
# Prints each child's pid.
FORK_EXECL_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    int n = atoi(argv[1]);
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0)
            return 1;
        if (pid == 0) {
            execl("/bin/sh", "sh", "-c", ": MARKER", (char *)0);
            _exit(127);
        }
        printf("%d\n", (int)pid);
        fflush(stdout);
        int status = 0;
        if (waitpid(pid, &status, 0) != pid || status != 0)
            return 1;
    }
    return 0;
}
"""


def _fork_execl(live: LiveSensor, tmp_path: Path, script: str, n: int) -> dict[int, Any]:
    """Compiles FORK_EXECL_C with ``script`` as the shell's -c literal, runs ``n`` children
    and returns each child's execve document by pid."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    (tmp_path / "forkexec.c").write_text(FORK_EXECL_C.replace(": MARKER", script))
    subprocess.run(
        ["gcc", "-O1", "-Wall", "-o", "forkexec", "forkexec.c"], cwd=tmp_path, check=True
    )
    docs_start = len(live.docs)
    proc = subprocess.Popen([tmp_path / "forkexec", str(n)], stdout=subprocess.PIPE, text=True)
    live.followed.add(proc.pid)
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        live.pump(50)
    out, _ = proc.communicate(timeout=5)
    assert proc.returncode == 0
    children = [int(x) for x in out.split()]
    assert len(children) == n
    live.drain()
    docs = {
        d["proc.pid"]: d
        for d in live.docs[docs_start:]
        if d.get("evt.type") == "execve" and d.get("proc.pid") in children
    }
    assert sorted(docs) == sorted(children), "an exec of a child was not seen"
    return docs


def test_fork_child_exec_keeps_argv(sensor: LiveSensor, tmp_path: Path) -> None:
    marker = unique("argv").replace("-", "_")
    docs = _fork_execl(sensor, tmp_path, f": {marker}", 100)
    lost = {
        pid: d.get("proc.cmdline")
        for pid, d in docs.items()
        if d.get("proc.cmdline") != f"sh -c : {marker}" or d["proc.is_args_truncated"]
    }
    assert not lost, f"{len(lost)} of {len(docs)} execs lost argv: {list(lost.items())[:5]}"


def test_fork_child_exec_argv_past_the_limit_is_flagged(sensor: LiveSensor, tmp_path: Path) -> None:
    marker = unique("argv").replace("-", "_")
    docs = _fork_execl(sensor, tmp_path, f": {marker} {'x' * 20000}", 5)
    for d in docs.values():
        assert d["proc.cmdline"].startswith(f"sh -c : {marker} xxx"), d["proc.cmdline"][:80]
        assert d["proc.is_args_truncated"] is True
