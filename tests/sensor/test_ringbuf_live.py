"""The ring-buffer reader against a real BPF ring buffer (real eBPF, as root).

A small program of the test's own writes one record per getppid() this process makes:
its sequence number, in records of two sizes, every fifth one discarded by its producer.
Nothing else writes there, so every record the reader returns, and every one it must not,
is known: order, wrap-around at the end of a one-page buffer, discards, the per-call limit
and a full buffer's refusals.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from typing import Any

import pytest

if os.geteuid() != 0:
    pytest.skip("needs root and eBPF", allow_module_level=True)

from sensor import capture as capture_mod
from sensor.ringbuf import RingReader

PROGRAM = r"""
BPF_RINGBUF_OUTPUT(rb, 1);
BPF_ARRAY(seq, u64, 1);
BPF_ARRAY(refused, u64, 1);

/* Reserved space is not zeroed: every byte is written, so a stale or torn copy shows. */
struct small { u64 n; u32 size; u32 check; };
struct big { u64 n; u32 size; u8 fill[92]; };

TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {
    if ((bpf_get_current_pid_tgid() >> 32) != OWNER)
        return 0;
    int zero = 0;
    u64 *s = seq.lookup(&zero);
    u64 *r = refused.lookup(&zero);
    if (!s || !r)
        return 0;
    u64 n = *s;
    *s = n + 1;
    if (n % 3 == 2) {
        struct big *b = rb.ringbuf_reserve(sizeof(struct big));
        if (!b) { *r += 1; return 0; }
        b->n = n;
        b->size = sizeof(struct big);
        __builtin_memset(b->fill, (u8)n, sizeof(b->fill));
        if (n % 5 == 0) rb.ringbuf_discard(b, 0); else rb.ringbuf_submit(b, 0);
    } else {
        struct small *m = rb.ringbuf_reserve(sizeof(struct small));
        if (!m) { *r += 1; return 0; }
        m->n = n;
        m->size = sizeof(struct small);
        m->check = ~(u32)n;
        if (n % 5 == 0) rb.ringbuf_discard(m, 0); else rb.ringbuf_submit(m, 0);
    }
    return 0;
}
"""
SMALL, BIG = 16, 104
PAGE = os.sysconf("SC_PAGE_SIZE")


class Ring:
    def __init__(self, bpf: Any) -> None:
        self.bpf = bpf
        table = bpf[b"rb"]
        self.reader = RingReader(table.map_fd, table.max_entries)
        self.issued = 0

    def emit(self, n: int) -> None:
        for _ in range(n):
            os.getppid()
        self.issued += n

    def refused(self) -> int:
        return int(self.bpf[b"refused"][0].value)

    def read(self, limit: int = 10**6) -> list[int]:
        blob, spans = self.reader.read(limit)
        out = []
        for start, end in spans:
            n, size = struct.unpack_from("<QI", blob, start)
            assert end - start == size
            rest = blob[start + 12 : end]
            if size == SMALL:
                assert struct.unpack("<I", rest) == (~n & 0xFFFFFFFF,)
            else:
                assert size == BIG and rest == bytes([n & 0xFF]) * 92
            out.append(n)
        return out


def kept(lo: int, hi: int) -> list[int]:
    """Sequence numbers in [lo, hi) that were submitted, not discarded."""
    return [n for n in range(lo, hi) if n % 5]


@pytest.fixture
def ring() -> Iterator[Ring]:
    bcc = capture_mod._import_bcc()
    try:
        cflags = capture_mod._check_headers(lambda _line: None)
        bpf = bcc.BPF(text=PROGRAM.encode(), cflags=[f"-DOWNER={os.getpid()}", *cflags])
    except Exception as e:  # bcc raises bare Exceptions
        pytest.skip(f"needs eBPF: {e}")
    r = Ring(bpf)
    try:
        yield r
    finally:
        r.reader.close()
        bpf.cleanup()


def test_records_come_out_in_order_without_the_discarded_ones(ring: Ring) -> None:
    assert ring.reader.size == PAGE
    assert ring.read() == [] and ring.reader.pending() == 0
    ring.emit(20)
    assert ring.read() == kept(0, 20)
    assert ring.reader.pending() == 0
    assert ring.reader.wait(0) is False


def test_at_most_limit_records_per_read_and_the_rest_stay(ring: Ring) -> None:
    ring.emit(30)
    want = kept(0, 30)
    assert ring.reader.wait(0) is True
    first = ring.read(limit=7)
    assert first == want[:7]
    assert ring.reader.pending() > 0
    assert ring.read(limit=7) == want[7:14]
    assert ring.read() == want[14:]
    assert ring.reader.pending() == 0


def test_records_wrap_around_the_end_of_the_buffer(ring: Ring) -> None:
    # ~1 KiB per round into a 4 KiB buffer: records straddle its end every few rounds,
    # and read back whole through the second mapping of the data.
    seen: list[int] = []
    for _ in range(40):
        ring.emit(13)
        seen += ring.read()
    assert seen == kept(0, 40 * 13)
    assert ring.refused() == 0


def test_a_full_buffer_refuses_records_and_recovers_once_read(ring: Ring) -> None:
    ring.emit(600)  # far more than one page holds
    refused = ring.refused()
    assert refused > 0
    got = ring.read()
    # What fitted, in order: the start of the sequence, then (a small record fits where a
    # big one did not) some later ones; each record either read, refused or discarded.
    assert got[:30] == kept(0, 600)[:30]
    assert got == sorted(set(got)) and set(got) <= set(kept(0, 600))
    discarded = 600 - len(kept(0, 600))
    assert 600 - discarded <= len(got) + refused <= 600
    assert ring.reader.pending() == 0
    ring.emit(10)
    assert ring.read() == kept(600, 610)
    assert ring.refused() == refused
