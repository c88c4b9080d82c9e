"""Struct member offsets from the running kernel's own BTF (``/sys/kernel/btf/vmlinux``).

At exec the sensor's BPF program reads a few task fields: where the new program's
environment lies, its controlling tty and the capabilities it runs with, which a program
that exits at once takes with it (``/proc/<pid>`` is gone before anyone reads it). Where
those fields sit changes between kernel versions and builds, and the header tree bcc
compiles against may be another kernel's (Debian's 6.1 headers on a 6.18 kernel), so
their offsets are never taken from headers: :func:`exec_fact_defines` reads them from
the running kernel's BTF and passes them to the compile as ``-D`` flags. Without BTF (or
a field it lacks) the flags are left out, the program reads none of them, and the process
table falls back to /proc (``ExecFacts.missing`` is the one line to say so).
:func:`member_defines` does the same for any table of fields.

The reader is small and bounded: it walks the type section once, indexing structs and
unions by name, and understands only what member lookup needs. A file over
:data:`MAX_BYTES`, more than :data:`MAX_TYPES` types, an unknown type kind or a record
running past its section ends the reading with :class:`BtfError`; nothing here raises
anything else on bad input.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "EXEC_FIELDS",
    "TASK_FIELDS",
    "VMLINUX",
    "Btf",
    "BtfError",
    "ExecFacts",
    "Member",
    "exec_fact_defines",
    "member_defines",
    "task_field_defines",
]

VMLINUX = Path("/sys/kernel/btf/vmlinux")
MAX_BYTES = 64 << 20  # vmlinux BTF is ~5-6 MB on distribution kernels
MAX_TYPES = 2_000_000

_MAGIC = 0xEB9F
_HEADER = struct.Struct("<HBBIIIII")
_TYPE = struct.Struct("<III")
_MEMBER = struct.Struct("<III")

# BTF kinds (include/uapi/linux/btf.h) and the bytes that follow each type record.
_INT, _PTR, _ARRAY, _STRUCT, _UNION, _ENUM, _FWD, _TYPEDEF = 1, 2, 3, 4, 5, 6, 7, 8
_VOLATILE, _CONST, _RESTRICT, _FUNC, _FUNC_PROTO, _VAR, _DATASEC = 9, 10, 11, 12, 13, 14, 15
_FLOAT, _DECL_TAG, _TYPE_TAG, _ENUM64 = 16, 17, 18, 19
_FIXED_EXTRA = {_INT: 4, _ARRAY: 12, _VAR: 4, _DECL_TAG: 4}
_PER_VLEN = {_STRUCT: 12, _UNION: 12, _ENUM: 8, _FUNC_PROTO: 8, _DATASEC: 12, _ENUM64: 12}
_NO_EXTRA = frozenset(
    {_PTR, _FWD, _TYPEDEF, _VOLATILE, _CONST, _RESTRICT, _FUNC, _FLOAT, _TYPE_TAG}
)
_MODIFIERS = frozenset({_TYPEDEF, _VOLATILE, _CONST, _RESTRICT, _TYPE_TAG})
_MAX_DEPTH = 16  # typedef chains and nested anonymous members


class BtfError(ValueError):
    """The file is not BTF this reader understands (or is too large)."""


@dataclass(frozen=True, slots=True)
class Member:
    """Where a struct member lives: byte offset, size in bytes, and whether it is a pointer."""

    offset: int
    size: int
    pointer: bool


class Btf:
    """The type section of one BTF blob, indexed for member lookup by struct name."""

    def __init__(self, data: bytes) -> None:
        if len(data) > MAX_BYTES:
            raise BtfError(f"{len(data)} bytes is over the {MAX_BYTES}-byte bound")
        if len(data) < _HEADER.size:
            raise BtfError("shorter than a BTF header")
        magic, _ver, _flags, hdr_len, type_off, type_len, str_off, str_len = _HEADER.unpack_from(
            data
        )
        if magic != _MAGIC:
            raise BtfError(f"bad magic {magic:#x}")
        types_at, strings_at = hdr_len + type_off, hdr_len + str_off
        if types_at + type_len > len(data) or strings_at + str_len > len(data):
            raise BtfError("a section runs past the end of the file")
        self._data = data
        self._types_end = types_at + type_len
        self._strings = (strings_at, strings_at + str_len)
        # Type id -> offset of its record; id 0 is void.
        self._at: list[int] = [0]
        self._by_name: dict[str, int] = {}
        self._walk(types_at)

    @classmethod
    def load(cls, path: Path = VMLINUX) -> Btf:
        """Reads ``path``; raises OSError when it cannot be read, BtfError when bad."""
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
        return cls(data)

    def _walk(self, off: int) -> None:
        data, end, at = self._data, self._types_end, self._at
        unpack = _TYPE.unpack_from
        while off < end:
            if len(at) > MAX_TYPES:
                raise BtfError(f"more than {MAX_TYPES} types")
            if off + _TYPE.size > end:
                raise BtfError(f"type {len(at)} runs past the type section")
            name_off, info, _ = unpack(data, off)
            kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
            if kind in _PER_VLEN:
                extra = _PER_VLEN[kind] * vlen
            elif kind in _FIXED_EXTRA:
                extra = _FIXED_EXTRA[kind]
            elif kind in _NO_EXTRA:
                extra = 0
            else:
                raise BtfError(f"type {len(at)} has unknown kind {kind}")
            if off + _TYPE.size + extra > end:
                raise BtfError(f"type {len(at)} runs past the type section")
            if kind in (_STRUCT, _UNION) and name_off:
                # The first complete definition of a name wins (vmlinux BTF is deduplicated).
                self._by_name.setdefault(self._name(name_off), len(at))
            at.append(off)
            off += _TYPE.size + extra

    def _name(self, name_off: int) -> str:
        start, end = self._strings
        pos = start + name_off
        if pos >= end:
            raise BtfError(f"name offset {name_off} is past the string section")
        stop = self._data.find(b"\0", pos, end)
        return self._data[pos : stop if stop >= 0 else end].decode("utf-8", "replace")

    def _type(self, tid: int) -> tuple[int, int, int, bool, int]:
        """(kind, vlen, size or referenced type, kind_flag, record offset) of type ``tid``."""
        if not 0 < tid < len(self._at):
            raise BtfError(f"type id {tid} out of range")
        off = self._at[tid]
        _, info, size_type = _TYPE.unpack_from(self._data, off)
        return (info >> 24) & 0x1F, info & 0xFFFF, size_type, bool(info >> 31), off

    def _resolve(self, tid: int) -> tuple[int, int]:
        """Follows typedefs and qualifiers: (kind, type id) of what ``tid`` names."""
        for _ in range(_MAX_DEPTH):
            if tid == 0:
                return 0, 0
            kind, _, ref, _, _ = self._type(tid)
            if kind not in _MODIFIERS:
                return kind, tid
            tid = ref
        raise BtfError(f"type {tid}: qualifier chain deeper than {_MAX_DEPTH}")

    def _size(self, tid: int) -> int:
        kind, tid = self._resolve(tid)
        if kind == _PTR:
            return 8
        if kind in (_INT, _STRUCT, _UNION, _ENUM, _ENUM64, _FLOAT):
            return self._type(tid)[2]
        if kind == _ARRAY:
            _, _, _, _, off = self._type(tid)
            elem, _index, count = struct.unpack_from("<III", self._data, off + _TYPE.size)
            return self._size(elem) * count
        raise BtfError(f"type {tid} (kind {kind}) has no size")

    def member(self, struct_name: str, member: str) -> Member | None:
        """``struct_name.member``'s place, looking into anonymous struct/union members;
        None when the struct or the member is not there, or the member is a bitfield."""
        tid = self._by_name.get(struct_name)
        if tid is None:
            return None
        return self._find(tid, member, 0, 0)

    def _find(self, tid: int, member: str, base_bits: int, depth: int) -> Member | None:
        if depth > _MAX_DEPTH:
            return None
        kind, vlen, _, kflag, off = self._type(tid)
        if kind not in (_STRUCT, _UNION):
            return None
        for i in range(vlen):
            name_off, mtype, moff = _MEMBER.unpack_from(self._data, off + _TYPE.size + 12 * i)
            bits = moff & 0xFFFFFF if kflag else moff
            if kflag and moff >> 24:
                if name_off and self._name(name_off) == member:
                    return None  # a bitfield: not a byte-addressable read
                continue
            if name_off:
                if self._name(name_off) != member:
                    continue
                if bits % 8:
                    return None
                mkind, _ = self._resolve(mtype)
                offset = (base_bits + bits) // 8
                return Member(offset, self._size(mtype), mkind == _PTR)
            mkind, inner = self._resolve(mtype)
            if mkind in (_STRUCT, _UNION):
                found = self._find(inner, member, base_bits + bits, depth + 1)
                if found is not None:
                    return found
        return None


# The task's credentials pointer: read on every event (TASK_FIELDS) and at exec (caps).
_TASK_CRED = ("LANNER_OFF_TASK_CRED", "task_struct", "cred", 0)

#: Task fields the BPF side loads through the BTF-typed task pointer instead of calling a
#: helper for each (sensor.bpf.c's TASK_FROM_BTF): -D name, struct, member, size (0: a
#: pointer). All or none: without one of them the program calls the helpers.
TASK_FIELDS: tuple[tuple[str, str, str, int], ...] = (
    ("LANNER_OFF_TASK_PID", "task_struct", "pid", 4),
    ("LANNER_OFF_TASK_TGID", "task_struct", "tgid", 4),
    ("LANNER_OFF_TASK_COMM", "task_struct", "comm", 16),
    _TASK_CRED,
    ("LANNER_OFF_CRED_UID", "cred", "uid", 4),
    ("LANNER_OFF_CRED_GID", "cred", "gid", 4),
    ("LANNER_OFF_TASK_CGROUPS", "task_struct", "cgroups", 0),
    ("LANNER_OFF_CSS_SET_DFL_CGRP", "css_set", "dfl_cgrp", 0),
    ("LANNER_OFF_CGROUP_KN", "cgroup", "kn", 0),
    ("LANNER_OFF_KERNFS_NODE_ID", "kernfs_node", "id", 8),
)

# What exec.h reads of the task at exec: (-D name, struct, member, expected size; 0 = a
# pointer). All or none: the process table takes a sched exec with a tty as one that has
# the whole set, and otherwise asks /proc for them.
EXEC_FIELDS: tuple[tuple[str, str, str, int], ...] = (
    # The environment: the block exec copied between mm->env_start and env_end.
    ("LANNER_OFF_TASK_MM", "task_struct", "mm", 0),
    ("LANNER_OFF_MM_ENV_START", "mm_struct", "env_start", 8),
    ("LANNER_OFF_MM_ENV_END", "mm_struct", "env_end", 8),
    # argv an exec's enter could not read (a fresh fork child's): between arg_start and end.
    ("LANNER_OFF_MM_ARG_START", "mm_struct", "arg_start", 8),
    ("LANNER_OFF_MM_ARG_END", "mm_struct", "arg_end", 8),
    # tty_nr as /proc/<pid>/stat shows it: from signal->tty's driver numbers and index.
    ("LANNER_OFF_TASK_SIGNAL", "task_struct", "signal", 0),
    ("LANNER_OFF_SIGNAL_TTY", "signal_struct", "tty", 0),
    ("LANNER_OFF_TTY_INDEX", "tty_struct", "index", 4),
    ("LANNER_OFF_TTY_DRIVER", "tty_struct", "driver", 0),
    ("LANNER_OFF_DRIVER_MAJOR", "tty_driver", "major", 4),
    ("LANNER_OFF_DRIVER_MINOR_START", "tty_driver", "minor_start", 4),
    # The capability sets exec may change (kernel_cap_t: 8 bytes, whatever its C shape).
    _TASK_CRED,
    ("LANNER_OFF_CRED_CAP_PERMITTED", "cred", "cap_permitted", 8),
    ("LANNER_OFF_CRED_CAP_EFFECTIVE", "cred", "cap_effective", 8),
)

_FALLBACK = (
    "the environment, tty and capabilities of a new program are read from /proc at exec, "
    "so a program that exits at once loses them, and an argv its exec's enter could not "
    "read (a fresh fork child's) is lost"
)


def member_defines(btf: Btf, fields: tuple[tuple[str, str, str, int], ...]) -> list[str] | str:
    """``-D<name>=<offset>`` for each of ``fields`` (-D name, struct, member, size; 0 for a
    pointer), or what is missing or has another shape (a str) when one of them is."""
    out: list[str] = []
    for define, struct_name, member, size in fields:
        m = btf.member(struct_name, member)
        if m is None:
            return f"{struct_name}.{member}"
        if m.pointer if size else not m.pointer:
            return f"{struct_name}.{member} ({'a pointer' if m.pointer else f'{m.size} bytes'})"
        if size and m.size != size:
            return f"{struct_name}.{member} ({m.size} bytes, not {size})"
        out.append(f"-D{define}={m.offset}")
    return out


@dataclass(frozen=True, slots=True)
class ExecFacts:
    """What the exec program reads from the task: ``defines`` for the compile (empty when
    it reads nothing), and ``missing``: the one line to say when it cannot (None: it can)."""

    defines: tuple[str, ...]
    missing: str | None = None


@functools.cache
def _load(path: Path) -> Btf:
    # Read once per process: both sets of fields come from the same 5 MB file.
    return Btf.load(path)


def task_field_defines(path: Path = VMLINUX) -> list[str]:
    """``-DLANNER_OFF_TASK_PID=...`` for :data:`TASK_FIELDS`, from the running kernel's BTF;
    empty when BTF is missing or lacks one of them (then the helpers are called)."""
    try:
        found = member_defines(_load(path), TASK_FIELDS)
    except (OSError, BtfError):
        return []
    return [] if isinstance(found, str) else found


def exec_fact_defines(path: Path = VMLINUX) -> ExecFacts:
    """The ``-D`` flags for the task fields exec.h reads, from the running kernel's BTF."""
    try:
        found = member_defines(_load(path), EXEC_FIELDS)
    except (OSError, BtfError) as e:
        return ExecFacts((), f"no usable kernel BTF ({path}: {e}): {_FALLBACK}")
    if isinstance(found, str):
        return ExecFacts((), f"the kernel BTF ({path}) has no {found}: {_FALLBACK}")
    return ExecFacts(tuple(found))
