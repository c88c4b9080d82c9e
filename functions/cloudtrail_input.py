"""What reaches the CloudTrail detector, decoded: notices, log keys and log files.

Three kinds of notice start a detection:

- an S3 event notification for a new log file (straight from S3, or as the
  body of an SQS message, or inside an SNS message on that queue), or S3's
  "Object Created" event through EventBridge;
- a CloudTrail record delivered by EventBridge (``detail-type`` "AWS API Call
  via CloudTrail" and the other "... via CloudTrail" types), seconds after the
  call instead of the ~5 minutes a log file takes;
- things that need no work: S3's ``s3:TestEvent``, Insights events.

A log file is read as a stream: gzip is undone chunk by chunk and the
``{"Records": [...]}`` document is decoded one record at a time, so a file of
tens of MB never exists as Python objects all at once. When the file is
damaged (truncated gzip, not JSON) the records before the damage are still
yielded, then the damage is reported. A record the decoder refuses (nested
deeper than ``lanner.boundedjson``'s limit, a number of more than 4,300 digits)
is one BadRecord: the reader steps over its text and goes on.

Everything here is pure: no boto3, no clock. The caller hands in the bytes.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import io
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol
from urllib.parse import unquote_plus

from lanner import boundedjson, json_kind
from lanner.boundedjson import json_value_end

SOURCE = "aws_cloudtrail"

# -- log keys -------------------------------------------------------------------

# [prefix/]AWSLogs/[o-orgid/]ACCOUNT/KIND/REGION/YYYY/MM/DD/FILE
# KIND is CloudTrail for logs, CloudTrail-Digest for the hourly digests,
# CloudTrail-Insight for Insights events; other services log under AWSLogs/ too.
_LOG_KEY = re.compile(
    r"(?:.*/)?AWSLogs/(?:(?P<org>o-[a-z0-9]{10,32})/)?(?P<account>\d{12})/"
    r"(?P<kind>[^/]+)/(?P<region>[a-z0-9-]+)/(?P<date>\d{4}/\d\d/\d\d)/(?P<file>[^/]+)"
)
_LOG_FILE = re.compile(r".+\.json(?:\.gz)?")


@dataclass(frozen=True, slots=True)
class LogKey:
    """Where a CloudTrail log file sits: which account and region it covers."""

    account: str
    region: str
    date: str  # YYYY/MM/DD, as in the key
    org_id: str | None  # set for an organisation trail


@dataclass(frozen=True, slots=True)
class NotALog:
    """A key the detector passes over on purpose (counted, not an error)."""

    reason: str


def parse_log_key(key: str) -> LogKey | NotALog:
    """A URL-decoded object key as a CloudTrail log file, or why it is not one."""
    m = _LOG_KEY.fullmatch(key)
    if m is None:
        return NotALog("not under AWSLogs/<account>/CloudTrail/")
    kind = m["kind"]
    if kind == "CloudTrail-Digest":
        return NotALog("CloudTrail digest file")
    if kind == "CloudTrail-Insight":
        # Insights records describe unusual call rates, not calls: no rule reads them.
        return NotALog("CloudTrail Insights file")
    if kind != "CloudTrail":
        return NotALog(f"not a CloudTrail log ({kind} under AWSLogs/)")
    if _LOG_FILE.fullmatch(m["file"]) is None:
        return NotALog("not a .json.gz log file")
    return LogKey(account=m["account"], region=m["region"], date=m["date"], org_id=m["org"])


# -- notices ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class S3Object:
    """One object an S3 notification announces; ``key`` is URL-decoded."""

    bucket: str
    key: str
    size: int | None = None

    @property
    def origin(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True, slots=True)
class ObjectsCreated:
    """An S3 event notification: the objects created, and how many other records
    (removals, restores...) it held, which need nothing."""

    objects: tuple[S3Object, ...]
    others: int = 0


@dataclass(frozen=True, slots=True)
class TrailEvent:
    """One CloudTrail record delivered by EventBridge (its ``detail``)."""

    record: dict[str, Any]
    origin: str


@dataclass(frozen=True, slots=True)
class Ignored:
    """A notice that needs no work (an S3 test event, an Insights event)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Unrecognised:
    """A notice of no known shape: set aside, never retried."""

    reason: str


