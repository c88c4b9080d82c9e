"""One row per syscall (sensor/syscalls.py) feeds decoding, enrichment and the capture set.

What a user relies on: every field a sensor document carries is one rules can name
(``lanner fields --source syscall``), every syscall the sensor knows is one rules can
write in ``evt.type``, and each event's ``evt.arg`` names are the documented ones.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from fakeproc import DOCKER_ID, make_tree

from lanner.sources.syscall import SYSCALL_EVENT_TYPES, syscall_source
from sensor import flags as F
from sensor import run
from sensor.capture import supported_event_types, syscall_number_defines
from sensor.decode import EVENT_SPECS, SYSCALL_NUMBERS
from sensor.enrich import _HANDLER_FUNCS, Enricher
from sensor.events import EXEC, EXIT, FORK, RawEvent
from sensor.k8smeta import ContainerMeta
from sensor.syscalls import SYSCALLS, Syscall

ROOT = Path(__file__).resolve().parents[2]

# --- the rows themselves ---------------------------------------------------------------


def test_every_row_is_a_syscall_the_rules_know() -> None:
    names = [s.name for s in SYSCALLS]
    assert len(names) == len(set(names))
    assert [n for n in names if n not in SYSCALL_EVENT_TYPES] == []
    assert {s.handler for s in SYSCALLS} <= _HANDLER_FUNCS.keys()
    numbers = [s.nr for s in SYSCALLS]
    assert len(numbers) == len(set(numbers))


def test_row_numbers_are_the_kernels() -> None:
    unistd = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
    if not unistd.exists():
        pytest.skip("no x86_64 asm/unistd_64.h to compare with (install linux-libc-dev)")
    nr = {m[1]: int(m[2]) for m in re.finditer(r"#define __NR_(\w+) (\d+)", unistd.read_text())}
    assert {s.name: nr[s.name] for s in SYSCALLS} == {s.name: s.nr for s in SYSCALLS}


# --- tables derived from them -------------------------------------------------------------


def test_decoders_capture_and_state_come_from_the_rows() -> None:
    captured = {s.name for s in SYSCALLS if s.wire is not None}
    assert {s.name: s.nr for s in SYSCALLS if s.wire is not None} == SYSCALL_NUMBERS
    assert set(EVENT_SPECS) == captured | {FORK, EXEC, EXIT}
    assert supported_event_types() == captured | {FORK, EXEC, EXIT}
    for s in SYSCALLS:
        if s.wire is not None:
            assert [(p.idx, p.name) for p in EVENT_SPECS[s.name].params] == [
                (w.idx, w.name) for w in s.wire
            ]
    assert {s.name for s in SYSCALLS if s.state} | {FORK, EXEC} == run.STATE_EVENT_TYPES
    assert "memfd_create" in run.STATE_EVENT_TYPES


def test_the_bpf_program_gets_its_syscall_numbers_from_the_rows() -> None:
    source = (ROOT / "bpf" / "sensor.bpf.c").read_text()
    used = set(re.findall(r"\bLANNER_NR_([A-Z0-9_]+)\b", source))
    assert not re.search(r"#define (LANNER_)?NR_", source)  # no second copy of the numbers
    defines = dict(d.removeprefix("-DLANNER_NR_").split("=") for d in syscall_number_defines())
    assert used and used <= defines.keys()
    assert {name: int(defines[name.upper()]) for name in ("execve", "clone3")} == {
        "execve": 59,
        "clone3": 435,
    }


def test_a_new_row_is_all_a_new_syscall_needs() -> None:
    # A fresh interpreter, so that the tables are built from the extended rows at import.
    code = textwrap.dedent(
        """
        import struct
        from sensor import syscalls as S
        S.SYSCALLS = S.SYSCALLS + (
            S.Syscall("fchown", 93, "generic", "res fd uid gid",
                      (S.WireArg(0, "fd"), S.WireArg(1, "uid", "uint"),
                       S.WireArg(2, "gid", "uint"))),
        )
        from sensor import decode as wire
        from sensor.capture import supported_event_types
        from sensor.enrich import _HANDLER_FUNCS, Enricher

        body = b"".join(
            struct.pack("<BBH", wire.K_INT, i, 8) + struct.pack("<Q", v)
            for i, v in ((0, 5), (1, 1000), (2, 1000))
        )
        head = wire.HEADER.pack(
            1, 0, 0, 93, wire.HEADER.size + len(body), 42, 42, 0, 0, 0, 3,
            wire.EVENT_VERSION, 0, b"chown".ljust(16, b"\\0"),
        )
        ev = wire.decode(head + body)
        assert "fchown" in supported_event_types()
        doc = Enricher("/nonexistent", hostname="h").handle(ev)
        print(doc["evt.type"], doc["evt.args"])
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "fchown res=0 fd=5 uid=1000 gid=1000"


# --- what enrichment writes ------------------------------------------------------------------

