"""Kinesis batches: what the sensor packs comes back the same, each record alone, about 25 KB."""

from __future__ import annotations

import json
import os
import random
import zlib
from pathlib import Path
from typing import Any

import pytest

from lanner import batch, wire
from lanner.batch import MAX_DECOMPRESSED, PAYLOAD_UNIT, BatchError, BatchWriter, check, unpack

DOCS = Path(__file__).parent / "data" / "syscall"


def realistic_stream(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """Events as a busy node makes them: the recorded scenarios, spread over a few dozen
    threads, each event with its own number, time, file and fd count."""
    # The recorded scenarios of ordinary size: the cut-command-line ones carry 20-50 KB of
    # arguments each, which no busy node's stream is made of.
    docs = [
        json.loads(p.read_text())
        for p in sorted(DOCS.glob("*.json"))
        if p.stat().st_size < 8192
    ]
    assert len(docs) > 20
    rng = random.Random(seed)
    out = []
    for i in range(n):
        tid = rng.randrange(1000, 1040)
        out.append(
            {
                **rng.choice(docs),
                "evt.num": i,
                "evt.rawtime": 1795849218000000000 + i * 1000 + rng.randrange(1000),
                "thread.tid": tid,
                "proc.pid": tid,
                "fd.name": f"/srv/data/file-{rng.randrange(10**6)}",
                "proc.fdopencount": rng.randrange(50),
            }
        )
    return out


def _pack(items: list[tuple[bool, dict[str, Any]]], **kw: Any) -> list[batch.Batch]:
    writer = BatchWriter(**kw)
    out = []
    for is_alert, doc in items:
        done = writer.add_alert(doc) if is_alert else writer.add(doc)
        if done is not None:
            out.append(done)
    while (last := writer.flush()) is not None:
        out.append(last)
    assert writer.pending == 0
    return out


def _alert(n: int) -> dict[str, Any]:
    return {
        "uuid": f"u-{n}",
        "rule": "Falco internal: syscall event drop",
        "priority": "Critical",
        "output": f"{n} system calls dropped",
        "output_fields": {"n_drops": n},
        "source": "internal",
        "tags": ["internal"],
        "hostname": "node-7",
        "time": "2026-11-28T10:00:00.000000000Z",
    }


def test_round_trip_gives_back_every_document_and_alert() -> None:
    docs = realistic_stream(3000)
    items: list[tuple[bool, dict[str, Any]]] = [(False, d) for d in docs]
    for k in (0, 700, 1500, 2999):
        items.insert(k, (True, _alert(k)))
    batches = _pack(items)
    assert len(batches) > 10
    events = [e for b in batches for e in unpack(b.data).events]
    alerts = [a for b in batches for a in unpack(b.data).alerts]
    assert events == docs
    assert alerts == [_alert(k) for k in (0, 700, 1500, 2999)]
    assert sum(b.events for b in batches) == 3000 and sum(b.alerts for b in batches) == 4


def test_every_batch_decodes_on_its_own() -> None:
    docs = realistic_stream(3000)
    batches = _pack([(False, d) for d in docs])
    # The same threads run through many batches, so each batch must carry their snapshots.
    tids_per_batch = [{e["thread.tid"] for e in unpack(b.data).events} for b in batches]
    assert len(set.intersection(*tids_per_batch)) > 0
    got = {}
    for i in random.Random(1).sample(range(len(batches)), len(batches)):
        got[i] = unpack(batches[i].data).events
    assert [e for i in sorted(got) for e in got[i]] == docs


def test_batches_fill_one_payload_unit_and_never_exceed_it() -> None:
    batches = _pack([(False, d) for d in realistic_stream(20000)])
    full = [len(b.data) for b in batches[:-1]]  # the last one is whatever was left
    assert sum(full) / len(full) > 20 * 1024
    assert max(full) <= PAYLOAD_UNIT


def test_incompressible_documents_are_cut_below_one_payload_unit() -> None:
    rng = random.Random(3)
    docs = [
        {"evt.num": i, "thread.tid": 7, "evt.arg": {"data": os.urandom(900).hex()}}
        for i in range(200)
    ]
    rng.shuffle(docs)
    batches = _pack([(False, d) for d in docs])
    assert all(len(b.data) <= PAYLOAD_UNIT for b in batches)
    assert [e for b in batches for e in unpack(b.data).events] == docs


def test_a_document_larger_than_a_payload_unit_travels_alone() -> None:
    big = {"evt.num": 1, "thread.tid": 7, "evt.arg": {"data": os.urandom(40_000).hex()}}
    small = {"evt.num": 2, "thread.tid": 7}
    batches = _pack([(False, small), (False, big), (False, small)])
    assert [unpack(b.data).events for b in batches] == [[small], [big], [small]]


def test_a_batch_is_a_record_file_once_decompressed() -> None:
    docs = realistic_stream(50)
    (only,) = _pack([(False, d) for d in docs] + [(True, _alert(1))])
    lines = [json.loads(line) for line in zlib.decompress(only.data[4:]).splitlines()]
    assert lines[0] == wire.HEADER
    assert lines[-1] == {"a": _alert(1)}
    decoder = wire.Decoder()
    assert [d for d in map(decoder.decode, lines[1:-1]) if d is not None] == docs


def _raw(*lines: Any) -> bytes:
    return batch.MAGIC + zlib.compress(b"".join(json.dumps(x).encode() + b"\n" for x in lines))


def _text(*lines: bytes) -> bytes:
    """A batch of the header then ``lines`` as given (not necessarily JSON)."""
    header = json.dumps(wire.HEADER).encode()
    return batch.MAGIC + zlib.compress(b"\n".join([header, *lines]) + b"\n")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x1f\x8b\x08\x00" + b"gzip data", r"not a lanner batch: starts with b'\\x1f\\x8b"),
        (batch.MAGIC + b"this is not zlib", "corrupt compressed data"),
        (_raw(wire.HEADER, {"p": 1, "proc": {}})[:-6], "truncated batch"),
        (
            batch.MAGIC + zlib.compress(b'{"lanner_record": "syscall", "version": 2}\n{oops\n'),
            "line 2: not JSON",
        ),
        (_raw({"lanner_record": "syscall", "version": 1}), "line 1: expected the record header"),
        (_raw({"p": 1, "e": {}}), "line 1: expected the record header"),
        (batch.MAGIC + zlib.compress(b"not json\n"), "line 1: not JSON"),
        (_raw(wire.HEADER, {"p": 3, "e": {"evt.type": "openat"}}), "line 2: .*snapshot 3"),
        (_raw(wire.HEADER, {"a": "not an object"}), "line 2: alert is not an object"),
        (
            batch.MAGIC + zlib.compress(b"\n" * (MAX_DECOMPRESSED + 1), 9),
            f"more than {MAX_DECOMPRESSED} bytes",
        ),
        # json raised RecursionError and int() a bare ValueError: neither a BatchError,
        # so the Kinesis detector retried the record instead of quarantining it.
        (
            _text(b'{"p":1,"e":' * 1000 + b"{}" + b"}" * 1000),
            "line 2: not JSON .nests deeper than 64",
        ),
        (_text(b'{"p":1,"e":' * 70 + b"{}" + b"}" * 70), "line 2: not JSON .nests deeper than 64"),
        (_text(b'{"a":{"n":' + b"9" * 5000 + b"}}"), "line 2: not JSON .a number has more"),
        (_text(b'{"p":1,"proc":{"x":"\xff"}}'), "line 2: not JSON .not UTF-8"),
    ],
    ids=[
        "bad-magic",
        "corrupt-zlib",
        "truncated",
        "not-json",
        "old-header",
        "no-header",
        "header-not-json",
        "unknown-snapshot",
        "bad-alert",
        "zip-bomb",
        "1000-deep",
        "70-deep",
        "5000-digits",
        "not-utf8",
    ],
)
def test_a_bad_record_says_what_is_wrong(data: bytes, reason: str) -> None:
    with pytest.raises(BatchError, match=reason):
        unpack(data)


def test_check_refuses_a_damaged_batch_without_parsing_events() -> None:
    (good,) = _pack([(False, d) for d in realistic_stream(20)])
    check(good.data)
    damaged = bytearray(good.data)
    damaged[len(damaged) // 2] ^= 0x01  # one bit flipped on disk
    with pytest.raises(BatchError):
        check(bytes(damaged))
    with pytest.raises(BatchError, match="truncated"):
        check(good.data[: len(good.data) // 2])
    assert batch.is_batch(good.data) and not batch.is_batch(b"{}")
