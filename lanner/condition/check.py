"""The check pass: a resolved condition tree in, its checked form (``ir``) out.

Binds every field expression to its source's extractor, checks each operator
against the type it is applied to, converts every constant, and raises the
first error with the node where it was written. The tree reaching here has no
macros and no list names left (the loader resolved them).

Falco's rules, as libsinsp applies them:

- which operators a field accepts depends on its type: strings take every
  operator (``<`` and friends compare as ``strcmp``), numbers take ``=``,
  ``!=``, the orderings, ``in`` and ``intersects``, booleans and addresses
  only ``=``, ``!=``, ``in`` and ``intersects``, byte buffers add
  ``contains``, ``startswith``, ``endswith``, ``bcontains`` and
  ``bstartswith``; list fields take ``exists``, ``in`` and ``intersects``;
- a port constant is a number or a service name (``https``), looked up as
  getservbyname(3) does, in ``/etc/services``;
- ``regex`` is RE2 in POSIX mode, matched against the whole value; ``glob``
  is ``fnmatch(3)`` without flags; ``pmatch`` matches whole path components,
  each of which may be a glob.

Two kinds of syscall fields hold several values under one name and are
compared item by item: ``proc.aname`` and the other ancestor fields without
an index hold when any ancestor matches (``!=`` included), and ``fd.ip``,
``fd.net``, ``fd.port``, ``fd.proto`` hold when either end matches, except
``!=``, which needs both ends to differ.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import Any

import re2

from lanner.condition import ir
from lanner.condition.ast import (
    And,
    ArgList,
    Compare,
    Const,
    Expr,
    FieldRef,
    FieldValue,
    ListLit,
    ListRef,
    Literal,
    MacroRef,
    Node,
    Not,
    Or,
    Transform,
    TransformArg,
    ValueExpr,
)
from lanner.condition.ir import BoundValue, Form, Multi
from lanner.condition.patterns import glob_regex, pmatch_matcher, posix_regex
from lanner.condition.transformers import (
    TEXT,
    TRANSFORMERS,
    Shape,
    TransformerDef,
    ordinal,
    to_text,
)
from lanner.condition.walk import fold, is_boolean
from lanner.errors import CompileError, FieldArgumentError, LannerError, UnknownFieldError
from lanner.event import Event, FieldKey
from lanner.fields import (
    FLAG_ANY_ANCESTOR,
    FLAG_EITHER_END,
    FLAG_PRINT_ONLY,
    FieldType,
    Source,
    parse_integer,
)


def _err(cls: type[LannerError], message: str, node: Any) -> LannerError:
    """An error placed where ``node`` was written (its file, line and column once
    the loader has parsed it; nowhere for a node built by code)."""
    pos = getattr(node, "pos", None)
    return cls(message, pos.location if pos is not None else None)


# --- operators per type -----------------------------------------------------------------

ORDER_OPS = frozenset({"<", "<=", ">", ">="})
_IP = frozenset({FieldType.IPADDR, FieldType.IPNET})
_BUFFER_OPS = frozenset(
    {
        "=",
        "!=",
        "contains",
        "startswith",
        "endswith",
        "bcontains",
        "bstartswith",
        "in",
        "intersects",
    }
)
_NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">=", "in", "intersects"})
_EQUALITY_OPS = frozenset({"=", "!=", "in", "intersects"})
_SET_OPS = frozenset({"in", "intersects", "pmatch"})


def supports(t: FieldType, op: str) -> bool:
    """Whether Falco accepts ``op`` on a single value of type ``t``."""
    if op == "exists":
        return True
    if t in TEXT:
        return op not in ("bcontains", "bstartswith")
    if t is FieldType.BYTES:
        return op in _BUFFER_OPS
    if t.is_numeric:
        return op in _NUMERIC_OPS
    if t is FieldType.FLAGS:  # rendered flag names: compared as text
        return op not in ("bcontains", "bstartswith")
    return op in _EQUALITY_OPS  # bool, ipaddr, ipnet


def _check_op(op: str, b: BoundValue, node: Any) -> None:
    if not supports(b.type, op):
        raise _err(
            CompileError,
            f"operator '{op}' is not supported for {b.type.value} field '{b.label}'",
            node,
        )


def _family(t: FieldType) -> str:
    """Types whose values can be compared with each other (field against field)."""
    if t in TEXT or t is FieldType.FLAGS:
        return "text"
    if t.is_numeric:
        return "number"
    return t.value


def _form(t: FieldType) -> Form:
    if t is FieldType.BYTES:
        return Form.BYTES
    if t in _IP:
        return Form.IP
    return Form.PLAIN


# --- value conversion -----------------------------------------------------------------


SERVICES = Path("/etc/services")
_SERVICES_MAX = 1 << 20


@functools.lru_cache(maxsize=1)
def _services() -> dict[str, int]:
    """Service names and aliases -> port, the first entry of a name winning, as
    getservbyname(3) reads ``/etc/services`` when given no protocol. Read here
    rather than through the socket module: the core loads no network code."""
    ports: dict[str, int] = {}
    try:
        with SERVICES.open("rb") as f:
            # A system file, but still read within a bound (Debian's is ~12 KB).
            text = f.read(_SERVICES_MAX).decode("utf-8", "replace")
    except OSError:
        return ports
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 2:
            continue
        port, _, _proto = words[1].partition("/")
        if not port.isdigit():
            continue
        for name in (words[0], *words[2:]):
            ports.setdefault(name, int(port))
    return ports


def _service_port(name: str) -> int:
    port = _services().get(name)
    if port is None:
        raise ValueError(name)
    return port


def _parse_port(text: str) -> int:
    # libsinsp: digits are a number, "" is 0, anything else a service name.
    if text.isascii() and text.isdigit():
        return int(text)
    if text == "":
        return 0
    return _service_port(text)


def _parse_bool(text: str) -> bool:
    t = text.strip().lower()
    if t == "true":
        return True
    if t == "false":
        return False
    raise ValueError(text)


def convert_literal(text: str, ftype: FieldType) -> Any:
    """The constant ``text`` stands for when compared to a field of ``ftype``.

    Raises ValueError when the text is not a value of that type.
    """
    if ftype is FieldType.PORT:
        return _parse_port(text)
    if ftype is FieldType.DOUBLE:
        # libsinsp reads a double's constant as a 32-bit integer ("1.0" is refused).
        return parse_integer(text, bits=32)
    if ftype.is_numeric:
        return parse_integer(text, signed=not ftype.is_unsigned)
    if ftype is FieldType.BOOL:
        return _parse_bool(text)
    if ftype is FieldType.IPADDR:
        return ipaddress.ip_address(text.strip())
    if ftype is FieldType.IPNET:
        return ipaddress.ip_network(text.strip(), strict=False)
    if ftype is FieldType.BYTES:
        return text.encode("utf-8", "surrogateescape")
    return text


_HINTS = {
    FieldType.PORT: " (a number or a service name)",
    FieldType.DOUBLE: " (Falco reads only whole numbers for double fields)",
}


def _compile_regex(text: str, node: Any) -> Any:
    try:
        return posix_regex(text)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise _err(CompileError, f"invalid regex '{text}': {reason}", node) from None


def _as_net(value: Any) -> Any:
    return value if hasattr(value, "network_address") else ipaddress.ip_network(value)


# --- binding field expressions ------------------------------------------------------------


def render_value_expr(expr: TransformArg) -> str:
    """The canonical text of a field expression: ``proc.aname[2]``, ``tolower(fd.name)``."""
    if isinstance(expr, FieldRef):
        return str(expr)
    if isinstance(expr, Literal):
        return repr(expr.value)
    if isinstance(expr, ArgList):
        return "(" + ", ".join(render_value_expr(a) for a in expr.items) + ")"
    text = f"{expr.name}(" + ", ".join(render_value_expr(a) for a in expr.args) + ")"
    return text if expr.arg is None else f"{text}[{expr.arg}]"


def _lift(fn: Callable[[Any], Any], is_list: bool) -> Callable[[Any], Any]:
    """Applies a per-value transformer to a scalar or to each item of a list value;
    one item that cannot be transformed makes the whole value missing, as in Falco."""
    if not is_list:
        return fn

    def each(values: tuple[Any, ...]) -> Any:
        out = tuple(fn(v) for v in values)
        return None if None in out else out

    return each


# An argument of a multi-argument transformer as the extractor reads it: constant
# text, one bound value (a list value is a tuple), or the items of a (...) list.
_Part = tuple[str, Any]


def _read_part(ev: Event, part: _Part) -> Any:
    kind, x = part
    if kind == "const":
        return x
    if kind == "key":
        return ev[x]
    out: list[Any] = []  # a (...) list: its items, list values spliced in, as text
    for p in x:
        v = _read_part(ev, p)
        if v is None:
            return None
        if isinstance(v, tuple):
            out.extend(map(to_text, v))
        else:
            out.append(to_text(v))
    return tuple(out)


class Binder:
    """Binds the field expressions of one source; one FieldKey per distinct expression,
    so that every use of ``proc.name`` in every rule reads the same cached value."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self._bound: dict[str, BoundValue] = {}

    def bind(self, expr: ValueExpr) -> BoundValue:
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
        multi = None
        if FLAG_EITHER_END in fdef.flags:
            multi = Multi.EITHER_END
        elif FLAG_ANY_ANCESTOR in fdef.flags and arg is None:
            multi = Multi.ANY_ITEM
        test = None if fdef.test is None else functools.partial(fdef.test, arg)
        return BoundValue(
            FieldKey(extract, label),
            fdef.type,
            fdef.is_list,
            label,
            multi,
            test,
            FLAG_PRINT_ONLY in fdef.flags,
        )

    def _operand(self, expr: ValueExpr, transformer: str) -> BoundValue:
        b = self.bind(expr)
        if b.print_only:
            raise print_only_error(b, expr)
        if b.multi is not None or b.test is not None:
            raise _err(
                CompileError,
                f"field '{b.label}' does not support transformers ('{transformer}')",
                expr,
            )
        return b

    def _bind_transform(self, tr: Transform, label: str) -> BoundValue:
        row = TRANSFORMERS.get(tr.name)
        if row is None:
            raise _err(CompileError, f"unknown transformer '{tr.name}'", tr)
        n = len(tr.args)
        if n < row.min_args or (row.max_args is not None and n > row.max_args):
            raise _err(CompileError, row.arity, tr)
        if tr.arg is not None:
            if not row.selector:
                raise _err(
                    CompileError,
                    f"transformer '{tr.name}' does not take an argument ('[{tr.arg}]')",
                    tr,
                )
            if len(tr.arg) != 1:
                raise _err(
                    CompileError,
                    f"the argument of {tr.name}() must be a single option character, "
                    f"not '{tr.arg}'",
                    tr,
                )
        if row.per_item:
            return self._bind_per_item(row, tr, label)
        return self._bind_multi(row, tr, label)

    def _bind_per_item(self, row: TransformerDef, tr: Transform, label: str) -> BoundValue:
        arg = tr.args[0]
        if not isinstance(arg, FieldRef | Transform):
            raise _err(CompileError, row.arity, tr)
        inner = self._operand(arg, row.name)
        if not row.params[0].accepts(inner.type, inner.is_list):
            raise _err(
                CompileError,
                f"transformer '{row.name}' does not support {inner.type.value} field "
                f"'{inner.label}'",
                tr,
            )
        ikey = inner.key
        lifted = _lift(row.fn, inner.is_list)

        def extract_per_item(ev: Event) -> Any:
            v = ev[ikey]
            return None if v is None else lifted(v)

        return BoundValue(FieldKey(extract_per_item, label), inner.type, inner.is_list, label)

    def _bind_multi(self, row: TransformerDef, tr: Transform, label: str) -> BoundValue:
        parts: list[_Part] = []
        for i, a in enumerate(tr.args):
            param = row.param(i)
            assert param is not None  # the arity was checked
            parts.append(self._part(row, i, a))
            if isinstance(a, Literal) and param.shape is Shape.LIST:
                raise _err(
                    CompileError,
                    f"the {ordinal(i)} argument of {row.name}() must be a list field or a "
                    "(...) list",
                    a,
                )
            if isinstance(a, ArgList) and param.shape is Shape.SINGLE:
                raise _err(CompileError, row.misplaced_list(), a)
            if isinstance(a, Literal | ArgList):
                continue
            b = self._operand(a, row.name)
            where = "the separator of join()" if row.name == "join" and i == 0 else None
            if param.shape is Shape.SINGLE and b.is_list:
                if where is not None:
                    message = f"{where} must be a single value, '{b.label}' is a list"
                elif row.variadic:
                    message = f"{row.name}() takes strings, '{b.label}' is a list"
                else:
                    message = (
                        f"the {ordinal(i)} argument of {row.name}() must be a single value, "
                        f"'{b.label}' is a list"
                    )
                raise _err(CompileError, message, a)
            if param.shape is Shape.LIST and not b.is_list:
                raise _err(
                    CompileError,
                    f"the {ordinal(i)} argument of {row.name}() must be a list field or a "
                    f"(...) list, '{b.label}' is a single value",
                    a,
                )
            if not param.accepts(b.type, b.is_list):
                if len(tr.args) == 1:
                    raise _err(
                        CompileError,
                        f"transformer '{row.name}' does not support {b.type.value} field "
                        f"'{b.label}'",
                        tr,
                    )
                raise _err(
                    CompileError,
                    f"{row.name}() takes strings, '{b.label}' is {b.type.value}",
                    a,
                )
        result = row.result or FieldType.STRING
        is_list = bool(row.result_list) and tr.arg is None
        fn = row.fn
        if tr.arg is not None:
            fn = functools.partial(fn, selector=tr.arg)
        frozen = tuple(parts)
        if all(k == "key" for k, _ in frozen):
            keys = tuple(x for _, x in frozen)

            def extract_keys(ev: Event) -> Any:
                values = [ev[k] for k in keys]
                return None if None in values else fn(*values)

            return BoundValue(FieldKey(extract_keys, label), result, is_list, label)

        def extract_parts(ev: Event) -> Any:
            values = [_read_part(ev, p) for p in frozen]
            return None if None in values else fn(*values)

        return BoundValue(FieldKey(extract_parts, label), result, is_list, label)

    def _part(self, row: TransformerDef, i: int, a: TransformArg) -> _Part:
        if isinstance(a, Literal):
            return ("const", a.value)
        if isinstance(a, ArgList):
            return ("list", tuple(self._part(row, i, item) for item in a.items))
        return ("key", self._operand(a, row.name).key)


