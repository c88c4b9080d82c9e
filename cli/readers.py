"""Reading recorded events for ``lanner scan``: files, gzip, JSON and JSON lines.

Everything here is lazy and forgiving. Files are opened one at a time as the
caller iterates, JSON lines are decoded one line at a time, and nothing a file
contains stops the scan: each problem becomes a ``BadInput`` the caller reports
before going on with the next line or file.

How a file is read is decided from its content, never its name: gzip by its
magic bytes, then JSON lines or one whole document by its first non-blank line
(a line that is a complete JSON value means JSON lines; a line that opens a
value it does not close means a whole, possibly pretty-printed, document).

No file can exhaust memory or make the scan decompress without end (``ReadLimits``):
a line longer than a line may be is skipped, a document larger than a document may be
is not read, and a gzip file stops being read once it has given many times more bytes
than it holds (a gzip bomb). Each cut is a ``BadInput`` saying what was cut and why, so
``lanner scan`` counts and reports it like any other bad input.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from lanner import boundedjson, json_kind, wire

try:  # optional and faster; the standard library must always work
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads

CLOUDTRAIL = "aws_cloudtrail"
K8S_AUDIT = "k8s_audit"

_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_DIGEST_MARK = "CloudTrail-Digest"
# A first line ending in one of these opens a value it does not close: the
# file is a pretty-printed document, not JSON lines.
_OPENERS = (b"{", b"[", b",", b":")
_WS = re.compile(r"[ \t\n\r]*")


_MIB = 1 << 20


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """How much of one file ``read_paths`` reads: what is past a limit is cut, and each
    cut is one BadInput. The defaults hold every real log and recording with room to
    spare: an audit event carries at most a Kubernetes object (about 1.5 MiB, etcd's
    bound), a recorded event a few KiB, and JSON compresses some 10 to 30 times."""

    # One line of a JSON lines file, the first one excepted: longer ones are skipped.
    line: int = 16 * _MIB
    # One whole (possibly pretty-printed) document, which is also what a file's first
    # line may be (CloudTrail writes its {"Records": [...]} on one line). Larger ones are
    # not read; a line that goes on past this is the end of what is read of the file.
    document: int = 256 * _MIB
    # A gzip file is read until it has given this many bytes per byte it holds, or
    # ``gzip_floor`` bytes when that is more (a pipe, whose size is not known, gets the
    # floor); past that it is a gzip bomb, or nothing lanner should read in one go.
    gzip_ratio: int = 200
    gzip_floor: int = 1024 * _MIB


LIMITS = ReadLimits()


@dataclass(frozen=True, slots=True)
class Record:
    """One decoded event, the source it belongs to, and where it came from."""

    doc: Any
    source: str
    origin: str


@dataclass(frozen=True, slots=True)
class BadInput:
    """Something that could not be read as an event; the scan goes on."""

    origin: str
    message: str

    def __str__(self) -> str:
        return f"{self.origin}: {self.message}"


def read_paths(
    paths: Sequence[str | Path], source: str | None = None, *, limits: ReadLimits = LIMITS
) -> Iterator[Record | BadInput]:
    """Yield every event recorded in ``paths`` (files or directories), in order.

    With ``source`` None each record's source is detected from its fields;
    otherwise every record is taken to be of ``source``. CloudTrail
    ``{"Records": [...]}`` and Kubernetes ``EventList`` wrappers are unwrapped
    either way, and so are EventBridge's "... via CloudTrail" events (unless
    ``source`` names another source); CloudTrail digest files are skipped.

    No record nests deeper than ``lanner.boundedjson`` allows: a deeper one, or one
    with a number of more than 4,300 digits, is a BadInput at its place
    (``file:Records[3]``, ``file:12``) and the others are read. What ``limits`` cuts is
    a BadInput too: a line too long at its place, and the end of a file read no further.
    """
    for item in _expand(paths):
        if isinstance(item, BadInput):
            yield item
        else:
            yield from _read_file(item, source, limits)


def count_inputs(paths: Sequence[str | Path]) -> int:
    """The number of files ``read_paths(paths)`` will open."""
    return sum(1 for item in _expand(paths) if not isinstance(item, BadInput))


# -- finding files ------------------------------------------------------------


def _expand(paths: Sequence[str | Path]) -> Iterator[Path | BadInput]:
    for given in paths:
        path = Path(given)
        if _DIGEST_MARK in str(path):
            continue
        try:
            is_dir = path.is_dir()
            if not is_dir:
                path.stat()
        except OSError as exc:
            yield BadInput(str(given), _os_message("cannot open", exc))
            continue
        if is_dir:
            yield from _walk(path)
        else:
            # Named explicitly: read even if hidden or not a regular file
            # (``/dev/stdin``, a named pipe).
            yield path


# Files a directory walk passes over: never event logs, often found beside them.
# A file named on the command line is read whatever its name.
_NOT_EVENTS = frozenset({".md", ".rst", ".txt", ".py", ".sh", ".yaml", ".yml", ".toml", ".html"})


def _walk(directory: Path) -> Iterator[Path | BadInput]:
    try:
        with os.scandir(directory) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as exc:
        yield BadInput(str(directory), _os_message("cannot read directory", exc))
        return
    for entry in entries:
        if entry.name.startswith(".") or _DIGEST_MARK in entry.name:
            continue
        if os.path.splitext(entry.name)[1].lower() in _NOT_EVENTS:
            continue  # docs and scripts beside the logs (a README, a generator)
        child = directory / entry.name
        try:
            # Symlinked directories are not followed: they can loop.
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(child)
            elif entry.is_file():
                yield child
        except OSError as exc:
            yield BadInput(str(child), _os_message("cannot open", exc))


def _os_message(what: str, exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return f"{what}: {reason[:1].lower()}{reason[1:]}"


# -- decoding, bounded ------------------------------------------------------------


def _decode(data: bytes) -> Any:
    """One JSON text; a ValueError (JsonInputError when bounds refuse it) says why not.

    The fast decoder answers first. When it refuses the text (orjson takes no integer
    past 64 bits, which json reads) or raises RecursionError (json, ~1,000 levels),
    ``boundedjson`` decides and says why. Either way no value deeper than
    boundedjson's limit gets through: rules, formatting and re-serialising never
    meet one.
    """
    try:
        value = _loads(data)
    except (ValueError, RecursionError):
        return boundedjson.loads(data)
    return boundedjson.check(value, text=data)


def _refused(exc: ValueError) -> bool:
    """Whether the text may be good JSON that the bounds refused (too deep, a number of
    more than 4,300 digits), as opposed to broken JSON or bytes that are not UTF-8."""
    # boundedjson raises "from None": the decoder's own error is still the context.
    return isinstance(exc, boundedjson.JsonInputError) and not isinstance(
        exc.__context__, json.JSONDecodeError | UnicodeDecodeError
    )


_WRAPPER_KEYS = ("Records", "items")


def _by_element(data: bytes, failure: ValueError) -> Any:
    """A document the bounds refused, decoded one record at a time.

    A CloudTrail ``{"Records": [...]}``, an EventList's ``items`` or a top-level array
    is decoded element by element: an element the bounds refuse becomes a _Bad that
    names the reason, and the other records are read. Anything else is one record, so
    it is one _Bad.
    """
    whole = _Bad(f"record refused: {failure}")
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return whole
    decoder = json.JSONDecoder()
    pos = _WS.match(text).end()  # type: ignore[union-attr]
    try:
        if text.startswith("[", pos):
            items, pos = _elements(decoder, text, pos)
            value: Any = items
        elif text.startswith("{", pos):
            members: dict[str, Any] = {}
            pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
            while not text.startswith("}", pos):
                key, pos = decoder.raw_decode(text, pos)
                pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
                if not isinstance(key, str) or not text.startswith(":", pos):
                    return whole
                pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
                if key in _WRAPPER_KEYS and text.startswith("[", pos):
                    members[key], pos = _elements(decoder, text, pos)
                else:
                    members[key], pos = _element(decoder, text, pos)
                pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
                if text.startswith(",", pos):
                    pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
            pos += 1
            value = members
        else:
            return whole
    except (ValueError, IndexError):
        return whole  # broken JSON too: the file's first failure says where
    if _WS.match(text, pos).end() != len(text):  # type: ignore[union-attr]
        return whole
    if isinstance(value, dict) and not _is_wrapper(value):
        return whole  # one record: refused as a whole
    return value


def _failed_line(line: bytes, exc: ValueError) -> Any:
    """What a line that did not decode stands for: its records, some of them _Bad,
    when only the bounds refused it; one _Bad saying why when it is not JSON."""
    return _by_element(line, exc) if _refused(exc) else _Bad(_not_json(exc, line, False))


def _is_wrapper(value: dict[str, Any]) -> bool:
    return isinstance(value.get("Records"), list) or (
        value.get("kind") == "EventList" and isinstance(value.get("items"), list)
    )


def _elements(decoder: json.JSONDecoder, text: str, pos: int) -> tuple[list[Any], int]:
    """The array at ``pos``, each element decoded alone; returns it and where it ends."""
    items: list[Any] = []
    pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
    while not text.startswith("]", pos):
        item, pos = _element(decoder, text, pos)
        items.append(item)
        pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
        if text.startswith(",", pos):
            pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
        elif not text.startswith("]", pos):
            raise ValueError("expected ',' or ']'")
    return items, pos + 1


def _element(decoder: json.JSONDecoder, text: str, pos: int) -> tuple[Any, int]:
    """The value at ``pos`` and where it ends; a _Bad saying why when the bounds refuse it."""
    try:
        value, end = decoder.raw_decode(text, pos)
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError):
        end = boundedjson.json_value_end(text, pos) or len(text)
        try:
            boundedjson.loads(text[pos:end])
        except boundedjson.JsonInputError as exc:
            return _Bad(f"record refused: {exc}"), end
        raise ValueError("refused, then accepted alone") from None  # pragma: no cover
    try:
        boundedjson.check(value)
    except boundedjson.JsonInputError as exc:
        return _Bad(f"record refused: {exc}"), end
    return value, end


# -- reading one file -----------------------------------------------------------


class _Stream(Protocol):
    """What reading needs of a file: a plain one or a gzip one."""

    def readline(self, size: int = -1, /) -> bytes: ...

    def read(self, size: int = -1, /) -> bytes: ...


class _Cut(Exception):
    """Reading went past a ReadLimits bound; the message says what was cut.

    ``final``: nothing more of the file is read. Otherwise only the line was skipped.
    """

    def __init__(self, message: str, *, final: bool) -> None:
        super().__init__(message)
        self.final = final


# An overlong line is skipped in pieces of this size: never held whole.
_SKIP_CHUNK = 1 << 20


class _Bounded:
    """A file's content, read within its ReadLimits: every read raises _Cut rather than
    go past a bound, and counts the bytes it gave against the file's budget (a gzip
    file's; None for a plain one, which holds what it holds)."""

    __slots__ = ("_budget", "_limits", "_over_budget", "_stream", "total")

    def __init__(
        self, stream: _Stream, limits: ReadLimits, budget: int | None = None, over: str = ""
    ) -> None:
        self._stream = stream
        self._limits = limits
        self._budget = budget
        self._over_budget = over  # what the BadInput says when the budget is spent
        self.total = 0

    def _take(self, data: bytes) -> bytes:
        self.total += len(data)
        return data

    def _check(self) -> None:
        if self._budget is not None and self.total > self._budget:
            raise _Cut(self._over_budget, final=True)

    def readline(self, limit: int) -> bytes:
        """The next line (b"" at the end); _Cut when it is longer than ``limit`` bytes
        (its end not counted), having skipped it."""
        self._check()
        line = self._take(self._stream.readline(limit + 1))
        if len(line) <= limit or line.endswith(b"\n"):
            return line
        size = len(line)
        while line and not line.endswith(b"\n"):
            if size > self._limits.document:
                raise _Cut(
                    f"a line goes on past {self._limits.document:,} bytes: "
                    "the rest of the file is not read",
                    final=True,
                )
            self._check()
            line = self._take(self._stream.readline(_SKIP_CHUNK))
            size += len(line)
        size -= line.endswith(b"\n")
        raise _Cut(f"line too long ({size:,} bytes; at most {limit:,}): skipped", final=False)

    def read_rest(self, limit: int) -> bytes:
        """Everything left, when that is at most ``limit`` bytes (the rest of a document
        whose start was read); _Cut (final) when it is more."""
        self._check()
        data = self._take(self._stream.read(max(limit, 0) + 1))
        self._check()
        if len(data) > limit:
            document = self._limits.document
            raise _Cut(f"document too large (more than {document:,} bytes): not read", final=True)
        return data


