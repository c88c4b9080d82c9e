"""Ships the events that leave the node to a Kinesis stream, and never loses them quietly.

Documents are packed into batches (``lanner.batch``: about 24 KB compressed, one
Kinesis record each) and sent with PutRecords, all under one partition key, the
node's name. The capture loop calls :meth:`KinesisShipper.poll` on each turn; a
poll makes at most one PutRecords call (up to 1 MiB by default: a node's one
partition key means one shard, which takes 1 MiB/s) and never sleeps, so the
loop is delayed by one bounded call at worst (the client has short timeouts and
no retries of its own: the retries are here, where they cannot block).

What fails is kept, in order:

- a PutRecords entry that fails (``ProvisionedThroughputExceededException``,
  ``InternalFailure``, KMS errors) is sent again after a backoff, ahead of
  newer records; the entries of the call that went through are not repeated;
- a call that fails as a whole (endpoint down, throttled, stream gone, no
  credentials) is retried after a backoff: exponential, with jitter, capped;
- after ``spool_after`` calls in a row that delivered nothing, Kinesis counts
  as down: what waits in memory goes to the spool and new batches go straight
  there, until a call gets through again. Memory is also bounded: past
  ``max_queue_bytes`` the oldest batches waiting go to the spool.

The spool is a directory of batch files (``0000000000000042-230.lnb``: sequence
and events, the record Data as is), written atomically (tmp, fsync, rename) and
sent oldest first, before anything in memory, so the order of the node's batches
survives an outage and a restart (a new shipper finds the files and sends them
first). It is bounded by ``max_spool_bytes``; when full, NEW batches are dropped
(until a record has been delivered), counted and warned about: the spool keeps
the start of the outage, without holes, which is when whatever caused it
happened. Files that cannot be read back as batches are moved to ``corrupt/``
and counted; they never stop the sensor.

Delivery is at least once: a call that times out after Kinesis took it is sent
again. Downstream, an alert's uuid is derived from its event, so a repeated
record gives the same alerts and the detector's dedup table publishes them
once. Order: batches are sent in the order they were made, and each holds its
events in order; only a retried entry can land after records of the same call
that got through (Kinesis throttles a shard's excess, which is the tail of a
call, so in practice the order holds there too).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random as _random
import re
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from lanner.batch import DEFAULT_TARGET, Batch, BatchError, BatchWriter, check

# PutRecords limits (Kinesis Data Streams quotas).
MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024  # data and partition keys of every record in the call
MAX_RECORD_BYTES = 1024 * 1024  # one record's data and partition key
MAX_PARTITION_KEY = 256
# A node's records share one partition key, so one shard, which takes 1 MiB/s: a bigger
# call would mostly come back throttled, and a smaller one keeps each poll short.
DEFAULT_CALL_BYTES = 1024 * 1024

DEFAULT_SPOOL_BYTES = 256 * 1024 * 1024
DEFAULT_QUEUE_BYTES = 16 * 1024 * 1024
DEFAULT_SPOOL_DIR = Path("/var/lib/lanner/spool")

_SPOOL_NAME = re.compile(r"^(\d{16})-(\d+)\.lnb$")  # sequence-events
_SPOOL_SUFFIX = ".lnb"
_CORRUPT_DIR = "corrupt"
# A warning that could repeat on every batch (dropped, spooled for memory) is
# repeated at most this often, with the running count.
_WARN_EVERY_S = 60.0


class ShipError(RuntimeError):
    """Shipping cannot start (no such stream, no region or credentials, spool unusable)."""


@dataclass
class ShipStats:
    """What the shipper did. Node alerts count as events here (they travel the same way)."""

    events_sent: int = 0  # reached Kinesis
    records_sent: int = 0
    calls: int = 0  # PutRecords calls made
    failed_calls: int = 0  # calls that failed as a whole
    failed_records: int = 0  # records refused in calls that went through (sent again)
    retried: int = 0  # events of failed entries or calls, kept to be sent again
    spooled: int = 0  # events written to the spool (sent later, or by the next run)
    dropped: int = 0  # events lost: spool full or unwritable, record over 1 MiB
    corrupt_files: int = 0  # spool files moved to corrupt/
    spool_bytes: int = 0  # in the spool now
    spool_files: int = 0
    queue_bytes: int = 0  # waiting in memory now
    queue_records: int = 0
    last_error: str = ""

    def summary(self) -> str:
        return (
            f"shipped {self.events_sent} events in {self.records_sent} records, "
            f"retried {self.retried}, spooled {self.spooled}, dropped {self.dropped}; "
            f"spool: {self.spool_files} records, {self.spool_bytes} bytes"
            + (f", {self.corrupt_files} corrupt file(s) set aside" if self.corrupt_files else "")
        )


@dataclass(slots=True, eq=False)
class _Record:
    data: bytes
    events: int  # events and node alerts in it
    path: Path | None = None  # its spool file, when it was read from the spool


def _stderr(message: str) -> None:
    print(f"lanner sensor: {message}", file=sys.stderr, flush=True)


class Spool:
    """The on-disk queue: one file per record, oldest first, bounded in bytes.

    One process at a time: the directory is locked (``flock``) for the spool's lifetime.
    """

    def __init__(
        self, directory: Path, max_bytes: int, on_corrupt: Callable[[Path, str], None]
    ) -> None:
        self.dir = Path(directory)
        self.max_bytes = max_bytes
        self._on_corrupt = on_corrupt
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._lock = os.open(self.dir / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        except OSError as exc:
            raise ShipError(f"cannot use spool directory {self.dir}: {exc.strerror}") from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock)
            raise ShipError(
                f"spool directory {self.dir} is in use by another lanner sensor"
            ) from None
        self._files: deque[tuple[Path, int, int]] = deque()  # path, bytes, events
        self.bytes = 0
        self._seq = 0
        self._full = False
        for path in sorted(self.dir.iterdir()):
            m = _SPOOL_NAME.match(path.name)
            if m and path.is_file():
                size = path.stat().st_size
                self._files.append((path, size, int(m.group(2))))
                self.bytes += size
                self._seq = int(m.group(1)) + 1
            elif path.name.endswith(_SPOOL_SUFFIX + ".tmp"):
                # A write that never completed (the process died before the rename).
                self._set_aside(path, "incomplete write")

    def __len__(self) -> int:
        return len(self._files)

    def append(self, data: bytes, events: int) -> bool:
        """Writes one record at the tail; False when it does not fit (nothing written).

        Once one did not fit, none does until a record has left the spool: what it keeps
        is the start of the outage without holes. Raises OSError when the disk refuses."""
        if self._full or self.bytes + len(data) > self.max_bytes:
            self._full = True
            return False
        path = self.dir / f"{self._seq:016d}-{events}{_SPOOL_SUFFIX}"
        tmp = path.with_name(path.name + ".tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        self._sync_dir()  # the rename itself survives a node crash
        self._seq += 1
        self._files.append((path, len(data), events))
        self.bytes += len(data)
        return True

    def head(self, max_records: int, max_bytes: int, overhead: int) -> list[_Record]:
        """The oldest records, within the limits of one call (each costs ``overhead`` more).

        Each is checked to be an intact batch (zlib's checksum); one that is not is set
        aside and skipped."""
        out: list[_Record] = []
        total = 0
        for path, size, events in list(self._files):
            if size + overhead > MAX_RECORD_BYTES:  # not ours, and it would block the spool
                self._forget(path)
                self._set_aside(path, f"{size} bytes, over a Kinesis record's 1 MiB")
                continue
            if len(out) >= max_records or total + size + overhead > max_bytes:
                break
            try:
                data = path.read_bytes()
                check(data)
            except (OSError, BatchError) as exc:
                self._forget(path)
                self._set_aside(path, str(exc))
                continue
            out.append(_Record(data, events, path))
            total += size + overhead
        return out

    def remove(self, path: Path) -> None:
        self._forget(path)
        self._full = False
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._lock)

    def _forget(self, path: Path) -> None:
        for i, (p, size, _events) in enumerate(self._files):
            if p == path:
                del self._files[i]
                self.bytes -= size
                return

    def _set_aside(self, path: Path, reason: str) -> None:
        aside = self.dir / _CORRUPT_DIR
        try:
            aside.mkdir(exist_ok=True)
            os.replace(path, aside / path.name)
        except OSError:
            with contextlib.suppress(OSError):
                path.unlink()
        self._on_corrupt(path, reason)

    def _sync_dir(self) -> None:
        with contextlib.suppress(OSError):
            fd = os.open(self.dir, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


class KinesisShipper:
    """Batches, sends, retries and spools; see the module docstring for the guarantees."""

    def __init__(
        self,
        client: Any,
        stream_name: str,
        partition_key: str,
        *,
        spool_dir: Path = DEFAULT_SPOOL_DIR,
        max_spool_bytes: int = DEFAULT_SPOOL_BYTES,
        linger: float = 1.0,
        max_queue_bytes: int = DEFAULT_QUEUE_BYTES,
        max_call_bytes: int = DEFAULT_CALL_BYTES,
        spool_after: int = 3,
        backoff_base: float = 0.2,
        backoff_cap: float = 30.0,
        batch_target: int = DEFAULT_TARGET,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
        warn: Callable[[str], None] = _stderr,
    ) -> None:
        self.client = client
        self.stream_name = stream_name
        self.partition_key = (partition_key or "lanner")[:MAX_PARTITION_KEY]
        self._key_bytes = len(self.partition_key.encode())
        self.linger = linger
        self.max_queue_bytes = max_queue_bytes
        self.max_call_bytes = min(max(max_call_bytes, MAX_RECORD_BYTES), MAX_BYTES_PER_CALL)
        self.spool_after = spool_after
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._clock = clock
        self._sleep = sleep
        self._random = random
        self._warn = warn
        self._stats = ShipStats()
        self._writer = BatchWriter(batch_target)
        self._opened: float | None = None  # when the unfinished batch got its first document
        self._queue: deque[_Record] = deque()
        self._queue_bytes = 0
        self._streak = 0  # calls in a row with any failure: sets the backoff
        self._stalled = 0  # calls in a row that delivered nothing: Kinesis is down
        self._retry_at = 0.0
        self._outage = False
        self._last_warned: dict[str, float] = {}
        self._closed = False
        self._spool = Spool(Path(spool_dir), max_spool_bytes, self._corrupt)
        if len(self._spool):
            self._warn(
                f"{len(self._spool)} spooled records ({self._spool.bytes} bytes) from an "
                f"earlier run in {self._spool.dir}; sending them first"
            )

    # -- the capture loop's side ------------------------------------------------------

    @property
    def stats(self) -> ShipStats:
        self._stats.spool_bytes = self._spool.bytes
        self._stats.spool_files = len(self._spool)
        self._stats.queue_bytes = self._queue_bytes
        self._stats.queue_records = len(self._queue)
        return self._stats

    def add(self, doc: dict[str, Any]) -> None:
        """Queues one enriched event for shipping."""
        self._added(self._writer.add(doc))

    def add_alert(self, alert: dict[str, Any]) -> None:
        """Queues an alert made on the node (Falco's JSON schema, ``Alert.to_dict()``)."""
        self._added(self._writer.add_alert(alert))

    def poll(self) -> None:
        """Does what is due: finishes a lingering batch, makes at most one call. Never sleeps."""
        now = self._clock()
        if self._opened is not None and now - self._opened >= self.linger:
            self._flush_writer()
        if now >= self._retry_at:
            self._send_once(now)

    def close(self, timeout: float = 10.0) -> None:
        """Sends what is left for at most ``timeout`` seconds; spools whatever is still unsent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._flush_writer()
            deadline = self._clock() + timeout
            # While Kinesis is down, waiting would only spend the shutdown's grace period.
            while not self._outage and (self._queue or len(self._spool)):
                now = self._clock()
                if now >= deadline:
                    break
                if now < self._retry_at:
                    self._sleep(min(self._retry_at, deadline) - now)
                    continue
                if not self._send_once(now):
                    break
            self._spool_all()
        finally:
            self._spool.close()

    def __enter__(self) -> KinesisShipper:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- batching ------------------------------------------------------------------------

    def _added(self, batch: Batch | None) -> None:
        if batch is not None:
            self._enqueue(batch)
            self._opened = None
        if self._opened is None and self._writer.pending:
            self._opened = self._clock()

    def _flush_writer(self) -> None:
        while (batch := self._writer.flush()) is not None:
            self._enqueue(batch)
        self._opened = None

    def _enqueue(self, batch: Batch) -> None:
        events = batch.events + batch.alerts
        if len(batch.data) + self._key_bytes > MAX_RECORD_BYTES:
            # Only a single enormous document can do this (batches are cut at 25 KiB).
            self._drop(events, f"a record of {len(batch.data)} bytes is over Kinesis' 1 MiB")
            return
        rec = _Record(batch.data, events)
        if self._outage:
            self._to_spool(rec)
            return
        self._queue.append(rec)
        self._queue_bytes += len(rec.data)
        if self._queue_bytes > self.max_queue_bytes:
            self._warn_now(
                "queue",
                f"more than {self.max_queue_bytes} bytes waiting for Kinesis; "
                f"spooling the oldest to {self._spool.dir}",
            )
            while self._queue_bytes > self.max_queue_bytes // 2:
                self._to_spool(self._pop())

    # -- sending -------------------------------------------------------------------------

    def _next_call(self) -> tuple[list[_Record], int]:
        """The records of the next call, oldest first: the spool's, then memory's.

        Returns them and how many come from the memory queue (a prefix of it)."""
        overhead = self._key_bytes
        records = self._spool.head(MAX_RECORDS_PER_CALL, self.max_call_bytes, overhead)
        if len(records) < len(self._spool):
            return records, 0  # memory's records are newer than the rest of the spool
        size = sum(len(r.data) + overhead for r in records)
        from_queue = 0
        for rec in self._queue:
            n = len(rec.data) + overhead
            if len(records) >= MAX_RECORDS_PER_CALL or size + n > self.max_call_bytes:
                break
            records.append(rec)
            size += n
            from_queue += 1
        return records, from_queue

    def _send_once(self, now: float) -> bool:
        """One PutRecords call for what is oldest; False when there was nothing to send."""
        records, from_queue = self._next_call()
        if not records:
            return False
        self._stats.calls += 1
        entries = [{"Data": r.data, "PartitionKey": self.partition_key} for r in records]
        try:
            response = self.client.put_records(StreamName=self.stream_name, Records=entries)
        except (BotoCoreError, ClientError) as exc:
            self._stats.failed_calls += 1
            self._stats.last_error = _describe(exc)
            self._stats.retried += sum(r.events for r in records)
            self._after_call(now, delivered=False, failed=True)
            return True
        results = response.get("Records") or []
        failed: list[_Record] = []
        codes: dict[str, int] = {}
        for i, rec in enumerate(records):
            res = results[i] if i < len(results) else {"ErrorCode": "NoResult"}
            code = res.get("ErrorCode")
            if code:
                failed.append(rec)
                codes[code] = codes.get(code, 0) + 1
                continue
            self._stats.events_sent += rec.events
            self._stats.records_sent += 1
            if rec.path is not None:
                self._spool.remove(rec.path)
        # The memory queue's part of the call was a prefix; its failed records go back in front.
        failed_ids = {id(r) for r in failed}
        again = [r for r in (self._pop() for _ in range(from_queue)) if id(r) in failed_ids]
        self._queue.extendleft(reversed(again))
        self._queue_bytes += sum(len(r.data) for r in again)
        if failed:
            self._stats.failed_records += len(failed)
            self._stats.retried += sum(r.events for r in failed)
            self._stats.last_error = ", ".join(f"{n} x {c}" for c, n in sorted(codes.items()))
        self._after_call(now, delivered=len(failed) < len(records), failed=bool(failed))
        return True

    def _after_call(self, now: float, *, delivered: bool, failed: bool) -> None:
        if delivered and self._outage:
            self._outage = False
            self._warn(
                f"Kinesis stream {self.stream_name} is taking records again; "
                f"{len(self._spool)} spooled records to send"
            )
        if not failed:
            self._streak = self._stalled = 0
            self._retry_at = 0.0
            return
        self._streak += 1
        self._stalled = 0 if delivered else self._stalled + 1
        self._retry_at = now + self._backoff()
        if self._stalled >= self.spool_after and not self._outage:
            self._outage = True
            self._warn(
                f"Kinesis stream {self.stream_name} is not taking records "
                f"({self._stats.last_error}); spooling to {self._spool.dir} until it does"
            )
            self._spool_all()

    def _backoff(self) -> float:
        """Exponential in the failure streak, capped; jittered over its upper half."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** min(self._streak - 1, 30))
        return ceiling / 2 + self._random() * ceiling / 2

    # -- spooling ------------------------------------------------------------------------

    def _pop(self) -> _Record:
        rec = self._queue.popleft()
        self._queue_bytes -= len(rec.data)
        return rec

    def _spool_all(self) -> None:
        while self._queue:
            self._to_spool(self._pop())

    def _to_spool(self, rec: _Record) -> None:
        try:
            written = self._spool.append(rec.data, rec.events)
        except OSError as exc:
            self._drop(rec.events, f"cannot write to {self._spool.dir}: {exc.strerror}")
            return
        if written:
            self._stats.spooled += rec.events
        else:
            self._drop(
                rec.events, f"spool {self._spool.dir} is full ({self._spool.max_bytes} bytes)"
            )

    def _drop(self, events: int, reason: str) -> None:
        self._stats.dropped += events
        self._warn_now("drop", f"dropped {self._stats.dropped} events so far: {reason}")

    def _corrupt(self, path: Path, reason: str) -> None:
        self._stats.corrupt_files += 1
        self._warn(
            f"spool file {path.name} is not a readable batch ({reason}); moved to {_CORRUPT_DIR}/"
        )

    def _warn_now(self, kind: str, message: str) -> None:
        now = self._clock()
        last = self._last_warned.get(kind)
        if last is None or now - last >= _WARN_EVERY_S:
            self._last_warned[kind] = now
            self._warn(message)


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'error')}: {err.get('Message', '')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


def kinesis_client() -> Any:
    """A Kinesis client from the standard AWS environment (``AWS_REGION`` or
    ``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL``, IRSA's web identity), with short
    timeouts and no retries of its own: the shipper retries without blocking the loop."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 1})
    try:
        return boto3.client(
            "kinesis", region_name=os.environ.get("AWS_REGION") or None, config=config
        )
    except NoRegionError:
        raise ShipError("no AWS region: set AWS_REGION (IRSA sets it in EKS)") from None


def check_stream(client: Any, stream_name: str) -> str | None:
    """Raises ShipError when the stream does not exist or there are no credentials;
    returns a warning when Kinesis cannot answer now (shipping goes on, spooling)."""
    try:
        client.describe_stream_summary(StreamName=stream_name)
    except NoCredentialsError:
        raise ShipError(
            "no AWS credentials for Kinesis (IRSA, AWS_* variables or a profile)"
        ) from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code == "ResourceNotFoundException":
            region = getattr(getattr(client, "meta", None), "region_name", None) or "?"
            raise ShipError(
                f"Kinesis stream {stream_name!r} does not exist (region {region})"
            ) from None
        return f"cannot check Kinesis stream {stream_name!r} ({_describe(exc)}); shipping anyway"
    except BotoCoreError as exc:
        return f"cannot reach Kinesis to check stream {stream_name!r} ({exc}); spooling meanwhile"
    return None


def iter_spool(directory: Path) -> Iterator[Path]:
    """The spooled records in sending order (for operators and tests)."""
    return iter(sorted(p for p in Path(directory).iterdir() if _SPOOL_NAME.match(p.name)))
