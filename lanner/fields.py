"""Field registries: every field of an event source, declared once.

A field is a row: name, type, description, and the extractor that reads it.
Docs, ``lanner fields`` and the compiler all read the same rows.

Extractors return the field's value, or ``None`` when the event does not
have it (Falco's "cannot be extracted": every comparison on it is false).
List-valued fields (``is_list``) return a tuple, never a list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from lanner.errors import FieldArgumentError
from lanner.event import Event

Extractor = Callable[[Event], Any]


@dataclass(frozen=True, slots=True, eq=False)
class InlinePath:
    """An extractor whose value, when it is a string, sits at a fixed path of the document.

    That string is found by walking ``keys`` through nested dicts, provided the
    document is a dict (holding the key ``guard``, when there is one). An
    extractor declares this by being an ``InlinePath``: the compiler then does
    those dict lookups in the generated code and calls ``read``, the extractor
    proper, only for every other case (missing, null, not a string, arrays on
    the way), so the results stay the extractor's own.
    ``lanner.sources.jsonptr.string_at`` builds them.
    """

    guard: str | None
    keys: tuple[str, ...]
    read: Extractor

    def __call__(self, ev: Event) -> Any:
        return self.read(ev)


class FieldType(StrEnum):
    """Value types, named as Falco names them in ``--list`` output."""

    STRING = "string"  # PT_CHARBUF
    FSPATH = "fspath"  # a path: a string that pmatch/glob treat as a path
    BYTES = "bytebuf"  # PT_BYTEBUF: compared with bcontains/bstartswith
    INT = "int64"
    UINT = "uint64"
    BOOL = "bool"
    IPADDR = "ipaddr"
    IPNET = "ipnet"
    ABSTIME = "abstime"  # nanoseconds since the epoch
    RELTIME = "reltime"  # nanoseconds
    PORT = "port"
    ERRNO = "errno"
    FD = "fd"
    PID = "pid"
    MODE = "mode"
    FLAGS = "flags"  # numeric flags rendered as names (``O_RDONLY|O_CLOEXEC``)
    DOUBLE = "double"  # PT_DOUBLE; Falco parses only integer constants for it

    @property
    def is_numeric(self) -> bool:
        return self in _NUMERIC

    @property
    def is_string(self) -> bool:
        return self in (FieldType.STRING, FieldType.FSPATH, FieldType.BYTES)

    @property
    def is_unsigned(self) -> bool:
        return self in _UNSIGNED


_NUMERIC = frozenset(
    {
        FieldType.INT,
        FieldType.UINT,
        FieldType.ABSTIME,
        FieldType.RELTIME,
        FieldType.PORT,
        FieldType.ERRNO,
        FieldType.FD,
        FieldType.PID,
        FieldType.MODE,
        FieldType.DOUBLE,
    }
)
_UNSIGNED = frozenset({FieldType.UINT, FieldType.ABSTIME, FieldType.RELTIME, FieldType.MODE})

# libsinsp reads numbers with sscanf("%d%c") and its 64-bit and unsigned kin: C blanks,
# an optional sign, decimal digits, and nothing after (no hex, no fraction, no blank).
_C_DECIMAL = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)")


def parse_integer(text: str, bits: int = 64, signed: bool = True) -> int:
    """``text`` as libsinsp's number parser stores it in an integer of ``bits`` bits.

    Out-of-range values are not errors there: glibc's strtol saturates at the limits
    of a 64-bit long, strtoul reads ``-N`` as 2**64 - N (``-1`` is the largest value),
    and the result is then cut to the width of the field. Raises ValueError for text
    that is not a number to libsinsp (``0x2a``, ``1.0``, ``5 ``).
    """
    m = _C_DECIMAL.fullmatch(text)
    if m is None:
        raise ValueError(text)
    n = int(m[1])
    if signed:
        n = max(-(1 << 63), min(n, (1 << 63) - 1))
    else:
        n = (1 << 64) - 1 if abs(n) >= 1 << 64 else n % (1 << 64)
    n &= (1 << bits) - 1
    if signed and n >= 1 << (bits - 1):
        n -= 1 << bits
    return n


# Flags on field rows that change how the compiler treats a field.
# The argument may follow a dot instead of brackets: ``evt.arg.flags`` is ``evt.arg[flags]``.
FLAG_DOTTED_ARG = "DOTTED_ARG"
# Without an argument the field yields a tuple with one value per ancestor, and every
# check on it (``!=`` included) holds when it holds for at least one ancestor: Falco's
# ``proc.aname = sshd``. With an argument it yields one plain value.
FLAG_ANY_ANCESTOR = "ANY_ANCESTOR"
# The field yields a tuple of the client's and the server's value (one item for
# listening sockets). ``=`` and ``in`` hold when either item matches, ``!=`` when none
# equals: Falco's ``fd.ip``, ``fd.net``, ``fd.port``, ``fd.proto``.
FLAG_EITHER_END = "EITHER_END"
# Falco types the value by the event parameter named in the argument (PT_DYN); the
# declared type is only the common case.
FLAG_DYNAMIC_TYPE = "DYNAMIC_TYPE"
# Only an output placeholder, not a field Falco can filter on: a condition naming it is an
# unknown field, and an output loses the token, with a warning that it is deprecated
# (Falco's rule loader removes ``%container.info`` from outputs the same way).
FLAG_PRINT_ONLY = "PRINT_ONLY"


class Arg(StrEnum):
    """What a field accepts between brackets."""

    NONE = "none"
    KEY = "key"  # required string: ``ka.uri.param[command]``
    INDEX = "index"  # required integer: ``proc.aname[2]``
    KEY_OPTIONAL = "key?"
    INDEX_OPTIONAL = "index?"


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One field of a source.

    ``bind`` turns an argument (or None) into the per-event extractor. It runs
    once at compile time, so argument parsing (a JSON pointer split, an int
    parse) never happens per event. It raises FieldArgumentError on a bad
    argument.

    ``test`` makes the field a test rather than a value, as Falco's ``evt.around``:
    ``field = C`` holds when ``test(arg, C)``, the per-event predicate, returns
    True (``exists`` passes None for C). Any other operator, a transformer or a
    field on either side of the comparison is refused; its value (``bind``) is
    only what outputs print.
    """

    name: str
    type: FieldType
    desc: str
    bind: Callable[[str | None], Extractor]
    arg: Arg = Arg.NONE
    is_list: bool = False
    # FLAG_* above, and Falco's EPF_FILTER_ONLY / EPF_TABLE_ONLY style hints (informational).
    flags: frozenset[str] = field(default_factory=frozenset)
    test: Callable[[str | None, str | None], Extractor] | None = None

    def extractor(self, arg: str | None) -> Extractor:
        if arg is None and self.arg in (Arg.KEY, Arg.INDEX):
            raise FieldArgumentError(f"field '{self.name}' requires an argument ({self.arg.value})")
        if arg is not None and self.arg is Arg.NONE:
            raise FieldArgumentError(f"field '{self.name}' does not take an argument")
        if arg is not None and self.arg in (Arg.INDEX, Arg.INDEX_OPTIONAL):
            try:
                parse_integer(arg)
            except ValueError:
                raise FieldArgumentError(
                    f"field '{self.name}' takes a numeric index, not '{arg}'"
                ) from None
        return self.bind(arg)