Notice = ObjectsCreated | TrailEvent | Ignored | Unrecognised

_VIA_CLOUDTRAIL = " via CloudTrail"
_INSIGHT = "AWS Insight via CloudTrail"


def is_sqs_event(event: Any) -> bool:
    """True for a Lambda event that is a batch of SQS messages."""
    records = event.get("Records") if isinstance(event, dict) else None
    return (
        isinstance(records, list)
        and bool(records)
        and isinstance(records[0], dict)
        and records[0].get("eventSource") == "aws:sqs"
    )


def parse_message_body(body: str) -> Notice:
    """The notice an SQS message body carries."""
    try:
        doc = boundedjson.loads(body)
    except ValueError as exc:
        return Unrecognised(f"message body is not JSON: {exc}")
    return parse_notice(doc)


def parse_notice(doc: Any) -> Notice:
    """The notice a Lambda event (or a decoded message body) is."""
    return _notice(doc, wrapped=False)


def _notice(doc: Any, *, wrapped: bool) -> Notice:
    if not isinstance(doc, dict):
        return Unrecognised("not a JSON object")
    if doc.get("Event") == "s3:TestEvent":
        return Ignored("S3 test event")
    if "detail-type" in doc:
        return _eventbridge(doc)
    records = doc.get("Records")
    if isinstance(records, list) and records:
        first = records[0] if isinstance(records[0], dict) else {}
        if first.get("eventSource") == "aws:s3":
            return _s3_notification(records)
        # SNS straight to Lambda: one record holding the message.
        if first.get("EventSource") == "aws:sns" and len(records) == 1 and not wrapped:
            sns = first.get("Sns")
            if isinstance(sns, dict):
                return _sns_message(sns.get("Message"))
    if doc.get("Type") == "Notification" and "TopicArn" in doc and not wrapped:
        # An SNS topic subscribed by the queue without raw message delivery.
        return _sns_message(doc.get("Message"))
    return Unrecognised(
        "not an S3 event notification, an SNS message or an EventBridge CloudTrail event"
    )


def _sns_message(message: Any) -> Notice:
    if not isinstance(message, str):
        return Unrecognised("SNS message without a Message string")
    try:
        doc = boundedjson.loads(message)
    except ValueError as exc:
        return Unrecognised(f"SNS Message is not JSON: {exc}")
    return _notice(doc, wrapped=True)


def _eventbridge(doc: dict[str, Any]) -> Notice:
    detail_type = doc.get("detail-type")
    if doc.get("source") == "aws.s3":
        return _s3_eventbridge(detail_type, doc.get("detail"))
    if not isinstance(detail_type, str) or not detail_type.endswith(_VIA_CLOUDTRAIL):
        return Unrecognised(f"EventBridge event {detail_type!r} is not from CloudTrail")
    if detail_type == _INSIGHT:
        return Ignored("CloudTrail Insights event")
    detail = doc.get("detail")
    if not isinstance(detail, dict):
        return Unrecognised(f"EventBridge {detail_type!r} event without a detail object")
    try:
        # A direct invocation's event was decoded by the Lambda runtime, unbounded.
        boundedjson.check(detail)
    except boundedjson.JsonInputError as exc:
        return Unrecognised(f"EventBridge {detail_type!r} event refused: its detail {exc}")
    event_id = detail.get("eventID") or doc.get("id")
    return TrailEvent(detail, f"eventbridge:{event_id}")


def _s3_eventbridge(detail_type: Any, detail: Any) -> Notice:
    """S3's own EventBridge events (the bucket's "Send notifications to EventBridge")."""
    if detail_type != "Object Created":
        return Ignored(f"S3 {detail_type!r} event")
    bucket = detail.get("bucket") if isinstance(detail, dict) else None
    obj = detail.get("object") if isinstance(detail, dict) else None
    bucket_name = bucket.get("name") if isinstance(bucket, dict) else None
    key = obj.get("key") if isinstance(obj, dict) else None
    if not isinstance(bucket_name, str) or not isinstance(key, str):
        return Unrecognised("S3 'Object Created' event has no detail.bucket.name or object.key")
    size = obj.get("size") if isinstance(obj, dict) else None
    # Keys are URL-encoded as in S3's notifications.
    s3obj = S3Object(bucket_name, unquote_plus(key), size if isinstance(size, int) else None)
    return ObjectsCreated((s3obj,))


