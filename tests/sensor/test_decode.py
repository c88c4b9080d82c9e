"""The wire decoders, on ring-buffer bytes recorded from a live run and on hand-built ones.

No kernel, no bcc, no root: this is what runs everywhere.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensor import decode as wire
from sensor.decode import (
    EVENT_SPECS,
    HEADER,
    SYSCALL_NUMBERS,
    DecodeError,
    decode,
    decode_sockaddr,
)
from sensor.events import EXEC, EXIT, FORK

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data" / "ringbuf_records.json"


# --- the Python mirror of bpf/events.h ------------------------------------------------


def _header_defines() -> dict[str, int]:
    text = (ROOT / "bpf" / "events.h").read_text()
    return {
        m[1]: int(m[2], 0)
        for m in re.finditer(r"^#define (\w+) (0x[0-9a-fA-F]+|\d+)\b", text, re.M)
    }


def test_constants_match_the_c_header() -> None:
    defines = _header_defines()
    names = [n for n in dir(wire) if re.fullmatch(r"(EVT|K|F)_[A-Z_]+|EVENT_VERSION", n)]
    assert len(names) > 15
    for name in names:
        assert defines[name] == getattr(wire, name), name
    assert defines["D_NREASONS"] == len(wire.DROP_REASONS)
    assert defines["ARGV_MAX_ARGS"] == wire.ARGV_MAX_ARGS
    # struct event_hdr: 3 x u64, 6 x u32, 4 x u16, comm[16].
    assert HEADER.size == 3 * 8 + 6 * 4 + 4 * 2 + 16 == 72


def test_syscall_numbers_match_the_system_header() -> None:
    unistd = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
    if not unistd.exists():
        pytest.skip("no x86_64 asm/unistd_64.h to compare with (install linux-libc-dev)")
    nr = {m[1]: int(m[2]) for m in re.finditer(r"#define __NR_(\w+) (\d+)", unistd.read_text())}
    assert {name: nr[name] for name in SYSCALL_NUMBERS} == SYSCALL_NUMBERS


def test_brief_syscalls_and_lifecycle_events_are_supported() -> None:
    from sensor.capture import supported_event_types

    wanted = [
        "execve",
        "execveat",
        "open",
        "openat",
        "openat2",
        "connect",
        "sendto",
        "sendmsg",
        "socket",
        "dup",
        "dup2",
        "dup3",
        "ptrace",
        "symlink",
        "symlinkat",
        "link",
        "linkat",
        "init_module",
        "finit_module",
        "accept",
        "accept4",
        "chmod",
        "fchmod",
        "fchmodat",
        "rename",
        "renameat",
        "renameat2",
        "unlink",
        "unlinkat",
        "setuid",
        "setgid",
        "bpf",
        "memfd_create",
        "mkdir",
        "mkdirat",
        "close",
    ]
    assert set(wanted) | {FORK, EXEC, EXIT} <= supported_event_types()
    for spec in EVENT_SPECS.values():
        assert all(0 <= p.idx < 6 for p in spec.params), spec.name
        assert len({p.idx for p in spec.params}) == len(spec.params), spec.name


def test_capture_module_imports_without_bcc() -> None:
    code = "import sys, sensor.capture; assert 'bcc' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


# --- recorded bytes ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    data = json.loads(DATA.read_text())
    data["events"] = [decode(bytes.fromhex(r["hex"])) for r in data["records"]]
    return data


def _one(rec: dict[str, Any], type_: str, **args: Any) -> Any:
    hits = [
        e
        for e in rec["events"]
        if e.type == type_ and all(e.args.get(k) == v for k, v in args.items())
    ]
    assert len(hits) == 1, (type_, args, hits)
    return hits[0]


def test_recorded_types_match_their_labels(recorded: dict[str, Any]) -> None:
    assert [e.type for e in recorded["events"]] == [r["type"] for r in recorded["records"]]
    assert all(e.ts_ns > 0 and e.cgroup_id > 0 for e in recorded["events"])


def test_recorded_opens(recorded: dict[str, Any]) -> None:
    tmp, child = recorded["tmp"], recorded["child_pid"]
    ok = _one(recorded, "openat", name="/etc/hostname")
    assert (ok.pid, ok.tid, ok.res, ok.comm) == (child, child, 3, "python")
    assert ok.args == {"dirfd": -100, "name": "/etc/hostname", "flags": 0o2000000, "mode": 0}
    missing = _one(recorded, "openat", name=f"{tmp}/missing")
    assert missing.res == -2  # -ENOENT
    created = _one(recorded, "openat", name=f"{tmp}/f")
    assert created.args["flags"] == 0o2000000 | 0o100 | 0o1  # O_CLOEXEC|O_CREAT|O_WRONLY
    assert created.args["mode"] == 0o640


def test_recorded_execve_and_lifecycle(recorded: dict[str, Any]) -> None:
    pid = recorded["workload"]["true_pid"]
    ev = _one(recorded, "execve", filename="/bin/true")
    assert (ev.pid, ev.res, ev.comm, ev.uid) == (pid, 0, "true", 0)
    assert ev.args["argv"] == ["/bin/true", "--lanner-probe", "two words"]
    assert ev.truncated == ()
    fork = _one(recorded, FORK, child_pid=pid)
    assert fork.pid == recorded["child_pid"] and fork.args["child_tid"] == pid
    assert fork.res is None
    exe = _one(recorded, EXEC, filename="/bin/true")
    assert (exe.pid, exe.args["old_pid"], exe.res) == (pid, pid, None)
    exit_ = [e for e in recorded["events"] if e.type == EXIT and e.pid == pid]
    assert [e.args for e in exit_] == [{"group_dead": True}]


def test_recorded_long_argv_is_cut_and_flagged(recorded: dict[str, Any]) -> None:
    # The workload's own execve: `python -c <script>` with a script over ARGV_ELEM_MAX.
    ev = [e for e in recorded["events"] if e.type == "execve" and e.pid == recorded["child_pid"]]
    (ev,) = ev
    argv = ev.args["argv"]
    assert argv[1] == "-c" and argv[-1] == recorded["tmp"]
    assert len(argv[2]) == 1023 and argv[2].startswith("\nimport ctypes")
    assert ev.truncated == ("argv",)


def test_recorded_socket_addresses(recorded: dict[str, Any]) -> None:
    w = recorded["workload"]
    conn = _one(
        recorded, "connect", addr={"family": "inet", "addr": "127.0.0.1", "port": w["port"]}
    )
    assert conn.res == 0 and conn.args["fd"] == 4
    acc = _one(recorded, "accept4")
    assert acc.args["addr"] == {"family": "inet", "addr": "127.0.0.1", "port": w["client_port"]}
    assert acc.res == 5 and acc.args["flags"] == 0o2000000  # SOCK_CLOEXEC
    six = _one(recorded, "sendto")
    assert six.args == {"fd": 6, "size": 1, "addr": {"family": "inet6", "addr": "::1", "port": 9}}
    _one(recorded, "connect", addr={"family": "unix", "path": w["unix_path"]})
    packet = _one(recorded, "socket", domain=socket.AF_PACKET)
    assert packet.args["type"] & 0xF == socket.SOCK_RAW


def test_recorded_links_ptrace_memfd_module(recorded: dict[str, Any]) -> None:
    tmp = recorded["tmp"]
    assert _one(recorded, "symlink").args == {"target": "/etc/hostname", "linkpath": f"{tmp}/sl"}
    assert _one(recorded, "link").args == {"oldpath": f"{tmp}/f", "newpath": f"{tmp}/hl"}
    pt = _one(recorded, "ptrace")
    assert (pt.args, pt.res) == ({"request": 0, "pid": 0}, 0)
    assert _one(recorded, "memfd_create").args == {"name": "lanner-probe", "flags": 1}
    mod = _one(recorded, "init_module")
    assert mod.res == -38  # -ENOSYS: the recording kernel has no module support


# --- hand-built bytes -------------------------------------------------------------------


def _rec(kind: int, idx: int, data: bytes) -> bytes:
    return struct.pack("<BBH", kind, idx, len(data)) + data


def _int(idx: int, v: int) -> bytes:
    return _rec(wire.K_INT, idx, struct.pack("<Q", v & (2**64 - 1)))


def _str(idx: int, s: str) -> bytes:
    return _rec(wire.K_STR, idx, s.encode() + b"\0")


def _event(
    name: str,
    *records: bytes,
    res: int = 0,
    flags: int = 0,
    version: int = wire.EVENT_VERSION,
    pid: int = 4242,
) -> bytes:
    body = b"".join(records)
    type_id = EVENT_SPECS[name].type_id
    head = HEADER.pack(
        1_000, 77, res, type_id, HEADER.size + len(body), pid, pid + 1, 1000, 1000,
        flags, len(records), version, 0, b"curl\0".ljust(16, b"\0"),
    )  # fmt: skip
    return head + body


def test_header_fields() -> None:
    ev = decode(_event("openat", _int(0, -100), _str(1, "/etc/shadow"), _int(2, 0), res=-13))
    assert (ev.type, ev.pid, ev.tid, ev.uid, ev.gid, ev.comm) == (
        "openat",
        4242,
        4243,
        1000,
        1000,
        "curl",
    )
    assert (ev.res, ev.cgroup_id, ev.ts_ns) == (-13, 77, 1_000)
    assert ev.args == {"dirfd": -100, "name": "/etc/shadow", "flags": 0}


def test_clock_offset_is_added() -> None:
    ev = decode(_event("close", _int(0, 3)), clock_offset_ns=1_700_000_000_000_000_000)
    assert ev.ts_ns == 1_700_000_000_000_001_000


def test_truncated_path_is_kept_and_named() -> None:
    long = "/a" * 2047  # 4094 characters: what STR_MAX leaves of a longer path
    ev = decode(_event("symlink", _str(0, long), _str(1, "/tmp/x"), flags=1 << 0))
    assert ev.args["target"] == long and ev.truncated == ("target",)


def test_argv_count_limit_is_flagged() -> None:
    argv = [_rec(wire.K_ARGV, 1, f"a{i}".encode() + b"\0") for i in range(32)]
    ev = decode(_event("execve", _str(0, "/bin/sh"), *argv, flags=wire.F_ARGV_COUNT))
    assert ev.args["argv"] == [f"a{i}" for i in range(32)]
    assert ev.truncated == ("argv",)


def test_execve_with_no_readable_argv_gives_empty_list() -> None:
    ev = decode(_event("execve", _str(0, "/bin/sh"), flags=wire.F_READ_FAILED, res=-14))
    assert ev.args == {"filename": "/bin/sh", "argv": []} and ev.res == -14


def test_argv_taken_at_exec_replaces_the_enter_read() -> None:
    # The enter read argv[0] and failed on argv[1] (a fresh fork child's unmapped page);
    # the exec then sent the whole argument block (bpf/exec.h).
    block = _rec(wire.K_ARGV_BLOCK, 1, b"sh\0-c\0: marker\0")
    partial = _rec(wire.K_ARGV, 1, b"sh\0")
    ev = decode(_event("execve", _str(0, "/bin/sh"), partial, block, flags=wire.F_READ_FAILED))
    assert ev.args == {"filename": "/bin/sh", "argv": ["sh", "-c", ": marker"]}
    assert ev.truncated == ()
    # execveat's argv is its argument 2; a block cut at its byte limit ends mid-string.
    ev = decode(
        _event("execveat", _int(0, 3), _str(1, ""), _rec(wire.K_ARGV_BLOCK, 2, b"x\0yy"),
               flags=wire.F_ARGV_BYTES)
    )  # fmt: skip
    assert ev.args["argv"] == ["x", "yy"] and ev.truncated == ("argv",)


def test_argv_taken_at_exec_keeps_the_count_limit() -> None:
    many = b"".join(b"a%d\0" % i for i in range(wire.ARGV_MAX_ARGS + 5))
    ev = decode(_event("execve", _str(0, "/bin/echo"), _rec(wire.K_ARGV_BLOCK, 1, many)))
    assert ev.args["argv"] == [f"a{i}" for i in range(wire.ARGV_MAX_ARGS)]
    assert ev.truncated == ("argv",)


def _sockaddr_in6(addr: str, port: int) -> bytes:
    return struct.pack("<H", 10) + struct.pack(">HI", port, 0) + socket.inet_pton(
        socket.AF_INET6, addr
    ) + struct.pack("<I", 0)  # fmt: skip


def test_connect_inet6_with_negative_res() -> None:
    sa = _rec(wire.K_SOCKADDR, 1, _sockaddr_in6("2001:db8::1", 443))
    ev = decode(_event("connect", _int(0, 5), sa, res=-111))
    assert ev.res == -111  # -ECONNREFUSED
    assert ev.args == {"fd": 5, "addr": {"family": "inet6", "addr": "2001:db8::1", "port": 443}}


def test_sockaddr_forms() -> None:
    v4 = struct.pack("<H", 2) + struct.pack(">H", 22) + bytes([10, 0, 0, 1]) + bytes(8)
    assert decode_sockaddr(v4) == {"family": "inet", "addr": "10.0.0.1", "port": 22}
    mapped = _sockaddr_in6("::ffff:192.0.2.7", 80)
    assert decode_sockaddr(mapped) == {"family": "inet6", "addr": "::ffff:c000:207", "port": 80}
    path = struct.pack("<H", 1) + b"/run/docker.sock\0garbage"
    assert decode_sockaddr(path) == {"family": "unix", "path": "/run/docker.sock"}
    abstract = struct.pack("<H", 1) + b"\0dbus-xyz"
    assert decode_sockaddr(abstract) == {"family": "unix", "path": "@dbus-xyz"}
    assert decode_sockaddr(struct.pack("<H", 17) + bytes(18)) == {"family": "packet"}
    assert decode_sockaddr(struct.pack("<H", 38) + bytes(14)) == {"family": "38"}
    assert decode_sockaddr(b"") == {"family": "unspec"}


def test_sendmsg_without_address_has_no_addr() -> None:
    ev = decode(_event("sendmsg", _int(0, 7), _int(2, 0x40), res=12))
    assert ev.args == {"fd": 7, "flags": 0x40}


def test_openat2_how_expands_to_flags_mode_resolve() -> None:
    how = _rec(wire.K_UBYTES, 2, struct.pack("<QQQ", 0o101, 0o600, 0x08))
    ev = decode(_event("openat2", _int(0, 3), _str(1, "x"), how, res=4))
    assert ev.args == {"dirfd": 3, "name": "x", "flags": 0o101, "mode": 0o600, "resolve": 8}


def test_sched_events_have_no_res() -> None:
    sched_int = _rec(wire.K_SCHED_INT, 0, struct.pack("<Q", 99)) + _rec(
        wire.K_SCHED_INT, 1, struct.pack("<Q", 100)
    )
    body = sched_int
    head = HEADER.pack(
        5, 1, 0, wire.EVT_SCHED_FORK, HEADER.size + len(body), 1, 1, 0, 0, 0, 2,
        wire.EVENT_VERSION, 0, b"bash".ljust(16, b"\0"),
    )  # fmt: skip
    ev = decode(head + body)
    assert (ev.type, ev.res, ev.args) == (FORK, None, {"child_pid": 99, "child_tid": 100})


def test_non_utf8_path_survives() -> None:
    raw = _rec(wire.K_STR, 0, b"/tmp/\xff\xfe\0")
    ev = decode(_event("unlink", raw))
    assert ev.args["path"].encode("utf-8", "surrogateescape") == b"/tmp/\xff\xfe"


@pytest.mark.parametrize(
    ("buf", "message"),
    [
        (b"\0" * 10, "shorter than"),
        (_event("close", _int(0, 1), version=99), "version 99"),
        (_event("close", _int(0, 1))[:-3], "header says"),
        (HEADER.pack(0, 0, 0, 499, HEADER.size, 1, 1, 0, 0, 0, 0, 1, 0, b""), "no decoder"),
    ],
)
def test_malformed_records_raise(buf: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        decode(buf)


def test_record_overrunning_the_event_raises() -> None:
    good = _event("close", _int(0, 1))
    head = HEADER.unpack_from(good)
    bad = HEADER.pack(*head[:10], 2, *head[11:]) + good[HEADER.size :]
    with pytest.raises(DecodeError, match="past the end"):
        decode(bad)


# --- the fast decoders against the general ones ----------------------------------------

# Kinds whose records a fast decoder reads: the others (argv, env, user structs) leave a
# type to the general decoder.
_FAST_KINDS = {
    wire.K_INT,
    wire.K_SCHED_INT,
    wire.K_STR,
    wire.K_SCHED_STR,
    wire.K_SOCKADDR,
    wire.K_SOCKADDR_OUT,
    wire.K_MSGNAME,
}
_LIST_KINDS = {"argv": wire.K_ARGV, "env": wire.K_ENV}
_SOCKADDR_KINDS = (wire.K_SOCKADDR, wire.K_SOCKADDR_OUT, wire.K_MSGNAME)


def _has_fast_decoder(spec: wire.EventSpec) -> bool:
    return all(p.kind in _FAST_KINDS and p.conv != "open_how" for p in spec.params)


_c_string = st.binary(max_size=40).map(lambda b: b.replace(b"\0", b"") + b"\0") | st.binary(
    max_size=40
)
_sockaddr = st.tuples(st.sampled_from([0, 1, 2, 10, 16, 17, 38]), st.binary(max_size=110)).map(
    lambda t: struct.pack("<H", t[0]) + t[1]
)


@st.composite
def _complete_records(draw: st.DrawFn) -> tuple[wire.EventSpec, bytes]:
    """A record of any event type laid out as the BPF side writes one with every argument
    read: records in argument order, an accept's peer address last."""
    spec = draw(st.sampled_from(sorted(EVENT_SPECS.values(), key=lambda s: s.type_id)))
    recs = []
    for p in sorted(spec.params, key=lambda p: (p.kind == wire.K_SOCKADDR_OUT, p.idx)):
        if p.conv in _LIST_KINDS:
            items = draw(st.lists(_c_string, max_size=4))
            recs += [_rec(_LIST_KINDS[p.conv], p.idx, b) for b in items]
        elif p.kind in (wire.K_STR, wire.K_SCHED_STR):
            recs.append(_rec(p.kind, p.idx, draw(_c_string)))
        elif p.kind in _SOCKADDR_KINDS:
            recs.append(_rec(wire.K_SOCKADDR, p.idx, draw(_sockaddr)))
        elif p.kind == wire.K_UBYTES:
            recs.append(_rec(p.kind, p.idx, draw(st.binary(min_size=1, max_size=64))))
        else:
            v = draw(st.integers(0, 2**64 - 1))
            recs.append(_rec(p.kind, p.idx, struct.pack("<Q", v)))
    body = b"".join(recs)
    u32 = st.integers(0, 2**32 - 1)
    head = HEADER.pack(
        draw(st.integers(0, 2**63)), draw(st.integers(0, 2**64 - 1)),
        draw(st.integers(-(2**63), 2**63 - 1)), spec.type_id, HEADER.size + len(body),
        draw(u32), draw(u32), draw(u32), draw(u32), draw(st.integers(0, 0xFFFF)), len(recs),
        wire.EVENT_VERSION, 0, draw(st.binary(min_size=16, max_size=16)),
    )  # fmt: skip
    return spec, head + body