def print_only_message(label: str) -> str:
    # Falco has no field by this name: an unknown field (so that skip-if-unknown-filter
    # applies), not a type error.
    return (
        f"unknown field '{label}': it is only an output placeholder ('%{label}'), "
        "not a field to filter on or transform"
    )


def print_only_error(b: BoundValue, node: Any) -> LannerError:
    return _err(UnknownFieldError, print_only_message(b.label), node)


# --- conditions -------------------------------------------------------------------------


class Checker:
    """Turns conditions of one source into their checked form."""

    def __init__(self, binder: Binder) -> None:
        self.binder = binder

    def check(self, e: Expr) -> ir.Cond:
        """The checked form of ``e``; the first error in source order is raised.

        Bottom-up without recursion (a tree with its macros inlined can be deep),
        each macro's subtree checked once however many times it is used."""
        return fold(e, self._combine, is_boolean)

    def _combine(self, e: Node, kids: list[ir.Cond]) -> ir.Cond:
        match e:
            case And():
                return ir.Conj(tuple(kids))
            case Or():
                return ir.Disj(tuple(kids))
            case Not():
                return ir.Neg(kids[0])
            case Const(value=value):
                return ir.Truth(bool(value))
            case Compare():
                return self._compare(e)
            case MacroRef(name=name):
                raise _err(CompileError, f"undefined macro '{name}'", e)
        raise _err(CompileError, f"unexpected node {type(e).__name__}", e)

    def _compare(self, c: Compare) -> ir.Cond:
        lhs = self.binder.bind(c.lhs)
        if lhs.print_only:
            raise print_only_error(lhs, c.lhs)
        if lhs.test is not None:
            return self._compare_test(c, lhs)
        op = c.op
        if op == "exists":
            return ir.Exists(lhs)
        rhs = c.rhs
        if isinstance(rhs, ListRef):
            raise _err(CompileError, f"undefined list '{rhs.name}'", rhs)
        if isinstance(rhs, FieldValue | FieldRef | Transform):
            return self._compare_fields(c, lhs, rhs)
        if lhs.is_list:
            return self._compare_list_field(c, lhs)
        one = self._compare_one(c, lhs)
        if lhs.multi is None or isinstance(one, ir.Truth):
            return one
        every = lhs.multi is Multi.EITHER_END and op == "!=" and c.modifier is None
        assert isinstance(one, ir.Test | ir.OfTest)
        return ir.EachItem(lhs, one, every)

    def _compare_test(self, c: Compare, lhs: BoundValue) -> ir.Test:
        """A field that is a test (``evt.around[T] = D``), as libsinsp takes it: with
        '=' and one constant, or ``exists``; the test becomes a boolean value."""
        assert lhs.test is not None
        rhs = c.rhs
        if isinstance(rhs, FieldValue | FieldRef | Transform):
            raise _err(
                CompileError, f"field '{lhs.label}' doesn't support right-hand side fields", c
            )
        const = None
        if c.op != "exists":
            if c.op != "=" or c.modifier is not None or not isinstance(rhs, Literal):
                raise _err(
                    CompileError, f"'{lhs.label}' supports only the '=' comparison operator", c
                )
            const = rhs.value
        try:
            holds = lhs.test(const)
        except ValueError:
            raise _err(
                CompileError,
                f"'{const}' is not a valid {lhs.type.value} value for '{lhs.label}'",
                rhs,
            ) from None
        label = lhs.label if const is None else f"{lhs.label} = {const}"
        return ir.Test(BoundValue(FieldKey(holds, label), FieldType.BOOL, False, label), "=", True)

    def _compare_one(self, c: Compare, lhs: BoundValue) -> ir.Test | ir.OfTest | ir.Truth:
        """``c`` on a single value."""
        op = c.op
        _check_op(op, lhs, c)
        if c.modifier is not None:
            return self._compare_modifier(c, lhs)
        rhs = c.rhs
        if op in _SET_OPS:
            items = self._items(c, lhs)
            if op == "pmatch":
                return ir.Test(lhs, "pmatch", pmatch_matcher(str(i) for i in items))
            form = _form(lhs.type)
            if form is Form.IP:
                return ir.Test(lhs, "in", tuple(_as_net(i) for i in items), form)
            return ir.Test(lhs, "in", frozenset(items), form)
        if isinstance(rhs, ListLit):
            raise _err(CompileError, f"operator '{op}' takes a single value, not a list", rhs)
        if not isinstance(rhs, Literal):
            raise _err(CompileError, f"operator '{op}' needs a value", c)
        return self._scalar(op, lhs, rhs)

    def _convert(self, text: str, lhs: BoundValue, node: Any) -> Any:
        try:
            return convert_literal(text, lhs.type)
        except ValueError:
            hint = _HINTS.get(lhs.type, "")
            raise _err(
                CompileError,
                f"'{text}' is not a valid {lhs.type.value} value for '{lhs.label}'{hint}",
                node,
            ) from None

    def _items(self, c: Compare, lhs: BoundValue) -> list[Any]:
        rhs = c.rhs
        if isinstance(rhs, ListLit):
            lits = list(rhs.items)
        elif isinstance(rhs, Literal):
            lits = [rhs]
        else:
            raise _err(CompileError, f"operator '{c.op}' needs a list of values", c)
        if c.op == "pmatch":
            return [i.value for i in lits]
        return [self._convert(i.value, lhs, i) for i in lits]

    def _scalar(self, op: str, lhs: BoundValue, rhs: Literal) -> ir.Test:
        t = lhs.type
        form = _form(t)
        if form is Form.BYTES:
            if op in ("bcontains", "bstartswith"):
                try:
                    needle = bytes.fromhex(rhs.value)
                except ValueError:
                    raise _err(
                        CompileError, f"'{op}' takes hex bytes, '{rhs.value}' is not hex", rhs
                    ) from None
            else:
                needle = self._convert(rhs.value, lhs, rhs)
            return ir.Test(lhs, op, needle, form)
        if op in ORDER_OPS:
            value = self._convert(rhs.value, lhs, rhs) if t.is_numeric else rhs.value
            return ir.Test(lhs, op, value)
        if op in ("=", "!="):
            value = self._convert(rhs.value, lhs, rhs)
            if form is Form.IP:
                return ir.Test(lhs, op, (_as_net(value),), form)
            return ir.Test(lhs, op, value)
        text = rhs.value
        if op in ("contains", "startswith", "endswith"):
            return ir.Test(lhs, op, text)
        if op == "icontains":
            return ir.Test(lhs, op, text.lower())
        if op in ("glob", "iglob"):
            return ir.Test(lhs, op, glob_regex(text, op == "iglob"))
        if op == "regex":
            return ir.Test(lhs, op, _compile_regex(text, rhs))
        raise _err(CompileError, f"unknown operator '{op}'", rhs)

    def _compare_modifier(self, c: Compare, lhs: BoundValue) -> ir.OfTest | ir.Truth:
        # proc.name startswith anyof (a, b): the operator against each value, then
        # oneof = exactly one holds, anyof = at least one, allof = every one.
        assert c.modifier is not None
        if c.op in _SET_OPS or c.op in ORDER_OPS:
            raise _err(CompileError, f"modifier '{c.modifier}' cannot follow '{c.op}'", c)
        rhs = c.rhs
        items = rhs.items if isinstance(rhs, ListLit) else (rhs,)
        tests = []
        for item in items:
            if not isinstance(item, Literal):
                raise _err(CompileError, f"modifier '{c.modifier}' needs a list of values", c)
            tests.append(self._scalar(c.op, lhs, item))
        if not tests:
            return ir.Truth(False)
        return ir.OfTest(lhs, c.modifier, tuple(tests))

    def _compare_list_field(self, c: Compare, lhs: BoundValue) -> ir.ListTest:
        op = c.op
        if op not in ("in", "intersects") or c.modifier is not None:
            raise _err(
                CompileError,
                f"list field '{lhs.label}' only supports 'exists', 'in' and 'intersects'",
                c,
            )
        items = self._items(c, lhs)
        if lhs.type in _IP:
            return ir.ListTest(lhs, op, tuple(ipaddress.ip_network(i) for i in items), Form.IP)
        return ir.ListTest(lhs, op, frozenset(items))

    def _compare_fields(
        self, c: Compare, lhs: BoundValue, rhs: FieldValue | FieldRef | Transform
    ) -> ir.FieldTest:
        op = c.op
        inner = rhs.expr if isinstance(rhs, FieldValue) else rhs
        other = self.binder.bind(inner)
        if other.print_only:
            raise print_only_error(other, inner)
        if other.test is not None:
            raise _err(
                CompileError,
                f"field '{other.label}' can't be used as a right-hand side field",
                inner,
            )
        for b, node in ((lhs, c), (other, inner)):
            if b.multi is not None:
                raise _err(
                    CompileError,
                    f"field '{b.label}' cannot be compared with another field",
                    node,
                )
        if op in ("pmatch", "regex") or c.modifier is not None:
            raise _err(CompileError, f"operator '{op}' does not support a field on its right", c)
        if lhs.type is FieldType.IPNET:
            raise _err(
                CompileError, f"field '{lhs.label}' cannot be compared with another field", c
            )
        if _family(other.type) != _family(lhs.type):
            raise _err(
                CompileError,
                f"'{lhs.label}' ({lhs.type.value}) cannot be compared with "
                f"'{other.label}' ({other.type.value})",
                c,
            )
        listy = op in ("in", "intersects")
        for b in (lhs, other):
            if b.is_list and not listy:
                raise _err(
                    CompileError,
                    f"list field '{b.label}' only supports 'exists', 'in' and 'intersects'",
                    c,
                )
        _check_op(op, lhs, c)
        if op not in _FIELD_OPS:
            raise _err(CompileError, f"operator '{op}' does not support a field on its right", c)
        return ir.FieldTest(lhs, op, other, Form.IP if lhs.type in _IP else Form.PLAIN)


# The operators that may take another field on their right.
_FIELD_OPS = ORDER_OPS | {
    "=",
    "!=",
    "in",
    "intersects",
    "contains",
    "bcontains",
    "icontains",
    "startswith",
    "bstartswith",
    "endswith",
    "glob",
    "iglob",
}