def _s3_notification(records: list[Any]) -> Notice:
    objects: list[S3Object] = []
    others = 0
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or rec.get("eventSource") != "aws:s3":
            return Unrecognised(f"S3 notification Records[{i}] is not an S3 event")
        name = rec.get("eventName")
        if not isinstance(name, str) or not name.startswith("ObjectCreated:"):
            others += 1
            continue
        s3 = rec.get("s3")
        bucket = s3.get("bucket") if isinstance(s3, dict) else None
        obj = s3.get("object") if isinstance(s3, dict) else None
        bucket_name = bucket.get("name") if isinstance(bucket, dict) else None
        key = obj.get("key") if isinstance(obj, dict) else None
        if not isinstance(bucket_name, str) or not isinstance(key, str):
            return Unrecognised(f"S3 notification Records[{i}] has no bucket name or key")
        size = obj.get("size") if isinstance(obj, dict) else None
        # S3 URL-encodes keys in notifications, spaces as '+'.
        objects.append(
            S3Object(bucket_name, unquote_plus(key), size if isinstance(size, int) else None)
        )
    return ObjectsCreated(tuple(objects), others)


# -- log files ----------------------------------------------------------------------


class Readable(Protocol):
    """What reading needs of an object body (a boto3 StreamingBody, a file)."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One element of the file's Records array."""

    index: int
    doc: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BadRecord:
    """An element of Records that cannot be evaluated (not an object, nested too deep,
    a number too large to convert); the rest are read."""

    index: int
    reason: str
    text: str  # the element's text as the file has it, for the quarantine


@dataclass(frozen=True, slots=True)
class Damaged:
    """The file could not be read to its end; ``records`` elements came before."""

    reason: str
    records: int


LogItem = LogRecord | BadRecord | Damaged

CHUNK = 256 * 1024
# One record bigger than this stops the read: CloudTrail records are KBs, and an
# unbounded buffer is how a hostile object would exhaust the function's memory.
MAX_RECORD_CHARS = 16 * 1024 * 1024

_GZIP_MAGIC = b"\x1f\x8b"
_BOM = "\ufeff"
_WS = re.compile(r"[ \t\n\r]*")


def read_log(
    body: Readable, *, chunk: int = CHUNK, max_record: int = MAX_RECORD_CHARS
) -> Iterator[LogItem]:
    """The records of one CloudTrail log file, one at a time, then any damage.

    ``body`` may be gzip (told by its magic bytes) or plain JSON. Errors from
    ``body.read`` itself (a dropped connection) are not damage: they propagate,
    so the caller can retry the whole object.
    """
    reader = _Reader(_decompressed(body), chunk, max_record)
    broken: str | None = None
    try:
        yield from reader.records()
    except _Broken as exc:
        broken = exc.reason
    # A stream that failed ended the text early: that, not what the parser made
    # of the text it got, is what went wrong.
    reason = reader.failure or broken
    if reason is not None:
        yield Damaged(reason, reader.count)


# What undoing gzip or UTF-8 raises on damaged data. Errors of the body itself
# (botocore's, some of them OSErrors) are left out on purpose: they are not damage.
_DAMAGE = (EOFError, gzip.BadGzipFile, zlib.error, UnicodeDecodeError)


