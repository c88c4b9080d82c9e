"""Where the exit program finds a syscall's arguments (real eBPF, as root).

With kernel BTF the sensor reads them from the task's saved registers at exit ("regs": no
enter program, no stash); without BTF it stashes them at enter in a hash. Both must give
the same events.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

if os.geteuid() != 0:
    pytest.skip("needs root and eBPF", allow_module_level=True)

from sensor import capture as capture_mod
from sensor.capture import Capture
from sensor.events import FORK, RawEvent

CHILD = r"""
import os, sys, threading
missing = sys.argv[1]
fd = os.open("/etc/hostname", os.O_RDONLY | os.O_CLOEXEC)
os.close(fd)
try:
    os.open(missing, os.O_RDONLY)
except FileNotFoundError:
    pass
out = {}
t = threading.Thread(target=lambda: out.update(tid=threading.get_native_id()))
t.start(); t.join()
print(fd, out["tid"])
"""


def _run(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, dict[str, int], list[RawEvent], int, int]:
    if kind == "hash":
        monkeypatch.setattr(capture_mod, "_BTF_VMLINUX", tmp_path / "no-btf")
    elif not Path("/sys/kernel/btf/vmlinux").exists():
        pytest.skip("no kernel BTF: the registers are not read")
    missing = str(tmp_path / "missing")
    with Capture({"openat", "close", FORK}, exclude_pids=[os.getpid()]) as cap:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, missing], check=True, capture_output=True, text=True
        )
        fd, tid = map(int, proc.stdout.split())
        events: list[RawEvent] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            got = cap.poll(100)
            events += got
            if not got and any(
                e.type == "openat" and e.args.get("name") == missing for e in events
            ):
                break
        return cap.stash_kind, cap.stats(), events, fd, tid


@pytest.mark.parametrize("kind", ["regs", "hash"])
def test_arguments_are_the_same_from_registers_and_from_the_stash(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stash_kind, stats, events, fd, tid = _run(kind, tmp_path, monkeypatch)
    assert stash_kind == kind
    missing = str(tmp_path / "missing")
    (op,) = [e for e in events if e.type == "openat" and e.args.get("name") == "/etc/hostname"
             and e.res == fd]  # fmt: skip
    assert op.args["dirfd"] == -100 and op.args["flags"] == os.O_RDONLY | os.O_CLOEXEC
    child = op.pid
    assert [e.args["fd"] for e in events if e.type == "close" and e.pid == child
            and e.args["fd"] == fd]  # fmt: skip
    (bad,) = [e for e in events if e.type == "openat" and e.args.get("name") == missing]
    assert bad.res == -errno.ENOENT and bad.pid == child
    # fork's thread test reads the clone flags (registers, or the clone stash).
    (th,) = [e for e in events if e.type == FORK and e.args["child_tid"] == tid]
    assert th.args["child_pid"] == child
    assert stats["no_enter"] == 0 and stats["stash_full"] == 0


def test_registers_mode_attaches_no_enter_program_but_execs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not Path("/sys/kernel/btf/vmlinux").exists():
        pytest.skip("no kernel BTF")
    with Capture({"openat", "close", "execve"}, exclude_pids=[os.getpid()]) as cap:
        assert cap.stash_kind == "regs"
        attached = {k.decode() if isinstance(k, bytes) else str(k)
                    for k in getattr(cap._bpf, "tracepoint_fds", {})}  # fmt: skip
    if not attached:
        pytest.skip("this bcc does not list its tracepoints")
    assert "syscalls:sys_exit_openat" in attached and "syscalls:sys_exit_close" in attached
    assert "syscalls:sys_enter_openat" not in attached
    assert "syscalls:sys_enter_close" not in attached
    assert "syscalls:sys_enter_execve" in attached  # argv is read before exec replaces it
