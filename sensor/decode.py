"""Ring-buffer bytes to :class:`RawEvent`: the sensor's wire format, read without bcc.

The layout is ``bpf/events.h``: a 72-byte header, then argument records (a 4-byte
``kind, idx, len`` header and ``len`` bytes each). What the kernel side reads for each
syscall argument, and what the argument is called here, is :data:`EVENT_SPECS`, built
from the ``wire`` column of ``sensor.syscalls``: capture writes its ``kind``/``aux``
columns into the BPF interest map, and the decoder built from the same row names and
converts the records. A new syscall is a new row there.

Nothing here touches the kernel, so the decoders are tested on recorded bytes.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sensor.events import EXEC, EXIT, FORK, RawEvent
from sensor.syscalls import SYSCALLS, WireArg

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


def _param(w: WireArg) -> Param:
    kind = {
        "str": K_STR,
        "sockaddr": K_SOCKADDR,
        "sockaddr_out": K_SOCKADDR_OUT,
        "msgname": K_MSGNAME,
        "argv": K_ARGV,
        "open_how": K_UBYTES,
        "u64le": K_UBYTES,
    }.get(w.conv, K_INT)
    conv = "sockaddr" if w.conv in ("sockaddr_out", "msgname") else w.conv
    return Param(w.idx, w.name, kind, conv, w.aux)


# The captured rows of sensor.syscalls, in its order; built once, at import.
_SYSCALLS: tuple[EventSpec, ...] = tuple(
    EventSpec(s.name, s.nr, tuple(map(_param, s.wire))) for s in SYSCALLS if s.wire is not None
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
