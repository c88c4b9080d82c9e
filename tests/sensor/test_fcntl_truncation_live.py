"""fcntl(F_DUPFD) redirects and cut command lines on the real kernel, with our bundled rules.

- A process that closes stdin and fcntl(sock, F_DUPFD, 0)'s a connected TCP socket onto
  it raises "Standard Stream Redirected To Network Socket", as dup2 does; a storm of
  F_GETFL on the same socket (each answering O_RDWR, 2) raises nothing and is not even
  emitted: the kernel side passes fcntl on by command (the row's ``emit_if``).
- Command lines past the capture limits (``bpf/events.h``) are flagged
  (``proc.is_args_truncated``) and a shell so started raises "Shell Or Network Tool Run
  With Truncated Command Line"; a normal command, and one padded past the old 1 KiB limit
  but within the new ones, is not flagged, and its /dev/tcp is seen by the rule that
  reads it.

Needs root and eBPF; skipped otherwise (CI's LANNER_REQUIRE_BPF=1 makes that a failure).
Traffic stays on loopback.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from workloads import BUNDLED_RULES, LiveSensor, Seen, by_pid, live_sensor

ROOT = Path(__file__).resolve().parents[2]
REDIRECT = "Standard Stream Redirected To Network Socket"
TRUNCATED = "Shell Or Network Tool Run With Truncated Command Line"
DEV_TCP = "Shell Command Uses Dev TCP"


def _limit(name: str) -> int:
    m = re.search(rf"#define {name} (\d+)", (ROOT / "bpf" / "events.h").read_text())
    assert m, name
    return int(m.group(1))


ELEM_MAX = _limit("ARGV_ELEM_MAX")  # bytes of one argument, its NUL included
MAX_ARGS = _limit("ARGV_MAX_ARGS")

pytestmark = pytest.mark.skipif(not BUNDLED_RULES.exists(), reason="no rules/syscall_rules.yaml")


@pytest.fixture(scope="module")
def sensor() -> Iterator[LiveSensor]:
    with live_sensor(keep_docs=True) as live:
        yield live


def _bundled(sensor: LiveSensor, since: int, pid: int, rule: str | None = None) -> list[Seen]:
    return [
        s
        for s in sensor.alerts[since:]
        if s.ruleset == "bundled" and s.doc.get("proc.pid") == pid and rule in (None, s.rule)
    ]


def _docs_of(sensor: LiveSensor, pid: int, etype: str) -> list[dict[str, Any]]:
    return [d for d in sensor.docs if d.get("proc.pid") == pid and d.get("evt.type") == etype]


def test_the_raised_limits_load_in_the_preferred_mode(sensor: LiveSensor) -> None:
    # A program the verifier refuses makes capture fall back to a costlier stash without a
    # word; with the kernel's BTF present the exit programs must read the registers.
    if Path("/sys/kernel/btf/vmlinux").exists():
        assert sensor.capture.stash_kind == "regs"


# --- fcntl(F_DUPFD) ------------------------------------------------------------------------

FCNTL_DUP_STDIN = r"""
import fcntl, os, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
os.close(0)
assert fcntl.fcntl(s.fileno(), fcntl.F_DUPFD, 0) == 0
time.sleep(0.5)  # /proc still shows the fds if the ring buffer dropped the socket's events
"""

FCNTL_GETFL_STORM = r"""
import fcntl, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
for _ in range(int(sys.argv[2])):
    fcntl.fcntl(s.fileno(), fcntl.F_GETFL)