_INET = {"family": "inet", "addr": "10.0.0.9", "port": 443}
_TUPLE = {"family": "inet", "saddr": "10.0.0.2", "sport": 40000, "daddr": "10.0.0.9", "dport": 443}
# A value for each argument name the rows use (wire names and enrich-only params).
_VALUES: dict[str, Any] = {
    "argv": ["/bin/true", "-x"],
    "addr": _INET,
    "tuple": _TUPLE,
    "how": None,
    "flags": 0o100,
    "mode": 0o755,
    "resolve": 0,
    "dev": 2049,
    "ino": 1234,
    "domain": 2,
    "type": 1,
    "proto": 6,
    "request": 16,
    "length": 4096,
    "size": 64,
    "uid": 1000,
    "gid": 1000,
    "cmd": 5,
    "backlog": 16,
    "queuepct": 1,
    "queuelen": 1,
    "queuemax": 128,
    "pgid": 0,
    "fd1": 7,
    "fd2": 8,
}
_FDS = {"fd", "dirfd", "oldfd", "newfd", "sockfd", "linkdirfd", "olddir", "newdir"}


def _args(s: Syscall) -> dict[str, Any]:
    names = [w.name for w in s.wire] if s.wire is not None else s.params.split()
    args: dict[str, Any] = {}
    for name in names:
        if name in ("res", "..."):
            continue
        if name in _FDS or name.endswith("dirfd"):
            args[name] = 3 if name != "newfd" else 9
        elif name in _VALUES:
            if _VALUES[name] is not None:
                args[name] = _VALUES[name]
        elif name == "pid":
            args[name] = 600
        else:  # paths, names, targets
            args[name] = f"/tmp/{name}"
    if s.name == "openat2":
        args.update(flags=0o100, mode=0o644, resolve=0)
    if s.handler == "open":
        args["created"] = True  # what a producer that knows it says (evt.is_open_create)
    return args


def _documents(tmp_path: Path) -> list[dict[str, Any]]:
    """A document for every row, from a host process and a pod's container, with the
    kubelet's metadata and the lifecycle events before them."""
    root = make_tree(tmp_path)
    meta = ContainerMeta(
        name="app",
        image="registry/app:1.2",
        image_repository="registry/app",
        image_tag="1.2",
        image_digest="sha256:00",
        image_id="sha256:11",
        pod_name="app-0",
        pod_namespace="prod",
        pod_uid="6a1c0e2d-93b4-4c1d-8f2e-1b2c3d4e5f60",
        pod_labels={"app": "web"},
    )
    e = Enricher(
        str(root),
        hostname="node-1",
        passwd_path=str(tmp_path / "passwd"),
        group_path=str(tmp_path / "group"),
        metadata=lambda full_id: meta if full_id == DOCKER_ID else None,
    )
    docs: list[dict[str, Any]] = []
    ts = 1_700_000_000_000_000_000
    for pid in (600, 700):
        for s in SYSCALLS:
            for res in (3, -2):
                ts += 1000
                if s.handler == "exec":
                    child = pid + 1
                    assert e.handle(RawEvent(ts, FORK, pid, pid, args={"child_pid": child})) is None
                    assert (
                        e.handle(RawEvent(ts, EXEC, child, child, args={"filename": "/x"})) is None
                    )
                    ev = RawEvent(
                        ts, s.name, child, child, 0, 0, "x", res if res < 0 else 0, _args(s)
                    )
                else:
                    ev = RawEvent(ts, s.name, pid, pid, 1000, 1000, "bash", res, _args(s))
                doc = e.handle(ev)
                assert doc is not None, s.name
                docs.append(doc)
        assert e.handle(RawEvent(ts, EXIT, pid + 1, pid + 1)) is None
    return docs


def test_every_field_enrichment_writes_is_a_declared_syscall_field(tmp_path: Path) -> None:
    fields = syscall_source().fields
    written = {key for doc in _documents(tmp_path) for key in doc}
    assert {"proc.aname", "fd.sport", "k8s.pod.label", "container.image.tag"} <= written
    assert sorted(k for k in written if k not in fields) == []


def test_each_event_carries_its_rows_parameters_in_order(tmp_path: Path) -> None:
    rows = {s.name: s.params.split() for s in SYSCALLS}
    for doc in _documents(tmp_path):
        declared = rows[doc["evt.type"]]
        names = list(doc["evt.arg"])
        if declared[-1] == "...":
            assert names[: len(declared) - 1] == declared[:-1], doc["evt.type"]
            continue
        assert [n for n in names if n not in declared] == [], doc["evt.type"]
        assert names == [n for n in declared if n in names], doc["evt.type"]


def test_the_kernel_drops_only_fcntl_commands_that_change_no_fd() -> None:
    """fcntl's ``emit_if``: what the kernel filters out must be what enrichment ignores,
    or the fd table would miss a duplicate (and a redirect rule its alert)."""
    (row,) = [s for s in SYSCALLS if s.name == "fcntl"]
    assert row.emit_if is not None and row.wire is not None
    idx, emitted = row.emit_if
    assert [w.name for w in row.wire if w.idx == idx] == ["cmd"]
    made_fd = set()
    # Every command Falco names (F_GETFL, F_SETLK, F_SETPIPE_SZ...) and one it does not.
    for cmd in (*F._FCNTL_LINUX_TO_PPM, 1033):
        e = Enricher("/nonexistent", hostname="h")
        e.handle(RawEvent(1, "socket", 42, 42, res=3, args={"domain": 2, "type": 1}))
        doc = e.handle(RawEvent(2, "fcntl", 42, 42, res=7, args={"fd": 3, "cmd": cmd}))
        assert doc is not None and doc["evt.arg"]["cmd"] != str(F.fcntl_cmd_to_ppm(cmd))
        if "7" in doc["fd.types"]:
            made_fd.add(cmd)
    assert made_fd == set(emitted) == {F.F_DUPFD, F.F_DUPFD_CLOEXEC}