def simple(
    name: str,
    type: FieldType,
    desc: str,
    fn: Extractor,
    *,
    is_list: bool = False,
    flags: Iterable[str] = (),
) -> FieldDef:
    """A field without argument whose extractor is ``fn``."""
    return FieldDef(name, type, desc, lambda _arg: fn, Arg.NONE, is_list, frozenset(flags))


def with_arg(
    name: str,
    type: FieldType,
    desc: str,
    bind: Callable[[str | None], Extractor],
    arg: Arg,
    *,
    is_list: bool = False,
    flags: Iterable[str] = (),
    test: Callable[[str | None, str | None], Extractor] | None = None,
) -> FieldDef:
    """A field taking an argument; ``bind(arg)`` returns the extractor."""
    return FieldDef(name, type, desc, bind, arg, is_list, frozenset(flags), test)


class FieldRegistry:
    """The fields of one source, in declaration order."""

    def __init__(self, fields: Iterable[FieldDef] = ()) -> None:
        self._fields: dict[str, FieldDef] = {}
        for f in fields:
            self.add(f)

    def add(self, f: FieldDef) -> None:
        if f.name in self._fields:
            raise ValueError(f"field {f.name} declared twice")
        self._fields[f.name] = f

    def get(self, name: str) -> FieldDef | None:
        return self._fields.get(name)

    def resolve(self, name: str, arg: str | None) -> tuple[FieldDef, str | None] | None:
        """The field ``name`` names, with its argument.

        Besides ``evt.arg[flags]``, Falco accepts the dotted form ``evt.arg.flags``
        for the fields flagged ``FLAG_DOTTED_ARG``: the longest declared prefix wins.
        """
        f = self._fields.get(name)
        if f is not None:
            return f, arg
        if arg is not None:
            return None
        cut = name.rfind(".")
        while cut > 0:
            f = self._fields.get(name[:cut])
            if f is not None and FLAG_DOTTED_ARG in f.flags:
                return f, name[cut + 1 :]
            cut = name.rfind(".", 0, cut)
        return None

    def __contains__(self, name: object) -> bool:
        return name in self._fields

    def __iter__(self) -> Iterator[FieldDef]:
        return iter(self._fields.values())

    def __len__(self) -> int:
        return len(self._fields)


@dataclass(frozen=True)
class Source:
    """An event source the engine can evaluate rules for.

    - ``fields``: its registry (generic ``evt.*`` fields included).
    - ``index_fields``: fields whose values pre-select the rules an event
      can meet, the way Falco indexes syscall rules by ``evt.type``. A rule
      whose condition pins one of these fields to a set of values is only
      evaluated on events with one of those values.
    - ``event_time``: the event's time in ns since the epoch, or None.
    - ``hostname``: the host an event happened on, for the alert's
      ``hostname``, or None (the engine then uses its own).
    - ``info``: a one-line rendering of the event (``evt.plugininfo``).
    - ``event_id``: the event's own unique id (CloudTrail ``eventID``, audit
      ``auditID``), which makes alert uuids stable across retries.
    - ``fields_checked``: False for a source whose registry is not complete
      yet; unknown fields are then reported as warnings, not errors.
    """

    name: str
    fields: FieldRegistry
    index_fields: tuple[str, ...] = ()
    event_time: Callable[[Any], int | None] = lambda _doc: None
    hostname: Callable[[Any], str | None] = lambda _doc: None
    info: Callable[[Any], str | None] = lambda _doc: None
    event_id: Callable[[Any], str | None] | None = None
    description: str = ""
    fields_checked: bool = True
