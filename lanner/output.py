"""Rule outputs and alerts: ``%field`` formatting, the text line, Falco's JSON schema."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lanner.condition.ast import FieldRef, Transform
from lanner.condition.compiler import BoundValue, Compiler
from lanner.condition.parser import parse_output_field
from lanner.errors import (
    CompileError,
    ConditionSyntaxError,
    FieldArgumentError,
    LannerError,
    Location,
    UnknownFieldError,
)
from lanner.event import Event
from lanner.priority import Priority
from lanner.sources.generic import format_clock, format_iso8601

NA = "<NA>"
_WIDTH = re.compile(r"\d+")


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
    label: str  # the key in output_fields: the field as written
    bound: BoundValue
    width: int | None
    in_json: bool  # transformed values are rendered, but Falco keeps them out of output_fields


class OutputFormat:
    """A compiled output string: literal text and field tokens."""

    def __init__(self, parts: list[str | _Token]) -> None:
        self.parts = parts
        self.fields = [p for p in parts if isinstance(p, _Token)]

    def format(self, ev: Event) -> tuple[str, dict[str, Any]]:
        out: list[str] = []
        values: dict[str, Any] = {}
        for p in self.parts:
            if type(p) is str:
                out.append(p)
                continue
            assert isinstance(p, _Token)
            v = ev[p.bound.key]
            text = render_value(v)
            if p.width is not None:
                text = text[: p.width].ljust(p.width)
            out.append(text)
            if p.in_json:
                values[p.label] = json_value(v)
        return "".join(out), values


def compile_output(
    text: str, compiler: Compiler, locate: Callable[[int], Location] | None = None
) -> OutputFormat:
    """Parses ``%field`` tokens (``%proc.aname[2]``, ``%tolower(fd.name)``, ``%20proc.name``).

    An unknown field name is shortened until it names a known field, as Falco
    does, so ``%ka.user.name's`` reads ``ka.user.name`` followed by ``'s``.
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
        token, end = _parse_token(text, i, compiler, fail)
        if lit:
            parts.append("".join(lit))
            lit = []
        bound = token
        parts.append(_Token(bound.label, bound, width, _is_plain_field(bound)))
        i = end
    if lit:
        parts.append("".join(lit))
    return OutputFormat(parts)


def _is_plain_field(bound: BoundValue) -> bool:
    return not bound.label.endswith(")")


def _parse_token(
    text: str, i: int, compiler: Compiler, fail: Callable[..., LannerError]
) -> tuple[BoundValue, int]:
    try:
        expr, end = parse_output_field(text, i)
    except ConditionSyntaxError:
        raise fail(CompileError, f"invalid output token at '%{text[i : i + 20]}'", i) from None
    try:
        return compiler.bind(expr), end
    except (UnknownFieldError, FieldArgumentError, CompileError) as exc:
        if isinstance(expr, FieldRef) and expr.arg is None and isinstance(exc, UnknownFieldError):
            name = expr.name
            while "." in name:
                name = name[:-1].rstrip(".")
                if compiler.source.fields.resolve(name, None) is not None:
                    try:
                        return compiler.bind(FieldRef(name)), i + len(name)
                    except LannerError:
                        break
        if isinstance(expr, Transform | FieldRef):
            raise fail(type(exc), exc.message, i) from None
        raise


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