def _damage(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "truncated gzip stream (the object is incomplete)"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text ({exc.reason})"
    return f"corrupt gzip stream: {exc}"


class _Prepended:
    """A body whose first bytes were already read (to look for the gzip magic)."""

    def __init__(self, head: bytes, body: Readable) -> None:
        self._head = head
        self._body = body

    def read(self, size: int = -1, /) -> bytes:
        if self._head:
            if size < 0:
                data, self._head = self._head + self._body.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._body.read(size)

    def seek(self, offset: int, /) -> int:
        # GzipFile wants the method; it only seeks to rewind, which a stream never does.
        raise io.UnsupportedOperation("seek")


def _decompressed(body: Readable) -> Readable:
    head = body.read(len(_GZIP_MAGIC))
    stream = _Prepended(head, body)
    if head == _GZIP_MAGIC:
        return _Gunzipped(gzip.GzipFile(fileobj=stream, mode="rb"))
    return stream


class _Gunzipped:
    """A gzip stream read one decompressed piece at a time.

    ``GzipFile.read(n)`` loops until it has n bytes, so damage found on a later
    loop would lose the good data of the earlier ones; ``read1`` returns as soon
    as it has any.
    """

    def __init__(self, file: gzip.GzipFile) -> None:
        self._file = file

    def read(self, size: int = -1, /) -> bytes:
        return self._file.read1(size)


class _Broken(Exception):
    """The document stops making sense here; what came before stands."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Refused(Exception):
    """One value the decoder cannot take; the reader has already stepped over it."""

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.text = text


def _unusable(value: Any, buf: str, start: int, end: int) -> str | None:
    """Why a decoded Records element (``buf[start:end]``) cannot be evaluated, or None."""
    # Rules, alert formatting and re-serialising must never meet a document deeper
    # than boundedjson's limit; counting brackets first keeps the usual record's
    # check to two C-speed scans of its text (boundedjson counts the innermost
    # scalar as a level too: one bracket fewer).
    if buf.count("{", start, end) + buf.count("[", start, end) >= boundedjson.MAX_DEPTH:
        try:
            boundedjson.check(value)
        except boundedjson.JsonInputError as exc:
            return f"record refused: {exc}"
    if not isinstance(value, dict):
        return f"record is not a JSON object (it is {json_kind(value)})"
    return None


class _Reader:
    """An incremental decoder for ``{"Records": [...]}``.

    The text is kept in a buffer that only holds what has not been decoded
    yet; each record is decoded by ``json``'s C scanner straight from it.
    A record cut by the end of the buffer shows as a decode error at the end:
    more text is read (at least doubling what is pending, so a big record
    costs linear time) and the record is decoded again.
    """

    def __init__(self, stream: Readable, chunk: int, max_record: int) -> None:
        self._stream = stream
        self._chunk = chunk
        self._max = max_record
        self._text = codecs.getincrementaldecoder("utf-8")()
        self._json = json.JSONDecoder()
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._started = False
        self.start = 0  # where the value _value returned last begins
        self.count = 0  # Records elements read so far
        self.failure: str | None = None  # why the stream ended early, if it did

    def records(self) -> Iterator[LogRecord | BadRecord]:
        c = self._peek()
        if not c:
            raise _Broken("empty file")
        if c != "{":
            raise _Broken(f"not JSON: the file starts with {self._preview()!r}")
        self._pos += 1
        seen = False
        while True:
            c = self._peek()
            if c == "}":
                self._pos += 1
                break
            key = self._value("a key")
            if not isinstance(key, str):
                raise _Broken("not JSON: expected a key in the top-level object")
            self._expect(":", f"after the key {key!r}")
            if key == "Records":
                if self._peek() != "[":
                    raise _Broken("not a CloudTrail log: Records is not an array")
                self._pos += 1
                seen = True
                yield from self._elements()
            else:
                # Not ours: read past it (too deep or too large does not matter here).
                with contextlib.suppress(_Refused):
                    self._value(f"the value of {key!r}")
            c = self._peek()
            if c == ",":
                self._pos += 1
                continue
            if c == "}":
                self._pos += 1
                break
            raise self._unexpected(c, "',' or '}' in the top-level object")
        if not seen:
            raise _Broken("not a CloudTrail log: no Records array")
        if self._peek():
            raise _Broken("not JSON: data after the end of the document")

    def _elements(self) -> Iterator[LogRecord | BadRecord]:
        if self._peek() == "]":
            self._pos += 1
            return
        while True:
            index = self.count
            try:
                value = self._value(f"Records[{index}]")
            except _Refused as exc:
                self.count += 1
                yield BadRecord(index, f"record refused: {exc.reason}", exc.text)
            else:
                self.count += 1
                reason = _unusable(value, self._buf, self.start, self._pos)
                if reason is None:
                    yield LogRecord(index, value)
                else:
                    yield BadRecord(index, reason, self._buf[self.start : self._pos])
            c = self._peek()
            if c == ",":
                self._pos += 1
            elif c == "]":
                self._pos += 1
                return
            else:
                raise self._unexpected(c, f"',' or ']' after Records[{index}]")

    # -- the buffer ---------------------------------------------------------------

    def _fill(self, wanted: int) -> bool:
        """Reads until ``wanted`` more characters are buffered or the stream ends."""
        if self._pos:
            self._buf = self._buf[self._pos :]
            self._pos = 0
        got = 0
        while got < wanted and not self._eof:
            try:
                raw = self._stream.read(self._chunk)
                text = self._text.decode(raw, final=not raw)
            except _DAMAGE as exc:
                # Keep what was buffered: the records before the damage still count.
                self.failure = _damage(exc)
                self._eof = True
                break
            self._eof = not raw
            if not self._started and text:
                self._started = True
                text = text.removeprefix(_BOM)
            self._buf += text
            got += len(text)
        return got > 0

    def _peek(self) -> str:
        """The next character that is not white space ('' at the end), not consumed."""
        while True:
            self._pos = _WS.match(self._buf, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill(self._chunk):
                return ""

    def _expect(self, char: str, where: str) -> None:
        c = self._peek()
        if c != char:
            raise self._unexpected(c, f"{char!r} {where}")
        self._pos += 1

    def _value(self, what: str) -> Any:
        """Decodes the JSON value at the current position (after white space); its
        text is then ``self._buf[self.start : self._pos]``.

        _Refused (after stepping over it) for a value the decoder cannot take: too
        deep for its recursion, or a number of more than 4,300 digits.
        """
        if not self._peek():
            raise _Broken(f"the document ends before {what} (the object is truncated)")
        while True:
            try:
                value, end = self._json.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                if self._eof:
                    if _cut_short(exc, self._buf):
                        raise _Broken(
                            f"the document ends inside {what} (the object is truncated)"
                        ) from None
                    raise _Broken(f"not JSON in {what}: {exc.msg}") from None
                if not _cut_short(exc, self._buf):
                    raise _Broken(f"not JSON in {what}: {exc.msg}") from None
                self._more(what)
                continue
            except (RecursionError, ValueError):
                # RecursionError is no ValueError: uncaught, it failed the whole
                # invocation. Only this value is refused; the rest of the file is read.
                self._refuse(what)
            if end == len(self._buf) and not self._eof:
                # A number or literal may go on in the next chunk: look first.
                self._more(what)
                continue
            self.start = self._pos
            self._pos = end
            return value

    def _refuse(self, what: str) -> NoReturn:
        """Steps over the value at the current position, then raises _Refused with why."""
        while True:
            end = json_value_end(self._buf, self._pos)
            if end is not None and (end < len(self._buf) or self._eof):
                break
            if self._eof:
                raise _Broken(f"the document ends inside {what} (the object is truncated)")
            self._more(what)
        text = self._buf[self._pos : end]
        self._pos = end
        try:
            boundedjson.loads(text)  # says why, in the words every reader uses
        except boundedjson.JsonInputError as exc:
            raise _Refused(str(exc), text) from None
        raise _Broken(f"not JSON in {what}")  # pragma: no cover - decodes alone: cannot be

    def _more(self, what: str) -> None:
        pending = len(self._buf) - self._pos
        if pending > self._max:
            raise _Broken(f"{what} is larger than {_size(self._max)}; the rest is not read")
        self._fill(max(self._chunk, pending))

    def _unexpected(self, c: str, wanted: str) -> _Broken:
        if not c:
            return _Broken(f"the document ends where {wanted} should be (the object is truncated)")
        return _Broken(f"not JSON: expected {wanted}, found {c!r}")

    def _preview(self) -> str:
        return self._buf[self._pos : self._pos + 24]


def _cut_short(exc: json.JSONDecodeError, buf: str) -> bool:
    """Whether a decode error is (or may be) the end of the text, not bad JSON."""
    # json reports an unfinished string at its opening quote, anything else at
    # (or a few characters before, for an escape) the point where text ran out.
    return exc.msg.startswith("Unterminated string") or exc.pos >= len(buf) - 6


def _size(chars: int) -> str:
    if chars >= 1024 * 1024:
        return f"{chars / (1024 * 1024):g} MiB"
    return f"{chars} characters"