fcntl.fcntl(s.fileno(), fcntl.F_DUPFD, 100)  # one that is emitted: the sensor was watching
"""


def test_fcntl_dupfd_of_a_socket_onto_stdin_alerts(sensor: LiveSensor) -> None:
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        start = len(sensor.alerts)
        done = sensor.python(FCNTL_DUP_STDIN, str(port))
    seen = sensor.wait_for(REDIRECT, by_pid(done.pid), ruleset="bundled", since=start)
    doc = seen.doc
    assert doc["evt.type"] == "fcntl" and doc["evt.arg"]["cmd"] == "F_DUPFD"
    assert doc["evt.rawres"] == 0 and doc["fd.num"] != 0
    assert doc["fd.type"] == "ipv4" and doc["fd.l4proto"] == "tcp" and doc["fd.rport"] == port
    assert seen.fields["evt.type"] == "fcntl"
    assert str(seen.fields["fd.name"]).endswith(f"->127.0.0.1:{port}")


# --- cut command lines ---------------------------------------------------------------------


def _bash(sensor: LiveSensor, *args: str) -> tuple[int, int]:
    start = len(sensor.alerts)
    done = sensor.run(["/bin/bash", *args])
    sensor.drain()
    return start, done.pid


def _exec_doc(sensor: LiveSensor, pid: int) -> dict[str, Any]:
    docs = _docs_of(sensor, pid, "execve")
    assert docs, f"no execve seen for {pid}"
    return docs[-1]


def test_a_shell_padded_past_the_argument_limit_is_flagged_and_alerts(
    sensor: LiveSensor,
) -> None:
    # The reverse-shell text sits past ELEM_MAX bytes of blanks: rules see only "true".
    script = "true" + " " * ELEM_MAX + "/dev/tcp/127.0.0.1/9"
    start, pid = _bash(sensor, "-c", script)
    seen = sensor.wait_for(TRUNCATED, by_pid(pid), ruleset="bundled", since=start)
    doc = _exec_doc(sensor, pid)
    assert doc["proc.is_args_truncated"] is True
    assert doc["proc.args"] == ["-c", script[: ELEM_MAX - 1]]
    assert "/dev/tcp" not in str(doc["proc.cmdline"])
    assert seen.fields["proc.name"] == "bash"
    assert _bundled(sensor, start, pid, DEV_TCP) == []  # the evidence itself was cut


def test_a_shell_given_too_many_arguments_is_flagged_and_alerts(sensor: LiveSensor) -> None:
    # `sh -c 'eval "$N"' x 1 2 ... N`: the command to run is the last argument, cut off.
    n = MAX_ARGS + 10
    filler = [str(i) for i in range(1, n)]
    start, pid = _bash(sensor, "-c", f'eval "${{{n}}}"', "x", *filler, "true /dev/tcp/127.0.0.1/9")
    sensor.wait_for(TRUNCATED, by_pid(pid), ruleset="bundled", since=start)
    doc = _exec_doc(sensor, pid)
    assert doc["proc.is_args_truncated"] is True
    assert len(doc["proc.args"]) == MAX_ARGS - 1


def test_normal_and_long_but_whole_command_lines_are_not_flagged(sensor: LiveSensor) -> None:
    # Whole: the /dev/tcp text is seen, by the rule that reads it, and nothing is flagged.
    for script in (
        "true /dev/tcp/127.0.0.1/9",
        # Past the former 1 KiB limit, within the new one: no longer cut.
        "true" + " " * 2000 + "/dev/tcp/127.0.0.1/9",
        # Exactly as long as one argument may be (its NUL makes ELEM_MAX): kept whole.
        "true /dev/tcp/127.0.0.1/9".ljust(ELEM_MAX - 1, "#"),
    ):
        start, pid = _bash(sensor, "-c", script)
        sensor.wait_for(DEV_TCP, by_pid(pid), ruleset="bundled", since=start)
        doc = _exec_doc(sensor, pid)
        assert doc["proc.is_args_truncated"] is False, len(script)
        assert doc["proc.args"] == ["-c", script]
        assert _bundled(sensor, start, pid, TRUNCATED) == []


# Last: a storm, should the kernel let it through, would flood the ring buffer.
def test_fcntl_getfl_storm_raises_nothing(sensor: LiveSensor) -> None:
    calls = 10_000
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        start = len(sensor.alerts)
        done = sensor.python(FCNTL_GETFL_STORM, str(srv.getsockname()[1]), str(calls))
    sensor.drain()
    # Each F_GETFL answers O_RDWR (2) on an ipv4 fd: only the command tells it from a dup.
    assert _bundled(sensor, start, done.pid, REDIRECT) == []
    cmds = [d["evt.arg"]["cmd"] for d in _docs_of(sensor, done.pid, "fcntl")]
    assert "F_DUPFD" in cmds
    getfl = [c for c in cmds if c == "F_GETFL"]
    # The kernel emits fcntl only for the commands that make an fd (the row's emit_if).
    assert getfl == [], f"{len(getfl)} of {calls} F_GETFL calls reached user space"