def _outcome(fn: Any, buf: bytes) -> tuple[str, Any]:
    try:
        return "event", fn(buf, 1_000)
    except DecodeError as e:
        return "error", str(e)


@settings(max_examples=400, deadline=None)
@given(_complete_records())
def test_fast_decoders_agree_with_the_general_ones(made: tuple[wire.EventSpec, bytes]) -> None:
    spec, buf = made
    ev = decode(buf, 1_000)
    assert ev == wire.decode_general(buf, 1_000)
    assert list(ev.args) == list(wire.decode_general(buf, 1_000).args)  # same order too
    if _has_fast_decoder(spec):
        assert wire.decode_fast(buf, 1_000) == ev


@settings(max_examples=400, deadline=None)
@given(_complete_records(), st.data())
def test_damaged_records_decode_as_the_general_decoder_says(
    made: tuple[wire.EventSpec, bytes], data: st.DataObject
) -> None:
    _spec, buf = made
    b = bytearray(buf)
    how = data.draw(st.sampled_from(["byte", "cut", "grow"]))
    if how == "byte":
        at = data.draw(st.integers(0, len(b) - 1))
        b[at] = data.draw(st.integers(0, 255))
    elif how == "cut":
        del b[data.draw(st.integers(0, len(b) - 1)) :]
    else:
        b += data.draw(st.binary(min_size=1, max_size=16))
    damaged = bytes(b)
    assert _outcome(decode, damaged) == _outcome(wire.decode_general, damaged)