def _read_file(path: Path, source: str | None, limits: ReadLimits) -> Iterator[Record | BadInput]:
    origin = str(path)
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed below, the generator may suspend
    except OSError as exc:
        yield BadInput(origin, _os_message("cannot open", exc))
        return
    with raw:
        try:
            stream, describe = _decompressed(raw, limits)
        except OSError as exc:
            yield BadInput(origin, _os_message("read error", exc))
            return
        yield from _read_stream(stream, describe, origin, source, limits)


def _decompressed(
    raw: io.BufferedReader, limits: ReadLimits
) -> tuple[_Bounded, Callable[[BaseException], str]]:
    """The file's content stream, bounded, and how to word a failure reading it."""
    if raw.peek(2)[:2] != _GZIP_MAGIC:
        return _Bounded(raw, limits), _plain_error
    try:
        size = os.fstat(raw.fileno()).st_size
    except OSError:
        size = 0

    def describe(exc: BaseException) -> str:
        if isinstance(exc, EOFError):
            at = f" after {size} bytes" if size else ""
            return f"truncated gzip stream{at} (the file is incomplete)"
        if isinstance(exc, gzip.BadGzipFile | zlib.error):
            return f"corrupt gzip stream: {exc}"
        return _plain_error(exc)

    budget = max(limits.gzip_floor, limits.gzip_ratio * size)
    over = (
        f"gzip stream decompressed past {budget:,} bytes, the bound for this file "
        f"({limits.gzip_ratio} times its size, at least {limits.gzip_floor:,}): "
        "the rest is not read (a gzip bomb?)"
    )
    gz = gzip.GzipFile(fileobj=raw, mode="rb")
    return _Bounded(gz, limits, budget, over), describe


