"""Rule outputs and alerts: ``%field`` formatting, the text line, Falco's JSON schema."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lanner.condition.ast import ArgList, FieldRef, Transform, ValueExpr
from lanner.condition.check import print_only_message
from lanner.condition.compiler import Compiler
from lanner.condition.ir import BoundValue
from lanner.condition.parser import parse_output_field
from lanner.errors import (
    CompileError,
    ConditionSyntaxError,
    FieldArgumentError,
    LannerError,
    Location,
    UnknownFieldError,
)
from lanner.event import Event, FieldKey
from lanner.fields import FLAG_PRINT_ONLY, FieldType
from lanner.priority import Priority
from lanner.sources.generic import format_clock, format_iso8601

NA = "<NA>"
_WIDTH = re.compile(r"\d+")
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)+")


def render_value(value: Any) -> str:
    """A field value as it appears in an output line."""
    if value is None:
        return NA
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "(" + ",".join(render_value(v) for v in value) + ")"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def render_double(value: Any) -> str:
    """A double field's value as libsinsp prints it: one decimal ("%.1lf"), so
    ``proc.fdusage`` shows ``33.3``; ``output_fields`` keeps the number itself."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.1f}"
    return render_value(value)


def json_value(value: Any) -> Any:
    """A field value as it appears in ``output_fields``: typed, lists as arrays."""
    if isinstance(value, tuple):
        return [json_value(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


@dataclass(frozen=True, slots=True)
class _Token:
    bound: BoundValue  # what the text shows
    width: int | None
    # The output_fields entries, label -> key. A plain field is its own entry; a
    # transformer contributes the plain fields inside it, untransformed, as Falco
    # keeps transformed values out of output_fields.
    fields: tuple[tuple[str, FieldKey], ...]


class OutputFormat:
    """A compiled output string: literal text and field tokens.

    With a compiler, every field the output shows or reports is read by one
    generated function (``Compiler.compile_values``), straight from the
    document where it can be: formatting runs once per alert, and an alert
    typically shows half a dozen fields.
    """

    def __init__(self, parts: list[str | _Token], compiler: Compiler | None = None) -> None:
        self.parts = parts
        self.fields = [p for p in parts if isinstance(p, _Token)]
        keys: dict[FieldKey, int] = {}
        for t in self.fields:
            keys.setdefault(t.bound.key, len(keys))
            for _label, key in t.fields:
                keys.setdefault(key, len(keys))
        self._slots = keys
        # Generated on the first alert, not at load: most rules never fire in a given
        # process, and a Lambda's cold start pays for every rule compiled up front.
        self._compiler = compiler
        self._read: Callable[[Event], tuple[Any, ...]] | None = None
        self._fmt: Callable[[tuple[Any, ...]], tuple[str, dict[str, Any]]] | None = None

    def _generate(self) -> Callable[[tuple[Any, ...]], tuple[str, dict[str, Any]]]:
        """``values -> (text, output_fields)`` as one generated expression: alerts are
        formatted as soon as they are raised, so this sits on the detection path."""
        ns: dict[str, Any] = {"_r": render_value, "_d": render_double, "_j": json_value, "_w": _fit}
        texts: list[str] = []
        fields: list[str] = []
        for p in self.parts:
            if type(p) is str:
                ns[f"k{len(ns)}"] = p
                texts.append(f"k{len(ns) - 1}")
                continue
            assert isinstance(p, _Token)
            a = f"v[{self._slots[p.bound.key]}]"
            if p.bound.type is FieldType.DOUBLE:
                text = f"_d({a})"
            else:
                text = f"({a} if type({a}) is str else _r({a}))"
            texts.append(text if p.width is None else f"_w({text}, {p.width})")
            for label, key in p.fields:
                b = f"v[{self._slots[key]}]"
                fields.append(f"{label!r}: ({b} if type({b}) is str else _j({b}))")
        body = f'("".join(({", ".join(texts)},)), {{{", ".join(fields)}}})'
        code = compile(f"def fmt(v):\n    return {body}\n", "<output>", "exec")
        exec(code, ns)
        fn: Callable[[tuple[Any, ...]], tuple[str, dict[str, Any]]] = ns["fmt"]
        return fn

    def format(self, ev: Event) -> tuple[str, dict[str, Any]]:
        if self._fmt is None and self._compiler is not None:
            self._read = self._compiler.compile_values(tuple(self._slots))
            self._fmt = self._generate()
        if self._fmt is not None and self._read is not None:
            return self._fmt(self._read(ev))
        out: list[str] = []
        values: dict[str, Any] = {}
        for p in self.parts:
            if type(p) is str:
                out.append(p)
                continue
            assert isinstance(p, _Token)
            v = ev[p.bound.key]
            if p.bound.type is FieldType.DOUBLE:
                text = render_double(v)
            else:
                text = v if type(v) is str else render_value(v)
            if p.width is not None:
                text = _fit(text, p.width)
            out.append(text)
            for label, key in p.fields:
                values[label] = json_value(ev[key])
        return "".join(out), values


def _fit(text: str, width: int) -> str:
    """``%20field``: the value cut or padded to a fixed width."""
    return text[:width].ljust(width)


def compile_output(
    text: str, compiler: Compiler, locate: Callable[[int], Location] | None = None
) -> OutputFormat:
    """Parses ``%field`` tokens (``%proc.aname[2]``, ``%tolower(fd.name)``, ``%20proc.name``).

    A token ends where the field expression ends, so ``%ka.user.name's`` reads
    ``ka.user.name`` followed by ``'s``. A dotted name that is not a field is an
    error (with the nearest field names), never a shorter field plus text.
    """
    parts: list[str | _Token] = []
    lit: list[str] = []
    i, n = 0, len(text)

    def fail(cls: type[LannerError], msg: str, at: int) -> LannerError:
        return cls(msg, locate(at) if locate else Location(None, 1, at + 1))

    while i < n:
        c = text[i]
        if c != "%":
            lit.append(c)
            i += 1
            continue
        start = i
        i += 1
        if i >= n:
            raise fail(CompileError, "an output cannot end with '%'", start)
        width = None
        m = _WIDTH.match(text, i)
        if m:
            width = int(m.group())
            i = m.end()
            if i >= n:
                raise fail(CompileError, "an output cannot end with a field width", start)
        expr, bound, end = _parse_token(text, i, compiler, fail)
        if bound.print_only:
            # Falco's loader removes '%container.info' as it is written (the loader warns);
            # with a width it is left in place, and is then an unknown field.
            if width is not None:
                raise fail(UnknownFieldError, print_only_message(bound.label), start)
            i = end
            continue
        if lit:
            parts.append("".join(lit))
            lit = []
        parts.append(_Token(bound, width, _output_fields(expr, compiler)))
        i = end
    if lit:
        parts.append("".join(lit))
    return OutputFormat(parts, compiler)


def _output_fields(expr: ValueExpr, compiler: Compiler) -> tuple[tuple[str, FieldKey], ...]:
    found: dict[str, FieldKey] = {}

    def walk(e: Any) -> None:
        if isinstance(e, FieldRef):
            b = compiler.bind(e)
            found.setdefault(b.label, b.key)
        elif isinstance(e, Transform):
            for a in e.args:
                walk(a)
        elif isinstance(e, ArgList):
            for a in e.items:
                walk(a)

    walk(expr)
    return tuple(found.items())


def _parse_token(
    text: str, i: int, compiler: Compiler, fail: Callable[..., LannerError]
) -> tuple[ValueExpr, BoundValue, int]:
    expr: ValueExpr | None = None
    try:
        expr, end = parse_output_field(text, i)
        return expr, compiler.bind(expr), end
    except ConditionSyntaxError as exc:
        error: LannerError = fail(CompileError, f"invalid output token: {exc.message}", i)
    except (UnknownFieldError, FieldArgumentError, CompileError) as exc:
        error = fail(type(exc), exc.message, i)
    # Punctuation after a field is text: '%proc.name's' stops at the quote on its own
    # (the parser reads only the field). A known field given an argument it does not
    # take ('%proc.name[2]') is, as in Falco, the field followed by the text '[2]'. A
    # dotted name that is not a field is an error: shortening '%ct.request.secretid' to
    # '%ct.request' + '.secretid' would silently show the wrong value.
    m = _FIELD_NAME.match(text, i)
    name = m.group() if m else ""
    if (
        isinstance(expr, FieldRef)
        and expr.arg is not None
        and isinstance(error, FieldArgumentError)
        and compiler.source.fields.resolve(name, None) is not None
    ):
        ref = FieldRef(name)
        try:
            return ref, compiler.bind(ref), i + len(name)
        except LannerError:
            pass
    if isinstance(error, UnknownFieldError) and name:
        error.message += did_you_mean(name, compiler)
        Exception.__init__(error, error.message)
    raise error


def did_you_mean(name: str, compiler: Compiler, mark: str = "%") -> str:
    """'; did you mean ...' with the nearest field names of the source (each written
    after ``mark``, as the user would write it there), or ''."""
    fields = compiler.source.fields
    names = [f.name for f in fields if FLAG_PRINT_ONLY not in f.flags]
    close: list[str] = []
    # A field with text glued on ('proc.name.x'): the field itself first.
    prefix = name
    while "." in prefix:
        prefix = prefix.rsplit(".", 1)[0]
        if prefix in names:
            close.append(prefix)
            break
    close += difflib.get_close_matches(name, names, n=3, cutoff=0.75)
    if not close:
        # A longer name under a family of fields ('ct.request.secretid'): its siblings.
        prefix = name
        while "." in prefix and not close:
            prefix = prefix.rsplit(".", 1)[0]
            close = [n for n in names if n.startswith(prefix + ".")]
    close = list(dict.fromkeys(close))[:3]
    if not close:
        return ""
    return "; did you mean " + " or ".join(f"'{mark}{c}'" for c in close) + "?"


@dataclass(slots=True)
class Alert:
    """One rule match, with everything Falco puts in an alert."""

    time_ns: int
    rule: str
    priority: Priority
    source: str
    hostname: str
    message: str
    tags: tuple[str, ...]
    output_fields: dict[str, Any]
    uuid: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def time_iso(self) -> str:
        return format_iso8601(self.time_ns)

    @property
    def output(self) -> str:
        """The text line: ``HH:MM:SS.nnnnnnnnn: Priority message``, as Falco prints it."""
        return f"{format_clock(self.time_ns)}: {self.priority} {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """Falco's JSON alert schema (what Falcosidekick consumes), plus ``uuid``."""
        fields = {"evt.time": self.time_ns, **self.output_fields}
        return {
            "uuid": self.uuid,
            "output": self.output,
            "priority": str(self.priority),
            "rule": self.rule,
            "time": self.time_iso,
            "output_fields": fields,
            "source": self.source,
            "tags": sorted(self.tags),
            "hostname": self.hostname,
            **self.extra,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)


def format_alert(alert: Alert, as_json: bool = False) -> str:
    """One alert as a text line (Falco's) or as one line of JSON (Falco's schema)."""
    return alert.to_json() if as_json else alert.output