def test_recorded_events_take_the_fast_path(recorded: dict[str, Any]) -> None:
    raws = [bytes.fromhex(r["hex"]) for r in recorded["records"]]
    fast = {decode(r).type for r in raws if wire.decode_fast(r) is not None}
    # What the BPF side wrote for a real workload is the layout the fast decoders read.
    assert {"openat", "socket", "connect", "accept4", "sendto", "symlink", "link"} <= fast
    assert {"memfd_create", "ptrace", "init_module", FORK} <= fast
    assert [decode(r) for r in raws] == [wire.decode_general(r) for r in raws]


def test_records_in_another_order_take_the_general_path() -> None:
    recs = (_int(3, 0o600), _int(2, 0o101), _str(1, "/etc/shadow"), _int(0, 2**32 - 100))
    buf = _event("openat", *recs)
    assert wire.decode_fast(buf) is None
    ev = decode(buf)
    assert ev.args == {"mode": 0o600, "flags": 0o101, "name": "/etc/shadow", "dirfd": -100}
    assert ev == wire.decode_general(buf)
    # An argv record where the path was expected: not the planned layout either.
    odd = _event("openat", _int(0, 3), _rec(wire.K_ARGV, 1, b"x\0"), _int(2, 0), _int(3, 0))
    assert wire.decode_fast(odd) is None
    assert decode(odd).args == {"dirfd": 3, "flags": 0, "mode": 0}


def _ring_run(*records: bytes) -> tuple[bytes, list[tuple[int, int]]]:
    """Records as a ring-buffer read hands them over: 8-byte headers, padded to 8."""
    out, spans = b"", []
    for r in records:
        out += bytes(8)
        spans.append((len(out), len(out) + len(r)))
        out += r + bytes(-len(r) % 8)
    return out, spans


def test_decode_many_decodes_each_record_in_order_and_counts_the_bad() -> None:
    good = [
        _event("openat", _int(0, -100), _str(1, "/etc/hostname"), _int(2, 0), _int(3, 0), res=3),
        _event("close", _int(0, 3)),
        _event("execve", _str(0, "/bin/sh"), _rec(wire.K_ARGV, 1, b"sh\0")),
    ]
    bad = _event("close", _int(0, 1), version=99)
    blob, spans = _ring_run(good[0], bad, good[1], good[2])
    events, errors = wire.decode_many(blob, spans, 7)
    assert events == [decode(r, 7) for r in good]
    assert [e.type for e in events] == ["openat", "close", "execve"]
    assert errors == 1
