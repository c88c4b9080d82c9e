"""The BTF reader: struct member offsets from a kernel's type information, within bounds."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from sensor.btf import EXEC_FIELDS, VMLINUX, Btf, BtfError, Member, exec_fact_defines


class Blob:
    """A BTF blob written type by type (ids from 1, in the order added)."""

    def __init__(self) -> None:
        self.types = b""
        self.strings = b"\0"
        self.count = 0

    def name(self, text: str) -> int:
        if not text:
            return 0
        off = len(self.strings)
        self.strings += text.encode() + b"\0"
        return off

    def add(self, kind: int, name: str, size_type: int, extra: bytes = b"", *, vlen: int = 0,
            kflag: bool = False) -> int:  # fmt: skip
        info = kind << 24 | vlen | (1 << 31 if kflag else 0)
        self.types += struct.pack("<III", self.name(name), info, size_type) + extra
        self.count += 1
        return self.count

    def int_(self, name: str, size: int) -> int:
        return self.add(1, name, size, struct.pack("<I", size * 8))

    def ptr(self, to: int) -> int:
        return self.add(2, "", to)

    def struct_(self, name: str, size: int, members: list[tuple[str, int, int]], *,
                kind: int = 4, kflag: bool = False) -> int:  # fmt: skip
        extra = b"".join(struct.pack("<III", self.name(n), t, off) for n, t, off in members)
        return self.add(kind, name, size, extra, vlen=len(members), kflag=kflag)

    def bytes(self, magic: int = 0xEB9F) -> bytes:
        hdr = struct.pack(
            "<HBBIIIII", magic, 1, 0, 24, 0, len(self.types), len(self.types), len(self.strings)
        )
        return hdr + self.types + self.strings


def sample() -> Blob:
    b = Blob()
    int_t = b.int_("int", 4)
    u64 = b.int_("unsigned long long", 8)
    ptr = b.ptr(int_t)
    anon = b.struct_("", 8, [("u1", ptr, 0), ("u2", u64, 0)], kind=5)  # a union
    cap = b.struct_("cap", 8, [("val", u64, 0)])
    cap_t = b.add(8, "cap_t", cap)  # typedef
    const_ptr = b.add(10, "", ptr)  # const
    b.struct_(
        "outer",
        40,
        [("x", int_t, 0), ("", anon, 64), ("caps", cap_t, 128), ("cp", const_ptr, 192)],
    )
    # kind_flag: each offset packs a bitfield size over the bit offset
    b.struct_("flags", 8, [("bit", int_t, 1 << 24 | 3), ("whole", int_t, 32)], kflag=True)
    return b


def test_members_plain_anonymous_typedef_and_qualified() -> None:
    btf = Btf(sample().bytes())
    assert btf.member("outer", "x") == Member(0, 4, False)
    assert btf.member("outer", "u1") == Member(8, 8, True)  # inside the anonymous union
    assert btf.member("outer", "u2") == Member(8, 8, False)
    assert btf.member("outer", "caps") == Member(16, 8, False)  # typedef of an 8-byte struct
    assert btf.member("outer", "cp") == Member(24, 8, True)  # const pointer
    assert btf.member("flags", "whole") == Member(4, 4, False)


def test_missing_and_bitfield_members_are_none() -> None:
    btf = Btf(sample().bytes())
    assert btf.member("outer", "nope") is None
    assert btf.member("nostruct", "x") is None
    assert btf.member("flags", "bit") is None  # not byte-addressable


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (sample().bytes(magic=0x1234), "bad magic"),
        (sample().bytes()[:10], "shorter than a BTF header"),
        (sample().bytes()[:60], "past the end"),
    ],
)
def test_bad_blobs_raise_btf_error(data: bytes, message: str) -> None:
    with pytest.raises(BtfError, match=message):
        Btf(data)


def test_unknown_kind_and_overrunning_record_raise() -> None:
    b = sample()
    b.add(31, "future", 0)
    with pytest.raises(BtfError, match="unknown kind 31"):
        Btf(b.bytes())
    b = Blob()
    b.add(4, "s", 8, vlen=5)  # says five members, has none
    with pytest.raises(BtfError, match="runs past"):
        Btf(b.bytes())


def test_exec_facts_say_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "vmlinux"
    path.write_bytes(sample().bytes())
    facts = exec_fact_defines(path)
    assert facts.defines == ()
    assert facts.missing is not None and "task_struct.mm" in facts.missing
    assert "read from /proc" in facts.missing
    nothing = exec_fact_defines(tmp_path / "absent")
    assert nothing.defines == () and nothing.missing and "no usable kernel BTF" in nothing.missing


@pytest.mark.skipif(not VMLINUX.exists(), reason="this kernel exposes no BTF")
def test_running_kernel_has_every_exec_field() -> None:
    facts = exec_fact_defines()
    assert facts.missing is None, facts.missing
    assert len(facts.defines) == len(EXEC_FIELDS)
    offsets = {d.split("=")[0][2:]: int(d.split("=")[1]) for d in facts.defines}
    # Sanity, not layout: fields sit inside their structs, and not at offset 0 where a
    # struct starts with something else.
    assert 0 < offsets["LANNER_OFF_TASK_SIGNAL"] < 1 << 14
    assert offsets["LANNER_OFF_MM_ENV_END"] == offsets["LANNER_OFF_MM_ENV_START"] + 8