def _plain_error(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return _os_message("read error", exc)
    return str(exc)


_READ_ERRORS = (OSError, EOFError, zlib.error)


def _read_stream(
    stream: _Bounded,
    describe: Callable[[BaseException], str],
    origin: str,
    source: str | None,
    limits: ReadLimits,
) -> Iterator[Record | BadInput]:
    # Blank lines before the first value are only counted (a file of nothing but
    # newlines holds no memory); the first line may be a whole document.
    blank = 0
    try:
        line = stream.readline(limits.document)
        if line.startswith(_BOM):
            line = line[len(_BOM) :]
        while line and not line.strip():
            blank += 1
            line = stream.readline(limits.document)
    except _READ_ERRORS as exc:
        yield BadInput(origin, describe(exc))
        return
    except _Cut as cut:  # longer than a document may be: always the end of the file
        yield BadInput(origin, str(cut))
        return
    if not line:
        return  # empty, or only blank lines: nothing to read, nothing wrong
    lineno = blank + 1
    try:
        first: Any = _decode(line)
    except ValueError as exc:
        text = line.strip()
        if text[:1] in (b"{", b"[") and text.endswith(_OPENERS):
            try:
                # The blank lines before it are kept as newlines: positions stay right.
                rest = stream.read_rest(limits.document - blank - len(line))
            except _READ_ERRORS as read_exc:
                yield BadInput(origin, describe(read_exc))
                return
            except _Cut as cut:
                yield BadInput(origin, str(cut))
                return
            yield from _whole_document(b"\n" * blank + line + rest, origin, source)
            return
        if text[:1] not in (b"{", b"["):
            # Not JSON at all (a README, a binary file): one error for the
            # file rather than one per line.
            preview = text[:24].decode("utf-8", "backslashreplace")
            yield BadInput(origin, f"not JSON: the file starts with {preview!r}")
            return
        first = _failed_line(line, exc)
    yield from _json_lines(stream, describe, origin, source, lineno, first, limits)


class _Bad:
    """A line that did not decode (kept apart from values, which can be anything)."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


def _json_lines(
    stream: _Bounded,
    describe: Callable[[BaseException], str],
    origin: str,
    source: str | None,
    lineno: int,
    first: Any,
    limits: ReadLimits,
) -> Iterator[Record | BadInput]:
    """The records of a JSON lines file whose first line (``first``, at ``lineno``) is
    decoded already."""
    lines = _decoded_lines(stream, describe, lineno, first, limits)
    if wire.is_header(first) and first.get("version") == wire.HEADER["version"]:
        lines = _recorded(lines)
    head = next(lines)
    second = next(lines, None)
    if second is None:
        # A one-line file is one document: name it like one ("x.json:Records[3]").
        yield from _values(head[1], origin, source)
        return
    for num, value in (head, second):
        yield from _values(value, f"{origin}:{num}", source)
    for num, value in lines:
        yield from _values(value, f"{origin}:{num}", source)


def _recorded(lines: Iterator[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
    """A ``lanner sensor --record`` file: snapshot lines folded into the events that use them."""
    decoder = wire.Decoder()
    for num, value in lines:
        if isinstance(value, _Bad) or wire.is_header(value):
            yield num, value
            continue
        try:
            doc = decoder.decode(value)
        except wire.WireError as exc:
            yield num, _Bad(str(exc))
            continue
        if doc is not None:
            yield num, doc


def _decoded_lines(
    stream: _Bounded,
    describe: Callable[[BaseException], str],
    lineno: int,
    first: Any,
    limits: ReadLimits,
) -> Iterator[tuple[int, Any]]:
    yield lineno, first
    while True:
        try:
            line = stream.readline(limits.line)
        except _READ_ERRORS as exc:
            yield lineno + 1, _Bad(describe(exc))
            return
        except _Cut as cut:
            lineno += 1
            yield lineno, _Bad(str(cut))
            if cut.final:
                return
            continue
        if not line:
            return
        lineno += 1
        if not line.strip():
            continue
        try:
            yield lineno, _decode(line)
        except ValueError as exc:
            yield lineno, _failed_line(line, exc)


def _whole_document(data: bytes, origin: str, source: str | None) -> Iterator[Record | BadInput]:
    try:
        value = _decode(data)
    except ValueError as exc:
        if _refused(exc):
            yield from _values(_by_element(data, exc), origin, source)
        else:
            yield from _concatenated(data, origin, source, exc)
        return
    yield from _values(value, origin, source)


def _concatenated(
    data: bytes, origin: str, source: str | None, failure: ValueError
) -> Iterator[Record | BadInput]:
    """Several documents one after another, as ``jq .`` prints them.

    Only tried once the file failed to parse as one document; if not even its
    first value decodes, the file is reported with that first failure.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        yield BadInput(origin, _not_json(failure, data, True))
        return
    decoder = json.JSONDecoder()
    found: list[tuple[int, Any]] = []
    error: BadInput | None = None
    pos = _WS.match(text).end()  # type: ignore[union-attr]
    line = text.count("\n", 0, pos) + 1
    while pos < len(text):
        try:
            value, end = _element(decoder, text, pos)
        except json.JSONDecodeError as exc:
            error = BadInput(
                f"{origin}:{line}", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            )
            break
        found.append((line, value))
        nxt = _WS.match(text, end).end()  # type: ignore[union-attr]
        line += text.count("\n", pos, nxt)
        pos = nxt
    if not found:
        yield BadInput(origin, _not_json(failure, data, True))
        return
    for num, value in found:
        yield from _values(value, f"{origin}:{num}", source)
    if error is not None:
        yield error


# -- from decoded JSON to records --------------------------------------------------


def _values(value: Any, where: str, source: str | None) -> Iterator[Record | BadInput]:
    """The records in one decoded document (a line, or a whole file)."""
    if isinstance(value, _Bad):
        yield BadInput(where, value.message)
        return
    if isinstance(value, list):
        items, label = value, ""
    elif isinstance(value, dict) and isinstance(value.get("Records"), list):
        items, label = value["Records"], "Records"
    elif (
        isinstance(value, dict)
        and value.get("kind") == "EventList"
        and isinstance(value.get("items"), list)
    ):
        items, label = value["items"], "items"
    else:
        record = _record(value, where, source)
        if record is not None:
            yield record
        return
    for i, item in enumerate(items):
        if isinstance(item, _Bad):
            yield BadInput(f"{where}:{label}[{i}]", item.message)
            continue
        record = _record(item, f"{where}:{label}[{i}]", source)
        if record is not None:
            yield record


def _record(doc: Any, where: str, source: str | None) -> Record | BadInput | None:
    if not isinstance(doc, dict):
        return BadInput(where, f"record is not a JSON object (it is {json_kind(doc)})")
    if source in (None, CLOUDTRAIL) and _is_trail_envelope(doc):
        # EventBridge's "AWS API Call via CloudTrail" (and the console sign-in and
        # service events): the CloudTrail record is the detail. Scanned as is, the
        # envelope matched no rule and gave 0 alerts without a word.
        doc = doc["detail"]
    if "digestStartTime" in doc:
        return None  # a CloudTrail digest: integrity data, not an event
    if "lanner_record" in doc:
        return None  # the header line of a `lanner sensor --record` file
    if source is not None:
        return Record(doc, source, where)
    detected = _detect(doc)
    if detected is None and "evt.type" in doc:
        detected = "syscall"  # a recorded sensor event: flat, keyed by field names
    if detected is None:
        return BadInput(where, "cannot tell the source of this record; use --source")
    return Record(doc, detected, where)


def _is_trail_envelope(doc: dict[str, Any]) -> bool:
    detail_type = doc.get("detail-type")
    return (
        isinstance(detail_type, str)
        and detail_type.endswith(" via CloudTrail")
        and isinstance(doc.get("detail"), dict)
    )


def _detect(doc: dict[str, Any]) -> str | None:
    if "eventSource" in doc and (
        ("eventVersion" in doc and "eventName" in doc) or "eventTime" in doc
    ):
        return CLOUDTRAIL
    api = doc.get("apiVersion")
    if isinstance(api, str) and api.startswith("audit.k8s.io/"):
        return K8S_AUDIT
    if doc.get("kind") == "Event" and ("auditID" in doc or "stage" in doc):
        return K8S_AUDIT
    return None


# -- stepping over a value the decoder refuses ---------------------------------------


def _not_json(exc: ValueError, data: bytes, whole: bool) -> str:
    """An actionable description of why ``data`` did not decode."""
    if isinstance(exc, boundedjson.JsonInputError) and isinstance(
        exc.__context__, json.JSONDecodeError | UnicodeDecodeError
    ):
        exc = exc.__context__  # its position, not only its text
    if isinstance(exc, UnicodeDecodeError) or "UTF-8" in str(exc):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as bad:
            where = _position(data, bad.start, whole)
            return f"not UTF-8 text: byte 0x{data[bad.start]:02x} at {where} ({bad.reason})"
    if isinstance(exc, json.JSONDecodeError):
        where = f"line {exc.lineno} column {exc.colno}" if whole else f"column {exc.colno}"
        return f"not JSON: {exc.msg} at {where}"
    return f"not JSON: {exc}"


def _position(data: bytes, offset: int, whole: bool) -> str:
    start = data.rfind(b"\n", 0, offset) + 1
    column = offset - start + 1
    if not whole:
        return f"column {column}"
    line = data.count(b"\n", 0, offset) + 1
    return f"line {line} column {column}"
