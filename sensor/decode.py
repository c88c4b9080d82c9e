"""Ring-buffer bytes to :class:`RawEvent`: the sensor's wire format, read without bcc.

The layout is ``bpf/events.h``: a 72-byte header, then argument records (a 4-byte
``kind, idx, len`` header and ``len`` bytes each). What the kernel side reads for each
syscall argument, and what the argument is called here, is one table, :data:`EVENT_SPECS`:
capture writes its ``kind``/``aux`` columns into the BPF interest map, and the decoder
built from the same row names and converts the records. A new syscall is a new row.

Nothing here touches the kernel, so the decoders are tested on recorded bytes.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sensor.events import EXEC, EXIT, FORK, RawEvent

__all__ = [
    "EVENT_SPECS",
    "EVENT_VERSION",
    "HEADER",
    "SYSCALL_NUMBERS",
    "DecodeError",
    "EventSpec",
    "Param",
    "decode",
    "decode_sockaddr",
    "register_decoder",
]

# --- mirrors of bpf/events.h (a test checks them against the header) ----------------

EVENT_VERSION = 1
EVT_SCHED_FORK = 500
EVT_SCHED_EXEC = 501
EVT_SCHED_EXIT = 502
EVT_MAX = 512

K_NONE = 0
K_INT = 1
K_STR = 2
K_SOCKADDR = 3
K_UBYTES = 4
K_MSGNAME = 5
K_ARGV = 6
K_SOCKADDR_OUT = 7
K_SCHED_STR = 8
K_SCHED_INT = 9

F_ARGV_COUNT = 0x100
F_ARGV_BYTES = 0x200
F_READ_FAILED = 0x400
F_DATA_FULL = 0x800

DROP_REASONS: tuple[str, ...] = ("ringbuf_full", "read_failed", "stash_full", "no_enter", "scratch")

HEADER = struct.Struct("<QQqIIIIIIHHHH16s")
_REC = struct.Struct("<BBH")
_U64 = struct.Struct("<Q")


class DecodeError(ValueError):
    """The bytes are not a record of the layout this module knows."""


# --- the table ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Param:
    """One syscall argument: where it is, how the kernel side reads it, its name here.

    ``conv`` turns the record into the value: ``fd`` (signed 32-bit), ``int`` (signed
    64-bit), ``uint`` (unsigned 32-bit), ``u64``, ``bool``, ``str``, ``sockaddr``,
    ``argv`` (list of str), ``open_how`` (expands to flags/mode/resolve), ``u64le``
    (first 8 bytes of a user struct).
    """

    idx: int
    name: str
    kind: int
    conv: str
    aux: int = 0


@dataclass(frozen=True, slots=True)
class EventSpec:
    name: str
    type_id: int
    params: tuple[Param, ...] = ()


def _p(idx: int, name: str, conv: str = "fd", aux: int = 0) -> Param:
    kind = {
        "str": K_STR,
        "sockaddr": K_SOCKADDR,
        "sockaddr_out": K_SOCKADDR_OUT,
        "msgname": K_MSGNAME,
        "argv": K_ARGV,
        "open_how": K_UBYTES,
        "u64le": K_UBYTES,
    }.get(conv, K_INT)
    if conv in ("sockaddr_out", "msgname"):
        conv = "sockaddr"
    return Param(idx, name, kind, conv, aux)


# x86_64 syscall numbers; parameter names follow Falco's event table where it has one.
_SYSCALLS: tuple[EventSpec, ...] = (
    EventSpec("execve", 59, (_p(0, "filename", "str"), _p(1, "argv", "argv"))),
    EventSpec(
        "execveat",
        322,
        (_p(0, "dirfd"), _p(1, "filename", "str"), _p(2, "argv", "argv"), _p(4, "flags", "uint")),
    ),
    EventSpec("open", 2, (_p(0, "name", "str"), _p(1, "flags", "uint"), _p(2, "mode", "uint"))),
    EventSpec(
        "openat",
        257,
        (_p(0, "dirfd"), _p(1, "name", "str"), _p(2, "flags", "uint"), _p(3, "mode", "uint")),
    ),
    EventSpec("openat2", 437, (_p(0, "dirfd"), _p(1, "name", "str"), _p(2, "how", "open_how", 24))),
    EventSpec("close", 3, (_p(0, "fd"),)),
    EventSpec(
        "socket", 41, (_p(0, "domain", "uint"), _p(1, "type", "uint"), _p(2, "proto", "uint"))
    ),
    EventSpec("connect", 42, (_p(0, "fd"), _p(1, "addr", "sockaddr", 2))),
    EventSpec("accept", 43, (_p(0, "sockfd"), _p(1, "addr", "sockaddr_out", 2))),
    EventSpec(
        "accept4",
        288,
        (_p(0, "sockfd"), _p(1, "addr", "sockaddr_out", 2), _p(3, "flags", "uint")),
    ),
    EventSpec("sendto", 44, (_p(0, "fd"), _p(2, "size", "u64"), _p(4, "addr", "sockaddr", 5))),
    EventSpec("sendmsg", 46, (_p(0, "fd"), _p(1, "addr", "msgname"), _p(2, "flags", "uint"))),
    EventSpec("dup", 32, (_p(0, "oldfd"),)),
    EventSpec("dup2", 33, (_p(0, "oldfd"), _p(1, "newfd"))),
    EventSpec("dup3", 292, (_p(0, "oldfd"), _p(1, "newfd"), _p(2, "flags", "uint"))),
    EventSpec("ptrace", 101, (_p(0, "request", "int"), _p(1, "pid"))),
    EventSpec("symlink", 88, (_p(0, "target", "str"), _p(1, "linkpath", "str"))),
    EventSpec(
        "symlinkat",
        266,
        (_p(0, "target", "str"), _p(1, "linkdirfd"), _p(2, "linkpath", "str")),
    ),
    EventSpec("link", 86, (_p(0, "oldpath", "str"), _p(1, "newpath", "str"))),
    EventSpec(
        "linkat",
        265,
        (
            _p(0, "olddir"),
            _p(1, "oldpath", "str"),
            _p(2, "newdir"),
            _p(3, "newpath", "str"),
            _p(4, "flags", "uint"),
        ),
    ),
    EventSpec("init_module", 175, (_p(1, "length", "u64"), _p(2, "uargs", "str"))),
    EventSpec("finit_module", 313, (_p(0, "fd"), _p(1, "uargs", "str"), _p(2, "flags", "uint"))),
    EventSpec("chmod", 90, (_p(0, "filename", "str"), _p(1, "mode", "uint"))),
    EventSpec("fchmod", 91, (_p(0, "fd"), _p(1, "mode", "uint"))),
    EventSpec("fchmodat", 268, (_p(0, "dirfd"), _p(1, "filename", "str"), _p(2, "mode", "uint"))),
    EventSpec("rename", 82, (_p(0, "oldpath", "str"), _p(1, "newpath", "str"))),
    EventSpec(
        "renameat",
        264,
        (_p(0, "olddirfd"), _p(1, "oldpath", "str"), _p(2, "newdirfd"), _p(3, "newpath", "str")),
    ),
    EventSpec(
        "renameat2",
        316,
        (
            _p(0, "olddirfd"),
            _p(1, "oldpath", "str"),
            _p(2, "newdirfd"),
            _p(3, "newpath", "str"),
            _p(4, "flags", "uint"),
        ),
    ),
    EventSpec("unlink", 87, (_p(0, "path", "str"),)),
    EventSpec("unlinkat", 263, (_p(0, "dirfd"), _p(1, "name", "str"), _p(2, "flags", "uint"))),
    EventSpec("setuid", 105, (_p(0, "uid", "uint"),)),
    EventSpec("setgid", 106, (_p(0, "gid", "uint"),)),
    EventSpec("bpf", 321, (_p(0, "cmd", "int"),)),
    EventSpec("memfd_create", 319, (_p(0, "name", "str"), _p(1, "flags", "uint"))),
    # The working directory: relative paths (``cat shadow`` in /etc) resolve against it.
    EventSpec("chdir", 80, (_p(0, "path", "str"),)),
    EventSpec("fchdir", 81, (_p(0, "fd"),)),
    EventSpec("mkdir", 83, (_p(0, "path", "str"), _p(1, "mode", "uint"))),
    EventSpec("mkdirat", 258, (_p(0, "dirfd"), _p(1, "path", "str"), _p(2, "mode", "uint"))),
    # The clone family: also stashed (not emitted) when fork events are wanted, so that
    # the fork program can tell a new thread from a new process by the clone flags.
    # The fork(2) syscall is left out: "fork" names the sched_process_fork event.
    EventSpec("clone", 56, (_p(0, "flags", "u64"),)),
    EventSpec("clone3", 435, (_p(0, "flags", "u64le", 8),)),
    EventSpec("vfork", 58),
)

_SCHED: tuple[EventSpec, ...] = (
    EventSpec(
        FORK,
        EVT_SCHED_FORK,
        (Param(0, "child_pid", K_SCHED_INT, "fd"), Param(1, "child_tid", K_SCHED_INT, "fd")),
    ),
    EventSpec(
        EXEC,
        EVT_SCHED_EXEC,
        (Param(0, "filename", K_SCHED_STR, "str"), Param(1, "old_pid", K_SCHED_INT, "fd")),
    ),
    EventSpec(EXIT, EVT_SCHED_EXIT, (Param(0, "group_dead", K_SCHED_INT, "bool"),)),
)

EVENT_SPECS: dict[str, EventSpec] = {s.name: s for s in _SYSCALLS + _SCHED}
SYSCALL_NUMBERS: dict[str, int] = {s.name: s.type_id for s in _SYSCALLS}
_BY_ID: dict[int, EventSpec] = {s.type_id: s for s in EVENT_SPECS.values()}


# --- value conversions --------------------------------------------------------------


def _c_str(b: bytes) -> str:
    return b.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _u64(b: bytes) -> int:
    return _U64.unpack_from(b.ljust(8, b"\0"))[0]


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


_AF_NAMES = {0: "unspec", 16: "netlink", 17: "packet"}


def decode_sockaddr(b: bytes) -> dict[str, Any]:
    """A raw ``struct sockaddr`` as ``{"family": "inet", "addr": "10.0.0.1", "port": 22}``.

    AF_INET6 gives family ``inet6``; AF_UNIX gives ``{"family": "unix", "path": ...}``
    with abstract names rendered ``@name``; other families give their name or number.
    """
    if len(b) < 2:
        return {"family": "unspec"}
    family = int.from_bytes(b[:2], "little")
    if family == 2 and len(b) >= 8:
        return {
            "family": "inet",
            "addr": str(ipaddress.IPv4Address(b[4:8])),
            "port": int.from_bytes(b[2:4], "big"),
        }
    if family == 10 and len(b) >= 24:
        return {
            "family": "inet6",
            "addr": str(ipaddress.IPv6Address(b[8:24])),
            "port": int.from_bytes(b[2:4], "big"),
        }
    if family == 1:
        path = b[2:]
        if path[:1] == b"\0":
            # Abstract socket: the name is every byte of addrlen, NULs included.
            name = path[1:].rstrip(b"\0").decode("utf-8", "surrogateescape")
            return {"family": "unix", "path": "@" + name}
        return {"family": "unix", "path": _c_str(path)}
    return {"family": _AF_NAMES.get(family, str(family))}


def _convert(conv: str, name: str, data: bytes) -> dict[str, Any]:
    if conv == "str":
        return {name: _c_str(data)}
    if conv == "sockaddr":
        return {name: decode_sockaddr(data)}
    if conv == "open_how":
        raw = data.ljust(24, b"\0")
        flags, mode, resolve = struct.unpack_from("<QQQ", raw)
        return {"flags": flags, "mode": mode, "resolve": resolve}
    v = _u64(data)
    if conv == "fd":
        return {name: _signed(v, 32)}
    if conv == "int":
        return {name: _signed(v, 64)}
    if conv == "uint":
        return {name: v & 0xFFFFFFFF}
    if conv == "bool":
        return {name: bool(v)}
    return {name: v}  # u64, u64le


# --- decoders -----------------------------------------------------------------------

Decoder = Callable[[tuple[Any, ...], bytes], RawEvent]
_DECODERS: dict[int, Decoder] = {}


def register_decoder(type_id: int) -> Callable[[Decoder], Decoder]:
    """Use ``fn(header_fields, record_bytes)`` for events of ``type_id``."""

    def deco(fn: Decoder) -> Decoder:
        _DECODERS[type_id] = fn
        return fn

    return deco


def _records(body: bytes, nrec: int) -> list[tuple[int, int, bytes]]:
    out: list[tuple[int, int, bytes]] = []
    off = 0
    for _ in range(nrec):
        if off + _REC.size > len(body):
            raise DecodeError(f"argument record {len(out)} starts past the end ({off})")
        kind, idx, ln = _REC.unpack_from(body, off)
        off += _REC.size
        if off + ln > len(body):
            raise DecodeError(f"argument record {len(out)} overruns the event ({ln} bytes)")
        out.append((kind, idx, body[off : off + ln]))
        off += ln
    return out


def _spec_decoder(spec: EventSpec) -> Decoder:
    by_idx = {p.idx: p for p in spec.params}
    has_res = spec.type_id < EVT_SCHED_FORK
    argv_name = next((p.name for p in spec.params if p.conv == "argv"), None)

    def decode_spec(h: tuple[Any, ...], body: bytes) -> RawEvent:
        ts, cg, res, _t, _sz, pid, tid, uid, gid, flags, nrec, _v, _r, comm = h
        args: dict[str, Any] = {}
        if argv_name is not None:
            argv: list[str] = []
            args[argv_name] = argv
        for kind, idx, data in _records(body, nrec):
            p = by_idx.get(idx)
            if p is None:
                continue
            if kind == K_ARGV:
                argv.append(_c_str(data))
            else:
                args.update(_convert(p.conv, p.name, data))
        truncated = [p.name for p in spec.params if p.idx < 6 and flags & (1 << p.idx)]
        if argv_name and flags & (F_ARGV_COUNT | F_ARGV_BYTES) and argv_name not in truncated:
            truncated.append(argv_name)
        return RawEvent(
            ts_ns=ts,
            type=spec.name,
            pid=pid,
            tid=tid,
            uid=uid,
            gid=gid,
            comm=_c_str(comm),
            res=res if has_res else None,
            args=args,
            truncated=tuple(truncated),
            cgroup_id=cg,
        )

    return decode_spec


for _spec in EVENT_SPECS.values():
    _DECODERS[_spec.type_id] = _spec_decoder(_spec)


def decode(buf: bytes, clock_offset_ns: int = 0) -> RawEvent:
    """One ring-buffer record as a RawEvent.

    ``clock_offset_ns`` is added to the kernel's monotonic timestamp (capture passes the
    wall-clock minus monotonic offset taken at start, so ``ts_ns`` is epoch time).
    """
    if len(buf) < HEADER.size:
        raise DecodeError(f"{len(buf)} bytes is shorter than the {HEADER.size}-byte header")
    h = HEADER.unpack_from(buf)
    type_id, size, version = h[3], h[4], h[11]
    if version != EVENT_VERSION:
        raise DecodeError(f"wire format version {version}, this decoder reads {EVENT_VERSION}")
    if size > len(buf) or size < HEADER.size:
        raise DecodeError(f"header says {size} bytes, the record has {len(buf)}")
    dec = _DECODERS.get(type_id)
    if dec is None:
        raise DecodeError(f"no decoder for event type id {type_id}")
    ev = dec(h, bytes(buf[HEADER.size : size]))
    if clock_offset_ns:
        ev.ts_ns += clock_offset_ns
    return ev


def type_name(type_id: int) -> str | None:
    """The event type name of an id, or None."""
    spec = _BY_ID.get(type_id)
    return spec.name if spec else None
