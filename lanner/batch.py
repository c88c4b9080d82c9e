"""Batches: many enriched events in one compressed Kinesis record.

Kinesis bills by PUT payload unit (25 KB) and a node's events are small and
alike, so the sensor packs them: a batch is a record file (``lanner.wire``,
version 2) compressed with zlib, behind a 4-byte magic::

    b"LNB1" + zlib(
        {"lanner_record": "syscall", "version": 2}       the record header
        {"p": 1, "proc": {...}}                          snapshot lines
        {"p": 1, "e": {...}}                             event lines
        {"a": {...}}                                     an alert made on the node
    )                                                    (JSON lines, UTF-8)

Each batch is self-contained: its encoder starts afresh, so every snapshot an
event refers to is in the same batch, and a detector can decode any record on
its own, in any order, after any retry. Alert lines carry what only the node
can know (Falco's "syscall event drop"), already in Falco's alert schema.

Decompressing a batch gives a file ``lanner scan --source syscall`` reads.
Pure: no I/O.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from lanner import boundedjson, wire

MAGIC = b"LNB1"
# One PUT payload unit is 25 KB; a batch aims just under it so it bills as one.
PAYLOAD_UNIT = 25 * 1024
DEFAULT_TARGET = 24 * 1024
# A decompressed batch larger than this is refused (a hostile or broken record
# must not take the detector's memory).
MAX_DECOMPRESSED = 16 * 1024 * 1024
_HEADER_LINE = json.dumps(wire.HEADER, separators=(",", ":")).encode() + b"\n"


class BatchError(ValueError):
    """A record that is not a readable batch; the message says why."""


@dataclass(slots=True)
class Batch:
    """One finished record: its bytes and what it holds."""

    data: bytes
    events: int
    alerts: int = 0


@dataclass(slots=True)
class Unpacked:
    """What a batch held: event documents (as the sensor enriched them) and node alerts."""

    events: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), default=str, ensure_ascii=False).encode(
        "utf-8", "surrogateescape"
    )


class BatchWriter:
    """Packs documents into batches of about ``target`` compressed bytes.

    ``add`` returns a finished batch when the current one is full (the document
    just added goes into the next one). The compressed size is estimated from
    the ratio the previous batches achieved; a batch that still comes out over
    one payload unit is cut, and the documents past the cut start the next.
    """

    def __init__(self, target: int = DEFAULT_TARGET, *, level: int = 6) -> None:
        if not 1024 <= target <= PAYLOAD_UNIT * 40:
            raise ValueError("batch target must be between 1 KiB and 1000 KiB")
        self.target = target
        self.limit = max(target, PAYLOAD_UNIT)
        self.level = level
        self._ratio = 6.0  # raw/compressed; learnt from each batch
        self._reset()

    def _reset(self) -> None:
        self._encoder = wire.Encoder()
        self._items: list[tuple[bool, Any]] = []  # (is_alert, doc)
        self._lines: list[bytes] = [_HEADER_LINE]
        self._raw = len(_HEADER_LINE)
        self._events = 0
        self._alerts = 0

    @property
    def pending(self) -> int:
        """Events (and node alerts) waiting in the unfinished batch."""
        return self._events + self._alerts

    def add(self, doc: dict[str, Any]) -> Batch | None:
        """Adds one enriched event; returns a batch if one was finished."""
        return self._add(False, doc)

    def add_alert(self, alert: dict[str, Any]) -> Batch | None:
        """Adds an alert made on the node (Falco's JSON schema)."""
        return self._add(True, alert)

    def flush(self) -> Batch | None:
        """Finishes the current batch, if it holds anything.

        A batch over one payload unit is cut and its rest stays pending: call again
        until it returns None (``pending`` is then 0)."""
        if not self._items:
            return None
        return self._finish()

    def _add(self, is_alert: bool, doc: dict[str, Any]) -> Batch | None:
        done = None
        if self._items and (self._raw / self._ratio) >= self.target:
            done = self._finish()
        self._append(is_alert, doc)
        return done

    def _append(self, is_alert: bool, doc: dict[str, Any]) -> None:
        if is_alert:
            lines = [_dumps({"a": doc})]
            self._alerts += 1
        else:
            lines = [_dumps(line) for line in self._encoder.encode(doc)]
            self._events += 1
        for line in lines:
            self._lines.append(line + b"\n")
            self._raw += len(line) + 1
        self._items.append((is_alert, doc))

    def _finish(self) -> Batch:
        raw = b"".join(self._lines)
        data = MAGIC + zlib.compress(raw, self.level)
        items = self._items
        self._ratio = max(1.0, 0.7 * self._ratio + 0.3 * (len(raw) / max(1, len(data))))
        if len(data) > self.limit and len(items) > 1:
            # Over one payload unit: keep the share that fits, carry the rest over.
            keep = max(1, int(len(items) * self.limit / len(data) * 0.9))
            self._reset()
            for is_alert, doc in items[:keep]:
                self._append(is_alert, doc)
            batch = self._finish()
            for is_alert, doc in items[keep:]:
                self._append(is_alert, doc)
            return batch
        batch = Batch(data, self._events, self._alerts)
        self._reset()
        return batch


def is_batch(data: bytes) -> bool:
    return data[:4] == MAGIC


def _inflate(data: bytes) -> list[bytes]:
    """The lines of a batch, its header checked."""
    if not is_batch(data):
        raise BatchError(f"not a lanner batch: starts with {data[:4]!r}, expected {MAGIC!r}")
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(data[4:], MAX_DECOMPRESSED)
    except zlib.error as exc:
        raise BatchError(f"corrupt compressed data: {exc}") from None
    if inflater.unconsumed_tail:
        raise BatchError(f"batch decompresses to more than {MAX_DECOMPRESSED} bytes")
    if not inflater.eof:
        raise BatchError("truncated batch: the compressed data ends early")
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    try:
        header: Any = boundedjson.loads(lines[0]) if lines else None
    except ValueError as exc:
        raise BatchError(f"line 1: not JSON ({exc})") from None
    if not wire.is_header(header) or header.get("version") != wire.HEADER["version"]:
        raise BatchError(f"line 1: expected the record header {wire.HEADER}, got {header!r:.80}")
    return lines


def check(data: bytes) -> None:
    """Raises BatchError unless ``data`` is an intact batch (zlib's checksum covers every
    byte), without parsing its events: what the sensor's spool uses to read back its files."""
    _inflate(data)


def unpack(data: bytes) -> Unpacked:
    """The events and alerts of one batch; BatchError says what is wrong with a bad one
    (and is the only exception bad data raises: lines nested deeper than
    ``lanner.boundedjson`` allows, or with numbers of more than 4,300 digits, included)."""
    lines = _inflate(data)
    out = Unpacked()
    decoder = wire.Decoder()
    for n, line in enumerate(lines[1:], 2):
        try:
            # Bounded: a line nested ~1,000 deep raised RecursionError, which is no
            # BatchError, and the detector retried the record instead of quarantining it.
            obj = boundedjson.loads(line)
        except ValueError as exc:
            raise BatchError(f"line {n}: not JSON ({exc})") from None
        if isinstance(obj, dict) and "a" in obj:
            if not isinstance(obj["a"], dict):
                raise BatchError(f"line {n}: alert is not an object")
            out.alerts.append(obj["a"])
            continue
        try:
            doc = decoder.decode(obj)
        except wire.WireError as exc:
            raise BatchError(f"line {n}: {exc}") from None
        if doc is not None:
            out.events.append(doc)
    return out
