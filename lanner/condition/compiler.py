"""Compiles a resolved condition tree into one Python function per rule.

The tree reaching here has no macros and no list names left (the loader
resolved them). Each comparison becomes a Python expression over
``ev[key]`` -- the event's lazily extracted, cached field value -- and the
whole condition becomes the body of one generated function, so ``and``/``or``
short-circuit natively and every constant (sets, compiled regexes, parsed
numbers) is prepared once here, never per event.

Falco's rule: a field that cannot be extracted (``None``) makes its
comparison false, for every operator, ``!=`` included.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import re2

from lanner.condition.ast import (
    And,
    Compare,
    Const,
    Expr,
    FieldRef,
    FieldValue,
    ListLit,
    ListRef,
    Literal,
    MacroRef,
    Not,
    Or,
    Transform,
    ValueExpr,
)
from lanner.errors import CompileError, FieldArgumentError, LannerError, Location, UnknownFieldError
from lanner.event import Event, FieldKey
from lanner.fields import FieldType, Source

Predicate = Callable[[Event], bool]


@dataclass(frozen=True, slots=True)
class BoundValue:
    """A field expression bound to its source: how to read it, and what it yields."""

    key: FieldKey
    type: FieldType
    is_list: bool
    label: str


def _err(cls: type[LannerError], message: str, node: Any) -> LannerError:
    pos = getattr(node, "pos", None)
    loc = Location(None, pos.line, pos.col) if pos is not None else None
    err = cls(message, loc)
    err.node = node  # type: ignore[attr-defined]  # the engine maps it back to the file
    return err


# --- value conversion -----------------------------------------------------------------


def _parse_int(text: str) -> int:
    t = text.strip()
    neg = t.startswith("-")
    body = t[1:] if neg or t.startswith("+") else t
    if body[:2].lower() == "0x":
        n = int(body[2:], 16)
    else:
        try:
            n = int(body, 10)
        except ValueError:
            f = float(body)
            if not f.is_integer():
                raise
            n = int(f)
    return -n if neg else n


def _parse_bool(text: str) -> bool:
    t = text.strip().lower()
    if t == "true":
        return True
    if t == "false":
        return False
    raise ValueError(text)


def convert_literal(text: str, ftype: FieldType, op: str) -> Any:
    """The right-hand-side constant for ``text`` compared to a field of ``ftype``.

    Raises ValueError when the text is not a value of that type.
    """
    if ftype.is_numeric:
        return _parse_int(text)
    if ftype is FieldType.BOOL:
        return _parse_bool(text)
    if ftype is FieldType.IPADDR:
        return ipaddress.ip_address(text.strip())
    if ftype is FieldType.IPNET:
        return ipaddress.ip_network(text.strip(), strict=False)
    if ftype is FieldType.FLAGS:
        return text
    return text


def _glob_to_regex(pattern: str, icase: bool) -> Any:
    """Falco's glob: ``*`` any run (``/`` included), ``?`` one char, ``[...]`` a class."""
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            j = i
            if j < n and pattern[j] in "!^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out.append(re2.escape("["))
            else:
                body = pattern[i:j]
                i = j + 1
                neg = body[:1] in ("!", "^")
                if neg:
                    body = body[1:]
                body = body.replace("\\", "\\\\")
                out.append(("[^" if neg else "[") + body + "]")
        else:
            out.append(re2.escape(c))
    opts = re2.Options()
    opts.dot_nl = True
    opts.case_sensitive = not icase
    return re2.compile("".join(out), options=opts)


def _compile_regex(text: str, node: Any) -> Any:
    opts = re2.Options()
    # Falco compiles regexes in RE2's POSIX mode; dot_nl keeps '.' total over
    # multi-line values such as command lines.
    opts.dot_nl = True
    try:
        return re2.compile(text, options=opts)
    except re2.error as exc:
        raise _err(CompileError, f"invalid regex '{text}': {exc}", node) from None


def _path_prefixes(items: list[str]) -> tuple[str, ...]:
    return tuple(p.rstrip("/") or "/" for p in items)


def _pmatch(value: str, prefixes: tuple[str, ...]) -> bool:
    for p in prefixes:
        if value == p or p == "/" or (value.startswith(p) and value[len(p)] == "/"):
            return True
    return False


# --- transformers -----------------------------------------------------------------


def _b64(v: str) -> str | None:
    try:
        return base64.b64decode(v.encode(), validate=False).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None


def _basename(v: str) -> str:
    return os.path.basename(v) if not v.endswith("/") else ""


_UNARY_STR: dict[str, Callable[[str], Any]] = {
    "tolower": str.lower,
    "toupper": str.upper,
    "b64": _b64,
    "basename": _basename,
}


def _lift(fn: Callable[[Any], Any], is_list: bool) -> Callable[[Any], Any]:
    """Applies a per-value transformer to a scalar or to each item of a list value."""
    if not is_list:
        return fn

    def each(values: tuple[Any, ...]) -> Any:
        out = tuple(r for r in (fn(v) for v in values) if r is not None)
        return out or None

    return each


class Compiler:
    """Compiles conditions and value expressions of one source."""

    _counter = itertools.count()

    def __init__(self, source: Source) -> None:
        self.source = source
        self._bound: dict[str, BoundValue] = {}

    # --- values ---

    def bind(self, expr: ValueExpr) -> BoundValue:
        """Binds a field or transformer expression; one FieldKey per distinct expression."""
        label = render_value_expr(expr)
        found = self._bound.get(label)
        if found is not None:
            return found
        if isinstance(expr, FieldRef):
            bound = self._bind_field(expr, label)
        else:
            bound = self._bind_transform(expr, label)
        self._bound[label] = bound
        return bound

    def _bind_field(self, ref: FieldRef, label: str) -> BoundValue:
        found = self.source.fields.resolve(ref.name, ref.arg)
        if found is None:
            raise _err(
                UnknownFieldError,
                f"unknown field '{ref.name}' for source '{self.source.name}'",
                ref,
            )
        fdef, arg = found
        try:
            extract = fdef.extractor(arg)
        except FieldArgumentError as exc:
            raise _err(FieldArgumentError, exc.message, ref) from None
        return BoundValue(FieldKey(extract, label), fdef.type, fdef.is_list, label)

    def _bind_transform(self, tr: Transform, label: str) -> BoundValue:
        name = tr.name
        args = [a for a in tr.args if not isinstance(a, Literal)]
        lits = [a.value for a in tr.args if isinstance(a, Literal)]
        bound_args = [self.bind(a) for a in args]
        if name in _UNARY_STR:
            if len(bound_args) != 1 or lits:
                raise _err(CompileError, f"transformer '{name}' takes exactly one field", tr)
            inner = bound_args[0]
            if not inner.type.is_string:
                raise _err(
                    CompileError,
                    f"transformer '{name}' needs a string field, "
                    f"'{inner.label}' is {inner.type.value}",
                    tr,
                )
            fn = _lift(_UNARY_STR[name], inner.is_list)
            ikey = inner.key

            def extract_unary(ev: Event) -> Any:
                v = ev[ikey]
                return None if v is None else fn(v)

            return BoundValue(FieldKey(extract_unary, label), FieldType.STRING, inner.is_list, label)
        if name == "len":
            if len(bound_args) != 1 or lits:
                raise _err(CompileError, "transformer 'len' takes exactly one field", tr)
            inner = bound_args[0]
            if not (inner.type.is_string or inner.is_list):
                raise _err(CompileError, f"transformer 'len' cannot measure '{inner.label}'", tr)
            ikey = inner.key

            def extract_len(ev: Event) -> Any:
                v = ev[ikey]
                return 0 if v is None and inner.is_list else (None if v is None else len(v))

            return BoundValue(FieldKey(extract_len, label), FieldType.UINT, False, label)
        if name == "join":
            if len(lits) != 1 or len(bound_args) != 1:
                raise _err(CompileError, "transformer 'join' takes a separator and one field", tr)
            sep, inner = lits[0], bound_args[0]
            ikey = inner.key

            def extract_join(ev: Event) -> Any:
                v = ev[ikey]
                if v is None:
                    return None
                return sep.join(map(_to_text, v)) if isinstance(v, tuple) else _to_text(v)

            return BoundValue(FieldKey(extract_join, label), FieldType.STRING, False, label)
        if name == "concat":
            if len(tr.args) < 2:
                raise _err(CompileError, "transformer 'concat' takes two or more arguments", tr)
            parts: list[Any] = []
            for a in tr.args:
                if isinstance(a, Literal):
                    parts.append(a.value)
                else:
                    b = self.bind(a)
                    if b.is_list:
                        raise _err(CompileError, f"concat cannot take list field '{b.label}'", a)
                    parts.append(b.key)

            def extract_concat(ev: Event) -> Any:
                out = []
                for p in parts:
                    if type(p) is str:
                        out.append(p)
                    else:
                        v = ev[p]
                        if v is None:
                            return None
                        out.append(_to_text(v))
                return "".join(out)

            return BoundValue(FieldKey(extract_concat, label), FieldType.STRING, False, label)
        raise _err(CompileError, f"unknown transformer '{name}'", tr)

    # --- conditions ---

    def compile(self, expr: Expr, name: str = "cond") -> Predicate:
        ns: dict[str, Any] = {}
        body = self._expr(expr, ns)
        fname = f"_lanner_{next(self._counter)}"
        src = f"def {fname}(ev):\n    return {body}\n"
        code = compile(src, f"<rule {name}>", "exec")
        exec(code, ns)
        fn: Predicate = ns[fname]
        fn.__doc__ = body  # kept for debugging: `lanner rules list --debug`
        return fn

    def _const(self, ns: dict[str, Any], value: Any) -> str:
        name = f"k{len(ns)}"
        ns[name] = value
        return name

    def _expr(self, e: Expr, ns: dict[str, Any]) -> str:
        match e:
            case And(children=children):
                return "(" + " and ".join(self._expr(c, ns) for c in children) + ")"
            case Or(children=children):
                return "(" + " or ".join(self._expr(c, ns) for c in children) + ")"
            case Not(child=child):
                return f"(not {self._expr(child, ns)})"
            case Const(value=value):
                return "True" if value else "False"
            case Compare():
                return self._compare(e, ns)
            case MacroRef(name=name):
                raise _err(CompileError, f"undefined macro '{name}'", e)
        raise _err(CompileError, f"unexpected node {type(e).__name__}", e)

    def _compare(self, c: Compare, ns: dict[str, Any]) -> str:
        lhs = self.bind(c.lhs)
        k = self._const(ns, lhs.key)
        v = f"ev[{k}]"
        op = c.op
        if op == "exists":
            return f"({v} is not None)"
        rhs = c.rhs
        if isinstance(rhs, ListRef):
            raise _err(CompileError, f"undefined list '{rhs.name}'", rhs)
        if isinstance(rhs, FieldValue | FieldRef | Transform):
            return self._compare_fields(c, lhs, v, rhs, ns)
        if lhs.is_list:
            return self._compare_list_field(c, lhs, v, ns)
        if c.modifier is not None:
            return self._compare_modifier(c, lhs, v, ns)
        if op in ("in", "intersects", "pmatch"):
            items = self._items(c, lhs, ns)
            if op == "pmatch":
                if not lhs.type.is_string:
                    raise _err(CompileError, f"'pmatch' needs a string field, not '{lhs.label}'", c)
                pk = self._const(ns, _path_prefixes([str(i) for i in items]))
                fk = self._const(ns, _pmatch)
                return f"({v} is not None and {fk}({v}, {pk}))"
            if lhs.type is FieldType.IPNET or lhs.type is FieldType.IPADDR:
                return self._ip_in(v, items, lhs, ns)
            sk = self._const(ns, frozenset(items))
            return f"({v} in {sk})"
        if isinstance(rhs, ListLit):
            raise _err(CompileError, f"operator '{op}' takes a single value, not a list", rhs)
        if not isinstance(rhs, Literal):
            raise _err(CompileError, f"operator '{op}' needs a value", c)
        return self._compare_scalar(op, lhs, v, rhs, ns, c)

    def _convert(self, text: str, lhs: BoundValue, op: str, node: Any) -> Any:
        try:
            return convert_literal(text, lhs.type, op)
        except ValueError:
            raise _err(
                CompileError,
                f"'{text}' is not a valid {lhs.type.value} value for '{lhs.label}'",
                node,
            ) from None

    def _items(self, c: Compare, lhs: BoundValue, ns: dict[str, Any]) -> list[Any]:
        rhs = c.rhs
        if isinstance(rhs, ListLit):
            lits = list(rhs.items)
        elif isinstance(rhs, Literal):
            lits = [rhs]
        else:
            raise _err(CompileError, f"operator '{c.op}' needs a list of values", c)
        return [self._convert(i.value, lhs, c.op, i) for i in lits]

    def _ip_in(self, v: str, items: list[Any], lhs: BoundValue, ns: dict[str, Any]) -> str:
        nets = tuple(ipaddress.ip_network(i) if not hasattr(i, "network_address") else i for i in items)
        fk = self._const(ns, _ip_in_nets)
        nk = self._const(ns, nets)
        return f"({v} is not None and {fk}({v}, {nk}))"

    def _compare_scalar(
        self, op: str, lhs: BoundValue, v: str, rhs: Literal, ns: dict[str, Any], node: Any
    ) -> str:
        t = lhs.type
        if op in ("<", "<=", ">", ">="):
            if not t.is_numeric:
                raise _err(
                    CompileError,
                    f"operator '{op}' needs a numeric field, '{lhs.label}' is {t.value}",
                    node,
                )
            kk = self._const(ns, self._convert(rhs.value, lhs, op, rhs))
            return f"({v} is not None and {v} {op} {kk})"
        if op in ("=", "!="):
            if t in (FieldType.IPADDR, FieldType.IPNET):
                items = [self._convert(rhs.value, lhs, op, rhs)]
                expr = self._ip_in(v, items, lhs, ns)
                return expr if op == "=" else f"({v} is not None and not {expr})"
            kk = self._const(ns, self._convert(rhs.value, lhs, op, rhs))
            if op == "=":
                return f"({v} == {kk})"
            return f"({v} is not None and {v} != {kk})"
        if not t.is_string:
            raise _err(
                CompileError,
                f"operator '{op}' needs a string field, '{lhs.label}' is {t.value}",
                node,
            )
        text = rhs.value
        if op == "contains":
            return f"({v} is not None and {self._const(ns, text)} in {v})"
        if op == "icontains":
            return f"({v} is not None and {self._const(ns, text.lower())} in {v}.lower())"
        if op == "startswith":
            return f"({v} is not None and {v}.startswith({self._const(ns, text)}))"
        if op == "endswith":
            return f"({v} is not None and {v}.endswith({self._const(ns, text)}))"
        if op in ("bcontains", "bstartswith"):
            try:
                needle = bytes.fromhex(text)
            except ValueError:
                raise _err(
                    CompileError, f"'{op}' takes hex bytes, '{text}' is not hex", rhs
                ) from None
            nk = self._const(ns, needle)
            bk = self._const(ns, _as_bytes)
            if op == "bcontains":
                return f"({v} is not None and {nk} in {bk}({v}))"
            return f"({v} is not None and {bk}({v}).startswith({nk}))"
        if op in ("glob", "iglob"):
            rk = self._const(ns, _glob_to_regex(text, op == "iglob"))
            return f"({v} is not None and {rk}.fullmatch({v}) is not None)"
        if op == "regex":
            rk = self._const(ns, _compile_regex(text, rhs))
            return f"({v} is not None and {rk}.fullmatch({v}) is not None)"
        raise _err(CompileError, f"unknown operator '{op}'", node)

    def _compare_modifier(self, c: Compare, lhs: BoundValue, v: str, ns: dict[str, Any]) -> str:
        items = c.rhs.items if isinstance(c.rhs, ListLit) else (c.rhs,)  # type: ignore[union-attr]
        preds = []
        for item in items:
            assert isinstance(item, Literal)
            sub_ns_expr = self._compare_scalar(c.op, lhs, "x", item, ns, c)
            preds.append(sub_ns_expr)
        if not preds:
            return "False"
        lam = self._const(ns, eval(f"lambda x: [{', '.join(preds)}]", ns))  # noqa: S307
        mod = c.modifier
        if mod == "anyof":
            return f"({v} is not None and any({lam}({v})))"
        if mod == "allof":
            return f"({v} is not None and all({lam}({v})))"
        return f"({v} is not None and sum({lam}({v})) == 1)"

    def _compare_list_field(self, c: Compare, lhs: BoundValue, v: str, ns: dict[str, Any]) -> str:
        op = c.op
        if op not in ("in", "intersects"):
            raise _err(
                CompileError,
                f"list field '{lhs.label}' only supports 'exists', 'in' and 'intersects'",
                c,
            )
        items = self._items(c, lhs, ns)
        sk = self._const(ns, frozenset(items))
        if op == "in":
            return f"({v} is not None and {sk}.issuperset({v}))"
        return f"({v} is not None and not {sk}.isdisjoint({v}))"

    def _compare_fields(
        self, c: Compare, lhs: BoundValue, v: str, rhs: Any, ns: dict[str, Any]
    ) -> str:
        inner = rhs.expr if isinstance(rhs, FieldValue) else rhs
        other = self.bind(inner)
        if other.type is not lhs.type and not (other.type.is_string and lhs.type.is_string):
            raise _err(
                CompileError,
                f"'{lhs.label}' ({lhs.type.value}) cannot be compared with "
                f"'{other.label}' ({other.type.value})",
                c,
            )
        w = f"ev[{self._const(ns, other.key)}]"
        op = c.op
        guard = f"{v} is not None and {w} is not None"
        table = {
            "=": f"{v} == {w}",
            "!=": f"{v} != {w}",
            "<": f"{v} < {w}",
            "<=": f"{v} <= {w}",
            ">": f"{v} > {w}",
            ">=": f"{v} >= {w}",
            "contains": f"{w} in {v}",
            "icontains": f"{w}.lower() in {v}.lower()",
            "startswith": f"{v}.startswith({w})",
            "endswith": f"{v}.endswith({w})",
        }
        if op in ("in", "intersects"):
            wl = f"({w} if type({w}) is tuple else ({w},))"
            if lhs.is_list:
                test = (
                    f"set({v}).issubset({wl})" if op == "in" else f"not set({v}).isdisjoint({wl})"
                )
            else:
                test = f"{v} in {wl}"
            return f"({guard} and {test})"
        if op not in table:
            raise _err(CompileError, f"operator '{op}' does not support a field on its right", c)
        if op in ("<", "<=", ">", ">=") and not lhs.type.is_numeric:
            raise _err(CompileError, f"operator '{op}' needs numeric fields", c)
        return f"({guard} and {table[op]})"


def _ip_in_nets(value: Any, nets: tuple[Any, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(value if isinstance(value, str) else str(value))
    except ValueError:
        return False
    return any(ip.version == n.version and ip in n for n in nets)


def _as_bytes(v: Any) -> bytes:
    return v if isinstance(v, bytes) else str(v).encode("utf-8", "surrogateescape")


def _to_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def render_value_expr(expr: FieldRef | Transform | Literal) -> str:
    """The canonical text of a field expression: ``proc.aname[2]``, ``tolower(fd.name)``."""
    if isinstance(expr, FieldRef):
        return str(expr)
    if isinstance(expr, Literal):
        return repr(expr.value)
    return f"{expr.name}(" + ", ".join(render_value_expr(a) for a in expr.args) + ")"
